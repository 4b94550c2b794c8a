"""Snapshot + the journal after it = live: the event-stream hash of the rest is byte-identical."""

from __future__ import annotations

import random

import pytest

from matching import snapshot
from matching.event_hash import EventHasher
from matching.types import OrderType, TimeInForce, TriggerBy
from tests.matching.harness import CATALOG, SECOND, Harness
from tests.matching.test_sequencer import mixed_stream


def with_everything(seed: int) -> Harness:
    """A stream with resting orders, stops of both kinds, GTD orders, reduce-only and a breaker trip."""
    h = Harness([CATALOG.perpetual("BTC"), CATALOG.perpetual("ETH")])
    rng = random.Random(seed)
    mixed_stream(h, rng, 1_500)
    h.order("A", 1, 3, 150_000, tif=TimeInForce.GTD, expire_ns=h.now + 3_600 * SECOND)
    h.order("B", -1, 2, order_type=OrderType.STOP_MARKET, tif=TimeInForce.IOC, stop_price_ticks=1,
            trigger_by=TriggerBy.LAST)  # fmt: skip
    mixed_stream(h, rng, 1_500)
    return h


@pytest.mark.parametrize("seed", [11, 12])
def test_restore_then_replay_equals_live(seed: int) -> None:
    h = with_everything(seed)
    cut = len(h.records) // 2
    live = type(h)([])  # replay the first half into a fresh sequencer, then snapshot it there
    live.seq = type(h.seq)(CATALOG.fee_account)
    for record in h.records[:cut]:
        live.seq.apply(record)
    blob = snapshot.take(live.seq)
    assert snapshot.snapshot_seq(blob) == h.records[cut - 1].seq
    restored = snapshot.restore(blob)
    assert snapshot.take(restored) == blob  # nothing lost or invented in a round trip

    expected, actual = EventHasher(), EventHasher()
    for (seq, events), record in zip(h.batches[cut:], h.records[cut:], strict=True):
        expected.update(seq, events)
        actual.update(record.seq, restored.apply(record))
    assert actual.count == expected.count > 1_000
    assert actual.hexdigest() == expected.hexdigest()
    for symbol in ("BTC-PERP", "ETH-PERP"):
        market = restored.market(symbol)
        assert market is not None
        market.book.check_invariants()


def test_restored_sequencer_stamps_after_the_snapshot() -> None:
    h = with_everything(3)
    blob = snapshot.take(h.seq)
    restored = snapshot.restore(blob)
    record = restored.stamp(h.records[0].command, 1)
    assert record.seq == h.records[-1].seq + 1 and record.ts_ns == h.records[-1].ts_ns
