"""Derived records for queries: orders (in any state), trades, positions and balances, in SQL.

A projection of the journal's events into tables of the journal's own database, written in batches
by a task of its own after each group commit (never on the acknowledgement path). The projection
remembers the last record it applied (``records_state.seq``), so it resumes after a restart, and
``rebuild`` recreates it from the journal: the journal stays the truth. Each batch is one
transaction: tables and position move together.

Tables: ``orders`` (latest state per order: open, filled, cancelled, expired), ``trades``,
``positions`` (account, symbol), ``balances`` (account). Same SQL on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

import asyncpg

from matching.commands import CommandRecord
from matching.events import (
    BalanceChanged,
    BlockTrade,
    Event,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderReduced,
    OrderReplaced,
    PositionChanged,
    Trade,
)
from matching.journal import Journal, JournalError
from matching.journal_postgres import PostgresJournal
from matching.journal_sqlite import SqliteJournal
from venue.supervision import drained, report_death

log = logging.getLogger(__name__)

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS orders (
        order_id BIGINT PRIMARY KEY, account TEXT NOT NULL, client_order_id TEXT NOT NULL,
        symbol TEXT NOT NULL, side INTEGER NOT NULL, order_type INTEGER NOT NULL, tif INTEGER NOT NULL,
        price_ticks BIGINT NOT NULL, qty_lots BIGINT NOT NULL, leaves_lots BIGINT NOT NULL,
        cum_lots BIGINT NOT NULL, cum_value BIGINT NOT NULL, status TEXT NOT NULL, reason INTEGER NOT NULL,
        created_seq BIGINT NOT NULL, updated_seq BIGINT NOT NULL
    )""",
    "DROP INDEX IF EXISTS orders_account",  # no query used it; every order paid for it
    "CREATE INDEX IF NOT EXISTS orders_client_id ON orders (account, client_order_id)",
    """CREATE TABLE IF NOT EXISTS trades (
        trade_id BIGINT PRIMARY KEY, seq BIGINT NOT NULL, ts_ns BIGINT NOT NULL, symbol TEXT NOT NULL,
        price_ticks BIGINT NOT NULL, qty_lots BIGINT NOT NULL, aggressor_side INTEGER NOT NULL,
        maker_order_id BIGINT NOT NULL, taker_order_id BIGINT NOT NULL, maker_account TEXT NOT NULL,
        taker_account TEXT NOT NULL, maker_fee_micro BIGINT NOT NULL, taker_fee_micro BIGINT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS trades_maker ON trades (maker_account, trade_id)",
    "CREATE INDEX IF NOT EXISTS trades_taker ON trades (taker_account, trade_id)",
    """CREATE TABLE IF NOT EXISTS positions (
        account TEXT NOT NULL, symbol TEXT NOT NULL, qty_lots BIGINT NOT NULL, cost_micro BIGINT NOT NULL,
        realised_pnl_micro BIGINT NOT NULL, seq BIGINT NOT NULL, PRIMARY KEY (account, symbol)
    )""",
    """CREATE TABLE IF NOT EXISTS balances (
        account TEXT PRIMARY KEY, collateral_micro BIGINT NOT NULL, seq BIGINT NOT NULL
    )""",
    "CREATE TABLE IF NOT EXISTS records_state (id INTEGER PRIMARY KEY, seq BIGINT NOT NULL)",
]
ORDER_COLUMNS = (
    "order_id, account, client_order_id, symbol, side, order_type, tif, price_ticks, qty_lots, leaves_lots, "
    "cum_lots, cum_value, status, reason, created_seq, updated_seq"
)
TRADE_COLUMNS = (
    "trade_id, seq, ts_ns, symbol, price_ticks, qty_lots, aggressor_side, maker_order_id, taker_order_id, "
    "maker_account, taker_account, maker_fee_micro, taker_fee_micro"
)
UPSERTS = {
    "orders": f"INSERT INTO orders ({ORDER_COLUMNS}) VALUES ({', '.join(['?'] * 16)})"
    " ON CONFLICT (order_id) DO UPDATE SET client_order_id = excluded.client_order_id,"
    " price_ticks = excluded.price_ticks, qty_lots = excluded.qty_lots, leaves_lots = excluded.leaves_lots,"
    " cum_lots = excluded.cum_lots, cum_value = excluded.cum_value, status = excluded.status,"
    " reason = excluded.reason, updated_seq = excluded.updated_seq",
    "trades": f"INSERT INTO trades VALUES ({', '.join(['?'] * 13)}) ON CONFLICT (trade_id) DO NOTHING",
    "positions": "INSERT INTO positions VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account, symbol) DO UPDATE SET"
    " qty_lots = excluded.qty_lots, cost_micro = excluded.cost_micro,"
    " realised_pnl_micro = excluded.realised_pnl_micro, seq = excluded.seq",
    "balances": "INSERT INTO balances VALUES (?, ?, ?) ON CONFLICT (account) DO UPDATE SET"
    " collateral_micro = excluded.collateral_micro, seq = excluded.seq",
    "state": "INSERT INTO records_state VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq",
}


# positions in an orders row (ORDER_COLUMNS) of the fields an event may change
ORDER_FIELD = {
    "clid": 2,
    "price": 7,
    "qty": 8,
    "leaves": 9,
    "cum": 10,
    "value": 11,
    "status": 12,
    "reason": 13,
}


class Batch:
    """The net effect of a run of records: the final row per key."""

    def __init__(self) -> None:
        self.orders: dict[int, list[Any]] = {}
        self.trades: list[tuple[Any, ...]] = []
        self.positions: dict[tuple[str, str], tuple[Any, ...]] = {}
        self.balances: dict[str, tuple[Any, ...]] = {}
        self.seq = 0

    def add(self, record: CommandRecord, events: Sequence[Event], known: dict[int, list[Any]]) -> None:
        seq = self.seq = record.seq
        for e in events:
            if isinstance(e, OrderAccepted):
                row = [
                    e.order_id,
                    e.account,
                    e.client_order_id,
                    e.symbol,
                    e.side,
                    e.order_type,
                    e.tif,
                    e.price_ticks,
                    e.qty_lots,
                    e.qty_lots,
                    0,
                    0,
                    "open",
                    0,
                    seq,
                    seq,
                ]
                self.orders[e.order_id] = known[e.order_id] = row
            elif isinstance(e, Trade):
                self.trades.append(
                    (
                        e.trade_id,
                        seq,
                        record.ts_ns,
                        e.symbol,
                        e.price_ticks,
                        e.qty_lots,
                        e.aggressor_side,
                        e.maker_order_id,
                        e.taker_order_id,
                        e.maker_account,
                        e.taker_account,
                        e.maker_fee_micro,
                        e.taker_fee_micro,
                    )
                )
                self._fill(
                    e.maker_order_id, e.maker_cum_qty, e.maker_leaves_qty, e.maker_cum_value, seq, known
                )
                self._fill(
                    e.taker_order_id, e.taker_cum_qty, e.taker_leaves_qty, e.taker_cum_value, seq, known
                )
            elif isinstance(e, BlockTrade):  # an RFQ leg: no orders behind it (order ids 0)
                self.trades.append(
                    (
                        e.trade_id,
                        seq,
                        record.ts_ns,
                        e.symbol,
                        e.price_ticks,
                        e.qty_lots,
                        e.side,
                        0,
                        0,
                        e.maker_account,
                        e.taker_account,
                        e.maker_fee_micro,
                        e.taker_fee_micro,
                    )
                )
            elif isinstance(e, OrderCancelled | OrderExpired):
                status = "cancelled" if isinstance(e, OrderCancelled) else "expired"
                self._update(
                    e.order_id,
                    seq,
                    known,
                    status=status,
                    leaves=0,
                    reason=e.reason if isinstance(e, OrderCancelled) else 0,
                )
            elif isinstance(e, OrderReplaced):
                self._update(
                    e.order_id,
                    seq,
                    known,
                    clid=e.client_order_id,
                    price=e.price_ticks,
                    qty=e.qty_lots,
                    leaves=e.leaves_qty,
                )
            elif isinstance(e, OrderReduced):
                self._update(
                    e.order_id,
                    seq,
                    known,
                    qty=e.qty_lots,
                    leaves=e.leaves_qty,
                    status="cancelled" if e.leaves_qty == 0 else None,
                    reason=e.reason,
                )
            elif isinstance(e, PositionChanged):
                self.positions[(e.account, e.symbol)] = (
                    e.account,
                    e.symbol,
                    e.qty_lots,
                    e.cost_micro,
                    e.realised_pnl_micro,
                    seq,
                )
            elif isinstance(e, BalanceChanged):
                self.balances[e.account] = (e.account, e.collateral_micro, seq)

    def _fill(
        self, order_id: int, cum: int, leaves: int, value: int, seq: int, known: dict[int, list[Any]]
    ) -> None:
        self._update(
            order_id, seq, known, cum=cum, leaves=leaves, value=value, status="filled" if not leaves else None
        )

    def _update(self, order_id: int, seq: int, known: dict[int, list[Any]], **change: Any) -> None:
        row = known.get(order_id)
        if row is None:
            return  # accepted before this projection's memory (its row is already stored and final)
        for name, value in change.items():
            if value is not None:
                row[ORDER_FIELD[name]] = value
        row[15] = seq
        self.orders[order_id] = row
        if row[12] != "open":
            known.pop(order_id, None)  # finished: no later event touches it


# A batch of up to this many rows is written on the loop (2-5 us a row: a few ms at most), larger ones
# (a catch-up, a burst) in a worker thread. A thread would cost more than it saves on the hot path:
# quickfix releases the GIL in every call it makes, and a thread busy binding rows takes it each time,
# so the loop waits for it again and again (measured: 6-15 us more process CPU per FIX order).
INLINE_ROWS = 1_000
# Seconds between WAL checkpoints of the records file (SQLite's own would run on the loop).
CHECKPOINT_S = 1.0
# Seconds a records write waits for a lock another connection holds on the file.
WRITE_BUSY_S = 0.2

# What a write or a catch-up may raise while its database is unreachable or failing.
STORE_ERRORS = (
    sqlite3.Error,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    JournalError,
    OSError,
    TimeoutError,
)


class Records:
    """Writes batches beside the journal and answers queries from them: in the journal's PostgreSQL
    database, or for the embedded journal in a SQLite file of their own next to it
    (``journal.records.sqlite3``), so their transactions never hold the lock a journal commit needs."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._sqlite: sqlite3.Connection | None = None
        self._checkpointer: sqlite3.Connection | None = None
        self._checkpointing: asyncio.Task[None] | None = None
        self._checkpoint_due = 0.0  # time.monotonic() of the next WAL checkpoint
        self._open: dict[int, list[Any]] = {}  # rows of orders still open, by id
        self._queue: asyncio.Queue[tuple[CommandRecord, list[Event]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.projected_seq = 0
        self.coalesce_s = 0.01

    # -- storage ----------------------------------------------------------------------------------

    async def open(self) -> None:
        if isinstance(self.journal, SqliteJournal):
            path = self.journal.path.with_suffix(".records" + self.journal.path.suffix)
            # Only this projection writes the file, so a lock held elsewhere (an operator's `venue
            # records rebuild` while the venue runs) is a fault: a write on the loop must not wait
            # long for it; it stalls the projection, which retries from the journal.
            self._sqlite = sqlite3.connect(
                path, timeout=WRITE_BUSY_S, check_same_thread=False, isolation_level=None
            )
            self._sqlite.execute("PRAGMA journal_mode=WAL")  # queries read while a batch is written
            # derived data: a commit lost to a power cut rolls back with its records_state seq, and
            # catch_up re-projects it from the journal, so no fsync per commit is needed here
            self._sqlite.execute("PRAGMA synchronous=NORMAL")
            # Small batches are written on the loop, so the commit that crosses SQLite's WAL threshold
            # would run the checkpoint (page copies and an fsync) there; a connection of its own runs
            # them in a worker thread instead (writers go on meanwhile in WAL mode).
            self._sqlite.execute("PRAGMA wal_autocheckpoint=0")
            self._checkpointer = sqlite3.connect(path, timeout=30, check_same_thread=False)
        for statement in SCHEMA:
            if self._sqlite is not None:
                # SQLite keeps a table's rows by an INTEGER PRIMARY KEY (64-bit) itself; a BIGINT one
                # is a second B-tree beside a hidden rowid, one more write per order and trade
                statement = statement.replace("BIGINT PRIMARY KEY", "INTEGER PRIMARY KEY")
            await self._execute(statement)
        rows = await self._fetch("SELECT seq FROM records_state WHERE id = 1")
        self.projected_seq = int(rows[0][0]) if rows else 0
        open_rows = await self._fetch(f"SELECT {ORDER_COLUMNS} FROM orders WHERE status = 'open'")
        self._open = {int(r[0]): list(r) for r in open_rows}

    async def close(self) -> None:
        if self._checkpointing is not None:
            await asyncio.wait({self._checkpointing})
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None
        if self._sqlite is not None:
            self._sqlite.close()  # the last connection to close checkpoints the WAL
            self._sqlite = None

    async def _execute(self, sql: str) -> None:
        if self._sqlite is not None:
            await asyncio.to_thread(self._sqlite.execute, sql)
        elif isinstance(self.journal, PostgresJournal):
            await self.journal.pool.execute(sql)

    async def _fetch(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        if self._sqlite is not None:
            conn = self._sqlite
            return await asyncio.to_thread(lambda: [tuple(r) for r in conn.execute(sql, args).fetchall()])
        if isinstance(self.journal, PostgresJournal):
            sql = _numbered(sql)
            return [tuple(r) for r in await self.journal.pool.fetch(sql, *args)]
        return []

    async def _write(self, batch: Batch) -> None:
        statements = [
            (UPSERTS["orders"], [tuple(r) for r in batch.orders.values()]),
            (UPSERTS["trades"], batch.trades),
            (UPSERTS["positions"], list(batch.positions.values())),
            (UPSERTS["balances"], list(batch.balances.values())),
            (UPSERTS["state"], [(batch.seq,)]),
        ]
        if self._sqlite is not None:
            if sum(len(rows) for _, rows in statements) <= INLINE_ROWS:
                _sqlite_write(self._sqlite, statements)
            else:
                await asyncio.to_thread(_sqlite_write, self._sqlite, statements)
            self._checkpoint_soon()
        elif isinstance(self.journal, PostgresJournal):
            async with self.journal.pool.acquire() as conn, conn.transaction():
                for sql, rows in statements:
                    if rows:
                        await conn.executemany(_numbered(sql), rows)
        self.projected_seq = batch.seq

    def _checkpoint_soon(self) -> None:
        """Start a passive WAL checkpoint in a worker thread at most every ``CHECKPOINT_S``."""
        now = time.monotonic()
        if now < self._checkpoint_due or self._checkpointing is not None or self._checkpointer is None:
            return
        self._checkpoint_due = now + CHECKPOINT_S
        self._checkpointing = asyncio.get_running_loop().create_task(self._checkpoint(self._checkpointer))

    async def _checkpoint(self, conn: sqlite3.Connection) -> None:
        try:
            await asyncio.to_thread(conn.execute, "PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error as exc:  # the next one copies what this one could not
            log.warning("derived records: WAL checkpoint failed: %s", exc)
        finally:
            self._checkpointing = None

    # -- projection -------------------------------------------------------------------------------

    def listener(self, record: CommandRecord, events: list[Event]) -> None:
        """Runtime listener: queue durable records (already projected ones are skipped)."""
        if record.seq > self.projected_seq:
            self._queue.put_nowait((record, events))

    async def apply(self, items: Sequence[tuple[CommandRecord, list[Event]]]) -> None:
        batch = Batch()
        for record, events in items:
            if record.seq > self.projected_seq:
                batch.add(record, events, self._open)
        if batch.seq:
            await self._write(batch)

    async def catch_up(self) -> int:
        """Project journal records this projection has not seen (after a crash or a rebuild)."""
        count = 0
        async for rows in self.journal.read(self.projected_seq + 1):
            await self.apply([(row.record, row.events()) for row in rows])
            count += len(rows)
        return count

    async def rebuild(self) -> int:
        for table in ("orders", "trades", "positions", "balances", "records_state"):
            await self._execute(f"DELETE FROM {table}")
        self.projected_seq = 0
        self._open = {}
        return await self.catch_up()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="derived-records")
        report_death(
            self._task, "derived records stop here (`venue records rebuild`, or a restart, catches up)"
        )

    async def stop(self) -> None:
        """Write everything queued (including a batch being written), then stop (at once if the stage
        is dead: the next start catches up from the journal)."""
        if self._task is None:
            return
        await drained(self._queue, self._task)
        self._task.cancel()
        self._task = None

    async def _run(self) -> None:
        """The projection stage: never ends on a store error (it waits for the store and catches up)."""
        while True:
            items = [await self._queue.get()]
            await asyncio.sleep(self.coalesce_s)  # fewer, larger transactions under load
            while not self._queue.empty() and len(items) < 50_000:
                items.append(self._queue.get_nowait())
            try:
                await self.apply(items)
            except STORE_ERRORS as exc:
                log.error(
                    "derived records stalled at seq %d: %s; catching up from the journal",
                    self.projected_seq,
                    exc,
                )
                await self._recover()
            except Exception:  # what a driver lets through (seen: asyncpg's InternalClientError while
                # PostgreSQL shut down) must not end the stage: the journal has it all
                log.exception(
                    "derived records stalled at seq %d; catching up from the journal", self.projected_seq
                )
                await self._recover()
            finally:
                for _ in items:
                    self._queue.task_done()

    async def _recover(self) -> None:
        """Catch up from the journal until it works (the database may be down for a while): the journal
        has every durable record, and queued records a catch-up covered are skipped."""
        delay = 1.0
        while True:
            await asyncio.sleep(delay)
            try:
                await self.catch_up()
                return
            except Exception as exc:  # STORE_ERRORS, or whatever else the driver raised
                log.warning("derived records still stalled at seq %d: %r", self.projected_seq, exc)
                delay = min(delay * 2, 5.0)

    # -- queries ----------------------------------------------------------------------------------

    async def order(self, order_id: int) -> dict[str, Any] | None:
        rows = await self._fetch(f"SELECT {ORDER_COLUMNS} FROM orders WHERE order_id = ?", order_id)
        return dict(zip(ORDER_COLUMNS.split(", "), rows[0], strict=True)) if rows else None

    async def order_by_client_id(self, account: str, client_order_id: str) -> dict[str, Any] | None:
        """The newest order of ``account`` that carried ``client_order_id`` (as placed or replaced)."""
        rows = await self._fetch(
            f"SELECT {ORDER_COLUMNS} FROM orders WHERE account = ? AND client_order_id = ?"
            " ORDER BY order_id DESC LIMIT 1",
            account,
            client_order_id,
        )
        return dict(zip(ORDER_COLUMNS.split(", "), rows[0], strict=True)) if rows else None

    async def trades_of(self, account: str, limit: int, before: int | None) -> list[dict[str, Any]]:
        columns = TRADE_COLUMNS
        rows = await self._fetch(
            f"SELECT {columns} FROM trades WHERE (maker_account = ? OR taker_account = ?) AND trade_id < ?"
            " ORDER BY trade_id DESC LIMIT ?",
            account,
            account,
            before if before is not None else 2**62,
            limit,
        )
        return [dict(zip(columns.split(", "), row, strict=True)) for row in rows]


def _numbered(sql: str) -> str:
    """SQLite's ``?`` placeholders as PostgreSQL's ``$1, $2 ...``."""
    parts = sql.split("?")
    return "".join(part + (f"${i + 1}" if i < len(parts) - 1 else "") for i, part in enumerate(parts))


def _sqlite_write(conn: sqlite3.Connection, statements: list[tuple[str, list[Any]]]) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        for sql, rows in statements:
            if rows:
                conn.executemany(sql, rows)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
