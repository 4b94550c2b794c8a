"""Wakes the acceptor's poller as soon as one of quickfix's sockets has something to read.

quickfix's poll mode keeps its sockets to itself (the Python binding exposes no descriptor and no
blocking poll), so the poller used to sleep between empty polls and an order arriving on an idle
venue waited for the end of that sleep: ~0.75 ms of its acknowledgement time, since the loop's
selector counts timeouts in whole milliseconds. This finds quickfix's descriptors in the process's
descriptor table (TCP sockets whose local port is the acceptor's: the listening one and the
connections it accepted) and watches them with an epoll set of its own, whose one descriptor the
event loop watches for as long as the watch lives (adding and removing it around each wait cost
~3% of the venue's time under load): the poller waits until it is readable or a fallback timeout
passes. While nobody waits, a readable set only costs the loop a callback that returns at once.

The set is rebuilt from the table when a wait ended with the listening socket readable (a
connection was being accepted) and every ``RESCAN_S`` (a connection accepted while the poller was
busy waits for that one: meanwhile its messages are read by the polls the other sessions' traffic
makes, or after the fallback timeout). A socket quickfix closed leaves an epoll set by itself,
unless a forked child still holds a copy, so a rebuilt set drops such an entry too. Linux only (epoll,
/proc/self/fd); elsewhere ``SocketWatch.create`` returns None and the poller sleeps as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import socket
from pathlib import Path

FD_TABLE = Path("/proc/self/fd")
# The set is rebuilt at least this often (seconds), whatever happened on the listening socket.
RESCAN_S = 1.0
# ... and at most this often after a wake that brought no message (a partial message, or a stale
# entry that stays readable): one rebuild costs a scan of the descriptor table, a fraction of a ms.
SUSPECT_RESCAN_S = 0.05


def quickfix_sockets(port: int) -> tuple[set[int], set[int]]:
    """(listening, connected): this process's TCP descriptors whose local port is ``port``."""
    listening: set[int] = set()
    connected: set[int] = set()
    for name in os.listdir(FD_TABLE):
        try:
            if not os.readlink(FD_TABLE / name).startswith("socket:"):
                continue
            sock = socket.socket(fileno=int(name))  # the descriptor itself, no copy: detached below
        except OSError:  # closed meanwhile, or no longer a socket (another thread's descriptor)
            continue
        try:
            address = sock.getsockname()
            if sock.type != socket.SOCK_STREAM or not isinstance(address, tuple) or address[1] != port:
                continue
            accepting = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
        except OSError:
            continue
        finally:
            sock.detach()
        (listening if accepting else connected).add(int(name))
    return listening, connected


class SocketWatch:
    """An epoll set over quickfix's sockets on ``port``, waited on from the event loop.

    Used by one task on one event loop: ``wait`` after a poll that found nothing, ``polled`` after
    every poll (the first call binds the watch to the running loop), ``close`` at the end.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self._epoll = select.epoll()
        self._loop: asyncio.AbstractEventLoop | None = None  # watching self._epoll, once bound
        self._waiter: asyncio.Future[bool] | None = None
        self._listening: set[int] = set()
        self._watched: set[int] = set()
        self._rescan_due = 0.0
        self._rebuilt = 0.0
        self._accepting = True  # rebuild after the first poll
        self.wakeups = 0  # waits ended by a readable socket (not by the timeout)

    @classmethod
    def create(cls, port: int) -> SocketWatch | None:
        """A watch on ``port``, or None where epoll or the descriptor table is missing."""
        if not hasattr(select, "epoll") or not FD_TABLE.is_dir():
            return None
        return cls(port)

    @property
    def watched(self) -> int:
        """How many of quickfix's sockets (listening ones included) the set holds."""
        return len(self._watched)

    def close(self) -> None:
        self._unwatch()
        self._epoll.close()

    def _unwatch(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._epoll.fileno())
        self._loop = None

    def polled(self, now: float) -> None:
        """Call after each poll (``now``: time.monotonic()): rebuilds the set when it is due."""
        if self._accepting or now >= self._rescan_due:
            self._accepting = False
            self._rescan_due = now + RESCAN_S
            self._rebuilt = now
            self._rebuild()

    def suspect(self) -> None:
        """A wake was followed by a poll that brought no message: rebuild soon, in case an entry
        is stale (a closed socket a forked child still holds, readable at its end of stream)."""
        self._rescan_due = min(self._rescan_due, self._rebuilt + SUSPECT_RESCAN_S)

    def _rebuild(self) -> None:
        listening, connected = quickfix_sockets(self.port)
        watched = listening | connected
        # Always a fresh set, even for the same numbers: a number quickfix closed and reused while a
        # child held the old socket would otherwise keep the old socket's entry, not the new one's.
        self._unwatch()
        self._epoll.close()
        self._epoll = select.epoll()
        for fd in watched:
            with contextlib.suppress(OSError):  # closed since the scan
                self._epoll.register(fd, select.EPOLLIN)
        self._listening, self._watched = listening, watched
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._epoll.fileno(), self._readable)

    async def wait(self, timeout_s: float) -> bool:
        """Return once a watched socket is readable (True) or after ``timeout_s`` (False); call
        ``polled`` once first."""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bool] = loop.create_future()
        self._waiter = waiter
        timer = loop.call_later(timeout_s, _settle, waiter, False)
        try:
            return await waiter
        finally:
            self._waiter = None
            timer.cancel()

    def _readable(self) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():  # the poller is busy: it polls again anyway
            return
        if any(fd in self._listening for fd, _ in self._epoll.poll(0)):
            self._accepting = True
        self.wakeups += 1
        waiter.set_result(True)


def _settle(woken: asyncio.Future[bool], value: bool) -> None:
    if not woken.done():
        woken.set_result(value)
