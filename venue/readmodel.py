"""What the API shows: books, trades, tickers and accounts, derived from durable events only.

The sequencer runs ahead of the journal by up to a few batches, so its live state may hold orders that
are not durable yet. Front doors must never show those, so they read this model instead: it is fed by
the runtime after each group commit, in sequence order, and rebuilt from the journal's recorded
events at start. Everything here is derived and can be rebuilt; the journal stays the truth.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from matching.commands import CommandRecord
from matching.events import (
    BalanceChanged,
    BlockTrade,
    BookDelta,
    Event,
    InstrumentHalted,
    InstrumentResumed,
    MarksUpdated,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderReduced,
    OrderReplaced,
    OrderTriggered,
    PositionChanged,
    Trade,
)
from matching.sequencer import Sequencer

RECENT_TRADES = 1_000


@dataclass(slots=True)
class BookView:
    bids: dict[int, tuple[int, int]] = field(default_factory=dict)  # price ticks -> (lots, orders)
    asks: dict[int, tuple[int, int]] = field(default_factory=dict)
    delta_seq: int = 0

    def depth(self, n: int) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
        bids = [(p, *self.bids[p]) for p in sorted(self.bids, reverse=True)[:n]]
        asks = [(p, *self.asks[p]) for p in sorted(self.asks)[:n]]
        return bids, asks


@dataclass(slots=True)
class OrderView:
    order_id: int
    account: str
    client_order_id: str
    symbol: str
    side: int
    order_type: int
    tif: int
    price_ticks: int
    qty_lots: int
    leaves_qty: int
    cum_qty: int = 0
    cum_value: int = 0
    stop_price_ticks: int = 0
    post_only: bool = False
    reduce_only: bool = False
    triggered: bool = False


@dataclass(slots=True)
class AccountView:
    collateral_micro: int = 0
    positions: dict[str, tuple[int, int, int]] = field(
        default_factory=dict
    )  # symbol -> (lots, cost, realised)
    orders: dict[int, OrderView] = field(default_factory=dict)


class ReadModel:
    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.last_seq = 0
        self.books: dict[str, BookView] = {}
        self.trades: dict[str, deque[Trade]] = {}
        self.block_trades: dict[str, deque[BlockTrade]] = {}  # RFQ legs: on the tape, not in the ticker
        self.accounts: dict[str, AccountView] = {}
        self.orders: dict[int, OrderView] = {}
        self.index_micro: dict[str, int] = {}
        self.halted: set[str] = set()

    def account(self, account_id: str) -> AccountView:
        view = self.accounts.get(account_id)
        if view is None:
            view = self.accounts[account_id] = AccountView()
        return view

    def book(self, symbol: str) -> BookView:
        view = self.books.get(symbol)
        if view is None:
            view = self.books[symbol] = BookView()
        return view

    def load(self, sequencer: Sequencer) -> None:
        """Start from a restored sequencer's state (it is durable: a snapshot is taken of journaled records).

        Recent trades are not part of a snapshot; the tape starts empty after such a start-up.
        """
        self._reset()
        self.last_seq = sequencer.next_seq - 1
        for symbol, market in sequencer.matcher.markets.items():
            book = self.book(symbol)
            book.delta_seq = market.book.delta_seq
            for side, levels in ((market.book.bids, book.bids), (market.book.asks, book.asks)):
                for price, level in side.levels.items():
                    levels[price] = (level.total, level.count)
            if market.instrument.halted:
                self.halted.add(symbol)
        for underlying, index in sequencer.indices.items():
            if index.price_micro:
                self.index_micro[underlying] = index.price_micro
        for account in sequencer.ledger.accounts.values():
            view = self.account(account.id)
            view.collateral_micro = account.collateral
            for pos in account.positions.values():
                view.positions[pos.instrument.symbol] = (pos.qty, pos.cost, pos.realised)
        for o in sorted(sequencer.matcher.orders.values(), key=lambda o: o.order_id):
            order = OrderView(
                o.order_id,
                o.account.id,
                o.client_order_id,
                o.instrument.symbol,
                o.side,
                o.order_type,
                o.tif,
                o.price,
                o.qty,
                o.leaves,
                o.cum_qty,
                o.cum_value,
                o.stop_price,
                o.post_only,
                o.reduce_only,
                o.triggered,
            )
            self.orders[o.order_id] = order
            self.account(o.account.id).orders[o.order_id] = order

    def apply(self, record: CommandRecord, events: list[Event]) -> None:
        """Fold one durable record's events into the model (a runtime listener)."""
        self.last_seq = record.seq
        for event in events:
            handler = _HANDLERS.get(type(event))
            if handler is not None:
                handler(self, event)

    # -- handlers -----------------------------------------------------------------------------------

    def _delta(self, e: BookDelta) -> None:
        book = self.book(e.symbol)
        side = book.bids if e.side > 0 else book.asks
        if e.qty_lots:
            side[e.price_ticks] = (e.qty_lots, e.order_count)
        else:
            side.pop(e.price_ticks, None)
        book.delta_seq = e.delta_seq

    def _trade(self, e: Trade) -> None:
        recent = self.trades.get(e.symbol)
        if recent is None:
            recent = self.trades[e.symbol] = deque(maxlen=RECENT_TRADES)
        recent.append(e)
        for order_id, cum, leaves, value in (
            (e.maker_order_id, e.maker_cum_qty, e.maker_leaves_qty, e.maker_cum_value),
            (e.taker_order_id, e.taker_cum_qty, e.taker_leaves_qty, e.taker_cum_value),
        ):
            order = self.orders.get(order_id)
            if order is None:
                continue
            order.cum_qty, order.leaves_qty, order.cum_value = cum, leaves, value
            if leaves == 0:
                self._close(order_id)

    def _block_trade(self, e: BlockTrade) -> None:
        recent = self.block_trades.get(e.symbol)
        if recent is None:
            recent = self.block_trades[e.symbol] = deque(maxlen=RECENT_TRADES)
        recent.append(e)

    def _accepted(self, e: OrderAccepted) -> None:
        view = OrderView(
            e.order_id, e.account, e.client_order_id, e.symbol, e.side, e.order_type, e.tif, e.price_ticks,
            e.qty_lots, e.qty_lots, 0, 0, e.stop_price_ticks, e.post_only, e.reduce_only,
        )  # fmt: skip
        self.orders[e.order_id] = view
        self.account(e.account).orders[e.order_id] = view

    def _close(self, order_id: int) -> None:
        order = self.orders.pop(order_id, None)
        if order is not None:
            self.account(order.account).orders.pop(order_id, None)

    def _cancelled(self, e: OrderCancelled | OrderExpired) -> None:
        self._close(e.order_id)

    def _replaced(self, e: OrderReplaced) -> None:
        order = self.orders.get(e.order_id)
        if order is not None:
            order.client_order_id, order.price_ticks = e.client_order_id, e.price_ticks
            order.qty_lots, order.leaves_qty, order.stop_price_ticks = (
                e.qty_lots,
                e.leaves_qty,
                e.stop_price_ticks,
            )

    def _reduced(self, e: OrderReduced) -> None:
        order = self.orders.get(e.order_id)
        if order is not None:
            order.qty_lots, order.leaves_qty = e.qty_lots, e.leaves_qty
            if e.leaves_qty == 0:
                self._close(e.order_id)

    def _triggered(self, e: OrderTriggered) -> None:
        order = self.orders.get(e.order_id)
        if order is not None:
            order.triggered = True

    def _position(self, e: PositionChanged) -> None:
        self.account(e.account).positions[e.symbol] = (e.qty_lots, e.cost_micro, e.realised_pnl_micro)

    def _balance(self, e: BalanceChanged) -> None:
        self.account(e.account).collateral_micro = e.collateral_micro

    def _marks(self, e: MarksUpdated) -> None:
        self.index_micro[e.underlying] = e.index_price_micro

    def _halted(self, e: InstrumentHalted) -> None:
        self.halted.add(e.symbol)

    def _resumed(self, e: InstrumentResumed) -> None:
        self.halted.discard(e.symbol)


_HANDLERS: dict[type, Callable[[ReadModel, Any], None]] = {
    BookDelta: ReadModel._delta,
    Trade: ReadModel._trade,
    BlockTrade: ReadModel._block_trade,
    OrderAccepted: ReadModel._accepted,
    OrderCancelled: ReadModel._cancelled,
    OrderExpired: ReadModel._cancelled,
    OrderReplaced: ReadModel._replaced,
    OrderReduced: ReadModel._reduced,
    OrderTriggered: ReadModel._triggered,
    PositionChanged: ReadModel._position,
    BalanceChanged: ReadModel._balance,
    MarksUpdated: ReadModel._marks,
    InstrumentHalted: ReadModel._halted,
    InstrumentResumed: ReadModel._resumed,
}
