"""Publishes journaled events on the bus: per-topic channels for consumers, one stream for processes.

Channels (pub/sub; JSON of the tagged event):
  orderbook.{symbol}   BookDelta (each carries its book's delta_seq: a gap means resnapshot)
  trades.{symbol}      Trade
  account.{account}    order, trade, position, balance and liquidation events of that account
  liquidations.all     every liquidation event (started, step, transfer to the insurance fund, ended)
  liquidations.{und}   the steps and transfers in that underlying's instruments
  rfq.requests         RFQs open to every maker, without the taker (rfq.views has the rules)
  rfq.{account}        the RFQ events of one account, taker or maker, in the form it may see them
                       (they also go to account.{account}; block trades also go to trades.{symbol})
Stream (durable, resumable by id): ``venue.events``, one entry per command record:
  MessagePack of {"seq", "ts_ns", "events"}.

The runtime calls ``listener`` in sequence order after each record is durable; publishing happens
in a task of its own so a slow bus never holds up acknowledgements (its queue is bounded and the
fan-out reports how many records it had to drop rather than blocking the venue).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

import msgspec

from matching.commands import CommandRecord
from matching.events import (
    BookDelta,
    Event,
    LiquidationEnded,
    LiquidationStarted,
    LiquidationStep,
    PositionTransferred,
    Trade,
)
from rfq.views import RFQ_EVENTS, Audience, routes
from venue.bus import Bus, BusError
from venue.supervision import drained, report_death

log = logging.getLogger(__name__)
EVENTS_STREAM = "venue.events"
ACCOUNT_FIELDS = ("account", "maker_account", "taker_account", "from_account", "to_account")
LIQUIDATION_EVENTS = (LiquidationStarted, LiquidationStep, PositionTransferred, LiquidationEnded)

# Records published per stream append at most (what queued up while the last batch went out).
FANOUT_BATCH = 1_000

_json = msgspec.json.Encoder()
_msgpack = msgspec.msgpack.Encoder()


def channels_for(event: Event) -> Iterable[str]:
    if isinstance(event, BookDelta):
        yield f"orderbook.{event.symbol}"
        return
    if isinstance(event, Trade):
        yield f"trades.{event.symbol}"
    elif isinstance(event, LIQUIDATION_EVENTS):
        yield "liquidations.all"
        if isinstance(event, LiquidationStep | PositionTransferred):
            yield f"liquidations.{event.symbol.partition('-')[0]}"
    for name in ACCOUNT_FIELDS:
        account = getattr(event, name, None)
        if account:
            yield f"account.{account}"


def rfq_channels(audience: Audience) -> tuple[str, ...]:
    kind, target = audience
    if kind == "account":
        return (f"rfq.{target}", f"account.{target}")
    if kind == "tape":
        return (f"trades.{target}",)
    return ("rfq.requests",)


class Fanout:
    def __init__(self, bus: Bus, max_queue: int = 100_000) -> None:
        self.bus = bus
        self._queue: asyncio.Queue[tuple[CommandRecord, list[Event]]] = asyncio.Queue(maxsize=max_queue)
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0
        self.published = 0

    def listener(self, record: CommandRecord, events: list[Event]) -> None:
        try:
            self._queue.put_nowait((record, events))
        except asyncio.QueueFull:
            self.dropped += 1

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="fan-out")
        report_death(self._task, "nothing more is published (the journal still has it)")

    async def stop(self) -> None:
        """Publish what is queued, then stop (at once if the stage is dead: nothing would drain)."""
        if self._task is None:
            return
        await drained(self._queue, self._task)
        self._task.cancel()
        self._task = None

    async def _run(self) -> None:
        queue = self._queue
        while True:
            # whatever has queued up, as one batch: one stream append (one Redis round trip) for all
            batch = [await queue.get()]
            while not queue.empty() and len(batch) < FANOUT_BATCH:
                batch.append(queue.get_nowait())
            try:
                await self._publish(batch)
            except BusError as exc:  # the journal has it; consumers resume from the stream later
                log.error("fan-out of seq %s failed: %s", _seqs(batch), exc)
            except Exception:  # whatever a client library lets through: this batch only, not the stage
                log.exception("fan-out of seq %s failed", _seqs(batch))
            finally:
                for _ in batch:
                    queue.task_done()

    async def _publish(self, batch: list[tuple[CommandRecord, list[Event]]]) -> None:
        bus = self.bus
        await bus.append_many(
            EVENTS_STREAM,
            [_msgpack.encode({"seq": r.seq, "ts_ns": r.ts_ns, "events": events}) for r, events in batch],
        )
        if not bus.may_have_any_subscriber():  # the stream above is all there is to do
            self.published += len(batch)
            return
        # the whole batch's channel messages in one round trip: one per message (seen: ~5,500
        # records/s at most with Redis on loopback) is slower than the venue journals
        messages: list[tuple[str, bytes]] = []
        for _, events in batch:
            for event in events:
                if isinstance(event, RFQ_EVENTS):
                    self._rfq_messages(event, messages)
                    continue
                channels = [c for c in channels_for(event) if bus.may_have_subscribers(c)]
                if not channels:
                    continue
                payload = _json.encode(event)
                messages += [(channel, payload) for channel in channels]
        await bus.publish_many(messages)
        self.published += len(batch)

    def _rfq_messages(self, event: Event, messages: list[tuple[str, bytes]]) -> None:
        bus = self.bus
        for audience, message in routes(event):
            channels = [c for c in rfq_channels(audience) if bus.may_have_subscribers(c)]
            if channels:
                payload = _json.encode(message)
                messages += [(channel, payload) for channel in channels]


def _seqs(batch: list[tuple[CommandRecord, list[Event]]]) -> str:
    first, last = batch[0][0].seq, batch[-1][0].seq
    return f"{first}" if first == last else f"{first}..{last}"
