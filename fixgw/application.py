"""The quickfix Application: quickfix's callbacks, run inside the acceptor's poll on the venue's loop.

They do as little as they can: check the logon, apply the rate limit, parse the message and queue it
for the gateway, which handles it once the poll returns. ``calls`` counts them, so the poller knows
whether its last poll found work.

Every callback catches everything: an exception leaving a callback aborts the whole process (see
../shared/TOOLCHAIN.md), quickfix's own RejectLogon included. So a bad logon is refused by asking the
session to log out with the reason (the engine answers the Logon, then sends our Logout), and the
session is flagged so none of its application messages are routed until it logs on properly.

The per-session rate limit is applied here, before the gateway's queue: excess application
messages get a BusinessMessageReject at once and are never queued.
"""

from __future__ import annotations

import logging
import threading
import time

import quickfix as fix

from config.fix_sessions import FixConfig
from fixgw import fields as f
from fixgw.auth import LogonGuard
from fixgw.gateway import Gateway
from fixgw.outbound import build
from fixgw.reports import business_reject
from fixgw.wire import FixMessage
from matching.rate_limit import RateLimiter

log = logging.getLogger(__name__)


class Application(fix.Application):  # type: ignore[misc]
    def __init__(self, gateway: Gateway, config: FixConfig) -> None:
        super().__init__()
        self.gateway = gateway
        self.config = config
        self.sessions = {s.target_comp_id: s for s in config.sessions}
        self.guard = LogonGuard(config.acceptor)
        self.limiter = RateLimiter()
        self._lock = threading.Lock()  # guards ``authenticated``, the guard and the limiter
        self.authenticated: set[str] = set()  # TargetCompIDs whose current logon passed the checks
        self.refused: set[str] = set()  # sessions disabled by a refused logon, re-enabled on logout
        self.callback_errors = 0
        self.calls = 0  # callbacks from sessions' traffic (logon, logout, admin, application)
        self.rate_limited = 0

    # quickfix names its callbacks in camelCase; the signatures are quickfix's.

    def onCreate(self, session_id: fix.SessionID) -> None:
        pass

    def onLogon(self, session_id: fix.SessionID) -> None:
        self.calls += 1
        try:
            target = session_id.getTargetCompID().getValue()
            with self._lock:
                ok = target in self.authenticated
            if ok:
                self.gateway.deliver(target, "logon", session_id)
        except Exception:
            self._failed("onLogon")

    def onLogout(self, session_id: fix.SessionID) -> None:
        self.calls += 1
        try:
            target = session_id.getTargetCompID().getValue()
            with self._lock:
                was = target in self.authenticated
                self.authenticated.discard(target)
                refused = target in self.refused
                self.refused.discard(target)
            if refused:
                # Session.logout() disabled the session; enable it again for the next attempt
                session = fix.Session.lookupSession(session_id)
                if session is not None:
                    session.logon()
            if was:
                self.gateway.deliver(target, "logout", None)
        except Exception:
            self._failed("onLogout")

    def toAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        pass

    def toApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        pass

    def fromAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        self.calls += 1
        try:
            raw = message.toString()
            if f"{f.SOH}35=A{f.SOH}" not in raw:
                return
            self._logon(FixMessage.parse(raw), session_id)
        except Exception:
            self._failed("fromAdmin")
            self._logout(session_id, "logon could not be processed")

    def fromApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        self.calls += 1
        try:
            target = session_id.getTargetCompID().getValue()
            parsed = FixMessage.parse(message.toString())
            session = self.sessions.get(target)
            with self._lock:
                authenticated = target in self.authenticated
                wait = (
                    self.limiter.take(target, session.rate_per_s, session.burst)
                    if session and authenticated
                    else 0.0
                )
            if not authenticated or session is None:
                self._logout(session_id, "not logged on")
                return
            if wait:
                self.rate_limited += 1
                reply = business_reject(
                    parsed.get(f.MSG_SEQ_NUM), parsed.msg_type, 0,
                    f"rate limit of {session.rate_per_s:g} messages/s exceeded; retry in {wait:.3f} s",
                    parsed.get(f.CL_ORD_ID),
                )  # fmt: skip
                fix.Session.sendToTarget(build("j", reply), session_id)
                return
            self.gateway.deliver(target, "app", parsed)
        except Exception:
            self._failed("fromApp")

    # -- helpers -------------------------------------------------------------------------------------

    def _logon(self, message: FixMessage, session_id: fix.SessionID) -> None:
        target = session_id.getTargetCompID().getValue()
        session = self.sessions.get(target)
        if session is None:
            self._logout(session_id, "unknown session")
            return
        with self._lock:
            self.authenticated.discard(target)
        reason = self.guard.check(session, message.fields, time.time())
        if reason is not None:
            log.warning("FIX logon refused for %s: %s", target, reason)
            self._logout(session_id, reason)
            return
        with self._lock:
            self.authenticated.add(target)

    def _logout(self, session_id: fix.SessionID, reason: str) -> None:
        """Log the session out with ``reason``; quickfix disables it, ``onLogout`` enables it again."""
        try:
            with self._lock:
                self.refused.add(session_id.getTargetCompID().getValue())
            session = fix.Session.lookupSession(session_id)
            if session is not None:
                session.logout(reason)
        except Exception:
            self._failed("logout")

    def _failed(self, where: str) -> None:
        self.callback_errors += 1
        log.exception("FIX callback %s failed", where)
