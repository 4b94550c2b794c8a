"""The venue as the FIX gateway sees it (``fixgw.core.Core``): runtime, read model, records, risk."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from fixgw.core import Listener, Margin
from matching.commands import Command
from matching.events import Trade
from matching.instruments import Instrument
from rfq.board import OpenRfq
from risk.engine import MarginEngine
from venue.readmodel import OrderView

if TYPE_CHECKING:
    from venue.wiring import Venue


class InstrumentsView(Mapping[str, Instrument]):
    """The sequencer's listed instruments by symbol, read through (no copy per lookup)."""

    def __init__(self, venue: Venue) -> None:
        self.venue = venue

    def __getitem__(self, symbol: str) -> Instrument:
        return self.venue.sequencer.matcher.markets[symbol].instrument

    def get(self, symbol: str, default: Any = None) -> Any:
        market = self.venue.sequencer.matcher.markets.get(symbol)
        return market.instrument if market is not None else default

    def __contains__(self, symbol: object) -> bool:
        return symbol in self.venue.sequencer.matcher.markets

    def __iter__(self) -> Iterator[str]:
        return iter(self.venue.sequencer.matcher.markets)

    def __len__(self) -> int:
        return len(self.venue.sequencer.matcher.markets)


class VenueCore:
    def __init__(self, venue: Venue) -> None:
        self.venue = venue
        self._instruments = InstrumentsView(venue)

    def submit(self, command: Command) -> asyncio.Future[Any]:
        return self.venue.runtime.submit_nowait(command)

    def submit_quiet(self, command: Command, refused: Callable[[BaseException], None]) -> None:
        self.venue.runtime.submit_quiet(command, refused)

    def add_listener(self, listener: Listener) -> None:
        self.venue.runtime.listeners.append(listener)

    @property
    def instruments(self) -> Mapping[str, Instrument]:
        return self._instruments

    def book(self, symbol: str, depth: int) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
        view = self.venue.readmodel.books.get(symbol)
        if view is None:
            return [], []
        return view.depth(depth if depth > 0 else len(view.bids) + len(view.asks))

    def recent_trades(self, symbol: str, limit: int) -> list[Trade]:
        trades = self.venue.readmodel.trades.get(symbol)
        return list(trades)[-limit:] if trades else []

    def open_orders(self, account: str) -> list[OrderView]:
        view = self.venue.readmodel.accounts.get(account)
        return list(view.orders.values()) if view is not None else []

    def order_record(self, account: str, client_order_id: str) -> Awaitable[dict[str, Any] | None]:
        return self.venue.records.order_by_client_id(account, client_order_id)

    def positions(self, account: str) -> dict[str, tuple[int, int, int]]:
        view = self.venue.readmodel.accounts.get(account)
        return {s: p for s, p in view.positions.items() if p[0]} if view is not None else {}

    def collateral(self, account: str) -> int | None:
        view = self.venue.readmodel.accounts.get(account)
        return view.collateral_micro if view is not None else None

    def margin(self, account: str) -> Margin | None:
        sequencer = self.venue.sequencer
        holder = sequencer.ledger.accounts.get(account)
        if holder is None:
            return None
        risk = sequencer.risk
        equity, initial, maintenance = risk.margin_state(holder)
        portfolio = isinstance(risk, MarginEngine) and account in risk.portfolio
        stale = bool(self.venue.mark_watch.stale(time.time_ns(), list(self.venue.catalog.underlyings)))
        return Margin(equity, initial, maintenance, portfolio, stale)

    @property
    def rfqs(self) -> Mapping[int, OpenRfq]:
        return self.venue.rfq_board.open

    def rfq_defaults(self) -> tuple[int, int]:
        settings = self.venue.settings
        return settings.rfq_window_ms * 1_000_000, settings.rfq_validity_s * 1_000_000_000
