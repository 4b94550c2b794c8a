"""kill -9 under load, against PostgreSQL: nothing acknowledged is lost, and state equals a fresh replay.

The venue runs as a real process (`venue run`); a client streams orders over HTTP from several
connections at once and keeps every acknowledgement; the process is killed with SIGKILL mid-stream,
restarted on the same journal, and checked against the journal and a fresh replay of it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from pathlib import Path
from typing import Any

import httpx

from config.catalog import Catalog
from matching.events import OrderAccepted, Trade
from matching.journal_postgres import PostgresJournal
from matching.replay import verify
from matching.sequencer import Sequencer
from tests.conftest import POSTGRES_DSN, _drop_schema
from tests.venue.venue_process import free_port, start, wait_ready
from venue.api.keys import KeyStore, Role
from venue.wiring import new_sequencer

ACCOUNTS = ("alice", "bob")


async def stream_orders(base: str, tokens: dict[str, str], acked: list[dict[str, Any]]) -> None:
    """Alice sells and Bob buys around the same prices from 8 connections, until the venue is gone."""

    async def worker(n: int) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            for i in range(1_000_000):
                account = ACCOUNTS[(n + i) % 2]
                body = {
                    "account": account,
                    "symbol": "BTC-PERP",
                    "side": "sell" if account == "alice" else "buy",
                    "quantity": "0.01",
                    "price": str(100_000 + (i % 5)),
                    "client_order_id": f"w{n}-{i}",
                }
                try:
                    response = await client.post("/orders", json=body, headers={"X-API-Key": tokens[account]})
                except httpx.HTTPError:
                    return  # the venue is gone
                if response.status_code == 200:
                    acked.append(response.json())

    await asyncio.gather(*(worker(n) for n in range(8)))


def test_kill_9_under_load_loses_nothing_acknowledged(tmp_path: Path) -> None:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    port = free_port()
    store = KeyStore(tmp_path / "keys.toml")
    tokens = {a: store.create({Role.TRADER}, {a}, rate_per_s=10_000, burst=10_000)[0] for a in ACCOUNTS}
    admin = store.create({Role.ADMIN}, set())[0]
    env = {
        **os.environ,
        "VENUE_DATABASE_URL": f"{POSTGRES_DSN}?schema={schema}",
        "VENUE_DATA_DIR": str(tmp_path / "var"),
        "VENUE_API_KEYS_FILE": str(tmp_path / "keys.toml"),
        "VENUE_HTTP_PORT": str(port),
        "VENUE_CATALOG_AS_OF": "2026-11-22",
    }
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "venue.log"
    try:
        process = start(env, log)
        wait_ready(base, process, log)
        for account in ACCOUNTS:
            funded = httpx.post(
                f"{base}/admin/deposits",
                json={"account": account, "amount": "1000000000", "reference": f"fund-{account}"},
                headers={"X-API-Key": admin},
            )
            assert funded.status_code == 200, funded.text
        acked: list[dict[str, Any]] = []

        async def load_then_kill() -> None:
            loader = asyncio.create_task(stream_orders(base, tokens, acked))
            while len(acked) < 400:
                await asyncio.sleep(0.005)
            os.kill(process.pid, signal.SIGKILL)  # mid-stream: 8 requests are in flight
            await loader

        asyncio.run(load_then_kill())
        process.wait(timeout=10)
        assert process.returncode == -signal.SIGKILL
        acked_orders = {a["order_id"] for a in acked}
        acked_trades = {e["trade_id"] for a in acked for e in a["events"] if e["type"] == "Trade"}
        assert len(acked_orders) >= 400 and acked_trades

        process = start(env, log)  # restart on the same journal
        wait_ready(base, process, log)
        book = httpx.get(f"{base}/book/BTC-PERP", params={"depth": 500}).json()
        accounts = {
            a: httpx.get(f"{base}/accounts/{a}", headers={"X-API-Key": tokens[a]}).json() for a in ACCOUNTS
        }
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0  # a clean stop this time
        assert "venue stopped cleanly" in log.read_text()

        journal_orders, journal_trades, fresh = asyncio.run(replay(schema))
        assert acked_orders <= journal_orders  # every acknowledged order is in the journal
        assert acked_trades <= journal_trades  # and every acknowledged trade
        market = fresh.market("BTC-PERP")
        assert market is not None
        inst = market.instrument

        def rows(levels: list[tuple[int, int, int]]) -> list[list[Any]]:
            return [[str(inst.ticks_to_price(p)), str(inst.lots_to_qty(q)), n] for p, q, n in levels]

        assert book["asks"] == rows(market.book.asks.depth(500))
        assert book["bids"] == rows(market.book.bids.depth(500))
        for account, view in accounts.items():
            ledger = fresh.ledger.accounts[account]
            assert view["collateral_micro"] == ledger.collateral
            position = next(iter(ledger.positions.values()))
            assert view["positions"][0]["quantity"] == str(inst.lots_to_qty(position.qty))
    finally:
        _drop_schema(schema)


async def replay(schema: str) -> tuple[set[int], set[int], Sequencer]:
    """Order and trade ids in the journal, after verifying it, and the state of a fresh replay."""
    journal = PostgresJournal(POSTGRES_DSN, schema=schema)
    await journal.open()
    orders: set[int] = set()
    trades: set[int] = set()
    catalog = Catalog.load()
    fresh = new_sequencer(catalog)  # as the venue builds it: margin engine, RFQ desk, option expiry
    try:
        report = await verify(journal, lambda: new_sequencer(catalog))
        assert report.ok, report
        async for chunk in journal.read():
            for row in chunk:
                fresh.apply(row.record)
                for event in row.events():
                    if isinstance(event, OrderAccepted):
                        orders.add(event.order_id)
                    elif isinstance(event, Trade):
                        trades.add(event.trade_id)
    finally:
        await journal.close()
    return orders, trades, fresh
