"""Load drill: FIX sessions sending a steady total rate for minutes while REST makers requote every
second and RFQs run back to back; acknowledgement latency, rejects by kind, memory over time."""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from matching.reasons import Reason, text
from venue.demo.fix_actor import FixActor
from venue.drills.harness import (
    LOAD_PASSWORD,
    DrillVenue,
    fields_for,
    fix_store_bytes_per_message,
    quote_loop,
    scrape,
)

# Refusals a client must be ready for under load (risk, protections, matching); anything else
# (a malformed-message reject, a throttle, the journal) is a failure of the drill.
BUSINESS = {text(r) for r in Reason if 2000 <= int(r) < 5000}
# Memory is stable when what is in use stays flat over the second half: Python's allocated blocks
# (a leak of one object per order would add 120,000 a minute at 2,000 orders/s) and malloc's bytes in
# use besides quickfix's store index (a leak of 16 bytes per order would be ~1.8 MB a minute). Resident
# memory is reported but not judged: it also holds memory freed and kept by the allocator, which grew
# 0-4 MB a minute from run to run here while the blocks in use stayed flat.
STABLE_BLOCKS_PER_MIN = 20_000
STABLE_MB_PER_MIN = 1.0


async def rfq_loop(venue: DrillVenue, stop: asyncio.Event) -> dict[str, int]:
    """A REST taker asks for a quote on the perpetual, a REST maker answers, the taker accepts."""
    done = refused = 0
    taker, maker = {"X-API-Key": venue.keys["taker"]}, {"X-API-Key": venue.keys["MMB"]}
    async with httpx.AsyncClient(base_url=venue.base, timeout=30) as http:
        while not stop.is_set():
            try:
                body = {"account": "TAKER", "legs": [{"symbol": "BTC-PERP", "side": "buy"}], "size": "0.1",
                        "side": "buy", "window_ms": 200}  # fmt: skip
                opened = await http.post("/rfq", json=body, headers=taker)
                if opened.status_code != 200:
                    refused += 1
                    await asyncio.sleep(1.0)
                    continue
                rfq_id = opened.json()["rfq_id"]
                mark = float((await http.get("/ticker/BTC-PERP")).json()["mark_price"])
                quote = {"account": "MMB", "offer": [f"{round(mark + 20)}"]}
                await http.post(f"/rfq/{rfq_id}/quotes", json=quote, headers=maker)
                await asyncio.sleep(0.3)
                board = (await http.get(f"/rfq/{rfq_id}", params={"account": "TAKER"}, headers=taker)).json()
                best = board.get("best_offer_quote_id")
                if best:
                    accept = {"account": "TAKER", "quote_id": best, "side": "buy"}
                    answer = await http.post(f"/rfq/{rfq_id}/accept", json=accept, headers=taker)
                    done += answer.status_code == 200
                    refused += answer.status_code != 200
            except httpx.HTTPError:
                refused += 1
            await asyncio.sleep(0.5)
    return {"rfqs_done": done, "rfqs_refused": refused}


async def run(
    seconds: float = 300.0, rate: float = 2_000.0, sessions: int = 5, folder: Path | None = None
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="venue-drill-") as scratch:
        venue = DrillVenue(folder or Path(scratch), sessions=sessions)
        venue.prepare()
        await venue.start()
        try:
            return await _drive(venue, seconds, rate)
        finally:
            await venue.stop()


