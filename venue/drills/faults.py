"""Fault drill: a venue on PostgreSQL (journal), Redis (bus) and anvil (settlement) under FIX load, with
each dependency taken away in turn and given back:

1. the venue killed with SIGKILL, restarted on the same journal (the FIX clients reconnect);
2. PostgreSQL stopped for ``pg_down_s`` (the machine's cluster: ``pg_ctlcluster ... stop``);
3. Redis stopped for ``redis_down_s`` (``redis-cli shutdown``, restarted as the machine starts it);
4. the chain stopped for ``chain_down_s`` (anvil, its state kept in a file, restarted on its port).

Figures: what the venue answered meanwhile (refusals at once, not hangs), how long it took to be
ready again by itself, and at the end that every acknowledged order is in the journal, the journal
replays to the same events and hash chain, and the vault balances equal the ledger.
Commands to stop and start the services can be overridden (VENUE_DRILL_PG_STOP, ..._PG_START,
..._REDIS_STOP, ..._REDIS_START).
"""

from __future__ import annotations

import asyncio
import os
import shlex
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from config.settings import DEFAULT_WALLETS_PATH
from contracts.anvil import free_port, start_anvil, stop_anvil
from contracts.loader import deploy
from matching.commands import NewOrder
from matching.journal_postgres import PostgresJournal
from settlement.wallets import WalletRegistry
from venue.chain import deposit_test_usdc
from venue.demo.fix_actor import FixActor
from venue.drills.harness import LOAD_PASSWORD, DrillVenue, fields_for, quote_loop, scrape

