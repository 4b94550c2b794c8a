"""`venue demo` end to end: its own chain and venue process, every actor, and the exit at the end."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

VENUE = str(Path(sys.executable).with_name("venue"))


def test_the_demo_runs_the_whole_day(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("VENUE_SETTLEMENT_ENABLED", None)  # the demo's venue settles (it sets its own environment)
    done = subprocess.run(
        [VENUE, "demo", "--dir", str(tmp_path)], env=env, capture_output=True, text=True, timeout=280
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-4000:]
    for line in (
        "HF1:    1,000,000 USDC credited from the chain",
        "HF1 replace -> 1.5 @",
        "HF1 cancel: cancelled",
        "HF1 market buy 2: filled",
        "accepted, waiting for its trigger",
        "3 anonymous quotes",  # MM1 over FIX, MM2 and MM3 over WebSocket
        "2 legs traded as one block trade",
        "LiquidationStarted account=HF2",
        "LiquidationEnded account=HF2",
        "served by the next batch: 20,000 USDC in the user's wallet",
        "venue killed with SIGKILL",
        "a bystander froze the vault",
        "Risk report",
    ):
        assert line in out, f"missing {line!r} in:\n{out[-4000:]}"
    paid = re.search(r"exit paid ([\d,.]+) USDC for a proven equity of ([\d,.]+)", out)
    assert paid is not None and paid.group(1) == paid.group(2), out[-2000:]
    assert "alarm: none" in out
