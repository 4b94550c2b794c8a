"""Load drill: FIX sessions sending a steady total rate for minutes while REST makers requote every
second and RFQs run back to back; acknowledgement latency, rejects by kind, memory over time."""

from __future__ import annotations

import asyncio
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
)

# Refusals a client must be ready for under load (risk, protections, matching); anything else
# (a malformed-message reject, a throttle, the journal) is a failure of the drill.
BUSINESS = {text(r) for r in Reason if 2000 <= int(r) < 5000}
# Growth of resident memory, besides quickfix's store index, that still counts as stable: the
# allocator's own noise over a few minutes (pymalloc arenas, heap top); a leak of one small object per
# order would be several MB a minute at 2,000 orders/s.
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
    started = time.monotonic()
    waiting = [
        asyncio.create_task(a.expect_message("", timeout_s=seconds + 120, event="load")) for a in actors
    ]
    while not all(w.done() for w in waiting):
        memory.append((time.monotonic() - started, venue.rss_mb(), venue.fix_messages_sent()))
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
    growth, store_growth = _second_half_growth(memory, seconds, index_bytes)
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
        "memory_stable": growth - store_growth <= STABLE_MB_PER_MIN,
        "venue_log": venue.log_problems(),
        "ok": sent == acked and not other and growth - store_growth <= STABLE_MB_PER_MIN,
    }


def _second_half_growth(
    memory: list[tuple[float, float, int]], seconds: float, index_bytes: float
) -> tuple[float, float]:
    """MB per minute over the second half: of the venue's resident memory, and of quickfix's store
    index (its bytes per message times the messages sent meanwhile), which grows by design until the
    sessions' daily reset (``reset_time``)."""
    half = [m for m in memory if m[0] >= seconds / 2]
    if len(half) < 2:
        return 0.0, 0.0
    minutes = (half[-1][0] - half[0][0]) / 60
    rss = (half[-1][1] - half[0][1]) / minutes
    store = (half[-1][2] - half[0][2]) * index_bytes / 2**20 / minutes  # RSS is read in MiB
    return rss, store
