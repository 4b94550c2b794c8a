"""Request plumbing shared by the routes: the venue, the caller's key, permissions, rate limits."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from fastapi import Path, Request, WebSocket
from fastapi.responses import JSONResponse

from matching.rate_limit import RateLimiter
from venue.api.errors import error
from venue.api.keys import OVERSIGHT_ROLES, READING_ROLES, TRADING_ROLES, ApiKey, KeyStore, Role
from venue.wiring import Venue


class ApiError(Exception):
    """Raised by routes and dependencies; turned into its JSON response by the app."""

    def __init__(self, response: JSONResponse) -> None:
        self.response = response


# An id in a path: what the journal and the records can hold (64-bit signed), else a 422.
IdPath = Annotated[int, Path(ge=0, lt=2**63)]


def venue_of(request: Request) -> Venue:
    venue: Venue = request.app.state.venue
    return venue


def token_of(headers: Mapping[str, str]) -> str:
    """The key from ``X-API-Key`` or ``Authorization: Bearer``, or ""."""
    token = headers.get("x-api-key") or ""
    if not token:
        auth = headers.get("authorization") or ""
        if auth.lower().startswith("bearer "):
            token = auth[7:].strip()
    return token


def caller_key(request: Request) -> ApiKey | None:
    """The request's key, or None without one; a key that does not verify is refused (401)."""
    token = token_of(request.headers)
    if not token:
        return None
    keys: KeyStore = request.app.state.keys
    key = keys.verify(token)
    if key is None:
        raise ApiError(error(401, "bad_api_key", "API key not recognised"))
    return key


def rate_limit(request: Request) -> ApiKey | None:
    """Charge the caller (its key, else its address); refuse with 429 over the limit, never queue."""
    key = caller_key(request)
    limiter: RateLimiter = request.app.state.limiter
    if key is not None:
        wait = limiter.take(f"key:{key.key_id}", key.rate_per_s, key.burst)
    else:
        rate = request.app.state.venue.settings.public_rate_per_s
        host = request.client.host if request.client else "?"
        wait = limiter.take(f"ip:{host}", rate, int(rate * 2))
    if wait:
        retry = max(1, round(wait + 0.5))
        raise ApiError(
            error(
                429, "rate_limited", f"rate limit exceeded; retry in {wait:.2f}s", {"Retry-After": str(retry)}
            )
        )
    return key


def require(key: ApiKey | None, roles: frozenset[Role], account: str | None = None) -> ApiKey:
    """The key, if it has one of ``roles`` and (for an account) may act for it; else 401/403."""
    if key is None:
        raise ApiError(error(401, "api_key_required", "this endpoint needs an API key"))
    if not key.roles & roles:
        raise ApiError(error(403, "wrong_role", f"needs one of: {', '.join(sorted(roles))}"))
    if account is not None and not key.may_act_for(account):
        raise ApiError(error(403, "account_not_permitted", f"this key may not act for account {account}"))
    return key


def reader(key: ApiKey | None, account: str) -> ApiKey:
    """A key that may read ``account``: its own accounts, or any account for risk officers and admins."""
    key = require(key, READING_ROLES)
    if key.roles & OVERSIGHT_ROLES:
        return key
    return require(key, READING_ROLES, account)


def trader(key: ApiKey | None, account: str) -> ApiKey:
    return require(key, TRADING_ROLES, account)


def ws_key(websocket: WebSocket, token: str | None = None) -> ApiKey | None:
    keys: KeyStore = websocket.app.state.keys
    token = token or token_of(websocket.headers)
    return keys.verify(token) if token else None
