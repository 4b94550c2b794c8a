"""Operator routes (role admin): manual deposits for test and demo environments, halts, kill switch.

In production collateral arrives through on-chain deposits (settlement/); a manual deposit is still a
journaled command with a unique reference, so it is auditable and never applied twice.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from matching.commands import Command, Deposit, HaltInstrument, KillSwitch, ResumeInstrument, ResumeVenue
from matching.events import RequestRejected
from matching.instruments import MICRO
from matching.reasons import Reason
from venue.api.deps import ApiError, rate_limit, require, venue_of
from venue.api.errors import reject
from venue.api.keys import ApiKey, Role

router = APIRouter(prefix="/admin", tags=["operations"])
Caller = Annotated[ApiKey | None, Depends(rate_limit)]
ADMIN = frozenset({Role.ADMIN})


class DepositIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account: str = Field(min_length=1, max_length=64)
    amount: Decimal = Field(gt=0, description="USDC, at most 6 decimals")
    reference: str = Field(min_length=1, max_length=128, description="unique; a repeat is refused")


class HaltIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=200)


async def _run(request: Request, command: Command) -> Any:
    record, events = await venue_of(request).runtime.submit(command)
    refused = next((e for e in events if isinstance(e, RequestRejected)), None)
    if refused is not None:
        return reject(refused.reason, refused.text, seq=record.seq)
    return {"seq": record.seq, "events": msgspec.to_builtins(events)}


@router.post("/deposits")
async def deposit(request: Request, body: DepositIn, key: Caller) -> Any:
    require(key, ADMIN)
    micro = body.amount * MICRO
    if micro != micro.to_integral_value():
        raise ApiError(reject(Reason.INVALID_AMOUNT, "amounts have at most 6 decimals"))
    return await _run(
        request, Deposit(account=body.account, amount_micro=int(micro), reference=body.reference)
    )


@router.post("/instruments/{symbol}/halt")
async def halt(request: Request, symbol: str, body: HaltIn, key: Caller) -> Any:
    require(key, ADMIN)
    return await _run(request, HaltInstrument(symbol=symbol, reason=body.reason))


@router.post("/instruments/{symbol}/resume")
async def resume(request: Request, symbol: str, key: Caller) -> Any:
    require(key, ADMIN)
    return await _run(request, ResumeInstrument(symbol=symbol))


@router.post("/kill-switch")
async def kill_switch(request: Request, body: HaltIn, key: Caller) -> Any:
    """Halt the whole venue and cancel every order, until /admin/resume-venue."""
    require(key, ADMIN)
    return await _run(request, KillSwitch(reason=body.reason))


@router.post("/resume-venue")
async def resume_venue(request: Request, key: Caller) -> Any:
    require(key, ADMIN)
    return await _run(request, ResumeVenue())
