"""Option expiry: the settlement price is the index averaged over the final 30 minutes, every position
cash-settles (payouts sum to zero), the series is delisted; replay and a snapshot mid-window agree."""

from __future__ import annotations

from matching.commands import ClockTick, MarkUpdate, SettlePerpetuals
from matching.events import (
    BalanceChanged,
    InstrumentDelisted,
    OptionsExpired,
    OrderCancelled,
    OrderRejected,
    PositionChanged,
    Trade,
)
from matching.expiry import OptionExpiry
from matching.sequencer import Sequencer
from matching.snapshot import restore, take
from matching.types import BalanceReason, TimeInForce
from settlement.netting import Netting
from tests.matching.harness import CATALOG, PERP, SECOND, T0, Harness, batches_hash, conservation, first, of
from tests.matching.harness import option_spec as base_option

MINUTE = 60 * SECOND
EXPIRY = T0 + 3 * 3600 * SECOND


def harness() -> tuple[Harness, str, str]:
    call = base_option(expiry_ns=EXPIRY)  # strike 100,000
    put = base_option(expiry_ns=EXPIRY, option_type="P", symbol=call.symbol[:-1] + "P")
    h = Harness(specs=[CATALOG.perpetual("BTC"), call, put])
    h.seq.extend(OptionExpiry())
    return h, call.symbol, put.symbol


def index_at(h: Harness, when: int, index_usd: int) -> None:
    h.now = when - 1
    h.do(
        MarkUpdate(underlying="BTC", index_price_micro=index_usd * 1_000_000, marks=((PERP, index_usd * 2),)),
        1,
    )


def test_worked_example_average_of_the_final_30_minutes_settles_and_delists() -> None:
    h, call, put = harness()
    index_at(h, T0 + SECOND, 100_000)
    h.order("B", -1, 10, 900, symbol=call)
    h.order("A", 1, 10, 900, symbol=call, tif=TimeInForce.IOC)  # A long 0.1 call, B short
    h.order("A", -1, 20, 500, symbol=put)
    h.order("C", 1, 20, 500, symbol=put, tif=TimeInForce.IOC)  # C long 0.2 put, A short
    h.order("B", -1, 5, 1200, symbol=call)  # a resting order, cancelled at expiry
    index_at(h, EXPIRY - 40 * MINUTE, 150_000)  # before the window: not in the average
    for minute in range(30):  # an update a second before each minute: 101,000 then 103,000
        index_at(h, EXPIRY - (30 - minute) * MINUTE - SECOND, 101_000 if minute < 15 else 103_000)
    a, b, c = h.cash("A"), h.cash("B"), h.cash("C")
    assert h.seq.next_timer_ns() == EXPIRY - MINUTE  # the last sample, then the expiry
    h.now = EXPIRY - 1
    events = h.do(ClockTick(), 1)
    done = first(events, OptionsExpired)
    assert (done.settlement_price_micro, done.samples, done.series) == (102_000_000_000, 30, 2)
    assert done.positions == 4
    # call: (102,000 - 100,000) x 0.01 BTC = 20 USD a lot; the put expires worthless
    assert h.cash("A") == a + 10 * 20_000_000 and h.cash("B") == b - 10 * 20_000_000 and h.cash("C") == c
    assert sum(e.delta_micro for e in of(events, BalanceChanged)) == 0
    assert {e.reason for e in of(events, BalanceChanged)} == {BalanceReason.OPTION_EXPIRY}
    assert all(p.qty_lots == 0 and p.cost_micro == 0 for p in of(events, PositionChanged))
    assert {e.symbol for e in of(events, InstrumentDelisted)} == {call, put}
    assert len(of(events, OrderCancelled)) == 1
    assert h.position("A", call) == 0 and h.position("C", put) == 0
    late = h.order("A", 1, 1, 900, symbol=call)
    assert of(late, OrderRejected)
    conservation(h.seq)
    assert h.seq.next_timer_ns() == 0  # nothing left to expire


def test_no_update_in_the_window_fixes_at_the_index_in_force_and_replays_equal() -> None:
    h, call, _ = harness()
    index_at(h, T0 + SECOND, 100_000)
    h.order("B", -1, 10, 900, symbol=call)
    h.order("A", 1, 10, 900, symbol=call, tif=TimeInForce.IOC)
    index_at(h, EXPIRY - 31 * MINUTE, 104_000)
    snapshot_at = len(h.records)
    blob = take(h.seq)
    h.now = EXPIRY - 10 * MINUTE
    h.do(ClockTick(), 1)  # the samples of the 20 minutes passed are all taken now, at 104,000
    h.now = EXPIRY + 5 * SECOND
    done = first(h.do(ClockTick(), 1), OptionsExpired)
    assert (done.settlement_price_micro, done.samples) == (104_000_000_000, 30)
    fresh = Sequencer(CATALOG.fee_account)
    fresh.extend(OptionExpiry())
    replayed = [(r.seq, fresh.apply(r)) for r in h.records]
    assert batches_hash(replayed) == h.live_hash()
    restored = restore(blob, None, None, [OptionExpiry()])
    tail = [(r.seq, restored.apply(r)) for r in h.records[snapshot_at:]]
    assert batches_hash(tail) == batches_hash(h.batches[snapshot_at:])


def test_an_unmarked_underlying_waits_instead_of_settling_at_zero() -> None:
    h, call, _ = harness()
    h.now = EXPIRY + SECOND
    events = h.do(ClockTick(), 1)
    assert not of(events, OptionsExpired)
    assert h.seq.market(call).instrument.active  # type: ignore[union-attr]
    assert h.seq.next_timer_ns() == h.now + MINUTE  # a retry in a minute, not a clock tick storm
    index_at(h, EXPIRY + 2 * MINUTE, 99_000)
    h.now = EXPIRY + 3 * MINUTE
    done = first(h.do(ClockTick(), 1), OptionsExpired)
    assert done.settlement_price_micro == 99_000_000_000 and done.samples == 0


def test_expiry_payouts_net_into_a_balanced_settlement_batch() -> None:
    h, call, _ = harness()
    index_at(h, T0 + SECOND, 100_000)
    h.order("B", -1, 10, 900, symbol=call)
    fill = first(h.order("A", 1, 10, 900, symbol=call, tif=TimeInForce.IOC), Trade)
    index_at(h, EXPIRY - 31 * MINUTE, 105_000)  # every sample of the window: 105,000
    h.now = EXPIRY
    payouts = of(h.do(ClockTick(), 1), BalanceChanged)
    assert {p.reason for p in payouts} == {BalanceReason.OPTION_EXPIRY}
    h.do(SettlePerpetuals(reference="cut"))
    netting = Netting()
    netting.feed((r, e) for r, (_, e) in zip(h.records, h.batches, strict=True))
    (batch,) = netting.take()  # NettingError if the payouts broke the zero sum
    deltas = dict(batch.deltas)
    premium = 10 * 900 * h.seq.market(call).instrument.micro_per_tick_lot  # type: ignore[union-attr]
    payout = 10 * 50_000_000  # (105,000 - 100,000) x 0.01 BTC a lot, 10 lots
    assert deltas["A"] == payout - premium - fill.taker_fee_micro
    assert deltas["B"] == premium - payout - fill.maker_fee_micro
    assert deltas[CATALOG.fee_account] == fill.maker_fee_micro + fill.taker_fee_micro
