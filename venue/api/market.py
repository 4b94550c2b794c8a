"""Public market data: instruments, order book snapshots, recent trades, tickers (no key needed)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from matching.instruments import MICRO, Instrument
from matching.reasons import Reason
from venue.api.deps import ApiError, rate_limit, venue_of
from venue.api.errors import reject
from venue.readmodel import ReadModel
from venue.wiring import Venue

router = APIRouter(tags=["market data"], dependencies=[Depends(rate_limit)])


def instrument_of(request: Request, symbol: str) -> Instrument:
    inst = venue_of(request).sequencer.instruments.get(symbol)
    if inst is None:
        raise ApiError(reject(Reason.UNKNOWN_INSTRUMENT, f"unknown instrument {symbol}"))
    return inst


def describe(inst: Instrument) -> dict[str, Any]:
    spec = inst.spec
    out: dict[str, Any] = {
        "symbol": inst.symbol,
        "kind": str(spec.kind),
        "underlying": inst.underlying,
        "tick_size": str(spec.tick_size),
        "lot_size": str(spec.lot_size),
        "multiplier": str(spec.multiplier),
        "min_qty": str(spec.min_qty),
        "max_qty": str(spec.max_qty),
        "maker_fee": str(spec.maker_fee),
        "taker_fee": str(spec.taker_fee),
        "active": inst.active,
        "halted": inst.halted,
    }
    if inst.is_option:
        out |= {"strike": str(spec.strike), "option_type": spec.option_type, "expiry_ns": spec.expiry_ns}
    return out


def levels(inst: Instrument, rows: list[tuple[int, int, int]]) -> list[list[Any]]:
    return [[str(inst.ticks_to_price(p)), str(inst.lots_to_qty(q)), n] for p, q, n in rows]


@router.get("/instruments")
def instruments(
    request: Request, underlying: str | None = None, kind: str | None = None, active: bool = True
) -> list[dict[str, Any]]:
    """Listed instruments, filtered by underlying (BTC, ETH), kind (perpetual, option) and activity."""
    out = []
    for inst in venue_of(request).sequencer.instruments.values():
        if underlying and inst.underlying != underlying:
            continue
        if kind and str(inst.spec.kind) != kind:
            continue
        if active and not inst.active:
            continue
        out.append(describe(inst))
    return out


@router.get("/instruments/{symbol}")
def instrument(request: Request, symbol: str) -> dict[str, Any]:
    return describe(instrument_of(request, symbol))


@router.get("/book/{symbol}")
def book(request: Request, symbol: str, depth: Annotated[int, Query(ge=1, le=500)] = 20) -> dict[str, Any]:
    """Best ``depth`` levels per side as [price, quantity, orders]; ``delta_seq`` links it to the stream."""
    inst = instrument_of(request, symbol)
    model: ReadModel = venue_of(request).readmodel
    view = model.book(symbol)
    bids, asks = view.depth(depth)
    return {"symbol": symbol, "delta_seq": view.delta_seq, "seq": model.last_seq,
            "bids": levels(inst, bids), "asks": levels(inst, asks)}  # fmt: skip


@router.get("/trades/{symbol}")
def trades(
    request: Request, symbol: str, limit: Annotated[int, Query(ge=1, le=1000)] = 50
) -> list[dict[str, Any]]:
    """The most recent trades, newest first; RFQ block trades are flagged ``block`` (side: the taker's)."""
    inst = instrument_of(request, symbol)
    model = venue_of(request).readmodel
    book = [
        (t.trade_id, t.price_ticks, t.qty_lots, t.aggressor_side, False) for t in model.trades.get(symbol, ())
    ]
    block = [
        (t.trade_id, t.price_ticks, t.qty_lots, t.side, True) for t in model.block_trades.get(symbol, ())
    ]
    recent = sorted(book[-limit:] + block[-limit:])[-limit:]
    return [
        {
            "trade_id": trade_id,
            "price": str(inst.ticks_to_price(price)),
            "quantity": str(inst.lots_to_qty(qty)),
            "aggressor": "buy" if side > 0 else "sell",
            "block": is_block,
        }
        for trade_id, price, qty, side, is_block in reversed(recent)
    ]


def ticker_for(venue: Venue, inst: Instrument) -> dict[str, Any]:
    """Top of book, last trade, mark and index, from the read model (durable state only)."""
    symbol = inst.symbol
    model = venue.readmodel
    bids, asks = model.book(symbol).depth(1)
    recent = model.trades.get(symbol)
    last = recent[-1] if recent else None
    index = model.index_micro.get(inst.underlying, 0)
    return {
        "symbol": symbol,
        "best_bid": str(inst.ticks_to_price(bids[0][0])) if bids else None,
        "best_bid_qty": str(inst.lots_to_qty(bids[0][1])) if bids else None,
        "best_ask": str(inst.ticks_to_price(asks[0][0])) if asks else None,
        "best_ask_qty": str(inst.lots_to_qty(asks[0][1])) if asks else None,
        "last_price": str(inst.ticks_to_price(last.price_ticks)) if last else None,
        "mark_price": str(inst.ticks_to_price(inst.mark_ticks)) if inst.mark_ticks else None,
        "index_price": str(index / MICRO) if index else None,
        "recent_volume": str(inst.lots_to_qty(sum(t.qty_lots for t in recent))) if recent else "0",
        "halted": symbol in model.halted,
        "seq": model.last_seq,
    }


@router.get("/ticker/{symbol}")
def ticker(request: Request, symbol: str) -> dict[str, Any]:
    return ticker_for(venue_of(request), instrument_of(request, symbol))
