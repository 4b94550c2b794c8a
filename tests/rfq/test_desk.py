"""RFQ auctions on the sequencer: the flow, ties, expiry, declines, replace/cancel, margin, MMP, hedges."""

from __future__ import annotations

import msgspec
import pytest

from matching import snapshot
from matching.commands import MmpReset, MmpSet, RfqCancel, RfqLeg, RfqQuoteCancel
from matching.events import (
    BalanceChanged,
    BlockTrade,
    MmpUpdated,
    QuoteClosed,
    QuoteEntered,
    QuoteRejected,
    RfqAcceptRejected,
    RfqClosed,
    RfqExecuted,
    RfqOpened,
    RfqQuotes,
    RfqRejected,
)
from matching.reasons import Reason
from matching.types import QuoteStatus, RfqStatus
from tests.matching.harness import CATALOG, batches_hash, conservation, first, of
from tests.rfq.harness import MAKERS, MS, PERP, TAKER, VALIDITY, WINDOW, RfqHarness
from venue.wiring import new_sequencer


@pytest.fixture
def h() -> RfqHarness:
    return RfqHarness()


def open_rfq(h: RfqHarness, side: int = 0, **kw: object) -> tuple[int, str]:
    call = h.call()
    opened = first(h.rfq([(call, 1, 10)], side=side, **kw), RfqOpened)
    return opened.rfq_id, call


def quoted(events: list) -> int:
    return int(first(events, QuoteEntered).quote_id)


def test_auction_collects_quotes_then_shows_the_taker_the_best_and_executes_atomically(h: RfqHarness) -> None:
    rfq_id, call = open_rfq(h)
    mark = h.mark_ticks(call)
    q1 = quoted(h.quote("M1", rfq_id, bid=[mark - 20], offer=[mark + 20]))
    q2 = quoted(h.quote("M2", rfq_id, bid=[mark - 10], offer=[mark + 30]))
    q3 = quoted(h.quote("M3", rfq_id, bid=[mark - 30], offer=[mark + 10]))
    assert not of(h.batches[-1][1], RfqQuotes)  # nothing reaches the taker inside the window
    refused = first(h.accept(rfq_id, q3, 1), RfqAcceptRejected)
    assert refused.reason == Reason.RFQ_WINDOW_OPEN

    board = first(h.wait(WINDOW), RfqQuotes)
    assert board.account == TAKER
    assert (board.best_bid_quote_id, board.best_offer_quote_id) == (q2, q3)
    assert [q.quote_id for q in board.quotes] == [q1, q2, q3]
    per_tick_lot = h.seq.instruments[call].micro_per_tick_lot
    assert board.best_offer_micro == (mark + 10) * 10 * per_tick_lot

    taker_cash = h.seq.ledger.accounts[TAKER].collateral
    events = h.accept(rfq_id, q3, 1, client_order_id="take-1")
    trade = first(events, BlockTrade)
    assert (trade.symbol, trade.qty_lots, trade.side, trade.price_ticks) == (call, 10, 1, mark + 10)
    assert (trade.taker_account, trade.maker_account) == (TAKER, "M3")
    done = first(events, RfqExecuted)
    assert (done.price_micro, done.best_micro, done.quotes_on_side, done.client_order_id) == (
        board.best_offer_micro,
        board.best_offer_micro,
        3,
        "take-1",
    )
    closed = {c.quote_id: c.status for c in of(events, QuoteClosed)}
    assert closed == {q3: QuoteStatus.ACCEPTED, q1: QuoteStatus.RFQ_CLOSED, q2: QuoteStatus.RFQ_CLOSED}
    assert first(events, RfqClosed).status == RfqStatus.FILLED
    assert (h.qty(TAKER, call), h.qty("M3", call)) == (10, -10)
    premium = (mark + 10) * 10 * per_tick_lot
    assert h.seq.ledger.accounts[TAKER].collateral == taker_cash - premium - trade.taker_fee_micro
    fee_income = [b for b in of(events, BalanceChanged) if b.account == h.seq.ledger.fee_account.id]
    assert fee_income[0].delta_micro == trade.taker_fee_micro + trade.maker_fee_micro
    conservation(h.seq)
    # the RFQ is gone: accepting again is refused
    assert first(h.accept(rfq_id, q2, -1), RfqAcceptRejected).reason == Reason.RFQ_CLOSED


