"""The runtime pipeline on real journals: group commit, durability before acknowledgement, recovery."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence

from matching.commands import CancelOrder, Deposit, ListInstrument, NewOrder
from matching.events import OrderAccepted, Trade
from matching.journal import JournalError, PendingRow
from matching.sequencer import Sequencer
from tests.matching.harness import CATALOG
from venue.runtime import InvalidCommand, Runtime

SYMBOL = "BTC-PERP"


def state_of(seq: Sequencer) -> tuple:
    market = seq.market(SYMBOL)
    assert market is not None
    accounts = sorted(
        (
            a.id,
            a.collateral,
            a.order_margin,
            sorted((k, p.qty, p.cost, p.realised) for k, p in a.positions.items()),
        )
        for a in seq.ledger.accounts.values()
    )
    return (
        seq.next_seq,
        market.book.bids.depth(10_000),
        market.book.asks.depth(10_000),
        accounts,
        seq.matcher.next_order_id,
        seq.matcher.next_trade_id,
    )


def commands(rng: random.Random, n: int) -> list:
    out: list = [ListInstrument(spec=CATALOG.perpetual("BTC"))]
    out += [Deposit(account=a, amount_micro=10**13, reference=f"d-{a}") for a in "ABC"]
    for i in range(n):
        if rng.random() < 0.8:
            out.append(
                NewOrder(
                    account=rng.choice("ABC"),
                    client_order_id=f"o{i}",
                    symbol=SYMBOL,
                    side=rng.choice((1, -1)),
                    qty_lots=rng.randint(1, 20),
                    price_ticks=200_000 + rng.randint(-20, 20),
                )
            )
        else:
            out.append(CancelOrder(account=rng.choice("ABC"), order_id=rng.randint(1, i + 1)))
    return out


def test_recovery_rebuilds_exactly_the_acknowledged_state(make_journal) -> None:
    async def scenario() -> None:
        journal = make_journal()
        await journal.open()
        live = Sequencer(CATALOG.fee_account)
        runtime = Runtime(live, journal)
        runtime.start()
        futures = [runtime.submit_nowait(c) for c in commands(random.Random(1), 3_000)]
        answers = await asyncio.gather(*futures)
        await runtime.stop()
        await journal.close()
        assert any(isinstance(e, Trade) for _, events in answers for e in events)
        assert [record.seq for record, _ in answers] == list(range(1, len(answers) + 1))
        assert runtime.journal_batches < len(answers) / 10  # group commit, not one write per command

        journal = make_journal()  # a restart: a fresh process on the same store
        await journal.open()
        recovered = Sequencer(CATALOG.fee_account)
        restarted = Runtime(recovered, journal)
        assert await restarted.recover() == len(answers)
        assert state_of(recovered) == state_of(live)
        restarted.start()
        record, events = await restarted.submit(
            NewOrder(
                account="A", client_order_id="after", symbol=SYMBOL, side=1, qty_lots=1, price_ticks=150_000
            )
        )
        assert record.seq == len(answers) + 1 and isinstance(events[0], OrderAccepted)
        await restarted.stop()
        await journal.close()

    asyncio.run(scenario())


class GatedJournal:
    """A real journal whose writes wait for a gate, or fail a few times first."""

    def __init__(self, inner, failures: int = 0) -> None:
        self.inner = inner
        self.gate = asyncio.Event()
        self.failures = failures
        self.appends = 0

    async def open(self) -> None:
        await self.inner.open()

    async def close(self) -> None:
        await self.inner.close()

    async def append(self, rows: Sequence[PendingRow]) -> None:
        await self.gate.wait()
        if self.failures:
            self.failures -= 1
            raise JournalError("disk on fire")
        self.appends += 1
        await self.inner.append(rows)

    async def last(self):
        return await self.inner.last()

    async def chain_before(self, seq: int) -> bytes:
        return await self.inner.chain_before(seq)

    def read(self, from_seq: int = 1, to_seq: int | None = None):
        return self.inner.read(from_seq, to_seq)


def test_no_acknowledgement_before_the_journal_write(make_journal) -> None:
    async def scenario() -> None:
        journal = GatedJournal(make_journal(), failures=2)
        await journal.open()
        runtime = Runtime(Sequencer(CATALOG.fee_account), journal)
        runtime.start()
        future = runtime.submit_nowait(Deposit(account="A", amount_micro=5, reference="r1"))
        await asyncio.sleep(0.2)
        assert not future.done()  # applied, but not durable: nothing is said yet
        assert (await journal.last())[0] == 0
        journal.gate.set()  # the journal comes back, failing twice before it writes
        record, _ = await asyncio.wait_for(future, timeout=10)
        assert record.seq == 1 and journal.appends == 1
        assert (await journal.last())[0] == 1
        await runtime.stop()
        await journal.close()

    asyncio.run(scenario())


def test_recovery_from_a_snapshot_and_the_journal_after_it(make_journal) -> None:
    from venue.readmodel import ReadModel

    def views(model: ReadModel) -> tuple:
        books = {
            s: (sorted(b.bids.items()), sorted(b.asks.items()), b.delta_seq) for s, b in model.books.items()
        }
        accounts = {
            a: (
                v.collateral_micro,
                sorted(v.positions.items()),
                sorted((k, o.leaves_qty) for k, o in v.orders.items()),
            )
            for a, v in model.accounts.items()
        }
        return books, accounts, model.last_seq

    async def scenario() -> None:
        journal = make_journal()
        await journal.open()
        live = Sequencer(CATALOG.fee_account)
        live_model = ReadModel()
        runtime = Runtime(live, journal, snapshot_every=500, max_batch=256)
        runtime.listeners.append(live_model.apply)
        runtime.start()
        stream = commands(random.Random(2), 3_000)
        for start in range(0, len(stream), 200):
            for command in stream[start : start + 200]:
                last = runtime.submit_nowait(command)
            await last
            # a snapshot is taken by a forked child while commands go on; one due meanwhile waits
            await runtime.snapshot_taken()
        await runtime.stop()
        await journal.close()
        assert runtime.snapshots_saved >= 4

        journal = make_journal()
        await journal.open()
        snapshot_seq, _ = await journal.latest_snapshot()
        restarted = Runtime(Sequencer(CATALOG.fee_account), journal)
        model = ReadModel()
        replayed = await restarted.recover(observers=[model.apply], on_snapshot=model.load)
        assert replayed == live.next_seq - 1 - snapshot_seq < 1_000  # only the tail after the snapshot
        assert state_of(restarted.sequencer) == state_of(live)
        assert views(model) == views(live_model)
        await journal.close()

    asyncio.run(scenario())


def test_time_driven_changes_happen_without_other_traffic() -> None:
    from matching.events import OrderExpired
    from matching.types import TimeInForce

    async def scenario() -> None:
        runtime = Runtime(Sequencer(CATALOG.fee_account), None)
        seen: list = []
        runtime.listeners.append(lambda record, events: seen.extend(events))
        runtime.start()
        await runtime.submit(ListInstrument(spec=CATALOG.perpetual("BTC")))
        await runtime.submit(Deposit(account="A", amount_micro=10**12, reference="d"))
        expire = runtime.clock() + 300_000_000  # 0.3 s from now
        await runtime.submit(
            NewOrder(
                account="A",
                client_order_id="g",
                symbol=SYMBOL,
                side=1,
                qty_lots=1,
                price_ticks=190_000,
                tif=TimeInForce.GTD,
                expire_ns=expire,
            )
        )
        for _ in range(40):  # nothing else is sent: the runtime's timer must tick on its own
            if any(isinstance(e, OrderExpired) for e in seen):
                break
            await asyncio.sleep(0.05)
        assert any(isinstance(e, OrderExpired) for e in seen)
        await runtime.stop()

    asyncio.run(scenario())


def test_a_batch_of_only_unjournalable_commands_leaves_the_pipeline_running(make_journal) -> None:
    # Found by schemathesis: an intake batch whose every command was refused before it was applied
    # (beyond the journal's 64-bit integers) killed the journal stage, and the venue with it.
    async def scenario() -> None:
        journal = make_journal()
        await journal.open()
        runtime = Runtime(Sequencer(CATALOG.fee_account), journal)
        runtime.start()
        huge = runtime.submit_nowait(Deposit(account="A", amount_micro=2**70, reference="huge"))
        try:
            await huge
            raise AssertionError("a 2**70 deposit was journaled")
        except InvalidCommand:
            pass
        await asyncio.sleep(0.1)
        assert runtime.running
        record, _ = await asyncio.wait_for(
            runtime.submit(Deposit(account="A", amount_micro=5, reference="ok")), 10
        )
        assert record.seq == 1
        await runtime.stop()
        await journal.close()

    asyncio.run(scenario())


def test_a_quiet_submit_hears_only_of_refusals_and_its_record_reaches_the_listeners(make_journal) -> None:
    async def scenario() -> None:
        journal = GatedJournal(make_journal(), failures=1)
        await journal.open()
        runtime = Runtime(Sequencer(CATALOG.fee_account), journal)
        seen: list[int] = []
        runtime.listeners.append(lambda record, events: seen.append(record.seq))
        runtime.start()
        refused: list[BaseException] = []
        runtime.submit_quiet(Deposit(account="A", amount_micro=2**70, reference="huge"), refused.append)
        runtime.submit_quiet(Deposit(account="A", amount_micro=5, reference="ok"), refused.append)
        await asyncio.sleep(0.05)
        assert [type(e) for e in refused] == [InvalidCommand]  # refused before it was applied
        assert seen == []  # the other is not durable yet: the journal is gated
        journal.gate.set()  # its first write fails: the runtime retries and marks the journal failing
        while not runtime.journal_failing and not seen:
            await asyncio.sleep(0.005)
        assert runtime.journal_failing and not seen  # it waits 50 ms before the retry
        # new risk is refused at once meanwhile, and said so; a deposit was not new risk: it waits
        order = NewOrder(
            account="A", client_order_id="x", symbol="BTC-PERP", side=1, qty_lots=1, price_ticks=1
        )
        runtime.submit_quiet(order, refused.append)
        assert type(refused[-1]).__name__ == "JournalUnavailable"
        for _ in range(400):
            if seen:
                break
            await asyncio.sleep(0.01)
        assert seen == [1]  # the deposit, once durable; nothing answered it
        await runtime.stop()
        await journal.close()

    asyncio.run(scenario())
