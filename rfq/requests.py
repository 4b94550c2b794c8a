"""Wire values (decimal USD prices, coin sizes, leg ratios) to RFQ commands: one translation for REST,
WebSocket and FIX.

A package of legs (symbol, side, ratio) traded at a size of ``size`` coins has each leg's quantity
``size x ratio`` coins, which must be a whole number of the leg instrument's lots. Prices are USD per
coin, whole numbers of ticks. Package prices are USD for the whole package (the signed sum over legs
of quantity x price as the buyer pays it). Errors raise ``RequestError`` with a ``matching.reasons``
code, before any command is built.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from matching.commands import RfqCreate, RfqLeg, RfqQuote
from matching.instruments import Instrument
from matching.reasons import Reason, text
from rfq.desk import MAX_LEGS

MICRO = Decimal(1_000_000)
NANO = Decimal(1_000_000_000)
LIMIT = 2**62  # prices in ticks and micro-USDC stay well inside the journal's 64-bit integers


class RequestError(ValueError):
    def __init__(self, reason: int, detail: str = "") -> None:
        super().__init__(detail or text(reason))
        self.reason = reason
        self.detail = detail or text(reason)


@dataclass(frozen=True, slots=True)
class LegIn:
    symbol: str
    side: int  # +1 buy / -1 sell, as the package's buyer trades it
    ratio: Decimal = Decimal(1)


def _instrument(instruments: Mapping[str, Instrument], symbol: str) -> Instrument:
    inst = instruments.get(symbol)
    if inst is None:
        raise RequestError(Reason.UNKNOWN_INSTRUMENT, f"unknown instrument {symbol}")
    return inst


def leg_lots(inst: Instrument, coins: Decimal) -> int:
    lots = inst.qty_to_lots(coins) if coins > 0 else None
    if lots is None or lots <= 0:
        raise RequestError(
            Reason.INVALID_QTY_LOT,
            f"{inst.symbol}: {coins} is not a positive multiple of {inst.spec.lot_size}",
        )
    if lots > inst.max_qty_lots:  # refused here, before a value too large to journal reaches the core
        raise RequestError(Reason.QTY_ABOVE_MAX, f"{inst.symbol}: {coins} is above the maximum size")
    return lots


def price_ticks(inst: Instrument, price: Decimal) -> int:
    ticks = inst.price_to_ticks(price) if price > 0 else None
    if ticks is None or ticks <= 0 or ticks >= LIMIT:
        raise RequestError(
            Reason.INVALID_PRICE_TICK,
            f"{inst.symbol}: {price} is not a positive multiple of {inst.spec.tick_size}",
        )
    return ticks


def usd_to_micro(value: Decimal) -> int:
    try:
        micro = value * MICRO
        if micro != micro.to_integral_value():
            raise RequestError(Reason.INVALID_PRICE, f"{value}: at most 6 decimals")
        if abs(micro) >= LIMIT:
            raise RequestError(Reason.INVALID_PRICE, f"{value}: too large")
        return int(micro)
    except InvalidOperation as exc:
        raise RequestError(Reason.INVALID_PRICE, str(value)) from exc


def coins_to_nano(value: Decimal) -> int:
    return int(value * NANO)


def build_rfq(
    instruments: Mapping[str, Instrument],
    *,
    account: str,
    client_rfq_id: str,
    legs: Sequence[LegIn],
    size: Decimal,
    side: int,
    window_ns: int,
    validity_ns: int,
    hedge: LegIn | None = None,
    hedge_qty: Decimal | None = None,
    hedge_price: Decimal | None = None,
    counterparties: Sequence[str] = (),
    min_price: Decimal | None = None,
    max_price: Decimal | None = None,
) -> RfqCreate:
    if not 1 <= len(legs) <= MAX_LEGS:
        raise RequestError(Reason.RFQ_TOO_MANY_LEGS)
    rfq_legs = []
    for leg in legs:
        inst = _instrument(instruments, leg.symbol)
        if leg.ratio <= 0:
            raise RequestError(Reason.RFQ_INVALID, f"{leg.symbol}: ratio must be positive")
        rfq_legs.append(RfqLeg(leg.symbol, leg.side, leg_lots(inst, size * leg.ratio)))
    hedge_leg = None
    hedge_ticks = 0
    if hedge is not None:
        inst = _instrument(instruments, hedge.symbol)
        hedge_leg = RfqLeg(hedge.symbol, hedge.side, leg_lots(inst, hedge_qty or size * hedge.ratio))
        hedge_ticks = price_ticks(inst, hedge_price) if hedge_price is not None else 0
    return RfqCreate(
        account=account,
        client_rfq_id=client_rfq_id,
        legs=tuple(rfq_legs),
        window_ns=window_ns,
        validity_ns=validity_ns,
        side=side,
        hedge=hedge_leg,
        hedge_price_ticks=hedge_ticks,
        counterparties=tuple(sorted(set(counterparties))),
        min_price_micro=usd_to_micro(min_price) if min_price is not None else None,
        max_price_micro=usd_to_micro(max_price) if max_price is not None else None,
    )


def build_quote(
    instruments: Mapping[str, Instrument],
    leg_symbols: Sequence[str],
    *,
    account: str,
    rfq_id: int,
    client_quote_id: str,
    bid: Sequence[Decimal] | None,
    offer: Sequence[Decimal] | None,
    valid_ns: int = 0,
) -> RfqQuote:
    """Per-leg prices in the RFQ's leg order. A single-leg RFQ's package price is its leg price."""

    def ticks(prices: Sequence[Decimal] | None) -> tuple[int, ...]:
        if not prices:
            return ()
        if len(prices) != len(leg_symbols):
            raise RequestError(
                Reason.RFQ_INVALID, f"{len(leg_symbols)} leg prices expected, got {len(prices)}"
            )
        return tuple(
            price_ticks(_instrument(instruments, s), p) for s, p in zip(leg_symbols, prices, strict=True)
        )

    return RfqQuote(
        account=account,
        rfq_id=rfq_id,
        client_quote_id=client_quote_id,
        bid_ticks=ticks(bid),
        offer_ticks=ticks(offer),
        valid_ns=valid_ns,
    )


def micro_to_usd(value: int | None) -> str | None:
    return None if value is None else str(Decimal(value) / MICRO)
