"""Cancel, cancel-replace priority rules, mass cancel, cancel-on-disconnect, and self-trade prevention."""

from __future__ import annotations

import pytest

from matching.commands import CancelOrder, MassCancel, ReplaceOrder, SetStpMode
from matching.events import (
    BookDelta,
    CancelRejected,
    MassCancelDone,
    OrderAccepted,
    OrderCancelled,
    OrderReduced,
    OrderReplaced,
    RequestRejected,
    StpModeSet,
    Trade,
)
from matching.reasons import Reason
from matching.types import CancelRequest, MassCancelScope, StpMode
from tests.matching.harness import CATALOG, Harness, first, of

BUY, SELL = 1, -1


def resting_ids(h: Harness, side: int, price: int) -> list[int]:
    market = h.seq.market("BTC-PERP")
    assert market is not None
    return [o.order_id for o in market.book.side(side).orders_at(price)]


def test_cancel_by_order_id_and_by_client_order_id() -> None:
    h = Harness()
    a = first(h.order("A", BUY, 1, 199_000, clid="a1"), OrderAccepted).order_id
    h.order("A", BUY, 2, 199_000, clid="a2")
    events = h.do(CancelOrder(account="A", order_id=a))
    assert first(events, OrderCancelled).reason == Reason.USER_CANCEL
    assert first(events, BookDelta).qty_lots == 2
    assert first(h.do(CancelOrder(account="A", client_order_id="a2")), OrderCancelled).client_order_id == "a2"
    assert h.book() == ([], [])


def test_cancel_rejects_unknown_foreign_and_finished_orders() -> None:
    h = Harness()
    a = first(h.order("A", BUY, 1, 199_000), OrderAccepted).order_id
    foreign = first(h.do(CancelOrder(account="B", order_id=a)), CancelRejected)
    assert foreign.reason == Reason.ORDER_NOT_FOUND  # never reveals another account's order
    assert h.book()[0] == [(199_000, 1, 1)]  # another account cannot touch it
    assert (
        first(h.do(CancelOrder(account="A", order_id=999)), CancelRejected).reason == Reason.ORDER_NOT_FOUND
    )
    h.order("B", SELL, 1, 199_000)
    late = first(h.do(CancelOrder(account="A", order_id=a)), CancelRejected)
    assert (late.reason, late.request) == (Reason.TOO_LATE_TO_CANCEL, CancelRequest.CANCEL)
    assert (
        first(h.do(CancelOrder(account="nobody", order_id=a)), CancelRejected).reason
        == Reason.UNKNOWN_ACCOUNT
    )


def test_replace_down_in_size_at_same_price_keeps_priority() -> None:
    h = Harness()
    first_id = first(h.order("A", BUY, 5, 199_000, clid="a1"), OrderAccepted).order_id
    second_id = first(h.order("B", BUY, 5, 199_000), OrderAccepted).order_id
    events = h.do(
        ReplaceOrder(account="A", order_id=first_id, client_order_id="a1-r", qty_lots=3, price_ticks=199_000)
    )
    replaced = first(events, OrderReplaced)
    assert (replaced.priority_kept, replaced.leaves_qty, replaced.orig_client_order_id) == (True, 3, "a1")
    assert resting_ids(h, BUY, 199_000) == [first_id, second_id]
    assert h.book()[0] == [(199_000, 8, 2)]


@pytest.mark.parametrize(("qty", "price"), [(6, 199_000), (3, 199_001), (5, 198_999)])
def test_replace_up_in_size_or_new_price_loses_priority(qty: int, price: int) -> None:
    h = Harness()
    first_id = first(h.order("A", BUY, 5, 199_000), OrderAccepted).order_id
    h.order("B", BUY, 5, 199_000)
    h.order("B", BUY, 5, price)
    replaced = first(
        h.do(ReplaceOrder(account="A", order_id=first_id, qty_lots=qty, price_ticks=price)), OrderReplaced
    )
    assert not replaced.priority_kept
    assert resting_ids(h, BUY, price)[-1] == first_id


def test_replace_that_crosses_trades_and_counts_filled_quantity() -> None:
    h = Harness()
    order_id = first(h.order("A", BUY, 5, 199_000), OrderAccepted).order_id
    h.order("B", SELL, 2, 199_000)  # A filled 2, leaves 3
    h.order("C", SELL, 4, 199_500)
    events = h.do(ReplaceOrder(account="A", order_id=order_id, qty_lots=8, price_ticks=199_500))
    assert first(events, OrderReplaced).leaves_qty == 6
    trade = first(events, Trade)
    assert (trade.taker_order_id, trade.qty_lots, trade.taker_cum_qty, trade.taker_leaves_qty) == (
        order_id,
        4,
        6,
        2,
    )
    assert h.book()[0] == [(199_500, 2, 1)]


def test_replace_rejections_leave_the_order_alone() -> None:
    h = Harness()
    order_id = first(h.order("A", BUY, 5, 199_000, post_only=True), OrderAccepted).order_id
    h.order("B", SELL, 2, 199_000)  # filled 2
    h.order("C", SELL, 1, 199_500)
    cases = [
        (dict(qty_lots=2, price_ticks=199_000), Reason.REPLACE_QTY_BELOW_FILLED),
        (dict(qty_lots=5, price_ticks=199_500), Reason.POST_ONLY_WOULD_TAKE),
        (dict(qty_lots=5, price_ticks=0), Reason.INVALID_PRICE),
    ]
    for fields, reason in cases:
        rejected = first(h.do(ReplaceOrder(account="A", order_id=order_id, **fields)), CancelRejected)  # type: ignore[arg-type]
        assert (rejected.reason, rejected.request) == (reason, CancelRequest.REPLACE)
    assert h.book()[0] == [(199_000, 3, 1)]
    missing = first(
        h.do(ReplaceOrder(account="A", order_id=12345, qty_lots=1, price_ticks=1)), CancelRejected
    )
    assert missing.reason == Reason.ORDER_NOT_FOUND


