"""The HTTP API fuzzed with schemathesis against its own OpenAPI spec, on a real `venue run`: no 5xx, the
venue still running afterwards, and its journal still replaying to the same events and hash chain."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.venue.venue_process import free_port, start, wait_ready
from venue.api.keys import KeyStore, Role

SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))
VENUE = str(Path(sys.executable).with_name("venue"))
EXAMPLES = os.environ.get("VENUE_FUZZ_EXAMPLES", "8")  # per operation; `make drills` runs more


def test_schemathesis_finds_no_server_error_and_the_journal_still_replays(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.toml")
    admin = store.create({Role.ADMIN}, set(), rate_per_s=100_000, burst=100_000)[0]
    port = free_port()
    env = {
        **os.environ,
        "VENUE_DATA_DIR": str(tmp_path / "var"),
        "VENUE_API_KEYS_FILE": str(tmp_path / "keys.toml"),
        "VENUE_HTTP_PORT": str(port),
        "VENUE_PUBLIC_RATE_PER_S": "100000",  # test the logic behind the routes, not the rate limit
    }
    log = tmp_path / "venue.log"
    base = f"http://127.0.0.1:{port}"
    process = start(env, log)
    try:
        wait_ready(base, process, log)
        fuzz = subprocess.run(
            [SCHEMATHESIS, "run", f"{base}/openapi.json", "-H", f"X-API-Key: {admin}",
             "--checks", "not_a_server_error", "--max-examples", EXAMPLES, "--workers", "1",
             "--phases", "coverage,fuzzing", "--seed", "20261203", "--request-timeout", "20"],
            capture_output=True, text=True, timeout=600, cwd=tmp_path,
        )  # fmt: skip
        # one worker: CPython 3.11's ast.parse is not thread-safe, and hypothesis calls it describing
        # schemathesis' filters (SystemError "AST constructor recursion depth mismatch" with 2)
        report = fuzz.stdout[-6000:]
        assert fuzz.returncode == 0, report
        assert "Server error" not in report and "Network Error" not in report, report
        ready = httpx.get(f"{base}/ready", timeout=5).json()
        assert ready["ready"] and ready["running"], ready
        assert "stopped: the venue no longer applies commands" not in log.read_text()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    replay = subprocess.run([VENUE, "replay"], env=env, capture_output=True, text=True, timeout=300)
    assert replay.returncode == 0, replay.stdout + replay.stderr
