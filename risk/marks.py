"""Mark sources: turn an index and a set of smiles into the MarkUpdate command the sequencer applies.

Marks enter the venue only as MarkUpdate commands, so replay is exact whatever the source. Sources:
- ``SimulatedFeed``: a random-walk index and a smile that moves (ATM level, skew), seeded, for demos;
- ``FileFeed``: JSON lines, one update per line (format in README, "Mark files");
- ``MarkWatch`` reports underlyings whose last mark is older than ``stale_after_s``.
Every option's mark is its Black-76 price on the surface, rounded to the nearest tick (at least one).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import numpy as np

from config.catalog import InstrumentKind, InstrumentSpec
from matching.commands import MarkUpdate, SmileMark
from risk import black76
from risk.surface import NS_PER_YEAR, Smile, VolSurface

MICRO = 1_000_000


def to_smile_marks(smiles: Sequence[Smile]) -> tuple[SmileMark, ...]:
    return tuple(
        SmileMark(
            int(s.expiry_ns),
            round(float(s.forward) * MICRO),
            *(float(v) for v in (s.a, s.b, s.rho, s.m, s.sigma, s.k_min, s.k_max)),
        )
        for s in smiles
    )


def mark_update(
    underlying: str,
    index: float,
    smiles: Sequence[Smile],
    specs: Sequence[InstrumentSpec],
    time_ns: int,
    rate: float = 0.0,
) -> MarkUpdate:
    """The MarkUpdate for ``underlying``: index in USD, marks of every live listed spec in ticks."""
    live = [
        s
        for s in specs
        if s.underlying == underlying and (s.kind is InstrumentKind.PERPETUAL or (s.expiry_ns or 0) > time_ns)
    ]
    marks: list[tuple[str, int]] = []
    options = [s for s in live if s.kind is InstrumentKind.OPTION]
    surface = VolSurface(index, time_ns, [s for s in smiles if s.expiry_ns > time_ns]) if smiles else None
    if options and surface is not None:
        strikes = np.array([float(s.strike or 0) for s in options])
        expiries = np.array([s.expiry_ns or 0 for s in options], dtype=np.int64)
        fwd = np.array([surface.forward(int(e)) for e in expiries])
        vols = surface.vols(strikes, expiries).vol
        prices = black76.price(
            fwd,
            strikes,
            (expiries - time_ns) / NS_PER_YEAR,
            rate,
            vols,
            [s.option_type == "C" for s in options],
        )
        for spec, px in zip(options, prices, strict=True):
            marks.append((spec.symbol, max(1, round(float(px) / float(spec.tick_size)))))
    for spec in live:
        if spec.kind is InstrumentKind.PERPETUAL:
            marks.append((spec.symbol, max(1, round(index / float(spec.tick_size)))))
    return MarkUpdate(
        underlying=underlying,
        index_price_micro=round(float(index) * MICRO),
        marks=tuple(marks),
        smiles=to_smile_marks(smiles),
    )


def flat_smiles(
    index: float, expiries_ns: Sequence[int], atm_vol: float, time_ns: int, skew: float = -0.1,
    basis_per_year: float = 0.0,
) -> list[Smile]:  # fmt: skip
    """One SVI smile per expiry with ATM total variance atm_vol^2 t and skew ``rho`` (m = 0, sigma = 0.4).

    Wings grow with sqrt(t) (b = atm_vol sqrt(t) / 2), well inside Lee's bound; the forward carries an
    annualised basis. Raises ``SurfaceError`` only for parameters no smile could have (|skew| >= 1).
    """
    out = []
    sigma = 0.4
    for expiry in sorted(set(expiries_ns)):
        t = (expiry - time_ns) / NS_PER_YEAR
        if t <= 0:
            continue
        b = 0.5 * atm_vol * math.sqrt(t)
        a = atm_vol * atm_vol * t - b * sigma  # w(0) = a + b sigma
        out.append(Smile(expiry, index * math.exp(basis_per_year * t), a, b, skew, 0.0, sigma))
    return out


@dataclass(slots=True)
class SimulatedFeed:
    """Random walk of the index (lognormal, ``index_vol`` a year) and of the ATM vol and skew. Seeded."""

    underlying: str
    specs: Sequence[InstrumentSpec]
    index: float
    atm_vol: float = 0.55
    skew: float = -0.15
    index_vol: float = 0.6
    seed: int = 7
    rng: np.random.Generator = field(init=False)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)

    def step(self, time_ns: int, dt_s: float) -> MarkUpdate:
        """Advance by ``dt_s`` seconds and return the marks at ``time_ns``."""
        dt = dt_s / (365.0 * 86_400)
        shock = self.rng.standard_normal(3)
        z = [float(v) for v in shock]
        self.index *= math.exp(self.index_vol * math.sqrt(dt) * z[0] - 0.5 * self.index_vol**2 * dt)
        self.atm_vol = min(2.0, max(0.15, self.atm_vol + 0.3 * math.sqrt(dt) * z[1]))
        self.skew = min(0.3, max(-0.6, self.skew + 0.5 * math.sqrt(dt) * z[2]))
        expiries = [s.expiry_ns for s in self.specs if s.expiry_ns and s.underlying == self.underlying]
        smiles = flat_smiles(self.index, [e for e in expiries if e], self.atm_vol, time_ns, self.skew)
        return mark_update(self.underlying, self.index, smiles, self.specs, time_ns)


class MarkLine(msgspec.Struct):
    """One line of a mark file: ``{"time_ns", "underlying", "index", "smiles": [...]}``."""

    time_ns: int
    underlying: str
    index: float
    smiles: list[Smile] = []  # decoded straight into the checked dataclass: a bad smile fails its line


class FileFeed:
    """Replays a JSON-lines mark file. A malformed line raises ``msgspec.ValidationError`` with its number."""

    def __init__(self, path: Path, specs: Sequence[InstrumentSpec]) -> None:
        self.path = path
        self.specs = specs

    def __iter__(self) -> Iterator[tuple[int, MarkUpdate]]:
        decoder = msgspec.json.Decoder(MarkLine)
        with open(self.path, "rb") as fh:
            for number, raw in enumerate(fh, 1):
                if not raw.strip():
                    continue
                try:
                    line = decoder.decode(raw)
                except msgspec.ValidationError as exc:
                    raise msgspec.ValidationError(f"{self.path}:{number}: {exc}") from exc
                yield (
                    line.time_ns,
                    mark_update(line.underlying, line.index, line.smiles, self.specs, line.time_ns),
                )


@dataclass(slots=True)
class MarkWatch:
    """When each underlying was last marked; which are stale."""

    stale_after_ns: int
    last: dict[str, int] = field(default_factory=dict)

    def seen(self, underlying: str, time_ns: int) -> None:
        self.last[underlying] = time_ns

    def stale(self, now_ns: int, underlyings: Sequence[str]) -> list[str]:
        return sorted(u for u in underlyings if now_ns - self.last.get(u, 0) > self.stale_after_ns)
