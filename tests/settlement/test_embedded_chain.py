"""Settlement on the embedded defaults: the in-process EVM (eth-tester) and the SQLite journal."""

from __future__ import annotations

from pathlib import Path

from config.settings import VenueSettings
from matching.commands import NewOrder
from matching.types import Side, TimeInForce
from tests.conftest import run
from tests.settlement.chain_venue import PERP, collateral, until
from venue.wiring import start_venue


def test_deposits_trades_and_a_batch_on_the_in_process_evm(tmp_path: Path) -> None:
    settings = VenueSettings(
        data_dir=tmp_path / "var", fix_enabled=False, settlement_enabled=True, settlement_interval_s=0.3
    )

    async def scenario() -> None:
        venue = await start_venue(settings)
        try:
            assert venue.chain is not None and venue.settlement is not None
            w3, token, vault = venue.chain.w3, venue.chain.token, venue.chain.vault
            a, b = w3.eth.accounts[1], w3.eth.accounts[2]
            for user in (a, b):
                token.functions.mint(user, 10**12).transact({"from": w3.eth.accounts[0]})
                token.functions.approve(vault.address, 2**256 - 1).transact({"from": user})
                vault.functions.deposit(10**11).transact({"from": user})
            await until(lambda: collateral(venue, a) == collateral(venue, b) == 10**11, what="deposits")
            mark = venue.sequencer.instruments[PERP].mark_ticks
            order = {"symbol": PERP, "qty_lots": 10, "price_ticks": mark}
            await venue.runtime.submit(NewOrder(account=b, client_order_id="s", side=Side.SELL, **order))
            await venue.runtime.submit(
                NewOrder(account=a, client_order_id="b", side=Side.BUY, tif=TimeInForce.IOC, **order)
            )
            settle = venue.settlement
            await until(lambda: settle.stats.batches_confirmed >= 1, what="a batch on the embedded chain")
            assert not settle.stats.alarm
            for account in (a, b, venue.catalog.fee_account):
                address = settle.wallets.address(account)
                assert vault.functions.balance(address).call() == collateral(venue, account)
        finally:
            await venue.stop()

    run(scenario())
