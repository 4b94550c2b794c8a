"""The instrument catalog: underlyings, perpetuals, option ladders and the fee schedule.

The catalog file (TOML) holds rules, not a frozen list: option series are generated for a listing date
(weeklies, monthlies and quarterlies expiring on Fridays at a fixed UTC hour, each with a strike ladder
around a reference price). ``Catalog.roll`` tells which series to list and which expired ones to delist,
so the sequencer can apply both as commands and replay stays exact.

Units: every money amount here is a ``Decimal`` in USD(C) and every quantity a ``Decimal`` in coins;
``matching.instruments`` turns them into integer ticks, lots and micro-USDC once, at listing.
"""

from __future__ import annotations

import calendar
import tomllib
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
from pydantic import BaseModel, ConfigDict, Field, field_validator

DEFAULT_CATALOG_PATH = Path(__file__).with_name("catalog.toml")

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
QUARTER_MONTHS = (3, 6, 9, 12)
FRIDAY = 4


class InstrumentKind(StrEnum):
    PERPETUAL = "perpetual"
    OPTION = "option"


class InstrumentSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One listable instrument, in human units. Carried verbatim by the ListInstrument command.

    ``price_band`` is a fraction of the mark (``price_band_floor`` an absolute USD floor for cheap
    options); ``market_protection`` bounds a market order's worst price as a fraction of the mark or
    touch; the circuit breaker halts when trades move more than ``circuit_breaker_move`` (fraction)
    within ``circuit_breaker_window_s`` and lifts after ``circuit_breaker_cooloff_s``.
    Fees are fractions: of trade notional for perpetuals, of underlying notional for options (capped at
    ``premium_cap`` x premium).
    """

    symbol: str
    kind: InstrumentKind
    underlying: str
    tick_size: Decimal
    lot_size: Decimal
    multiplier: Decimal
    min_qty: Decimal
    max_qty: Decimal
    max_notional: Decimal
    price_band: Decimal
    price_band_floor: Decimal
    market_protection: Decimal
    circuit_breaker_move: Decimal
    circuit_breaker_window_s: int
    circuit_breaker_cooloff_s: int
    maker_fee: Decimal
    taker_fee: Decimal
    premium_cap: Decimal | None = None
    strike: Decimal | None = None
    expiry_ns: int | None = None
    option_type: Literal["C", "P"] | None = None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LadderRule(_Strict):
    tenor: Literal["weekly", "monthly", "quarterly"]
    step: Decimal = Field(gt=0)
    per_side: int = Field(ge=0, le=200)


class ContractRules(_Strict):
    tick_size: Decimal = Field(gt=0)
    lot_size: Decimal = Field(gt=0)
    multiplier: Decimal = Field(gt=0)
    min_qty: Decimal = Field(gt=0)
    max_qty: Decimal = Field(gt=0)
    max_notional: Decimal = Field(gt=0)
    price_band: Decimal = Field(gt=0)
    price_band_floor: Decimal = Field(ge=0)
    market_protection: Decimal = Field(gt=0, lt=1)
    circuit_breaker_move: Decimal = Field(gt=0)
    circuit_breaker_window_s: int = Field(gt=0)
    circuit_breaker_cooloff_s: int = Field(gt=0)


class OptionRules(ContractRules):
    expiry_hour_utc: int = Field(ge=0, le=23)
    weeklies: int = Field(ge=0, le=12)
    monthlies: int = Field(ge=0, le=12)
    quarterlies: int = Field(ge=0, le=12)
    ladders: tuple[LadderRule, ...]

    @field_validator("ladders")
    @classmethod
    def _one_per_tenor(cls, ladders: tuple[LadderRule, ...]) -> tuple[LadderRule, ...]:
        tenors = [rule.tenor for rule in ladders]
        if sorted(tenors) != sorted(set(tenors)):
            raise ValueError("one ladder per tenor")
        return ladders


class UnderlyingRules(_Strict):
    index: str
    reference_price: Decimal = Field(gt=0)
    perpetual: ContractRules
    options: OptionRules | None = None


class PerpFees(_Strict):
    maker: Decimal
    taker: Decimal


class OptionFees(PerpFees):
    premium_cap: Decimal = Field(gt=0, le=1)


class Fees(_Strict):
    perpetual: PerpFees
    option: OptionFees


class CatalogFile(_Strict):
    version: Annotated[int, Field(ge=1)]
    fee_account: str = Field(min_length=1)
    fees: Fees
    underlyings: dict[str, UnderlyingRules]


def expiry_code(day: date) -> str:
    """``date(2026, 12, 25)`` -> ``"25DEC26"``, the symbol form of an expiry."""
    return f"{day.day}{MONTHS[day.month - 1]}{day.year % 100:02d}"


def format_strike(strike: Decimal) -> str:
    """Strikes print without trailing zeros or exponent: ``Decimal("100000.0")`` -> ``"100000"``."""
    text = format(strike.normalize(), "f")
    return text.replace(".", "d")  # a dot would clash with FIX/REST tooling; "d" is the common stand-in


def option_symbol(underlying: str, expiry: date, strike: Decimal, option_type: str) -> str:
    return f"{underlying}-{expiry_code(expiry)}-{format_strike(strike)}-{option_type}"


def _last_friday(year: int, month: int) -> date:
    last = date(year, month, calendar.monthrange(year, month)[1])
    return last - timedelta(days=(last.weekday() - FRIDAY) % 7)


def _expiries(rules: OptionRules, as_of: date) -> list[tuple[date, str]]:
    """Expiry dates strictly after ``as_of`` with their widest tenor (quarterly > monthly > weekly)."""
    found: dict[date, str] = {}
    friday = as_of + timedelta(days=(FRIDAY - as_of.weekday()) % 7 or 7)
    for i in range(rules.weeklies):
        found[friday + timedelta(weeks=i)] = "weekly"
    year, month = as_of.year, as_of.month
    monthly = 0
    while monthly < rules.monthlies:
        day = _last_friday(year, month)
        if day > as_of:
            found[day] = "monthly"
            monthly += 1
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    year, month = as_of.year, as_of.month
    quarterly = 0
    while quarterly < rules.quarterlies:
        if month in QUARTER_MONTHS:
            day = _last_friday(year, month)
            if day > as_of:
                found[day] = "quarterly"
                quarterly += 1
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return sorted(found.items())


def _strikes(reference: Decimal, rule: LadderRule) -> list[Decimal]:
    centre = (reference / rule.step).to_integral_value() * rule.step
    strikes = (centre + rule.step * i for i in range(-rule.per_side, rule.per_side + 1))
    return [s for s in strikes if s > 0]


class Catalog:
    """The parsed catalog file. Pure: generates specs for a date, never touches venue state."""

    def __init__(self, data: CatalogFile) -> None:
        self.data = data

    @classmethod
    def load(cls, path: Path = DEFAULT_CATALOG_PATH) -> Catalog:
        """Parse and validate a catalog file; raises ``pydantic.ValidationError`` with every problem."""
        with path.open("rb") as handle:
            return cls(CatalogFile.model_validate(tomllib.load(handle)))

    @property
    def fee_account(self) -> str:
        return self.data.fee_account

    @property
    def underlyings(self) -> tuple[str, ...]:
        return tuple(self.data.underlyings)

    def perpetual(self, underlying: str) -> InstrumentSpec:
        rules = self.data.underlyings[underlying]
        fees = self.data.fees.perpetual
        return InstrumentSpec(
            symbol=f"{underlying}-PERP",
            kind=InstrumentKind.PERPETUAL,
            underlying=underlying,
            maker_fee=fees.maker,
            taker_fee=fees.taker,
            **_contract_fields(rules.perpetual),
        )

    def options(
        self, underlying: str, as_of: date, reference_price: Decimal | None = None
    ) -> list[InstrumentSpec]:
        """Every option series of ``underlying`` live on ``as_of``, strikes centred on the reference price."""
        rules = self.data.underlyings[underlying]
        opt = rules.options
        if opt is None:
            return []
        fees = self.data.fees.option
        ladders: dict[str, LadderRule] = {rule.tenor: rule for rule in opt.ladders}
        reference = reference_price if reference_price is not None else rules.reference_price
        specs: list[InstrumentSpec] = []
        for expiry, tenor in _expiries(opt, as_of):
            rule = ladders.get(tenor)
            if rule is None:
                continue
            expiry_at = datetime(expiry.year, expiry.month, expiry.day, opt.expiry_hour_utc, tzinfo=UTC)
            expiry_ns = int(expiry_at.timestamp()) * 1_000_000_000
            for strike in _strikes(reference, rule):
                for option_type in ("C", "P"):
                    specs.append(
                        InstrumentSpec(
                            symbol=option_symbol(underlying, expiry, strike, option_type),
                            kind=InstrumentKind.OPTION,
                            underlying=underlying,
                            maker_fee=fees.maker,
                            taker_fee=fees.taker,
                            premium_cap=fees.premium_cap,
                            strike=strike,
                            expiry_ns=expiry_ns,
                            option_type=option_type,
                            **_contract_fields(opt),
                        )
                    )
        return specs

    def instruments(
        self, as_of: date, reference_prices: Mapping[str, Decimal] | None = None
    ) -> list[InstrumentSpec]:
        """The full listing for ``as_of``: each underlying's perpetual, then its option series by expiry."""
        refs = reference_prices or {}
        specs: list[InstrumentSpec] = []
        for underlying in self.underlyings:
            specs.append(self.perpetual(underlying))
            specs.extend(self.options(underlying, as_of, refs.get(underlying)))
        return specs

    def roll(
        self,
        listed: Iterable[InstrumentSpec],
        as_of: date,
        now_ns: int,
        reference_prices: Mapping[str, Decimal] | None = None,
    ) -> tuple[list[InstrumentSpec], list[str]]:
        """What to list and delist at ``now_ns``: (new specs, symbols of series expired by now).

        A listed series is never re-listed with other terms; strikes of already-listed expiries stay.
        """
        listed = list(listed)
        listed_symbols = {spec.symbol for spec in listed}
        listed_expiries = {(spec.underlying, spec.expiry_ns) for spec in listed if spec.expiry_ns is not None}
        expired = [s.symbol for s in listed if s.expiry_ns is not None and s.expiry_ns <= now_ns]
        new = [
            spec
            for spec in self.instruments(as_of, reference_prices)
            if spec.symbol not in listed_symbols
            and (spec.expiry_ns is None or (spec.underlying, spec.expiry_ns) not in listed_expiries)
            and (spec.expiry_ns is None or spec.expiry_ns > now_ns)
        ]
        return new, expired


def _contract_fields(rules: ContractRules) -> dict[str, Any]:
    return {name: getattr(rules, name) for name in ContractRules.model_fields}
