"""What the FIX gateway needs from the running venue, as an interface ``venue`` implements.

The gateway holds no trading state: it submits commands, listens to durable records, and reads
what it reports (books, orders, positions, margin) from the venue's read side. Every method is
called on the venue's event-loop thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from matching.commands import Command, CommandRecord
from matching.events import Event, Trade
from matching.instruments import Instrument

Listener = Callable[[CommandRecord, list[Event]], None]


@dataclass(frozen=True, slots=True)
class OpenOrder:
    """A live order as the read side shows it (durable state only)."""

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
    cum_qty: int
    cum_value: int
    stop_price_ticks: int


@dataclass(frozen=True, slots=True)
class Margin:
    """An account's margin in micro-USDC: equity, initial and maintenance margin, available funds."""

    equity_micro: int
    initial_micro: int
    maintenance_micro: int
    portfolio: bool
    stale: bool  # some underlying's marks are stale: figures may lag the market

    @property
    def available_micro(self) -> int:
        return self.equity_micro - self.initial_micro


class Core(Protocol):
    def submit(self, command: Command) -> asyncio.Future[Any]:
        """Queue a command; the future fails with ValueError if it cannot be journaled."""
        ...

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener`` with each durable record and its events, in sequence order."""
        ...

    @property
    def instruments(self) -> Mapping[str, Instrument]: ...

    def book(self, symbol: str, depth: int) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
        """(bids, asks) as (price ticks, lots, orders), best first, at most ``depth`` each (0: all)."""
        ...

    def book_delta_seq(self, symbol: str) -> int: ...

    def recent_trades(self, symbol: str, limit: int) -> list[Trade]: ...

    def open_orders(self, account: str) -> list[OpenOrder]: ...

    def open_order(self, order_id: int) -> OpenOrder | None: ...

    def order_record(self, account: str, client_order_id: str) -> Awaitable[dict[str, Any] | None]:
        """The newest order (any state) of ``account`` with that client order id, from the records."""
        ...

    def positions(self, account: str) -> dict[str, tuple[int, int, int]]:
        """symbol -> (lots, entry cost micro-USDC, realised P&L micro-USDC), open positions only."""
        ...

    def collateral(self, account: str) -> int | None:
        """Collateral in micro-USDC, None for an account the venue has never seen."""
        ...

    def margin(self, account: str) -> Margin | None: ...
