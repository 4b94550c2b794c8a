"""The settlement batches' lifecycle, persisted: built -> submitted -> confirmed, or failed -> submitted
again. One interface over the journal's PostgreSQL database or, beside the embedded SQLite journal,
a file of its own (``journal.settlement.sqlite3``, fsync on every commit).

Rules the store enforces, so a service killed at any point can neither skip nor repeat a batch:
- batches are added in id order with no gap (``add`` of the next id; re-adding an identical batch is
  a no-op, a different one with a known id is refused);
- a batch moves only forward: built/failed -> submitted (again, with a higher fee, while submitted),
  submitted -> confirmed or failed, and any state -> confirmed when the chain shows the batch settled;
  a confirmed batch never changes;
- a batch is first submitted only once every earlier one is confirmed (one batch in flight: the vault
  takes ids strictly in order, and a reverted predecessor would revert its successor too);
- every transition is one transaction.
The on-chain batch id stays the final check (the vault refuses any other than lastBatchId + 1);
``pending`` gives what is still to do, oldest first. Errors raise ``BatchStoreError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import asyncpg

from matching.journal import Journal
from matching.journal_postgres import PostgresJournal
from matching.journal_sqlite import SqliteJournal
from settlement.mirror import Commitment
from settlement.netting import NetBatch


class BatchStoreError(RuntimeError):
    """A batch move the store refuses (out of order, backwards, other contents), or a failed read or
    write (``BatchStoreUnavailable``)."""


class BatchStoreUnavailable(BatchStoreError):
    """The store's database could not be read or written (down, unreachable, closed): retry later."""


# what a driver raises when its database fails; asyncpg's InterfaceError (a connection closed under
# a query, a pool closing) and InternalClientError (a pooled connection whose server went away in the
# middle of a query: "cannot switch to state ...", seen in the faults drill) are not PostgresErrors
_REFUSED = (sqlite3.IntegrityError, asyncpg.IntegrityConstraintViolationError)
_UNAVAILABLE = (
    sqlite3.Error,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,
    OSError,
)


class BatchStatus(StrEnum):
    BUILT = "built"
    SUBMITTED = "submitted"
    CONFIRMED = "confirmed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class StoredBatch:
    batch: NetBatch
    status: BatchStatus
    attempts: int  # submissions so far
    tx_hash: str | None  # the latest submission's
    nonce: int | None
    max_fee_wei: int | None
    confirmed_block: int | None
    error: str | None
    commitment: Commitment | None  # the state root the batch commits (None: stored without one)


COLUMNS = (
    "batch_id, reference, first_seq, last_seq, cut_ts_ns, deltas, trades, cash_moves, withdrawals, status,"
    " attempts, tx_hash, nonce, max_fee_wei, confirmed_block, error, commitment"
)
SCHEMA = """CREATE TABLE IF NOT EXISTS settlement_batches (
    batch_id BIGINT PRIMARY KEY, reference TEXT NOT NULL, first_seq BIGINT NOT NULL,
    last_seq BIGINT NOT NULL, cut_ts_ns BIGINT NOT NULL, deltas TEXT NOT NULL, trades BIGINT NOT NULL,
    cash_moves BIGINT NOT NULL, withdrawals TEXT NOT NULL, commitment TEXT, mirror TEXT,
    status TEXT NOT NULL, attempts INT NOT NULL DEFAULT 0, tx_hash TEXT,
    nonce BIGINT, max_fee_wei NUMERIC, confirmed_block BIGINT, error TEXT, updated_ns BIGINT NOT NULL)"""
# Confirmed may follow any state: the chain is the truth (a service killed after sending and before
# recording it finds the batch settled on chain; a replacement that lost the race still confirms).
CURSORS = "CREATE TABLE IF NOT EXISTS settlement_cursors (name TEXT PRIMARY KEY, value BIGINT NOT NULL)"
_NEXT: dict[BatchStatus, frozenset[BatchStatus]] = {
    BatchStatus.BUILT: frozenset({BatchStatus.SUBMITTED, BatchStatus.FAILED, BatchStatus.CONFIRMED}),
    BatchStatus.SUBMITTED: frozenset({BatchStatus.SUBMITTED, BatchStatus.CONFIRMED, BatchStatus.FAILED}),
    BatchStatus.FAILED: frozenset({BatchStatus.SUBMITTED, BatchStatus.CONFIRMED}),
    BatchStatus.CONFIRMED: frozenset(),
}


