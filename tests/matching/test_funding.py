"""Perpetual funding: one integer payment per lot for every holder, so the payments sum to zero; netted
into the settlement batch like any other cash move."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from matching.commands import ApplyFunding, SettlePerpetuals
from matching.events import BalanceChanged, FundingApplied, RequestRejected
from matching.reasons import Reason
from matching.types import BalanceReason, TimeInForce
from settlement.netting import Netting
from tests.matching.harness import PERP, Harness, conservation, first, of, option_spec

MARK = 200_000  # ticks of 0.5 USD


def test_worked_example_longs_pay_shorts_at_the_index() -> None:
    h = Harness()
    h.mark(MARK)  # index 100,000 USD
    h.order("C", -1, 1000, MARK)
    h.order("A", 1, 1000, MARK, tif=TimeInForce.IOC)  # A long 1 BTC, C short
    a, c = h.cash("A"), h.cash("C")
    events = h.do(ApplyFunding(symbol=PERP, rate_ppb=100_000))  # 0.01 % for the interval
    applied = first(events, FundingApplied)
    assert (applied.per_lot_micro, applied.accounts, applied.index_price_micro) == (
        10_000,
        2,
        100_000_000_000,
    )
    assert h.cash("A") == a - 10_000_000 and h.cash("C") == c + 10_000_000  # 10 USD for 1 BTC
    moves = of(events, BalanceChanged)
    assert {m.reason for m in moves} == {BalanceReason.FUNDING} and sum(m.delta_micro for m in moves) == 0
    h.do(ApplyFunding(symbol=PERP, rate_ppb=-250_000))  # negative: shorts pay longs
    assert h.cash("A") == a - 10_000_000 + 25_000_000
    conservation(h.seq)


def test_refusals() -> None:
    h = Harness(specs=[option_spec()])  # no perpetual listed
    assert first(h.do(ApplyFunding(symbol=PERP, rate_ppb=1)), RequestRejected).reason == (
        Reason.UNKNOWN_INSTRUMENT
    )
    option = option_spec().symbol
    assert first(h.do(ApplyFunding(symbol=option, rate_ppb=1)), RequestRejected).reason == (
        Reason.UNKNOWN_INSTRUMENT
    )
    p = Harness()
    assert first(p.do(ApplyFunding(symbol=PERP, rate_ppb=1)), RequestRejected).reason == Reason.NO_MARK
    p.mark(MARK)
    too_big = p.do(ApplyFunding(symbol=PERP, rate_ppb=1_000_000_001))
    assert first(too_big, RequestRejected).reason == Reason.INVALID_AMOUNT


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from("ABCD"), st.integers(1, 400)), min_size=1, max_size=12),
    st.integers(-5_000_000, 5_000_000),
)
def test_payments_sum_to_zero_and_net_into_a_balanced_batch(fills: list[tuple[str, int]], rate: int) -> None:
    h = Harness(funds={acc: 10**13 for acc in "ABCDM"})
    h.mark(MARK)
    for n, (account, lots) in enumerate(fills):
        side = 1 if n % 2 else -1
        h.order("M", -side, lots, MARK)
        h.order(account, side, lots, MARK, tif=TimeInForce.IOC)
    events = h.do(ApplyFunding(symbol=PERP, rate_ppb=rate))
    assert sum(m.delta_micro for m in of(events, BalanceChanged)) == 0
    conservation(h.seq)
    h.do(SettlePerpetuals(reference="cut"))
    netting = Netting()
    netting.feed((r, e) for r, (_, e) in zip(h.records, h.batches, strict=True))
    (batch,) = netting.take()  # NettingError if the funding broke the zero sum
    assert sum(d for _, d in batch.deltas) == 0
