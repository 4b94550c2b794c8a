"""Margin reports for risk officers: per account and venue-wide, as plain data (JSON-ready dicts).

Every number names what reproduces it: the risk parameter version and each underlying's mark time.
Money is in USD (floats, rounded to the micro-USDC the engine computes in); quantities in coins;
Greeks in py_vollib's units, scaled by position size (delta also in USD: delta x index).
Formats: ``risk.report_files`` writes CSV and HTML from these dicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from matching.ledger import Account
from risk.engine import MarginEngine, UnderlyingRiskBook
from risk.liquidation_levels import LiquidationLevels, liquidation_levels
from risk.scenarios import VOL_DOWN, VOL_SAME, VOL_UP
from risk.spot_ladder import equity_and_maintenance, ladder
from risk.valuation import IV_FAILED, MICRO, VOL_DEFAULT, VOL_EXTRAPOLATED, VOL_FROM_MARK

STRIKE_BUCKETS = ((0.0, 0.8), (0.8, 0.95), (0.95, 1.05), (1.05, 1.2), (1.2, float("inf")))
CURVE_MOVES = np.linspace(-0.5, 0.5, 41)


def _usd(micro: float) -> float:
    return round(float(micro) / MICRO, 6)


def _iso(ns: int) -> str | None:
    return datetime.fromtimestamp(ns / 1e9, UTC).isoformat() if ns else None


def _day(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).date().isoformat()


def _bucket(moneyness: float) -> str:
    for lo, hi in STRIKE_BUCKETS:
        if lo <= moneyness < hi:
            return f"K/S {lo:.2f}-{hi:.2f}" if hi != float("inf") else f"K/S >= {lo:.2f}"
    return "n/a"


def account_report(
    engine: MarginEngine,
    account: Account,
    now_ns: int,
    stale: Sequence[str] = (),
    levels: dict[str, LiquidationLevels | None] | None = None,
) -> dict[str, Any]:
    """The full margin report of one account (see the module docstring). ``stale``: stale underlyings."""
    equity, im, mm = engine.margin_state(account)
    a = engine.acct(account)
    portfolio = account.id in engine.portfolio
    warnings: list[str] = [f"stale marks: {u}" for u in stale]
    underlyings: list[dict[str, Any]] = []
    positions: list[dict[str, Any]] = []
    held = sorted({p.instrument.underlying for p in account.positions.values() if p.qty})
    for name in held:
        book = engine.books.get(name)
        if book is None or book.val is None:
            warnings.append(f"no marks for {name}: margin not computed")
            continue
        lv = (
            (levels or {}).get(name)
            if levels and name in levels
            else liquidation_levels(engine, account, name)
        )
        underlyings.append(_underlying_section(engine, book, account, a, portfolio, lv, warnings, positions))
    return {
        "account": account.id,
        "margin_mode": "portfolio" if portfolio else "standard",
        "parameters_version": engine.params.version,
        "as_of": _iso(now_ns),
        "equity": _usd(equity),
        "collateral": _usd(account.collateral),
        "initial_margin": _usd(im),
        "maintenance_margin": _usd(mm),
        "open_orders_margin": _usd(account.order_margin),
        "available_funds": _usd(equity - im),
        "im_usage": round(im / equity, 6) if equity > 0 else None,
        "mm_usage": round(mm / equity, 6) if equity > 0 else None,
        "underlyings": underlyings,
        "positions": positions,
        "warnings": warnings,
    }


def _underlying_section(
    engine: MarginEngine,
    book: UnderlyingRiskBook,
    account: Account,
    a: int,
    portfolio: bool,
    lv: LiquidationLevels | None,
    warnings: list[str],
    positions: list[dict[str, Any]],
) -> dict[str, Any]:
    val = book.val
    assert val is not None
    grid = book.grid
    bd = book.breakdown(a)
    index = book.index_micro / MICRO
    j = bd.worst_scenario
    greeks_total = dict.fromkeys(("delta", "delta_usd", "gamma", "vega", "theta", "rho"), 0.0)
    by_expiry: dict[str, dict[str, float]] = {}
    by_strike: dict[str, dict[str, float]] = {}
    for _, pos in sorted(account.positions.items()):
        inst = pos.instrument
        if pos.qty == 0 or inst.underlying != book.name or inst.id not in book.table.rows:
            continue
        row = book.table.rows[inst.id]
        coins = pos.qty * float(val.coins[row])
        g = val.greeks
        contrib = {
            "delta": coins * float(g.delta[row]),
            "delta_usd": coins * float(g.delta[row]) * index,
            "gamma": coins * float(g.gamma[row]),
            "vega": coins * float(g.vega[row]),
            "theta": coins * float(g.theta[row]),
            "rho": coins * float(g.rho[row]),
        }
        flags = int(val.vol_flags[row])
        if flags & VOL_EXTRAPOLATED:
            warnings.append(f"{inst.symbol}: vol extrapolated beyond the quoted smiles")
        if flags & VOL_FROM_MARK:
            warnings.append(f"{inst.symbol}: no smile; vol implied from its mark")
        if flags & VOL_DEFAULT:
            warnings.append(f"{inst.symbol}: no smile or usable mark; default vol used")
        if flags & IV_FAILED:
            warnings.append(f"{inst.symbol}: implied vol of the mark failed")
        expiry_key = _day(inst.expiry_ns) if inst.is_option else "perpetual"
        strike_key = _bucket(inst.strike_micro / MICRO / index) if inst.is_option else "perpetual"
        for key, table in ((expiry_key, by_expiry), (strike_key, by_strike)):
            bucket = table.setdefault(key, dict.fromkeys(greeks_total, 0.0))
            for k, v in contrib.items():
                bucket[k] += v
        for k, v in contrib.items():
            greeks_total[k] += v
        positions.append(
            {
                "underlying": book.name,
                "symbol": inst.symbol,
                "quantity": coins,
                "mark": _usd(int(val.mark[row]) / float(val.coins[row])) if val.coins[row] else None,
                "value": _usd(pos.qty * int(val.mark[row])),
                "average_entry_price": float(pos.average_entry_price() or 0),
                "implied_vol": None if np.isnan(val.vol[row]) else round(float(val.vol[row]), 6),
                "worst_case_contribution": _usd(pos.qty * int(val.pnl[row, j]) * float(grid.weights[j])),
                **{k: round(v, 6) for k, v in contrib.items()},
            }
        )
    vector = book.vector(a)
    matrix = vector * grid.weights
    curve = _curve(engine, book, account)
    return {
        "underlying": book.name,
        "index": index,
        "mark_time": _iso(book.time_ns),
        "smiles_rejected": book.bad_smiles,
        "worst_scenario": {"index": j, "label": grid.label(j), "loss": _usd(bd.worst_loss)},
        "risk_part": _usd(bd.risk_part),
        "contingencies": {
            "short_option_minimum": _usd(bd.short_minimum),
            "delta": _usd(bd.delta_contingency),
            "basis": _usd(bd.basis_contingency),
        },
        "standard": {"initial": _usd(bd.standard_im), "maintenance": _usd(bd.standard_mm)},
        "scenarios": [
            {
                "label": grid.label(s),
                "spot_move": float(grid.spot_moves[s]),
                "vol_move": {VOL_SAME: "same", VOL_UP: "up", VOL_DOWN: "down"}[int(grid.vol_moves[s])],
                "weight": float(grid.weights[s]),
                "pnl": _usd(int(vector[s])),
                "weighted_pnl": _usd(float(matrix[s])),
            }
            for s in range(grid.size)
        ],
        "greeks": {k: round(v, 6) for k, v in greeks_total.items()},
        "greeks_by_expiry": {k: {g: round(x, 6) for g, x in v.items()} for k, v in sorted(by_expiry.items())},
        "greeks_by_strike": {k: {g: round(x, 6) for g, x in v.items()} for k, v in sorted(by_strike.items())},
        "liquidation": None
        if lv is None
        else {
            "below": lv.below,
            "above": lv.above,
            "below_pct": lv.below_pct,
            "above_pct": lv.above_pct,
            "already_below": lv.already_below,
        },
        "margin_vs_spot": curve,
    }


def _curve(engine: MarginEngine, book: UnderlyingRiskBook, account: Account) -> list[dict[str, float]]:
    lad = ladder(engine, account, book.name)
    if lad is None:
        return []
    equity, mm = equity_and_maintenance(lad, book, CURVE_MOVES)
    return [
        {"spot_move": round(float(x), 4), "equity": round(float(e), 2), "maintenance": round(float(m), 2)}
        for x, e, m in zip(CURVE_MOVES, equity, mm, strict=True)
    ]


def venue_report(
    engine: MarginEngine,
    accounts: Sequence[Account],
    now_ns: int,
    insurance_account: str,
    levels: dict[tuple[str, str], LiquidationLevels | None] | None = None,
) -> dict[str, Any]:
    """Accounts ranked by MM usage and distance to liquidation; concentration; open interest; the fund."""
    rows = []
    for account in accounts:
        if account.id == insurance_account or not any(p.qty for p in account.positions.values()):
            continue
        equity, im, mm = engine.margin_state(account)
        nearest: float | None = None
        for name in {p.instrument.underlying for p in account.positions.values() if p.qty}:
            lv = (levels or {}).get((account.id, name))
            for pct in (lv.below_pct, lv.above_pct) if lv else ():
                if pct is not None and (nearest is None or abs(pct) < abs(nearest)):
                    nearest = pct
        rows.append(
            {
                "account": account.id,
                "margin_mode": "portfolio" if account.id in engine.portfolio else "standard",
                "equity": _usd(equity),
                "initial_margin": _usd(im),
                "maintenance_margin": _usd(mm),
                "mm_usage": round(mm / equity, 6) if equity > 0 else None,
                "nearest_liquidation_pct": nearest,
            }
        )

    def rank(row: dict[str, Any]) -> tuple[float, str]:
        usage = row["mm_usage"]
        return (-(float(usage) if usage is not None else float("inf")), str(row["account"]))

    rows.sort(key=rank)
    open_interest: dict[str, float] = {}
    concentration: dict[str, dict[str, float]] = {}
    for account in accounts:
        for pos in account.positions.values():
            if pos.qty <= 0:
                continue
            inst = pos.instrument
            coins = pos.qty * inst.lot_num / inst.lot_den
            open_interest[inst.symbol] = open_interest.get(inst.symbol, 0.0) + coins
            key = (
                f"{inst.underlying} {_day(inst.expiry_ns)}"
                if inst.is_option
                else f"{inst.underlying} perpetual"
            )
            book = engine.books.get(inst.underlying)
            index = book.index_micro / MICRO if book else 0.0
            bucket = concentration.setdefault(key, {"open_interest_coins": 0.0, "notional_usd": 0.0})
            bucket["open_interest_coins"] += coins
            bucket["notional_usd"] += coins * index
    fund = next((acc for acc in accounts if acc.id == insurance_account), None)
    return {
        "as_of": _iso(now_ns),
        "parameters_version": engine.params.version,
        "accounts": rows,
        "concentration": {
            k: {m: round(v, 6) for m, v in d.items()} for k, d in sorted(concentration.items())
        },
        "open_interest": {k: round(v, 6) for k, v in sorted(open_interest.items())},
        "insurance_fund": _usd(fund.collateral) if fund else 0.0,
    }
