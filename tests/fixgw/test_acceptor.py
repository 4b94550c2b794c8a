"""The acceptor polled from the venue's loop: session timers keep running under a flood, and logon
checks stay cheap for the loop (a remembered password skips scrypt; a wrong one never does)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from config.fix_sessions import AcceptorConfig, SessionConfig, hash_password
from fixgw import auth
from fixgw.auth import LogonGuard
from fixgw.fields import PASSWORD, USERNAME
from tests.fixgw.conftest import FixVenue
from tests.fixgw.raw import RawSession, frame

ROOT = Path(__file__).resolve().parents[2]
FLOOD = """
import sys, time
from tests.fixgw.raw import RawSession, frame, logon
raw = RawSession(int(sys.argv[1]))
raw.send(logon("MM1", "demo-mm1"))
assert any(m.get(35) == "A" for m in raw.read_messages(1.0))
print("ready", flush=True)
seq, stop = 2, time.monotonic() + float(sys.argv[2])
while time.monotonic() < stop:  # heartbeats back to back: every poll finds this socket readable
    raw.send(b"".join(frame("0", [], seq + i, "MM1") for i in range(50)))
    seq += 50
print(seq - 2, flush=True)
"""


def test_a_silent_session_is_still_tested_while_another_session_floods(fix_venue: FixVenue) -> None:
    """quickfix runs a session's timers when a poll finds nothing to read or when that session sends;
    the acceptor adds a tick of its own for when every poll is busy. Either way a session that sends
    nothing while another floods must still be tested: HeartBtInt 1 s, so a TestRequest soon."""
    silent = RawSession(fix_venue.port)
    silent.send(frame("A", [(98, "0"), (108, "1"), (141, "Y"), (553, "hf2"), (554, "demo-hf2")], 1, "HF2"))
    assert any(m.get(35) == "A" for m in silent.read_messages(0.5))
    flood = subprocess.Popen(
        [sys.executable, "-c", FLOOD, str(fix_venue.port), "4"], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )  # another process: in this one the flood would wait on the GIL the venue's loop holds
    assert flood.stdout is not None and flood.stdout.readline().strip() == "ready"
    received = silent.read_messages(3.5)
    sent = int(flood.stdout.readline())
    assert flood.wait(10) == 0
    assert sent > 10_000  # it was a flood
    assert any(m.get(35) == "1" for m in received), received  # tested after 1.2 heartbeat intervals
    silent.close()


def _session(password_hash: str) -> SessionConfig:
    return SessionConfig(
        target_comp_id="HFX",
        username="hfx",
        role="order_entry",
        accounts=["HFX"],
        password_hash=password_hash,
    )


def test_a_password_that_passed_scrypt_is_not_checked_again_but_a_wrong_one_always_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    checks: list[str] = []
    real = auth.check_password

    def counted(password: str, hashed: str) -> bool:
        checks.append(password)
        return real(password, hashed)

    monkeypatch.setattr(auth, "check_password", counted)
    guard = LogonGuard(AcceptorConfig(failed_logons_before_lockout=10))
    session = _session(hash_password("right"))
    now = time.time()

    def logon_with(password: str, s: SessionConfig = session) -> str | None:
        return guard.check(s, {USERNAME: "hfx", PASSWORD: password}, now)

    assert logon_with("right") is None
    assert logon_with("right") is None
    assert logon_with("right") is None
    assert checks == ["right"]  # scrypt once; the next logons matched the remembered HMAC
    assert logon_with("wrong") == "invalid credentials"
    assert logon_with("wrong") == "invalid credentials"
    assert checks == ["right", "wrong", "wrong"]
    # a new hash for the session (its password changed): the old password goes through scrypt, and fails
    changed = _session(hash_password("new"))
    assert logon_with("right", changed) == "invalid credentials"
    assert logon_with("new", changed) is None
    assert checks == ["right", "wrong", "wrong", "right", "new"]


def test_the_poller_watches_each_accepted_connection_and_wakes_when_it_sends(fix_venue: FixVenue) -> None:
    """Between busy polls the poller waits on quickfix's sockets (fixgw.socket_watch), not on a timer."""
    watch = fix_venue.venue.fix.watch if fix_venue.venue.fix is not None else None
    assert watch is not None
    raw = RawSession(fix_venue.port)
    raw.send(frame("A", [(98, "0"), (108, "30"), (141, "Y"), (553, "hf2"), (554, "demo-hf2")], 1, "HF2"))
    assert any(m.get(35) == "A" for m in raw.read_messages(0.5))
    assert watch.watched == 2  # the listening socket and this connection
    before = watch.wakeups
    raw.send(frame("1", [(112, "ping")], 2, "HF2"))
    assert any(m.get(35) == "0" and m.get(112) == "ping" for m in raw.read_messages(0.5))
    assert watch.wakeups > before
    raw.close()
