"""Stop orders of one instrument, held off the book until their trigger price is reached.

A buy stop triggers when its reference price (mark or last trade) rises to or above the stop price,
a sell stop when it falls to or below. When several are due, the oldest goes first (priority), so a
cascade is deterministic. Entries are removed lazily: a cancelled, triggered or re-priced stop leaves
a stale heap entry that is skipped when it surfaces.
"""

from __future__ import annotations

import heapq

from matching.book import Order
from matching.types import TriggerBy


class StopBook:
    __slots__ = ("_heaps", "live")

    def __init__(self) -> None:
        # (trigger_by, side) -> heap of (key, priority, order_id, stop_price); key: closeness to trigger
        self._heaps: dict[tuple[int, int], list[tuple[int, int, int, int]]] = {
            (TriggerBy.MARK, 1): [],
            (TriggerBy.MARK, -1): [],
            (TriggerBy.LAST, 1): [],
            (TriggerBy.LAST, -1): [],
        }
        self.live: dict[int, Order] = {}

    def add(self, order: Order) -> None:
        """Hold ``order`` (or re-file it after its stop price changed)."""
        self.live[order.order_id] = order
        key = order.stop_price if order.side > 0 else -order.stop_price
        entry = (key, order.priority, order.order_id, order.stop_price)
        heapq.heappush(self._heaps[(order.trigger_by, order.side)], entry)

    def remove(self, order: Order) -> None:
        self.live.pop(order.order_id, None)

    def __len__(self) -> int:
        return len(self.live)

    def pop_due(self, mark_ticks: int, last_ticks: int) -> Order | None:
        """The oldest stop whose trigger is reached, removed from the book; None if there is none."""
        best: tuple[int, tuple[int, int]] | None = None
        for (trigger_by, side), heap in self._heaps.items():
            ref = mark_ticks if trigger_by == TriggerBy.MARK else last_ticks
            if ref <= 0:
                continue
            while heap:
                _, priority, order_id, stop = heap[0]
                order = self.live.get(order_id)
                if order is None or order.stop_price != stop or order.priority != priority:
                    heapq.heappop(heap)
                    continue
                due = (side > 0 and ref >= stop) or (side < 0 and ref <= stop)
                if due and (best is None or priority < best[0]):
                    best = (priority, (trigger_by, side))
                break
        if best is None:
            return None
        _, _, order_id, _ = heapq.heappop(self._heaps[best[1]])
        return self.live.pop(order_id)
