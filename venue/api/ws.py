"""WebSocket streams at /ws.

Client messages (JSON):
  {"op": "auth", "key": "vk_..."}                    (or an X-API-Key header on the handshake)
  {"op": "subscribe", "channel": "orderbook@BTC-PERP"}
  {"op": "unsubscribe", "channel": "orderbook@BTC-PERP"}
  {"op": "rfq_quote", "rfq_id": 7, "account": "MM1", "client_quote_id": "q1",
   "bid": ["1200.5"], "offer": ["1210"], "valid_ms": 0}          (makers; the REST quote body plus rfq_id)
  {"op": "rfq_cancel_quote", "rfq_id": 7, "account": "MM1"}      (rfq_id 0: every live quote)
Channels: orderbook@{symbol} (a snapshot, then deltas; every message carries delta_seq, and a client
that sees a gap must resubscribe), trades@{symbol} (block trades flagged ``block``), ticker@{symbol},
account@{id} and position@{id} (keys that may read the account), risk@all (risk officers: the venue
ranking) and risk@{id} (the account's margin report), both pushed when the core moved, at most once a
second, liquidations@all and
liquidations@{underlying}, rfq@{id}: the account's RFQ events as a taker or maker (rfq.views says what
each side sees) and, for market-maker keys, every RFQ open to all makers.
Server messages: {"op": "subscribed"|"unsubscribed"|"error", ...}, {"channel": ..., "data": ...} and
{"op": "rfq_quote_ack"|"rfq_cancel_ack", ...} answers carrying the REST answer's body.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import msgspec
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from venue.api.deps import ApiError, ws_key
from venue.api.keys import OVERSIGHT_ROLES, READING_ROLES, ApiKey
from venue.api.market import ticker_for
from venue.api.rfq import MAKER_ROLES, QuoteBody, enter_quote, quote_answer, withdraw_quotes
from venue.api.risk import margin_report, ranking
from venue.bus import Subscription
from venue.runtime import JournalUnavailable
from venue.wiring import Venue

router = APIRouter()
TICKER_MIN_INTERVAL_S = 0.1
RISK_PUSH_INTERVAL_S = 1.0
PUBLIC = {"orderbook", "trades", "ticker", "liquidations"}
PRIVATE = {"account", "position", "rfq"}
RISK = "risk"


class Session:
    def __init__(self, websocket: WebSocket, venue: Venue, key: ApiKey | None) -> None:
        self.ws = websocket
        self.venue = venue
        self.key = key
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.send_lock = asyncio.Lock()

    async def send(self, message: dict[str, Any]) -> None:
        async with self.send_lock:
            await self.ws.send_text(json.dumps(message))

    async def error(self, code: str, text: str, channel: str | None = None) -> None:
        await self.send({"op": "error", "code": code, "text": text, "channel": channel})

    def may_read(self, account: str) -> bool:
        key = self.key
        if key is None or not key.roles & READING_ROLES:
            return False
        return key.may_act_for(account) or bool(key.roles & OVERSIGHT_ROLES)

    async def subscribe(self, channel: str) -> None:
        kind, _, target = channel.partition("@")
        if channel in self.tasks:
            await self.send({"op": "subscribed", "channel": channel})
            return
        if kind not in PUBLIC | PRIVATE | {RISK} or not target:
            await self.error("unknown_channel", f"no channel {channel!r}", channel)
            return
        if kind == RISK:
            await self.subscribe_risk(channel, target)
            return
        if kind in {"orderbook", "trades", "ticker"} and target not in self.venue.sequencer.instruments:
            await self.error("unknown_instrument", f"unknown instrument {target}", channel)
            return
        if kind in PRIVATE and not self.may_read(target):
            await self.error("not_permitted", f"this connection may not read account {target}", channel)
            return
        bus_channel = {
            "orderbook": f"orderbook.{target}",
            "trades": f"trades.{target}",
            "ticker": f"orderbook.{target}",
            "liquidations": f"liquidations.{target}",
            "account": f"account.{target}",
            "position": f"account.{target}",
            "rfq": f"rfq.{target}",
        }[kind]
        subscription = await self.venue.bus.subscribe(bus_channel)
        extra = None
        if kind == "ticker":
            extra = await self.venue.bus.subscribe(f"trades.{target}")
        elif kind == "rfq" and self.key is not None and self.key.roles & MAKER_ROLES:
            extra = await self.venue.bus.subscribe("rfq.requests")
        self.tasks[channel] = asyncio.create_task(self.forward(channel, kind, target, subscription, extra))
        await self.send({"op": "subscribed", "channel": channel})

    async def subscribe_risk(self, channel: str, target: str) -> None:
        """``risk@all`` (risk officers, admins): the venue ranking; ``risk@{account}`` (keys that may
        read it): its margin report. Sent at once, then whenever the core moved, at most every
        RISK_PUSH_INTERVAL_S."""
        key = self.key
        oversight = key is not None and bool(key.roles & OVERSIGHT_ROLES)
        if (target == "all" and not oversight) or (target != "all" and not self.may_read(target)):
            await self.error("not_permitted", f"this connection may not read {channel}", channel)
            return
        if target != "all" and target not in self.venue.sequencer.ledger.accounts:
            await self.error("unknown_account", f"no account {target!r}", channel)
            return
        self.tasks[channel] = asyncio.create_task(self.push_risk(channel, target))
        await self.send({"op": "subscribed", "channel": channel})

    async def push_risk(self, channel: str, target: str) -> None:
        sequencer, sent_at = self.venue.sequencer, -1
        while True:
            if sequencer.next_seq != sent_at:
                sent_at = sequencer.next_seq
                try:
                    data = ranking(self.venue) if target == "all" else margin_report(self.venue, target)
                except ApiError as exc:  # no margin engine, or the account went away
                    await self.error("unavailable", json.loads(bytes(exc.response.body))["text"], channel)
                    return
                await self.send({"channel": channel, "data": data})
            await asyncio.sleep(RISK_PUSH_INTERVAL_S)

    async def unsubscribe(self, channel: str) -> None:
        task = self.tasks.pop(channel, None)
        if task is not None:
            task.cancel()
        await self.send({"op": "unsubscribed", "channel": channel})

    async def forward(
        self, channel: str, kind: str, target: str, subscription: Subscription, extra: Subscription | None
    ) -> None:
        try:
            if kind == "orderbook":
                await self.forward_book(channel, target, subscription)
            elif kind == "ticker":
                await self.forward_ticker(channel, target, subscription, extra)
            elif extra is not None:
                await asyncio.gather(self.relay(channel, subscription), self.relay(channel, extra))
            else:
                async for payload in subscription:
                    data = msgspec.json.decode(payload)
                    if kind == "position" and data.get("type") != "PositionChanged":
                        continue
                    await self.send({"channel": channel, "data": data})
        finally:
            await subscription.close()
            if extra is not None:
                await extra.close()

    async def relay(self, channel: str, subscription: Subscription) -> None:
        async for payload in subscription:
            await self.send({"channel": channel, "data": msgspec.json.decode(payload)})

    async def rfq_op(self, op: str, message: dict[str, Any]) -> None:
        """A maker's quote or quote cancel; answered with the REST answer's body (or an error)."""
        try:
            body = {k: v for k, v in message.items() if k not in {"op", "rfq_id"}}
            rfq_id = int(message.get("rfq_id", 0))
            account = str(body.get("account", ""))
        except (TypeError, ValueError):
            await self.error("bad_message", "rfq_id must be an integer")
            return
        if self.key is None or not self.key.roles & MAKER_ROLES or not self.key.may_act_for(account):
            await self.error("not_permitted", f"this connection may not quote for account {account!r}")
            return
        try:
            if op == "rfq_quote":
                try:
                    quote = QuoteBody.model_validate(body)
                except ValidationError as exc:
                    await self.error("bad_message", str(exc.errors(include_url=False, include_input=False)))
                    return
                answer = quote_answer(await enter_quote(self.venue, rfq_id, quote))
            else:
                answer = await withdraw_quotes(self.venue, account, rfq_id)
        except JournalUnavailable as exc:
            await self.error("journal_unavailable", str(exc))
            return
        if isinstance(answer, JSONResponse):
            await self.send({"op": "error", "request": op, **json.loads(bytes(answer.body))})
        else:
            await self.send({"op": f"{op}_ack" if op == "rfq_quote" else "rfq_cancel_ack", **answer})

    async def forward_book(self, channel: str, symbol: str, subscription: Subscription) -> None:
        """Snapshot from the read model, then deltas newer than it (the bus lags the read model)."""
        view = self.venue.readmodel.book(symbol)
        bids, asks = view.depth(10_000)
        snapshot_seq = view.delta_seq
        await self.send({"channel": channel, "type": "snapshot", "delta_seq": snapshot_seq,
                         "bids": bids, "asks": asks})  # fmt: skip
        async for payload in subscription:
            delta = msgspec.json.decode(payload)
            if delta["delta_seq"] <= snapshot_seq:
                continue
            await self.send({"channel": channel, "type": "delta", "delta_seq": delta["delta_seq"],
                             "side": delta["side"], "price_ticks": delta["price_ticks"],
                             "qty_lots": delta["qty_lots"], "orders": delta["order_count"]})  # fmt: skip

    async def forward_ticker(
        self, channel: str, symbol: str, book: Subscription, trades: Subscription | None
    ) -> None:
        """The ticker whenever the book or the tape moves, at most every TICKER_MIN_INTERVAL_S."""
        changed = asyncio.Event()

        async def watch(sub: Subscription) -> None:
            async for _ in sub:
                changed.set()

        watchers = [asyncio.create_task(watch(s)) for s in (book, trades) if s is not None]
        try:
            last_sent = 0.0
            while True:
                await changed.wait()
                changed.clear()
                pause = TICKER_MIN_INTERVAL_S - (time.monotonic() - last_sent)
                if pause > 0:
                    await asyncio.sleep(pause)
                inst = self.venue.sequencer.instruments[symbol]
                await self.send({"channel": channel, "data": ticker_for(self.venue, inst)})
                last_sent = time.monotonic()
        finally:
            for watcher in watchers:
                watcher.cancel()


@router.websocket("/ws")
async def stream(websocket: WebSocket) -> None:
    await websocket.accept()
    venue: Venue = websocket.app.state.venue
    session = Session(websocket, venue, ws_key(websocket))
    try:
        while True:
            raw = await websocket.receive_text()
            try:
                message = json.loads(raw)
                op, channel = message.get("op"), message.get("channel")
            except (ValueError, AttributeError):
                await session.error("bad_message", "expected a JSON object with an op")
                continue
            if op == "auth":
                key = ws_key(websocket, str(message.get("key", "")))
                if key is None:
                    await session.error("bad_api_key", "API key not recognised")
                else:
                    session.key = key
                    await session.send({"op": "authenticated", "key_id": key.key_id})
            elif op == "subscribe" and isinstance(channel, str):
                await session.subscribe(channel)
            elif op == "unsubscribe" and isinstance(channel, str):
                await session.unsubscribe(channel)
            elif op in ("rfq_quote", "rfq_cancel_quote"):
                await session.rfq_op(op, message)
            else:
                await session.error(
                    "bad_message", "op must be auth, subscribe, unsubscribe, rfq_quote or rfq_cancel_quote"
                )
    except (WebSocketDisconnect, ApiError):
        pass
    finally:
        for task in session.tasks.values():
            task.cancel()
        for task in session.tasks.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
