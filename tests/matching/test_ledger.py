"""Worked examples of the ledger in exact micro-USDC, and the stand-in margin check."""

from __future__ import annotations

from decimal import Decimal

from matching.commands import Deposit, MarkUpdate, Withdraw
from matching.events import (
    BalanceChanged,
    OrderAccepted,
    OrderRejected,
    PositionChanged,
    RequestRejected,
    Trade,
)
from matching.reasons import Reason
from matching.types import BalanceReason
from tests.matching.harness import CATALOG, Harness, first, of, option_spec

BUY, SELL = 1, -1
USD = 1_000_000  # micro-USDC


def test_perp_realised_pnl_on_reduction_and_flip() -> None:
    h = Harness()
    start_a, start_b = h.cash("A"), h.cash("B")
    h.order("A", SELL, 1_000, 200_000)  # 1 BTC at 100,000 USD
    h.order("B", BUY, 1_000, 200_000)  # B pays the taker fee: 5 bps of 100,000 = 50 USD
    assert h.cash("B") == start_b - 50 * USD
    assert h.cash("A") == start_a  # maker fee 0; opening a perp moves no cash
    h.order("A", BUY, 1_500, 202_000)  # A bids 1.5 BTC at 101,000
    events = h.order("B", SELL, 1_500, 202_000)  # B sells: closes 1 BTC, opens 0.5 BTC short
    a_pos = next(p for p in of(events, PositionChanged) if p.account == "A")
    assert (a_pos.qty_lots, a_pos.cost_micro) == (
        500,
        50_500 * USD,
    )  # A: closed short at a 1,000 loss, long 0.5
    assert a_pos.realised_pnl_micro == -1_000 * USD
    b_pos = next(p for p in of(events, PositionChanged) if p.account == "B")
    assert (b_pos.qty_lots, b_pos.realised_pnl_micro) == (-500, 1_000 * USD)
    fee = 151_500 * USD * 5 // 10_000  # 75.75 USD on 1.5 BTC at 101,000
    assert h.cash("B") == start_b - 50 * USD + 1_000 * USD - fee
    assert h.cash("A") == start_a - 1_000 * USD
    assert h.cash("fees") == 50 * USD + fee


def test_partial_close_keeps_rounding_dust_until_flat() -> None:
    h = Harness()
    h.order("A", SELL, 3, 200_001)
    h.order("B", BUY, 3, 200_001)  # B long 3 lots; cost 3 x 200,001 x 500 micro
    for _ in range(3):
        h.order("A", BUY, 1, 200_000)
        h.order("B", SELL, 1, 200_000)
    account = h.seq.ledger.accounts["B"]
    pos = next(iter(account.positions.values()))
    assert (pos.qty, pos.cost) == (0, 0)
    assert pos.realised == 3 * (200_000 - 200_001) * 500  # exactly, though 1/3 of the cost is not whole


def test_option_premium_moves_cash_and_fee_is_capped_by_premium() -> None:
    spec = option_spec()  # tick 1 USD, lot 0.01 BTC; fee 3 bps of index capped at 12.5% of premium
    h = Harness([spec])
    h.do(MarkUpdate(underlying="BTC", index_price_micro=100_000 * USD, marks=((spec.symbol, 2_000),)))
    start_a, start_b = h.cash("A"), h.cash("B")
    h.order("A", SELL, 100, 2_000, symbol=spec.symbol)  # 1 BTC of calls at 2,000 USD
    events = h.order("B", BUY, 100, 2_000, symbol=spec.symbol)
    trade = first(events, Trade)
    assert trade.taker_fee_micro == 30 * USD == trade.maker_fee_micro  # 3 bps of 100,000 < 12.5% of 2,000
    assert h.cash("B") == start_b - 2_000 * USD - 30 * USD
    assert h.cash("A") == start_a + 2_000 * USD - 30 * USD


