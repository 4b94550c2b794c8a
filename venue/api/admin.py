"""Operator routes (role admin): manual deposits for test and demo environments, halts, kill switch,
manual marks.

In production collateral arrives through on-chain deposits (settlement/); a manual deposit is still a
journaled command with a unique reference, so it is auditable and never applied twice.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from matching.commands import (
    Command,
    Deposit,
    HaltInstrument,
    KillSwitch,
    Liquidate,
    ResumeInstrument,
    ResumeVenue,
    SetMarginMode,
)
from matching.events import RequestRejected
from matching.instruments import MICRO
from matching.reasons import Reason
from risk.marks import mark_update
from risk.surface import Smile, SurfaceError
from venue.api.deps import ApiError, rate_limit, require, venue_of
from venue.api.errors import error, reject
from venue.api.keys import ApiKey, Role

router = APIRouter(prefix="/admin", tags=["operations"])
Caller = Annotated[ApiKey | None, Depends(rate_limit)]
ADMIN = frozenset({Role.ADMIN})


class DepositIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account: str = Field(min_length=1, max_length=64)
    amount: Decimal = Field(gt=0, le=Decimal(10**12), description="USDC, at most 6 decimals")
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
    if venue_of(request).settlement is not None:  # the ledger must stay what the vault holds
        raise ApiError(
            error(409, "deposits_from_chain", "with settlement running, deposits come from the vault only")
        )
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


class SmileBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expiry: datetime = Field(description="the expiry's time (UTC if no offset)")
    forward: float = Field(gt=0, description="USD")
    a: float
    b: float = Field(ge=0)
    rho: float = Field(gt=-1, lt=1)
    m: float
    sigma: float = Field(gt=0)
    k_min: float = -1.5
    k_max: float = 1.5


class MarksIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: float = Field(gt=0, description="USD")
    smiles: list[SmileBody] = Field(default_factory=list, max_length=64)


@router.post("/marks/{underlying}")
async def marks(request: Request, underlying: str, body: MarksIn, key: Caller) -> Any:
    """Mark an underlying by hand (feeds off, or a correction): its index and one SVI smile per expiry.

    Every listed instrument of the underlying is priced on the surface into the MarkUpdate, journaled.
    """
    require(key, ADMIN)
    venue = venue_of(request)
    specs = [m.instrument.spec for m in venue.sequencer.matcher.markets.values() if m.instrument.active]
    if not any(s.underlying == underlying for s in specs):
        raise ApiError(reject(Reason.UNKNOWN_INSTRUMENT, f"no listed instrument of {underlying}"))
    now = time.time_ns()
    try:
        smiles = [
            Smile(_ns(s.expiry), s.forward, s.a, s.b, s.rho, s.m, s.sigma, s.k_min, s.k_max)
            for s in body.smiles
        ]
        update = mark_update(underlying, body.index, smiles, specs, now)
    except SurfaceError as exc:
        raise ApiError(error(422, "invalid_smile", str(exc))) from exc
    return await _run(request, update)


def _ns(when: datetime) -> int:
    aware = when if when.tzinfo else when.replace(tzinfo=UTC)
    return int(aware.timestamp() * 1_000_000) * 1_000


class MarginModeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    portfolio: bool = Field(description="true: portfolio margin; false: standard margin")


@router.post("/accounts/{account}/margin-mode")
async def margin_mode(request: Request, account: str, body: MarginModeIn, key: Caller) -> Any:
    """Enable or disable portfolio margin; refused if the account would fall short of initial margin."""
    require(key, ADMIN)
    return await _run(request, SetMarginMode(account=account, portfolio=body.portfolio))


@router.post("/accounts/{account}/liquidate")
async def liquidate(request: Request, account: str, key: Caller) -> Any:
    """Liquidate now (the margin monitor does it on every mark update); refused above maintenance."""
    require(key, ADMIN)
    return await _run(request, Liquidate(account=account))
