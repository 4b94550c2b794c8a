"""A FIX session for the demo: ``python -m fixgw.client`` (a quickfix initiator in its own process)
driven over its JSON lines from asyncio."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fixgw.wire import utc_timestamp


def now() -> str:
    return utc_timestamp(time.time_ns())


class FixActor:
    """One logged-on session. ``expect`` waits for (and consumes) the first application message of a
    type whose fields match; everything else stays buffered for later expectations."""

    def __init__(self, sender: str, port: int, password: str, store: Path) -> None:
        self.sender, self.port, self.password, self.store = sender, port, password, store
        self.messages: list[dict[str, Any]] = []
        self._arrived = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self._ended = False  # the client's output ended (it exited)
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, timeout_s: float = 30.0) -> FixActor:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "fixgw.client", "--port", str(self.port), "--sender", self.sender,
            "--password", self.password, "--reset", "--store", str(self.store),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=2**24,
        )  # fmt: skip
        self._reader = asyncio.create_task(self._read())
        await self.expect("logon", timeout_s=timeout_s, event="logon")
        return self

    async def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        while line := await self.process.stdout.readline():
            self.messages.append(json.loads(line))
            self._arrived.set()
        self._ended = True
        self._arrived.set()  # waiters re-check and see the client gone

    async def command(self, body: dict[str, Any]) -> None:
        """Any op of the client's JSON lines (``load``, ``logout``, ...)."""
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write((json.dumps(body) + "\n").encode())
        await self.process.stdin.drain()

    async def send(self, msg_type: str, fields: Sequence[tuple[int, object]]) -> None:
        assert self.process is not None and self.process.stdin is not None
        body = {"op": "send", "type": msg_type, "fields": [[tag, str(value)] for tag, value in fields]}
        self.process.stdin.write((json.dumps(body) + "\n").encode())
        await self.process.stdin.drain()

    async def expect(
        self, msg_type: str, timeout_s: float | None = 15.0, event: str = "app", **match: str
    ) -> dict[str, str]:
        """The fields ({tag: value}) of the first ``event`` message of ``msg_type`` with every
        ``t<tag>=value`` of ``match``; ``TimeoutError`` after ``timeout_s`` (None: wait for ever)."""
        message = await self.expect_message(msg_type, timeout_s, event, **match)
        return {str(k): str(v) for k, v in message.get("fields", {}).items()}

    async def expect_message(
        self, msg_type: str, timeout_s: float | None = 15.0, event: str = "app", **match: str
    ) -> dict[str, Any]:
        """As ``expect``, the whole message: ``fields`` and the ordered ``pairs`` (repeating groups)."""
        wanted = {k[1:]: v for k, v in match.items()}

        def found() -> dict[str, Any] | None:
            for message in self.messages:
                if message.get("event") != event or (event == "app" and message.get("type") != msg_type):
                    continue
                fields = message.get("fields", {})
                if all(fields.get(tag) == value for tag, value in wanted.items()):
                    self.messages.remove(message)
                    return message
            return None

        async def wait() -> dict[str, Any]:
            while (message := found()) is None:
                self._arrived.clear()
                if self._ended:
                    raise RuntimeError(f"the FIX client of {self.sender} exited")
                await self._arrived.wait()
            return message

        try:
            return await asyncio.wait_for(wait(), timeout_s)
        except TimeoutError:
            seen = [m.get("fields") for m in self.messages if m.get("type") == msg_type][-3:]
            raise TimeoutError(
                f"{self.sender}: no {msg_type} with {match} in {timeout_s} s; saw {seen}"
            ) from None

    async def close(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            assert self.process.stdin is not None
            self.process.stdin.write(b'{"op": "quit"}\n')
            await self.process.stdin.drain()
        try:
            await asyncio.wait_for(self.process.wait(), 15)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        if self._reader is not None:
            self._reader.cancel()
        self.process = None
