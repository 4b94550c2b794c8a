"""The portfolio-margin scenario grid of one underlying, built from its parameters in config/risk.toml.

Core: ``spot_steps`` spot moves evenly spaced in [-R, +R] times three volatility moves (unchanged, up,
down), weight 1. Tails: each extended move with vol up, weight R / |move|. Volatility moves scale with
time to expiry, per option:
    up   = vol x (1 + vol_up   x (pivot / max(1, DTE))^p), never below ``vol_up_floor``
    down = vol x max(0, 1 - vol_down x (pivot / max(1, DTE))^p)
with p = ``vol_power_short`` below ``vol_pivot_days`` to expiry and ``vol_power_long`` from there on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from config.risk_params import UnderlyingRisk
from risk.black76 import FloatArray

VOL_SAME, VOL_UP, VOL_DOWN = 0, 1, 2
_VOL_NAMES = {VOL_SAME: "vol =", VOL_UP: "vol up", VOL_DOWN: "vol down"}


@dataclass(frozen=True, slots=True)
class ScenarioGrid:
    """Scenario j: spot moves ``spot_moves[j]`` (a fraction), vol ``vol_moves[j]``, weight ``weights[j]``.

    Scenario 0 is always the base (no move, vol unchanged): its P&L is zero by construction.
    """

    spot_moves: FloatArray
    vol_moves: NDArray[np.int8]
    weights: FloatArray

    @property
    def size(self) -> int:
        return len(self.spot_moves)

    def label(self, j: int) -> str:
        return f"spot {self.spot_moves[j]:+.0%}, {_VOL_NAMES[int(self.vol_moves[j])]}"


def build_grid(p: UnderlyingRisk) -> ScenarioGrid:
    core = np.linspace(-p.spot_range, p.spot_range, p.spot_steps)
    core = np.concatenate(([0.0], core[np.abs(core) > 1e-15]))  # base first, once
    moves: list[float] = []
    vols: list[int] = []
    weights: list[float] = []
    for move in core:
        for vol in (VOL_SAME, VOL_UP, VOL_DOWN):
            moves.append(float(move))
            vols.append(vol)
            weights.append(1.0)
    for move in p.tail_moves:
        moves.append(move)
        vols.append(VOL_UP)
        weights.append(p.spot_range / abs(move))
    return ScenarioGrid(
        np.array(moves, dtype=np.float64), np.array(vols, dtype=np.int8), np.array(weights, dtype=np.float64)
    )


def vol_factors(p: UnderlyingRisk, dte_days: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Multipliers of each option's vol in the up and down scenarios (before the up floor)."""
    scale = p.vol_pivot_days / np.maximum(1.0, dte_days)
    power = np.where(dte_days < p.vol_pivot_days, p.vol_power_short, p.vol_power_long)
    shape = scale**power
    return 1.0 + p.vol_up * shape, np.maximum(0.0, 1.0 - p.vol_down * shape)
