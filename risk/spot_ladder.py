"""Full revaluation of one account's positions in one underlying along the spot axis.

For each spot move x (a fraction: the index goes to S (1 + x)), every position is repriced at the base
of a grid recentred there and under every scenario of that grid, with sticky moneyness (each forward
moves with the spot; vols are read off the smiles at the new moneyness). That gives, per x, the
account's equity and maintenance margin exactly as the margin engine would compute them if the index
were S (1 + x), up to the engine's rounding to micro-USDC. Used for liquidation levels and for the
"margin vs spot" curve of margin reports.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr

from matching.ledger import Account
from risk import black76
from risk.black76 import FloatArray
from risk.engine import MarginEngine, UnderlyingRiskBook
from risk.scenarios import VOL_DOWN, VOL_UP, vol_factors
from risk.surface import NS_PER_YEAR
from risk.valuation import MICRO, NS_PER_DAY


@dataclass(frozen=True, slots=True)
class Ladder:
    """Arrays of one account's positions in one underlying, ready to be repriced at any spot move."""

    coins: FloatArray  # signed coins per position
    is_option: NDArray[np.bool_]
    is_call: NDArray[np.bool_]
    strike: FloatArray
    t: FloatArray  # years to expiry (options)
    forward: FloatArray  # today's forward per position (the index for perpetuals)
    base_vol: FloatArray  # for options with no smile
    svi_lo: FloatArray  # (positions, 5): a, b, rho, m, sigma
    svi_hi: FloatArray
    c_lo: FloatArray
    c_hi: FloatArray
    has_smile: NDArray[np.bool_]
    up: FloatArray  # vol multipliers of the up and down scenarios
    down: FloatArray
    perp_cost: float  # USD, entry cost of perpetual positions (signed)
    fixed_equity: float  # USD: collateral, other underlyings' value, less open-order margin not here
    fixed_mm: float  # USD: maintenance margin of other underlyings
    index: float
    portfolio: bool
    factor: float  # maintenance factor (portfolio margin)
    expiry_group: NDArray[np.intp]  # per position: index of its expiry among the account's expiries


def ladder(engine: MarginEngine, account: Account, underlying: str) -> Ladder | None:
    """The account's ``underlying`` positions as a ``Ladder``; None if the underlying has no marks."""
    book = engine.books.get(underlying)
    if book is None or book.val is None:
        return None
    equity, _, mm = engine.margin_state(account)
    a = engine.acct(account)
    portfolio = account.id in engine.portfolio
    own_mm = engine.factor * float(book.part(a)) if portfolio else float(book.std_mm[a])
    own_value = float(book.mtm[a])
    perp_cost = 0.0
    rows: list[int] = []
    qty: list[float] = []
    for _, pos in sorted(account.positions.items()):
        inst = pos.instrument
        if pos.qty == 0 or inst.underlying != underlying:
            continue
        if not inst.is_option:
            perp_cost += pos.cost / MICRO
        elif inst.expiry_ns <= book.time_ns:
            continue
        rows.append(book.row(inst))
        qty.append(pos.qty * inst.lot_num / inst.lot_den)
    val = book.val
    insts = [book.table.instruments[r] for r in rows]
    n = len(rows)
    is_option = np.array([i.is_option for i in insts], dtype=bool)
    expiry = np.array([i.expiry_ns for i in insts], dtype=np.int64)
    t = np.where(is_option, (expiry - book.time_ns) / NS_PER_YEAR, 0.0)
    svi_lo, svi_hi = np.zeros((n, 5)), np.zeros((n, 5))
    c_lo, c_hi = np.zeros(n), np.zeros(n)
    forward = np.full(n, book.index_micro / MICRO)
    has_smile = np.zeros(n, dtype=bool)
    surface = book.surface
    for p, inst in enumerate(insts):
        if not inst.is_option or surface is None:
            continue
        lo, hi, c_lo[p], c_hi[p], _ = surface.blend(inst.expiry_ns)
        svi_lo[p] = (lo.a, lo.b, lo.rho, lo.m, lo.sigma)
        svi_hi[p] = (hi.a, hi.b, hi.rho, hi.m, hi.sigma)
        forward[p] = surface.forward(inst.expiry_ns)
        has_smile[p] = True
    up, down = vol_factors(book.params, np.where(is_option, (expiry - book.time_ns) / NS_PER_DAY, 0.0))
    return Ladder(
        coins=np.array(qty),
        is_option=is_option,
        is_call=np.array([i.is_call for i in insts], dtype=bool),
        strike=np.array([i.strike_micro for i in insts], dtype=np.float64) / MICRO,
        t=t,
        forward=forward,
        base_vol=np.nan_to_num(val.vol[rows], nan=book.params.default_vol) if n else np.zeros(0),
        svi_lo=svi_lo,
        svi_hi=svi_hi,
        c_lo=c_lo,
        c_hi=c_hi,
        has_smile=has_smile,
        up=up,
        down=down,
        perp_cost=perp_cost,
        fixed_equity=(equity - own_value) / MICRO + perp_cost,
        fixed_mm=(mm - own_mm) / MICRO,
        index=book.index_micro / MICRO,
        portfolio=portfolio,
        factor=engine.factor,
        expiry_group=np.unique(expiry, return_inverse=True)[1].reshape(-1) if n else np.zeros(0, np.intp),
    )


