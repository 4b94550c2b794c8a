"""Pays perpetual funding at every whole multiple of the funding interval (UTC), through the journal.

The rate is computed here from what the venue shows (``risk.funding``: the perp's book mid against its
index, capped) and travels in the ApplyFunding command, so a replay books exactly the same payments.
An interval boundary passed while the venue was down is not paid afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from config.risk_params import FundingParams
from matching.commands import ApplyFunding
from matching.events import FundingApplied
from risk.funding import book_mid, rate_ppb
from venue.readmodel import ReadModel
from venue.runtime import Runtime

log = logging.getLogger("venue.funding")


class FundingClock:
    def __init__(self, runtime: Runtime, readmodel: ReadModel, params: FundingParams) -> None:
        self.runtime = runtime
        self.readmodel = readmodel
        self.params = params
        self.paid: list[FundingApplied] = []
        self._task: asyncio.Task[None] | None = None

    async def pay(self) -> list[FundingApplied]:
        """One interval's funding on every active perpetual with a price; returns what was booked."""
        booked = []
        for symbol, inst in sorted(self.runtime.sequencer.instruments.items()):
            if inst.is_option or not inst.active or inst.index.price_micro <= 0:
                continue
            book = self.readmodel.books.get(symbol)
            tick = float(inst.spec.tick_size)
            bid = max(book.bids) * tick if book and book.bids else None
            ask = min(book.asks) * tick if book and book.asks else None
            mid = book_mid(bid, ask, inst.mark_ticks * tick)
            rate = rate_ppb(mid, inst.index.price_micro / 1e6, self.params)
            if not rate:
                continue
            _, events = await self.runtime.submit(ApplyFunding(symbol=symbol, rate_ppb=rate))
            booked += [e for e in events if isinstance(e, FundingApplied)]
        self.paid += booked
        return booked

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="funding")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        interval = self.params.interval_s
        while True:
            now = time.time()
            await asyncio.sleep((now // interval + 1) * interval - now)
            try:
                await self.pay()
            except Exception:  # funding must never take the venue down; the next interval tries again
                log.exception("funding payment failed")
