"""A whole venue (journal, sequencer, runtime, settlement service) on the test anvil's vault, and the
moves the settlement tests make on it: deposits from wallets, marks, a perpetual trade."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from config.settings import VenueSettings
from matching.commands import MarkUpdate, NewOrder
from matching.events import Event, RequestRejected, Trade
from matching.types import Side, TimeInForce
from risk.marks import SimulatedFeed
from settlement.service import SettlementService
from tests.contracts.conftest import Chain
from venue.wiring import Venue, start_venue

PERP = "BTC-PERP"
USDC = 1_000_000


def settings_for(chain: Chain, data_dir: Path, **overrides: object) -> VenueSettings:
    values: dict[str, object] = {
        "data_dir": data_dir,
        "catalog_as_of": "2026-11-22",
        "api_keys_file": data_dir / "keys.toml",
        "mark_feed": "none",
        "fix_enabled": False,
        "chain_rpc": chain.w3.provider.endpoint_uri,  # type: ignore[attr-defined]
        "token_address": chain.token.address,
        "vault_address": chain.vault.address,
        "operator_address": chain.operator,
        "settlement_enabled": True,
        "settlement_interval_s": 0.3,
        "settlement_bump_after_s": 5.0,
    }
    values.update(overrides)
    return VenueSettings(**values)  # type: ignore[arg-type]


def deposit_on_chain(chain: Chain, user: str, amount: int) -> None:
    chain.fund(user, amount)
    chain.tx(chain.vault.functions.deposit(amount), user)


def service(venue: Venue) -> SettlementService:
    assert venue.settlement is not None
    return venue.settlement


async def until(condition: Callable[[], bool], timeout_s: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def collateral(venue: Venue, account: str) -> int:
    acc = venue.sequencer.ledger.accounts.get(account)
    return acc.collateral if acc else 0


def marks(venue: Venue, index_usd: float) -> MarkUpdate:
    specs = [m.instrument.spec for m in venue.sequencer.matcher.markets.values()]
    return SimulatedFeed("BTC", specs, index_usd).step(time.time_ns(), 0.0)


async def trade_perp(venue: Venue, buyer: str, seller: str, lots: int, price_ticks: int, tag: str) -> Trade:
    return await trade(venue, buyer, seller, PERP, lots, price_ticks, tag)


def option_with_mark(venue: Venue) -> tuple[str, int]:
    """A live BTC call near the money and its mark (ticks)."""
    calls = [
        (abs(int(i.spec.strike or 0) - 100_000), s, i.mark_ticks)
        for s, i in venue.sequencer.instruments.items()
        if i.is_option and i.active and s.endswith("-C") and i.mark_ticks > 10
    ]
    _, symbol, mark = min(calls)
    return symbol, mark


async def trade(venue: Venue, buyer: str, seller: str, symbol: str, lots: int, price: int, tag: str) -> Trade:
    """``seller`` rests an offer, ``buyer`` takes it (IOC); the trade."""
    submit = venue.runtime.submit
    _, rest = await submit(
        NewOrder(account=seller, client_order_id=f"s-{tag}", symbol=symbol, side=Side.SELL, qty_lots=lots,
                 price_ticks=price)
    )  # fmt: skip
    _refused(rest)
    _, hit = await submit(
        NewOrder(account=buyer, client_order_id=f"b-{tag}", symbol=symbol, side=Side.BUY, qty_lots=lots,
                 price_ticks=price, tif=TimeInForce.IOC)
    )  # fmt: skip
    _refused(hit)
    trades = [e for e in hit if isinstance(e, Trade)]
    assert trades, hit
    return trades[0]


def _refused(events: list[Event]) -> None:
    rejected = [e for e in events if isinstance(e, RequestRejected)]
    assert not rejected, rejected


async def start(chain: Chain, data_dir: Path, **overrides: object) -> Venue:
    return await start_venue(settings_for(chain, data_dir, **overrides))


async def start_funded(chain: Chain, data_dir: Path, funds: dict[str, int], **overrides: object) -> Venue:
    """Deposit ``funds`` on chain from each wallet, start the venue, wait until the ledger credits them."""
    for user, amount in funds.items():
        deposit_on_chain(chain, user, amount)
    venue = await start(chain, data_dir, **overrides)
    await until(lambda: all(collateral(venue, u) == amount for u, amount in funds.items()), what="deposits")
    return venue
