"""The memory figures the venue exports and the load drill judges: what is in use, not what is
resident; and the drill's second-half slope, a fit that one burst does not swing."""

from __future__ import annotations

from venue import memory
from venue.drills.load import _second_half_slope


def test_python_blocks_and_malloc_in_use_follow_allocations() -> None:
    before_blocks, before_malloc = memory.python_blocks(), memory.malloc_in_use()
    assert before_malloc is not None  # glibc here
    kept = [object() for _ in range(100_000)]
    big = bytearray(32 * 2**20)  # beyond pymalloc's 512 bytes: malloc's (an mmapped chunk)
    assert memory.python_blocks() - before_blocks >= 100_000
    assert memory.malloc_in_use() - before_malloc >= 32 * 2**20  # type: ignore[operator]
    del kept, big
    assert memory.python_blocks() - before_blocks < 1_000


def test_the_second_half_slope_is_a_fit_per_minute() -> None:
    steady = [(float(t), 100.0 + 0.5 * t) for t in range(0, 301, 5)]  # 0.5 a second
    assert abs(_second_half_slope(steady, 300) - 30.0) < 1e-9
    # the first half does not count, and one late spike moves a fit far less than it moves the ends
    flat = [(float(t), 500.0 if t < 150 else 100.0) for t in range(0, 301, 5)]
    flat[-1] = (300.0, 120.0)
    ends = (120.0 - 100.0) / (150 / 60)
    assert 0 < _second_half_slope(flat, 300) < ends / 3
    assert _second_half_slope(steady[:3], 300) == 0.0  # too few samples to say
