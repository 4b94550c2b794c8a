"""The production journal: PostgreSQL through asyncpg. A group commit is one COPY (one transaction).

Concurrent writers are refused rather than interleaved: COPY into a primary key on ``seq`` fails if
another process already wrote a row, and ``append`` checks that the batch starts right after the last
row in the same transaction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import asyncpg

from matching.commands import CommandRecord
from matching.journal import GENESIS_CHAIN, JournalError, JournalRow, PendingRow, decode_command

MIGRATIONS: list[tuple[int, list[str]]] = [
    (
        1,
        [
            """CREATE TABLE journal (
                seq BIGINT PRIMARY KEY,
                ts_ns BIGINT NOT NULL,
                command BYTEA NOT NULL,
                events BYTEA NOT NULL,
                chain BYTEA NOT NULL
            )""",
            "CREATE INDEX journal_ts ON journal USING brin (ts_ns)",  # time only grows: BRIN is enough
        ],
    ),
    (
        2,
        [
            "CREATE TABLE snapshots"
            " (seq BIGINT PRIMARY KEY, state BYTEA NOT NULL, created TIMESTAMPTZ NOT NULL)"
        ],
    ),
]
CHUNK = 20_000
COLUMNS = ("seq", "ts_ns", "command", "events", "chain")


class PostgresJournal:
    """``dsn`` as asyncpg takes it; ``schema`` isolates a journal (tests use one schema each)."""

    def __init__(self, dsn: str, schema: str = "public") -> None:
        self.dsn = dsn
        self.schema = schema
        self._pool: asyncpg.Pool | None = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise JournalError("journal is not open")
        return self._pool

    async def open(self) -> None:
        try:
            admin = await asyncpg.connect(self.dsn)
            try:
                await admin.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            finally:
                await admin.close()
            # Bounded waits: a database that stops answering (rather than refusing) must surface as a
            # failed write the runtime retries, not as a journal stage hung for ever.
            self._pool = await asyncpg.create_pool(
                self.dsn, min_size=1, max_size=4, server_settings={"search_path": self.schema},
                timeout=10, command_timeout=30,
            )  # fmt: skip
        except (OSError, asyncpg.PostgresError) as exc:
            raise JournalError(f"cannot open the PostgreSQL journal: {exc}") from exc
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"{self.schema}.migrations")
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations"
                " (version INT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)"
            )
            applied = {row["version"] for row in await conn.fetch("SELECT version FROM schema_migrations")}
            for version, statements in MIGRATIONS:
                if version in applied:
                    continue
                for statement in statements:
                    await conn.execute(statement)
                await conn.execute("INSERT INTO schema_migrations VALUES ($1, now())", version)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def append(self, rows: Sequence[PendingRow]) -> None:
        if not rows:
            return
        try:
            async with self.pool.acquire(timeout=10) as conn, conn.transaction():
                last = await conn.fetchval("SELECT coalesce(max(seq), 0) FROM journal")
                if rows[0].seq != last + 1:
                    raise JournalError(f"append at seq {rows[0].seq}, but the journal ends at {last}")
                await conn.copy_records_to_table(
                    "journal",
                    records=rows,
                    columns=COLUMNS,
                )
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise JournalError(f"postgres append failed: {exc}") from exc

    async def last(self) -> tuple[int, bytes]:
        try:
            row = await self.pool.fetchrow("SELECT seq, chain FROM journal ORDER BY seq DESC LIMIT 1")
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise JournalError(f"postgres read failed: {exc}") from exc
        return (row["seq"], bytes(row["chain"])) if row else (0, GENESIS_CHAIN)

    async def chain_before(self, seq: int) -> bytes:
        if seq <= 1:
            return GENESIS_CHAIN
        chain = await self.pool.fetchval("SELECT chain FROM journal WHERE seq = $1", seq - 1)
        if chain is None:
            raise JournalError(f"no journal row {seq - 1}")
        return bytes(chain)

    async def read(self, from_seq: int = 1, to_seq: int | None = None) -> AsyncIterator[list[JournalRow]]:
        last, _ = await self.last()
        stop = last if to_seq is None else min(to_seq, last)
        start = max(1, from_seq)
        while start <= stop:
            end = min(stop, start + CHUNK - 1)
            rows = await self.pool.fetch(
                "SELECT seq, ts_ns, command, events, chain FROM journal"
                " WHERE seq >= $1 AND seq <= $2 ORDER BY seq",
                start,
                end,
            )
            if rows:
                yield [
                    JournalRow(
                        CommandRecord(r["seq"], r["ts_ns"], decode_command(r["command"])),
                        bytes(r["events"]),
                        bytes(r["chain"]),
                    )
                    for r in rows
                ]
            start = end + 1

    async def save_snapshot(self, seq: int, state: bytes) -> None:
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                await conn.execute(
                    "INSERT INTO snapshots (seq, state, created) VALUES ($1, $2, now())"
                    " ON CONFLICT (seq) DO UPDATE SET state = excluded.state",
                    seq,
                    state,
                )
                # two are enough: the newest, and one before it in case the newest is unreadable
                await conn.execute(
                    "DELETE FROM snapshots"
                    " WHERE seq NOT IN (SELECT seq FROM snapshots ORDER BY seq DESC LIMIT 2)"
                )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise JournalError(f"postgres snapshot failed: {exc}") from exc

    async def latest_snapshot(self) -> tuple[int, bytes] | None:
        row = await self.pool.fetchrow("SELECT seq, state FROM snapshots ORDER BY seq DESC LIMIT 1")
        return (row["seq"], bytes(row["state"])) if row else None
