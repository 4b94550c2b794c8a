"""Each order type and time in force, on BTC-PERP (tick 0.5 USD, lot 0.001 BTC; 200,000 ticks = 100k USD)."""

from __future__ import annotations

from matching.commands import ClockTick, NewOrder
from matching.events import (
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderReduced,
    OrderRejected,
    OrderTriggered,
    Trade,
)
from matching.reasons import Reason
from matching.types import OrderType, TimeInForce, TriggerBy
from tests.matching.harness import SECOND, Harness, first, of

BUY, SELL = 1, -1


def test_gtc_limit_rests_then_fills_at_maker_price() -> None:
    h = Harness()
    h.order("A", SELL, 5, 200_010)
    events = h.order("B", BUY, 3, 200_020)
    trade = first(events, Trade)
    assert (trade.price_ticks, trade.qty_lots, trade.aggressor_side) == (200_010, 3, BUY)
    assert (trade.maker_leaves_qty, trade.taker_leaves_qty, trade.taker_cum_qty) == (2, 0, 3)
    assert h.book() == ([], [(200_010, 2, 1)])


def test_ioc_remainder_is_cancelled_not_rested() -> None:
    h = Harness()
    h.order("A", SELL, 2, 200_000)
    events = h.order("B", BUY, 5, 200_000, tif=TimeInForce.IOC)
    assert first(events, Trade).qty_lots == 2
    cancelled = first(events, OrderCancelled)
    assert (cancelled.leaves_qty, cancelled.cum_qty, cancelled.reason) == (3, 2, Reason.IOC_REMAINDER)
    assert h.book() == ([], [])


def test_fok_fills_fully_or_is_rejected_without_touching_the_book() -> None:
    h = Harness()
    h.order("A", SELL, 2, 200_000)
    h.order("A", SELL, 2, 200_002)
    rejected = h.order("B", BUY, 5, 200_002, tif=TimeInForce.FOK)
    assert first(rejected, OrderRejected).reason == Reason.FOK_NOT_FILLED
    assert h.book() == ([], [(200_000, 2, 1), (200_002, 2, 1)])
    filled = h.order("B", BUY, 4, 200_002, tif=TimeInForce.FOK)
    assert [t.qty_lots for t in of(filled, Trade)] == [2, 2]
    assert h.book() == ([], [])


def test_gtd_expires_at_its_time_even_with_no_other_traffic() -> None:
    h = Harness()
    expire = h.now + 10 * SECOND
    events = h.order("A", BUY, 1, 199_000, tif=TimeInForce.GTD, expire_ns=expire)
    order_id = first(events, OrderAccepted).order_id
    assert h.do(ClockTick(), advance_ns=SECOND) == []
    expired = first(h.do(ClockTick(), advance_ns=10 * SECOND), OrderExpired)
    assert (expired.order_id, expired.leaves_qty) == (order_id, 1)
    assert h.book() == ([], [])


def test_gtd_in_the_past_is_rejected() -> None:
    h = Harness()
    events = h.order("A", BUY, 1, 199_000, tif=TimeInForce.GTD, expire_ns=h.now)
    assert first(events, OrderRejected).reason == Reason.INVALID_EXPIRE_TIME


def test_market_order_never_fills_beyond_its_protection_band() -> None:
    h = Harness()
    h.mark(200_000)  # BTC-PERP protection 2%: a market buy fills up to 204,000 ticks
    h.order("A", SELL, 1, 201_000)
    h.order("A", SELL, 1, 204_000)
    h.order("A", SELL, 5, 204_001)
    events = h.order("B", BUY, 4, order_type=OrderType.MARKET, tif=TimeInForce.IOC)
    assert [(t.price_ticks, t.qty_lots) for t in of(events, Trade)] == [(201_000, 1), (204_000, 1)]
    cancelled = first(events, OrderCancelled)
    assert (cancelled.leaves_qty, cancelled.reason) == (2, Reason.MARKET_PROTECTION)
    assert h.book()[1] == [(204_001, 5, 1)]


