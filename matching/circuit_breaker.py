"""Per-instrument circuit breaker: halt when trades move more than N% within T seconds.

The window keeps the lowest and highest trade prices of the last T seconds (monotonic deques, O(1)
amortised per trade). A price is allowed when it stays within ``move`` of both: p <= low x (1 + move)
and p >= high x (1 - move). The matcher asks before trading at a new price level, so the move that
would trip the breaker never prints.
"""

from __future__ import annotations

from collections import deque

from matching.instruments import PPM


class CircuitBreaker:
    __slots__ = ("_highs", "_lows", "move_ppm", "window_ns")

    def __init__(self, move_ppm: int, window_ns: int) -> None:
        self.move_ppm = move_ppm
        self.window_ns = window_ns
        self._lows: deque[tuple[int, int]] = deque()  # (ts_ns, price) with increasing prices
        self._highs: deque[tuple[int, int]] = deque()  # (ts_ns, price) with decreasing prices

    def allows(self, price_ticks: int, now_ns: int) -> bool:
        """True when trading at ``price_ticks`` now keeps the move within the limit."""
        horizon = now_ns - self.window_ns
        lows, highs = self._lows, self._highs
        while lows and lows[0][0] < horizon:
            lows.popleft()
        while highs and highs[0][0] < horizon:
            highs.popleft()
        if not lows:
            return True
        scaled = price_ticks * PPM
        return scaled <= lows[0][1] * (PPM + self.move_ppm) and scaled >= highs[0][1] * (PPM - self.move_ppm)

    def record(self, price_ticks: int, now_ns: int) -> None:
        lows, highs = self._lows, self._highs
        while lows and lows[-1][1] >= price_ticks:
            lows.pop()
        lows.append((now_ns, price_ticks))
        while highs and highs[-1][1] <= price_ticks:
            highs.pop()
        highs.append((now_ns, price_ticks))

    def window(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """The kept (ts_ns, price) entries, lows then highs, for snapshots."""
        return list(self._lows), list(self._highs)

    def load(self, lows: list[tuple[int, int]], highs: list[tuple[int, int]]) -> None:
        self._lows = deque(lows)
        self._highs = deque(highs)

    def reset(self) -> None:
        """Forget the window (after a halt, trading restarts from a fresh reference)."""
        self._lows.clear()
        self._highs.clear()
