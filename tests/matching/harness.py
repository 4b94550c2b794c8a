"""A thin driver around a fresh Sequencer for tests: stamps commands with an advancing clock."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

from config.catalog import Catalog, InstrumentSpec
from matching.commands import Command, CommandRecord, Deposit, ListInstrument, MarkUpdate, NewOrder
from matching.event_hash import EventHasher
from matching.events import Event
from matching.sequencer import Sequencer

T0 = 1_800_000_000_000_000_000  # ns
SECOND = 1_000_000_000
CATALOG = Catalog.load()
AS_OF = date(2026, 11, 22)
PERP = "BTC-PERP"


def option_spec(**overrides: Any) -> InstrumentSpec:
    """The first BTC call of the seeded catalog, with optional field overrides."""
    import msgspec

    spec = next(
        s for s in CATALOG.options("BTC", AS_OF) if s.option_type == "C" and s.strike == Decimal(100000)
    )
    return msgspec.structs.replace(spec, **overrides)


class Harness:
    def __init__(
        self, specs: Iterable[InstrumentSpec] | None = None, funds: dict[str, int] | None = None
    ) -> None:
        self.seq = Sequencer(CATALOG.fee_account)
        self.now = T0
        self.records: list[CommandRecord] = []
        self.log: list[Event] = []
        self.batches: list[tuple[int, list[Event]]] = []  # (seq, events) as produced live
        for spec in specs if specs is not None else [CATALOG.perpetual("BTC")]:
            self.do(ListInstrument(spec=spec))
        for account, amount in (
            funds if funds is not None else {"A": 10**13, "B": 10**13, "C": 10**13}
        ).items():
            self.do(Deposit(account=account, amount_micro=amount, reference=f"seed-{account}"))

    def do(self, command: Command, advance_ns: int = 1_000) -> list[Event]:
        self.now += advance_ns
        record = self.seq.stamp(command, self.now)
        self.records.append(record)
        events = self.seq.apply(record)
        self.log.extend(events)
        self.batches.append((record.seq, events))
        return events

    def live_hash(self) -> str:
        return batches_hash(self.batches)

    def replay_hash(self) -> str:
        return replay_hash(self.records, Sequencer(CATALOG.fee_account))

    def order(
        self, account: str, side: int, qty: int, price: int = 0, symbol: str = PERP, **kw: Any
    ) -> list[Event]:
        clid = kw.pop("clid", f"{account}-{len(self.records)}")
        return self.do(
            NewOrder(
                account=account,
                client_order_id=clid,
                symbol=symbol,
                side=side,
                qty_lots=qty,
                price_ticks=price,
                **kw,
            )
        )

    def mark(self, mark_ticks: int, symbol: str = PERP, index_micro: int = 100_000_000_000) -> list[Event]:
        return self.do(
            MarkUpdate(underlying="BTC", index_price_micro=index_micro, marks=((symbol, mark_ticks),))
        )

    def book(self, symbol: str = PERP) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
        market = self.seq.market(symbol)
        assert market is not None
        market.book.check_invariants()
        return market.book.bids.depth(1000), market.book.asks.depth(1000)

    def position(self, account: str, symbol: str = PERP) -> int:
        market = self.seq.market(symbol)
        assert market is not None
        pos = self.seq.ledger.accounts[account].positions.get(market.instrument.id)
        return pos.qty if pos else 0

    def cash(self, account: str) -> int:
        return self.seq.ledger.accounts[account].collateral


def batches_hash(batches: Iterable[tuple[int, list[Event]]]) -> str:
    """The event-stream hash of (seq, events) batches as the live sequencer produced them."""
    hasher = EventHasher()
    for seq, events in batches:
        hasher.update(seq, events)
    return hasher.hexdigest()


def replay_hash(records: Iterable[CommandRecord], fresh: Sequencer) -> str:
    """The event-stream hash of ``records`` applied to ``fresh``."""
    return batches_hash((record.seq, fresh.apply(record)) for record in records)


def conservation(seq: Sequencer) -> None:
    ledger = seq.ledger
    per_instrument: dict[int, int] = {}
    cash_less_perp_cost = 0
    for account in ledger.accounts.values():
        cash_less_perp_cost += account.collateral
        for inst_id, pos in account.positions.items():
            per_instrument[inst_id] = per_instrument.get(inst_id, 0) + pos.qty
            if not pos.instrument.is_option:
                cash_less_perp_cost -= pos.cost
    assert all(total == 0 for total in per_instrument.values()), per_instrument
    assert cash_less_perp_cost == ledger.net_deposits
    for order in seq.matcher.orders.values():  # no quantity appears or vanishes on a live order
        assert order.qty == order.cum_qty + order.leaves and order.leaves > 0, order
        assert order.cum_value >= order.cum_qty  # every fill priced at >= 1 tick


def of(events: Iterable[Event], kind: type) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


def first(events: Iterable[Event], kind: type) -> Any:
    found = of(events, kind)
    assert found, f"no {kind.__name__} in {events}"
    return found[0]
