"""Accounts (read) and order entry (place, replace, cancel): the same commands FIX uses.

Prices and quantities travel as decimal strings in the instrument's units (USD, coins); a value that
is not a whole number of ticks or lots is refused (400 invalid_price_tick / invalid_qty_lot). A
request is answered once its command is journaled; business rejects map to 4xx by reason code.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from matching.commands import CancelOrder, Command, NewOrder, ReplaceOrder
from matching.events import CancelRejected, Event, OrderAccepted, OrderRejected
from matching.instruments import Instrument
from matching.reasons import Reason
from venue.api.deps import ApiError, IdPath, rate_limit, reader, trader, venue_of
from venue.api.errors import reject
from venue.api.keys import ApiKey
from venue.api.market import instrument_of
from venue.readmodel import OrderView

router = APIRouter(tags=["trading"])
Caller = Annotated[ApiKey | None, Depends(rate_limit)]

SIDES = {"buy": 1, "sell": -1}
TYPES = {"limit": 1, "market": 2, "stop_market": 3, "stop_limit": 4}
TIFS = {"gtc": 1, "ioc": 2, "fok": 3, "gtd": 4}
TRIGGERS = {"mark": 1, "last": 2}
STP = {"cancel_newest": 1, "cancel_oldest": 2, "cancel_both": 3, "decrement_and_cancel": 4}


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account: str = Field(min_length=1, max_length=64)
    client_order_id: str = Field(default="", max_length=64)
    symbol: str = Field(min_length=1, max_length=64)
    side: Literal["buy", "sell"]
    type: Literal["limit", "market", "stop_market", "stop_limit"] = "limit"
    quantity: Decimal = Field(gt=0, description="in coins, a whole number of lots")
    price: Decimal | None = Field(default=None, gt=0, description="USD; limit and stop-limit orders")
    stop_price: Decimal | None = Field(default=None, gt=0, description="USD; stop orders")
    time_in_force: Literal["gtc", "ioc", "fok", "gtd"] = "gtc"
    expire_time_ns: int | None = Field(default=None, ge=0, lt=2**63, description="GTD: ns since the epoch")
    post_only: bool = False
    reduce_only: bool = False
    trigger: Literal["mark", "last"] = "mark"
    stp: Literal["cancel_newest", "cancel_oldest", "cancel_both", "decrement_and_cancel"] | None = None


class ReplaceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account: str = Field(min_length=1, max_length=64)
    client_order_id: str = Field(default="", max_length=64, description="the new client order id")
    quantity: Decimal = Field(gt=0, description="new total quantity, including what is filled")
    price: Decimal | None = Field(default=None, gt=0)
    stop_price: Decimal | None = Field(default=None, gt=0)


def ticks(inst: Instrument, value: Decimal | None) -> int:
    if value is None:
        return 0
    result = inst.price_to_ticks(value)
    if result is None:
        raise ApiError(
            reject(Reason.INVALID_PRICE_TICK, f"{value} is not a multiple of {inst.spec.tick_size}")
        )
    return result


def lots(inst: Instrument, value: Decimal) -> int:
    result = inst.qty_to_lots(value)
    if result is None or result <= 0:
        raise ApiError(reject(Reason.INVALID_QTY_LOT, f"{value} is not a multiple of {inst.spec.lot_size}"))
    return result


def average_price(inst: Instrument, ticks_total: int, units: int) -> str | None:
    """``ticks_total / units`` ticks as an exact USD price; None when ``units`` is 0.

    Orders: cumulative price x lots over lots filled. Positions: entry cost in micro-USDC over
    lots x the micro-USDC value of one tick-lot.
    """
    if not units:
        return None
    return str(inst.spec.tick_size * Decimal(ticks_total) / Decimal(units))


def order_json(inst: Instrument | None, view: OrderView) -> dict[str, Any]:
    def price(t: int) -> str | None:
        return str(inst.ticks_to_price(t)) if inst and t else None

    def qty(lots_: int) -> str:
        return str(inst.lots_to_qty(lots_)) if inst else str(lots_)

    return {
        "order_id": view.order_id, "client_order_id": view.client_order_id, "symbol": view.symbol,
        "side": "buy" if view.side > 0 else "sell", "price": price(view.price_ticks),
        "stop_price": price(view.stop_price_ticks), "quantity": qty(view.qty_lots),
        "open_quantity": qty(view.leaves_qty), "filled_quantity": qty(view.cum_qty),
        "average_price": average_price(inst, view.cum_value, view.cum_qty) if inst else None,
        "post_only": view.post_only, "reduce_only": view.reduce_only, "triggered": view.triggered,
    }  # fmt: skip


async def run(request: Request, command: Command) -> tuple[int, list[Event]]:
    record, events = await venue_of(request).runtime.submit(command)
    return record.seq, events


def answer(seq: int, events: list[Event]) -> dict[str, Any]:
    return {"seq": seq, "events": msgspec.to_builtins(events)}


@router.get("/accounts/{account}")
def account(request: Request, account: str, key: Caller) -> dict[str, Any]:
    """Collateral (micro-USDC and USDC), positions and open orders, as of the last durable command."""
    reader(key, account)
    model = venue_of(request).readmodel
    view = model.accounts.get(account)
    if view is None:
        raise ApiError(reject(Reason.UNKNOWN_ACCOUNT, f"unknown account {account}"))
    instruments = venue_of(request).sequencer.instruments
    positions = []
    for symbol, (qty, cost, realised) in sorted(view.positions.items()):
        if qty == 0 and realised == 0:
            continue
        inst = instruments.get(symbol)
        positions.append(
            {
                "symbol": symbol,
                "quantity": str(inst.lots_to_qty(qty)) if inst else str(qty),
                "average_entry_price": average_price(inst, cost, qty * inst.micro_per_tick_lot)
                if inst
                else None,
                "cost_micro": cost,
                "realised_pnl_micro": realised,
            }
        )
    return {
        "account": account,
        "seq": model.last_seq,
        "collateral_micro": view.collateral_micro,
        "collateral": str(Decimal(view.collateral_micro) / 1_000_000),
        "positions": positions,
        "open_orders": [order_json(instruments.get(o.symbol), o) for o in view.orders.values()],
    }


@router.post("/orders")
async def place(request: Request, body: OrderIn, key: Caller) -> Any:
    """Place an order; answered with its events once journaled (4xx with a reason when rejected)."""
    trader(key, body.account)
    inst = instrument_of(request, body.symbol)
    command = NewOrder(
        account=body.account,
        client_order_id=body.client_order_id,
        symbol=body.symbol,
        side=SIDES[body.side],
        qty_lots=lots(inst, body.quantity),
        price_ticks=ticks(inst, body.price),
        order_type=TYPES[body.type],
        tif=TIFS[body.time_in_force],
        expire_ns=body.expire_time_ns or 0,
        post_only=body.post_only,
        reduce_only=body.reduce_only,
        stop_price_ticks=ticks(inst, body.stop_price),
        trigger_by=TRIGGERS[body.trigger],
        stp_mode=STP[body.stp] if body.stp else 0,
    )
    seq, events = await run(request, command)
    rejected = next((e for e in events if isinstance(e, OrderRejected)), None)
    if rejected is not None:
        return reject(rejected.reason, rejected.text, seq=seq)
    accepted = next(e for e in events if isinstance(e, OrderAccepted))
    return {"order_id": accepted.order_id, **answer(seq, events)}


@router.post("/orders/{order_id}/replace")
async def replace(request: Request, order_id: IdPath, body: ReplaceIn, key: Caller) -> Any:
    trader(key, body.account)
    view = venue_of(request).readmodel.orders.get(order_id)
    if view is None or view.account != body.account:
        raise ApiError(reject(Reason.ORDER_NOT_FOUND, f"no open order {order_id} for {body.account}"))
    inst = instrument_of(request, view.symbol)
    command = ReplaceOrder(
        account=body.account,
        order_id=order_id,
        client_order_id=body.client_order_id,
        qty_lots=lots(inst, body.quantity),
        price_ticks=ticks(inst, body.price),
        stop_price_ticks=ticks(inst, body.stop_price),
    )
    return await _cancel_like(request, command)


@router.delete("/orders/{order_id}")
async def cancel(request: Request, order_id: IdPath, account: str, key: Caller) -> Any:
    trader(key, account)
    return await _cancel_like(request, CancelOrder(account=account, order_id=order_id))


async def _cancel_like(request: Request, command: Command) -> Any:
    seq, events = await run(request, command)
    rejected = next((e for e in events if isinstance(e, CancelRejected)), None)
    if rejected is not None:
        return reject(rejected.reason, rejected.text, seq=seq)
    return answer(seq, events)


@router.get("/orders/{order_id}")
async def order_status(request: Request, order_id: IdPath, account: str, key: Caller) -> Any:
    """An order in any state (open, filled, cancelled, expired), from the derived records."""
    reader(key, account)
    row = await venue_of(request).records.order(order_id)
    if row is None or row["account"] != account:
        raise ApiError(reject(Reason.ORDER_NOT_FOUND, f"no order {order_id} for {account}"))
    return row


@router.get("/accounts/{account}/trades")
async def account_trades(
    request: Request,
    account: str,
    key: Caller,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: Annotated[
        int | None, Query(ge=0, lt=2**63, description="page: trades with a smaller trade_id")
    ] = None,
) -> list[dict[str, Any]]:
    """The account's trade history, newest first, from the derived records."""
    reader(key, account)
    return await venue_of(request).records.trades_of(account, limit, before)
