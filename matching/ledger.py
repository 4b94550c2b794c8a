"""Accounts, positions and cash: integer-exact, in lots and micro-USDC.

Conservation invariants (tests assert both after every command):
- Per instrument, positions sum to zero over all accounts.
- ``sum(collateral) - sum(cost of perpetual positions)`` over all accounts, the fee account included,
  equals deposits minus withdrawals. Option premium moves cash between the two sides of a fill; a
  perpetual moves no cash until a position is reduced, when the realised P&L (exit value minus the share
  of entry cost being closed) is credited; fees move from both sides to the fee account.

Average entry: a position keeps its signed entry ``cost``. Closing part of it removes
``cost * closed // open`` (floor), and closing the rest removes what remains, so rounding never creates
or loses a micro-USDC over a position's life.
"""

from __future__ import annotations

from decimal import Decimal

from matching.book import Order
from matching.instruments import Instrument
from matching.types import StpMode


class Position:
    """One account's position in one instrument."""

    __slots__ = ("cost", "instrument", "qty", "realised")

    instrument: Instrument
    qty: int  # lots, signed: > 0 long
    cost: int  # entry value in micro-USDC, signed like qty
    realised: int  # cumulative realised P&L in micro-USDC

    def __init__(self, instrument: Instrument) -> None:
        self.instrument = instrument
        self.qty = 0
        self.cost = 0
        self.realised = 0

    def average_entry_price(self) -> Decimal | None:
        """Average entry price in USD, exact (the ledger keeps ``cost``); None when flat."""
        if self.qty == 0:
            return None
        inst = self.instrument
        return inst.spec.tick_size * Decimal(self.cost) / Decimal(self.qty * inst.micro_per_tick_lot)

    def __repr__(self) -> str:
        return (
            f"Position({self.instrument.symbol}, qty={self.qty}, cost={self.cost}, realised={self.realised})"
        )


class Account:
    """Collateral, positions and live orders of one account."""

    __slots__ = (
        "client_ids",
        "collateral",
        "id",
        "order_margin",
        "orders",
        "positions",
        "reduce_only",
        "stp_mode",
    )

    id: str
    collateral: int  # micro-USDC
    positions: dict[int, Position]  # by instrument id
    orders: dict[int, Order]  # live orders, resting or held stops
    client_ids: dict[str, Order]  # live orders by client order id
    order_margin: int  # sum of margin_micro of resting orders
    stp_mode: int
    reduce_only: dict[int, list[Order]]  # resting reduce-only orders, by instrument id

    def __init__(self, account_id: str) -> None:
        self.id = account_id
        self.collateral = 0
        self.positions = {}
        self.orders = {}
        self.client_ids = {}
        self.order_margin = 0
        self.stp_mode = StpMode.CANCEL_NEWEST
        self.reduce_only = {}

    def position(self, instrument: Instrument) -> Position:
        pos = self.positions.get(instrument.id)
        if pos is None:
            pos = self.positions[instrument.id] = Position(instrument)
        return pos

    def __repr__(self) -> str:
        return f"Account({self.id}, collateral={self.collateral}, orders={len(self.orders)})"


class Ledger:
    """All accounts. The fee account exists from the start and collects every fee."""

    __slots__ = ("accounts", "fee_account", "net_deposits", "references")

    def __init__(self, fee_account_id: str) -> None:
        self.accounts: dict[str, Account] = {}
        self.fee_account = self.open(fee_account_id)
        self.references: set[str] = set()  # applied deposit/withdrawal references (idempotence)
        self.net_deposits = 0

    def open(self, account_id: str) -> Account:
        account = self.accounts.get(account_id)
        if account is None:
            account = self.accounts[account_id] = Account(account_id)
        return account

    @staticmethod
    def book_fill(
        account: Account, instrument: Instrument, signed_qty: int, price_ticks: int, fee: int
    ) -> int:
        """Apply one side of a fill; returns the cash delta (premium or realised P&L, less the fee)."""
        pos = account.positions.get(instrument.id)
        if pos is None:
            pos = account.positions[instrument.id] = Position(instrument)
        per_lot = price_ticks * instrument.micro_per_tick_lot
        old = pos.qty
        realised = 0
        if old == 0 or (old > 0) == (signed_qty > 0):
            pos.cost += signed_qty * per_lot
        else:
            open_abs = old if old > 0 else -old
            trade_abs = signed_qty if signed_qty > 0 else -signed_qty
            if trade_abs >= open_abs:
                removed = pos.cost
                closing = open_abs
            else:
                removed = pos.cost * trade_abs // open_abs
                closing = trade_abs
            exit_value = closing * per_lot if old > 0 else -closing * per_lot
            realised = exit_value - removed
            pos.cost -= removed
            if trade_abs > open_abs:  # flipped: the rest opens a position the other way
                pos.cost += (signed_qty + old) * per_lot
        pos.qty = old + signed_qty
        pos.realised += realised
        cash = (-signed_qty * per_lot if instrument.is_option else realised) - fee
        account.collateral += cash
        return cash
