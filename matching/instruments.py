"""Instruments in integer units: the one place where the catalog's Decimals become ticks, lots and micro-USDC.

Invariants:
- A price is an integer number of ticks (> 0); a quantity an integer number of lots (> 0).
- ``micro_per_tick_lot`` is the cash value in micro-USDC of one tick times one lot, an exact integer:
  the value of a fill is ``price_ticks * qty_lots * micro_per_tick_lot`` with no rounding anywhere.
- Fee rates are integers in parts per million; fees round up to the micro-USDC (in the venue's favour).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Final

from config.catalog import InstrumentKind, InstrumentSpec

MICRO: Final = 1_000_000  # micro-USDC per USDC
PPM: Final = 1_000_000


class InstrumentError(ValueError):
    """The spec cannot be represented exactly in integer units."""


def _exact_int(value: Decimal | Fraction, what: str, symbol: str) -> int:
    if Fraction(value).denominator != 1:
        raise InstrumentError(f"{symbol}: {what} = {value} is not a whole number")
    return int(value)


def _ppm(value: Decimal, what: str, symbol: str) -> int:
    return _exact_int(value * PPM, f"{what} in ppm", symbol)


class Instrument:
    """A listed instrument with its live state (mark, halt). Mutated only by the sequencer thread.

    Built from a catalog spec; raises ``InstrumentError`` if a size is not exact in integer units.
    """

    __slots__ = (
        "active", "band_floor_ticks", "band_ppm", "cb_cooloff_ns", "cb_move_ppm", "cb_window_ns", "expiry_ns",
        "halted", "halted_until_ns", "id", "index", "is_call", "is_option", "last_trade_ticks", "lot_den",
        "lot_num", "maker_fee_ppm", "mark_ticks", "max_notional_micro", "max_qty_lots", "micro_per_tick_lot",
        "min_qty_lots", "premium_cap_ppm", "protection_ppm", "spec", "strike_micro", "symbol",
        "taker_fee_ppm", "tick_micro", "underlying",
    )  # fmt: skip

    id: int
    spec: InstrumentSpec
    symbol: str
    underlying: str
    index: UnderlyingIndex
    is_option: bool
    tick_micro: int  # one tick in micro-USDC per coin
    lot_num: int  # coins per lot (times the contract multiplier) = lot_num / lot_den
    lot_den: int
    micro_per_tick_lot: int  # one tick x one lot in micro-USDC
    min_qty_lots: int
    max_qty_lots: int
    max_notional_micro: int
    band_ppm: int  # fat-finger band around the mark, parts per million
    band_floor_ticks: int  # the band is never narrower than this
    protection_ppm: int  # market orders fill within this distance of the mark or touch
    cb_move_ppm: int  # circuit breaker: largest move within the window
    cb_window_ns: int
    cb_cooloff_ns: int
    maker_fee_ppm: int  # of trade notional (perpetuals) or underlying notional (options); may be < 0
    taker_fee_ppm: int
    premium_cap_ppm: int  # options: a fee never exceeds this share of the premium
    strike_micro: int  # options: 0 otherwise
    expiry_ns: int  # options: 0 otherwise
    is_call: bool
    active: bool  # False once delisted
    halted: bool
    halted_until_ns: int  # 0: until resumed by command
    mark_ticks: int  # 0 until the first MarkUpdate
    last_trade_ticks: int  # 0 until the first trade

    def __init__(self, instrument_id: int, spec: InstrumentSpec, index: UnderlyingIndex) -> None:
        sym = spec.symbol
        self.id = instrument_id
        self.spec = spec
        self.symbol = sym
        self.underlying = spec.underlying
        self.index = index
        self.is_option = spec.kind is InstrumentKind.OPTION
        if self.is_option and (spec.strike is None or spec.expiry_ns is None or spec.option_type is None):
            raise InstrumentError(f"{sym}: an option needs strike, expiry and type")
        self.tick_micro = _exact_int(spec.tick_size * MICRO, "tick size in micro-USDC", sym)
        lot = Fraction(spec.lot_size) * Fraction(spec.multiplier)
        self.lot_num, self.lot_den = lot.numerator, lot.denominator
        self.micro_per_tick_lot = _exact_int(Fraction(self.tick_micro) * lot, "tick x lot in micro-USDC", sym)
        if self.micro_per_tick_lot <= 0:
            raise InstrumentError(f"{sym}: tick x lot must be worth at least one micro-USDC")
        self.min_qty_lots = _exact_int(
            Fraction(spec.min_qty) / Fraction(spec.lot_size), "min qty in lots", sym
        )
        self.max_qty_lots = _exact_int(
            Fraction(spec.max_qty) / Fraction(spec.lot_size), "max qty in lots", sym
        )
        if not 0 < self.min_qty_lots <= self.max_qty_lots:
            raise InstrumentError(f"{sym}: need 0 < min qty <= max qty")
        self.max_notional_micro = _exact_int(spec.max_notional * MICRO, "max notional", sym)
        self.band_ppm = _ppm(spec.price_band, "price band", sym)
        self.band_floor_ticks = int(spec.price_band_floor / spec.tick_size)
        self.protection_ppm = _ppm(spec.market_protection, "market protection", sym)
        self.cb_move_ppm = _ppm(spec.circuit_breaker_move, "circuit breaker move", sym)
        self.cb_window_ns = spec.circuit_breaker_window_s * 1_000_000_000
        self.cb_cooloff_ns = spec.circuit_breaker_cooloff_s * 1_000_000_000
        self.maker_fee_ppm = _ppm(spec.maker_fee, "maker fee", sym)
        self.taker_fee_ppm = _ppm(spec.taker_fee, "taker fee", sym)
        self.premium_cap_ppm = _ppm(spec.premium_cap, "premium cap", sym) if spec.premium_cap else 0
        self.strike_micro = _exact_int((spec.strike or Decimal(0)) * MICRO, "strike", sym)
        self.expiry_ns = spec.expiry_ns or 0
        self.is_call = spec.option_type == "C"
        self.active = True
        self.halted = False
        self.halted_until_ns = 0
        self.mark_ticks = 0
        self.last_trade_ticks = 0

    def __repr__(self) -> str:
        return f"Instrument({self.id}, {self.symbol}, mark={self.mark_ticks}, halted={self.halted})"

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

    def underlying_notional_micro(self, qty_lots: int) -> int:
        """Index price times coins; falls back to the strike before the first index mark (options)."""
        ref = self.index.price_micro or self.strike_micro or self.mark_ticks * self.tick_micro
        return ref * qty_lots * self.lot_num // self.lot_den

    def fee_micro(self, price_ticks: int, qty_lots: int, maker: bool) -> int:
        """Fee of one fill, rounded up. Options: rate x underlying notional, capped at a share of premium."""
        rate = self.maker_fee_ppm if maker else self.taker_fee_ppm
        value = price_ticks * qty_lots * self.micro_per_tick_lot
        if not self.is_option:
            return -((-value * rate) // PPM)
        fee = -((-self.underlying_notional_micro(qty_lots) * rate) // PPM)
        cap = -((-value * self.premium_cap_ppm) // PPM)
        return min(fee, cap)


class UnderlyingIndex:
    """The settlement index of an underlying (e.g. BTC-USD), shared by all its instruments."""

    __slots__ = ("price_micro", "underlying", "updated_ns")

    underlying: str
    price_micro: int  # 0 until the first MarkUpdate
    updated_ns: int

    def __init__(self, underlying: str) -> None:
        self.underlying = underlying
        self.price_micro = 0
        self.updated_ns = 0
