"""Hundreds of malformed messages over raw TCP: the session rejects or disconnects as FIX prescribes,
the acceptor keeps serving the other sessions, and no callback ever fails."""

from __future__ import annotations

import random
import time

from tests.fixgw.conftest import FixVenue
from tests.fixgw.harness import now
from tests.fixgw.raw import SOH, RawSession, frame, logon
from tests.fixgw.test_orders import order

GOOD = [(11, "f"), (55, "BTC-PERP"), (54, "1"), (38, "0.1"), (40, "2"), (44, "90000")]


def relogon(port: int, attempts: int = 20) -> RawSession:
    """A fresh logged-on HF2 session; the acceptor may take a moment to notice the last one closed."""
    for _ in range(attempts):
        raw = RawSession(port)
        raw.send(logon("HF2", "demo-hf2", reset=True))
        if any(m.get(35) == "A" for m in raw.read_messages(0.5)):
            return raw
        raw.close()
        time.sleep(0.25)
    raise AssertionError("could not log on again after a disconnect")


def malformed(rng: random.Random, seq: int, n: int) -> tuple[str, bytes]:
    """(kind, bytes) of one broken message; ``seq`` is the next sequence number the session expects."""
    body = [(t, v if t != 11 else f"fz-{n}") for t, v in GOOD] + [(60, now())]
    kind = rng.choice(
        ["checksum", "length", "missing", "enum", "unknown_tag", "huge", "garbage", "empty_value",
         "bad_number", "bad_type", "duplicate_tag", "long_value"]
    )  # fmt: skip
    if kind == "checksum":
        return kind, frame("D", body, seq, "HF2", checksum="000")
    if kind == "length":
        return kind, frame("D", body, seq, "HF2", body_length=rng.choice([1, 5, 10_000]))
    if kind == "missing":
        drop = rng.choice([11, 54, 60, 40])
        return kind, frame("D", [(t, v) for t, v in body if t != drop], seq, "HF2")
    if kind == "enum":
        return kind, frame("D", [(t, "Z" if t in (54, 40) else v) for t, v in body], seq, "HF2")
    if kind == "unknown_tag":
        return kind, frame("D", [*body, (rng.choice([9999, 5001, 30000]), "x")], seq, "HF2")
    if kind == "huge":
        value = rng.choice(["9" * 40, "1" + "0" * 25 + ".5", "0." + "0" * 30 + "1", "-5"])
        tag = rng.choice([38, 44, 99])
        fields = [(t, value if t == tag else v) for t, v in body] + ([(99, value)] if tag == 99 else [])
        return kind, frame("D", fields, seq, "HF2")
    if kind == "garbage":
        return kind, bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300)))
    if kind == "empty_value":
        return kind, frame("D", [(t, "" if t == 55 else v) for t, v in body], seq, "HF2")
    if kind == "bad_number":
        return kind, frame("D", [(t, "1e5" if t == 38 else v) for t, v in body], seq, "HF2")
    if kind == "bad_type":
        return kind, frame(rng.choice(["ZZ", "U9", "AE"]), body, seq, "HF2")
    if kind == "duplicate_tag":
        return kind, frame("D", [*body, (11, "again")], seq, "HF2")
    return kind, frame("D", [(t, "x" * 5000 if t == 11 else v) for t, v in body], seq, "HF2")


def test_malformed_messages_never_take_the_acceptor_down(fix_venue: FixVenue) -> None:
    rng = random.Random(20261122)
    hf1 = fix_venue.client("HF1")  # a well-behaved session alongside the fuzzed one
    raw: RawSession | None = None
    answered = disconnects = 0
    seq = 0
    try:
        hf1.logon()
        for n in range(300):
            if raw is None:
                raw = relogon(fix_venue.port)
                seq = 2
            kind, data = malformed(rng, seq, n)
            raw.send(data)
            # a garbled frame (bad checksum or length, garbage) is dropped without using a sequence number
            if kind not in ("checksum", "length", "garbage"):
                seq += 1
            if n % 25 == 24 or kind in ("length", "garbage"):
                replies = raw.read_messages(0.3)
                answered += len(replies)
                if any(m.get(35) == "5" for m in replies) or kind in ("length", "garbage"):
                    raw.close()
                    raw = None
                    disconnects += 1
            if n % 50 == 0:  # the other session is served throughout
                hf1.send("D", order(f"alive-{n}", "1", "0.1", "90000"))
                hf1.app("8", t11=f"alive-{n}", t150="0")
    finally:
        if raw is not None:
            raw.close()
        hf1.close()
    assert answered > 0
    fix = fix_venue.venue.fix
    assert fix is not None and fix.application.callback_errors == 0
    # and the fuzzed session itself can still log on and trade
    good = relogon(fix_venue.port)
    try:
        good.send(frame("D", [(11, "after-fuzz"), *GOOD[1:], (60, now())], 2, "HF2"))
        assert any(m.get(11) == "after-fuzz" and m.get(150) == "0" for m in good.read_messages(2.0))
    finally:
        good.close()


def test_each_kind_gets_the_prescribed_answer(fix_venue: FixVenue) -> None:
    raw = RawSession(fix_venue.port)
    try:
        raw.send(logon("HF2", "demo-hf2", reset=True))
        raw.read_messages(1.0)
        body = [*GOOD, (60, now())]
        raw.send(frame("D", body, 2, "HF2", checksum="000"))  # garbled: ignored, seq not used
        raw.send(frame("D", [(t, v) for t, v in body if t != 54], 2, "HF2"))  # missing Side
        raw.send(frame("D", [(t, "Z" if t == 54 else v) for t, v in body], 3, "HF2"))  # bad enum
        raw.send(frame("D", [*body, (9999, "x")], 4, "HF2"))  # undefined tag
        raw.send(frame("ZZ", body, 5, "HF2"))  # unknown message type
        raw.send(frame("D", [(t, "9" * 40 if t == 38 else v) for t, v in body], 6, "HF2"))  # huge quantity
        replies = raw.read_messages(2.0)
        rejects = [m for m in replies if m.get(35) == "3"]
        reasons = sorted(m.get(373) for m in rejects)
        assert [m.get(45) for m in rejects] == ["2", "3", "4", "5"]
        assert reasons == ["0", "1", "11", "5"]  # invalid tag, required missing, bad msg type, bad value
        huge = [m for m in replies if m.get(35) == "8"]
        assert huge and huge[0][150] == "8" and huge[0][39] == "8"  # a business reject, not a crash
        assert SOH not in huge[0].get(58, "")
    finally:
        raw.close()
