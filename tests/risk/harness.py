"""A sequencer with the real margin engine plugged in, BTC listed, and marks from flat SVI smiles."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from config.catalog import InstrumentSpec
from config.risk_params import RiskParams
from matching.commands import Command, CommandRecord, Deposit, ListInstrument, NewOrder, SetMarginMode
from matching.events import Event
from matching.liquidation import LiquidationTerms
from matching.sequencer import Sequencer
from risk.engine import MarginEngine
from risk.marks import flat_smiles, mark_update
from tests.matching.harness import AS_OF, CATALOG, batches_hash, replay_hash
from venue.wiring import new_sequencer as venue_sequencer

NOW = int(datetime(2026, 11, 22, 12, tzinfo=UTC).timestamp()) * 1_000_000_000
PARAMS = RiskParams.load()
PERP = "BTC-PERP"


def btc_specs(expiries: int = 2) -> list[InstrumentSpec]:
    options = CATALOG.options("BTC", AS_OF)
    keep = sorted({o.expiry_ns for o in options})[:expiries]
    return [CATALOG.perpetual("BTC"), *[o for o in options if o.expiry_ns in keep]]


TERMS = LiquidationTerms.from_config(PARAMS.liquidation)


def new_sequencer() -> Sequencer:
    """As the venue builds it: the margin engine and the liquidation terms of config/risk.toml."""
    return venue_sequencer(CATALOG, PARAMS)


class RiskHarness:
    def __init__(
        self, expiries: int = 2, funds: dict[str, int] | None = None, portfolio: bool = True
    ) -> None:
        self.seq = new_sequencer()
        assert isinstance(self.seq.risk, MarginEngine)
        self.engine = self.seq.risk
        self.specs = btc_specs(expiries)
        self.now = NOW
        self.records: list[CommandRecord] = []
        self.batches: list[tuple[int, list[Event]]] = []
        for spec in self.specs:
            self.do(ListInstrument(spec=spec))
        for account, amount in (funds or {"A": 10**12, "B": 10**12, "MM": 10**13}).items():
            self.do(Deposit(account=account, amount_micro=amount, reference=f"seed-{account}"))
            if portfolio:
                self.do(SetMarginMode(account=account, portfolio=True))

    def do(self, command: Command, advance_ns: int = 1_000) -> list[Event]:
        self.now += advance_ns
        record = self.seq.stamp(command, self.now)
        self.records.append(record)
        events = self.seq.apply(record)
        self.batches.append((record.seq, events))
        return events

    def mark(
        self, index: float, atm_vol: float = 0.5, skew: float = -0.1, advance_ns: int = 1_000
    ) -> list[Event]:
        """Marks from flat smiles at ``index``; ``advance_ns`` lets time pass first (breaker windows)."""
        at = self.now + advance_ns
        expiries = [s.expiry_ns for s in self.specs if s.expiry_ns]
        smiles = flat_smiles(index, [e for e in expiries if e], atm_vol, at, skew)
        return self.do(mark_update("BTC", index, smiles, self.specs, at), advance_ns)

    def symbol(self, strike: int, kind: str = "C", expiry: int = 0) -> str:
        expiries = sorted({s.expiry_ns for s in self.specs if s.expiry_ns})
        return next(
            s.symbol
            for s in self.specs
            if s.strike == Decimal(strike) and s.option_type == kind and s.expiry_ns == expiries[expiry]
        )

    def order(self, account: str, symbol: str, side: int, qty: int, price: int, **kw: Any) -> list[Event]:
        return self.do(
            NewOrder(
                account=account,
                client_order_id=kw.pop("clid", f"{account}-{len(self.records)}"),
                symbol=symbol,
                side=side,
                qty_lots=qty,
                price_ticks=price,
                **kw,
            )
        )

    def mark_ticks(self, symbol: str) -> int:
        market = self.seq.market(symbol)
        assert market is not None
        return market.instrument.mark_ticks

    def state(self, account: str) -> tuple[int, int, int]:
        return self.engine.margin_state(self.seq.ledger.accounts[account])

    def live_hash(self) -> str:
        return batches_hash(self.batches)

    def replay_hash(self) -> str:
        return replay_hash(self.records, new_sequencer())