def _svi(params: FloatArray, k: FloatArray) -> FloatArray:
    a, b, rho, m, sigma = (params[:, i, None, None] for i in range(5))
    x = k - m
    result: FloatArray = a + b * (rho * x + np.sqrt(x * x + sigma * sigma))
    return result


def equity_and_maintenance(
    lad: Ladder, book: UnderlyingRiskBook, moves: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Equity and maintenance margin (USD) of the account if the index moved by each of ``moves``."""
    x = np.asarray(moves, dtype=np.float64)
    grid = book.grid
    spot = 1.0 + x[None, :, None]  # (1, X, 1)
    factor = spot * (1.0 + grid.spot_moves[None, None, :])  # (1, X, S) total spot factor per scenario
    opt = lad.is_option
    values = np.empty((len(lad.coins), len(x), grid.size))
    # perpetuals: worth the index
    values[~opt] = lad.index * np.broadcast_to(factor, (int((~opt).sum()), len(x), grid.size))
    if opt.any():
        o = np.flatnonzero(opt)
        # Scenarios share spot moves (three vol moves each): read the smiles once per distinct move.
        moves, which = np.unique(grid.spot_moves, return_inverse=True)
        distinct = spot * (1.0 + moves[None, None, :])  # (1, X, M)
        k = np.log(lad.strike[o, None, None] / (lad.forward[o, None, None] * distinct))
        w = lad.c_lo[o, None, None] * _svi(lad.svi_lo[o], k)
        w = w + lad.c_hi[o, None, None] * _svi(lad.svi_hi[o], k)
        smile_vol = np.sqrt(np.maximum(w, 0.0) / lad.t[o, None, None])[:, :, which]
        vol = np.where(lad.has_smile[o, None, None], smile_vol, lad.base_vol[o, None, None])
        vol = np.where(
            grid.vol_moves[None, None, :] == VOL_UP,
            np.maximum(vol * lad.up[o, None, None], book.params.vol_up_floor),
            np.where(grid.vol_moves[None, None, :] == VOL_DOWN, vol * lad.down[o, None, None], vol),
        )
        forward = lad.forward[o, None, None] * factor
        values[o] = black76.price(
            forward,
            lad.strike[o, None, None],
            lad.t[o, None, None],
            book.rate,
            vol,
            lad.is_call[o, None, None],
        )
        base_vol = vol[:, :, 0]
    base = values[:, :, 0]  # (P, X): scenario 0 is the unmoved base of the recentred grid
    equity = lad.fixed_equity + (lad.coins[:, None] * base).sum(axis=0) - lad.perp_cost
    new_index = lad.index * (1.0 + x)
    if lad.portfolio:
        pnl = (lad.coins[:, None, None] * (values - base[:, :, None])).sum(axis=0)  # (X, S)
        worst = np.maximum(0.0, -(pnl * grid.weights[None, :]).min(axis=1))
        p = book.params
        short = np.where(opt, np.maximum(-lad.coins, 0.0), 0.0).sum() * p.short_option_min * new_index
        delta = np.repeat(lad.coins[:, None], len(x), axis=1)  # perpetuals: their coins
        if opt.any():
            delta[o] = lad.coins[o, None] * _delta(lad, o, x, base_vol, book.rate)
            by_expiry = np.zeros((int(lad.expiry_group.max()) + 1, len(x)))
            np.add.at(by_expiry, lad.expiry_group[o], delta[o])
            abs_by_expiry = np.abs(by_expiry).sum(axis=0)
        else:
            abs_by_expiry = np.zeros(len(x))
        cont = p.delta_contingency * new_index * np.abs(delta.sum(axis=0))
        cont += p.basis_contingency * new_index * abs_by_expiry
        maintenance = lad.fixed_mm + lad.factor * (worst + cont + short)
    else:
        std = book.standard
        short_coins = np.maximum(-lad.coins, 0.0)
        mm_opt = (short_coins[:, None] * (std.short_option_mm * new_index[None, :] + base))[opt].sum(axis=0)
        mm_perp = (np.abs(lad.coins)[:, None] * std.perp_mm * base)[~opt].sum(axis=0)
        maintenance = lad.fixed_mm + mm_opt + mm_perp
    return equity, maintenance


def _delta(lad: Ladder, o: NDArray[np.intp], x: FloatArray, vol: FloatArray, rate: float) -> FloatArray:
    """(options, X) Black delta per coin at each move, at the base vol of that move."""
    forward = lad.forward[o, None] * (1.0 + x[None, :])
    total_vol = vol * np.sqrt(lad.t[o, None])
    d1 = np.log(forward / lad.strike[o, None]) / total_vol + 0.5 * total_vol
    sign = np.where(lad.is_call[o, None], 1.0, -1.0)
    delta: FloatArray = sign * np.exp(-rate * lad.t[o, None]) * ndtr(sign * d1)
    return delta
