"""Deposits and withdrawals through the vault on anvil: confirmation depth and reorganisations,
on-chain requests checked against portfolio margin and served by the next batch."""

from __future__ import annotations

import asyncio
from pathlib import Path

from web3.exceptions import ContractCustomError

from settlement.service import WATCH_CURSOR
from tests.conftest import run
from tests.contracts.conftest import EXIT_TIMEOUT, Chain
from tests.settlement.chain_venue import (
    USDC,
    collateral,
    deposit_on_chain,
    marks,
    option_with_mark,
    service,
    start,
    start_funded,
    trade,
    trade_perp,
    until,
)


def test_a_deposit_counts_only_confirmations_deep_and_a_reorg_never_double_credits(
    chain: Chain, tmp_path: Path
) -> None:
    a = chain.users[0]
    rpc = chain.w3.provider.make_request  # type: ignore[attr-defined]

    async def scenario() -> None:
        venue = await start(chain, tmp_path / "var", settlement_confirmations=3)
        try:
            settle = service(venue)
            before = rpc("evm_snapshot", [])["result"]
            deposit_on_chain(chain, a, 1_000 * USDC)  # mined in the head block: 1 confirmation
            await settle.watch_once()
            await asyncio.sleep(0.5)
            assert collateral(venue, a) == 0
            rpc("evm_revert", [before])  # the deposit's block is reorganised away ...
            deposit_on_chain(chain, a, 700 * USDC)  # ... and another takes its place
            await settle.watch_once()
            assert collateral(venue, a) == 0  # still one confirmation
            rpc("evm_mine", [])
            rpc("evm_mine", [])
            await until(lambda: collateral(venue, a) == 700 * USDC, what="the deposit 3 blocks deep")
            await settle.store.set_cursor(WATCH_CURSOR, 0)  # a restart that lost its cursor re-reads
            await settle.watch_once()
            assert collateral(venue, a) == 700 * USDC  # refused as a duplicate reference
            assert settle.stats.deposits_credited == 1
        finally:
            await venue.stop()

    run(scenario())


def test_on_chain_requests_are_margin_checked_then_served_by_the_next_batch(
    chain: Chain, tmp_path: Path
) -> None:
    a, b = chain.users[0], chain.users[1]
    token, vault = chain.token.functions, chain.vault.functions

    async def scenario() -> None:
        venue = await start_funded(chain, tmp_path / "var", {a: 10_000 * USDC, b: 100_000 * USDC})
        try:
            settle = service(venue)
            wallet_before = token.balanceOf(a).call()
            chain.tx(vault.requestWithdrawal(3_000 * USDC), a)
            await until(lambda: collateral(venue, a) == 7_000 * USDC, what="the request debited")
            await until(lambda: vault.pendingWithdrawals().call() == 0, what="the request served")
            assert token.balanceOf(a).call() == wallet_before + 3_000 * USDC
            assert vault.balance(a).call() == 7_000 * USDC

            await venue.runtime.submit(marks(venue, 100_000.0))
            await trade_perp(venue, a, b, 500, 200_000, "open")  # A long 0.5 BTC: margin tied up
            held = collateral(venue, a)
            chain.tx(vault.requestWithdrawal(6_900 * USDC), a)  # more than A's free margin
            await until(lambda: settle.stats.refused_requests == 1, what="the request refused")
            assert collateral(venue, a) == held  # nothing debited
            assert vault.pendingWithdrawals().call() == 6_900 * USDC  # asked on chain, waiting (no escrow)
            await trade_perp(venue, b, a, 500, 200_000, "close")  # A closes: the margin is free
            await until(lambda: settle.stats.refused_requests == 0, what="the request retried")
            await until(lambda: vault.pendingWithdrawals().call() == 0, what="the request served")
            assert vault.balance(a).call() == collateral(venue, a)
            assert not settle.stats.alarm
        finally:
            await venue.stop()

    run(scenario())


