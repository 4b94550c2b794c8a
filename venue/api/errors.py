"""The one mapping from reject reasons to HTTP statuses, and the JSON error body."""

from __future__ import annotations

from fastapi.responses import JSONResponse

from matching.reasons import Reason, text

NOT_FOUND = {
    Reason.UNKNOWN_INSTRUMENT,
    Reason.UNKNOWN_ACCOUNT,
    Reason.ORDER_NOT_FOUND,
    Reason.RFQ_NOT_FOUND,
    Reason.QUOTE_NOT_FOUND,
}
CONFLICT = {
    Reason.DUPLICATE_CLIENT_ORDER_ID,
    Reason.INSTRUMENT_HALTED,
    Reason.VENUE_HALTED,
    Reason.INSTRUMENT_NOT_ACTIVE,
    Reason.TOO_LATE_TO_CANCEL,
    Reason.POST_ONLY_WOULD_TAKE,
    Reason.FOK_NOT_FILLED,
    Reason.DUPLICATE_REFERENCE,
    Reason.NO_LIQUIDITY,
    Reason.RFQ_CLOSED,
    Reason.RFQ_WINDOW_OPEN,
    Reason.RFQ_DUPLICATE_ID,
    Reason.MMP_FROZEN,
}
FORBIDDEN = {Reason.RFQ_NOT_PERMITTED}
UNPROCESSABLE = {
    Reason.INSUFFICIENT_MARGIN,
    Reason.INSUFFICIENT_FUNDS,
    Reason.REDUCE_ONLY_WOULD_INCREASE,
    Reason.NO_MARK,
    Reason.NOT_BELOW_MAINTENANCE,
    Reason.COUNTERPARTY_MARGIN,
}


def http_status(reason: int) -> int:
    """400 bad input, 403 not permitted, 404 unknown things, 409 state conflicts, 422 risk refusals."""
    if reason in NOT_FOUND:
        return 404
    if reason in FORBIDDEN:
        return 403
    if reason in CONFLICT:
        return 409
    if reason in UNPROCESSABLE:
        return 422
    return 400


def reject(reason: int, detail: str | None = None, **extra: object) -> JSONResponse:
    try:
        code = Reason(reason).name.lower()
    except ValueError:
        code = str(reason)
    body = {"code": code, "reason": int(reason), "text": detail or text(reason), **extra}
    return JSONResponse(body, status_code=http_status(reason))


def error(status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"code": code, "text": detail}, status_code=status, headers=headers)
