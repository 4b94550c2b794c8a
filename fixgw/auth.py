"""Logon authentication: password or Deribit-style signature, replay protection and lockout.

Two ways to log on, both with Username (553) equal to the session's ``username``:
  - Password (554) checked against the session's salted scrypt hash;
  - RawData (96) = ``<timestamp ms>.<nonce>`` and Password (554) = base64(sha256(RawData + secret)),
    with the timestamp within ``signature_window_s`` of the venue's clock and the nonce never seen
    before within that window.
Failures are counted per session; ``failed_logons_before_lockout`` failures in a row lock the session
out for ``lockout_s`` seconds, during which even a correct logon is refused. Times are seconds (float).

Checks run on the venue's event loop (the acceptor is polled there), and one scrypt check takes ~30 ms
of it. So a password that passed its scrypt check is remembered as an HMAC under a key drawn at start,
with the hash it matched: the session's next logons with the same password cost microseconds. A
wrong password always pays the scrypt check, and the lockout bounds how often it can be tried.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections import deque
from dataclasses import dataclass, field

from config.fix_sessions import AcceptorConfig, SessionConfig, check_password
from fixgw.fields import PASSWORD, RAW_DATA, USERNAME


@dataclass(slots=True)
class _SessionGuard:
    failures: int = 0
    locked_until: float = 0.0
    nonces: dict[str, float] = field(default_factory=dict)  # nonce -> when it expires from memory
    expiries: deque[tuple[float, str]] = field(default_factory=deque)


def sign(raw_data: str, secret: bytes) -> str:
    """The Password (554) of a signature logon: base64(sha256(RawData + secret))."""
    return base64.b64encode(hashlib.sha256(raw_data.encode() + secret).digest()).decode()


class LogonGuard:
    def __init__(self, acceptor: AcceptorConfig) -> None:
        self.max_failures = acceptor.failed_logons_before_lockout
        self.lockout_s = acceptor.lockout_s
        self.window_s = acceptor.signature_window_s
        self._guards: dict[str, _SessionGuard] = {}
        self.failed = 0  # every refused logon, for metrics
        self._key = secrets.token_bytes(32)
        self._verified: dict[str, tuple[str, bytes]] = {}  # session -> (hash matched, HMAC of password)

    def check(self, session: SessionConfig, fields: dict[int, str], now: float) -> str | None:
        """None if the logon is accepted, else the reason text for the Logout.

        Counts failures and locks the session out as described in the module docstring.
        """
        guard = self._guards.setdefault(session.target_comp_id, _SessionGuard())
        if now < guard.locked_until:
            self.failed += 1
            return f"session locked out for {guard.locked_until - now:.0f} s after repeated failed logons"
        reason = self._verify(session, guard, fields, now)
        if reason is None:
            guard.failures = 0
            return None
        self.failed += 1
        guard.failures += 1
        if guard.failures >= self.max_failures:
            guard.failures = 0
            guard.locked_until = now + self.lockout_s
            return f"{reason}; session locked out for {self.lockout_s:.0f} s"
        return reason

    def _verify(
        self, session: SessionConfig, guard: _SessionGuard, fields: dict[int, str], now: float
    ) -> str | None:
        username, password = fields.get(USERNAME), fields.get(PASSWORD)
        if not username or not password:
            return "Username (553) and Password (554) are required"
        if not hmac.compare_digest(username.encode(), session.username.encode()):
            return "invalid credentials"
        raw = fields.get(RAW_DATA)
        if raw:
            return self._verify_signature(session, guard, raw, password, now)
        if session.password_hash is None or len(password) > 256:
            return "invalid credentials"
        if not self._password_ok(session.target_comp_id, password, session.password_hash):
            return "invalid credentials"
        return None

    def _password_ok(self, target: str, password: str, password_hash: str) -> bool:
        mac = hmac.digest(self._key, password.encode(), "sha256")
        known = self._verified.get(target)
        if known is not None and known[0] == password_hash and hmac.compare_digest(known[1], mac):
            return True
        if not check_password(password, password_hash):
            return False
        self._verified[target] = (password_hash, mac)
        return True

    def _verify_signature(
        self, session: SessionConfig, guard: _SessionGuard, raw: str, password: str, now: float
    ) -> str | None:
        secret = session.signing_secret()
        if secret is None:
            return "signature logon not enabled for this session"
        stamp, _, nonce = raw.partition(".")
        if not stamp.isdigit() or not nonce or len(nonce) > 128:
            return "RawData (96) must be <timestamp ms>.<nonce>"
        if abs(now - int(stamp) / 1000) > self.window_s:
            return f"signature timestamp outside the {self.window_s:.0f} s window"
        if not hmac.compare_digest(sign(raw, secret).encode(), password.encode()):
            return "invalid signature"
        while guard.expiries and guard.expiries[0][0] < now:
            _, old = guard.expiries.popleft()
            guard.nonces.pop(old, None)
        if nonce in guard.nonces:
            return "nonce already used"
        expires = now + 2 * self.window_s  # a timestamp is fresh for window_s either side of now
        guard.nonces[nonce] = expires
        guard.expiries.append((expires, nonce))
        return None
