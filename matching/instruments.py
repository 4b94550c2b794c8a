"""Instruments in integer units: the one place where the catalog's Decimals become ticks, lots and micro-USDC.

Invariants:
- A price is an integer number of ticks (> 0); a quantity an integer number of lots (> 0).
- ``micro_per_tick_lot`` is the cash value in micro-USDC of one tick times one lot, an exact integer:
  the value of a fill is ``price_ticks * qty_lots * micro_per_tick_lot`` with no rounding anywhere.
- Fee rates are integers in parts per million; fees round up to the micro-USDC (in the venue's favour).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from config.catalog import InstrumentKind, InstrumentSpec

MICRO = 1_000_000  # micro-USDC per USDC
PPM = 1_000_000


class InstrumentError(ValueError):
    """The spec cannot be represented exactly in integer units."""


def _exact_int(value: Decimal | Fraction, what: str, symbol: str) -> int:
    if Fraction(value).denominator != 1:
        raise InstrumentError(f"{symbol}: {what} = {value} is not a whole number")
    return int(value)


def _ppm(value: Decimal, what: str, symbol: str) -> int:
    return _exact_int(value * PPM, f"{what} in ppm", symbol)


@dataclass(slots=True, eq=False)
class Instrument:
    """A listed instrument with its live state (mark, halt). Mutated only by the sequencer thread."""

    id: int
    spec: InstrumentSpec = field(repr=False)
    symbol: str
    underlying: str
    is_option: bool
    tick_micro: int  # one tick in micro-USDC per coin
    lot: Fraction  # coins per lot, times the contract multiplier
    micro_per_tick_lot: int
    min_qty_lots: int
    max_qty_lots: int
    max_notional_micro: int
    band_ppm: int
    band_floor_ticks: int
    protection_ppm: int
    cb_move_ppm: int
    cb_window_ns: int
    cb_cooloff_ns: int
    maker_fee_ppm: int
    taker_fee_ppm: int
    premium_cap_ppm: int
    strike_micro: int
    expiry_ns: int
    is_call: bool
    active: bool = True
    halted: bool = False
    halted_until_ns: int = 0
    mark_ticks: int = 0  # 0 until the first MarkUpdate
    last_trade_ticks: int = 0
    index: UnderlyingIndex = field(default_factory=lambda: UnderlyingIndex(""))

    @classmethod
    def from_spec(cls, instrument_id: int, spec: InstrumentSpec, index: UnderlyingIndex) -> Instrument:
        """Convert a catalog spec; raises ``InstrumentError`` if a size is not exact in integer units."""
        sym = spec.symbol
        tick_micro = _exact_int(spec.tick_size * MICRO, "tick size in micro-USDC", sym)
        lot = Fraction(spec.lot_size) * Fraction(spec.multiplier)
        micro_per_tick_lot = _exact_int(Fraction(tick_micro) * lot, "tick x lot in micro-USDC", sym)
        if micro_per_tick_lot <= 0:
            raise InstrumentError(f"{sym}: tick x lot must be worth at least one micro-USDC")
        min_lots = _exact_int(Fraction(spec.min_qty) / Fraction(spec.lot_size), "min qty in lots", sym)
        max_lots = _exact_int(Fraction(spec.max_qty) / Fraction(spec.lot_size), "max qty in lots", sym)
        if not 0 < min_lots <= max_lots:
            raise InstrumentError(f"{sym}: need 0 < min qty <= max qty")
        is_option = spec.kind is InstrumentKind.OPTION
        if is_option and (spec.strike is None or spec.expiry_ns is None or spec.option_type is None):
            raise InstrumentError(f"{sym}: an option needs strike, expiry and type")
        return cls(
            id=instrument_id,
            spec=spec,
            symbol=sym,
            underlying=spec.underlying,
            is_option=is_option,
            tick_micro=tick_micro,
            lot=lot,
            micro_per_tick_lot=micro_per_tick_lot,
            min_qty_lots=min_lots,
            max_qty_lots=max_lots,
            max_notional_micro=_exact_int(spec.max_notional * MICRO, "max notional", sym),
            band_ppm=_ppm(spec.price_band, "price band", sym),
            band_floor_ticks=int(spec.price_band_floor / spec.tick_size),
            protection_ppm=_ppm(spec.market_protection, "market protection", sym),
            cb_move_ppm=_ppm(spec.circuit_breaker_move, "circuit breaker move", sym),
            cb_window_ns=spec.circuit_breaker_window_s * 1_000_000_000,
            cb_cooloff_ns=spec.circuit_breaker_cooloff_s * 1_000_000_000,
            maker_fee_ppm=_ppm(spec.maker_fee, "maker fee", sym),
            taker_fee_ppm=_ppm(spec.taker_fee, "taker fee", sym),
            premium_cap_ppm=_ppm(spec.premium_cap, "premium cap", sym) if spec.premium_cap else 0,
            strike_micro=_exact_int((spec.strike or Decimal(0)) * MICRO, "strike", sym),
            expiry_ns=spec.expiry_ns or 0,
            is_call=spec.option_type == "C",
            index=index,
        )

    # -- conversions for front doors ---------------------------------------------------------------

    def price_to_ticks(self, price: Decimal) -> int | None:
        """Ticks for a decimal price, or None if it is not a whole number of ticks."""
        ticks = price / self.spec.tick_size
        return int(ticks) if ticks == ticks.to_integral_value() else None

    def ticks_to_price(self, ticks: int) -> Decimal:
        return self.spec.tick_size * ticks

    def qty_to_lots(self, qty: Decimal) -> int | None:
        """Lots for a decimal quantity in coins, or None if it is not a whole number of lots."""
        lots = qty / self.spec.lot_size
        return int(lots) if lots == lots.to_integral_value() else None

    def lots_to_qty(self, lots: int) -> Decimal:
        return self.spec.lot_size * lots

    # -- money ------------------------------------------------------------------------------------

    def value_micro(self, price_ticks: int, qty_lots: int) -> int:
        """Premium (options) or notional (perpetuals) of a quantity at a price, in micro-USDC."""
        return price_ticks * qty_lots * self.micro_per_tick_lot

    def underlying_notional_micro(self, qty_lots: int) -> int:
        """Index price times coins; falls back to the strike before the first index mark (options)."""
        ref = self.index.price_micro or self.strike_micro or self.mark_ticks * self.tick_micro
        lot = self.lot
        return ref * qty_lots * lot.numerator // lot.denominator

    def fee_micro(self, price_ticks: int, qty_lots: int, maker: bool) -> int:
        """Fee of one fill, rounded up. Options: rate x underlying notional, capped at a share of premium."""
        rate = self.maker_fee_ppm if maker else self.taker_fee_ppm
        value = price_ticks * qty_lots * self.micro_per_tick_lot
        if not self.is_option:
            return -((-value * rate) // PPM)
        fee = -((-self.underlying_notional_micro(qty_lots) * rate) // PPM)
        cap = -((-value * self.premium_cap_ppm) // PPM)
        return min(fee, cap)


@dataclass(slots=True, eq=False)
class UnderlyingIndex:
    """The settlement index of an underlying (e.g. BTC-USD), shared by all its instruments."""

    underlying: str
    price_micro: int = 0  # 0 until the first MarkUpdate
    updated_ns: int = 0
