"""FIX test harness: the venue in this process (TestClient owns its loop), clients in other processes.

``FixClient`` runs ``python -m fixgw.client`` (a quickfix initiator) and reads its JSON lines on a
thread; ``expect`` waits for the first message matching a predicate, consuming it.
"""

from __future__ import annotations

import json
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fixgw.wire import utc_timestamp

ROOT = Path(__file__).resolve().parents[2]
Msg = dict[str, Any]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def now() -> str:
    return utc_timestamp(time.time_ns())


class FixClient:
    def __init__(self, port: int, sender: str, *args: str, store: Path | None = None) -> None:
        command = [sys.executable, "-m", "fixgw.client", "--port", str(port), "--sender", sender, *args]
        if store is not None:
            command += ["--store", str(store)]
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.messages: queue.Queue[Msg] = queue.Queue()
        self.seen: list[Msg] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                self.messages.put(json.loads(line))
            except json.JSONDecodeError:
                continue

    def command(self, **request: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()

    def send(self, msg_type: str, fields: list[tuple[int, Any]], header: list[tuple[int, Any]] = ()) -> None:  # type: ignore[assignment]
        self.command(op="send", type=msg_type, fields=[[t, str(v)] for t, v in fields], header=list(header))

    def expect(self, predicate: Callable[[Msg], bool], timeout: float = 10.0, what: str = "") -> Msg:
        deadline = time.monotonic() + timeout
        kept: list[Msg] = []
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [
                        (m.get("event"), m.get("type"), str(m.get("fields", ""))[:300]) for m in kept[-5:]
                    ]
                    raise AssertionError(f"timed out waiting for {what or predicate}; last seen {seen}")
                try:
                    message = self.messages.get(timeout=left)
                except queue.Empty:
                    continue
                self.seen.append(message)
                if predicate(message):
                    return message
                kept.append(message)
        finally:
            for message in kept:  # not consumed: later expectations may want them
                self.messages.put(message)

    def app(self, msg_type: str, timeout: float = 10.0, **fields: str) -> Msg:
        """The next application message of ``msg_type`` whose fields include ``fields`` (tag names as
        ``t<tag>``, e.g. t11="c1")."""
        want = {k[1:]: v for k, v in fields.items()}

        def match(m: Msg) -> bool:
            return (
                m.get("event") == "app"
                and m.get("type") == msg_type
                and all(m["fields"].get(t) == v for t, v in want.items())
            )

        return self.expect(match, timeout, f"{msg_type} {fields}")

    def logon(self, timeout: float = 10.0) -> None:
        self.expect(lambda m: m.get("event") == "logon", timeout, "logon")

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.command(op="quit")
                self.process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()
