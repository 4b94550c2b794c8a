"""The ledger mirror: rebuilt from records alone it equals the sequencer's ledger, values equity like
the pre-trade check, survives its JSON form, and its commitment proves every account."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from matching.commands import Deposit, SettlePerpetuals
from matching.risk_check import StandInMargin
from matching.types import TimeInForce
from settlement.merkle import MerkleTree
from settlement.mirror import Commitment, LedgerMirror
from settlement.wallets import WalletRegistry
from tests.matching.harness import CATALOG, Harness, option_spec

MARK = 200_000


def mirror_of(h: Harness) -> LedgerMirror:
    mirror = LedgerMirror()
    for record, (_, events) in zip(h.records, h.batches, strict=True):
        mirror.on_record(record, events)
    return mirror


def test_worked_example_equity_of_an_option_and_a_perp_at_their_marks() -> None:
    option = option_spec()
    h = Harness(specs=[CATALOG.perpetual("BTC"), option])
    h.mark(MARK)
    h.order("C", -1, 1000, MARK)
    h.order("A", 1, 1000, MARK, tif=TimeInForce.IOC)  # A long 1 BTC perp at 100,000
    h.order("B", -1, 10, 900, symbol=option.symbol)
    h.order("A", 1, 10, 900, symbol=option.symbol, tif=TimeInForce.IOC)  # A long 0.1 call at 900
    h.mark(MARK + 2_000)  # perp +1,000 USD for the BTC
    h.mark(950, symbol=option.symbol)  # the option marked at 950
    mirror = mirror_of(h)
    a = h.seq.ledger.accounts["A"]
    opt = h.seq.market(option.symbol).instrument  # type: ignore[union-attr]
    assert mirror.collateral["A"] == a.collateral
    assert mirror.equity("A") == a.collateral + 1_000_000_000 + 10 * 950 * opt.micro_per_tick_lot
    assert mirror.equity("A") == StandInMargin().margin_state(a)[0]


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=0, max_value=2**32))
def test_random_streams_mirror_equals_the_ledger_and_commits_every_account(seed: int) -> None:
    rng = random.Random(seed)
    h = Harness(funds={acc: 10**13 for acc in "ABCD"})
    mark = MARK
    h.mark(mark)
    for step in range(rng.randint(10, 80)):
        roll, account = rng.random(), rng.choice("ABCD")
        if roll < 0.7:
            tif = TimeInForce.IOC if roll < 0.35 else TimeInForce.GTC
            h.order(account, rng.choice((1, -1)), rng.randint(1, 300), mark + rng.randint(-50, 50), tif=tif)
        elif roll < 0.85:
            mark += rng.randint(-300, 300)
            h.mark(mark)
        elif roll < 0.92:
            h.do(Deposit(account=account, amount_micro=rng.randint(1, 10**9), reference=f"d{step}"))
        else:
            h.do(SettlePerpetuals(reference=f"cut-{step}"))
    mirror = mirror_of(h)
    margin = StandInMargin()
    for account_id, account in h.seq.ledger.accounts.items():
        assert mirror.collateral.get(account_id, 0) == account.collateral
        held = {p.instrument.symbol: (p.qty, p.cost) for p in account.positions.values() if p.qty or p.cost}
        assert mirror.positions.get(account_id, {}) == held
        assert mirror.equity(account_id) == margin.margin_state(account)[0]
    again = LedgerMirror.from_json(mirror.to_json())
    wallets = WalletRegistry()
    commitment = mirror.commit(wallets)
    assert again.commit(wallets) == commitment
    assert Commitment.from_json(commitment.to_json()) == commitment
    tree = MerkleTree(commitment.leaves)
    assert tree.root == commitment.root
    assert commitment.equity == sum(max(mirror.equity(acc), 0) for acc in h.seq.ledger.accounts)
