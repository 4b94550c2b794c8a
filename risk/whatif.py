"""Offline what-if: the margin report of a portfolio file, computed without a running venue.

The file (JSON; README "What-if portfolio files" has an example):
    as_of        ISO time the marks and expiries are taken at (UTC if no offset)
    account      a name for the report (default "what-if")
    margin       "portfolio" (default) or "standard"
    collateral   USDC cash of the account, after any premiums it paid or received
    marks        {underlying: {"index": USD, "smiles": [{"expiry": ISO date or time, "forward": USD,
                  "a", "b", "rho", "m", "sigma", optional "k_min", "k_max"}]}}
    positions    [{"symbol": "BTC-25DEC26-100000-C", "quantity": signed coins, "average_price": USD}]
Symbols follow the venue's style; a series the catalog would not list on ``as_of`` (another strike) is
built from its underlying's option rules. ``average_price`` matters for perpetuals (unrealised P&L);
it defaults to the mark.

The same engine, parameters and report code as the live venue compute it: the instruments are listed,
the marks applied as a MarkUpdate, and the positions booked against an offsetting book-keeping account.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import msgspec

from config.catalog import Catalog, InstrumentSpec
from config.risk_params import RiskParams
from matching.commands import Deposit, ListInstrument, SetMarginMode
from matching.ledger import Ledger
from matching.liquidation import LiquidationTerms
from matching.sequencer import Sequencer
from risk.engine import MarginEngine
from risk.marks import mark_update
from risk.report import account_report
from risk.surface import Smile

COUNTERPARTY = "what-if-counterparty"
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_OPTION = re.compile(r"^([A-Z]+)-(\d{1,2})([A-Z]{3})(\d{2})-(\d+(?:\.\d+)?)-([CP])$")


class PortfolioError(ValueError):
    """The portfolio file is malformed or names something the venue cannot price."""


class SmileIn(msgspec.Struct, forbid_unknown_fields=True):
    expiry: str
    forward: float
    a: float
    b: float
    rho: float
    m: float
    sigma: float
    k_min: float = -1.5
    k_max: float = 1.5


class MarksIn(msgspec.Struct, forbid_unknown_fields=True):
    index: float
    smiles: list[SmileIn] = []


class PositionIn(msgspec.Struct, forbid_unknown_fields=True):
    symbol: str
    quantity: Decimal
    average_price: Decimal | None = None


class PortfolioIn(msgspec.Struct, forbid_unknown_fields=True):
    as_of: datetime
    collateral: Decimal
    marks: dict[str, MarksIn]
    positions: list[PositionIn]
    account: str = "what-if"
    margin: Literal["portfolio", "standard"] = "portfolio"


def _ns(when: datetime) -> int:
    return int((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp() * 1_000_000) * 1_000


def _expiry_ns(text: str, catalog: Catalog, underlying: str) -> int:
    if "T" in text:
        return _ns(datetime.fromisoformat(text))
    day = date.fromisoformat(text)
    rules = catalog.data.underlyings[underlying].options
    if rules is None:
        raise PortfolioError(f"{underlying} lists no options")
    hour = rules.expiry_hour_utc
    return _ns(datetime(day.year, day.month, day.day, hour, tzinfo=UTC))


def spec_for(symbol: str, catalog: Catalog, as_of: date, listed: dict[str, InstrumentSpec]) -> InstrumentSpec:
    """``listed[symbol]`` (the catalog's specs on ``as_of``), or one built from its underlying's rules."""
    if symbol in listed:
        return listed[symbol]
    match = _OPTION.match(symbol)
    if match is None:
        raise PortfolioError(f"unknown instrument {symbol}")
    underlying, day, month, year, strike, kind = match.groups()
    if underlying not in catalog.underlyings or month not in MONTHS:
        raise PortfolioError(f"unknown instrument {symbol}")
    template = next(s for s in catalog.options(underlying, as_of))
    expiry = date(2000 + int(year), MONTHS.index(month) + 1, int(day))
    return msgspec.structs.replace(
        template,
        symbol=symbol,
        strike=Decimal(strike),
        option_type=kind,
        expiry_ns=_expiry_ns(expiry.isoformat(), catalog, underlying),
    )


def load(path: Path) -> PortfolioIn:
    try:
        return msgspec.json.decode(path.read_bytes(), type=PortfolioIn)
    except msgspec.ValidationError as exc:
        raise PortfolioError(f"{path}: {exc}") from exc


def build(portfolio: PortfolioIn, catalog: Catalog, params: RiskParams) -> tuple[Sequencer, MarginEngine]:
    """A sequencer holding exactly the portfolio, marked as of ``as_of``."""
    now = _ns(portfolio.as_of)
    engine = MarginEngine(params)
    seq = Sequencer(catalog.fee_account, engine, LiquidationTerms.from_config(params.liquidation))
    specs: dict[str, InstrumentSpec] = {}
    for underlying in portfolio.marks:
        if underlying not in catalog.underlyings:
            raise PortfolioError(f"marks for unknown underlying {underlying}")
        specs[f"{underlying}-PERP"] = catalog.perpetual(underlying)
    as_of = portfolio.as_of.date()
    catalog_specs = {s.symbol: s for s in catalog.instruments(as_of)}
    for p in portfolio.positions:
        spec = specs[p.symbol] = spec_for(p.symbol, catalog, as_of, catalog_specs)
        if spec.underlying not in portfolio.marks:
            raise PortfolioError(f"{p.symbol}: no marks for {spec.underlying}")
    t = now

    def apply(command: Any) -> None:
        nonlocal t
        t += 1
        seq.apply(seq.stamp(command, t))

    for spec in specs.values():
        apply(ListInstrument(spec=spec))
    apply(Deposit(account=portfolio.account, amount_micro=1, reference="what-if"))  # opens the account
    if portfolio.margin == "portfolio":
        apply(SetMarginMode(account=portfolio.account, portfolio=True))
    for underlying, marks in portfolio.marks.items():
        smiles = [
            Smile(
                _expiry_ns(s.expiry, catalog, underlying),
                s.forward,
                s.a,
                s.b,
                s.rho,
                s.m,
                s.sigma,
                s.k_min,
                s.k_max,
            )
            for s in marks.smiles
        ]
        apply(mark_update(underlying, marks.index, smiles, list(specs.values()), t + 1))
    account = seq.ledger.accounts[portfolio.account]
    other = seq.ledger.open(COUNTERPARTY)
    for p in portfolio.positions:
        market = seq.market(p.symbol)
        assert market is not None
        inst = market.instrument
        lots = inst.qty_to_lots(abs(p.quantity))
        if lots is None or lots == 0:
            raise PortfolioError(f"{p.symbol}: quantity {p.quantity} is not a whole number of lots")
        price = inst.mark_ticks if p.average_price is None else inst.price_to_ticks(p.average_price)
        if not price:
            raise PortfolioError(
                f"{p.symbol}: average price {p.average_price} is not a whole number of ticks"
            )
        signed = lots if p.quantity > 0 else -lots
        for holder, qty in ((account, signed), (other, -signed)):
            old = holder.position(inst).qty
            Ledger.book_fill(holder, inst, qty, price, 0)
            engine.on_position_change(holder, inst, old, old + qty)
    micro = portfolio.collateral * 1_000_000
    if micro != micro.to_integral_value():
        raise PortfolioError("collateral has more than 6 decimals")
    account.collateral = int(micro)
    return seq, engine


def report(path: Path, catalog: Catalog | None = None, params: RiskParams | None = None) -> dict[str, Any]:
    """The margin report of the portfolio in ``path`` (raises ``PortfolioError`` on a bad file)."""
    portfolio = load(path)
    seq, engine = build(portfolio, catalog or Catalog.load(), params or RiskParams.load())
    # Marked at its own as_of, a what-if is never stale.
    result = account_report(engine, seq.ledger.accounts[portfolio.account], _ns(portfolio.as_of))
    result["source"] = str(path)
    return result