def test_market_order_without_mark_is_protected_from_the_touch() -> None:
    h = Harness()
    h.order("A", BUY, 1, 200_000)
    h.order("A", BUY, 1, 195_000)  # more than 2% below the touch
    events = h.order("B", SELL, 2, order_type=OrderType.MARKET, tif=TimeInForce.IOC)
    assert [t.price_ticks for t in of(events, Trade)] == [200_000]
    assert first(events, OrderCancelled).reason == Reason.MARKET_PROTECTION


def test_market_order_on_an_empty_book_without_mark_is_rejected() -> None:
    h = Harness()
    events = h.order("B", BUY, 1, order_type=OrderType.MARKET, tif=TimeInForce.IOC)
    assert first(events, OrderRejected).reason == Reason.NO_LIQUIDITY


def test_market_order_must_not_be_gtc() -> None:
    h = Harness()
    events = h.order("B", BUY, 1, order_type=OrderType.MARKET, tif=TimeInForce.GTC)
    assert first(events, OrderRejected).reason == Reason.INVALID_ORDER


def test_post_only_is_rejected_when_it_would_take() -> None:
    h = Harness()
    h.order("A", SELL, 1, 200_000)
    assert (
        first(h.order("B", BUY, 1, 200_000, post_only=True), OrderRejected).reason
        == Reason.POST_ONLY_WOULD_TAKE
    )
    assert of(h.order("B", BUY, 1, 199_999, post_only=True), OrderAccepted)


def test_reduce_only_is_resized_to_the_position_and_rejected_when_flat() -> None:
    h = Harness()
    assert first(h.order("B", SELL, 1, 200_000, reduce_only=True), OrderRejected).reason == (
        Reason.REDUCE_ONLY_WOULD_INCREASE
    )
    h.order("A", SELL, 3, 200_000)
    h.order("B", BUY, 3, 200_000)  # B is long 3
    assert first(h.order("B", BUY, 1, 199_000, reduce_only=True), OrderRejected).reason == (
        Reason.REDUCE_ONLY_WOULD_INCREASE
    )
    accepted = first(h.order("B", SELL, 10, 201_000, reduce_only=True), OrderAccepted)
    assert accepted.qty_lots == 3
    # the room is used up by the resting reduce-only order
    assert first(h.order("B", SELL, 1, 202_000, reduce_only=True), OrderRejected).reason == (
        Reason.REDUCE_ONLY_WOULD_INCREASE
    )


def test_resting_reduce_only_shrinks_when_the_position_shrinks_elsewhere() -> None:
    h = Harness()
    h.order("A", SELL, 3, 200_000)
    h.order("B", BUY, 3, 200_000)  # B long 3
    h.order("B", SELL, 3, 201_000, reduce_only=True)
    h.order("C", BUY, 2, 199_000)
    events = h.order("B", SELL, 2, 199_000)  # B closes 2 elsewhere: 1 lot of position left
    reduced = first(events, OrderReduced)
    assert (reduced.leaves_qty, reduced.reason) == (1, Reason.REDUCE_ONLY_REDUCED)
    assert h.book()[1] == [(201_000, 1, 1)]
    events = h.order("C", BUY, 1, 199_000)
    events = h.order("B", SELL, 1, 199_000)  # flat: the reduce-only order must go
    assert first(events, OrderCancelled).reason == Reason.REDUCE_ONLY_REDUCED
    assert h.book()[1] == []


def test_stop_market_triggers_on_mark_and_trades() -> None:
    h = Harness()
    h.mark(200_000)
    h.order("A", SELL, 5, 201_000)
    accepted = first(
        h.order(
            "B",
            BUY,
            2,
            order_type=OrderType.STOP_MARKET,
            tif=TimeInForce.IOC,
            stop_price_ticks=200_500,
            trigger_by=TriggerBy.MARK,
        ),
        OrderAccepted,
    )
    assert h.book()[0] == []  # held off the book
    assert not of(h.mark(200_400), OrderTriggered)
    events = h.mark(200_600)
    triggered = first(events, OrderTriggered)
    assert (triggered.order_id, triggered.trigger_price_ticks) == (accepted.order_id, 200_600)
    assert first(events, Trade).qty_lots == 2


