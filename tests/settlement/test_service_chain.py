"""The settlement service end to end on anvil: deposits in, trades netted into batches, on-chain
balances equal to the ledger, restarts without double settlement or gaps, an outage's backlog."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from matching.commands import ApplyFunding, Deposit
from matching.events import FundingApplied
from settlement.batch_store import BatchStatus
from settlement.merkle import MerkleTree
from tests.conftest import POSTGRES_DSN, run
from tests.contracts.conftest import Chain
from tests.settlement.chain_venue import (
    PERP,
    USDC,
    collateral,
    deposit_on_chain,
    marks,
    service,
    start,
    start_funded,
    trade_perp,
    until,
)
from tests.settlement.proxy import Relay


def test_trades_fees_and_funding_settle_in_batches_and_the_vault_equals_the_ledger(
    chain: Chain, tmp_path: Path
) -> None:
    a, b = chain.users[0], chain.users[1]

    async def scenario() -> None:
        venue = await start_funded(chain, tmp_path / "var", {a: 200_000 * USDC, b: 200_000 * USDC})
        try:
            settle = service(venue)
            await venue.runtime.submit(marks(venue, 100_000.0))
            fill = await trade_perp(venue, a, b, 1000, 200_000, "1")  # A buys 1 BTC at 100,000
            _, paid = await venue.runtime.submit(ApplyFunding(symbol=PERP, rate_ppb=100_000))
            funding = next(e for e in paid if isinstance(e, FundingApplied)).per_lot_micro * 1000
            assert funding == 10 * USDC  # 0.01 % of 100,000 USD
            await venue.runtime.submit(marks(venue, 101_000.0))  # +1,000 USD for A
            await until(lambda: settle.stats.batches_confirmed >= 1, what="a confirmed batch")
            await until(lambda: not settle.due(), what="everything cut")
            await until(lambda: settle.stats.batches_confirmed == settle.stats.batches_built, what="settled")
            assert not settle.stats.alarm
            fees = venue.catalog.fee_account
            ledger = {acc: collateral(venue, acc) for acc in (a, b, fees)}
            assert ledger[a] == 200_000 * USDC + 1_000 * USDC - fill.taker_fee_micro - funding
            assert ledger[b] == 200_000 * USDC - 1_000 * USDC - fill.maker_fee_micro + funding
            for account, held in ledger.items():
                on_chain = chain.vault.functions.balance(settle.wallets.address(account)).call()
                assert on_chain == held, account
            stored = await settle.store.last_confirmed()
            assert stored is not None and stored.commitment is not None
            assert chain.vault.functions.lastBatchId().call() == stored.batch.batch_id
            assert chain.vault.functions.stateRoot().call() == stored.commitment.root
            assert chain.vault.functions.committedEquity().call() == stored.commitment.equity
            tree = MerkleTree(stored.commitment.leaves)
            proof = await settle.proof(a)
            assert proof is not None and proof.root == tree.root
            assert proof.state.equity == ledger[a]  # flat-marked perp: equity is the collateral
        finally:
            await venue.stop()

    run(scenario())


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_a_restart_after_submitting_neither_repeats_nor_skips_a_batch(
    chain: Chain, tmp_path: Path, store: str, request: pytest.FixtureRequest
) -> None:
    a, b = chain.users[0], chain.users[1]
    deposit_on_chain(chain, a, 200_000 * USDC)
    deposit_on_chain(chain, b, 200_000 * USDC)
    data = tmp_path / "var"
    journal: dict[str, object] = {}  # the batch lifecycle lives beside the journal
    if store == "postgres":
        journal["database_url"] = f"{POSTGRES_DSN}?schema={request.getfixturevalue('postgres_schema')}"

    async def first_run() -> None:
        venue = await start(chain, data, **journal)
        settle = service(venue)
        for task in settle._tasks:  # this run drives the stages by hand
            task.cancel()
        settle._tasks = []
        await settle.watch_once()  # the two deposits (the watch task may have booked some already)
        assert collateral(venue, a) == collateral(venue, b) == 200_000 * USDC
        await venue.runtime.submit(marks(venue, 100_000.0))
        await trade_perp(venue, a, b, 500, 200_000, "1")
        await venue.runtime.submit(marks(venue, 99_000.0))
        assert await settle.cut()
        await until(lambda: settle.netting.state.next_batch_id == 2, what="batch 1 cut")
        await settle._store_built()
        (pending,) = await settle.store.pending()
        await settle._send(pending, None)  # sent (anvil mines it at once) ...
        assert chain.vault.functions.lastBatchId().call() == 1
        await venue.stop()  # ... and the process stops before it records the confirmation

    async def second_run() -> None:
        venue = await start(chain, data, **journal)
        try:
            settle = service(venue)
            await until(lambda: settle.stats.batches_confirmed >= 1, what="batch 1 confirmed")
            stored = await settle.store.get(1)
            assert stored is not None and stored.status is BatchStatus.CONFIRMED
            assert stored.attempts == 1  # found on chain, not sent again
            await trade_perp(venue, b, a, 200, 198_000, "2")
            await venue.runtime.submit(marks(venue, 99_500.0))
            await until(lambda: chain.vault.functions.lastBatchId().call() == 2, what="batch 2 on chain")
            await until(lambda: settle.stats.batches_confirmed >= 2, what="batch 2 confirmed")
            assert not settle.stats.alarm
            for account in (a, b, venue.catalog.fee_account):
                on_chain = chain.vault.functions.balance(settle.wallets.address(account)).call()
                assert on_chain == collateral(venue, account)
        finally:
            await venue.stop()

    run(first_run())
    run(second_run())


def test_a_chain_outage_builds_a_backlog_that_settles_in_order(chain: Chain, tmp_path: Path) -> None:
    a, b = chain.users[0], chain.users[1]
    deposit_on_chain(chain, a, 200_000 * USDC)
    deposit_on_chain(chain, b, 200_000 * USDC)
    anvil_port = int(chain.w3.provider.endpoint_uri.rsplit(":", 1)[1])  # type: ignore[attr-defined]

    async def scenario() -> None:
        relay = Relay(anvil_port)
        await relay.up()
        venue = await start(chain, tmp_path / "var", chain_rpc=f"http://127.0.0.1:{relay.port}")
        try:
            settle = service(venue)
            await until(lambda: collateral(venue, b) == 200_000 * USDC, what="deposits credited")
            await venue.runtime.submit(marks(venue, 100_000.0))
            await trade_perp(venue, a, b, 100, 200_000, "0")
            await until(lambda: settle.stats.batches_confirmed == 1, what="batch 1 confirmed")
            await relay.down()
            for n, index in enumerate((100_500.0, 99_800.0, 100_200.0), start=1):
                await trade_perp(venue, b, a, 10 * n, 200_000 + 100 * n, str(n))
                await venue.runtime.submit(marks(venue, index))
                await until(lambda n=n: settle.stats.batches_built >= 1 + n, what=f"batch {1 + n} built")
            await until(lambda: not settle.stats.chain_up, what="the outage noticed")
            assert settle.stats.batches_confirmed == 1
            assert chain.vault.functions.lastBatchId().call() == 1
            await until(lambda: not settle.due(), what="the last cut")
            await asyncio.sleep(0.5)  # let the last cut's batch reach the store
            built = settle.stats.batches_built
            await relay.up()  # the same port again
            await until(lambda: settle.stats.batches_confirmed == built, timeout_s=40, what="the backlog")
            settled = chain.vault.events.BatchSettled().get_logs(from_block=0)
            assert [e["args"]["batchId"] for e in settled] == list(range(1, built + 1))
            assert not settle.stats.alarm
            for account in (a, b, venue.catalog.fee_account):
                on_chain = chain.vault.functions.balance(settle.wallets.address(account)).call()
                assert on_chain == collateral(venue, account)
        finally:
            await venue.stop()
            await relay.down()

    run(scenario())


def test_a_ledger_the_vault_disagrees_with_raises_the_alarm_and_stops_batches(
    chain: Chain, tmp_path: Path
) -> None:
    a, b = chain.users[0], chain.users[1]
    alarms: list[str] = []

    async def scenario() -> None:
        venue = await start_funded(chain, tmp_path / "var", {a: 50_000 * USDC, b: 50_000 * USDC})
        try:
            settle = service(venue)
            settle.on_alarm = alarms.append
            # credited in the ledger with no deposit on chain (what a bypassed front door would do)
            await venue.runtime.submit(Deposit(account=a, amount_micro=123 * USDC, reference="off-chain"))
            await venue.runtime.submit(marks(venue, 100_000.0))
            await trade_perp(venue, a, b, 100, 200_000, "1")
            await until(lambda: bool(settle.stats.alarm), what="the alarm")
            assert alarms == [settle.stats.alarm] and "reconciliation after batch 1" in alarms[0]
            found = re.search(r"vault (\d+), ledger (\d+)", alarms[0])
            assert found is not None and int(found[2]) - int(found[1]) == 123 * USDC
            await trade_perp(venue, b, a, 100, 200_000, "2")
            await until(lambda: settle.stats.batches_built >= 2, what="batch 2 built")
            await asyncio.sleep(1.0)
            assert chain.vault.functions.lastBatchId().call() == 1  # stopped at the mismatch
            assert settle.resume() == alarms[0]
        finally:
            await venue.stop()

    run(scenario())


def test_a_transaction_left_unmined_is_replaced_at_the_same_nonce_with_higher_fees(
    chain: Chain, tmp_path: Path
) -> None:
    a, b = chain.users[0], chain.users[1]
    deposit_on_chain(chain, a, 50_000 * USDC)
    deposit_on_chain(chain, b, 50_000 * USDC)
    rpc = chain.w3.provider.make_request  # type: ignore[attr-defined]

    async def scenario() -> None:
        venue = await start(
            chain, tmp_path / "var", settlement_interval_s=3600.0, settlement_bump_after_s=1.0
        )
        try:
            settle = service(venue)
            await until(lambda: collateral(venue, b) == 50_000 * USDC, what="deposits credited")
            await venue.runtime.submit(marks(venue, 100_000.0))
            await trade_perp(venue, a, b, 100, 200_000, "1")
            rpc("evm_setAutomine", [False])  # the chain stops mining: the batch waits in the mempool
            assert await settle.cut()
            await until(lambda: settle.stats.submissions >= 1, what="the first submission")
            first = await settle.store.get(1)
            assert first is not None and first.status is BatchStatus.SUBMITTED
            await until(lambda: settle.stats.replacements >= 1, what="a replacement")
            replaced = await settle.store.get(1)
            assert replaced is not None and replaced.attempts >= 2 and replaced.nonce == first.nonce
            assert (replaced.max_fee_wei or 0) > (
                first.max_fee_wei or 0
            ) and replaced.tx_hash != first.tx_hash
            rpc("evm_mine", [])
            await until(lambda: settle.stats.batches_confirmed == 1, what="the batch confirmed")
            assert chain.vault.functions.lastBatchId().call() == 1 and not settle.stats.alarm
        finally:
            rpc("evm_setAutomine", [True])
            await venue.stop()

    run(scenario())
