"""The ledger as settlement sees it, rebuilt from durable records alone, and the state commitment of
each batch (the Merkle root the vault's exits are proven against).

The mirror follows the events the sequencer emitted (``BalanceChanged`` carries the collateral after
the change, ``PositionChanged`` the position after it) and the marks of applied ``MarkUpdate``
commands, so the state it commits for a cut is exactly the ledger right after that cut, whenever the
records arrive (listeners run after the journal commit, when the sequencer may be far ahead).

Equity of an account at the batch's marks: collateral + each option at its mark + each perpetual's
unrealised P&L at its mark; a position whose instrument has no mark yet counts at its entry value (no
unrealised P&L), as the pre-trade check does. Leaves hold collateral and equity floored at zero (an
insolvent account exits with nothing). All amounts are integer micro-USDC (the token's units).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import encode
from web3 import Web3

from matching.commands import CommandRecord, ListInstrument, MarkUpdate
from matching.events import (
    BalanceChanged,
    Event,
    InstrumentDelisted,
    InstrumentListed,
    MarksUpdated,
    PositionChanged,
)
from matching.instruments import Instrument, UnderlyingIndex
from matching.types import BalanceReason
from settlement.merkle import AccountState, MerkleTree
from settlement.wallets import WalletRegistry

ZERO_HASH = b"\x00" * 32


@dataclass(frozen=True, slots=True)
class InstrumentTerms:
    underlying: str
    is_option: bool
    micro_per_tick_lot: int


@dataclass(frozen=True, slots=True)
class Commitment:
    """One batch's committed state: ``root`` over ``leaves``, the hash of the marks used, and the sum
    of the leaves' equity (the vault's ``committedEquity``)."""

    root: bytes
    marks_hash: bytes
    equity: int
    leaves: tuple[AccountState, ...]

    def tree(self) -> MerkleTree | None:
        return MerkleTree(self.leaves) if self.leaves else None

    def to_json(self) -> str:
        return json.dumps(
            {
                "root": self.root.hex(),
                "marks_hash": self.marks_hash.hex(),
                "equity": self.equity,
                "leaves": [[s.account, s.collateral, s.equity, s.positions_hash.hex()] for s in self.leaves],
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> Commitment:
        data = json.loads(text)
        leaves = tuple(AccountState(a, int(c), int(e), bytes.fromhex(h)) for a, c, e, h in data["leaves"])
        return cls(
            bytes.fromhex(data["root"]), bytes.fromhex(data["marks_hash"]), int(data["equity"]), leaves
        )


class LedgerMirror:
    """Feed records in sequence order with ``on_record``; ``commit`` gives the commitment of now."""

    def __init__(self) -> None:
        self.instruments: dict[str, InstrumentTerms] = {}
        self.marks: dict[str, int] = {}  # ticks
        self.collateral: dict[str, int] = {}
        self.positions: dict[str, dict[str, tuple[int, int]]] = {}  # account -> symbol -> (lots, cost)
        self.moved: set[str] = set()  # references of deposits and withdrawals the ledger booked
        self.last_seq = 0

    def on_record(self, record: CommandRecord, events: list[Event]) -> None:
        if record.seq <= self.last_seq:
            return
        self.last_seq = record.seq
        command = record.command
        for event in events:
            kind = type(event)
            if kind is BalanceChanged:
                b: BalanceChanged = event  # type: ignore[assignment]
                self.collateral[b.account] = b.collateral_micro
                if b.reason == BalanceReason.DEPOSIT or b.reason == BalanceReason.WITHDRAWAL:
                    self.moved.add(b.reference)
            elif kind is PositionChanged:
                p: PositionChanged = event  # type: ignore[assignment]
                held = self.positions.setdefault(p.account, {})
                if p.qty_lots or p.cost_micro:
                    held[p.symbol] = (p.qty_lots, p.cost_micro)
                else:
                    held.pop(p.symbol, None)
            elif kind is InstrumentDelisted:
                self.marks.pop(event.symbol, None)  # type: ignore[union-attr]
            elif kind is MarksUpdated and isinstance(command, MarkUpdate):
                self._marks(command)
            elif kind is InstrumentListed and isinstance(command, ListInstrument):
                spec = command.spec
                inst = Instrument(0, spec, UnderlyingIndex(spec.underlying))
                self.instruments[spec.symbol] = InstrumentTerms(
                    spec.underlying, inst.is_option, inst.micro_per_tick_lot
                )

    def _marks(self, command: MarkUpdate) -> None:
        # The sequencer's rule: unknown symbols, other underlyings and non-positive marks are skipped.
        for symbol, mark in command.marks:
            terms = self.instruments.get(symbol)
            if terms is not None and terms.underlying == command.underlying and mark > 0:
                self.marks[symbol] = mark

    def equity(self, account: str) -> int:
        total = self.collateral.get(account, 0)
        for symbol, (qty, cost) in self.positions.get(account, {}).items():
            terms = self.instruments[symbol]
            mark = self.marks.get(symbol, 0)
            value = qty * mark * terms.micro_per_tick_lot if mark else cost
            total += value if terms.is_option else value - cost
        return total

    def positions_hash(self, account: str) -> bytes:
        held = self.positions.get(account)
        if not held:
            return ZERO_HASH
        symbols = sorted(held)
        return Web3.keccak(
            encode(
                ["string[]", "int256[]", "int256[]"],
                [symbols, [held[s][0] for s in symbols], [held[s][1] for s in symbols]],
            )
        )

    def marks_hash(self) -> bytes:
        symbols = sorted(self.marks)
        return Web3.keccak(encode(["string[]", "uint256[]"], [symbols, [self.marks[s] for s in symbols]]))

    def commit(self, wallets: WalletRegistry) -> Commitment:
        """Every account with collateral or positions, at its vault address."""
        accounts = sorted(set(self.collateral) | {a for a, held in self.positions.items() if held})
        leaves = []
        for account in accounts:
            collateral = self.collateral.get(account, 0)
            held = self.positions.get(account)
            if not collateral and not held:
                continue
            leaves.append(
                AccountState(
                    wallets.address(account),
                    max(collateral, 0),
                    max(self.equity(account), 0),
                    self.positions_hash(account),
                )
            )
        states = tuple(leaves)
        root = MerkleTree(states).root if states else ZERO_HASH
        return Commitment(root, self.marks_hash(), sum(s.equity for s in states), states)

    # -- persistence --------------------------------------------------------------------------------

    def to_json(self) -> str:
        return json.dumps(
            {
                "last_seq": self.last_seq,
                "instruments": {
                    s: [t.underlying, t.is_option, t.micro_per_tick_lot] for s, t in self.instruments.items()
                },
                "marks": self.marks,
                "collateral": self.collateral,
                "positions": {a: {s: list(p) for s, p in held.items()} for a, held in self.positions.items()},
                "moved": sorted(self.moved),
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> LedgerMirror:
        data: dict[str, Any] = json.loads(text)
        mirror = cls()
        mirror.last_seq = int(data["last_seq"])
        mirror.instruments = {
            s: InstrumentTerms(u, bool(o), int(m)) for s, (u, o, m) in data["instruments"].items()
        }
        mirror.marks = {s: int(m) for s, m in data["marks"].items()}
        mirror.collateral = {a: int(c) for a, c in data["collateral"].items()}
        mirror.positions = {
            a: {s: (int(q), int(c)) for s, (q, c) in held.items()} for a, held in data["positions"].items()
        }
        mirror.moved = set(data["moved"])
        return mirror
