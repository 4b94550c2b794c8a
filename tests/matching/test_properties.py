"""Property tests: the real book against the reference book on random command streams.

After every command: the same fills, the same resting orders in the same FIFO order, no crossed book,
positions summing to zero, cash conserved (less nothing: the fee account is counted), and a replay of
the records giving the same event-stream hash.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matching.commands import CancelOrder, ReplaceOrder
from matching.events import OrderAccepted, Trade
from tests.matching.harness import PERP, Harness, conservation, of
from tests.matching.reference_book import ReferenceBook

ACCOUNTS = ("A", "B", "C")
MID = 200_000

new_op = st.tuples(
    st.just("new"),
    st.sampled_from(ACCOUNTS),
    st.sampled_from((1, -1)),
    st.integers(-8, 8),  # price offset from the mid, so orders cross often
    st.integers(1, 30),  # lots
    st.sampled_from((1, 1, 1, 2, 3)),  # GTC mostly, IOC, FOK
    st.booleans(),  # post-only (GTC only)
    st.sampled_from((1, 2, 3, 4)),  # STP mode
)
cancel_op = st.tuples(st.just("cancel"), st.integers(0, 10_000))
replace_op = st.tuples(st.just("replace"), st.integers(0, 10_000), st.integers(-8, 8), st.integers(1, 40))
ops = st.lists(st.one_of(new_op, new_op, new_op, cancel_op, replace_op), min_size=20, max_size=150)


def real_state(h: Harness) -> list[tuple[int, int, int, int, int]]:
    market = h.seq.market(PERP)
    assert market is not None
    rows = []
    for side in (market.book.bids, market.book.asks):
        for price in side.levels:
            for order in side.orders_at(price):
                rows.append(
                    (order.side, order.price * -order.side, order.priority, order.order_id, order.leaves)
                )
    return sorted(rows)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops)
def test_book_matches_reference(commands: list[tuple]) -> None:
    check_stream(commands)


@pytest.mark.parametrize("seed", range(6))
def test_long_random_streams_match_reference(seed: int) -> None:
    rng = random.Random(seed)
    commands: list[tuple] = []
    for _ in range(1_500):
        roll = rng.random()
        if roll < 0.6:
            tif = rng.choice((1, 1, 1, 2, 3))
            commands.append(
                (
                    "new",
                    rng.choice(ACCOUNTS),
                    rng.choice((1, -1)),
                    rng.randint(-8, 8),
                    rng.randint(1, 30),
                    tif,
                    rng.random() < 0.2,
                    rng.choice((1, 2, 3, 4)),
                )
            )
        elif roll < 0.8:
            commands.append(("cancel", rng.randrange(10_000)))
        else:
            commands.append(("replace", rng.randrange(10_000), rng.randint(-8, 8), rng.randint(1, 40)))
    trades = check_stream(commands)
    assert trades > 200  # the stream really trades


def check_stream(commands: list[tuple]) -> int:
    """Run ``commands`` through the real sequencer and the reference; returns the number of fills."""
    h = Harness()
    ref = ReferenceBook()
    ids: list[int] = []
    fills: list[tuple[int, int, int, int]] = []
    for op in commands:
        if op[0] == "new":
            _, account, side, offset, qty, tif, post_only, stp = op
            post_only = post_only and tif == 1
            seq_no = h.seq.next_seq
            events = h.order(account, side, qty, MID + offset, tif=tif, post_only=post_only, stp_mode=stp)
            ref_id = ref.new(account, side, MID + offset, qty, tif, post_only, stp, seq_no)
            accepted = of(events, OrderAccepted)
            assert (accepted[0].order_id if accepted else 0) == ref_id, events
            if ref_id:
                ids.append(ref_id)
        elif op[0] == "cancel" and ids:
            order_id = ids[op[1] % len(ids)]
            live = h.seq.matcher.orders.get(order_id)
            account = live.account.id if live else "A"
            h.do(CancelOrder(account=account, order_id=order_id))
            ref.cancel(order_id)
        elif op[0] == "replace" and ids:
            order_id = ids[op[1] % len(ids)]
            live = h.seq.matcher.orders.get(order_id)
            if live is None:
                continue
            seq_no = h.seq.next_seq
            h.do(
                ReplaceOrder(
                    account=live.account.id, order_id=order_id, qty_lots=op[3], price_ticks=MID + op[2]
                )
            )
            ref.replace(order_id, op[3], MID + op[2], seq_no)
        else:
            continue
        fills.extend(
            (t.maker_order_id, t.taker_order_id, t.price_ticks, t.qty_lots)
            for t in of(h.log, Trade)[len(fills) :]
        )
        assert fills == ref.fills
        assert real_state(h) == ref.state()
        h.book()  # check_invariants: never crossed, FIFO, level totals
        conservation(h.seq)

    assert h.live_hash() == h.replay_hash()  # replay equals live, byte for byte
    return len(fills)
