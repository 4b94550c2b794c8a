"""Derived records on both stores: they match the core's state, rebuild identically, resume after loss."""

from __future__ import annotations

import asyncio
import random

from matching.events import Trade
from matching.sequencer import Sequencer
from tests.matching.harness import CATALOG
from tests.venue.test_runtime import commands
from venue.records import ORDER_COLUMNS, TRADE_COLUMNS, Records
from venue.runtime import Runtime


async def dump(records: Records) -> tuple:
    return (
        await records._fetch(f"SELECT {ORDER_COLUMNS} FROM orders ORDER BY order_id"),
        await records._fetch(f"SELECT {TRADE_COLUMNS} FROM trades ORDER BY trade_id"),
        await records._fetch("SELECT * FROM positions ORDER BY account, symbol"),
        await records._fetch("SELECT * FROM balances ORDER BY account"),
    )


def test_records_match_state_rebuild_and_resume(make_journal) -> None:
    async def scenario() -> None:
        journal = make_journal()
        await journal.open()
        records = Records(journal)
        await records.open()
        records.start()
        sequencer = Sequencer(CATALOG.fee_account)
        runtime = Runtime(sequencer, journal)
        runtime.listeners.append(records.listener)
        trades: list[Trade] = []
        runtime.listeners.append(lambda r, events: trades.extend(e for e in events if isinstance(e, Trade)))
        runtime.start()
        for command in commands(random.Random(5), 2_000):
            last = runtime.submit_nowait(command)
        await last
        await runtime.stop()
        await records.stop()
        assert records.projected_seq == sequencer.next_seq - 1

        orders, stored_trades, positions, balances = await dump(records)
        assert [row[0] for row in stored_trades] == [t.trade_id for t in trades]
        open_ids = {row[0] for row in orders if row[12] == "open"}
        assert open_ids == set(sequencer.matcher.orders)
        statuses = {row[12] for row in orders}
        assert {"open", "filled", "cancelled"} <= statuses
        for row in orders:
            if row[12] == "open":
                live = sequencer.matcher.orders[row[0]]
                assert (row[9], row[10], row[11]) == (live.leaves, live.cum_qty, live.cum_value)
        ledger = sequencer.ledger.accounts
        assert {(r[0], r[1]) for r in balances} == {
            (a.id, a.collateral) for a in ledger.values() if a.collateral
        }
        for account, symbol, qty, cost, realised, _ in positions:
            pos = next(p for p in ledger[account].positions.values() if p.instrument.symbol == symbol)
            assert (qty, cost, realised) == (pos.qty, pos.cost, pos.realised)
        live_dump = await dump(records)

        assert await records.rebuild() == sequencer.next_seq - 1
        assert await dump(records) == live_dump

        # a projection that lost its queue (a crash after the journal commit) catches up from the journal
        await records._execute("DELETE FROM records_state")
        await records._execute("DELETE FROM trades WHERE trade_id > 10")
        restarted = Records(journal)
        await restarted.open()
        assert restarted.projected_seq == 0
        await restarted.catch_up()
        assert await dump(restarted) == live_dump
        await records.close()
        await restarted.close()
        await journal.close()

    asyncio.run(scenario())


def test_a_foreign_driver_error_stalls_the_projection_but_never_ends_it(make_journal) -> None:
    # Seen in the fault drill: asyncpg raised its InternalClientError (no PostgresError) while
    # PostgreSQL shut down, and the stage died: derived records stopped until a restart.
    async def scenario() -> None:
        journal = make_journal()
        await journal.open()
        records = Records(journal)
        await records.open()
        write, failures = records._write, [2]

        async def flaky(batch) -> None:  # type: ignore[no-untyped-def]
            if failures[0]:
                failures[0] -= 1
                raise RuntimeError("cannot switch to state 15; another operation (2) is in progress")
            await write(batch)

        records._write = flaky  # type: ignore[method-assign]
        records.start()
        sequencer = Sequencer(CATALOG.fee_account)
        runtime = Runtime(sequencer, journal)
        runtime.listeners.append(records.listener)
        runtime.start()
        for command in commands(random.Random(6), 300):
            last = runtime.submit_nowait(command)
        await last
        await runtime.stop()
        for _ in range(200):  # its catch-up waits a second, then two
            if records.projected_seq == sequencer.next_seq - 1:
                break
            await asyncio.sleep(0.05)
        assert failures == [0]
        assert records._task is not None and not records._task.done()
        assert records.projected_seq == sequencer.next_seq - 1
        await records.stop()
        await records.close()
        await journal.close()

    asyncio.run(scenario())


def test_small_batches_are_written_on_the_loop_and_the_wal_is_checkpointed_beside_it(
    tmp_path, monkeypatch
) -> None:
    # Live batches are written on the loop (a worker thread contends with quickfix for the GIL);
    # SQLite's own checkpoint would then run there too, so a connection of its own runs it in a thread.
    from matching.commands import ClockTick, CommandRecord
    from matching.events import OrderAccepted
    from matching.journal_sqlite import SqliteJournal
    from venue import records as module

    monkeypatch.setattr(module, "CHECKPOINT_S", 0.0)

    async def scenario() -> None:
        journal = SqliteJournal(tmp_path / "journal.sqlite3")
        await journal.open()
        records = Records(journal)
        await records.open()
        to_thread, threaded = asyncio.to_thread, []

        async def counting(fn, *args):  # type: ignore[no-untyped-def]
            threaded.append(getattr(fn, "__name__", repr(fn)))
            return await to_thread(fn, *args)

        monkeypatch.setattr(module.asyncio, "to_thread", counting)
        wal = tmp_path / "journal.records.sqlite3-wal"
        largest_wal = 0
        seq = 0
        for _ in range(150):
            items = []
            for _ in range(100):
                seq += 1
                accepted = OrderAccepted(
                    seq, "a", f"c{seq}", "BTC-PERP", 1, 1, 1, 190_000, 1, 0, 0, False, False
                )
                items.append((CommandRecord(seq, seq, ClockTick()), [accepted]))
            await records.apply(items)
            if records._checkpointing is not None:
                await records._checkpointing
            largest_wal = max(largest_wal, wal.stat().st_size)
        assert "_sqlite_write" not in threaded  # every batch of 100 rows went in on the loop
        assert threaded.count("execute") >= 100  # the checkpoints ran in the worker thread
        # without these checkpoints the same 150 commits grew the WAL to 5.8 MB (measured)
        assert largest_wal < 1_000_000
        big = [
            (
                CommandRecord(s, s, ClockTick()),
                [OrderAccepted(s, "a", f"c{s}", "BTC-PERP", 1, 1, 1, 190_000, 1, 0, 0, False, False)],
            )
            for s in range(seq + 1, seq + 1 + module.INLINE_ROWS + 1)
        ]
        await records.apply(big)
        assert "_sqlite_write" in threaded  # a batch above INLINE_ROWS went to the worker thread
        assert (await records.order(seq))["client_order_id"] == f"c{seq}"
        assert records.projected_seq == big[-1][0].seq
        await records.close()
        await journal.close()

    asyncio.run(scenario())