def test_equal_prices_the_earlier_quote_is_best(h: RfqHarness) -> None:
    rfq_id, call = open_rfq(h)
    mark = h.mark_ticks(call)
    early = quoted(h.quote("M1", rfq_id, bid=[mark - 5], offer=[mark + 5]))
    quoted(h.quote("M2", rfq_id, bid=[mark - 5], offer=[mark + 5]))
    board = first(h.wait(WINDOW), RfqQuotes)
    assert board.best_bid_quote_id == board.best_offer_quote_id == early
    # a replace is a new quote: it loses its place
    replaced = quoted(h.quote("M1", rfq_id, bid=[mark - 5], offer=[mark + 5]))
    board = first(h.batches[-1][1], RfqQuotes)
    assert board.best_bid_quote_id != replaced and board.best_bid_quote_id != early


def test_expiry_with_no_quotes_and_accept_after_expiry(h: RfqHarness) -> None:
    rfq_id, call = open_rfq(h)
    board = first(h.wait(WINDOW), RfqQuotes)
    assert board.quotes == () and board.best_bid_micro is None and board.best_offer_micro is None
    mark = h.mark_ticks(call)
    q = quoted(h.quote("M1", rfq_id, offer=[mark + 5]))
    closed = first(h.wait(VALIDITY), RfqClosed)
    assert (closed.rfq_id, closed.status) == (rfq_id, RfqStatus.EXPIRED)
    assert first(h.batches[-1][1], QuoteClosed).status == QuoteStatus.EXPIRED
    assert first(h.accept(rfq_id, q, 1), RfqAcceptRejected).reason == Reason.RFQ_CLOSED
    late = first(h.quote("M2", rfq_id, offer=[mark]), QuoteRejected)
    assert late.reason == Reason.RFQ_CLOSED


def test_taker_declines(h: RfqHarness) -> None:
    rfq_id, call = open_rfq(h)
    q = quoted(h.quote("M1", rfq_id, bid=[h.mark_ticks(call) - 5]))
    h.wait(WINDOW)
    assert (
        first(h.do(RfqCancel(account="M1", rfq_id=rfq_id)), RfqAcceptRejected).reason == Reason.RFQ_NOT_FOUND
    )
    events = h.do(RfqCancel(account=TAKER, rfq_id=rfq_id))
    assert first(events, QuoteClosed).status == QuoteStatus.RFQ_CLOSED
    assert first(events, RfqClosed).status == RfqStatus.CANCELLED
    assert first(h.accept(rfq_id, q, -1), RfqAcceptRejected).reason == Reason.RFQ_CLOSED
    assert h.qty(TAKER, call) == 0


def test_maker_replaces_and_cancels_and_a_quote_expires_on_its_own(h: RfqHarness) -> None:
    rfq_id, call = open_rfq(h)
    mark = h.mark_ticks(call)
    first_q = quoted(h.quote("M1", rfq_id, offer=[mark + 20]))
    events = h.quote("M1", rfq_id, offer=[mark + 10])
    replaced = first(events, QuoteClosed)
    assert (replaced.quote_id, replaced.status) == (first_q, QuoteStatus.REPLACED)
    second_q = first(events, QuoteEntered)
    assert second_q.replaced_quote_id == first_q
    short = quoted(h.quote("M2", rfq_id, offer=[mark + 5], valid_ns=WINDOW + 50 * MS))
    board = first(h.wait(WINDOW), RfqQuotes)
    assert [q.quote_id for q in board.quotes] == [second_q.quote_id, short]
    # M2's quote lapses at its own validity; the taker's view follows
    events = h.wait(60 * MS)
    assert first(events, QuoteClosed).status == QuoteStatus.EXPIRED
    assert [q.quote_id for q in first(events, RfqQuotes).quotes] == [second_q.quote_id]
    events = h.do(RfqQuoteCancel(account="M1", rfq_id=rfq_id))
    assert first(events, QuoteClosed).status == QuoteStatus.CANCELLED
    assert first(events, RfqQuotes).quotes == ()
    assert first(h.accept(rfq_id, second_q.quote_id, 1), RfqAcceptRejected).reason == Reason.QUOTE_NOT_FOUND
    missing = first(h.do(RfqQuoteCancel(account="M1", rfq_id=rfq_id)), QuoteRejected)
    assert missing.reason == Reason.QUOTE_NOT_FOUND


