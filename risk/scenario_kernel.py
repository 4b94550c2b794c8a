"""The pre-trade hot loop over one account's scenario vector, compiled with mypyc (setup.py).

Vectors are Python lists of floats holding whole numbers of micro-USDC: sums of such values are exact
in float64 below 2**53 (9 billion USD), so these loops give bit for bit what the numpy integer path
gives (integers, then times the weights), in any order. On 35 scenarios a compiled loop costs well under
a microsecond where each numpy call on so short an array costs one.
"""

from __future__ import annotations


def worst_weighted(vec: list[float], row: list[float], dq: float, weights: list[float]) -> float:
    """min over j of (vec[j] + dq * row[j]) * weights[j]."""
    best = (vec[0] + dq * row[0]) * weights[0]
    for j in range(1, len(vec)):
        x = (vec[j] + dq * row[j]) * weights[j]
        if x < best:
            best = x
    return best


def add_scaled(vec: list[float], row: list[float], dq: float) -> None:
    """vec += dq * row, in place."""
    for j in range(len(vec)):
        vec[j] += dq * row[j]
