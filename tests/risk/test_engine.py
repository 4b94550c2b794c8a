"""The margin engine inside the sequencer: worked examples, incremental = rebuild, replay, liquidation."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching import snapshot
from matching.commands import Liquidate, SetMarginMode, Withdraw
from matching.event_hash import EventHasher
from matching.events import (
    BalanceChanged,
    LiquidationEnded,
    LiquidationStarted,
    LiquidationStep,
    OrderCancelled,
    OrderRejected,
    PositionTransferred,
    RequestRejected,
    Trade,
)
from matching.reasons import Reason
from matching.types import BalanceReason, LiquidationStatus
from risk import black76
from risk.engine import MarginEngine
from risk.scenarios import VOL_DOWN, VOL_UP, vol_factors
from risk.surface import NS_PER_YEAR
from tests.matching.harness import conservation, of
from tests.risk.harness import PARAMS, PERP, TERMS, RiskHarness

MICRO = 1_000_000


def sell_call(h: RiskHarness, seller: str, qty: int, strike: int = 100_000) -> str:
    symbol = h.symbol(strike)
    price = h.mark_ticks(symbol)
    h.order("MM", symbol, 1, qty, price)
    events = h.order(seller, symbol, -1, qty, price)
    assert of(events, Trade), events
    return symbol


def test_orders_that_add_risk_wait_for_the_first_mark() -> None:
    h = RiskHarness()
    rejected = of(h.order("A", h.symbol(100_000), -1, 10, 500), OrderRejected)
    assert rejected and rejected[0].reason == Reason.NO_MARK


def test_portfolio_margin_of_a_short_call_matches_a_direct_computation() -> None:
    h = RiskHarness()
    h.mark(95_000.0, atm_vol=0.5)
    sell_call(h, "A", 100)  # 1 BTC
    book = h.engine.books["BTC"]
    got = book.breakdown(h.engine.index["A"])
    # Recompute the worst weighted loss from the Black-76 kernel and the grid definition.
    surface = book.surface
    assert surface is not None
    inst = h.seq.market(h.symbol(100_000)).instrument  # type: ignore[union-attr]
    k, expiry, p = 100_000.0, inst.expiry_ns, PARAMS.underlying("BTC")
    t = (expiry - surface.time_ns) / NS_PER_YEAR
    fwd = surface.forward(expiry)
    base_vol = surface.vols([k], [expiry]).vol[0]
    base = black76.price(fwd, k, t, 0.0, base_vol, True)
    up, down = (float(x[0]) for x in vol_factors(p, np.array([t * 365])))
    worst = 0.0
    for move, vol_move, weight in zip(
        book.grid.spot_moves, book.grid.vol_moves, book.grid.weights, strict=True
    ):
        v = surface.vols([k], [expiry], float(move)).vol[0]
        v = max(v * up, p.vol_up_floor) if vol_move == VOL_UP else v * down if vol_move == VOL_DOWN else v
        pnl = -(black76.price(fwd * (1 + move), k, t, 0.0, v, True) - base)  # short 1 coin
        worst = max(worst, -weight * pnl)
    assert abs(got.worst_loss - worst * MICRO) <= 2  # one rounding per lot value, then a ceiling
    assert got.short_minimum == round(p.short_option_min * 95_000 * MICRO)
    _, im, mm = h.state("A")
    assert im == got.risk_part and mm == math.ceil(PARAMS.maintenance_factor * got.risk_part)


def test_standard_margin_of_a_short_call_follows_the_rule() -> None:
    h = RiskHarness(portfolio=False)
    h.mark(95_000.0)
    symbol = sell_call(h, "A", 100, strike=105_000)
    mark = h.mark_ticks(symbol)
    otm = (105_000 - 95_000) / 95_000
    std = PARAMS.standard
    expected_im = math.ceil(max(std.short_option_im - otm, std.short_option_im_floor) * 95_000 * MICRO)
    expected_mm = math.ceil(std.short_option_mm * 95_000 * MICRO)
    _, im, mm = h.state("A")
    assert im == expected_im + mark * MICRO
    assert mm == expected_mm + mark * MICRO


def test_an_order_beyond_available_margin_is_rejected_and_a_reducing_one_passes() -> None:
    h = RiskHarness(funds={"A": 20_000 * MICRO, "MM": 10**13})
    h.mark(95_000.0)
    symbol = h.symbol(100_000)
    price = h.mark_ticks(symbol)
    h.order("MM", symbol, 1, 1000, price)
    rejected = of(h.order("A", symbol, -1, 500, price), OrderRejected)  # 5 BTC short: far beyond 20k
    assert rejected and rejected[0].reason == Reason.INSUFFICIENT_MARGIN
    assert of(h.order("A", symbol, -1, 100, price), Trade)
    h.order("MM", symbol, -1, 1000, price + 5)
    assert of(h.order("A", symbol, 1, 50, price + 5), Trade)  # buying back needs no margin


def test_withdrawals_keep_initial_margin_covered() -> None:
    h = RiskHarness(funds={"A": 30_000 * MICRO, "MM": 10**13})
    h.mark(95_000.0)
    sell_call(h, "A", 100)
    equity, im, _ = h.state("A")
    too_much = of(h.do(Withdraw(account="A", amount_micro=equity - im + 1, reference="w1")), RequestRejected)
    assert too_much and too_much[0].reason == Reason.INSUFFICIENT_FUNDS
    ok = of(h.do(Withdraw(account="A", amount_micro=equity - im, reference="w2")), BalanceChanged)
    assert ok and ok[0].reason == BalanceReason.WITHDRAWAL


def test_switching_to_standard_margin_is_refused_when_it_would_breach_initial_margin() -> None:
    h = RiskHarness(funds={"A": 19_000 * MICRO, "MM": 10**13})
    h.mark(95_000.0)
    sell_call(h, "A", 100, strike=90_000)  # PM IM ~ 17.3k; standard IM 15% x 95k + mark ~ 19.8k
    rejected = of(h.do(SetMarginMode(account="A", portfolio=False)), RequestRejected)
    assert rejected and rejected[0].reason == Reason.INSUFFICIENT_MARGIN
    assert "A" in h.engine.portfolio


trades = st.lists(
    st.tuples(
        st.sampled_from(["A", "B"]),
        st.sampled_from([90_000, 95_000, 100_000, 105_000]),
        st.sampled_from(["C", "P"]),
        st.sampled_from([0, 1]),
        st.sampled_from([1, -1]),
        st.integers(1, 60),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trades, st.lists(st.floats(85_000, 110_000), min_size=1, max_size=3))
def test_incremental_aggregates_equal_a_full_rebuild_and_replay_is_exact(
    fills: list[tuple[str, int, str, int, int, int]], indices: list[float]
) -> None:
    h = RiskHarness(funds={"A": 10**12, "B": 10**12, "MM": 10**14})
    h.mark(95_000.0)
    for i, (account, strike, kind, expiry, side, qty) in enumerate(fills):
        symbol = h.symbol(strike, kind, expiry)
        price = h.mark_ticks(symbol)
        h.order("MM", symbol, -side, qty, price)
        h.order(account, symbol, side, qty, price)
        h.order("MM", PERP, side, qty * 10, h.mark_ticks(PERP))
        h.order(account, PERP, -side, qty * 10, h.mark_ticks(PERP))
        if i < len(indices):
            h.mark(indices[i])
    book = h.engine.books["BTC"]
    book.parts(len(h.engine.accounts))  # the risk parts fills left stale
    n_accounts = len(h.engine.accounts)
    vectors = [list(v) for v in book.vecs[:n_accounts]]
    incremental = {
        n: getattr(book, n).copy()
        for n in ("delta", "exp_delta", "abs_exp", "short", "mtm", "std_im", "risk_part")
    }
    book.rebuild()
    assert vectors == book.vecs[:n_accounts] == book.vec[:n_accounts].astype(float).tolist()
    for name, arr in incremental.items():
        n = len(h.engine.accounts)
        assert np.array_equal(arr[:n], getattr(book, name)[:n]), name
    conservation(h.seq)
    assert h.live_hash() == h.replay_hash()


def test_a_snapshot_restores_the_engine_exactly() -> None:
    h = RiskHarness()
    h.mark(95_000.0)
    sell_call(h, "A", 40)
    sell_call(h, "B", 30, strike=90_000)
    blob = snapshot.take(h.seq)
    cut = len(h.records)
    h.mark(97_000.0)
    sell_call(h, "A", 20, strike=105_000)
    restored = snapshot.restore(blob, MarginEngine(PARAMS), TERMS)
    hasher_live, hasher_restored = EventHasher(), EventHasher()
    for (seq, events), record in zip(h.batches[cut:], h.records[cut:], strict=True):
        hasher_live.update(seq, events)
        hasher_restored.update(record.seq, restored.apply(record))
    assert hasher_live.hexdigest() == hasher_restored.hexdigest()
    for account in ("A", "B", "MM"):
        assert restored.risk.margin_state(restored.ledger.accounts[account]) == h.state(account)


def liquidation_setup() -> tuple[RiskHarness, str]:
    h = RiskHarness(funds={"A": 30_000 * MICRO, "MM": 10**13, "LP": 10**13})
    h.mark(95_000.0)
    symbol = sell_call(h, "A", 100)
    h.order("A", symbol, -1, 10, h.mark_ticks(symbol) * 3)  # a resting offer the liquidation must cancel
    return h, symbol


def test_liquidation_cancels_orders_and_reduces_through_the_book_until_maintenance_is_met() -> None:
    h, symbol = liquidation_setup()
    minute = 61 * 1_000_000_000  # past the circuit breaker's window: the price may move that far
    h.mark(105_000.0, advance_ns=minute)
    assert not of(h.batches[-1][1], LiquidationStarted)
    h.order("LP", symbol, -1, 200, h.mark_ticks(symbol))  # liquidity for the buy-back
    events = h.mark(116_000.0, advance_ns=minute)
    started = of(events, LiquidationStarted)
    assert started and started[0].account == "A" and started[0].equity_micro < started[0].maintenance_micro
    assert [c.reason for c in of(events, OrderCancelled) if c.account == "A"] == [Reason.LIQUIDATION]
    steps = of(events, LiquidationStep)
    assert steps and all(s.filled_lots > 0 and s.symbol == symbol for s in steps)
    fees = [b for b in of(events, BalanceChanged) if b.reason == BalanceReason.LIQUIDATION_FEE]
    assert sum(b.delta_micro for b in fees if b.account == "insurance") == sum(s.fee_micro for s in steps) > 0
    ended = of(events, LiquidationEnded)[0]
    assert ended.status == LiquidationStatus.RESTORED
    equity, _, mm = h.state("A")
    assert equity >= mm and ended.equity_micro == equity
    assert h.seq.ledger.accounts["insurance"].collateral == ended.insurance_fund_micro
    conservation(h.seq)
    assert h.live_hash() == h.replay_hash()


def test_an_insolvent_account_is_closed_out_against_the_insurance_fund() -> None:
    h, _ = liquidation_setup()
    events = h.mark(200_000.0)  # the call is worth ~100k against 30k of collateral; no offers
    assert of(events, LiquidationStarted)
    transferred = of(events, PositionTransferred)
    assert transferred and transferred[0].to_account == "insurance" and transferred[0].qty_lots == -100
    ended = of(events, LiquidationEnded)[0]
    assert ended.status == LiquidationStatus.CLOSED_OUT
    accounts = h.seq.ledger.accounts
    assert accounts["A"].collateral == 0 and all(p.qty == 0 for p in accounts["A"].positions.values())
    # The fund had nothing: it took over a position worth more than the account's collateral.
    fund_equity = h.state("insurance")[0]
    assert ended.shortfall_micro == -fund_equity > 0
    assert ended.insurance_fund_micro == accounts["insurance"].collateral
    # The fund is under water but never liquidated by the monitor.
    assert not of(h.mark(210_000.0), LiquidationStarted)
    conservation(h.seq)
    assert h.live_hash() == h.replay_hash()


def test_liquidate_command_is_refused_for_a_healthy_account() -> None:
    h, _ = liquidation_setup()
    rejected = of(h.do(Liquidate(account="A")), RequestRejected)
    assert rejected and rejected[0].reason == Reason.NOT_BELOW_MAINTENANCE
