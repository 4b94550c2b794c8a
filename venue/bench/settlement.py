"""`venue bench settlement`: trades settled end to end on a real anvil, in 2 s batches, against one
transaction per trade in the same run.

A whole venue (SQLite journal, sequencer, settlement service) runs on an anvil vault. ``ACCOUNTS``
wallets deposit on chain (credited by the watcher), then trade the perpetual for ``seconds`` (a resting
offer and an IOC bid per trade, pipelined) while the index moves every second, so batches carry fees
and realised P&L. ``trades_per_s`` counts from the first trade to the confirmation (and successful
reconciliation) of the batch holding the last one. ``baseline_gas_per_trade`` settles a sample of the
same trades one per ``settleBatch`` (buyer, seller, fee account) on a second vault of the same chain.
``netting_ratio`` = trades : net cash transfers (account deltas) in the batches.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from pathlib import Path
from typing import Any

from web3 import Web3
from web3.contract import Contract

from config.settings import VenueSettings
from contracts.anvil import local_anvil
from contracts.loader import deploy
from matching.commands import Command, NewOrder
from matching.events import Trade
from matching.types import Side, TimeInForce
from risk.marks import SimulatedFeed
from venue.wiring import Venue, start_venue

ACCOUNTS = 200
FUNDS = 10**12  # 1,000,000 USDC each
PERP = "BTC-PERP"
BASELINE_SAMPLE = 50
PIPELINE = 256  # commands in flight


def _wallets(n: int) -> list[str]:
    return [Web3.to_checksum_address(Web3.keccak(text=f"bench wallet {i}")[:20]) for i in range(n)]


def _fund(w3: Web3, token: Contract, vault: Contract, owner: str, wallets: list[str]) -> None:
    token.functions.mint(owner, FUNDS * len(wallets)).transact({"from": owner})
    token.functions.approve(vault.address, 2**256 - 1).transact({"from": owner})
    last = None
    for wallet in wallets:
        last = vault.functions.depositFor(wallet, FUNDS).transact({"from": owner})
    if last is not None:
        w3.eth.wait_for_transaction_receipt(last)


async def _trade_load(venue: Venue, wallets: list[str], seconds: float, seed: int) -> list[Trade]:
    rng = random.Random(seed)
    runtime = venue.runtime
    specs = [m.instrument.spec for m in venue.sequencer.matcher.markets.values()]
    feed = SimulatedFeed("BTC", specs, 100_000.0, seed=seed)
    await runtime.submit(feed.step(time.time_ns(), 0.0))
    trades: list[Trade] = []
    deadline = time.monotonic() + seconds
    next_mark = time.monotonic() + 1.0
    n = 0
    while time.monotonic() < deadline:
        if time.monotonic() >= next_mark:
            next_mark += 1.0
            await runtime.submit(feed.step(time.time_ns(), 1.0))
        mark = venue.sequencer.instruments[PERP].mark_ticks
        answers = []
        for _ in range(PIPELINE // 2):
            buyer, seller = rng.sample(wallets, 2)
            lots = rng.randint(1, 50)
            price = mark + rng.randint(-20, 20)
            n += 1
            orders: list[Command] = [
                NewOrder(account=seller, client_order_id=f"s{n}", symbol=PERP, side=Side.SELL,
                         qty_lots=lots, price_ticks=price),
                NewOrder(account=buyer, client_order_id=f"b{n}", symbol=PERP, side=Side.BUY,
                         qty_lots=lots, price_ticks=price, tif=TimeInForce.IOC),
            ]  # fmt: skip
            answers += [runtime.submit_nowait(order) for order in orders]
        for _, events in await asyncio.gather(*answers):
            trades += [e for e in events if isinstance(e, Trade)]
    return trades


def _baseline_gas(w3: Web3, token: Contract, owner: str, operator: str, trades: list[Trade]) -> int:
    """Median gas of settling one trade per transaction on a fresh vault with funded accounts."""
    vault = deploy(w3, "Vault", token.address, 86_400, operator, owner, sender=owner)
    fees = Web3.to_checksum_address(Web3.keccak(text="bench fees")[:20])
    sample = trades[:BASELINE_SAMPLE]
    accounts = sorted({a for t in sample for a in (t.maker_account, t.taker_account)} | {fees})
    token.functions.mint(owner, FUNDS * len(accounts)).transact({"from": owner})
    token.functions.approve(vault.address, 2**256 - 1).transact({"from": owner})
    for account in accounts:  # balances already there: the steady state, as in the batched run
        vault.functions.depositFor(account, FUNDS).transact({"from": owner})
    used = []
    for batch_id, trade in enumerate(sample, start=1):
        cash = trade.qty_lots * 7  # any premium-like transfer: the gas does not depend on the amount
        fee = trade.maker_fee_micro + trade.taker_fee_micro
        call = vault.functions.settleBatch(
            batch_id,
            [trade.taker_account, trade.maker_account, fees],
            [-cash - trade.taker_fee_micro, cash - trade.maker_fee_micro, fee],
            [],
            Web3.keccak(batch_id.to_bytes(32, "big")),
            Web3.keccak(b"marks"),
            10**15,
        )
        receipt = w3.eth.wait_for_transaction_receipt(call.transact({"from": operator}))
        assert receipt["status"] == 1
        used.append(int(receipt["gasUsed"]))
    used.sort()
    return used[len(used) // 2]


async def _run(seconds: float, interval_s: float, seed: int) -> dict[str, Any]:
    with (
        local_anvil("--gas-limit", "200000000") as w3,
        tempfile.TemporaryDirectory(prefix="venue-bench-") as d,
    ):
        owner, operator, guardian = list(w3.eth.accounts)[:3]
        token = deploy(w3, "CollateralToken", sender=owner)
        vault = deploy(w3, "Vault", token.address, 86_400, operator, guardian, sender=owner)
        wallets = _wallets(ACCOUNTS)
        _fund(w3, token, vault, owner, wallets)
        settings = VenueSettings(
            data_dir=Path(d), mark_feed="none", fix_enabled=False,
            chain_rpc=w3.provider.endpoint_uri,  # type: ignore[attr-defined]
            token_address=token.address, vault_address=vault.address, operator_address=operator,
            settlement_enabled=True, settlement_interval_s=interval_s,
        )  # fmt: skip
        venue = await start_venue(settings)
        try:
            settle = venue.settlement
            assert settle is not None
            while sum(1 for w in wallets if w in venue.sequencer.ledger.accounts) < len(wallets):
                await asyncio.sleep(0.1)
            confirmed_before = settle.stats.batches_confirmed
            gas_before = settle.stats.gas_used
            began = time.monotonic()
            trades = await _trade_load(venue, wallets, seconds, seed)
            loaded = time.monotonic()
            last_seq = venue.sequencer.next_seq - 1
            # settled end to end: the batch covering the last trade confirmed and reconciled
            while True:
                stored = await settle.store.last_confirmed()
                if stored is not None and stored.batch.last_seq >= last_seq:
                    break
                if settle.stats.alarm:
                    raise RuntimeError(f"settlement alarm: {settle.stats.alarm}")
                await asyncio.sleep(0.05)
            settled = time.monotonic()
            batches = settle.stats.batches_confirmed - confirmed_before
            gas = settle.stats.gas_used - gas_before
            transfers = 0
            for batch_id in range(confirmed_before + 1, settle.stats.batches_confirmed + 1):
                row = await settle.store.get(batch_id)
                transfers += len(row.batch.deltas) if row else 0
            alarm = settle.stats.alarm
        finally:
            await venue.stop()
        baseline = _baseline_gas(w3, token, owner, operator, trades)
    gas_per_trade = gas / len(trades)
    return {
        "accounts": ACCOUNTS,
        "batch_interval_s": interval_s,
        "load_seconds": round(loaded - began, 2),
        "trades": len(trades),
        "batches": batches,
        "settle_tail_s": round(settled - loaded, 2),
        "trades_per_s": round(len(trades) / (settled - began), 1),
        "gas_per_trade": round(gas_per_trade, 1),
        "baseline_gas_per_trade": baseline,
        "gas_ratio": round(gas_per_trade / baseline, 4),
        "net_transfers": transfers,
        "netting_ratio": round(len(trades) / max(transfers, 1), 2),
        "alarm": alarm or None,
        "targets": {"trades_per_s": 1000, "gas_ratio": 0.1},
    }


def run(seconds: float = 20.0, interval_s: float = 2.0, seed: int = 7) -> dict[str, Any]:
    return asyncio.run(_run(seconds, interval_s, seed))