def test_mass_cancel_filters_by_account_side_and_instrument() -> None:
    option = CATALOG.options("BTC", __import__("datetime").date(2026, 11, 22))[0]
    h = Harness([CATALOG.perpetual("BTC"), CATALOG.perpetual("ETH"), option])
    h.order("A", BUY, 1, 199_000)
    h.order("A", SELL, 1, 201_000)
    h.order("A", BUY, 1, 3_000, symbol="ETH-PERP")
    h.order("B", BUY, 1, 199_000)
    events = h.do(MassCancel(account="A", side=BUY, underlying="BTC", request_id="m1"))
    assert [e.order_id for e in of(events, OrderCancelled)] == [1]
    assert first(events, MassCancelDone) == MassCancelDone("A", "m1", 1)
    events = h.do(MassCancel(account="A"))
    assert len(of(events, OrderCancelled)) == 2
    assert all(e.reason == Reason.MASS_CANCEL for e in of(events, OrderCancelled))
    assert h.book() == ([(199_000, 1, 1)], [])  # B's order is untouched


def test_cancel_on_disconnect_uses_its_own_reason() -> None:
    h = Harness()
    h.order("A", BUY, 1, 199_000)
    events = h.do(MassCancel(account="A", scope=MassCancelScope.DISCONNECT))
    assert first(events, OrderCancelled).reason == Reason.CANCEL_ON_DISCONNECT


# -- self-trade prevention ------------------------------------------------------------------------


def stp_setup(mode: int, resting_qty: int, incoming_qty: int) -> tuple[Harness, list]:
    h = Harness()
    h.order("B", SELL, 1, 200_000)  # someone else's order first in line
    h.order("A", SELL, resting_qty, 200_000)  # A's own resting order
    h.order("C", SELL, 10, 200_001)
    events = h.order("A", BUY, incoming_qty, 200_001, stp_mode=mode)
    return h, events


def test_stp_cancel_newest_cancels_the_incoming_remainder() -> None:
    h, events = stp_setup(StpMode.CANCEL_NEWEST, 5, 4)
    assert [t.qty_lots for t in of(events, Trade)] == [1]  # traded with B, then met itself
    cancelled = first(events, OrderCancelled)
    assert (cancelled.order_id, cancelled.leaves_qty, cancelled.reason) == (4, 3, Reason.SELF_TRADE)
    assert h.book()[1] == [(200_000, 5, 1), (200_001, 10, 1)]


def test_stp_cancel_oldest_cancels_the_resting_order_and_continues() -> None:
    h, events = stp_setup(StpMode.CANCEL_OLDEST, 5, 4)
    assert [(t.price_ticks, t.qty_lots) for t in of(events, Trade)] == [(200_000, 1), (200_001, 3)]
    assert first(events, OrderCancelled).order_id == 2
    assert h.book()[1] == [(200_001, 7, 1)]


def test_stp_cancel_both() -> None:
    h, events = stp_setup(StpMode.CANCEL_BOTH, 5, 4)
    assert sorted(e.order_id for e in of(events, OrderCancelled)) == [2, 4]
    assert h.book()[1] == [(200_001, 10, 1)]


def test_stp_decrement_and_cancel_smaller_resting() -> None:
    _h, events = stp_setup(StpMode.DECREMENT_AND_CANCEL, 2, 6)
    assert first(events, OrderCancelled).order_id == 2  # the smaller (resting, 2) is cancelled
    reduced = first(events, OrderReduced)
    assert (reduced.order_id, reduced.qty_lots, reduced.leaves_qty) == (
        4,
        4,
        3,
    )  # 6 - 2 decremented, 1 filled
    assert [t.qty_lots for t in of(events, Trade)] == [1, 3]


def test_stp_decrement_and_cancel_smaller_incoming() -> None:
    h, events = stp_setup(StpMode.DECREMENT_AND_CANCEL, 5, 3)
    reduced = first(events, OrderReduced)
    assert (reduced.order_id, reduced.leaves_qty) == (2, 3)  # resting 5 shrinks by the incoming's 2
    assert first(events, OrderCancelled).order_id == 4
    assert h.book()[1] == [(200_000, 3, 1), (200_001, 10, 1)]


def test_account_default_stp_mode() -> None:
    h = Harness()
    assert first(h.do(SetStpMode(account="A", stp_mode=StpMode.CANCEL_OLDEST)), StpModeSet).stp_mode == 2
    h.order("A", SELL, 1, 200_000)
    events = h.order("A", BUY, 1, 200_000)
    assert first(events, OrderCancelled).order_id == 1
    assert first(h.do(SetStpMode(account="A", stp_mode=99)), RequestRejected).reason == Reason.INVALID_ORDER
    assert first(h.do(SetStpMode(account="zz", stp_mode=1)), RequestRejected).reason == Reason.UNKNOWN_ACCOUNT