def test_margin_failure_on_either_side() -> None:
    h = RfqHarness(funds={TAKER: 10**12, "M1": 10**12, "M2": 1_000_000, "POOR": 1_000_000})
    call = h.call()
    mark = h.mark_ticks(call)
    rfq_id = first(h.rfq([(call, 1, 50)], side=1), RfqOpened).rfq_id
    rich = quoted(h.quote("M1", rfq_id, offer=[mark + 10]))
    poor = quoted(h.quote("M2", rfq_id, offer=[mark + 5]))  # short calls it cannot carry
    h.wait(WINDOW)
    events = h.accept(rfq_id, poor, 1)
    assert first(events, RfqAcceptRejected).reason == Reason.COUNTERPARTY_MARGIN
    closed = first(events, QuoteClosed)
    assert (closed.quote_id, closed.status, closed.reason) == (
        poor,
        QuoteStatus.REJECTED,
        Reason.INSUFFICIENT_MARGIN,
    )
    assert [q.quote_id for q in first(events, RfqQuotes).quotes] == [rich]
    assert not of(events, BlockTrade) and h.qty(TAKER, call) == 0
    first(h.accept(rfq_id, rich, 1), RfqExecuted)

    # the taker's own margin
    rfq_id = first(h.rfq([(call, 1, 50)], side=1, account="POOR"), RfqOpened).rfq_id
    q = quoted(h.quote("M1", rfq_id, offer=[mark + 10]))
    h.wait(WINDOW)
    assert (
        first(h.accept(rfq_id, q, 1, account="POOR"), RfqAcceptRejected).reason == Reason.INSUFFICIENT_MARGIN
    )
    conservation(h.seq)


def test_market_maker_protection_pulls_quotes_refuses_new_ones_until_reset_or_cool_off(h: RfqHarness) -> None:
    call = h.call()
    mark = h.mark_ticks(call)
    coin = 1_000_000_000
    lots_per_coin = h.seq.instruments[call].lot_den // h.seq.instruments[call].lot_num
    set_event = first(
        h.do(MmpSet(account="M1", underlying="BTC", interval_ns=10**10, qty_limit=2 * coin, delta_limit=0)),
        MmpUpdated,
    )
    assert not set_event.triggered
    # M1 quotes two RFQs; one of them fills for 2 coins: the limit is hit, the other quote is pulled
    a = first(h.rfq([(call, 1, 2 * lots_per_coin)], side=1), RfqOpened).rfq_id
    b = first(h.rfq([(call, 1, lots_per_coin)], side=1), RfqOpened).rfq_id
    qa = quoted(h.quote("M1", a, offer=[mark + 5]))
    qb = quoted(h.quote("M1", b, offer=[mark + 5]))
    h.wait(WINDOW)
    events = h.accept(a, qa, 1)
    trip = next(e for e in of(events, MmpUpdated) if e.triggered)
    assert (trip.account, trip.traded_qty, trip.frozen_until_ns) == ("M1", 2 * coin, -1)
    pulled = next(c for c in of(events, QuoteClosed) if c.quote_id == qb)
    assert (pulled.status, pulled.reason) == (QuoteStatus.PULLED, Reason.MMP_FROZEN)
    assert first(h.quote("M1", b, offer=[mark + 5]), QuoteRejected).reason == Reason.MMP_FROZEN
    first(h.quote("M2", b, offer=[mark + 5]), QuoteEntered)  # other makers are not affected
    # reset by the maker
    assert not first(h.do(MmpReset(account="M1", underlying="BTC")), MmpUpdated).frozen_until_ns
    first(h.quote("M1", b, offer=[mark + 5]), QuoteEntered)

    # with a cool-off it thaws by itself; a delta limit trips it too
    h.do(
        MmpSet(
            account="M2",
            underlying="BTC",
            interval_ns=10**10,
            qty_limit=0,
            delta_limit=coin // 10,
            frozen_ns=500 * MS,
        )
    )
    c = first(h.rfq([(call, 1, lots_per_coin)], side=1), RfqOpened).rfq_id
    qc = quoted(h.quote("M2", c, offer=[mark + 5]))
    h.wait(WINDOW)
    trip = next(e for e in of(h.accept(c, qc, 1), MmpUpdated) if e.triggered)
    assert trip.traded_delta < 0 and trip.frozen_until_ns == h.now + 500 * MS
    assert first(h.quote("M2", b, offer=[mark + 5]), QuoteRejected).reason == Reason.MMP_FROZEN
    thawed = first(h.wait(500 * MS), MmpUpdated)
    assert thawed.frozen_until_ns == 0 and not thawed.triggered