POSTGRES = os.environ.get("VENUE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = "redis://127.0.0.1:6379/0"


def _cluster() -> str:
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else ["15"]
    return f"{versions[-1]} main"


COMMANDS = {
    "pg_stop": os.environ.get(
        "VENUE_DRILL_PG_STOP", f"pg_ctlcluster --skip-systemctl-redirect {_cluster()} stop -m fast"
    ),
    "pg_start": os.environ.get(
        "VENUE_DRILL_PG_START", f"pg_ctlcluster --skip-systemctl-redirect {_cluster()} start"
    ),
    "redis_stop": os.environ.get("VENUE_DRILL_REDIS_STOP", "redis-cli -p 6379 shutdown nosave"),
    "redis_start": os.environ.get(
        "VENUE_DRILL_REDIS_START",
        "redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save '' --appendonly no "
        "--dir /var/lib/redis --logfile /var/log/redis/ci.log",
    ),
}


def _sh(name: str) -> None:
    done = subprocess.run(shlex.split(COMMANDS[name]), capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{name} ({COMMANDS[name]}) failed: {done.stderr or done.stdout}")


async def _until_ready(venue: DrillVenue, timeout_s: float = 120.0) -> float:
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=venue.base, timeout=2) as http:
        while time.monotonic() - started < timeout_s:
            try:
                if (await http.get("/ready")).status_code == 200:
                    return round(time.monotonic() - started, 2)
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError("the venue did not become ready again by itself")


async def _probe(venue: DrillVenue, seconds: float) -> dict[str, int]:
    """A REST order every 0.25 s for ``seconds``: how each was answered (and none may hang)."""
    answers: dict[str, int] = {}
    async with httpx.AsyncClient(base_url=venue.base, timeout=5) as http:
        mark = float((await http.get("/ticker/BTC-PERP")).json()["mark_price"])
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            body = {"account": "TAKER", "symbol": "BTC-PERP", "side": "buy", "quantity": "0.001",
                    "price": f"{round(mark * 0.95)}", "time_in_force": "ioc"}  # fmt: skip
            try:
                answer = await http.post("/orders", json=body, headers={"X-API-Key": venue.keys["taker"]})
                code = answer.json().get("code", "") if answer.status_code != 200 else ""
                key = f"{answer.status_code} {code}".strip()
            except httpx.TimeoutException:
                key = "timeout"
            except httpx.HTTPError:
                key = "connection refused"
            answers[key] = answers.get(key, 0) + 1
            await asyncio.sleep(0.25)
    return answers


async def _journaled_orders(dsn: str, schema: str) -> dict[str, int]:
    journal = PostgresJournal(dsn, schema=schema)
    await journal.open()
    counts: dict[str, int] = {}
    try:
        async for rows in journal.read():
            for row in rows:
                command = row.record.command
                if isinstance(command, NewOrder):
                    counts[command.account] = counts.get(command.account, 0) + 1
    finally:
        await journal.close()
    return counts


async def run(
    pg_down_s: float = 30.0, redis_down_s: float = 10.0, chain_down_s: float = 15.0
) -> dict[str, Any]:
    schema = f"drill_{uuid.uuid4().hex[:10]}"
    with tempfile.TemporaryDirectory(prefix="venue-drill-") as scratch:
        folder = Path(scratch)
        state = folder / "anvil-state.json"
        chain_port = free_port()
        anvil, w3 = start_anvil("--state", str(state), port=chain_port)
        token = deploy(w3, "CollateralToken")
        operator = w3.eth.accounts[0]
        vault = deploy(w3, "Vault", token.address, 86_400, operator, operator)
        venue = DrillVenue(folder, sessions=2, extra_env={
            "VENUE_DATABASE_URL": f"{POSTGRES}?schema={schema}", "VENUE_REDIS_URL": REDIS,
            "VENUE_SETTLEMENT_ENABLED": "true", "VENUE_CHAIN_RPC": f"http://127.0.0.1:{chain_port}",
            "VENUE_TOKEN_ADDRESS": token.address, "VENUE_VAULT_ADDRESS": vault.address,
            "VENUE_SETTLEMENT_INTERVAL_S": "2",
        })  # fmt: skip
        venue.prepare()
        result: dict[str, Any] = {"drill": "faults"}
        try:
            await venue.start()
            wallets = WalletRegistry.load(DEFAULT_WALLETS_PATH)
            for account in (*venue.session_ids, *venue.makers, "TAKER"):
                deposit_test_usdc(w3, token, vault, wallets.address(account), 10**9 * 10**6)
            await _until_credited(venue)
            anvil = await _drive(
                venue, result, anvil, chain_port, state, pg_down_s, redis_down_s, chain_down_s
            )
            result["clean_stop_rc"] = await venue.stop()
            journaled = await _journaled_orders(POSTGRES, schema)
            result["journaled_orders"] = journaled
            acked_new = result.pop("_acked_new")
            result["acknowledged_but_missing"] = {
                s: max(0, acked_new[s] - journaled.get(s, 0)) for s in acked_new
            }
            replay = subprocess.run(
                [str(Path(sys.executable).with_name("venue")), "replay"], env=venue.env(),
                capture_output=True, text=True, timeout=600,
            )  # fmt: skip
            result["replay_rc"] = replay.returncode
            result["venue_log"] = venue.log_problems()
            result["stop_problems"] = venue.log_lines("stop: ")  # a step of the clean stop that hung
            result["ok"] = (
                result["replay_rc"] == 0
                and result["clean_stop_rc"] == 0
                and not result["stop_problems"]
                and not any(result["acknowledged_but_missing"].values())
                and result.get("records_lag_at_end") == 0  # the derived records survived the outages
                and not result.get("settlement_alarm")
                # a request already queued when the database went is answered when it is back
                and result.get("hung_requests", 0) <= 2
            )
            return result
        finally:
            await venue.stop()
            stop_anvil(anvil)
            await _drop(schema)


async def _until_credited(venue: DrillVenue) -> None:
    async with httpx.AsyncClient(base_url=venue.base, timeout=10) as http:
        for _ in range(300):
            answer = await http.get("/accounts/TAKER", headers={"X-API-Key": venue.keys["admin"]})
            if answer.status_code == 200 and answer.json()["collateral_micro"] > 0:
                return
            await asyncio.sleep(0.2)
    raise RuntimeError("the deposits were not credited from the chain")


async def _drive(
    venue: DrillVenue, result: dict[str, Any], anvil: subprocess.Popen[bytes], chain_port: int, state: Path,
    pg_down_s: float, redis_down_s: float, chain_down_s: float,
) -> subprocess.Popen[bytes]:  # fmt: skip
    stop = asyncio.Event()
    makers = [asyncio.create_task(quote_loop(venue, m, stop)) for m in venue.makers]
    await asyncio.sleep(2.0)
    async with httpx.AsyncClient(base_url=venue.base, timeout=10) as http:
        mark = float((await http.get("/ticker/BTC-PERP")).json()["mark_price"])
    actors = [await FixActor(s, venue.fix_port, LOAD_PASSWORD, venue.folder / "fix" / s).start()
              for s in venue.session_ids]  # fmt: skip
    total_s = 40 + pg_down_s + redis_down_s + chain_down_s + 40
    for actor, kind in zip(actors, (1, 3), strict=False):  # one buys, one sells: 150 orders/s each
        order = fields_for(kind, mark)
        await actor.command({"op": "load", "count": int(150 * total_s), "rate": 150, "fields": order})
    hung = 0

    await asyncio.sleep(8)
    venue.kill()  # 1. SIGKILL under load
    killed = time.monotonic()
    await venue.start("venue-2.log")
    result["kill9_restart_s"] = round(time.monotonic() - killed, 2)

    await asyncio.sleep(5)  # 2. PostgreSQL away
    _sh("pg_stop")
    during = asyncio.create_task(_probe(venue, pg_down_s))
    await asyncio.sleep(pg_down_s)
    _sh("pg_start")
    result["pg_down_answers"] = answers = await during
    hung += answers.get("timeout", 0)
    result["pg_ready_again_s"] = await _until_ready(venue)

    await asyncio.sleep(5)  # 3. Redis away: trading goes on, the fan-out resumes
    _sh("redis_stop")
    result["redis_down_answers"] = answers = await _probe(venue, redis_down_s)
    hung += answers.get("timeout", 0)
    _sh("redis_start")
    result["redis_ready_again_s"] = await _until_ready(venue)

    await asyncio.sleep(5)  # 4. the chain away: batches wait, then settle in order
    stop_anvil(anvil)
    result["chain_down_answers"] = answers = await _probe(venue, chain_down_s)
    hung += answers.get("timeout", 0)
    anvil, _ = start_anvil("--state", str(state), port=chain_port)
    async with httpx.AsyncClient(base_url=venue.base, timeout=10) as http:
        before = (await http.get("/settlement", headers={"X-API-Key": venue.keys["admin"]})).json()
        deadline = time.monotonic() + 120
        while True:
            status = (await http.get("/settlement", headers={"X-API-Key": venue.keys["admin"]})).json()
            caught_up = status["batches_confirmed"] > before["batches_confirmed"] and status["chain_up"]
            if caught_up or status["alarm"] or time.monotonic() > deadline:
                break
            await asyncio.sleep(1.0)
    result["settlement_after_chain"] = {
        k: status[k] for k in ("batches_built", "batches_confirmed", "chain_up")
    }
    result["settlement_alarm"] = status["alarm"]
    result["hung_requests"] = hung

    loads = [await a.expect_message("", timeout_s=total_s + 300, event="load") for a in actors]
    stop.set()
    await asyncio.gather(*makers)
    for actor in actors:
        await actor.close()
    result["fix_load"] = [
        {k: r[k] for k in ("sent", "acked", "rejected", "p99_ms", "reject_texts")} for r in loads
    ]
    result["_acked_new"] = {
        s: int(r["acked"]) - int(r["rejected"]) for s, r in zip(venue.session_ids, loads, strict=True)
    }
    result["records_lag_at_end"] = await _records_caught_up(venue)
    return anvil


async def _records_caught_up(venue: DrillVenue, wait_s: float = 30.0) -> float | None:
    """The derived records' lag behind the journal once the outages are over (0: caught up), after
    waiting up to ``wait_s`` for it; None if /metrics did not say."""
    lag: float | None = None
    async with httpx.AsyncClient(base_url=venue.base, timeout=10) as http:
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            lag = (await scrape(http)).get("venue_records_lag")
            if lag == 0:
                break
            await asyncio.sleep(1.0)
    return lag


async def _drop(schema: str) -> None:
    try:
        conn = await asyncpg.connect(POSTGRES)
    except (OSError, asyncpg.PostgresError):
        return
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()
