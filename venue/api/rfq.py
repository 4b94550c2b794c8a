"""RFQ over REST: takers ask and accept, makers quote (also over the WebSocket), both set protections.

Takers (role trader or market_maker, acting for the account): ``POST /rfq``, ``GET /rfq/{id}`` (the
request and, once the window has closed, the anonymous quote board), ``POST /rfq/{id}/accept``,
``DELETE /rfq/{id}``. Makers (role market_maker): ``GET /rfq`` (requests they may quote),
``POST /rfq/{id}/quotes``, ``DELETE /rfq/{id}/quotes``, ``DELETE /rfq/quotes`` (all, or one
underlying), ``PUT``/``DELETE`` ``/accounts/{account}/mmp/{underlying}``. Events stream on the WebSocket
channel ``rfq@{account}``. Prices are USD decimals (per coin for legs, the whole package for package
prices), sizes coins; answers carry both decimals and the integers the venue journals.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

import msgspec
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from matching.commands import Command, MmpReset, MmpSet, RfqAccept, RfqCancel, RfqQuoteCancel
from matching.events import (
    Event,
    MmpUpdated,
    QuoteClosed,
    QuoteEntered,
    QuoteRejected,
    RfqAcceptRejected,
    RfqClosed,
    RfqExecuted,
    RfqOpened,
    RfqRejected,
)
from matching.reasons import Reason
from rfq.requests import (
    LegIn,
    RequestError,
    build_quote,
    build_rfq,
    coins_to_nano,
    micro_to_usd,
    usd_to_micro,
)
from venue.api.deps import ApiError, IdPath, rate_limit, reader, require, trader, venue_of
from venue.api.errors import reject
from venue.api.keys import ApiKey, Role
from venue.wiring import Venue

router = APIRouter(tags=["rfq"])
Caller = Annotated[ApiKey | None, Depends(rate_limit)]
MAKER_ROLES = frozenset({Role.MARKET_MAKER, Role.ADMIN})
SIDES = {"buy": 1, "sell": -1}
MS = 1_000_000


class LegBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    symbol: str = Field(min_length=1, max_length=64)
    side: Literal["buy", "sell"]
    ratio: Decimal = Field(default=Decimal(1), gt=0, le=1000)


class HedgeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    symbol: str = Field(min_length=1, max_length=64)
    side: Literal["buy", "sell"]
    quantity: Decimal = Field(gt=0, description="coins")
    price: Decimal | None = Field(default=None, gt=0, description="USD; the perpetual's mark when omitted")


class RfqBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account: str = Field(min_length=1, max_length=64)
    client_rfq_id: str = Field(default="", max_length=64)
    legs: list[LegBody] = Field(min_length=1, max_length=20)
    size: Decimal = Field(gt=0, description="coins per unit of ratio")
    side: Literal["buy", "sell", "two_way"] = "two_way"
    hedge: HedgeBody | None = None
    counterparties: list[str] = Field(default=[], max_length=100, description="maker accounts; empty: all")
    min_price: Decimal | None = Field(default=None, description="USD, whole package")
    max_price: Decimal | None = Field(default=None, description="USD, whole package")
    window_ms: int | None = Field(default=None, ge=50, le=10_000)
    validity_s: int | None = Field(default=None, ge=1, le=3_600)


class QuoteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account: str = Field(min_length=1, max_length=64)
    client_quote_id: str = Field(default="", max_length=64)
    bid: list[Decimal] | None = Field(default=None, max_length=20, description="USD per leg, in leg order")
    offer: list[Decimal] | None = Field(default=None, max_length=20)
    valid_ms: int = Field(default=0, ge=0, le=3_600_000, description="0: until the RFQ closes")


class AcceptBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account: str = Field(min_length=1, max_length=64)
    quote_id: int = Field(gt=0, lt=2**63)
    side: Literal["buy", "sell"]
    limit_price: Decimal | None = Field(default=None, description="USD, whole package: the worst accepted")
    client_order_id: str = Field(default="", max_length=64)


class MmpBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    interval_ms: int = Field(gt=0, le=86_400_000)
    quantity_limit: Decimal = Field(default=Decimal(0), ge=0, description="coins; 0: none")
    delta_limit: Decimal = Field(default=Decimal(0), ge=0, description="coins of delta; 0: none")
    frozen_ms: int = Field(default=0, ge=0, le=86_400_000, description="cool-off; 0: until reset")


async def submit(venue: Venue, command: Command) -> tuple[int, list[Event]]:
    record, events = await venue.runtime.submit(command)
    return record.seq, events


def refused(error: RequestError) -> ApiError:
    return ApiError(reject(error.reason, error.detail))


def first_of(events: list[Event], *kinds: type) -> Any:
    return next((e for e in events if isinstance(e, kinds)), None)


def refusal(events: list[Event], kind: type, seq: int) -> JSONResponse | None:
    """The 4xx answer when the desk refused the command with an event of ``kind``, else None."""
    rejected = first_of(events, kind)
    return reject(rejected.reason, rejected.text, seq=seq) if rejected is not None else None


async def withdraw_quotes(venue: Venue, account: str, rfq_id: int = 0, underlying: str = "") -> Any:
    """Shared by REST and the WebSocket: the account's quote on ``rfq_id`` (0: all its quotes, on
    ``underlying`` when given); answered with how many closed, or the refusal."""
    command = RfqQuoteCancel(account=account, rfq_id=rfq_id, underlying=underlying)
    seq, events = await submit(venue, command)
    no = refusal(events, QuoteRejected, seq)
    if no is not None:
        return no
    return {"seq": seq, "cancelled": sum(1 for e in events if isinstance(e, QuoteClosed))}


@router.post("/rfq")
async def create(request: Request, body: RfqBody, key: Caller) -> Any:
    """Ask for quotes; answered once journaled with the RFQ id and when its window ends."""
    trader(key, body.account)
    venue = venue_of(request)
    settings = venue.settings
    hedge = body.hedge
    try:
        command = build_rfq(
            venue.sequencer.instruments,
            account=body.account,
            client_rfq_id=body.client_rfq_id,
            legs=[LegIn(leg.symbol, SIDES[leg.side], leg.ratio) for leg in body.legs],
            size=body.size,
            side={"buy": 1, "sell": -1, "two_way": 0}[body.side],
            window_ns=(body.window_ms or settings.rfq_window_ms) * MS,
            validity_ns=(body.validity_s or settings.rfq_validity_s) * 1_000_000_000,
            hedge=LegIn(hedge.symbol, SIDES[hedge.side]) if hedge else None,
            hedge_qty=hedge.quantity if hedge else None,
            hedge_price=hedge.price if hedge else None,
            counterparties=body.counterparties,
            min_price=body.min_price,
            max_price=body.max_price,
        )
    except RequestError as exc:
        raise refused(exc) from None
    seq, events = await submit(venue, command)
    no = refusal(events, RfqRejected, seq)
    if no is not None:
        return no
    opened: RfqOpened = first_of(events, RfqOpened)
    return {
        "seq": seq,
        "rfq_id": opened.rfq_id,
        "window_end_ns": opened.window_end_ns,
        "expire_ns": opened.expire_ns,
        "rfq": msgspec.to_builtins(opened),
    }


@router.delete("/rfq/quotes")
async def cancel_all_quotes(
    request: Request, account: str, key: Caller, underlying: Annotated[str, Query(max_length=16)] = ""
) -> Any:
    """Withdraw every live quote of the account (on one underlying, when given)."""
    require(key, MAKER_ROLES, account)
    return await withdraw_quotes(venue_of(request), account, underlying=underlying)


@router.get("/rfq")
def open_requests(request: Request, account: str, key: Caller) -> list[dict[str, Any]]:
    """RFQs ``account`` may quote (as a maker) or has open (as a taker)."""
    reader(key, account)
    board = venue_of(request).rfq_board
    return [
        board.summary(rfq, rfq.taker == account)
        for rfq in board.open.values()
        if rfq.taker == account or rfq.admits(account)
    ]


@router.get("/rfq/{rfq_id}")
def show(request: Request, rfq_id: IdPath, account: str, key: Caller) -> dict[str, Any]:
    """The RFQ; for its taker, the anonymous quote board once the window has closed."""
    reader(key, account)
    rfq = venue_of(request).rfq_board.open.get(rfq_id)
    if rfq is None or not (rfq.taker == account or rfq.admits(account)):
        raise ApiError(reject(Reason.RFQ_NOT_FOUND, f"no open RFQ {rfq_id} for {account}"))
    data = venue_of(request).rfq_board.summary(rfq, rfq.taker == account)
    if rfq.taker == account:
        board = rfq.board
        data["window_closed"] = board is not None
        if board is not None:
            data.update(
                best_bid_quote_id=board.best_bid_quote_id or None,
                best_bid=micro_to_usd(board.best_bid_micro),
                best_offer_quote_id=board.best_offer_quote_id or None,
                best_offer=micro_to_usd(board.best_offer_micro),
                quotes=[
                    {
                        "quote_id": q.quote_id,
                        "bid": micro_to_usd(q.bid_micro),
                        "offer": micro_to_usd(q.offer_micro),
                        "bid_legs_ticks": list(q.bid_ticks),
                        "offer_legs_ticks": list(q.offer_ticks),
                        "expire_ns": q.expire_ns,
                    }
                    for q in board.quotes
                ],
            )
    return data


@router.post("/rfq/{rfq_id}/accept")
async def accept(request: Request, rfq_id: IdPath, body: AcceptBody, key: Caller) -> Any:
    """Take a quote at its price (or refuse if worse than ``limit_price``); all legs execute at once."""
    trader(key, body.account)
    try:
        limit = usd_to_micro(body.limit_price) if body.limit_price is not None else None
    except RequestError as exc:
        raise refused(exc) from None
    command = RfqAccept(
        account=body.account,
        rfq_id=rfq_id,
        quote_id=body.quote_id,
        side=SIDES[body.side],
        limit_price_micro=limit,
        client_order_id=body.client_order_id,
    )
    seq, events = await submit(venue_of(request), command)
    no = refusal(events, RfqAcceptRejected, seq)
    if no is not None:
        return no
    done: RfqExecuted = first_of(events, RfqExecuted)
    return {
        "seq": seq,
        "rfq_id": rfq_id,
        "quote_id": done.quote_id,
        "price": micro_to_usd(done.price_micro),
        "price_micro": done.price_micro,
        "first_trade_id": done.first_trade_id,
        "legs": done.legs,
    }


@router.delete("/rfq/{rfq_id}")
async def withdraw(request: Request, rfq_id: IdPath, account: str, key: Caller) -> Any:
    """The taker withdraws its RFQ, declining every quote."""
    trader(key, account)
    seq, events = await submit(venue_of(request), RfqCancel(account=account, rfq_id=rfq_id))
    no = refusal(events, RfqAcceptRejected, seq)
    if no is not None:
        return no
    closed: RfqClosed = first_of(events, RfqClosed)
    return {"seq": seq, "rfq_id": closed.rfq_id, "status": "cancelled"}


async def enter_quote(venue: Venue, rfq_id: int, body: QuoteBody) -> tuple[int, list[Event]] | JSONResponse:
    """Shared by REST and the WebSocket: translate and submit a quote; a JSON error for bad input."""
    rfq = venue.rfq_board.open.get(rfq_id)
    if rfq is None or not rfq.admits(body.account):
        return reject(Reason.RFQ_NOT_FOUND, f"no open RFQ {rfq_id} for {body.account}")
    try:
        command = build_quote(
            venue.sequencer.instruments,
            rfq.leg_symbols,
            account=body.account,
            rfq_id=rfq_id,
            client_quote_id=body.client_quote_id,
            bid=body.bid,
            offer=body.offer,
            valid_ns=body.valid_ms * MS,
        )
    except RequestError as exc:
        return reject(exc.reason, exc.detail)
    return await submit(venue, command)


def quote_answer(result: tuple[int, list[Event]] | JSONResponse) -> Any:
    if isinstance(result, JSONResponse):
        return result
    seq, events = result
    no = refusal(events, QuoteRejected, seq)
    if no is not None:
        return no
    entered: QuoteEntered = first_of(events, QuoteEntered)
    return {
        "seq": seq,
        "quote_id": entered.quote_id,
        "rfq_id": entered.rfq_id,
        "bid": micro_to_usd(entered.bid_micro),
        "offer": micro_to_usd(entered.offer_micro),
        "expire_ns": entered.expire_ns,
        "replaced_quote_id": entered.replaced_quote_id or None,
    }


@router.post("/rfq/{rfq_id}/quotes")
async def quote(request: Request, rfq_id: IdPath, body: QuoteBody, key: Caller) -> Any:
    """A firm quote (replaces the account's live one on this RFQ)."""
    require(key, MAKER_ROLES, body.account)
    return quote_answer(await enter_quote(venue_of(request), rfq_id, body))


@router.delete("/rfq/{rfq_id}/quotes")
async def cancel_quote(request: Request, rfq_id: IdPath, account: str, key: Caller) -> Any:
    require(key, MAKER_ROLES, account)
    return await withdraw_quotes(venue_of(request), account, rfq_id)


def mmp_json(e: MmpUpdated) -> dict[str, Any]:
    nano = Decimal(1_000_000_000)
    return {
        "account": e.account,
        "underlying": e.underlying,
        "interval_ms": e.interval_ns // MS,
        "quantity_limit": str(Decimal(e.qty_limit) / nano),
        "delta_limit": str(Decimal(e.delta_limit) / nano),
        "frozen_ms": e.frozen_ns // MS,
        "frozen": e.frozen_until_ns != 0,
        "frozen_until_ns": e.frozen_until_ns if e.frozen_until_ns > 0 else None,
    }


@router.put("/accounts/{account}/mmp/{underlying}")
async def set_mmp(request: Request, account: str, underlying: str, body: MmpBody, key: Caller) -> Any:
    """Market-maker protection for the account's RFQ quotes on one underlying."""
    require(key, MAKER_ROLES, account)
    command = MmpSet(
        account=account,
        underlying=underlying,
        interval_ns=body.interval_ms * MS,
        qty_limit=coins_to_nano(body.quantity_limit),
        delta_limit=coins_to_nano(body.delta_limit),
        frozen_ns=body.frozen_ms * MS,
    )
    return await _mmp(request, command)


@router.delete("/accounts/{account}/mmp/{underlying}/freeze")
async def reset_mmp(request: Request, account: str, underlying: str, key: Caller) -> Any:
    """Lift a triggered protection: the account may quote again."""
    require(key, MAKER_ROLES, account)
    return await _mmp(request, MmpReset(account=account, underlying=underlying))


async def _mmp(request: Request, command: Command) -> Any:
    seq, events = await submit(venue_of(request), command)
    no = refusal(events, RfqRejected, seq)
    if no is not None:
        return no
    return {"seq": seq, **mmp_json(first_of(events, MmpUpdated))}
