"""`venue bench risk`: the risk engine's figures, all measured in one run.

- ``greeks_per_s``: vectorised Black-76 price + Greeks over ``options`` random options;
  ``py_vollib_per_s``: py_vollib's scalar functions (price, delta, gamma, vega, theta, rho) on a sample of
  the same inputs; ``greeks_ratio`` the quotient (targets: >= 2,000,000/s and >= 100).
- ``full_reval_ms``: one MarkUpdate through the sequencer that revalues 2,000 listed options over the
  full scenario grid and rebuilds the scenario vectors of 10,000 accounts with 20 positions each
  (target <= 200 ms); median of ``repeats``.
- ``pretrade_p99_us`` / ``pretrade_p50_us``: the engine's pre-trade check (order margin + check) on
  those accounts, each call timed (target p99 <= 50 us).
- ``liq_levels_ms``: liquidation levels of one account holding 50 positions (target <= 20 ms); median.
"""

from __future__ import annotations

import statistics
import time
import warnings
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec
import numpy as np

from config.catalog import Catalog, InstrumentSpec
from config.risk_params import RiskParams
from config.settings import VenueSettings
from matching.commands import Deposit, ListInstrument, SetMarginMode
from matching.ledger import Ledger
from matching.liquidation import LiquidationTerms
from matching.sequencer import Sequencer
from risk import black76
from risk.engine import MarginEngine
from risk.liquidation_levels import liquidation_levels
from risk.marks import flat_smiles, mark_update
from venue import gc_policy

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
NOW_NS = int(NOW.timestamp()) * 1_000_000_000
INDEX = 95_000.0


