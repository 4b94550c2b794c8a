"""The FIX acceptor: quickfix's socket acceptor, polled from the venue's event loop.

quickfix's ``SocketAcceptor`` in poll mode: a task on the loop calls ``poll()`` (one non-blocking
select over the listening and session sockets, then whatever they carry), yields, and polls again;
after a poll that brought nothing it waits until one of those sockets is readable
(``fixgw.socket_watch``: an order reaching an idle venue is acknowledged ~0.6 ms sooner than after a
timed sleep, at the same throughput under load). So quickfix's callbacks run on the loop thread, the
thread that owns the core: no hand-over between an engine thread and the loop, and no contention for
the GIL, which measured ~1.5x the orders/s of the threaded acceptor (one engine thread per session)
on these machines. Fairness between sessions is quickfix's: each poll reads at most one buffer per
socket, and the rate limit refuses a flood before it is queued.

The message store is quickfix's FileStore under ``<data_dir>/fix/store`` (or its MemoryStore when the
sessions file says ``store = "memory"``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import quickfix as fix

from config.fix_sessions import FixConfig
from fixgw import quickfix_settings
from fixgw.application import Application
from fixgw.core import Core
from fixgw.gateway import Gateway
from fixgw.socket_watch import SocketWatch

log = logging.getLogger(__name__)

# After a poll that read nothing the poller waits for one of quickfix's sockets to be readable
# (fixgw.socket_watch), or this long: the wait also lets quickfix finish a send that found a
# client's socket buffer full (it needs a poll to go on, and writability is not watched).
IDLE_WAIT_S = 0.005
# Where the sockets cannot be watched, the sleep between polls instead: asyncio's timers have a
# resolution of one millisecond, so this adds up to ~1 ms to an order that arrives on an idle venue.
IDLE_POLL_S = 0.0005
# quickfix runs a session's timers (heartbeat, test request, logout timeout) when a poll finds no
# socket ready or when that session receives; a flood on other sessions could starve them, so the
# poller also runs every logged-on session's timers this often.
TIMERS_S = 1.0
# How long ``stop`` waits for the sessions' Logout answers before it closes the sockets.
LOGOUT_WAIT_S = 5.0


class Acceptor:
    def __init__(self, core: Core, config: FixConfig, data_dir: Path) -> None:
        self.config = config
        self.gateway = Gateway(core, config)
        self.application = Application(self.gateway, config)
        self.settings_path = quickfix_settings.write(config, data_dir)
        self._acceptor: fix.SocketAcceptor | None = None
        self.watch: SocketWatch | None = None  # quickfix's sockets, while polling (None: not watched)
        self._task: asyncio.Task[None] | None = None

    @property
    def address(self) -> str:
        return f"{self.config.acceptor.host}:{self.config.acceptor.port}"

    def start(self) -> None:
        """Bind the gateway to the running loop, listen and start polling.

        Raises fix.ConfigError on bad settings and fix.RuntimeError when the port cannot be bound.
        """
        loop = asyncio.get_running_loop()
        self.gateway.attach(loop)
        settings = fix.SessionSettings(str(self.settings_path))
        if self.config.acceptor.store == "memory":
            store: fix.MessageStoreFactory = fix.MemoryStoreFactory()
        else:
            store = fix.FileStoreFactory(settings)
        self._store = store  # quickfix keeps raw pointers: the factory must outlive the acceptor
        self._settings = settings
        acceptor = fix.SocketAcceptor(self.application, store, settings)
        acceptor.poll()  # the first poll configures the sessions and binds the port
        self._acceptor = acceptor
        self.watch = SocketWatch.create(self.config.acceptor.port)
        self._task = loop.create_task(self._serve(acceptor), name="fix-acceptor")
        log.info("FIX acceptor listening on %s", self.address)

    async def _serve(self, acceptor: fix.SocketAcceptor) -> None:
        application = self.application
        await serve(acceptor, lambda: application.calls, self._run_timers, self.watch)

    def _logged_on(self) -> Iterator[tuple[str, fix.Session]]:
        """(name, quickfix session) of every session logged on now."""
        for state in self.gateway.sessions.values():
            session = fix.Session.lookupSession(state.session_id)
            if session is not None and session.isLoggedOn():
                yield state.name, session

    def _run_timers(self) -> None:
        for name, session in self._logged_on():
            try:
                session.next(fix.UtcTimeStamp())
            except Exception:
                log.exception("FIX session %s: timers failed", name)

    async def stop(self) -> None:
        """Log every session out (their cancel-on-disconnects go in) and close the sockets; waits up
        to ``LOGOUT_WAIT_S`` for the clients' Logout answers."""
        acceptor, task = self._acceptor, self._task
        if acceptor is None or task is None:
            return
        self._acceptor = self._task = None
        for _, session in list(self._logged_on()):
            session.logout("the venue is shutting down")
        deadline = time.monotonic() + LOGOUT_WAIT_S
        while acceptor.isLoggedOn() and time.monotonic() < deadline and not task.done():
            await asyncio.sleep(0.01)  # the poller sends the Logouts and reads the answers
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        self.gateway.closed = True  # reports after this would go to sessions being torn down
        acceptor.stop(True)
        del acceptor  # quickfix closes the listening socket and the connections when it is freed


async def serve(
    acceptor: fix.SocketAcceptor,
    calls: Callable[[], int],
    timers: Callable[[], None] | None = None,
    watch: SocketWatch | None = None,
) -> None:
    """Poll ``acceptor`` until cancelled: again at once after a poll during which ``calls()`` (a
    count of the application's callbacks) moved; otherwise once ``watch`` sees one of quickfix's
    sockets readable or ``IDLE_WAIT_S`` has passed (with no watch: after ``IDLE_POLL_S``).
    ``timers`` runs every ``TIMERS_S``; ``watch`` is closed on the way out. The first ``poll()``
    (which binds the port) must already have been made."""
    timers_due = time.monotonic() + TIMERS_S
    woken = False
    try:
        while True:
            before = calls()
            try:
                acceptor.poll()
            except Exception:  # quickfix's own errors (a failed send, a socket error): keep serving
                log.exception("FIX acceptor poll failed")
            now = time.monotonic()
            busy = calls() != before
            if watch is not None:
                if woken and not busy:
                    watch.suspect()
                watch.polled(now)
            if timers is not None and now >= timers_due:
                timers_due = now + TIMERS_S
                timers()
            if busy:
                woken = False
                await asyncio.sleep(0)
            elif watch is None:
                await asyncio.sleep(IDLE_POLL_S)
            else:
                woken = await watch.wait(IDLE_WAIT_S)
    finally:
        if watch is not None:
            watch.close()
