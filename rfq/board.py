"""Open RFQs as the front doors need them (legs to translate quotes, who may see what), from durable
events: fed by the runtime's listener after each journal write, and from the desk after a snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from matching.commands import CommandRecord
from matching.events import Event, RfqClosed, RfqOpened, RfqQuotes
from rfq.desk import RfqDesk


@dataclass(slots=True)
class OpenRfq:
    rfq_id: int
    taker: str
    client_rfq_id: str
    underlying: str
    side: int
    legs: list[tuple[str, int, int]]  # (symbol, side, lots)
    hedge: tuple[str, int, int] | None
    hedge_price_ticks: int
    counterparties: tuple[str, ...]
    window_end_ns: int
    expire_ns: int
    board: RfqQuotes | None = None  # the taker's latest view once the window closed
    opened: RfqOpened | None = field(default=None, repr=False)

    @property
    def leg_symbols(self) -> list[str]:
        return [symbol for symbol, _, _ in self.legs]

    def admits(self, maker: str) -> bool:
        return maker != self.taker and (not self.counterparties or maker in self.counterparties)


class RfqBoard:
    def __init__(self) -> None:
        self.open: dict[int, OpenRfq] = {}

    def listener(self, record: CommandRecord, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, RfqOpened):
                self._opened(event)
            elif isinstance(event, RfqQuotes):
                rfq = self.open.get(event.rfq_id)
                if rfq is not None:
                    rfq.board = event
            elif isinstance(event, RfqClosed):
                self.open.pop(event.rfq_id, None)

    def _opened(self, e: RfqOpened) -> None:
        self.open[e.rfq_id] = OpenRfq(
            e.rfq_id,
            e.account,
            e.client_rfq_id,
            e.underlying,
            e.side,
            [(leg.symbol, leg.side, leg.qty_lots) for leg in e.legs],
            (e.hedge.symbol, e.hedge.side, e.hedge.qty_lots) if e.hedge is not None else None,
            e.hedge_price_ticks,
            e.counterparties,
            e.window_end_ns,
            e.expire_ns,
            opened=e,
        )

    def load(self, desk: RfqDesk) -> None:
        """After a snapshot restore: the desk's open RFQs (their boards come with the next change)."""
        self.open = {}
        for rfq in desk.rfqs.values():
            hedge = rfq.hedge
            self.open[rfq.rfq_id] = OpenRfq(
                rfq.rfq_id,
                rfq.account,
                rfq.client_rfq_id,
                rfq.underlying,
                rfq.side,
                [(leg.symbol, leg.side, leg.qty_lots) for leg in rfq.legs],
                (hedge.symbol, hedge.side, hedge.qty_lots) if hedge is not None else None,
                rfq.hedge_price_ticks,
                rfq.counterparties,
                rfq.window_end_ns,
                rfq.expire_ns,
            )

    def summary(self, rfq: OpenRfq, for_taker: bool) -> dict[str, Any]:
        data: dict[str, Any] = {
            "rfq_id": rfq.rfq_id,
            "underlying": rfq.underlying,
            "side": {1: "buy", -1: "sell", 0: "two_way"}[rfq.side],
            "legs": [{"symbol": s, "side": "buy" if d > 0 else "sell", "lots": q} for s, d, q in rfq.legs],
            "hedge": None
            if rfq.hedge is None
            else {
                "symbol": rfq.hedge[0],
                "side": "buy" if rfq.hedge[1] > 0 else "sell",
                "lots": rfq.hedge[2],
                "price_ticks": rfq.hedge_price_ticks,
            },
            "window_end_ns": rfq.window_end_ns,
            "expire_ns": rfq.expire_ns,
        }
        if for_taker:
            data["client_rfq_id"] = rfq.client_rfq_id
            data["counterparties"] = list(rfq.counterparties)
        return data
