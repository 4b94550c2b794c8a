"""Price bands, the circuit breaker, manual halts, the kill switch, listing and delisting."""

from __future__ import annotations

from matching.commands import (
    CancelOrder,
    ClockTick,
    DelistInstrument,
    HaltInstrument,
    KillSwitch,
    ListInstrument,
    MarkUpdate,
    ReplaceOrder,
    ResumeInstrument,
    ResumeVenue,
)
from matching.events import (
    CancelRejected,
    InstrumentDelisted,
    InstrumentHalted,
    InstrumentListed,
    InstrumentResumed,
    OrderAccepted,
    OrderCancelled,
    OrderRejected,
    RequestRejected,
    Trade,
    VenueHalted,
    VenueResumed,
)
from matching.reasons import Reason
from tests.matching.harness import CATALOG, SECOND, Harness, first, of, option_spec

BUY, SELL = 1, -1


def test_price_band_rejects_aggressive_fat_fingers_only() -> None:
    h = Harness()
    h.mark(200_000)  # band 5%: buys up to 210,000, sells down to 190,000
    assert of(h.order("A", BUY, 1, 210_000), OrderAccepted)
    assert first(h.order("A", BUY, 1, 210_001), OrderRejected).reason == Reason.PRICE_BAND
    assert first(h.order("A", SELL, 1, 189_999), OrderRejected).reason == Reason.PRICE_BAND
    assert of(h.order("A", SELL, 1, 250_000), OrderAccepted)  # a passive far-away sell is harmless
    assert of(h.order("A", BUY, 1, 150_000), OrderAccepted)


def test_option_band_has_an_absolute_floor() -> None:
    h = Harness([option_spec()])
    symbol = option_spec().symbol  # tick 1 USD; band 50% of 10 ticks is 5, the floor of 100 USD wins
    h.do(MarkUpdate(underlying="BTC", index_price_micro=100_000 * 10**6, marks=((symbol, 10),)))
    assert of(h.order("A", BUY, 1, 110, symbol=symbol), OrderAccepted)
    assert first(h.order("A", BUY, 1, 111, symbol=symbol), OrderRejected).reason == Reason.PRICE_BAND


def test_circuit_breaker_halts_before_the_move_prints_and_lifts_after_cooloff() -> None:
    h = Harness()
    h.order("A", SELL, 1, 200_000)
    h.order("B", BUY, 1, 200_000)  # reference trade
    h.order("A", SELL, 1, 215_000)
    h.order("A", SELL, 1, 225_000)  # more than 10% above 200,000
    events = h.order("B", BUY, 2, 225_000)
    assert [t.price_ticks for t in of(events, Trade)] == [215_000]
    halted = first(events, InstrumentHalted)
    assert halted.reason == Reason.CIRCUIT_BREAKER and halted.until_ns == h.now + 120 * SECOND
    assert first(events, OrderCancelled).reason == Reason.CIRCUIT_BREAKER
    assert first(h.order("B", BUY, 1, 190_000), OrderRejected).reason == Reason.INSTRUMENT_HALTED
    assert first(h.order("A", SELL, 1, 230_000), OrderRejected).reason == Reason.INSTRUMENT_HALTED
    # cancels still work while halted
    assert of(
        h.do(CancelOrder(account="A", client_order_id=h.seq.matcher.orders[4].client_order_id)),
        OrderCancelled,
    )
    assert not of(h.do(ClockTick(), advance_ns=60 * SECOND), InstrumentResumed)
    assert of(h.do(ClockTick(), advance_ns=61 * SECOND), InstrumentResumed)
    assert of(h.order("B", BUY, 1, 199_000), OrderAccepted)


def test_manual_halt_and_resume() -> None:
    h = Harness()
    order_id = first(h.order("A", BUY, 1, 199_000), OrderAccepted).order_id
    assert (
        first(h.do(HaltInstrument(symbol="BTC-PERP", reason="maintenance")), InstrumentHalted).until_ns == 0
    )
    assert first(h.order("A", BUY, 1, 199_000), OrderRejected).reason == Reason.INSTRUMENT_HALTED
    replace = ReplaceOrder(account="A", order_id=order_id, qty_lots=1, price_ticks=198_000)
    assert first(h.do(replace), CancelRejected).reason == Reason.INSTRUMENT_HALTED
    assert not of(h.do(ClockTick(), advance_ns=3600 * SECOND), InstrumentResumed)  # no cool-off: stays halted
    assert of(h.do(ResumeInstrument(symbol="BTC-PERP")), InstrumentResumed)
    assert of(h.order("A", BUY, 1, 199_000), OrderAccepted)
    assert first(h.do(HaltInstrument(symbol="NOPE")), RequestRejected).reason == Reason.UNKNOWN_INSTRUMENT


def test_kill_switch_cancels_everything_and_blocks_until_resumed() -> None:
    h = Harness([CATALOG.perpetual("BTC"), CATALOG.perpetual("ETH")])
    h.order("A", BUY, 1, 199_000)
    h.order("B", SELL, 1, 3_100, symbol="ETH-PERP")
    events = h.do(KillSwitch(reason="incident 42"))
    assert first(events, VenueHalted).text == "incident 42"
    assert [e.reason for e in of(events, OrderCancelled)] == [Reason.KILL_SWITCH] * 2
    assert first(h.order("A", BUY, 1, 199_000), OrderRejected).reason == Reason.VENUE_HALTED
    assert of(h.do(ResumeVenue()), VenueResumed)
    assert of(h.order("A", BUY, 1, 199_000), OrderAccepted)


def test_listing_and_delisting_a_series() -> None:
    spec = option_spec()
    h = Harness([CATALOG.perpetual("BTC")])
    assert first(h.do(ListInstrument(spec=spec)), InstrumentListed).symbol == spec.symbol
    assert first(h.do(ListInstrument(spec=spec)), RequestRejected).reason == Reason.INSTRUMENT_EXISTS
    h.order("A", BUY, 1, 100, symbol=spec.symbol)
    events = h.do(DelistInstrument(symbol=spec.symbol))
    assert first(events, OrderCancelled).reason == Reason.INSTRUMENT_DELISTED
    assert of(events, InstrumentDelisted)
    assert (
        first(h.order("A", BUY, 1, 100, symbol=spec.symbol), OrderRejected).reason
        == Reason.INSTRUMENT_NOT_ACTIVE
    )


def test_a_spec_that_is_not_exact_in_integer_units_is_refused() -> None:
    from decimal import Decimal

    bad = option_spec(symbol="BTC-BAD", tick_size=Decimal("0.0000001"))
    rejected = first(Harness([]).do(ListInstrument(spec=bad)), RequestRejected)
    assert "micro-USDC" in rejected.text