def test_a_request_refused_for_margin_is_forced_before_anyone_may_freeze_the_vault(
    chain: Chain, tmp_path: Path
) -> None:
    a, b = chain.users[0], chain.users[1]
    vault = chain.vault.functions

    async def scenario() -> None:
        venue = await start_funded(chain, tmp_path / "var", {a: 10_000 * USDC, b: 100_000 * USDC})
        try:
            settle = service(venue)
            await venue.runtime.submit(marks(venue, 100_000.0))
            await trade_perp(venue, a, b, 500, 200_000, "open")  # 50,000 USD long: IM 5,000, MM 3,250
            held = collateral(venue, a)
            chain.tx(vault.requestWithdrawal(6_000 * USDC), a)  # beyond the ~4,975 of free margin
            await until(lambda: settle.stats.refused_requests == 1, what="the request refused")
            await asyncio.sleep(0.5)
            assert collateral(venue, a) == held
            chain.travel(EXIT_TIMEOUT // 2 + 1)  # half the exit timeout gone: the venue must act now
            await until(lambda: collateral(venue, a) == held - 6_000 * USDC, what="the forced debit")
            await until(lambda: vault.pendingWithdrawals().call() == 0, what="the request served")
            assert settle.stats.refused_requests == 0 and not settle.stats.alarm
            assert vault.balance(a).call() == collateral(venue, a)
            assert not vault.frozen().call()
        finally:
            await venue.stop()

    run(scenario())


def test_a_request_beyond_the_equity_is_rejected_on_chain_with_a_proof(chain: Chain, tmp_path: Path) -> None:
    a, b = chain.users[0], chain.users[1]
    vault = chain.vault.functions

    async def scenario() -> None:
        venue = await start_funded(chain, tmp_path / "var", {a: 10_000 * USDC, b: 100_000 * USDC})
        try:
            settle = service(venue)
            await venue.runtime.submit(marks(venue, 100_000.0))
            symbol, price = option_with_mark(venue)
            await trade(venue, b, a, symbol, 10, price, "sell")  # A sells 0.1 call to B
            await until(lambda: settle.stats.batches_confirmed >= 1, what="the premium settled")
            await until(lambda: vault.balance(a).call() == collateral(venue, a), what="A's balance settled")
            balance = vault.balance(a).call()  # collateral with the premium; equity is less by the option
            chain.tx(vault.requestWithdrawal(balance), a)
            await until(lambda: settle.stats.refused_requests == 1, what="the request refused")
            chain.travel(EXIT_TIMEOUT // 2 + 1)
            await until(lambda: settle.stats.rejected_requests == 1, what="the request rejected on chain")
            assert vault.pendingWithdrawals().call() == 0 and vault.balance(a).call() == balance
            assert settle.stats.refused_requests == 0 and collateral(venue, a) == balance
            chain.travel(EXIT_TIMEOUT)
            reverts_freeze = chain.vault.functions.freeze(1)
            try:
                reverts_freeze.call({"from": b})
                raise AssertionError("a rejected request must not freeze the vault")
            except ContractCustomError:
                pass
            assert not settle.stats.alarm
        finally:
            await venue.stop()

    run(scenario())


def test_a_waiting_request_never_stalls_the_batch_that_books_a_loss(chain: Chain, tmp_path: Path) -> None:
    # A asks for cash its margin holds, then loses on its perpetual: the batch that books the loss must
    # settle (the request holds no escrow), and once forcing is due the request, now beyond A's
    # collateral in the new root, is rejected on chain with that root's proof.
    a, b = chain.users[0], chain.users[1]
    vault = chain.vault.functions

    async def scenario() -> None:
        venue = await start_funded(chain, tmp_path / "var", {a: 10_000 * USDC, b: 100_000 * USDC})
        try:
            settle = service(venue)
            await venue.runtime.submit(marks(venue, 100_000.0))
            await trade_perp(venue, a, b, 500, 200_000, "open")  # A long 0.5 BTC
            chain.tx(vault.requestWithdrawal(9_000 * USDC), a)  # beyond A's free margin
            await until(lambda: settle.stats.refused_requests == 1, what="the request refused")
            confirmed = settle.stats.batches_confirmed
            await venue.runtime.submit(marks(venue, 96_000.0))  # A loses 2,000
            await trade_perp(venue, b, a, 1, 192_000, "nudge")  # a cash move, so a batch is cut
            await until(lambda: settle.stats.batches_confirmed > confirmed, what="the loss settled")
            await until(lambda: vault.balance(a).call() == collateral(venue, a), what="A's loss on chain")
            assert collateral(venue, a) < 9_000 * USDC and not settle.stats.alarm
            chain.travel(EXIT_TIMEOUT // 2 + 1)
            await until(lambda: settle.stats.rejected_requests == 1, what="the request rejected on chain")
            assert vault.pendingWithdrawals().call() == 0 and vault.balance(a).call() == collateral(venue, a)
            assert settle.stats.refused_requests == 0 and not settle.stats.alarm
        finally:
            await venue.stop()

    run(scenario())
