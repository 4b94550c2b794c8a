"""Revalue every listed instrument of one underlying under every scenario, in one vectorised pass.

The result is in integers per lot (micro-USDC for money, nano-coins for delta), rounded once here:
account aggregates are then integer sums of quantity x per-lot value, exact and independent of the
order they were summed in, so the incremental path (a fill adds one row) and a full rebuild (after a
snapshot restore) agree to the last unit, and replay stays exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from config.risk_params import UnderlyingRisk
from matching.instruments import Instrument
from risk import black76
from risk.black76 import FloatArray, IvFlag
from risk.scenarios import VOL_DOWN, VOL_UP, ScenarioGrid, vol_factors
from risk.surface import NS_PER_YEAR, VolSurface

IntArray = NDArray[np.int64]
MICRO = 1_000_000
NANO = 1_000_000_000
NS_PER_DAY = 86_400 * 1_000_000_000

# Why an option's vol is not straight from the surface (bit flags, reported to risk officers).
VOL_EXTRAPOLATED = 1
VOL_FROM_MARK = 2  # no smile covers it: vol implied from its mark
VOL_DEFAULT = 4  # no smile and no usable mark: the configured default vol
IV_FAILED = 8  # the mark could not be inverted to a vol


@dataclass(slots=True)
class InstrumentTable:
    """Static columns of the instruments of one underlying, one row each, in the order they were added."""

    instruments: list[Instrument] = field(default_factory=list)
    rows: dict[int, int] = field(default_factory=dict)  # instrument id -> row

    def add(self, inst: Instrument) -> int:
        row = self.rows.get(inst.id)
        if row is None:
            row = self.rows[inst.id] = len(self.instruments)
            self.instruments.append(inst)
        return row


@dataclass(frozen=True, slots=True)
class Valuation:
    """Per row (instrument) and scenario; integers per lot. See the module docstring for units."""

    pnl: IntArray  # (rows, scenarios) micro-USDC per lot vs the base value; column 0 is zero
    delta: IntArray  # (rows,) nano-coins per lot (options: Black delta; perpetuals: one coin per coin)
    mark: IntArray  # (rows,) mark per lot for equity: the venue's mark, else the model value (micro-USDC)
    expiry: NDArray[np.int64]  # (rows,) expiry ns (0 for perpetuals)
    coins: FloatArray  # (rows,) coins per lot
    vol: FloatArray  # (rows,) base implied vol (NaN for perpetuals)
    vol_flags: NDArray[np.int8]
    greeks: black76.Greeks  # per coin, at base


def revalue(
    table: InstrumentTable,
    grid: ScenarioGrid,
    params: UnderlyingRisk,
    surface: VolSurface | None,
    index: float,
    time_ns: int,
    rate: float,
) -> Valuation:
    """Values of every row under every scenario. ``index`` in USD; ``surface`` None before the first smile."""
    insts: Sequence[Instrument] = table.instruments
    n, s = len(insts), grid.size
    coins = np.array([i.lot_num / i.lot_den for i in insts], dtype=np.float64)
    is_option = np.array([i.is_option for i in insts], dtype=bool)
    is_call = np.array([i.is_call for i in insts], dtype=bool)
    strike = np.array([i.strike_micro for i in insts], dtype=np.float64) / MICRO
    expiry = np.array([i.expiry_ns for i in insts], dtype=np.int64)
    venue_mark = np.array([i.mark_ticks * i.micro_per_tick_lot for i in insts], dtype=np.int64)
    per_coin = np.zeros((n, s))  # scenario value per coin
    vol = np.full(n, np.nan)
    flags = np.zeros(n, dtype=np.int8)
    moves = grid.spot_moves
    per_coin[~is_option] = index * (1.0 + moves)
    opt = np.flatnonzero(is_option & (expiry > time_ns))
    t = (expiry[opt] - time_ns) / NS_PER_YEAR
    k, calls = strike[opt], is_call[opt]
    fwd = np.zeros(len(opt))
    if len(opt):
        tick_marks = np.array([i.mark_ticks * i.tick_micro for i in insts], dtype=np.float64)
        marks = tick_marks[opt] / MICRO  # USD per coin
        fwd, base_vol, opt_flags = _base(k, expiry[opt], calls, marks, surface, index, rate, t, params)
        vol[opt], flags[opt] = base_vol, opt_flags
        up, down = vol_factors(params, t * 365.0)
        for j in range(s):
            move = float(moves[j])
            if surface is not None and move != 0.0:
                shifted = surface.vols(k, expiry[opt], move).vol
                v = np.where(opt_flags & (VOL_FROM_MARK | VOL_DEFAULT), base_vol, shifted)
            else:
                v = base_vol
            if grid.vol_moves[j] == VOL_UP:
                v = np.maximum(v * up, params.vol_up_floor)
            elif grid.vol_moves[j] == VOL_DOWN:
                v = v * down
            per_coin[opt, j] = black76.price(fwd * (1.0 + move), k, t, rate, v, calls)
    expired = np.flatnonzero(is_option & (expiry <= time_ns))
    per_coin[expired] = np.maximum(
        np.where(is_call[expired], 1.0, -1.0)[:, None]
        * (index * (1 + moves)[None, :] - strike[expired, None]),
        0.0,
    )
    per_lot = per_coin * coins[:, None] * MICRO
    value = np.rint(per_lot[:, 0]).astype(np.int64)
    pnl = np.rint(per_lot - per_lot[:, :1]).astype(np.int64)
    g = _greeks(n, is_option, opt, fwd, k, t, calls, vol[opt], rate, index)
    delta = np.rint(g.delta * coins * NANO).astype(np.int64)
    mark = np.where(venue_mark > 0, venue_mark, value)
    return Valuation(pnl, delta, mark, expiry, coins, vol, flags, g)


def _base(
    strike: FloatArray,
    expiry: NDArray[np.int64],
    calls: NDArray[np.bool_],
    marks: FloatArray,
    surface: VolSurface | None,
    index: float,
    rate: float,
    t: FloatArray,
    params: UnderlyingRisk,
) -> tuple[FloatArray, FloatArray, NDArray[np.int8]]:
    """Forward, base vol and vol flags of live options (``marks`` in USD per coin, 0 if none)."""
    flags = np.zeros(len(strike), dtype=np.int8)
    if surface is not None and surface.smiles:
        fwd = np.array([surface.forward(int(e)) for e in expiry])
        look = surface.vols(strike, expiry)
        flags[look.extrapolated] |= VOL_EXTRAPOLATED
        return fwd, look.vol, flags
    fwd = np.full(len(strike), index)
    vol = np.full(len(strike), params.default_vol)
    has_mark = marks > 0
    if has_mark.any():
        implied, iv_flags = black76.implied_vol(
            marks[has_mark], fwd[has_mark], strike[has_mark], t[has_mark], rate, calls[has_mark]
        )
        ok = (iv_flags == IvFlag.OK) & (implied > 0)
        vol[has_mark] = np.where(ok, implied, params.default_vol)
        marked = np.flatnonzero(has_mark)
        flags[marked[ok]] |= VOL_FROM_MARK
        flags[marked[~ok]] |= VOL_DEFAULT | IV_FAILED
    flags[~has_mark] |= VOL_DEFAULT
    return fwd, vol, flags


def _greeks(
    n: int,
    is_option: NDArray[np.bool_],
    opt: NDArray[np.intp],
    fwd: FloatArray,
    strike: FloatArray,
    t: FloatArray,
    calls: NDArray[np.bool_],
    vol: FloatArray,
    rate: float,
    index: float,
) -> black76.Greeks:
    """Greeks per coin at base for every row: Black-76 for the live options ``opt`` (their forward,
    strike, time and vol given), (1, 0, ...) for perpetuals, zero for expired options."""
    out = {name: np.zeros(n) for name in ("price", "delta", "gamma", "vega", "theta", "rho")}
    out["delta"][~is_option] = 1.0
    out["price"][~is_option] = index
    if len(opt):
        g = black76.greeks(fwd, strike, t, rate, vol, calls)
        for name in out:
            out[name][opt] = getattr(g, name)
    return black76.Greeks(**out)
