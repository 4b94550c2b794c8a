"""`venue run` as a real process for tests: a free port, start, wait until ready."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

VENUE = str(Path(sys.executable).with_name("venue"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([VENUE, "run"], env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def wait_ready(base: str, process: subprocess.Popen[bytes], log: Path, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"venue exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"venue not ready: {log.read_text()[-2000:]}")
