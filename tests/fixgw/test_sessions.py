"""Logon (password, signature), lockout, roles, rate limits, cancel-on-disconnect and drop copy."""

from __future__ import annotations

import base64
import hashlib
import time

from fixgw.auth import sign
from tests.fixgw.conftest import FixVenue
from tests.fixgw.harness import FixClient, Msg, now
from tests.fixgw.test_orders import order


def logout_text(client: FixClient, timeout: float = 10.0) -> str:
    message = client.expect(lambda m: m.get("event") == "admin" and m.get("type") == "5", timeout, "Logout")
    return str(message["fields"].get("58", ""))


def test_signature_scheme_is_deribits() -> None:
    raw = "1700000000000.abc"
    expected = base64.b64encode(hashlib.sha256(raw.encode() + b"s3cret").digest()).decode()
    assert sign(raw, b"s3cret") == expected


def test_logon_with_password_and_with_signature(fix_venue: FixVenue) -> None:
    by_password = fix_venue.client("HF2")
    by_signature = fix_venue.client("HF1", "--secret", "hf1-signing-secret")
    try:
        by_password.logon()
        by_signature.logon()
        by_signature.send("D", order("sig-1", "1", "0.1", "90000"))
        assert by_signature.app("8", t11="sig-1")["fields"]["150"] == "0"
    finally:
        by_password.close()
        by_signature.close()


def test_bad_logons_are_refused_with_a_reason_counted_and_lock_the_session_out(fix_venue: FixVenue) -> None:
    wrong = fix_venue.client("HF2", "--reconnect", "1", password="not-it")
    try:
        assert "invalid credentials" in logout_text(wrong)
        assert "invalid credentials" in logout_text(wrong)  # the initiator retries every second
        assert "locked out" in logout_text(wrong)  # the third failure locks (tests: 3 failures, 2 s)
    finally:
        wrong.kill()
    assert fix_venue.venue.fix is not None and fix_venue.venue.fix.application.guard.failed >= 3
    metrics = fix_venue.http.get("/metrics").text
    refused = next(line for line in metrics.splitlines() if line.startswith("venue_fix_logons_refused_total"))
    assert float(refused.split()[-1]) >= 3
    # while locked out even the right password is refused; after the lockout it works again
    right = fix_venue.client("HF2", "--reconnect", "1", "--reset")
    try:
        text = logout_text(right)
        assert "locked out" in text
        right.logon(timeout=15)
    finally:
        right.close()


def test_signature_replay_and_stale_timestamps_are_refused(fix_venue: FixVenue) -> None:
    guard = fix_venue.venue.fix.application.guard  # type: ignore[union-attr]
    session = fix_venue.venue.fix.config.session("HF1")  # type: ignore[union-attr]
    assert session is not None
    stamp = int(time.time() * 1000)
    raw = f"{stamp}.nonce-1"
    fields = {553: "hf1", 96: raw, 554: sign(raw, b"hf1-signing-secret")}
    assert guard.check(session, fields, time.time()) is None
    assert guard.check(session, fields, time.time()) == "nonce already used"
    old = f"{stamp - 600_000}.nonce-2"
    stale = {553: "hf1", 96: old, 554: sign(old, b"hf1-signing-secret")}
    assert "window" in (guard.check(session, stale, time.time()) or "")


def test_roles_limit_what_a_session_may_send_and_unknown_types_get_business_rejects(
    fix_venue: FixVenue,
) -> None:
    md = fix_venue.client("MD1")
    hf1 = fix_venue.client("HF1")
    try:
        md.logon()
        hf1.logon()
        md.send("D", order("md-1", "1", "0.1", "90000", t1="HF1"))
        reject = md.app("j")
        assert reject["fields"]["380"] == "6" and reject["fields"]["372"] == "D"
        capture = [(571, "r1"), (487, "0"), (856, "0"), (150, "F"), (17, "e"), (570, "N"), (55, "BTC-PERP")]
        capture += [(32, "1"), (31, "1"), (75, "20261122"), (60, now()), (552, "1"), (54, "1"), (37, "1")]
        hf1.send("AE", [*capture, (453, "0")])
        unsupported = hf1.app("j")
        assert unsupported["fields"]["380"] == "3" and unsupported["fields"]["372"] == "AE"
        # an account the session may not trade
        hf1.send("D", order("other-1", "1", "0.1", "90000", t1="HF2"))
        refused = hf1.app("8", t11="other-1")
        assert refused["fields"]["150"] == "8" and "not permitted" in refused["fields"]["58"]
    finally:
        md.close()
        hf1.close()


def test_rate_limit_rejects_excess_messages_at_once(fix_venue: FixVenue, tmp_path) -> None:  # type: ignore[no-untyped-def]
    hf2 = fix_venue.client("HF2")
    try:
        hf2.logon()
        burst = 1000  # the demo session's burst; rate 500/s
        template = [[55, "BTC-PERP"], [54, "1"], [38, "0.001"], [40, "2"], [44, "50000"]]
        hf2.command(op="load", count=burst + 400, rate=0, window=burst + 400, fields=template)
        # the load run counts only ExecutionReports; excess orders are answered with 35=j
        limited = hf2.expect(
            lambda m: m.get("type") == "j" and "rate limit" in m["fields"].get("58", ""), 20.0
        )
        assert limited["fields"]["380"] == "0"
    finally:
        hf2.close()
    assert fix_venue.venue.fix is not None and fix_venue.venue.fix.application.rate_limited > 0


def _reports(client: FixClient, cl: str, exec_type: str) -> Msg:
    return client.app("8", t11=cl, t150=exec_type)


def test_cancel_on_disconnect_and_drop_copy(fix_venue: FixVenue) -> None:
    hf1, dc = fix_venue.client("HF1"), fix_venue.client("DC1")
    try:
        hf1.logon()
        dc.logon()
        hf1.send("D", order("cod-1", "1", "0.2", "90000"))
        _reports(hf1, "cod-1", "0")
        copy = _reports(dc, "cod-1", "0")  # the drop copy sees the fund's order
        assert copy["fields"]["1"] == "HF1"
        hf1.kill()  # the connection drops without a logout
        cancelled = _reports(dc, "cod-1", "4")
        assert "disconnect" in cancelled["fields"]["58"]
    finally:
        hf1.close()
        dc.close()
