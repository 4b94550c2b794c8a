"""Liquidation levels: the nearest index levels below and above the current one at which an account's
equity falls to its maintenance margin, by full revaluation along the spot axis (``risk.spot_ladder``).

The spot axis between ``level_range`` (fractions, e.g. -95% .. +900%) is scanned on a log grid of
``level_points`` points; each sign change of equity - MM nearest to today is refined with
``scipy.optimize.brentq``. A crossing narrower than one grid step can be missed: the grid is in config.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from matching.ledger import Account
from risk.engine import MarginEngine
from risk.spot_ladder import equity_and_maintenance, ladder


@dataclass(frozen=True, slots=True)
class LiquidationLevels:
    """Index levels (USD) and their distance from today's index (fraction); None: none within range."""

    underlying: str
    index: float
    below: float | None
    above: float | None
    below_pct: float | None
    above_pct: float | None
    already_below: bool  # equity < MM at today's index


def liquidation_levels(engine: MarginEngine, account: Account, underlying: str) -> LiquidationLevels | None:
    """Levels for one account and underlying; None if the underlying has no marks yet."""
    lad = ladder(engine, account, underlying)
    book = engine.books.get(underlying)
    if lad is None or book is None:
        return None
    lo, hi = engine.params.liquidation.level_range
    points = engine.params.liquidation.level_points
    logs = np.linspace(np.log1p(lo), np.log1p(hi), points)
    moves = np.unique(np.concatenate((np.expm1(logs), [0.0])))
    equity, mm = equity_and_maintenance(lad, book, moves)
    gap = equity - mm
    today = int(np.flatnonzero(moves == 0.0)[0])

    def f(x: float) -> float:
        e, m = equity_and_maintenance(lad, book, np.array([x]))
        return float(e[0] - m[0])

    def nearest(direction: int) -> float | None:
        i = today
        while 0 <= i + direction < len(moves):
            j = i + direction
            if (gap[i] >= 0) != (gap[j] >= 0):
                a, b = sorted((float(moves[i]), float(moves[j])))
                return float(brentq(f, a, b, xtol=1e-7, rtol=1e-10))
            i = j
        return None

    below, above = nearest(-1), nearest(+1)
    index = lad.index
    return LiquidationLevels(
        underlying=underlying,
        index=index,
        below=None if below is None else index * (1 + below),
        above=None if above is None else index * (1 + above),
        below_pct=below,
        above_pct=above,
        already_below=bool(gap[today] < 0),
    )
