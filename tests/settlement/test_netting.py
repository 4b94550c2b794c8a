"""Netting: batches cut at SettlePerpetuals sum to zero, equal the ledger, and replay exactly."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from matching.commands import CommandRecord, Deposit, SettlePerpetuals, Withdraw
from matching.events import BalanceChanged, Event, PerpetualsSettled, RequestRejected, Trade
from matching.reasons import Reason
from matching.sequencer import Sequencer
from matching.types import BalanceReason, TimeInForce
from settlement.netting import NetBatch, Netting
from tests.matching.harness import CATALOG, PERP, Harness, conservation, first, of, option_spec

MARK = 200_000  # ticks of 0.5 USD: 100,000 USD
MICRO_PER_TICK_LOT = 500  # 0.5 USD x 0.001 BTC


def cash_moved(h: Harness, since: int = 0) -> dict[str, int]:
    """Cash each account gained from trading (deposits and withdrawals left out), from the events."""
    moved: dict[str, int] = {}
    for seq, events in h.batches:
        if seq <= since:
            continue
        for e in events:
            if isinstance(e, BalanceChanged) and e.reason not in (
                BalanceReason.DEPOSIT,
                BalanceReason.WITHDRAWAL,
            ):
                moved[e.account] = moved.get(e.account, 0) + e.delta_micro
    return {a: d for a, d in moved.items() if d}


def equity(h: Harness, account: str) -> int:
    """Collateral plus perpetual P&L at the mark (the options of these tests are flat)."""
    acc = h.seq.ledger.accounts[account]
    total = acc.collateral
    for pos in acc.positions.values():
        inst = pos.instrument
        if pos.qty and not inst.is_option:
            total += pos.qty * inst.mark_ticks * inst.micro_per_tick_lot - pos.cost
    return total


def net(h: Harness) -> list[NetBatch]:
    netting = Netting()
    netting.feed((r, events) for r, (_, events) in zip(h.records, h.batches, strict=True))
    return netting.take()


def test_worked_example_perp_profit_fees_and_an_option_premium() -> None:
    h = Harness(specs=[CATALOG.perpetual("BTC"), option_spec()])
    h.mark(MARK)
    option = option_spec().symbol
    h.order("C", -1, 1000, MARK)  # C offers 1 BTC
    fill = first(h.order("A", 1, 1000, MARK, tif=TimeInForce.IOC), Trade)
    h.order("B", -1, 10, 900, symbol=option)
    premium = first(h.order("A", 1, 10, 900, symbol=option, tif=TimeInForce.IOC), Trade)
    h.do(Withdraw(account="B", amount_micro=1_000_000, reference="w1"))  # on chain by itself
    h.mark(MARK + 2_000)  # +1,000 USD for A's 1 BTC
    settled = h.do(SettlePerpetuals(reference="batch-1"))
    assert first(settled, PerpetualsSettled).positions == 2  # A long, C short
    conservation(h.seq)

    (batch,) = net(h)
    deltas = dict(batch.deltas)
    assert batch.batch_id == 1 and batch.reference == "batch-1" and batch.trades == 2
    assert sum(deltas.values()) == 0
    option_inst = h.seq.market(option).instrument  # type: ignore[union-attr]
    paid = 10 * 900 * option_inst.micro_per_tick_lot
    gain = 1000 * 2_000 * MICRO_PER_TICK_LOT
    assert gain == 1_000_000_000
    assert deltas["A"] == gain - fill.taker_fee_micro - paid - premium.taker_fee_micro
    assert deltas["C"] == -gain - fill.maker_fee_micro
    assert deltas["B"] == paid - premium.maker_fee_micro
    assert deltas[CATALOG.fee_account] == sum(t.maker_fee_micro + t.taker_fee_micro for t in (fill, premium))
    assert deltas == cash_moved(h)


def test_settling_refused_without_a_mark_and_harmless_when_nothing_moved() -> None:
    h = Harness()
    h.order("C", -1, 100, MARK)
    h.order("A", 1, 100, MARK, tif=TimeInForce.IOC)
    refused = h.do(SettlePerpetuals(reference="early"))
    assert first(refused, RequestRejected).reason == Reason.NO_MARK
    assert not of(refused, BalanceChanged)
    h.mark(MARK)
    h.do(SettlePerpetuals(reference="b1"))
    again = h.do(SettlePerpetuals(reference="b2"))  # marks unchanged: nothing moves
    assert first(again, PerpetualsSettled).accounts == 0 and not of(again, BalanceChanged)
    assert [b.deltas for b in net(h)][1] == ()


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=0, max_value=2**32))
def test_random_streams_every_batch_sums_to_zero_equity_unchanged_replay_equal(seed: int) -> None:
    rng = random.Random(seed)
    h = Harness(funds={a: 10**13 for a in "ABCD"})
    mark = MARK
    h.mark(mark)
    cuts = 0
    for step in range(rng.randint(20, 120)):
        roll = rng.random()
        account = rng.choice("ABCD")
        if roll < 0.45:
            h.order(account, rng.choice((1, -1)), rng.randint(1, 500), mark + rng.randint(-40, 40))
        elif roll < 0.75:
            h.order(account, rng.choice((1, -1)), rng.randint(1, 500), mark + rng.choice((-60, 60)),
                    tif=TimeInForce.IOC)  # fmt: skip
        elif roll < 0.85:
            mark += rng.randint(-300, 300)
            h.mark(mark)
        elif roll < 0.9:
            h.do(Deposit(account=account, amount_micro=rng.randint(1, 10**9), reference=f"d{step}"))
        else:
            before = {a: equity(h, a) for a in h.seq.ledger.accounts}
            h.do(SettlePerpetuals(reference=f"cut-{cuts}"))
            cuts += 1
            assert {a: equity(h, a) for a in h.seq.ledger.accounts} == before
        conservation(h.seq)
    h.do(SettlePerpetuals(reference="last"))
    batches = net(h)  # NettingError if any batch does not sum to zero
    assert [b.batch_id for b in batches] == list(range(1, cuts + 2))
    totals: dict[str, int] = {}
    for batch in batches:
        assert sum(d for _, d in batch.deltas) == 0
        for account, delta in batch.deltas:
            totals[account] = totals.get(account, 0) + delta
    assert {a: d for a, d in totals.items() if d} == cash_moved(h)
    # replay from the journal alone, and resuming from a saved state halfway, give the same batches
    fresh = Sequencer(CATALOG.fee_account)
    replayed = [(r, fresh.apply(r)) for r in h.records]
    assert _batches(replayed) == batches
    half = len(replayed) // 2
    first_half = Netting()
    first_half.feed(replayed[:half])
    resumed = Netting(first_half.state)
    resumed.feed(replayed)  # overlapping records are skipped
    assert first_half.take() + resumed.take() == batches


def _batches(records: list[tuple[CommandRecord, list[Event]]]) -> list[NetBatch]:
    netting = Netting()
    netting.feed(records)
    return netting.take()


def test_positions_untouched_by_the_cut() -> None:
    h = Harness()
    h.mark(MARK)
    h.order("C", -1, 300, MARK)
    h.order("A", 1, 300, MARK, tif=TimeInForce.IOC)
    h.mark(MARK - 1_000)
    h.do(SettlePerpetuals(reference="b1"))
    assert h.position("A") == 300 and h.position("C") == -300
    pos = h.seq.ledger.accounts["A"].positions[h.seq.market(PERP).instrument.id]  # type: ignore[union-attr]
    assert pos.cost == 300 * (MARK - 1_000) * MICRO_PER_TICK_LOT
    assert pos.realised == -300 * 1_000 * MICRO_PER_TICK_LOT
