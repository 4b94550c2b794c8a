"""The venue's sequencer (margin engine and RFQ desk) with BTC listed and marked, a taker and makers."""

from __future__ import annotations

from typing import Any

from matching.commands import ClockTick, RfqAccept, RfqCreate, RfqLeg, RfqQuote
from matching.events import Event
from rfq.desk import RfqDesk
from tests.risk.harness import PERP, RiskHarness

MS = 1_000_000
WINDOW = 100 * MS
VALIDITY = 2_000 * MS
TAKER = "T"
MAKERS = ("M1", "M2", "M3")


class RfqHarness(RiskHarness):
    def __init__(self, funds: dict[str, int] | None = None) -> None:
        default = {TAKER: 10**12, **{m: 10**12 for m in MAKERS}}
        super().__init__(funds=funds or default)
        self.mark(100_000)
        desk = self.seq.extensions[0]
        assert isinstance(desk, RfqDesk)
        self.desk = desk

    def call(self, strike: int = 100_000, expiry: int = 0) -> str:
        return self.symbol(strike, "C", expiry)

    def put(self, strike: int = 100_000, expiry: int = 0) -> str:
        return self.symbol(strike, "P", expiry)

    def rfq(self, legs: list[tuple[str, int, int]], side: int = 0, **kw: Any) -> list[Event]:
        return self.do(
            RfqCreate(
                account=kw.pop("account", TAKER),
                client_rfq_id=kw.pop("clid", f"r{len(self.records)}"),
                legs=tuple(RfqLeg(symbol, s, qty) for symbol, s, qty in legs),
                window_ns=kw.pop("window_ns", WINDOW),
                validity_ns=kw.pop("validity_ns", VALIDITY),
                side=side,
                **kw,
            )
        )

    def quote(
        self, maker: str, rfq_id: int, bid: list[int] | None = None, offer: list[int] | None = None, **kw: Any
    ) -> list[Event]:
        return self.do(
            RfqQuote(
                account=maker,
                rfq_id=rfq_id,
                client_quote_id=kw.pop("clid", f"{maker}-{len(self.records)}"),
                bid_ticks=tuple(bid or ()),
                offer_ticks=tuple(offer or ()),
                **kw,
            ),
            kw.pop("advance_ns", 1_000),
        )

    def wait(self, ns: int) -> list[Event]:
        return self.do(ClockTick(), ns)

    def accept(self, rfq_id: int, quote_id: int, side: int, **kw: Any) -> list[Event]:
        return self.do(
            RfqAccept(account=kw.pop("account", TAKER), rfq_id=rfq_id, quote_id=quote_id, side=side, **kw)
        )

    def qty(self, account: str, symbol: str) -> int:
        pos = self.seq.ledger.accounts[account].positions.get(self.seq.instruments[symbol].id)
        return pos.qty if pos else 0


__all__ = ["MAKERS", "MS", "PERP", "TAKER", "VALIDITY", "WINDOW", "RfqHarness"]
