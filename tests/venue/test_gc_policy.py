"""The venue's GC policy: what a collection leaves alive is frozen, garbage still goes, stop undoes it."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from venue import gc_policy


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def cycle() -> tuple[Node, weakref.ref[Node]]:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return a, weakref.ref(a)


@pytest.fixture
def policy() -> Iterator[None]:
    threshold = gc.get_threshold()
    gc_policy.install(10_000, freeze_survivors=True)
    try:
        yield
    finally:
        gc_policy.uninstall()
        gc.set_threshold(*threshold)


@pytest.mark.usefixtures("policy")
def test_a_collection_freezes_its_survivors_and_the_next_one_scans_only_newer_objects() -> None:
    resting = [Node() for _ in range(5_000)]  # long-lived state, as resting orders are
    gc.collect(0)
    frozen = gc.get_freeze_count()
    assert frozen >= len(resting)
    assert gc.get_count()[1] == 0 and not gc.get_objects(generation=1)  # nothing left to rescan
    newer = [Node() for _ in range(100)]
    gc.collect(0)
    assert gc.get_freeze_count() >= frozen + len(newer)
    del resting[:]  # a frozen object dropped is freed at once by reference counting
    assert gc.get_freeze_count() < frozen


@pytest.mark.usefixtures("policy")
def test_garbage_cycles_are_still_collected_but_one_frozen_alive_waits_for_uninstall() -> None:
    garbage, gone = cycle()
    del garbage
    assert gc.collect(0) >= 2 and gone() is None  # dropped before a collection: collected as ever

    kept, kept_ref = cycle()
    gc.collect(0)  # alive here: frozen
    del kept
    gc.collect()
    assert kept_ref() is not None  # the price of the policy, documented in venue.gc_policy
    gc_policy.uninstall()
    gc.collect()
    assert kept_ref() is None


def test_install_without_freezing_and_uninstall_leave_the_collector_as_cpython_runs_it() -> None:
    threshold = gc.get_threshold()
    try:
        gc_policy.install(10_000, freeze_survivors=True)
        gc_policy.install(20_000, freeze_survivors=False)
        assert gc.get_threshold()[0] == 20_000
        keep = [Node() for _ in range(100)]
        before = gc.get_freeze_count()
        gc.collect(0)
        assert gc.get_freeze_count() == before and keep
    finally:
        gc_policy.uninstall()
        gc.set_threshold(*threshold)
    assert gc.get_freeze_count() == 0
