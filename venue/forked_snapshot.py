"""A state snapshot encoded by a forked child, so the event loop does not stop while it is taken.

``matching.snapshot.take`` walks every live order and account: ~350 ms with 100,000 orders resting,
during which the venue answered nothing. ``os.fork`` gives a child the process's memory as it is at
that instant (copy-on-write); the child encodes it and writes the bytes to a pipe, and the loop goes
on applying commands meanwhile. Forking copies only page tables (a few ms for a few hundred MB) and,
after ``gc.freeze``, the collector does not touch the shared pages (venue.gc_policy).

The child runs nothing but the encoding: no event loop, no logging, no database, no socket, and
leaves with ``os._exit``. It does hold copies of the parent's descriptors until then (under a
second with 100,000 orders), so a connection the parent closes meanwhile reaches its peer as closed
only when the child exits. Where ``os.fork`` does not exist the snapshot is taken inline, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import sys
import traceback
from collections.abc import Callable

READ_CHUNK = 1 << 20


class SnapshotFailed(RuntimeError):
    """The child could not encode or hand over the snapshot (its exit status is in the message)."""


class ForkedSnapshot:
    """One snapshot being taken; ``await result()`` once (it reaps the child)."""

    def __init__(self, pid: int, fd: int, inline: bytes | None = None) -> None:
        self.pid = pid
        self.fd = fd
        self._inline = inline

    @classmethod
    def start(cls, take: Callable[[], bytes]) -> ForkedSnapshot:
        """Fork a child running ``take`` on the state as it is now; call between records, on the
        thread that owns that state (nothing may be half-applied at the fork)."""
        if not hasattr(os, "fork"):
            return cls(0, -1, take())
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child; its work shows as the parent's result
            os.close(read_fd)
            os._exit(_child(take, write_fd))
        os.close(write_fd)
        return cls(pid, read_fd)

    async def result(self) -> bytes:
        """The encoded snapshot; SnapshotFailed if the child failed."""
        if self._inline is not None:
            return self._inline
        return await asyncio.to_thread(self._collect)

    def _collect(self) -> bytes:
        chunks = []
        try:
            while chunk := os.read(self.fd, READ_CHUNK):
                chunks.append(chunk)
        finally:
            os.close(self.fd)
            _, status = os.waitpid(self.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            raise SnapshotFailed(f"the snapshot child exited with {code}")
        return b"".join(chunks)


def _child(take: Callable[[], bytes], fd: int) -> int:
    """Encode and write; the exit status (0 when all of it was written)."""
    try:
        gc.disable()  # a collection would touch, and so copy, every page the parent shares
        with contextlib.suppress(ValueError):  # only the main thread may (the loop may run elsewhere)
            signal.set_wakeup_fd(-1)  # a signal here must not wake the parent's loop through its pipe
            for number in (signal.SIGINT, signal.SIGTERM):
                signal.signal(number, signal.SIG_DFL)
        view = memoryview(take())
        while view:
            view = view[os.write(fd, view) :]
        return 0
    except BaseException:
        traceback.print_exc(file=sys.stderr)
        return 1
