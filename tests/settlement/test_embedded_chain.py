"""Settlement on the embedded defaults: the SQLite journal with the in-process EVM (eth-tester) or the
embedded anvil, whose state outlives a restart as the journal does."""

from __future__ import annotations

from pathlib import Path

from config.settings import VenueSettings
from matching.commands import NewOrder
from matching.types import Side, TimeInForce
from tests.conftest import run
from tests.settlement.chain_venue import PERP, collateral, until
from venue.wiring import Venue, start_venue


async def deposit_and_trade(venue: Venue, tag: str) -> None:
    """Two wallets deposit on chain and trade a perpetual; returns once its batch is confirmed."""
    assert venue.chain is not None and venue.settlement is not None
    w3, token, vault = venue.chain.w3, venue.chain.token, venue.chain.vault
    a, b = w3.eth.accounts[1], w3.eth.accounts[2]
    before = {u: collateral(venue, u) for u in (a, b)}
    for user in (a, b):
        token.functions.mint(user, 10**12).transact({"from": w3.eth.accounts[0]})
        token.functions.approve(vault.address, 2**256 - 1).transact({"from": user})
        vault.functions.deposit(10**11).transact({"from": user})
    await until(lambda: all(collateral(venue, u) == before[u] + 10**11 for u in (a, b)), what="deposits")
    mark = venue.sequencer.instruments[PERP].mark_ticks
    order = {"symbol": PERP, "qty_lots": 10, "price_ticks": mark}
    await venue.runtime.submit(NewOrder(account=b, client_order_id=f"s{tag}", side=Side.SELL, **order))
    await venue.runtime.submit(
        NewOrder(account=a, client_order_id=f"b{tag}", side=Side.BUY, tif=TimeInForce.IOC, **order)
    )
    settle = venue.settlement
    confirmed = settle.stats.batches_confirmed
    await until(lambda: settle.stats.batches_confirmed > confirmed, what="a batch on the embedded chain")
    assert not settle.stats.alarm
    for account in (a, b, venue.catalog.fee_account):
        address = settle.wallets.address(account)
        assert vault.functions.balance(address).call() == collateral(venue, account)


def test_deposits_trades_and_a_batch_on_the_in_process_evm(tmp_path: Path) -> None:
    settings = VenueSettings(
        data_dir=tmp_path / "var", fix_enabled=False, settlement_enabled=True, settlement_interval_s=0.3,
        chain_embedded="evm",
    )  # fmt: skip

    async def scenario() -> None:
        venue = await start_venue(settings)
        try:
            assert venue.chain is not None and venue.chain.rpc_url is None
            await deposit_and_trade(venue, "1")
        finally:
            await venue.stop()

    run(scenario())


def test_the_embedded_anvil_keeps_the_chain_across_a_restart(tmp_path: Path) -> None:
    settings = VenueSettings(
        data_dir=tmp_path / "var", fix_enabled=False, settlement_enabled=True, settlement_interval_s=0.3,
        chain_port=0,
    )  # fmt: skip

    async def scenario() -> tuple[str, int]:
        venue = await start_venue(settings)
        try:
            assert venue.chain is not None and venue.chain.process is not None and venue.chain.rpc_url
            await deposit_and_trade(venue, "1")
            assert venue.settlement is not None
            return venue.chain.vault.address, venue.settlement.stats.last_confirmed
        finally:
            await venue.stop()

    vault, last = run(scenario())
    assert (tmp_path / "var" / "chain" / "anvil-state.json").exists()

    async def again() -> None:
        venue = await start_venue(settings)  # the same data dir: the same chain, vault and batches
        try:
            assert venue.chain is not None and venue.settlement is not None
            assert venue.chain.vault.address == vault
            assert venue.chain.vault.functions.lastBatchId().call() == last
            await deposit_and_trade(venue, "2")
            assert venue.settlement.stats.last_confirmed > last
        finally:
            await venue.stop()

    run(again())
