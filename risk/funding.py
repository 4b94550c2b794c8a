"""The funding rate of a perpetual for one interval, from its premium over the index.

premium = (mid - index) / index, with ``mid`` the middle of the perp's best bid and offer (the mark
when the book is one-sided or empty); rate = premium x interval / premium_period, capped at +-cap.
Returned in parts per billion, as ``ApplyFunding`` takes it (positive: longs pay shorts).
"""

from __future__ import annotations

from config.risk_params import FundingParams

PPB = 1_000_000_000


def rate_ppb(mid: float, index: float, params: FundingParams) -> int:
    """The interval's rate; 0 when either price is missing (no funding without a price)."""
    if mid <= 0 or index <= 0:
        return 0
    rate = (mid - index) / index * params.interval_s / params.premium_period_s
    rate = max(-params.cap, min(params.cap, rate))
    return round(rate * PPB)


def book_mid(best_bid: float | None, best_ask: float | None, mark: float) -> float:
    """The mid of a two-sided book, else the mark."""
    if best_bid is not None and best_ask is not None and best_bid < best_ask:
        return (best_bid + best_ask) / 2
    return mark
