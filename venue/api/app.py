"""The FastAPI application: health, market data, accounts, orders, WebSocket streams, metrics.

The app owns the venue's lifetime (started in its lifespan, stopped cleanly on shutdown) unless one
is passed in. OpenAPI at /docs; Prometheus text at /metrics.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from config.settings import VenueSettings
from matching.rate_limit import RateLimiter
from matching.reasons import text
from venue.api import admin, dashboard, market, rfq, risk, settlement, trading, ws
from venue.api.deps import ApiError, venue_of
from venue.api.keys import KeyStore
from venue.api.metrics import VenueCollector
from venue.runtime import InvalidCommand, JournalUnavailable
from venue.wiring import start_venue


def create_app(settings: VenueSettings | None = None) -> FastAPI:
    settings = settings or VenueSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        venue = await start_venue(settings)
        app.state.venue = venue
        app.state.keys = KeyStore(settings.api_keys_file or settings.data_dir / "api_keys.toml")
        app.state.limiter = RateLimiter()
        registry = CollectorRegistry()
        registry.register(VenueCollector(venue))
        app.state.registry = registry
        try:
            yield
        finally:
            await venue.stop()

    app = FastAPI(
        title="venue",
        summary="Institutional crypto-options venue: market data, accounts, order entry, streams.",
        lifespan=lifespan,
    )

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return exc.response

    @app.exception_handler(InvalidCommand)
    async def invalid_command(request: Request, exc: InvalidCommand) -> JSONResponse:
        # a value the journal cannot hold (beyond 64 bits): the request's fault, never a server error
        return JSONResponse({"code": "invalid_value", "text": str(exc)}, status_code=422)

    @app.exception_handler(JournalUnavailable)
    async def journal_unavailable(request: Request, exc: JournalUnavailable) -> JSONResponse:
        body = {"code": "journal_unavailable", "reason": int(exc.reason), "text": text(exc.reason)}
        return JSONResponse(body, status_code=503, headers={"Retry-After": "1"})

    @app.get("/health", tags=["operations"])
    def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/ready", tags=["operations"])
    def ready(request: Request) -> Any:
        """Readiness: the pipeline runs and the journal accepts writes (503 otherwise)."""
        venue = venue_of(request)
        state = {
            "running": venue.runtime.running,
            "journal_ok": not venue.runtime.journal_failing,
            "seq": venue.readmodel.last_seq,
        }
        ok = state["running"] and state["journal_ok"]
        return JSONResponse({"ready": ok, **state}, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["operations"], include_in_schema=False)
    def metrics(request: Request) -> Response:
        return Response(generate_latest(request.app.state.registry), media_type=CONTENT_TYPE_LATEST)

    app.include_router(market.router)
    app.include_router(trading.router)
    app.include_router(rfq.router)
    app.include_router(ws.router)
    app.include_router(admin.router)
    app.include_router(risk.router)
    app.include_router(settlement.router)
    app.include_router(dashboard.router)
    return app
