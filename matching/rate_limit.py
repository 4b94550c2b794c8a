"""Per-caller token buckets for the front doors (HTTP keys, FIX sessions): over the limit is refused at
once, never queued. Not thread-safe: each front door uses its own limiter from one thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class Bucket:
    rate_per_s: float
    burst: float
    tokens: float
    stamp: float


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, Bucket] = {}

    def take(self, caller: str, rate_per_s: float, burst: int) -> float:
        """0.0 if a request may go now, else the seconds until one may."""
        now = self._clock()
        bucket = self._buckets.get(caller)
        if bucket is None:
            bucket = self._buckets[caller] = Bucket(rate_per_s, burst, float(burst), now)
        bucket.tokens = min(bucket.burst, bucket.tokens + (now - bucket.stamp) * bucket.rate_per_s)
        bucket.stamp = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / bucket.rate_per_s
