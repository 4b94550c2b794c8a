"""Risk officers' routes: margin reports per account (JSON, CSV, HTML) and the venue-wide ranking.

An account's own keys may read its report; risk officers and admins read every account and the venue
report. Reports are computed on the event loop from the live engine (between commands, so they see
one consistent state); liquidation levels come from the levels cache when current.
"""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, PlainTextResponse

from matching.reasons import Reason
from risk.engine import MarginEngine
from risk.report import account_report, venue_report
from risk.report_files import to_csv, to_html
from venue.api.deps import ApiError, rate_limit, reader, require, venue_of
from venue.api.errors import reject
from venue.api.keys import OVERSIGHT_ROLES, ApiKey
from venue.wiring import Venue

router = APIRouter(prefix="/risk", tags=["risk"])
Caller = Annotated[ApiKey | None, Depends(rate_limit)]


class ReportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"
    HTML = "html"


def _engine(venue: Venue) -> MarginEngine:
    risk = venue.sequencer.risk
    if not isinstance(risk, MarginEngine):
        raise ApiError(reject(Reason.NO_MARK, "this venue runs without the margin engine"))
    return risk


def _stale(venue: Venue) -> list[str]:
    return venue.mark_watch.stale(time.time_ns(), list(venue.catalog.underlyings))


def ranking(venue: Venue) -> dict[str, Any]:
    """The venue report (``risk.report.venue_report``) with the underlyings whose marks are stale."""
    report = venue_report(
        _engine(venue),
        list(venue.sequencer.ledger.accounts.values()),
        time.time_ns(),
        venue.risk_params.liquidation.insurance_account,
        venue.levels.venue_levels(),
    )
    report["stale_marks"] = _stale(venue)
    return report


def margin_report(venue: Venue, account: str) -> dict[str, Any]:
    """One account's margin report (``risk.report.account_report``); ``ApiError`` if unknown."""
    engine = _engine(venue)
    holder = venue.sequencer.ledger.accounts.get(account)
    if holder is None:
        raise ApiError(reject(Reason.UNKNOWN_ACCOUNT))
    held = {p.instrument.underlying for p in holder.positions.values() if p.qty}
    levels = {u: venue.levels.get(holder, u) for u in held}
    return account_report(engine, holder, time.time_ns(), _stale(venue), levels)


@router.get("/accounts")
def accounts(request: Request, key: Caller) -> Any:
    """Every account with positions, ranked by maintenance-margin usage, with distance to liquidation;
    concentration by underlying and expiry, open interest and the insurance fund."""
    require(key, OVERSIGHT_ROLES)
    return ranking(venue_of(request))


@router.get("/accounts/{account}", response_model=None)
def account(request: Request, account: str, key: Caller, format: ReportFormat = ReportFormat.JSON) -> Any:
    """The margin report of one account (see README "Margin reports"), as JSON, CSV or HTML."""
    reader(key, account)
    report = margin_report(venue_of(request), account)
    if format is ReportFormat.CSV:
        return PlainTextResponse(to_csv(report), media_type="text/csv")
    if format is ReportFormat.HTML:
        return HTMLResponse(to_html(report))
    return report
