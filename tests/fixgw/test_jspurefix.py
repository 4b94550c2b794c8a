"""An independent FIX engine (npm jspurefix) as the client: logon, order, security list, market data,
cancel, positions, collateral and logout, each validated by jspurefix against our dictionary."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from config.fix_sessions import DEFAULT_DICTIONARY_PATH
from tests.fixgw.conftest import FixVenue

CLIENT = Path(__file__).with_name("js") / "client.js"


def test_jspurefix_client_session(fix_venue: FixVenue) -> None:
    run = subprocess.run(
        ["node", str(CLIENT), str(fix_venue.port), str(DEFAULT_DICTIONARY_PATH.resolve())],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=CLIENT.parent,
    )
    lines = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    done = next(line for line in lines if line.get("event") == "done")
    assert done["seen"] == {"8": 2, "y": 1, "W": 1, "X": 1, "AO": 1, "BA": 1}
    reports = [line["body"] for line in lines if line.get("type") == "8"]
    assert [r["ExecType"] for r in reports] == ["0", "4"]
    assert reports[1]["ClOrdID"] == "js-1c" and reports[1]["OrigClOrdID"] == "js-1"
    security = next(line["body"] for line in lines if line.get("type") == "y")
    assert security["SecurityRequestResult"] == 0
    collateral = next(line["body"] for line in lines if line.get("type") == "BA")
    assert collateral["Account"] == "HF2" and float(collateral["TotalNetValue"]) > 0
