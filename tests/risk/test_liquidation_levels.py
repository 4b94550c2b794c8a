"""Liquidation levels against the engine: the level found is where the sequencer starts liquidating."""

from __future__ import annotations

import numpy as np
import pytest

from matching.events import LiquidationStarted
from risk.liquidation_levels import liquidation_levels
from risk.spot_ladder import equity_and_maintenance, ladder
from tests.matching.harness import of
from tests.risk.harness import RiskHarness
from tests.risk.test_engine import sell_call

MICRO = 1_000_000


def short_call_account(portfolio: bool = True) -> RiskHarness:
    h = RiskHarness(funds={"A": 30_000 * MICRO, "B": 10**10, "MM": 10**13}, portfolio=portfolio)
    h.mark(95_000.0)
    sell_call(h, "A", 100)
    return h


@pytest.mark.parametrize("portfolio", [True, False])
def test_the_ladder_at_today_s_index_agrees_with_the_engine(portfolio: bool) -> None:
    h = short_call_account(portfolio)
    account = h.seq.ledger.accounts["A"]
    lad = ladder(h.engine, account, "BTC")
    assert lad is not None
    equity, mm = equity_and_maintenance(lad, h.engine.books["BTC"], np.array([0.0]))
    engine_equity, _, engine_mm = h.state("A")
    assert equity[0] * MICRO == pytest.approx(engine_equity, abs=0.5 * MICRO)  # marks are whole ticks
    # Per-lot rounding in the engine (portfolio); standard margin adds the mark, a whole tick.
    assert mm[0] * MICRO == pytest.approx(engine_mm, abs=100 if portfolio else 0.5 * MICRO)


@pytest.mark.parametrize("portfolio", [True, False])
def test_the_level_above_is_where_the_sequencer_liquidates(portfolio: bool) -> None:
    h = short_call_account(portfolio)
    levels = liquidation_levels(h.engine, h.seq.ledger.accounts["A"], "BTC")
    assert levels is not None and levels.above is not None and not levels.already_below
    assert levels.below is None  # a short call only loses when the index rises
    assert levels.above_pct == pytest.approx(levels.above / 95_000.0 - 1)
    # Marks the index just short of the level (the smiles unchanged in moneyness): no liquidation.
    assert not of(h.mark(levels.above * 0.997), LiquidationStarted)
    assert of(h.mark(levels.above * 1.003), LiquidationStarted)


def test_a_flat_account_has_no_level_within_range() -> None:
    h = short_call_account()
    levels = liquidation_levels(h.engine, h.seq.ledger.accounts["B"], "BTC")
    assert levels is not None and levels.above is None and levels.below is None
