"""SVI smiles, total-variance interpolation, sticky moneyness, flags; mark sources."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from risk import black76
from risk.marks import FileFeed, MarkWatch, SimulatedFeed, flat_smiles, mark_update
from risk.surface import NS_PER_YEAR, Smile, SurfaceError, VolSurface
from tests.risk.harness import NOW, btc_specs

DAY = 86_400 * 1_000_000_000


def surface() -> VolSurface:
    return VolSurface(
        100_000.0,
        NOW,
        [
            Smile(NOW + 7 * DAY, 100_100.0, 0.004, 0.03, -0.2, 0.0, 0.3),
            Smile(NOW + 35 * DAY, 100_500.0, 0.02, 0.08, -0.2, 0.0, 0.3),
        ],
    )


def test_inadmissible_smiles_are_refused() -> None:
    with pytest.raises(SurfaceError, match="Lee"):
        Smile(NOW + DAY, 1.0, 0.1, 1.8, 0.5, 0.0, 0.1)
    with pytest.raises(SurfaceError, match="negative minimum"):
        Smile(NOW + DAY, 1.0, -0.5, 0.1, 0.0, 0.0, 0.1)
    with pytest.raises(SurfaceError, match="rho"):
        Smile(NOW + DAY, 1.0, 0.1, 0.1, 1.0, 0.0, 0.1)


def test_total_variance_is_interpolated_linearly_in_time_at_fixed_moneyness() -> None:
    s = surface()
    k = np.linspace(-0.5, 0.5, 11)
    mid = NOW + 21 * DAY
    w, flagged = s.total_variance(mid, k)
    w7, w35 = s.smiles[0].total_variance(k), s.smiles[1].total_variance(k)
    np.testing.assert_allclose(w, 0.5 * w7 + 0.5 * w35, rtol=1e-12)
    assert not flagged.any()
    assert s.calendar_violations() == []


def test_extrapolation_in_time_and_strike_is_flagged() -> None:
    s = surface()
    _, beyond = s.total_variance(NOW + 90 * DAY, np.array([0.0]))
    _, wing = s.total_variance(NOW + 7 * DAY, np.array([0.0, 2.0]))
    assert beyond.all()
    assert list(wing) == [False, True]
    look = s.vols(np.array([100_000.0, 800_000.0]), np.array([NOW + 7 * DAY] * 2))
    assert list(look.extrapolated) == [False, True]


def test_sticky_moneyness_moves_the_smile_with_the_forward() -> None:
    s = surface()
    expiry = NOW + 7 * DAY
    before = s.vols(np.array([100_100.0]), np.array([expiry])).vol[0]
    after = s.vols(np.array([110_110.0]), np.array([expiry]), spot_move=0.10).vol[0]
    assert after == pytest.approx(before, rel=1e-12)  # same moneyness, same vol


def test_marks_price_every_option_on_the_surface() -> None:
    specs = btc_specs(2)
    expiries = sorted({s.expiry_ns for s in specs if s.expiry_ns})
    smiles = flat_smiles(95_000.0, [e for e in expiries if e], 0.6, NOW)
    update = mark_update("BTC", 95_000.0, smiles, specs, NOW)
    marks = dict(update.marks)
    assert len(marks) == len(specs) and marks["BTC-PERP"] == 190_000  # tick 0.5
    spec = next(s for s in specs if s.strike and s.expiry_ns == expiries[0] and s.option_type == "C")
    t = ((spec.expiry_ns or 0) - NOW) / NS_PER_YEAR
    vol = VolSurface(95_000.0, NOW, smiles).vols([float(spec.strike or 0)], [spec.expiry_ns]).vol[0]
    price = black76.price(95_000.0, float(spec.strike or 0), t, 0.0, vol, True)
    assert marks[spec.symbol] == max(1, round(float(price)))
    assert len(update.smiles) == 2 and update.smiles[0].forward_micro == 95_000_000_000


def test_simulated_feed_is_seeded_and_moves() -> None:
    specs = btc_specs(2)
    a = SimulatedFeed("BTC", specs, 95_000.0, seed=3)
    b = SimulatedFeed("BTC", specs, 95_000.0, seed=3)
    first = [a.step(NOW + i * 10**9, 1.0) for i in range(3)]
    assert first == [b.step(NOW + i * 10**9, 1.0) for i in range(3)]
    assert len({u.index_price_micro for u in first}) == 3


def test_file_feed_reads_json_lines_and_names_a_bad_line(tmp_path: Path) -> None:
    specs = btc_specs(1)
    expiry = next(s.expiry_ns for s in specs if s.expiry_ns)
    good = {
        "time_ns": NOW,
        "underlying": "BTC",
        "index": 95_000.0,
        "smiles": [{"expiry_ns": expiry, "forward": 95_050.0, "a": 0.004, "b": 0.03, "rho": -0.2, "m": 0.0,
                    "sigma": 0.3}],
    }  # fmt: skip
    path = tmp_path / "marks.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "index": "high"}) + "\n")
    feed = iter(FileFeed(path, specs))
    time_ns, update = next(feed)
    assert time_ns == NOW and update.index_price_micro == 95_000_000_000
    with pytest.raises(Exception, match=r"marks\.jsonl:2"):
        next(feed)


def test_mark_watch_reports_stale_underlyings() -> None:
    watch = MarkWatch(stale_after_ns=15 * 10**9)
    watch.seen("BTC", NOW)
    watch.seen("ETH", NOW - 60 * 10**9)
    assert watch.stale(NOW + 10**9, ["BTC", "ETH", "SOL"]) == ["ETH", "SOL"]


def test_file_feed_refuses_an_inadmissible_smile_with_its_line(tmp_path: Path) -> None:
    specs = btc_specs(1)
    expiry = next(s.expiry_ns for s in specs if s.expiry_ns)
    steep = {
        "expiry_ns": expiry,
        "forward": 95_050.0,
        "a": 0.004,
        "b": 1.9,
        "rho": 0.5,
        "m": 0.0,
        "sigma": 0.3,
    }
    path = tmp_path / "marks.jsonl"
    path.write_text(
        json.dumps({"time_ns": NOW, "underlying": "BTC", "index": 95_000.0, "smiles": [steep]}) + "\n"
    )
    with pytest.raises(Exception, match=r"marks\.jsonl:1: .*Lee"):
        next(iter(FileFeed(path, specs)))
