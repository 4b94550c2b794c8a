"""The funding clock of a running venue: the rate from the book's mid over the index, capped, booked
through the journal (so a restart replays the same payments)."""

from __future__ import annotations

from pathlib import Path

from config.settings import VenueSettings
from matching.commands import Deposit, NewOrder
from matching.types import Side, TimeInForce
from tests.conftest import run
from tests.settlement.chain_venue import PERP, USDC, collateral, marks
from venue.wiring import start_venue


def test_funding_follows_the_premium_capped_and_survives_a_restart(tmp_path: Path) -> None:
    settings = VenueSettings(
        data_dir=tmp_path / "var", catalog_as_of="2026-11-22", fix_enabled=False, mark_feed="none"
    )

    async def scenario() -> None:
        venue = await start_venue(settings)
        submit = venue.runtime.submit
        for account in ("A", "B", "M"):
            await submit(Deposit(account=account, amount_micro=1_000_000 * USDC, reference=account))
        await submit(marks(venue, 100_000.0))
        order = {"symbol": PERP, "qty_lots": 100}
        await submit(NewOrder(account="B", client_order_id="s", side=Side.SELL, price_ticks=200_000, **order))
        ioc = TimeInForce.IOC
        await submit(
            NewOrder(account="A", client_order_id="b", side=Side.BUY, price_ticks=200_000, tif=ioc, **order)
        )
        # the book shows 100,100 / 100,300: a 0.2 % premium, capped at 0.05 % for the interval
        await submit(
            NewOrder(account="M", client_order_id="bid", side=Side.BUY, price_ticks=200_200, **order)
        )
        await submit(
            NewOrder(account="M", client_order_id="ask", side=Side.SELL, price_ticks=200_600, **order)
        )
        assert venue.funding is not None
        a, b = collateral(venue, "A"), collateral(venue, "B")
        (paid,) = await venue.funding.pay()
        assert paid.rate_ppb == 500_000 and paid.per_lot_micro == 50_000  # 0.05 % of 100 USD a lot
        assert collateral(venue, "A") == a - 100 * 50_000 and collateral(venue, "B") == b + 100 * 50_000
        after = {acc: collateral(venue, acc) for acc in ("A", "B", "M")}
        await venue.stop()
        again = await start_venue(settings)  # replayed from the journal
        try:
            assert {acc: collateral(again, acc) for acc in ("A", "B", "M")} == after
        finally:
            await again.stop()

    run(scenario())
