"""The sequencer: stamping, ordering, determinism of the whole event stream, and bad records."""

from __future__ import annotations

import random

import msgspec
import pytest

from matching.commands import (
    I64,
    CancelOrder,
    ClockTick,
    Command,
    CommandRecord,
    MarkUpdate,
    NewOrder,
    ReplaceOrder,
)
from matching.events import MarksUpdated, RequestRejected
from matching.sequencer import SequenceError, Sequencer
from matching.types import OrderType, TimeInForce, TriggerBy
from tests.matching.harness import CATALOG, SECOND, Harness, first

SYMBOLS = ("BTC-PERP", "ETH-PERP")


def mixed_stream(h: Harness, rng: random.Random, n: int) -> None:
    """Every kind of order command, on two instruments, with marks moving and time passing."""
    mids = {"BTC-PERP": 200_000, "ETH-PERP": 70_000}
    for i in range(n):
        symbol = rng.choice(SYMBOLS)
        mid = mids[symbol]
        roll = rng.random()
        account = rng.choice("ABC")
        side = rng.choice((1, -1))
        if roll < 0.05:
            mids[symbol] = mid + rng.randint(-200, 200)
            h.do(
                MarkUpdate(
                    underlying=symbol.split("-")[0],
                    index_price_micro=mids[symbol] * 500_000,
                    marks=((symbol, mids[symbol]),),
                )
            )
        elif roll < 0.55:
            h.order(
                account,
                side,
                rng.randint(1, 20),
                mid + rng.randint(-30, 30),
                symbol=symbol,
                tif=rng.choice((1, 1, 2, 3, 4)),
                expire_ns=h.now + rng.randint(1, 50) * SECOND,
                reduce_only=rng.random() < 0.1,
                stp_mode=rng.randint(1, 4),
            )
        elif roll < 0.65:
            h.order(
                account,
                side,
                rng.randint(1, 20),
                symbol=symbol,
                order_type=OrderType.MARKET,
                tif=TimeInForce.IOC,
            )
        elif roll < 0.72:
            stop = mid + side * rng.randint(5, 100)
            h.order(
                account,
                side,
                rng.randint(1, 5),
                mid + side * 200,
                symbol=symbol,
                order_type=rng.choice((OrderType.STOP_MARKET, OrderType.STOP_LIMIT)),
                tif=TimeInForce.IOC if rng.random() < 0.5 else TimeInForce.GTC,
                stop_price_ticks=stop,
                trigger_by=rng.choice((TriggerBy.MARK, TriggerBy.LAST)),
            )
        elif roll < 0.85:
            live = sorted(h.seq.matcher.orders)
            if live:
                order = h.seq.matcher.orders[rng.choice(live)]
                h.do(CancelOrder(account=order.account.id, order_id=order.order_id))
        elif roll < 0.95:
            live = sorted(h.seq.matcher.orders)
            if live:
                order = h.seq.matcher.orders[rng.choice(live)]
                h.do(
                    ReplaceOrder(
                        account=order.account.id,
                        order_id=order.order_id,
                        qty_lots=order.cum_qty + rng.randint(1, 20),
                        price_ticks=mid + rng.randint(-30, 30),
                    )
                )
        else:
            h.do(ClockTick(), advance_ns=rng.randint(1, 20) * SECOND)
        if i % 100 == 0:
            for s in SYMBOLS:
                h.book(s)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_same_records_give_the_same_event_stream_hash(seed: int) -> None:
    h = Harness([CATALOG.perpetual("BTC"), CATALOG.perpetual("ETH")])
    mixed_stream(h, random.Random(seed), 3_000)
    live = h.live_hash()
    assert live == h.replay_hash() == h.replay_hash()
    # and through the journal's encoding: records survive a msgpack round trip unchanged
    encoded = msgspec.msgpack.encode(h.records)
    decoded = msgspec.msgpack.decode(encoded, type=list[CommandRecord])
    assert decoded == h.records
    h.records = decoded
    assert h.replay_hash() == live


def test_records_must_come_in_sequence() -> None:
    seq = Sequencer(CATALOG.fee_account)
    first_record = seq.stamp(ClockTick(), 10)
    second_record = seq.stamp(ClockTick(), 20)
    with pytest.raises(SequenceError):
        seq.apply(second_record)
    seq.apply(first_record)
    seq.apply(second_record)
    with pytest.raises(SequenceError):
        seq.apply(second_record)  # a replayed record is refused


def test_stamped_time_never_goes_back() -> None:
    seq = Sequencer(CATALOG.fee_account)
    a = seq.stamp(ClockTick(), 100)
    b = seq.stamp(ClockTick(), 50)  # a clock step backwards is clamped
    assert (a.seq, a.ts_ns, b.seq, b.ts_ns) == (1, 100, 2, 100)
    seq.apply(a)
    seq.apply(b)
    with pytest.raises(SequenceError):
        seq.apply(CommandRecord(3, 99, ClockTick()))


def test_a_bad_mark_entry_does_not_drop_the_others() -> None:
    h = Harness([CATALOG.perpetual("BTC"), CATALOG.perpetual("ETH")])
    events = h.do(
        MarkUpdate(
            underlying="BTC",
            index_price_micro=10**11,
            marks=(("NOPE", 5), ("ETH-PERP", 70_000), ("BTC-PERP", -1), ("BTC-PERP", 200_000)),
        )
    )
    assert first(events, MarksUpdated).instruments == 1
    assert h.seq.instruments["BTC-PERP"].mark_ticks == 200_000
    assert h.seq.instruments["ETH-PERP"].mark_ticks == 0  # belongs to another underlying
    assert first(h.do(MarkUpdate(underlying="XRP", index_price_micro=1)), RequestRejected)


def test_bad_input_never_raises() -> None:
    """Hostile field values in every command type end as rejects, and the sequencer keeps going."""
    h = Harness()
    rng = random.Random(5)
    weird_ints = [0, -1, 1, 2**62, -(2**62), 2**63 - 1, -(2**63), 7]
    weird_strs = ["", "BTC-PERP", "A", "x" * 1000, "\x00", "ünïcode"]
    kinds: list[type[Command]] = [NewOrder, CancelOrder, ReplaceOrder, MarkUpdate]
    for _ in range(2_000):
        kind = rng.choice(kinds)
        fields = {}
        for field in msgspec.structs.fields(kind):
            name, ftype = field.name, field.type
            if ftype is I64:
                fields[name] = rng.choice(weird_ints)
            elif ftype is str:
                fields[name] = rng.choice(weird_strs)
            elif ftype is bool:
                fields[name] = rng.random() < 0.5
        if kind is MarkUpdate:
            fields["marks"] = ((rng.choice(weird_strs), rng.choice(weird_ints)),)
        h.do(kind(**fields))
    h.book()
    assert h.live_hash() == h.replay_hash()


def test_integers_beyond_64_bits_are_refused_when_decoded() -> None:
    wire = (
        b'{"type": "NewOrder", "account": "A", "client_order_id": "x", "symbol": "BTC-PERP", "side": 1,'
        b' "qty_lots": 1000000000000000000000000000000}'
    )
    with pytest.raises(msgspec.ValidationError, match="qty_lots"):
        msgspec.json.decode(wire, type=Command)