def test_multi_leg_with_hedge_executes_every_leg_at_once(h: RfqHarness) -> None:
    call, put = h.call(110_000), h.put(90_000)
    perp_mark = h.mark_ticks(PERP)
    opened = first(
        h.rfq([(call, 1, 10), (put, -1, 10)], side=-1, hedge=RfqLeg(PERP, -1, 5)),
        RfqOpened,
    )
    assert opened.hedge is not None and opened.hedge_price_ticks == perp_mark
    c_mark, p_mark = h.mark_ticks(call), h.mark_ticks(put)
    q = quoted(h.quote("M1", opened.rfq_id, bid=[c_mark - 5, p_mark + 5]))
    h.wait(WINDOW)
    events = h.accept(
        opened.rfq_id, q, -1
    )  # the taker sells the package: sells calls, buys puts, buys the perp
    trades = of(events, BlockTrade)
    assert [(t.symbol, t.side, t.qty_lots, t.price_ticks) for t in trades] == [
        (call, -1, 10, c_mark - 5),
        (put, 1, 10, p_mark + 5),
        (PERP, 1, 5, perp_mark),
    ]
    assert len({t.trade_id for t in trades}) == 3
    assert (h.qty(TAKER, call), h.qty(TAKER, put), h.qty(TAKER, PERP)) == (-10, 10, 5)
    assert (h.qty("M1", call), h.qty("M1", put), h.qty("M1", PERP)) == (10, -10, -5)
    assert first(events, RfqExecuted).legs == 3
    conservation(h.seq)