async def _drive(venue: DrillVenue, seconds: float, rate: float) -> dict[str, Any]:
    await venue.fund()
    actors = [await FixActor(s, venue.fix_port, LOAD_PASSWORD, venue.folder / "fix" / s).start()
              for s in venue.session_ids]  # fmt: skip
    stop = asyncio.Event()
    makers = [asyncio.create_task(quote_loop(venue, m, stop)) for m in venue.makers]
    rfqs = asyncio.create_task(rfq_loop(venue, stop))
    await asyncio.sleep(2.0)  # the makers' first quotes
    async with httpx.AsyncClient(base_url=venue.base, timeout=10) as http:
        mark = float((await http.get("/ticker/BTC-PERP")).json()["mark_price"])
    per_session = rate / len(actors)
    count = int(per_session * seconds)
    for n, actor in enumerate(actors, start=1):
        await actor.command(
            {"op": "load", "count": count, "rate": per_session, "fields": fields_for(n, mark)}
        )
    index_bytes = fix_store_bytes_per_message()
    memory: list[tuple[float, float, int]] = []  # (s since start, RSS MB, FIX messages in the stores)
    in_use: list[tuple[float, float, float]] = []  # (s since start, Python blocks, malloc MB) from /metrics
    started = time.monotonic()
    waiting = [
        asyncio.create_task(a.expect_message("", timeout_s=seconds + 120, event="load")) for a in actors
    ]
    async with httpx.AsyncClient(base_url=venue.base, timeout=10) as http:
        while not all(w.done() for w in waiting):
            at = time.monotonic() - started
            memory.append((at, venue.rss_mb(), venue.fix_messages_sent()))
            gauges = await scrape(http)
            if "venue_python_allocated_blocks" in gauges and "venue_malloc_in_use_bytes" in gauges:
                blocks, malloc = gauges["venue_python_allocated_blocks"], gauges["venue_malloc_in_use_bytes"]
                in_use.append((at, blocks, malloc / 2**20))
            await asyncio.wait(waiting, timeout=5.0)
    loads = [w.result() for w in waiting]
    stop.set()
    quotes = sum(await asyncio.gather(*makers))
    rfq = await rfqs
    for actor in actors:
        await actor.close()
    sent = sum(int(r["sent"]) for r in loads)
    acked = sum(int(r["acked"]) for r in loads)
    rejects: dict[str, int] = {}
    for r in loads:
        for reason, n in dict(r["reject_texts"]).items():
            rejects[reason] = rejects.get(reason, 0) + int(n)
    other = {k: v for k, v in rejects.items() if k not in BUSINESS}
    growth = _second_half_slope([(at, rss) for at, rss, _ in memory], seconds)
    # quickfix's store index grows by design until the sessions' daily reset (``reset_time``)
    index_mb = [(at, sent * index_bytes / 2**20) for at, _, sent in memory]
    store_growth = _second_half_slope(index_mb, seconds)
    blocks_growth = _second_half_slope([(at, blocks) for at, blocks, _ in in_use], seconds)
    malloc_growth = _second_half_slope([(at, mb) for at, _, mb in in_use], seconds)
    stable = (
        len(in_use) >= 3
        and blocks_growth <= STABLE_BLOCKS_PER_MIN
        and malloc_growth - store_growth <= STABLE_MB_PER_MIN
    )
    return {
        "drill": "load",
        "sessions": len(actors),
        "target_orders_per_s": rate,
        "seconds": seconds,
        "sent": sent,
        "acked": acked,
        "unacknowledged": sent - acked,
        "acks_per_s": round(sum(float(r["acks_per_s"]) for r in loads), 1),
        "p50_ms_worst_session": max(float(r["p50_ms"]) for r in loads),
        "p99_ms_worst_session": max(float(r["p99_ms"]) for r in loads),
        "p99_ms_by_session": [float(r["p99_ms"]) for r in loads],
        "max_ms": max(float(r["max_ms"]) for r in loads),
        "business_rejects": sum(v for k, v in rejects.items() if k in BUSINESS),
        "other_rejects": other,
        "maker_quotes": quotes,
        **rfq,
        "rss_mb_start": round(memory[0][1], 1) if memory else None,
        "rss_mb_end": round(memory[-1][1], 1) if memory else None,
        "rss_mb_max": round(max(m[1] for m in memory), 1) if memory else None,
        "rss_growth_mb_per_min_second_half": round(growth, 2),
        "fix_messages_stored": memory[-1][2] if memory else None,
        "fix_store_index_bytes_per_message": round(index_bytes, 1),
        "fix_store_growth_mb_per_min_second_half": round(store_growth, 2),
        "rss_growth_besides_fix_store_mb_per_min": round(growth - store_growth, 2),
        "python_blocks_growth_per_min_second_half": round(blocks_growth),
        "malloc_in_use_growth_mb_per_min_second_half": round(malloc_growth, 2),
        "malloc_growth_besides_fix_store_mb_per_min": round(malloc_growth - store_growth, 2),
        "memory_samples": _every_30_s(memory, in_use),
        "memory_stable": stable,
        "venue_log": venue.log_problems(),
        "ok": sent == acked and not other and stable,
    }


def _second_half_slope(points: list[tuple[float, float]], seconds: float) -> float:
    """Least-squares slope per minute of (s since start, value) points in the second half (a fit, not
    the two ends: one sample caught in a burst of allocations would swing the figure)."""
    half = [p for p in points if p[0] >= seconds / 2]
    if len(half) < 3:
        return 0.0
    slope, _ = statistics.linear_regression([p[0] for p in half], [p[1] for p in half])
    return slope * 60


def _every_30_s(
    memory: list[tuple[float, float, int]], in_use: list[tuple[float, float, float]]
) -> list[tuple[float, ...]]:
    """(s, RSS MB, FIX messages sent, Python blocks, malloc MB) every 30 s (samples are 5 s apart)."""
    gauges = {at: (blocks, round(malloc, 1)) for at, blocks, malloc in in_use}
    return [
        (round(at), round(rss, 1), sent, *gauges.get(at, ()))
        for i, (at, rss, sent) in enumerate(memory)
        if i % 6 == 0
    ]
