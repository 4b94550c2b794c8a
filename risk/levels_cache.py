"""Liquidation levels kept fresh for accounts near the edge, computed on demand for the others.

After each mark update of an underlying, ``refresh`` recomputes the levels of the accounts whose
maintenance margin uses at least ``near_edge`` of their equity, worst first. It runs on the event loop
beside the sequencer, so it stops at ``budget`` accounts or after ``time_budget_s`` of work, whichever
comes first: a mark update never stalls acknowledgements for long. ``get`` returns a cached entry only
if it was computed at the underlying's current mark time; otherwise it computes one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from matching.ledger import Account
from risk.engine import MarginEngine
from risk.liquidation_levels import LiquidationLevels, liquidation_levels


@dataclass(slots=True)
class LevelsCache:
    engine: MarginEngine
    near_edge: float = 0.5
    budget: int = 50
    time_budget_s: float = 0.02
    entries: dict[tuple[str, str], tuple[int, LiquidationLevels | None]] = field(default_factory=dict)
    refreshed: int = 0

    def _mark_time(self, underlying: str) -> int:
        book = self.engine.books.get(underlying)
        return book.time_ns if book is not None else 0

    def get(self, account: Account, underlying: str) -> LiquidationLevels | None:
        now = self._mark_time(underlying)
        entry = self.entries.get((account.id, underlying))
        if entry is not None and entry[0] == now:
            return entry[1]
        levels = liquidation_levels(self.engine, account, underlying)
        self.entries[(account.id, underlying)] = (now, levels)
        return levels

    def refresh(self, underlying: str) -> int:
        """Recompute the levels of the accounts nearest the edge in ``underlying``; returns how many."""
        equity, mm = self.engine.equity_and_maintenance_all()
        usage = np.where(equity > 0, mm / np.maximum(equity, 1), np.inf)
        candidates: list[tuple[float, str, Account]] = []
        for a in np.flatnonzero(usage >= self.near_edge):
            account = self.engine.accounts[int(a)]
            if any(p.qty and p.instrument.underlying == underlying for p in account.positions.values()):
                candidates.append((-float(usage[a]), account.id, account))
        candidates.sort(key=lambda c: (c[0], c[1]))
        deadline = time.perf_counter() + self.time_budget_s
        done = 0
        for _, _, account in candidates[: self.budget]:
            self.get(account, underlying)
            done += 1
            if time.perf_counter() >= deadline:
                break
        self.refreshed += done
        return done

    def venue_levels(self) -> dict[tuple[str, str], LiquidationLevels | None]:
        """Every cached entry still current (for the venue-wide ranking)."""
        return {
            key: levels
            for key, (time_ns, levels) in self.entries.items()
            if time_ns == self._mark_time(key[1])
        }
