"""What the FIX gateway needs from the running venue, as an interface ``venue`` implements.

The gateway holds no trading state: it submits commands, listens to durable records, and reads
what it reports (books, orders, positions, margin) from the venue's read side. Every method is
called on the venue's event-loop thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from matching.commands import Command, CommandRecord
from matching.events import Event, Trade
from matching.instruments import Instrument
from rfq.board import OpenRfq

Listener = Callable[[CommandRecord, list[Event]], None]


class OpenOrder(Protocol):
    """A live order as the read side shows it (durable state only); read-only to the gateway."""

    @property
    def order_id(self) -> int: ...
    @property
    def account(self) -> str: ...
    @property
    def client_order_id(self) -> str: ...
    @property
    def symbol(self) -> str: ...
    @property
    def side(self) -> int: ...
    @property
    def order_type(self) -> int: ...
    @property
    def tif(self) -> int: ...
    @property
    def price_ticks(self) -> int: ...
    @property
    def qty_lots(self) -> int: ...
    @property
    def leaves_qty(self) -> int: ...
    @property
    def cum_qty(self) -> int: ...
    @property
    def cum_value(self) -> int: ...
    @property
    def stop_price_ticks(self) -> int: ...


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

    def submit_quiet(self, command: Command, refused: Callable[[BaseException], None]) -> None:
        """Queue a command whose outcome the listeners will see; ``refused(exc)`` is called instead
        (on the loop, possibly before this returns) if it is refused before it is applied: the
        journal is unavailable (``exc.reason``) or the command cannot be journaled (ValueError)."""
        ...

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener`` with each durable record and its events, in sequence order."""
        ...

    @property
    def instruments(self) -> Mapping[str, Instrument]: ...

    def book(self, symbol: str, depth: int) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
        """(bids, asks) as (price ticks, lots, orders), best first, at most ``depth`` each (0: all)."""
        ...

    def recent_trades(self, symbol: str, limit: int) -> list[Trade]: ...

    def open_orders(self, account: str) -> Sequence[OpenOrder]: ...

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

    @property
    def rfqs(self) -> Mapping[int, OpenRfq]:
        """Open RFQs by id, from durable events (updated before the gateway's listener runs)."""
        ...

    def rfq_defaults(self) -> tuple[int, int]:
        """(auction window, validity) in ns for a request that names neither."""
        ...
