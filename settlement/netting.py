"""Netting: durable records -> settlement batches of net cash transfers per account.

A batch is everything between two ``SettlePerpetuals`` records (the second one included): its cash
moves are the BalanceChanged events of those records, except deposits and withdrawals, which move on
chain by themselves (a deposit before the ledger credits it; a withdrawal leaves the vault balance
when the batch serves its request, after the deltas). Because the cut realises every perpetual at
its mark, the net deltas of a batch sum to zero over all accounts, the fee and insurance accounts
included: that is the vault's conservation check (``settleBatch`` reverts otherwise), and
``NettingError`` here.

Batches are a pure function of the journal: batch n is the n-th cut, so replaying the journal from the
start (or from a saved ``Netting.state``) rebuilds exactly the batches the live service built.
All amounts are integer micro-USDC (the vault token's 6-decimal units).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from matching.commands import CommandRecord
from matching.events import (
    BalanceChanged,
    BlockTrade,
    Event,
    PerpetualsSettled,
    Trade,
)
from matching.types import BalanceReason

ON_CHAIN_ALREADY = frozenset({BalanceReason.DEPOSIT, BalanceReason.WITHDRAWAL})


class NettingError(RuntimeError):
    """A cut whose deltas do not sum to zero: the ledger and the netting disagree; never submit it."""


@dataclass(frozen=True, slots=True)
class NetBatch:
    """One settlement batch: ``deltas`` by account (non-zero only, sorted by account id)."""

    batch_id: int  # 1, 2, ...: the vault's consecutive batch ids
    reference: str  # the SettlePerpetuals reference of the cut
    first_seq: int  # the journal records it covers, both included
    last_seq: int
    cut_ts_ns: int  # the cut record's time: the batch's marks are those in force then
    deltas: tuple[tuple[str, int], ...]
    trades: int  # fills and block-trade legs netted into it
    cash_moves: int  # BalanceChanged events netted into it
    # withdrawals the ledger debited in the batch: (reference, account, micro-USDC), in record order;
    # the batch serves them on chain, so no root ever reflects a debit the vault has not paid out
    withdrawals: tuple[tuple[str, str, int], ...] = ()


@dataclass(slots=True)
class NettingState:
    """Where the netting stands: enough to resume after a restart without replaying everything."""

    next_batch_id: int = 1
    first_seq: int = 0  # first record of the open batch (0: none yet)
    last_seq: int = 0  # last record seen
    deltas: dict[str, int] = field(default_factory=dict)
    trades: int = 0
    cash_moves: int = 0
    withdrawals: list[tuple[str, str, int]] = field(default_factory=list)


class Netting:
    """Feed durable records in sequence order (``on_record``, a runtime listener); collect the batches
    each cut closes from ``take``."""

    def __init__(self, state: NettingState | None = None) -> None:
        self.state = state or NettingState()
        self.closed: list[NetBatch] = []

    def on_record(self, record: CommandRecord, events: list[Event]) -> None:
        state = self.state
        if record.seq <= state.last_seq:
            return  # already netted (a replay overlapping what the saved state covers)
        if state.last_seq and record.seq != state.last_seq + 1:
            raise NettingError(f"record {record.seq} after {state.last_seq}: a gap in the journal feed")
        state.last_seq = record.seq
        if not state.first_seq:
            state.first_seq = record.seq
        deltas = state.deltas
        for event in events:
            kind = type(event)
            if kind is BalanceChanged:
                e: BalanceChanged = event  # type: ignore[assignment]
                if e.reason in ON_CHAIN_ALREADY:
                    if e.reason == BalanceReason.WITHDRAWAL:
                        state.withdrawals.append((e.reference, e.account, -e.delta_micro))
                    continue
                deltas[e.account] = deltas.get(e.account, 0) + e.delta_micro
                state.cash_moves += 1
            elif kind is Trade or kind is BlockTrade:
                state.trades += 1
            elif kind is PerpetualsSettled:
                self._cut(record, event)  # type: ignore[arg-type]

    def feed(self, records: Iterable[tuple[CommandRecord, list[Event]]]) -> None:
        for record, events in records:
            self.on_record(record, events)

    def take(self) -> list[NetBatch]:
        """The batches closed since the last call, oldest first."""
        closed, self.closed = self.closed, []
        return closed

    def _cut(self, record: CommandRecord, settled: PerpetualsSettled) -> None:
        state = self.state
        deltas = {a: d for a, d in state.deltas.items() if d}
        total = sum(deltas.values())
        if total:
            raise NettingError(
                f"batch {state.next_batch_id} (seq {state.first_seq}..{record.seq}) "
                f"is off by {total} micro-USDC"
            )
        self.closed.append(
            NetBatch(
                state.next_batch_id,
                settled.reference,
                state.first_seq,
                record.seq,
                record.ts_ns,
                tuple(sorted(deltas.items())),
                state.trades,
                state.cash_moves,
                tuple(state.withdrawals),
            )
        )
        self.state = NettingState(next_batch_id=state.next_batch_id + 1, last_seq=record.seq)