def test_stop_limit_triggers_on_last_trade_and_rests() -> None:
    h = Harness()
    h.order("A", SELL, 1, 200_000)
    h.order("C", BUY, 1, 200_000)  # last trade 200,000
    h.order(
        "B",
        SELL,
        2,
        199_000,
        order_type=OrderType.STOP_LIMIT,
        stop_price_ticks=199_500,
        trigger_by=TriggerBy.LAST,
    )
    h.order("A", BUY, 1, 199_400)
    events = h.order("C", SELL, 1, 199_400)  # last trade 199,400 <= stop 199,500
    assert of(events, OrderTriggered)
    assert h.book() == ([], [(199_000, 2, 1)])


def test_stop_cascade_triggers_in_priority_order_without_recursion() -> None:
    h = Harness()
    h.order("A", SELL, 1, 200_000)
    h.order("C", BUY, 1, 200_000)
    for i in range(50):  # sell stops each one tick lower, each sells into the bid ladder below
        h.order(
            "B",
            SELL,
            1,
            order_type=OrderType.STOP_MARKET,
            tif=TimeInForce.IOC,
            stop_price_ticks=199_990 - i,
            trigger_by=TriggerBy.LAST,
        )
    for i in range(60):
        h.order("A", BUY, 1, 199_995 - i)
    events = h.order("C", SELL, 6, 199_990)  # sweeps 199,995..199,990: the first stop is due
    triggered = of(events, OrderTriggered)
    assert len(triggered) == 50  # each stop's sale moves the last price down to the next stop
    assert [t.order_id for t in triggered] == sorted(t.order_id for t in triggered)
    assert len(of(events, Trade)) == 56


def test_stop_that_would_trigger_at_once_is_rejected() -> None:
    h = Harness()
    h.mark(200_000)
    events = h.order(
        "B", BUY, 1, order_type=OrderType.STOP_MARKET, tif=TimeInForce.IOC, stop_price_ticks=199_000
    )
    assert first(events, OrderRejected).reason == Reason.INVALID_STOP_PRICE


def test_validation_rejects_each_bad_field() -> None:
    h = Harness()
    cases = [
        (dict(symbol="NOPE-PERP"), Reason.UNKNOWN_INSTRUMENT),
        (dict(account="nobody"), Reason.UNKNOWN_ACCOUNT),
        (dict(qty_lots=0), Reason.INVALID_QTY_LOT),
        (dict(qty_lots=500_001), Reason.QTY_ABOVE_MAX),
        (dict(price_ticks=0), Reason.INVALID_PRICE),
        (dict(price_ticks=-5), Reason.INVALID_PRICE),
        (dict(side=0), Reason.INVALID_ORDER),
        (dict(tif=9), Reason.INVALID_ORDER),
        (dict(order_type=9), Reason.INVALID_ORDER),
        (dict(post_only=True, tif=TimeInForce.IOC), Reason.INVALID_ORDER),
        (dict(qty_lots=400_000, price_ticks=300_000), Reason.NOTIONAL_ABOVE_MAX),
    ]
    for overrides, reason in cases:
        fields = dict(
            account="A", client_order_id="x", symbol="BTC-PERP", side=1, qty_lots=1, price_ticks=199_000
        )
        fields.update(overrides)
        events = h.do(NewOrder(**fields))  # type: ignore[arg-type]
        assert [type(e) for e in events] == [OrderRejected], (overrides, events)
        assert events[0].reason == reason, (overrides, events[0])
    assert h.book() == ([], [])


def test_duplicate_client_order_id_among_live_orders() -> None:
    h = Harness()
    h.order("A", BUY, 1, 199_000, clid="same")
    assert (
        first(h.order("A", BUY, 1, 199_001, clid="same"), OrderRejected).reason
        == Reason.DUPLICATE_CLIENT_ORDER_ID
    )
    assert of(h.order("B", BUY, 1, 199_001, clid="same"), OrderAccepted)  # other account: fine
    h.order("C", SELL, 2, 199_000)  # fills B at 199,001, then A's "same": the id is free again
    assert of(h.order("A", BUY, 1, 199_000, clid="same"), OrderAccepted)