def _greeks(options: int, oracle_sample: int) -> dict[str, float]:
    rng = np.random.default_rng(11)
    f = rng.uniform(500.0, 150_000.0, options)
    k = f * np.exp(rng.uniform(-1.0, 1.0, options))
    t = rng.uniform(1 / 365, 2.0, options)
    r = rng.uniform(0.0, 0.08, options)
    v = rng.uniform(0.05, 2.0, options)
    calls = rng.random(options) < 0.5
    black76.greeks(f[:1000], k[:1000], t[:1000], r[:1000], v[:1000], calls[:1000])  # warm up
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        black76.greeks(f, k, t, r, v, calls)
        runs.append(time.perf_counter() - start)
    vector_rate = options / min(runs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        # a development dependency: the oracle of the tests, and the baseline of this ratio
        from py_vollib.black import black
        from py_vollib.black.greeks import analytical as g
    start = time.perf_counter()
    for i in range(oracle_sample):
        flag = "c" if calls[i] else "p"
        args = (flag, f[i], k[i], t[i], r[i], v[i])
        black(*args)
        g.delta(*args)
        g.gamma(*args)
        g.vega(*args)
        g.theta(*args)
        g.rho(*args)
    scalar_rate = oracle_sample / (time.perf_counter() - start)
    return {
        "greeks_per_s": round(vector_rate),
        "py_vollib_per_s": round(scalar_rate),
        "greeks_ratio": round(vector_rate / scalar_rate, 1),
    }


def _ladder(catalog: Catalog, target: int) -> list[InstrumentSpec]:
    """BTC perpetual plus ``target`` options: the catalog's series, strikes widened to reach the count."""
    listed = catalog.options("BTC", NOW.date())
    expiries = sorted({s.expiry_ns or 0 for s in listed})
    per_expiry = target // (2 * len(expiries)) + 1
    specs: list[InstrumentSpec] = [catalog.perpetual("BTC")]
    for expiry in expiries:
        template = next(s for s in listed if s.expiry_ns == expiry)
        code = template.symbol.split("-")[1]
        for i in range(per_expiry):
            strike = Decimal(40_000 + i * 1_000)
            for kind in ("C", "P"):
                symbol = f"BTC-{code}-{strike}-{kind}"
                specs.append(
                    msgspec.structs.replace(template, symbol=symbol, strike=strike, option_type=kind)
                )
                if len(specs) > target:
                    return specs
    return specs


def _venue(
    accounts: int, positions: int, options: int
) -> tuple[Sequencer, MarginEngine, list[InstrumentSpec]]:
    catalog = Catalog.load()
    params = RiskParams.load()
    engine = MarginEngine(params)
    seq = Sequencer(catalog.fee_account, engine, LiquidationTerms.from_config(params.liquidation))
    specs = _ladder(catalog, options)
    t = NOW_NS

    def apply(command: Any) -> None:
        nonlocal t
        t += 1
        seq.apply(seq.stamp(command, t))

    for spec in specs:
        apply(ListInstrument(spec=spec))
    expiries = sorted({s.expiry_ns for s in specs if s.expiry_ns})
    apply(
        mark_update("BTC", INDEX, flat_smiles(INDEX, [e for e in expiries if e], 0.55, t + 1), specs, t + 1)
    )
    rng = np.random.default_rng(5)
    insts = [seq.matcher.markets[s.symbol].instrument for s in specs]
    street = seq.ledger.open("street")
    for n in range(accounts):
        name = f"acct-{n}"
        apply(Deposit(account=name, amount_micro=10**12, reference=name))
        if n % 2 == 0:
            apply(SetMarginMode(account=name, portfolio=True))
        account = seq.ledger.accounts[name]
        for i in rng.choice(len(insts), size=positions, replace=False):
            inst = insts[int(i)]
            qty = int(rng.integers(1, 50)) * (1 if rng.random() < 0.5 else -1)
            price = inst.mark_ticks or 1
            for holder, q in ((account, qty), (street, -qty)):
                old = holder.position(inst).qty
                Ledger.book_fill(holder, inst, q, price, 0)
                engine.on_position_change(holder, inst, old, old + q)
    return seq, engine, specs


def run(
    accounts: int = 10_000, positions: int = 20, options: int = 2_000, repeats: int = 5
) -> dict[str, Any]:
    settings = VenueSettings()
    gc_policy.install(settings.gc_gen0_threshold, settings.gc_freeze_survivors)  # as the venue does
    result: dict[str, Any] = _greeks(1_000_000, 2_000)
    build_start = time.perf_counter()
    seq, engine, specs = _venue(accounts, positions, options)
    result["setup_s"] = round(time.perf_counter() - build_start, 1)
    expiries = sorted({s.expiry_ns for s in specs if s.expiry_ns})
    t = seq.last_ts
    reval = []
    index = INDEX
    for i in range(repeats):
        t += 1_000_000_000
        index *= 1.0 + (0.002 if i % 2 else -0.002)
        update = mark_update("BTC", index, flat_smiles(index, [e for e in expiries if e], 0.55, t), specs, t)
        record = seq.stamp(update, t)
        start = time.perf_counter()
        seq.apply(record)
        reval.append((time.perf_counter() - start) * 1e3)
    result["full_reval_ms"] = round(statistics.median(reval), 1)
    result["listed_options"] = len(specs) - 1
    result["accounts"] = accounts
    result["positions_per_account"] = positions
    # Pre-trade: a random order per call on a random account.
    rng = np.random.default_rng(9)
    accts = [seq.ledger.accounts[f"acct-{n}"] for n in range(accounts)]
    insts = [seq.matcher.markets[s.symbol].instrument for s in specs]
    samples = []
    for _ in range(20_000):
        account = accts[int(rng.integers(accounts))]
        inst = insts[int(rng.integers(len(insts)))]
        side = 1 if rng.random() < 0.5 else -1
        price = max(1, inst.mark_ticks)
        start = time.perf_counter_ns()
        margin = engine.order_margin(account, inst, side, price, 10)
        engine.check_order(account, inst, side, price, 10, margin)
        samples.append(time.perf_counter_ns() - start)
    samples.sort()
    result["pretrade_p50_us"] = round(samples[len(samples) // 2] / 1e3, 1)
    result["pretrade_p99_us"] = round(samples[int(len(samples) * 0.99)] / 1e3, 1)
    # Liquidation levels of one account with 50 positions.
    big = seq.ledger.open("big")
    street = seq.ledger.accounts["street"]
    engine.set_margin_mode(big, True)
    big.collateral = 10**12
    for i in rng.choice(len(insts), size=50, replace=False):
        inst = insts[int(i)]
        qty = int(rng.integers(1, 50)) * (1 if rng.random() < 0.5 else -1)
        for holder, q in ((big, qty), (street, -qty)):
            old = holder.position(inst).qty
            Ledger.book_fill(holder, inst, q, max(1, inst.mark_ticks), 0)
            engine.on_position_change(holder, inst, old, old + q)
    liq = []
    for _ in range(repeats):
        start = time.perf_counter()
        liquidation_levels(engine, big, "BTC")
        liq.append((time.perf_counter() - start) * 1e3)
    result["liq_levels_ms"] = round(statistics.median(liq), 1)
    result["targets"] = {
        "greeks_per_s": 2_000_000,
        "greeks_ratio": 100,
        "full_reval_ms": 200,
        "pretrade_p99_us": 50,
        "liq_levels_ms": 20,
    }
    gc_policy.uninstall()
    return result