@contextlib.contextmanager
def _store_errors(what: str) -> Iterator[None]:
    """A driver's error as the store's: a broken constraint (a bug to see, not to wait out) as
    BatchStoreError, any other failure of the database as BatchStoreUnavailable."""
    try:
        yield
    except _REFUSED as exc:
        raise BatchStoreError(f"batch store {what} refused: {exc!r}") from exc
    except _UNAVAILABLE as exc:
        raise BatchStoreUnavailable(f"batch store {what} failed: {exc!r}") from exc


def _deltas_json(batch: NetBatch) -> str:
    return json.dumps([[account, delta] for account, delta in batch.deltas], separators=(",", ":"))


def _withdrawals_json(batch: NetBatch) -> str:
    return json.dumps([list(w) for w in batch.withdrawals], separators=(",", ":"))


def _row_to_stored(row: Any) -> StoredBatch:
    (batch_id, reference, first_seq, last_seq, cut_ts_ns, deltas, trades, cash_moves, withdrawals, status,
     attempts, tx_hash, nonce, max_fee, block, error, commitment) = tuple(row)  # fmt: skip
    batch = NetBatch(
        int(batch_id), reference, int(first_seq), int(last_seq), int(cut_ts_ns),
        tuple((str(a), int(d)) for a, d in json.loads(deltas)), int(trades), int(cash_moves),
        tuple((str(r), str(a), int(m)) for r, a, m in json.loads(withdrawals)),
    )  # fmt: skip
    return StoredBatch(
        batch,
        BatchStatus(status),
        int(attempts),
        tx_hash,
        None if nonce is None else int(nonce),
        None if max_fee is None else int(max_fee),
        None if block is None else int(block),
        error,
        None if commitment is None else Commitment.from_json(commitment),
    )


