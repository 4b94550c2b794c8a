"""`venue bench journal`: the matching mix through the runtime with a durable journal, per store.

The same workload as ``venue bench matching`` (records generated first), submitted as fast as the
runtime takes it, all in flight at once, as many pipelined clients would. Each command counts when it
is acknowledged, i.e. after its group commit is durable. Reports commands per second with no journal,
with SQLite (WAL, fsync per commit) and with PostgreSQL (COPY per commit), plus group-commit sizes.
PostgreSQL is the one at ``VENUE_DATABASE_URL``, else the local test server.
"""

from __future__ import annotations

import gc
import os
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

import asyncpg

from config.catalog import Catalog
from config.settings import VenueSettings
from matching.commands import Command
from matching.journal import Journal, JournalError
from matching.journal_postgres import PostgresJournal
from matching.journal_sqlite import SqliteJournal
from matching.sequencer import Sequencer
from venue import gc_policy
from venue.bench.matching import build_workload
from venue.runtime import Runtime

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


async def _measure(
    journal: Journal | None, setup: list[Command], measured: list[Command]
) -> dict[str, float]:
    if journal is not None:
        await journal.open()
    runtime = Runtime(Sequencer(Catalog.load().fee_account), journal)
    runtime.start()
    for command in setup:
        last = runtime.submit_nowait(command)
    await last
    batches_before, seconds_before = runtime.journal_batches, runtime.journal_seconds
    start = time.perf_counter()
    for command in measured:  # pipelined: answers come in sequence order, so the last one suffices
        last = runtime.submit_nowait(command)
    await last
    elapsed = time.perf_counter() - start
    batches = runtime.journal_batches - batches_before
    write_seconds = runtime.journal_seconds - seconds_before
    await runtime.stop()
    if journal is not None:
        await journal.close()
    return {
        "cmds_per_s": round(len(measured) / elapsed),
        "group_commits": batches,
        "mean_commit_size": round(len(measured) / batches) if batches else 0,
        "mean_commit_ms": round(1000 * write_seconds / batches, 2) if batches else 0.0,
    }


async def run(n_commands: int = 200_000, seed: int = 7) -> dict[str, object]:
    workload = build_workload(n_commands, seed)
    gc.collect()
    gc.freeze()
    settings = VenueSettings()
    gc_policy.install(settings.gc_gen0_threshold, settings.gc_freeze_survivors)  # as `venue run` does
    setup = [r.command for r in workload.setup]
    measured = [r.command for r in workload.measured]
    result: dict[str, object] = {"area": "journal", "commands": len(measured)}

    none = await _measure(None, setup, measured)
    result["no_journal_cmds_per_s"] = none["cmds_per_s"]

    with tempfile.TemporaryDirectory() as tmp:
        sqlite = await _measure(SqliteJournal(Path(tmp) / "bench.sqlite3"), setup, measured)
    result["sqlite_cmds_per_s"] = sqlite["cmds_per_s"]
    result["sqlite"] = sqlite

    dsn = os.environ.get("VENUE_DATABASE_URL") or DEFAULT_POSTGRES
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    try:
        postgres = await _measure(PostgresJournal(dsn, schema=schema), setup, measured)
        result["postgres_cmds_per_s"] = postgres["cmds_per_s"]
        result["postgres"] = postgres
    except JournalError as exc:
        result["postgres_cmds_per_s"] = None
        result["postgres_error"] = str(exc)
    finally:
        try:
            conn = await asyncpg.connect(dsn)
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            await conn.close()
        except (OSError, asyncpg.PostgresError):
            pass
    result["date"] = date.today().isoformat()
    gc_policy.uninstall()
    return result
