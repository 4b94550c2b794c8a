"""RFQ over FIX against the real venue: a hedge fund asks over FIX, makers answer over FIX and the
WebSocket at once (quickfix initiators in other processes, the WebSocket through the venue's app)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from config.settings import VenueSettings
from fixgw.wire import utc_timestamp
from matching.commands import Deposit
from matching.instruments import Instrument
from tests.fixgw.conftest import FixVenue, start
from tests.fixgw.harness import FixClient, Msg, now
from venue.api.keys import KeyStore, Role

WINDOW_MS = 400


@pytest.fixture
def rfq_venue(fix_settings: VenueSettings, tmp_path: Path) -> Iterator[tuple[FixVenue, str]]:
    """The FIX venue plus a WebSocket market maker MM2 (funded) and its API key."""
    assert fix_settings.api_keys_file is not None
    key = KeyStore(fix_settings.api_keys_file).create({Role.MARKET_MAKER}, {"MM2"})[0]
    running = start(fix_settings, tmp_path)
    venue = next(running)
    venue.submit(Deposit(account="MM2", amount_micro=10**12, reference="fund-MM2"))
    try:
        yield venue, key
    finally:
        next(running, None)


def options(venue: FixVenue, count: int) -> list[Instrument]:
    """``count`` BTC calls of one expiry with marks, by strike."""
    calls = [
        i for s, i in venue.venue.sequencer.instruments.items()
        if s.startswith("BTC-") and s.endswith("-C") and i.mark_ticks > 200
    ]  # fmt: skip
    by_expiry: dict[str, list[Instrument]] = {}
    for inst in calls:
        by_expiry.setdefault(inst.symbol.split("-")[1], []).append(inst)
    series = next(v for v in by_expiry.values() if len(v) >= count)
    return sorted(series, key=lambda i: i.symbol)[:count]


def px(inst: Instrument, ticks_from_mark: int) -> str:
    return str(inst.ticks_to_price(inst.mark_ticks + ticks_from_mark))


def fields(message: Msg) -> dict[str, str]:
    return message["fields"]  # type: ignore[no-any-return]


def ws_until(ws: Any, kind: str) -> dict[str, Any]:
    for _ in range(100):
        message = ws.receive_json()
        if message.get("data", {}).get("type") == kind or message.get("op") == kind:
            return message  # type: ignore[no-any-return]
    raise AssertionError(f"no {kind} on the WebSocket")


def logged_on(*clients: FixClient) -> None:
    for client in clients:
        client.logon()


def test_auction_over_fix_and_websocket_at_once_tie_to_the_earlier_quote(
    rfq_venue: tuple[FixVenue, str],
) -> None:
    venue, mm2_key = rfq_venue
    (inst,) = options(venue, 1)
    hf1, mm1 = venue.client("HF1"), venue.client("MM1")
    try:
        logged_on(hf1, mm1)
        with venue.http.websocket_connect("/ws") as ws:
            ws.send_json({"op": "auth", "key": mm2_key})
            assert ws.receive_json()["op"] == "authenticated"
            ws.send_json({"op": "subscribe", "channel": "rfq@MM2"})
            assert ws.receive_json()["op"] == "subscribed"

            hf1.send("R", [(131, "r1"), (146, 1), (55, inst.symbol), (38, "1"), (20034, WINDOW_MS),
                           (20033, "1000000")])  # fmt: skip
            pending = fields(hf1.app("AI", t131="r1"))
            assert pending["297"] == "10" and pending["117"].startswith("RFQ")
            rfq_id = pending["20030"]

            request = fields(mm1.app("R", t131=rfq_id))
            assert request["55"] == inst.symbol and request["687"] == "1" and request["600"] == inst.symbol
            for hidden in ("1", "54", "20033", "453"):
                assert hidden not in request  # no taker, no side (two-way), no limits, no named makers
            opened = ws_until(ws, "RfqOpened")["data"]
            assert opened["rfq_id"] == int(rfq_id) and "account" not in opened

            # equal offers: MM1's came first and must win; MM2 bids higher
            mm1.send("S", [(131, rfq_id), (117, "mq1"), (55, inst.symbol), (132, px(inst, -10)),
                           (133, px(inst, 10))])  # fmt: skip
            live = fields(mm1.app("AI", t117="mq1"))
            assert live["297"] == "0" and live["20030"] == rfq_id
            mm1_quote = live["20031"]
            ws.send_json({"op": "rfq_quote", "rfq_id": int(rfq_id), "account": "MM2", "client_quote_id": "w1",
                          "bid": [px(inst, -5)], "offer": [px(inst, 10)]})  # fmt: skip
            mm2_quote = str(ws_until(ws, "rfq_quote_ack")["quote_id"])

            # too early: the window is still open
            accept = [(11, "acc1"), (55, inst.symbol), (54, "1"), (38, "1"), (40, "D"), (117, mm1_quote),
                      (59, "4"), (60, now())]  # fmt: skip
            hf1.send("D", accept)
            early = fields(hf1.app("8", t11="acc1"))
            assert early["150"] == "8" and "window" in early["58"]

            shown = [fields(hf1.app("S", t131="r1")) for _ in range(2)]
            assert {s["117"] for s in shown} == {mm1_quote, mm2_quote}
            for quote in shown:
                assert Decimal(quote["646"]) == inst.ticks_to_price(inst.mark_ticks + 10)
                assert quote["20030"] == rfq_id
                assert "MM1" not in str(quote.values()) and "MM2" not in str(quote.values())
            assert {Decimal(s["645"]) for s in shown} == {inst.ticks_to_price(inst.mark_ticks - 5)}

            hf1.send("D", [(11, "acc2"), *accept[1:]])
            taker = fields(hf1.app("8", t11="acc2", t150="F"))
            assert taker["39"] == "2" and taker["828"] == "1" and taker["20030"] == rfq_id
            assert (
                taker["117"] == mm1_quote
                and Decimal(taker["31"]) == Decimal(px(inst, 10))
                and taker["32"] == "1"
            )
            assert taker["54"] == "1" and taker["851"] == "2"
            maker = fields(mm1.app("8", t150="F"))
            assert maker["54"] == "2" and maker["11"] == "mq1" and maker["851"] == "1"
            assert maker["20030"] == rfq_id and "HF1" not in str(maker.values())
            assert fields(mm1.app("AI", t117="mq1", t297="22"))["20031"] == mm1_quote
            closed = ws_until(ws, "QuoteClosed")["data"]
            assert closed["quote_id"] == int(mm2_quote) and closed["status"] == 7  # RFQ filled elsewhere
            assert fields(hf1.app("AI", t131="r1", t297="22"))["20030"] == rfq_id

            hf1.send("D", [(11, "acc3"), *accept[1:]])
            late = fields(hf1.app("8", t11="acc3"))
            assert late["150"] == "8" and late["39"] == "8"
    finally:
        hf1.close()
        mm1.close()
    tape = venue.http.get(f"/trades/{inst.symbol}").json()
    assert tape[0]["block"] is True


def test_package_with_hedge_replace_cancel_and_the_taker_passing(rfq_venue: tuple[FixVenue, str]) -> None:
    venue, _ = rfq_venue
    low, high = options(venue, 2)
    hf1, mm1 = venue.client("HF1"), venue.client("MM1")
    try:
        logged_on(hf1, mm1)
        expire = time.time_ns() + 60 * 10**9
        hf1.send("R", [(131, "spread"), (146, 1), (55, "BTC"), (54, "1"), (38, "2"),
                       (555, 3), (600, low.symbol), (623, "1"), (624, "1"),
                       (600, high.symbol), (623, "1"), (624, "2"),
                       (600, "BTC-PERP"), (624, "2"), (687, "0.5"),
                       (126, utc_timestamp(expire)), (20034, WINDOW_MS)])  # fmt: skip
        rfq_id = fields(hf1.app("AI", t131="spread"))["20030"]
        request = mm1.app("R", t131=rfq_id)
        legs = [(t, v) for t, v in request["pairs"] if t in (600, 624, 687, 566)]
        assert [v for t, v in legs if t == 600] == [low.symbol, high.symbol, "BTC-PERP"]
        assert [v for t, v in legs if t == 687] == ["2", "2", "0.5"]
        assert any(t == 566 for t, _ in legs)  # the hedge leg's price
        assert fields(request)["54"] == "1"  # a one-way RFQ shows its side

        def quote(quote_id: str, widen: int) -> None:
            mm1.send("S", [(131, rfq_id), (117, quote_id), (55, "BTC"), (555, 2),
                           (600, low.symbol), (684, px(low, widen)),
                           (600, high.symbol), (684, px(high, -widen))])  # fmt: skip

        quote("mq1", 20)
        first = fields(mm1.app("AI", t117="mq1", t297="0"))["20031"]
        quote("mq2", 10)  # replaces mq1
        assert "replaced" in fields(mm1.app("AI", t117="mq1", t297="17"))["58"]
        second = fields(mm1.app("AI", t117="mq2", t297="0"))["20031"]
        shown = fields(hf1.app("S", t131="spread"))
        assert shown["117"] == second != first and "132" not in shown
        package = 2 * (low.ticks_to_price(low.mark_ticks + 10) - high.ticks_to_price(high.mark_ticks - 10))
        assert Decimal(shown["133"]) == package

        mm1.send("Z", [(131, rfq_id), (117, "mq2"), (298, "1")])
        assert fields(mm1.app("AI", t117="mq2", t297="17"))["20031"] == second
        assert fields(hf1.app("Z", t131="spread"))["117"] == second
        quote("mq3", 15)
        third = fields(mm1.app("AI", t117="mq3", t297="0"))["20031"]
        assert fields(hf1.app("S", t131="spread"))["117"] == third

        hf1.send("AJ", [(693, "pass1"), (694, "6"), (131, "spread"), (55, "BTC")])
        assert "withdrawn" in fields(hf1.app("AI", t131="spread", t297="17"))["58"]
        assert fields(mm1.app("AI", t117="mq3", t297="6"))["20031"] == third
        mm1.send("Z", [(117, "*"), (298, "4")])
        assert fields(mm1.app("AI", t117="*"))["297"] == "9"  # nothing left to cancel
    finally:
        hf1.close()
        mm1.close()


def test_refusals_expiry_and_roles(rfq_venue: tuple[FixVenue, str]) -> None:
    venue, _ = rfq_venue
    (inst,) = options(venue, 1)
    hf1, hf2, mm1 = venue.client("HF1"), venue.client("HF2"), venue.client("MM1")
    try:
        logged_on(hf1, hf2, mm1)
        hf1.send("R", [(131, "bad1"), (146, 1), (55, "BTC-NOPE"), (38, "1")])
        assert fields(hf1.app("AG", t131="bad1"))["658"] == "1"
        many = [(t, v) for n in range(21) for t, v in ((600, f"BTC-X{n}"), (624, "1"))]
        hf1.send("R", [(131, "bad2"), (146, 1), (55, "BTC"), (38, "1"), (555, 21), *many])
        assert fields(hf1.app("AG", t131="bad2"))["658"] == "3"
        hf1.send("R", [(131, "bad3"), (146, 1), (55, inst.symbol), (38, "0.00001")])
        assert fields(hf1.app("AG", t131="bad3"))["658"] == "3"
        hf1.send("R", [(131, "bad4"), (146, 1), (55, inst.symbol), (38, "1"), (1, "HF2")])
        assert fields(hf1.app("AG", t131="bad4"))["658"] == "6"  # not this session's account
        # makers named: HF2's session is no maker, MM1 not named -> nobody asked but the RFQ runs
        minute = utc_timestamp(time.time_ns() + 60 * 10**9)
        hf1.send("R", [(131, "solo"), (146, 1), (55, inst.symbol), (38, "1"), (20034, 100), (126, minute),
                       (453, 1), (448, "MM2"), (452, "35")])  # fmt: skip
        rfq_id = fields(hf1.app("AI", t131="solo", t297="10"))["20030"]
        mm1.send("S", [(131, rfq_id), (117, "nq"), (55, inst.symbol), (133, px(inst, 1))])
        assert fields(mm1.app("AI", t117="nq"))["297"] == "5"  # not invited
        hf2.send("S", [(131, rfq_id), (117, "hq"), (55, inst.symbol), (133, px(inst, 1))])
        assert fields(hf2.app("j"))["380"] == "6"  # not an rfq_maker session
        hf1.send("AJ", [(693, "p"), (694, "6"), (131, "solo"), (55, inst.symbol)])
        hf1.app("AI", t131="solo", t297="17")
        # expiry with no quotes
        expire = time.time_ns() + 500_000_000
        hf1.send("R", [(131, "short"), (146, 1), (55, inst.symbol), (38, "1"), (20034, 100),
                       (126, utc_timestamp(expire))])  # fmt: skip
        hf1.app("AI", t131="short", t297="10")
        assert "expired" in fields(hf1.app("AI", t131="short", t297="7", timeout=5))["58"]
    finally:
        for client in (hf1, hf2, mm1):
            client.close()
