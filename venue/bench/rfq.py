"""`venue bench rfq`: whole auctions through the real venue with 10 simulated market makers.

The venue runs as `venue run` does (SQLite journal, margin engine, read model, records, fan-out) on a
fresh data folder. Makers listen on the bus channel the WebSocket serves them (``rfq.requests``) and
answer every RFQ with a firm two-way quote submitted as the WebSocket's ``rfq_quote`` does; takers ask
through the runtime as REST and FIX do, watch their own channel (``rfq.{account}``) for the board and
accept the best offer or bid. Every auction runs to execution: two legs, both sides margin-checked.

- ``overhead_p99_ms``: per auction, (RFQ sent -> the taker sees all 10 quotes) minus the auction
  window, plus (accept sent -> execution acknowledged); p99 over ``auctions`` auctions run one at a
  time. ``quotes_in_p99_ms``: RFQ sent -> the 10th quote acknowledged (it must fit in the window).
  ``board_p99_ms`` and ``accept_p99_ms`` are the two parts on their own.
- ``auctions_per_s``: completed auctions per second with ``concurrent`` takers running back to back.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec

from config.settings import VenueSettings
from matching.commands import Deposit, RfqAccept, RfqCreate, RfqLeg, RfqQuote
from matching.events import RfqExecuted, RfqOpened
from matching.instruments import Instrument
from venue.bus import Subscription
from venue.wiring import Venue, start_venue

MAKERS = 10
WINDOW_NS = 50_000_000  # the shortest window the desk allows: the overhead shows, not the wait
FUNDS_MICRO = 10**13


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def _pairs(venue: Venue) -> list[tuple[Instrument, Instrument]]:
    """Call spreads: neighbouring BTC call strikes of one expiry, both with marks."""
    markets = venue.sequencer.matcher.markets
    calls = sorted(
        (m.instrument for s, m in markets.items() if s.startswith("BTC-") and s.endswith("-C")),
        key=lambda i: i.symbol,
    )
    marked = [i for i in calls if i.mark_ticks > 100 and i.active]
    pairs = [
        (a, b) for a, b in itertools.pairwise(marked)
        if a.symbol.split("-")[1] == b.symbol.split("-")[1]
    ]  # fmt: skip
    if not pairs:
        raise RuntimeError("no marked BTC call spreads: the mark feed did not prime")
    return pairs[:8]


class Maker:
    """A market maker quoting every RFQ it is shown, both sides, a few ticks around the marks."""

    def __init__(self, venue: Venue, account: str, seed: int) -> None:
        self.venue = venue
        self.account = account
        self.rng = random.Random(seed)
        self.quoted = 0

    async def run(self, subscription: Subscription) -> None:
        decode = msgspec.json.decode
        async for payload in subscription:
            message = decode(payload)
            if message.get("type") != "RfqOpened":
                continue
            asyncio.get_running_loop().create_task(self.quote(message))

    async def quote(self, request: dict[str, Any]) -> None:
        markets = self.venue.sequencer.matcher.markets
        spread = self.rng.randint(2, 12)
        bid, offer = [], []
        for leg in request["legs"]:
            symbol, side = leg["symbol"], leg["side"]
            mark = markets[symbol].instrument.mark_ticks
            bid.append(mark - spread if side > 0 else mark + spread)
            offer.append(mark + spread if side > 0 else mark - spread)
        command = RfqQuote(
            account=self.account,
            rfq_id=request["rfq_id"],
            client_quote_id=f"{self.account}-{request['rfq_id']}",
            bid_ticks=tuple(bid),
            offer_ticks=tuple(offer),
        )
        await self.venue.runtime.submit(command)
        self.quoted += 1


class Taker:
    def __init__(self, venue: Venue, account: str, pairs: list[tuple[Instrument, Instrument]]) -> None:
        self.venue = venue
        self.account = account
        self.pairs = pairs
        self.boards: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.quotes_in: dict[int, int] = {}
        self.count = 0

    async def listen(self, subscription: Subscription) -> None:
        decode = msgspec.json.decode
        async for payload in subscription:
            message = decode(payload)
            if message.get("type") != "RfqQuotes":
                continue
            waiting = self.boards.get(message["rfq_id"])
            if waiting is not None and not waiting.done() and len(message["quotes"]) >= MAKERS:
                waiting.set_result(message)

    async def auction(self) -> tuple[float, float, float]:
        """One auction to execution: (board overhead ms, accept ms, quotes-in ms)."""
        self.count += 1
        low, high = self.pairs[self.count % len(self.pairs)]
        side = 1 if self.count % 2 else -1  # buy then sell the spread: positions stay small
        command = RfqCreate(
            account=self.account,
            client_rfq_id=f"{self.account}-{self.count}",
            legs=(RfqLeg(low.symbol, 1, low.min_qty_lots), RfqLeg(high.symbol, -1, high.min_qty_lots)),
            window_ns=WINDOW_NS,
            validity_ns=10 * WINDOW_NS,
        )
        board: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        started = time.perf_counter_ns()
        record, events = await self.venue.runtime.submit(command)
        opened = next((e for e in events if isinstance(e, RfqOpened)), None)
        if opened is None:
            raise RuntimeError(f"RFQ refused: {events}")
        rfq_id = opened.rfq_id
        self.boards[rfq_id] = board
        shown = await asyncio.wait_for(board, timeout=10)
        seen = time.perf_counter_ns()
        del self.boards[rfq_id]
        quote_id = shown["best_offer_quote_id"] if side > 0 else shown["best_bid_quote_id"]
        accept = RfqAccept(account=self.account, rfq_id=rfq_id, quote_id=quote_id, side=side)
        sent = time.perf_counter_ns()
        _, done = await self.venue.runtime.submit(accept)
        executed = time.perf_counter_ns()
        if not any(isinstance(e, RfqExecuted) for e in done):
            raise RuntimeError(f"auction {rfq_id} did not execute: {done}")
        last_quote = max(q["entered_ns"] for q in shown["quotes"])
        return (seen - started - WINDOW_NS) / 1e6, (executed - sent) / 1e6, (last_quote - record.ts_ns) / 1e6


async def _run(auctions: int, concurrent: int, seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="venue-bench-rfq-") as folder:
        settings = VenueSettings(
            data_dir=Path(folder),
            mark_feed="sim",
            mark_interval_s=3600,
            fix_enabled=False,
            settlement_enabled=False,
        )
        venue = await start_venue(settings)
        tasks: list[asyncio.Task[None]] = []
        try:
            pairs = _pairs(venue)
            makers = [Maker(venue, f"MM{n:02d}", n) for n in range(MAKERS)]
            takers = [Taker(venue, f"TK{n:02d}", pairs) for n in range(concurrent)]
            for account in [m.account for m in makers] + [t.account for t in takers]:
                await venue.runtime.submit(
                    Deposit(account=account, amount_micro=FUNDS_MICRO, reference=account)
                )
            for maker in makers:
                tasks.append(asyncio.create_task(maker.run(await venue.bus.subscribe("rfq.requests"))))
            for taker in takers:
                tasks.append(
                    asyncio.create_task(taker.listen(await venue.bus.subscribe(f"rfq.{taker.account}")))
                )

            for _ in range(5):  # warm-up
                await takers[0].auction()
            board: list[float] = []
            accept: list[float] = []
            quotes_in: list[float] = []
            for _ in range(auctions):
                b, a, q = await takers[0].auction()
                board.append(b)
                accept.append(a)
                quotes_in.append(q)
            overhead = [b + a for b, a in zip(board, accept, strict=True)]

            done = 0
            deadline = time.perf_counter() + seconds

            async def back_to_back(taker: Taker) -> None:
                nonlocal done
                while time.perf_counter() < deadline:
                    await taker.auction()
                    done += 1

            began = time.perf_counter()
            await asyncio.gather(*(back_to_back(t) for t in takers))
            elapsed = time.perf_counter() - began
        finally:
            for task in tasks:
                task.cancel()
            await venue.stop()
    return {
        "makers": MAKERS,
        "window_ms": WINDOW_NS / 1e6,
        "auctions_timed": auctions,
        "overhead_p50_ms": round(statistics.median(overhead), 3),
        "overhead_p99_ms": round(_p(overhead, 0.99), 3),
        "board_p99_ms": round(_p(board, 0.99), 3),
        "accept_p99_ms": round(_p(accept, 0.99), 3),
        "quotes_in_p99_ms": round(_p(quotes_in, 0.99), 3),
        "concurrent_takers": concurrent,
        "auctions_per_s": round(done / elapsed, 1),
        "targets": {"overhead_p99_ms": 5, "auctions_per_s": 200},
    }


def run(auctions: int = 300, concurrent: int = 32, seconds: float = 10.0) -> dict[str, Any]:
    return asyncio.run(_run(auctions, concurrent, seconds))
