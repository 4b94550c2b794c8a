"""The journal on both stores: round trips, group commit atomicity, migrations, the hash chain."""

from __future__ import annotations

import asyncio
import random
import sqlite3

import asyncpg
import msgspec
import pytest

from matching.commands import ClockTick, Deposit
from matching.events import Event, Trade
from matching.journal import GENESIS_CHAIN, ChainBuilder, JournalError, encode_events, next_chain
from matching.journal_postgres import PostgresJournal
from matching.journal_sqlite import SqliteJournal
from matching.replay import verify
from matching.sequencer import Sequencer
from tests.conftest import POSTGRES_DSN
from tests.matching.harness import CATALOG, Harness
from tests.matching.test_sequencer import mixed_stream


def journal_rows(h: Harness):
    chain = ChainBuilder()
    return [chain.row(record, events) for record, (_, events) in zip(h.records, h.batches, strict=True)]


async def read_all(journal):
    return [row async for chunk in journal.read() for row in chunk]


def test_round_trip_and_chain(make_journal) -> None:
    h = Harness([CATALOG.perpetual("BTC"), CATALOG.perpetual("ETH")])
    mixed_stream(h, random.Random(4), 500)
    rows = journal_rows(h)

    async def scenario() -> None:
        journal = make_journal()
        await journal.open()
        assert await journal.last() == (0, GENESIS_CHAIN)
        for start in range(0, len(rows), 97):  # several group commits of odd sizes
            await journal.append(rows[start : start + 97])
        stored = await read_all(journal)
        assert [r.record for r in stored] == h.records
        assert [r.events() for r in stored] == [events for _, events in h.batches]
        assert await journal.last() == (rows[-1].seq, rows[-1].chain)
        assert await journal.chain_before(10) == rows[8].chain
        chain = GENESIS_CHAIN
        for row in stored:
            chain = next_chain(chain, row.record.seq, row.events_blob)
            assert chain == row.chain
        await journal.close()

    asyncio.run(scenario())


def test_a_batch_that_does_not_follow_is_refused_whole(make_journal) -> None:
    h = Harness()
    for _ in range(5):
        h.do(ClockTick())
    rows = journal_rows(h)

    async def scenario() -> None:
        journal = make_journal()
        await journal.open()
        await journal.append(rows[:3])
        with pytest.raises(JournalError):
            await journal.append(rows[4:])  # skips seq 4
        with pytest.raises(JournalError):
            await journal.append(rows[1:])  # repeats seq 2 and 3
        assert (await journal.last())[0] == rows[2].seq
        await journal.append(rows[3:])
        assert len(await read_all(journal)) == len(rows)
        await journal.close()

    asyncio.run(scenario())


def test_migrations_are_recorded_and_idempotent(make_journal) -> None:
    async def scenario() -> list[int]:
        for _ in range(2):
            journal = make_journal()
            await journal.open()
            await journal.close()
        journal = make_journal()
        await journal.open()
        if isinstance(journal, SqliteJournal):
            versions = [
                r[0] for r in journal.conn.execute("SELECT version FROM schema_migrations ORDER BY 1")
            ]
        else:
            assert isinstance(journal, PostgresJournal)
            versions = [
                r["version"]
                for r in await journal.pool.fetch("SELECT version FROM schema_migrations ORDER BY 1")
            ]
        await journal.close()
        return versions

    assert asyncio.run(scenario()) == [1, 2]


def test_replay_verifies_and_pinpoints_a_tampered_event(make_journal) -> None:
    h = Harness([CATALOG.perpetual("BTC"), CATALOG.perpetual("ETH")])
    mixed_stream(h, random.Random(9), 300)
    rows = journal_rows(h)

    async def scenario() -> None:
        journal = make_journal()
        await journal.open()
        await journal.append(rows)
        report = await verify(journal, lambda: Sequencer(CATALOG.fee_account))
        assert report.ok and report.verified == len(rows) and report.chain == rows[-1].chain
        # rewrite the events of one record that has a trade, with a chain that matches (a forger's job)
        victim = next(r for r in rows if b"Trade" in r.events_blob)
        events = msgspec.msgpack.decode(victim.events_blob, type=list[Event])
        index = next(i for i, e in enumerate(events) if isinstance(e, Trade))
        events[index] = msgspec.structs.replace(events[index], price_ticks=events[index].price_ticks + 1)
        await _overwrite(journal, victim.seq, encode_events(events))
        report = await verify(journal, lambda: Sequencer(CATALOG.fee_account))
        mismatch = report.mismatch
        assert (
            not report.ok and mismatch is not None and (mismatch.seq, mismatch.index) == (victim.seq, index)
        )
        assert mismatch.recorded.price_ticks == mismatch.replayed.price_ticks + 1
        # without the forger's chain fix, the chain alone gives the tampering away
        await _overwrite(journal, victim.seq, encode_events(events), fix_chain=False)
        report = await verify(journal, lambda: Sequencer(CATALOG.fee_account))
        assert report.mismatch is not None and report.mismatch.detail.startswith("recorded chain")
        await journal.close()

    asyncio.run(scenario())


async def _overwrite(journal, seq: int, events_blob: bytes, fix_chain: bool = True) -> None:
    """Tamper with a stored row, as someone with database access could (optionally fixing its chain)."""
    prev = await journal.chain_before(seq)
    chain = next_chain(prev, seq, events_blob) if fix_chain else prev
    if isinstance(journal, SqliteJournal):
        conn: sqlite3.Connection = journal.conn
        conn.execute("UPDATE journal SET events = ?, chain = ? WHERE seq = ?", (events_blob, chain, seq))
        return
    pool: asyncpg.Pool = journal.pool
    await pool.execute("UPDATE journal SET events = $1, chain = $2 WHERE seq = $3", events_blob, chain, seq)


def test_unreachable_postgres_is_a_journal_error(postgres_schema: str) -> None:
    async def scenario() -> None:
        journal = PostgresJournal("postgresql://postgres@127.0.0.1:1/test", schema=postgres_schema)
        with pytest.raises(JournalError):
            await journal.open()

    asyncio.run(scenario())
    assert POSTGRES_DSN  # the real server is the one the other tests use


def test_deposit_round_trips_through_the_codec(make_journal) -> None:
    h = Harness(funds={})
    h.do(Deposit(account="a" * 200, amount_micro=2**62, reference="tx:0"))
    rows = journal_rows(h)

    async def scenario() -> None:
        journal = make_journal()
        await journal.open()
        await journal.append(rows)
        assert [r.record for r in await read_all(journal)] == h.records
        await journal.close()

    asyncio.run(scenario())
