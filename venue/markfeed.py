"""Feeds marks into the running venue as MarkUpdate commands (so they are journaled and replayable).

``sim``: a seeded random walk per underlying (``risk.marks.SimulatedFeed``), primed once at start so
the venue never trades without marks, then stepped every ``mark_interval_s``. ``file:PATH``: the lines
of a mark file, submitted in order, spaced as their timestamps say (capped at ``mark_interval_s``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path

from config.catalog import Catalog, InstrumentSpec
from config.settings import VenueSettings
from matching.commands import CommandRecord
from matching.events import Event, MarksUpdated
from risk.marks import FileFeed, MarkWatch, SimulatedFeed
from venue.runtime import Runtime

log = logging.getLogger(__name__)


class MarkFeed:
    def __init__(self, settings: VenueSettings, catalog: Catalog, runtime: Runtime, watch: MarkWatch) -> None:
        self.settings = settings
        self.catalog = catalog
        self.runtime = runtime
        self.watch = watch
        self.feeds: dict[str, SimulatedFeed] = {}
        self._task: asyncio.Task[None] | None = None
        self.updates = 0

    def listed(self) -> list[InstrumentSpec]:
        markets = self.runtime.sequencer.matcher.markets.values()
        return [m.instrument.spec for m in markets if m.instrument.active]

    def listener(self, record: CommandRecord, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, MarksUpdated):
                self.watch.seen(event.underlying, record.ts_ns)

    async def prime(self) -> None:
        """One update per underlying before trading starts (simulated feed only)."""
        if self.settings.mark_feed != "sim":
            return
        specs = self.listed()
        indices = self.runtime.sequencer.indices
        for underlying in self.catalog.underlyings:
            last = indices.get(underlying)
            start = last.price_micro / 1e6 if last and last.price_micro else None
            reference = float(self.catalog.data.underlyings[underlying].reference_price)
            feed = self.feeds[underlying] = SimulatedFeed(underlying, specs, start or reference)
            await self.runtime.submit(feed.step(time.time_ns(), 0.0))
            self.updates += 1

    def start(self) -> None:
        mode = self.settings.mark_feed
        if mode == "sim":
            self._task = asyncio.create_task(self._simulate(), name="mark-feed")
        elif mode.startswith("file:"):
            self._task = asyncio.create_task(self._replay(Path(mode[5:])), name="mark-feed")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _simulate(self) -> None:
        interval = self.settings.mark_interval_s
        while True:
            await asyncio.sleep(interval)
            specs = self.listed()
            indices = self.runtime.sequencer.indices
            for feed in self.feeds.values():
                feed.specs = specs
                # The walk goes on from the last journaled index, so a mark an admin posted by hand
                # (a correction, the demo's market move) moves the simulated market with it.
                last = indices.get(feed.underlying)
                if last is not None and last.price_micro > 0:
                    feed.index = last.price_micro / 1e6
                try:
                    await self.runtime.submit(feed.step(time.time_ns(), interval))
                    self.updates += 1
                except Exception:  # a feed must never take the venue down; the watch reports staleness
                    log.exception("simulated marks for %s failed", feed.underlying)

    async def _replay(self, path: Path) -> None:
        previous: int | None = None
        cap = self.settings.mark_interval_s
        for time_ns, update in FileFeed(path, self.listed()):
            if previous is not None:
                await asyncio.sleep(min(max(0.0, (time_ns - previous) / 1e9), cap))
            previous = time_ns
            await self.runtime.submit(update)
            self.updates += 1
        log.info("mark file %s replayed (%d updates)", path, self.updates)
