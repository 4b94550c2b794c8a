"""Volatility surface of one underlying: an SVI smile per expiry, interpolated in total variance.

A smile is raw SVI in log-moneyness k = ln(K / F_T) with F_T the expiry's forward:
    w(k) = a + b (rho (k - m) + sqrt((k - m)^2 + sigma^2)),   implied vol = sqrt(w(k) / T).
Each smile is checked at construction for the conditions that keep it arbitrage-aware: b >= 0,
|rho| < 1, sigma > 0, non-negative minimum variance a + b sigma sqrt(1 - rho^2) >= 0, and Roger Lee's
wing bound b (1 + |rho|) <= 2. Across expiries, total variance is interpolated linearly in time at
fixed k (so a calendar-arbitrage-free set of smiles stays free of it); before the first or after the
last smile, and outside a smile's fitted k range, the value is extrapolated and flagged.

Sticky moneyness: a vol is looked up by k against the (shocked) forward, so under a spot shock the
smile moves with the forward.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from numpy.typing import ArrayLike, NDArray

from risk.black76 import FloatArray

NS_PER_YEAR = 365.0 * 86_400 * 1e9


class SurfaceError(ValueError):
    """A smile whose parameters break the no-arbitrage conditions, or a malformed surface."""


@dataclass(frozen=True, slots=True)
class Smile:
    """Raw SVI parameters of one expiry, its forward (USD) and the k range it was fitted over."""

    expiry_ns: int
    forward: float
    a: float
    b: float
    rho: float
    m: float
    sigma: float
    k_min: float = -1.5
    k_max: float = 1.5

    def __post_init__(self) -> None:
        problem = self.problem()
        if problem:
            raise SurfaceError(f"smile expiring {self.expiry_ns}: {problem}")

    def problem(self) -> str | None:
        """Why these parameters are not admissible, or None."""
        values = (self.forward, self.a, self.b, self.rho, self.m, self.sigma, self.k_min, self.k_max)
        if not all(np.isfinite(values)):
            return "non-finite parameter"
        if self.forward <= 0:
            return "forward must be > 0"
        if self.b < 0 or self.sigma <= 0 or abs(self.rho) >= 1:
            return "need b >= 0, sigma > 0, |rho| < 1"
        if self.a + self.b * self.sigma * np.sqrt(1 - self.rho**2) < 0:
            return "negative minimum total variance"
        if self.b * (1 + abs(self.rho)) > 2:
            return "wings steeper than Lee's bound b (1 + |rho|) <= 2"
        if self.k_min >= self.k_max:
            return "empty fitted range"
        return None

    def total_variance(self, k: ArrayLike) -> FloatArray:
        x = np.asarray(k, dtype=np.float64) - self.m
        return self.a + self.b * (self.rho * x + np.sqrt(x * x + self.sigma * self.sigma))


@dataclass(frozen=True, slots=True)
class VolLookup:
    """Implied vols and, per option, whether anything was extrapolated to get them."""

    vol: FloatArray
    extrapolated: NDArray[np.bool_]


class VolSurface:
    """The smiles of one underlying at one time. Immutable once built."""

    __slots__ = ("_expiries", "index", "smiles", "time_ns")

    def __init__(self, index: float, time_ns: int, smiles: Sequence[Smile]) -> None:
        ordered = sorted(smiles, key=lambda s: s.expiry_ns)
        if any(a.expiry_ns == b.expiry_ns for a, b in pairwise(ordered)):
            raise SurfaceError("two smiles for one expiry")
        if index <= 0:
            raise SurfaceError("index must be > 0")
        self.index = index
        self.time_ns = time_ns
        self.smiles = [s for s in ordered if s.expiry_ns > time_ns]
        self._expiries = [s.expiry_ns for s in self.smiles]

    def years(self, expiry_ns: ArrayLike) -> FloatArray:
        return (np.asarray(expiry_ns, dtype=np.float64) - self.time_ns) / NS_PER_YEAR

    def forward(self, expiry_ns: int) -> float:
        """Forward of an expiry: the smile's, else the index plus a basis interpolated in time."""
        i = bisect_left(self._expiries, expiry_ns)
        smiles = self.smiles
        if i < len(smiles) and smiles[i].expiry_ns == expiry_ns:
            return smiles[i].forward
        if not smiles:
            return self.index
        if i == 0 or i == len(smiles):
            near = smiles[0] if i == 0 else smiles[-1]
            # Keep the nearest smile's annualised basis.
            t_near = float(self.years(near.expiry_ns))
            t = float(self.years(expiry_ns))
            return float(self.index * (near.forward / self.index) ** (t / t_near))
        lo, hi = smiles[i - 1], smiles[i]
        share = (expiry_ns - lo.expiry_ns) / (hi.expiry_ns - lo.expiry_ns)
        return lo.forward + share * (hi.forward - lo.forward)

    def blend(self, expiry_ns: int) -> tuple[Smile, Smile, float, float, bool]:
        """How an expiry's total variance is made: ``c_lo * w_lo(k) + c_hi * w_hi(k)``.

        Returns (lo smile, hi smile, c_lo, c_hi, extrapolated in time). On a smile's own expiry both
        smiles are that one; between two, linear in time; outside, the nearest one at flat implied vol.
        """
        smiles = self.smiles
        if not smiles:
            raise SurfaceError("no smile to interpolate")
        t = float(self.years(expiry_ns))
        i = bisect_left(self._expiries, expiry_ns)
        if i < len(smiles) and smiles[i].expiry_ns == expiry_ns:
            return smiles[i], smiles[i], 1.0, 0.0, False
        if i == 0 or i == len(smiles):
            s = smiles[0] if i == 0 else smiles[-1]
            return s, s, t / float(self.years(s.expiry_ns)), 0.0, True
        lo, hi = smiles[i - 1], smiles[i]
        t_lo, t_hi = float(self.years(lo.expiry_ns)), float(self.years(hi.expiry_ns))
        share = (t - t_lo) / (t_hi - t_lo)
        return lo, hi, 1.0 - share, share, False

    def total_variance(self, expiry_ns: int, k: ArrayLike) -> tuple[FloatArray, NDArray[np.bool_]]:
        """Total variance w at log-moneyness ``k`` for an expiry, and the extrapolation flags."""
        kk = np.asarray(k, dtype=np.float64)
        lo, hi, c_lo, c_hi, beyond = self.blend(expiry_ns)
        w = c_lo * lo.total_variance(kk)
        if c_hi:
            w = w + c_hi * hi.total_variance(kk)
        outside = (kk < max(lo.k_min, hi.k_min)) | (kk > min(lo.k_max, hi.k_max))
        return w, outside | beyond

    def vols(self, strikes: ArrayLike, expiries_ns: ArrayLike, spot_move: float = 0.0) -> VolLookup:
        """Implied vols for options, after a relative spot move (sticky moneyness: the forward moves)."""
        k_all = np.asarray(strikes, dtype=np.float64)
        exp_all = np.asarray(expiries_ns, dtype=np.int64)
        vol = np.empty(k_all.shape)
        flagged = np.zeros(k_all.shape, dtype=bool)
        for expiry in np.unique(exp_all):
            sel = exp_all == expiry
            fwd = self.forward(int(expiry)) * (1.0 + spot_move)
            w, out = self.total_variance(int(expiry), np.log(k_all[sel] / fwd))
            vol[sel] = np.sqrt(np.maximum(w, 0.0) / float(self.years(int(expiry))))
            flagged[sel] = out
        return VolLookup(vol, flagged)

    def calendar_violations(self, k_grid: ArrayLike | None = None) -> list[tuple[int, int]]:
        """Pairs of consecutive expiries whose total variance decreases somewhere on ``k_grid``."""
        grid = np.linspace(-1.0, 1.0, 41) if k_grid is None else np.asarray(k_grid, dtype=np.float64)
        bad = []
        for lo, hi in pairwise(self.smiles):
            if (hi.total_variance(grid) < lo.total_variance(grid) - 1e-12).any():
                bad.append((lo.expiry_ns, hi.expiry_ns))
        return bad
