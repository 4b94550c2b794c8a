"""The batch lifecycle store on SQLite and PostgreSQL: order, idempotence, restarts, forward-only moves."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import pytest

from matching.journal import Journal
from matching.journal_postgres import PostgresJournal
from settlement.batch_store import BatchStatus, BatchStore, BatchStoreError, BatchStoreUnavailable
from settlement.merkle import AccountState
from settlement.mirror import Commitment
from settlement.netting import NetBatch
from tests.conftest import run


def batch(n: int, deltas: tuple[tuple[str, int], ...] = (("A", 5), ("B", -5))) -> NetBatch:
    return NetBatch(n, f"batch-{n}", 10 * n - 9, 10 * n, 1_800_000_000_000_000_000 + n, deltas, 3, 4)


async def _open(make_journal: Callable[[], Journal]) -> tuple[Journal, BatchStore]:
    journal = make_journal()
    await journal.open()
    store = BatchStore(journal)
    await store.open()
    return journal, store


async def _close(journal: Journal, store: BatchStore) -> None:
    await store.close()
    await journal.close()


def test_lifecycle_survives_a_restart_and_moves_only_forward(make_journal: Callable[[], Journal]) -> None:
    async def scenario() -> None:
        journal, store = await _open(make_journal)
        await store.add(batch(1))
        await store.add(batch(1))  # a replay of the same cut: no-op
        await store.add(batch(2, (("A", -7), ("fees", 7))))
        with pytest.raises(BatchStoreError, match="other contents"):
            await store.add(batch(2))
        with pytest.raises(BatchStoreError, match="without gaps"):
            await store.add(batch(4))
        with pytest.raises(BatchStoreError, match="earlier one"):
            await store.submitted(2, "0xbb", 8, 2_000_000_000)
        await store.submitted(1, "0xaa", 7, 1_000_000_000)
        await store.submitted(1, "0xab", 7, 1_250_000_000)  # the same nonce with a bumped fee
        await _close(journal, store)

        journal, store = await _open(make_journal)  # killed between submit and confirm, restarted
        pending = await store.pending()
        assert [(p.batch.batch_id, p.status) for p in pending] == [
            (1, BatchStatus.SUBMITTED),
            (2, BatchStatus.BUILT),
        ]
        first = pending[0]
        assert (first.attempts, first.tx_hash, first.nonce, first.max_fee_wei) == (
            2,
            "0xab",
            7,
            1_250_000_000,
        )
        assert pending[1].batch == batch(2, (("A", -7), ("fees", 7)))
        await store.confirmed(1, "0xab", 42)
        with pytest.raises(BatchStoreError, match="cannot go"):
            await store.submitted(1, "0xac", 9, 1)
        with pytest.raises(BatchStoreError, match="cannot go"):
            await store.confirmed(1, "0xab", 43)  # confirmed once, for good
        await store.submitted(2, "0xbb", 8, 2_000_000_000)
        await store.failed(2, "reverted: BadBatchId(2, 3)")
        stored = await store.get(2)
        assert (
            stored is not None
            and stored.status is BatchStatus.FAILED
            and "BadBatchId" in (stored.error or "")
        )
        await store.submitted(2, "0xbc", 9, 2_500_000_000)  # resubmitted after the failure
        await store.confirmed(2, "0xbc", 44)
        assert await store.pending() == []
        done = await store.get(1)
        assert done is not None and done.confirmed_block == 42 and await store.last_id() == 2
        await _close(journal, store)

    run(scenario())


def test_a_batch_keeps_its_withdrawals_commitment_mirror_and_the_cursors(
    make_journal: Callable[[], Journal],
) -> None:
    leaf = AccountState("0x" + "11" * 20, 5, 4, b"\x07" * 32)
    commitment = Commitment(leaf.leaf(), b"\x02" * 32, 4, (leaf,))
    served = NetBatch(1, "cut", 1, 9, 5, (("A", 5), ("B", -5)), 1, 2, (("vault-withdrawal:3", "A", 70),))

    async def scenario() -> None:
        journal, store = await _open(make_journal)
        assert await store.latest() is None and await store.cursor("chain") == 0
        await store.add(served, commitment, '{"mirror": 1}')
        await store.set_cursor("chain", 41)
        await store.set_cursor("chain", 42)
        await _close(journal, store)

        journal, store = await _open(make_journal)
        latest = await store.latest()
        assert latest is not None
        stored, mirror = latest
        assert stored.batch == served and stored.commitment == commitment and mirror == '{"mirror": 1}'
        assert await store.mirror_of(1) == mirror and await store.cursor("chain") == 42
        assert await store.last_confirmed() is None
        await store.confirmed(1, "0xaa", 7)  # found settled on chain without a recorded submission
        confirmed = await store.last_confirmed()
        assert confirmed is not None and confirmed.tx_hash == "0xaa"
        await _close(journal, store)

    run(scenario())


def test_a_store_whose_database_is_gone_is_unavailable_not_a_refused_move(
    make_journal: Callable[[], Journal],
) -> None:
    async def scenario() -> None:
        journal, store = await _open(make_journal)
        await store.add(batch(1))
        with pytest.raises(BatchStoreError) as refused:
            await store.add(batch(3))
        assert not isinstance(refused.value, BatchStoreUnavailable)  # a bug or a race: never retried
        # the database goes away under the store (the SQLite file closed, the PostgreSQL pool closed)
        if isinstance(journal, PostgresJournal):
            await journal.pool.close()
        else:
            await store.close()
            store._sqlite = sqlite3.connect(":memory:")
            store._sqlite.close()
        with pytest.raises(BatchStoreUnavailable):
            await store.add(batch(2))
        with pytest.raises(BatchStoreUnavailable):
            await store.pending()
        await _close(journal, store)

    run(scenario())
