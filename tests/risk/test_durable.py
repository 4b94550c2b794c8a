"""The margin engine and liquidations through the runtime on real journals (SQLite and PostgreSQL):
recovery by replay and from a snapshot rebuild the same accounts and the same margin numbers."""

from __future__ import annotations

import asyncio

from matching.events import LiquidationEnded
from matching.sequencer import Sequencer
from tests.risk.harness import RiskHarness, new_sequencer
from tests.risk.test_engine import sell_call
from venue.runtime import Runtime

MICRO = 1_000_000


def margins(seq: Sequencer) -> dict[str, tuple[int, ...]]:
    return {
        acc.id: (
            acc.collateral,
            *seq.risk.margin_state(acc),
            *sorted((k, p.qty, p.cost) for k, p in acc.positions.items()),
        )
        for acc in sorted(seq.ledger.accounts.values(), key=lambda a: a.id)
    }


def test_liquidation_survives_a_restart_by_replay_and_by_snapshot(make_journal) -> None:
    # The commands of a day with a liquidation, recorded by the in-memory harness.
    h = RiskHarness(funds={"A": 30_000 * MICRO, "MM": 10**13, "LP": 10**13})
    h.mark(95_000.0)
    symbol = sell_call(h, "A", 100)
    minute = 61 * 1_000_000_000
    h.mark(105_000.0, advance_ns=minute)
    h.order("LP", symbol, -1, 200, h.mark_ticks(symbol))
    h.mark(116_000.0, advance_ns=minute)
    commands = [record.command for record in h.records]

    async def scenario() -> None:
        journal = make_journal()
        await journal.open()
        live = new_sequencer()
        every = len(commands) * 2 // 3
        # stamped on the harness's clock: on the wall clock the day's options would have expired
        runtime = Runtime(live, journal, snapshot_every=every, clock=lambda: h.now)
        runtime.start()
        # in two batches, so the snapshot falls between them and recovery replays a tail after it
        answers = await asyncio.gather(*(runtime.submit_nowait(c) for c in commands[:every]))
        answers += await asyncio.gather(*(runtime.submit_nowait(c) for c in commands[every:]))
        await runtime.stop()
        await journal.close()
        assert any(isinstance(e, LiquidationEnded) for _, events in answers for e in events)
        assert runtime.snapshots_saved >= 1

        journal = make_journal()
        await journal.open()
        restarted = Runtime(new_sequencer(), journal, snapshot_every=every)
        assert 0 < await restarted.recover() < len(commands)  # from the snapshot, then the tail
        assert margins(restarted.sequencer) == margins(live)
        replayed = new_sequencer()  # and from the first record, with no snapshot
        async for rows in journal.read(1):
            for row in rows:
                assert replayed.apply(row.record) == row.events()
        assert margins(replayed) == margins(live)
        await journal.close()

    asyncio.run(scenario())