def test_requests_and_quotes_refused_with_reasons(h: RfqHarness) -> None:
    call = h.call()
    mark = h.mark_ticks(call)
    too_many = [(s.symbol, 1, 10) for s in h.specs if s.option_type][:21]
    assert first(h.rfq(too_many), RfqRejected).reason == Reason.RFQ_TOO_MANY_LEGS
    assert first(h.rfq([]), RfqRejected).reason == Reason.RFQ_TOO_MANY_LEGS
    assert first(h.rfq([("BTC-1JAN27-1-C", 1, 10)]), RfqRejected).reason == Reason.UNKNOWN_INSTRUMENT
    assert first(h.rfq([(call, 1, 10**12)]), RfqRejected).reason == Reason.QTY_ABOVE_MAX
    assert first(h.rfq([(call, 1, 10), (call, -1, 10)]), RfqRejected).reason == Reason.RFQ_INVALID
    assert first(h.rfq([(call, 1, 10)], window_ns=MS), RfqRejected).reason == Reason.RFQ_INVALID_WINDOW
    assert first(h.rfq([(call, 1, 10)], account="nobody"), RfqRejected).reason == Reason.UNKNOWN_ACCOUNT
    first(h.rfq([(call, 1, 10)], clid="dup"), RfqOpened)
    assert first(h.rfq([(call, 1, 10)], clid="dup"), RfqRejected).reason == Reason.RFQ_DUPLICATE_ID

    per = h.seq.instruments[call].micro_per_tick_lot * 10
    rfq_id = first(
        h.rfq([(call, 1, 10)], counterparties=("M1", "M2"), max_price_micro=(mark + 10) * per), RfqOpened
    ).rfq_id
    assert first(h.quote("M3", rfq_id, offer=[mark]), QuoteRejected).reason == Reason.RFQ_NOT_PERMITTED
    assert first(h.quote(TAKER, rfq_id, offer=[mark]), QuoteRejected).reason == Reason.RFQ_NOT_PERMITTED
    assert (
        first(h.quote("M1", rfq_id, offer=[mark + 11]), QuoteRejected).reason
        == Reason.QUOTE_PRICE_OUTSIDE_LIMITS
    )
    assert first(h.quote("M1", rfq_id, offer=[mark * 10]), QuoteRejected).reason == Reason.PRICE_BAND
    assert first(h.quote("M1", rfq_id, offer=[mark, mark]), QuoteRejected).reason == Reason.RFQ_INVALID
    assert (
        first(h.quote("M1", rfq_id, bid=[mark + 2], offer=[mark]), QuoteRejected).reason
        == Reason.INVALID_PRICE
    )
    assert first(h.quote("M1", 999, offer=[mark]), QuoteRejected).reason == Reason.RFQ_NOT_FOUND
    sell_only = first(h.rfq([(call, 1, 10)], side=-1), RfqOpened).rfq_id
    assert first(h.quote("M1", sell_only, offer=[mark]), QuoteRejected).reason == Reason.QUOTE_SIDE_NOT_QUOTED
    q = quoted(h.quote("M1", sell_only, bid=[mark - 5]))
    h.wait(WINDOW)
    assert first(h.accept(sell_only, q, 1), RfqAcceptRejected).reason == Reason.RFQ_INVALID
    worse = h.accept(sell_only, q, -1, limit_price_micro=(mark - 4) * per)
    assert first(worse, RfqAcceptRejected).reason == Reason.QUOTE_WORSE_THAN_LIMIT
    assert first(h.accept(sell_only, q, -1, account="M2"), RfqAcceptRejected).reason == Reason.RFQ_NOT_FOUND


def test_the_taker_never_sees_a_maker_and_makers_never_see_each_other(h: RfqHarness) -> None:
    rfq_id, call = open_rfq(h)
    mark = h.mark_ticks(call)
    for i, maker in enumerate(MAKERS):
        events = h.quote(maker, rfq_id, bid=[mark - 5 - i], offer=[mark + 5 + i])
        entered = first(events, QuoteEntered)
        assert entered.account == maker  # the maker's own acknowledgement, routed to it alone
    board = first(h.wait(WINDOW), RfqQuotes)
    encoded = msgspec.json.encode(board)
    for maker in MAKERS:
        assert maker.encode() not in encoded


def test_replay_and_snapshot_mid_auction_equal_live(h: RfqHarness) -> None:
    rfq_id, call = open_rfq(h)
    mark = h.mark_ticks(call)
    h.do(
        MmpSet(
            account="M2",
            underlying="BTC",
            interval_ns=10**10,
            qty_limit=10**9,
            delta_limit=0,
            frozen_ns=10**9,
        )
    )
    h.quote("M1", rfq_id, bid=[mark - 5], offer=[mark + 5])
    blob = snapshot.take(h.seq)
    cut = len(h.records)
    q2 = quoted(h.quote("M2", rfq_id, bid=[mark - 4], offer=[mark + 4]))
    h.wait(WINDOW)
    h.accept(rfq_id, q2, 1)
    h.wait(VALIDITY)
    assert h.replay_hash() == h.live_hash()
    fresh = new_sequencer(CATALOG)
    restored = snapshot.restore(blob, fresh.risk, fresh.liquidation_terms, fresh.extensions)
    after = [(r.seq, restored.apply(r)) for r in h.records[cut:]]
    assert batches_hash(after) == batches_hash(h.batches[cut:])
