"""Liquidation levels: the nearest index levels below and above the current one at which an account's
equity falls to its maintenance margin, by full revaluation along the spot axis (``risk.spot_ladder``).

The spot axis between ``level_range`` (fractions, e.g. -95% .. +900%) is scanned at ``level_points``
points, half on each side of today, spaced quadratically in log-spot: dense near today (about 1% apart
next to it) and sparse in the tails (about 30% apart at +900%), where a level matters least. The sign
change of equity - MM nearest to today on each side is refined with ``scipy.optimize.brentq``. A band
narrower than the local grid step can be missed; the grid is in config.
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
    side = np.linspace(0.0, 1.0, points // 2 + 1)[1:] ** 2
    down = np.expm1(np.log1p(lo) * side)  # today outwards
    up = np.expm1(np.log1p(hi) * side)

    def f(x: float) -> float:
        e, m = equity_and_maintenance(lad, book, np.array([x]))
        return float(e[0] - m[0])

    # The inner half of each side first: most accounts that have a level have it there, and the outer
    # half (the far tails) is only priced for a side that has not crossed yet.
    inner = len(side) // 2
    equity, mm = equity_and_maintenance(lad, book, np.concatenate(([0.0], down[:inner], up[:inner])))
    gap_today = float(equity[0] - mm[0])
    gaps = {
        -1: list(equity[1 : inner + 1] - mm[1 : inner + 1]),
        1: list(equity[inner + 1 :] - mm[inner + 1 :]),
    }
    points_of = {-1: down, 1: up}

    def nearest(direction: int) -> float | None:
        moves, gap = points_of[direction], gaps[direction]
        if not any((g >= 0) != (gap_today >= 0) for g in gap):
            e, m = equity_and_maintenance(lad, book, moves[inner:])
            gap.extend(e - m)
        previous_move, previous_gap = 0.0, gap_today
        for move, g in zip(moves, gap, strict=False):
            if (g >= 0) != (previous_gap >= 0):
                a, b = sorted((previous_move, float(move)))
                return float(brentq(f, a, b, xtol=1e-7, rtol=1e-10))
            previous_move, previous_gap = float(move), g
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
        already_below=gap_today < 0,
    )