class BatchStore:
    """Open with ``open()`` after the journal is open; close with ``close()``."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._sqlite: sqlite3.Connection | None = None
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        if isinstance(self.journal, SqliteJournal):
            path = self.journal.path.with_suffix(".settlement" + self.journal.path.suffix)
            self._sqlite = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._sqlite.execute("PRAGMA journal_mode=WAL")
            self._sqlite.execute("PRAGMA synchronous=FULL")  # the lifecycle must survive a power cut
        elif not isinstance(self.journal, PostgresJournal):
            raise BatchStoreError(f"no batch store for {type(self.journal).__name__}")
        await self._execute(SCHEMA)
        await self._execute(CURSORS)

    async def close(self) -> None:
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = None

    # -- storage ------------------------------------------------------------------------------------

    async def _execute(self, sql: str, *args: Any) -> None:
        async with self._lock:
            with _store_errors("write"):
                if self._sqlite is not None:
                    await asyncio.to_thread(self._sqlite.execute, sql, args)
                else:
                    assert isinstance(self.journal, PostgresJournal)
                    await self.journal.pool.execute(_numbered(sql), *args)

    async def _fetch(self, sql: str, *args: Any) -> list[Any]:
        async with self._lock:
            with _store_errors("read"):
                if self._sqlite is not None:
                    conn = self._sqlite
                    return await asyncio.to_thread(lambda: conn.execute(sql, args).fetchall())
                assert isinstance(self.journal, PostgresJournal)
                return list(await self.journal.pool.fetch(_numbered(sql), *args))

    # -- queries ------------------------------------------------------------------------------------

    async def get(self, batch_id: int) -> StoredBatch | None:
        rows = await self._fetch(f"SELECT {COLUMNS} FROM settlement_batches WHERE batch_id = ?", batch_id)
        return _row_to_stored(rows[0]) if rows else None

    async def last_id(self) -> int:
        rows = await self._fetch("SELECT max(batch_id) FROM settlement_batches")
        return int(rows[0][0]) if rows and rows[0][0] is not None else 0

    async def latest(self) -> tuple[StoredBatch, str | None] | None:
        """The newest stored batch and the mirror state saved with it (to resume netting from)."""
        rows = await self._fetch(
            f"SELECT {COLUMNS}, mirror FROM settlement_batches ORDER BY batch_id DESC LIMIT 1"
        )
        if not rows:
            return None
        row = tuple(rows[0])
        return _row_to_stored(row[:-1]), row[-1]

    async def last_confirmed(self) -> StoredBatch | None:
        rows = await self._fetch(
            f"SELECT {COLUMNS} FROM settlement_batches WHERE status = ? ORDER BY batch_id DESC LIMIT 1",
            BatchStatus.CONFIRMED.value,
        )
        return _row_to_stored(rows[0]) if rows else None

    async def mirror_of(self, batch_id: int) -> str | None:
        """The mirror state saved with batch ``batch_id`` (JSON), None if absent."""
        rows = await self._fetch("SELECT mirror FROM settlement_batches WHERE batch_id = ?", batch_id)
        return rows[0][0] if rows else None

    async def cursor(self, name: str) -> int:
        """A named position the service saved (e.g. the last chain block scanned); 0 if never."""
        rows = await self._fetch("SELECT value FROM settlement_cursors WHERE name = ?", name)
        return int(rows[0][0]) if rows else 0

    async def set_cursor(self, name: str, value: int) -> None:
        await self._execute(
            "INSERT INTO settlement_cursors (name, value) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            name,
            value,
        )

    async def pending(self) -> list[StoredBatch]:
        """Batches not yet confirmed, oldest first."""
        rows = await self._fetch(
            f"SELECT {COLUMNS} FROM settlement_batches WHERE status <> ? ORDER BY batch_id",
            BatchStatus.CONFIRMED.value,
        )
        return [_row_to_stored(r) for r in rows]

    # -- transitions ----------------------------------------------------------------------------------

    async def add(
        self, batch: NetBatch, commitment: Commitment | None = None, mirror: str | None = None
    ) -> None:
        """Record a built batch with its state commitment and the mirror's state at its cut (JSON, to
        resume from): the next id, or an identical copy of a known one (a replay)."""
        known = await self.get(batch.batch_id)
        if known is not None:
            if known.batch != batch:
                raise BatchStoreError(f"batch {batch.batch_id} is already stored with other contents")
            return
        last = await self.last_id()
        if batch.batch_id != last + 1:
            raise BatchStoreError(f"batch {batch.batch_id} after {last}: batches are stored without gaps")
        await self._execute(
            "INSERT INTO settlement_batches (batch_id, reference, first_seq, last_seq, cut_ts_ns, deltas,"
            " trades, cash_moves, withdrawals, commitment, mirror, status, attempts, updated_ns)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
            batch.batch_id, batch.reference, batch.first_seq, batch.last_seq, batch.cut_ts_ns,
            _deltas_json(batch), batch.trades, batch.cash_moves, _withdrawals_json(batch),
            None if commitment is None else commitment.to_json(), mirror, BatchStatus.BUILT.value,
            time.time_ns(),
        )  # fmt: skip

    async def submitted(self, batch_id: int, tx_hash: str, nonce: int, max_fee_wei: int) -> None:
        """A (re)submission was sent: its hash, nonce and fee cap; attempts counts them."""
        await self._move(batch_id, BatchStatus.SUBMITTED)
        await self._execute(
            "UPDATE settlement_batches SET status = ?, attempts = attempts + 1, tx_hash = ?, nonce = ?,"
            " max_fee_wei = ?, error = NULL, updated_ns = ? WHERE batch_id = ?",
            BatchStatus.SUBMITTED.value, tx_hash, nonce, max_fee_wei, time.time_ns(), batch_id,
        )  # fmt: skip

    async def confirmed(self, batch_id: int, tx_hash: str, block: int) -> None:
        await self._move(batch_id, BatchStatus.CONFIRMED)
        await self._execute(
            "UPDATE settlement_batches SET status = ?, tx_hash = ?, confirmed_block = ?, updated_ns = ?"
            " WHERE batch_id = ?",
            BatchStatus.CONFIRMED.value, tx_hash, block, time.time_ns(), batch_id,
        )  # fmt: skip

    async def failed(self, batch_id: int, error: str) -> None:
        await self._move(batch_id, BatchStatus.FAILED)
        await self._execute(
            "UPDATE settlement_batches SET status = ?, error = ?, updated_ns = ? WHERE batch_id = ?",
            BatchStatus.FAILED.value, error[:2000], time.time_ns(), batch_id,
        )  # fmt: skip

    async def _move(self, batch_id: int, to: BatchStatus) -> None:
        stored = await self.get(batch_id)
        if stored is None:
            raise BatchStoreError(f"no batch {batch_id}")
        if to not in _NEXT[stored.status]:
            raise BatchStoreError(f"batch {batch_id} cannot go from {stored.status} to {to}")
        if to is BatchStatus.SUBMITTED and stored.status is not BatchStatus.SUBMITTED:
            earlier = await self._fetch(
                "SELECT count(*) FROM settlement_batches WHERE batch_id < ? AND status <> ?",
                batch_id,
                BatchStatus.CONFIRMED.value,
            )
            if int(earlier[0][0]):
                raise BatchStoreError(f"batch {batch_id} submitted before an earlier one was confirmed")


def _numbered(sql: str) -> str:
    """SQLite's ``?`` placeholders as PostgreSQL's ``$1, $2, ...``."""
    parts = sql.split("?")
    return "".join(f"{part}${n}" if n < len(parts) else part for n, part in enumerate(parts, 1))
