"""The limit order book of one instrument: price levels of FIFO queues, integer ticks and lots.

Ordering invariant: within a level, orders sit in arrival order (an intrusive doubly linked list), so
the head is always the oldest; across levels, the best bid is the highest price and the best ask the
lowest. A resting order is only ever appended at a tail (new order, or a replace that loses priority)
or shrunk in place (partial fill, or a replace that keeps priority).

Complexity: add O(1) for an existing level and O(log L) for a new one; cancel O(1) by order id
(the order holds its level and neighbours); best price O(1), cached and repaired lazily from a heap
of level prices when the best level empties.

Never crossed: the matcher trades an incoming order before resting it, so after every command the best
bid is strictly below the best ask. ``OrderBook.check_invariants`` verifies this for tests.
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

from matching.instruments import Instrument

if TYPE_CHECKING:
    from matching.ledger import Account


class Order:
    """A live order: resting in a book, or a stop held off the book until triggered.

    Units: prices in ticks, quantities in lots, cash in micro-USDC. ``qty`` is the total quantity
    (filled + open; it shrinks only on a decrement or a replace), ``leaves`` the open part.
    """

    __slots__ = (
        "account", "client_order_id", "cum_qty", "cum_value", "expire_ns", "instrument", "leaves", "level",
        "margin_micro", "next", "order_id", "order_type", "post_only", "prev", "price", "priority", "qty",
        "reduce_only", "side", "stop_price", "stp_mode", "tif", "trigger_by", "triggered",
    )  # fmt: skip

    order_id: int
    account: Account
    client_order_id: str
    instrument: Instrument
    side: int  # +1 buy, -1 sell
    price: int  # limit price; for a market order, its protected price once it trades
    qty: int
    leaves: int
    order_type: int  # matching.types.OrderType
    tif: int  # matching.types.TimeInForce
    expire_ns: int  # GTD only
    post_only: bool
    reduce_only: bool
    stop_price: int  # stops only
    trigger_by: int  # matching.types.TriggerBy
    stp_mode: int  # matching.types.StpMode
    cum_qty: int
    cum_value: int  # sum of fill price x lots, for the average price
    margin_micro: int  # margin the risk check holds for the open part while it rests
    prev: Order | None
    next: Order | None
    level: Level | None  # the level it rests at; None while held as a stop or off the book
    triggered: bool
    priority: int  # sequence number of the command that put it at its level's tail

    def __init__(
        self,
        order_id: int,
        account: Account,
        client_order_id: str,
        instrument: Instrument,
        side: int,
        price: int,
        qty: int,
        leaves: int,
        order_type: int,
        tif: int,
        expire_ns: int = 0,
        post_only: bool = False,
        reduce_only: bool = False,
        stop_price: int = 0,
        trigger_by: int = 0,
        stp_mode: int = 0,
    ) -> None:
        self.order_id = order_id
        self.account = account
        self.client_order_id = client_order_id
        self.instrument = instrument
        self.side = side
        self.price = price
        self.qty = qty
        self.leaves = leaves
        self.order_type = order_type
        self.tif = tif
        self.expire_ns = expire_ns
        self.post_only = post_only
        self.reduce_only = reduce_only
        self.stop_price = stop_price
        self.trigger_by = trigger_by
        self.stp_mode = stp_mode
        self.cum_qty = 0
        self.cum_value = 0
        self.margin_micro = 0
        self.prev = None
        self.next = None
        self.level = None
        self.triggered = False
        self.priority = 0

    def __repr__(self) -> str:
        return (
            f"Order({self.order_id}, {self.instrument.symbol}, side={self.side}, price={self.price}, "
            f"qty={self.qty}, leaves={self.leaves}, cum={self.cum_qty})"
        )


class Level:
    """The FIFO queue of orders at one price."""

    __slots__ = ("count", "head", "price", "tail", "total")

    price: int
    head: Order | None  # oldest
    tail: Order | None  # newest
    total: int  # lots resting at this price
    count: int

    def __init__(self, price: int) -> None:
        self.price = price
        self.head = None
        self.tail = None
        self.total = 0
        self.count = 0


class BookSide:
    """One side of a book. ``sign`` is +1 for bids (higher is better) and -1 for asks."""

    __slots__ = ("best", "heap", "levels", "sign")

    def __init__(self, sign: int) -> None:
        self.sign = sign
        self.levels: dict[int, Level] = {}
        self.heap: list[int] = []  # -sign * price, so the heap's top is the best price; may hold stale prices
        self.best = 0  # best price in ticks, 0 when the side is empty

    def append(self, order: Order) -> Level:
        """Rest ``order`` at the tail of its price level, creating the level if needed."""
        price = order.price
        level = self.levels.get(price)
        if level is None:
            level = Level(price)
            self.levels[price] = level
            heapq.heappush(self.heap, -self.sign * price)
            if self.best == 0 or (price - self.best) * self.sign > 0:
                self.best = price
            if len(self.heap) > 2 * len(self.levels) + 64:
                self._compact()
        tail = level.tail
        order.prev = tail
        order.next = None
        order.level = level
        if tail is None:
            level.head = order
        else:
            tail.next = order
        level.tail = order
        level.total += order.leaves
        level.count += 1
        return level

    def remove(self, order: Order) -> Level:
        """Unlink ``order`` (its ``leaves`` still counted in the level) and drop an emptied level."""
        level = order.level
        assert level is not None
        prev, nxt = order.prev, order.next
        if prev is None:
            level.head = nxt
        else:
            prev.next = nxt
        if nxt is None:
            level.tail = prev
        else:
            nxt.prev = prev
        order.prev = order.next = None
        order.level = None
        level.total -= order.leaves
        level.count -= 1
        if level.count == 0:
            self.drop_level(level.price)
        return level

    def drop_level(self, price: int) -> None:
        del self.levels[price]
        if price == self.best:
            self._repair_best()

    def _repair_best(self) -> None:
        heap, levels = self.heap, self.levels
        while heap:
            price = -self.sign * heap[0]
            if price in levels:
                self.best = price
                return
            heapq.heappop(heap)
        self.best = 0

    def _compact(self) -> None:
        self.heap = [-self.sign * price for price in self.levels]
        heapq.heapify(self.heap)

    def depth(self, n: int) -> list[tuple[int, int, int]]:
        """The best ``n`` levels as (price_ticks, qty_lots, order_count), best first."""
        prices = sorted(self.levels, reverse=self.sign > 0)[:n]
        return [(p, self.levels[p].total, self.levels[p].count) for p in prices]

    def orders_at(self, price: int) -> list[Order]:
        """The orders resting at ``price`` in time priority."""
        out: list[Order] = []
        level = self.levels.get(price)
        node = level.head if level else None
        while node is not None:
            out.append(node)
            node = node.next
        return out


class OrderBook:
    """Bids and asks of one instrument, plus its per-book sequence number for market-data deltas."""

    __slots__ = ("asks", "bids", "delta_seq", "instrument")

    def __init__(self, instrument: Instrument) -> None:
        self.instrument = instrument
        self.bids = BookSide(1)
        self.asks = BookSide(-1)
        self.delta_seq = 0

    def side(self, side: int) -> BookSide:
        return self.bids if side > 0 else self.asks

    def check_invariants(self) -> None:
        """Raise AssertionError if the book is crossed or a level's totals disagree with its orders."""
        for book_side in (self.bids, self.asks):
            expected_best = 0
            if book_side.levels:
                expected_best = max(book_side.levels) if book_side.sign > 0 else min(book_side.levels)
            assert book_side.best == expected_best, (book_side.best, expected_best)
            for price, level in book_side.levels.items():
                orders = book_side.orders_at(price)
                assert orders, f"empty level {price}"
                assert level.count == len(orders)
                assert level.total == sum(o.leaves for o in orders)
                assert all(o.leaves > 0 and o.price == price for o in orders)
                stamps = [o.priority for o in orders]
                assert stamps == sorted(stamps), f"FIFO broken at {price}: {stamps}"
        if self.bids.best and self.asks.best:
            assert self.bids.best < self.asks.best, f"crossed book {self.bids.best} >= {self.asks.best}"