def test_option_fee_is_capped_at_a_share_of_a_small_premium() -> None:
    spec = option_spec()
    h = Harness([spec])
    h.do(MarkUpdate(underlying="BTC", index_price_micro=100_000 * USD, marks=((spec.symbol, 10),)))
    h.order("A", SELL, 100, 10, symbol=spec.symbol)  # 1 BTC of calls at 10 USD
    trade = first(h.order("B", BUY, 100, 10, symbol=spec.symbol), Trade)
    assert trade.taker_fee_micro == 1_250_000  # 12.5% of 10 USD, below 3 bps of 100,000 (30 USD)


def test_fee_account_balance_events() -> None:
    h = Harness()
    h.order("A", SELL, 1_000, 200_000)
    events = h.order("B", BUY, 1_000, 200_000)
    fee_event = next(e for e in of(events, BalanceChanged) if e.account == "fees")
    assert (fee_event.delta_micro, fee_event.reason) == (50 * USD, BalanceReason.FEE_INCOME)


def test_deposits_are_idempotent_by_reference_and_positive() -> None:
    h = Harness(funds={})
    assert (
        first(
            h.do(Deposit(account="X", amount_micro=5 * USD, reference="tx1:0")), BalanceChanged
        ).collateral_micro
        == 5 * USD
    )
    assert first(
        h.do(Deposit(account="X", amount_micro=5 * USD, reference="tx1:0")), RequestRejected
    ).reason == (Reason.DUPLICATE_REFERENCE)
    assert first(h.do(Deposit(account="X", amount_micro=0, reference="tx2:0")), RequestRejected).reason == (
        Reason.INVALID_AMOUNT
    )
    assert h.cash("X") == 5 * USD


def test_withdrawal_limited_by_available_funds() -> None:
    h = Harness(funds={"A": 100_000 * USD, "B": 10**13})
    h.order("A", BUY, 1_000, 200_000)  # holds 10% of 100,000 = 10,000 USD of margin
    too_much = Withdraw(account="A", amount_micro=90_001 * USD, reference="w1")
    assert first(h.do(too_much), RequestRejected).reason == Reason.INSUFFICIENT_FUNDS
    ok = first(h.do(Withdraw(account="A", amount_micro=90_000 * USD, reference="w2")), BalanceChanged)
    assert (ok.delta_micro, ok.collateral_micro, ok.reason) == (
        -90_000 * USD,
        10_000 * USD,
        BalanceReason.WITHDRAWAL,
    )
    assert first(
        h.do(Withdraw(account="nobody", amount_micro=1, reference="w3")), RequestRejected
    ).reason == (Reason.UNKNOWN_ACCOUNT)


def test_stand_in_margin_rejects_what_does_not_fit() -> None:
    h = Harness(funds={"A": 10_000 * USD, "B": 10**13})
    assert of(h.order("A", BUY, 1_000, 200_000), OrderAccepted)  # needs exactly 10,000 USD
    assert first(h.order("A", BUY, 1, 200_000), OrderRejected).reason == Reason.INSUFFICIENT_MARGIN
    # a reduce-only order adds no risk and is never margin-checked
    h.order("B", SELL, 1_000, 200_000)
    assert of(h.order("A", SELL, 1_000, 201_000, reduce_only=True), OrderAccepted)


def test_short_option_margin_uses_the_underlying() -> None:
    spec = option_spec()
    h = Harness([spec], funds={"A": 16_000 * USD})
    h.do(MarkUpdate(underlying="BTC", index_price_micro=100_000 * USD, marks=((spec.symbol, 1_000),)))
    # short 1 BTC of calls at 1,000: premium 1,000 + 15% x 100,000 = 16,000 USD
    assert of(h.order("A", SELL, 100, 1_000, symbol=spec.symbol), OrderAccepted)
    assert (
        first(h.order("A", SELL, 1, 1_000, symbol=spec.symbol), OrderRejected).reason
        == Reason.INSUFFICIENT_MARGIN
    )


def test_perp_lot_and_tick_values_are_exact() -> None:
    inst = Harness([CATALOG.perpetual("ETH")]).seq.instruments["ETH-PERP"]
    assert inst.micro_per_tick_lot == 500  # 0.05 USD x 0.01 ETH
    assert inst.price_to_ticks(Decimal("3500.05")) == 70_001
    assert inst.price_to_ticks(Decimal("3500.01")) is None
    assert inst.qty_to_lots(Decimal("0.015")) is None
