"""One suite for both buses: the in-process default and Redis (the real server on 127.0.0.1:6379)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import msgspec
import pytest

from matching.sequencer import Sequencer
from tests.matching.harness import CATALOG
from venue.bus import Bus, BusError, InProcessBus, RedisBus
from venue.fanout import Fanout
from venue.runtime import Runtime

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(params=["in-process", "redis"])
def bus_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def make_bus(kind: str) -> Bus:
    return InProcessBus(backlog=100) if kind == "in-process" else RedisBus(REDIS_URL, stream_maxlen=10_000)


def fanned_runtime(bus: Bus, sequencer: Sequencer | None = None) -> tuple[Fanout, Runtime]:
    """A started fan-out on ``bus`` and a started journal-less runtime feeding it: (fanout, runtime)."""
    fanout = Fanout(bus)
    fanout.start()
    runtime = Runtime(sequencer or Sequencer(CATALOG.fee_account), None)
    runtime.listeners.append(fanout.listener)
    runtime.start()
    return fanout, runtime


async def take(iterator: AsyncIterator, n: int, timeout: float = 5.0) -> list:
    out = []

    async def pull() -> None:
        async for item in iterator:
            out.append(item)
            if len(out) == n:
                return

    await asyncio.wait_for(pull(), timeout)
    return out


def test_pubsub_delivers_in_order_to_every_subscriber(bus_kind: str) -> None:
    async def scenario() -> None:
        bus = make_bus(bus_kind)
        await bus.open()
        channel = f"trades.{uuid.uuid4().hex}"
        first, second = await bus.subscribe(channel), await bus.subscribe(channel)
        for i in range(50):
            await bus.publish(channel, f"m{i}".encode())
        expected = [f"m{i}".encode() for i in range(50)]
        assert await take(first.__aiter__(), 50) == expected
        assert await take(second.__aiter__(), 50) == expected
        await first.close()
        await bus.publish(channel, b"after")
        assert await take(second.__aiter__(), 1) == [b"after"]
        await second.close()
        await bus.close()

    asyncio.run(scenario())


def test_streams_keep_everything_for_a_reader_that_comes_back(bus_kind: str) -> None:
    async def scenario() -> None:
        bus = make_bus(bus_kind)
        await bus.open()
        stream = f"events.{uuid.uuid4().hex}"
        ids = [await bus.append(stream, f"e{i}".encode()) for i in range(30)]
        assert len(set(ids)) == 30
        got = await take(bus.read(stream).__aiter__(), 30)
        assert [payload for _, payload in got] == [f"e{i}".encode() for i in range(30)]
        # a reader that stopped after entry 10 resumes there and also gets what comes later
        resumed = bus.read(stream, after=got[9][0]).__aiter__()
        first_batch = await take(resumed, 20)
        assert first_batch[0][1] == b"e10"
        await bus.append(stream, b"late")
        assert (await take(resumed, 1))[0][1] == b"late"
        await bus.close()

    asyncio.run(scenario())


def test_a_batch_appended_at_once_reads_back_in_order_between_single_appends(bus_kind: str) -> None:
    async def scenario() -> None:
        bus = make_bus(bus_kind)
        await bus.open()
        stream = f"events.{uuid.uuid4().hex}"
        first = await bus.append(stream, b"single-0")
        batch = await bus.append_many(stream, [f"batch-{i}".encode() for i in range(100)])
        last = await bus.append(stream, b"single-1")
        ids = [first, *batch, last]
        assert len(set(ids)) == 102
        got = await take(bus.read(stream).__aiter__(), 102)
        assert [entry_id for entry_id, _ in got] == ids  # the ids returned, in stream order
        assert [p for _, p in got] == [b"single-0", *(f"batch-{i}".encode() for i in range(100)), b"single-1"]
        await bus.close()

    asyncio.run(scenario())


def test_a_slow_in_process_subscriber_loses_the_oldest_not_the_venue() -> None:
    async def scenario() -> None:
        bus = InProcessBus(backlog=10)
        sub = await bus.subscribe("book")
        for i in range(25):
            await bus.publish("book", str(i).encode())  # never blocks
        assert await take(sub.__aiter__(), 10) == [str(i).encode() for i in range(15, 25)]

    asyncio.run(scenario())


def test_a_batch_published_at_once_arrives_in_order_on_each_channel(bus_kind: str) -> None:
    async def scenario() -> None:
        bus = make_bus(bus_kind)
        await bus.open()
        a, b = f"account.{uuid.uuid4().hex}", f"orderbook.{uuid.uuid4().hex}"
        on_a, on_b = await bus.subscribe(a), await bus.subscribe(b)
        await bus.publish(a, b"first")
        await bus.publish_many([(a, b"a1"), (b, b"b1"), (a, b"a2"), (b, b"b2"), (b, b"b3")])
        await bus.publish_many([])  # nothing to send: no round trip, no error
        await bus.publish(a, b"last")
        assert await take(on_a.__aiter__(), 4) == [b"first", b"a1", b"a2", b"last"]
        assert await take(on_b.__aiter__(), 3) == [b"b1", b"b2", b"b3"]
        await on_a.close()
        await on_b.close()
        await bus.close()

    asyncio.run(scenario())


def test_a_batch_published_to_a_redis_that_went_away_is_a_bus_error() -> None:
    async def scenario() -> None:
        import redis.asyncio as aioredis

        bus = RedisBus(REDIS_URL)
        await bus.open()
        await bus.close()
        bus._redis = aioredis.from_url("redis://127.0.0.1:1/0")  # as if the server had gone away
        with pytest.raises(BusError, match="publish of 2 messages failed"):
            await bus.publish_many([("a", b"1"), ("b", b"2")])
        await bus.close()

    asyncio.run(scenario())


def test_redis_down_is_a_bus_error() -> None:
    async def scenario() -> None:
        with pytest.raises(BusError):
            await RedisBus("redis://127.0.0.1:1/0").open()

    asyncio.run(scenario())


def test_fanout_routes_journaled_events_to_channels_and_the_stream(bus_kind: str) -> None:
    from matching.commands import Deposit, ListInstrument, NewOrder
    from matching.sequencer import Sequencer
    from tests.matching.harness import CATALOG
    from venue.fanout import EVENTS_STREAM, Fanout
    from venue.runtime import Runtime

    async def scenario() -> None:
        bus = make_bus(bus_kind)
        await bus.open()
        fanout = Fanout(bus)
        fanout.start()
        runtime = Runtime(Sequencer(CATALOG.fee_account), None)
        runtime.listeners.append(fanout.listener)
        runtime.start()
        book = await bus.subscribe("orderbook.BTC-PERP")
        trades = await bus.subscribe("trades.BTC-PERP")
        bob = await bus.subscribe("account.bob")
        stream_start = "0"
        if isinstance(bus, RedisBus):  # the Redis stream is shared by runs: start after its current end
            last = await bus.redis.xrevrange(EVENTS_STREAM, count=1)
            stream_start = last[0][0].decode() if last else "0"
        await runtime.submit(ListInstrument(spec=CATALOG.perpetual("BTC")))
        for who in ("alice", "bob"):
            await runtime.submit(Deposit(account=who, amount_micro=10**12, reference=f"{uuid.uuid4()}"))
        await runtime.submit(
            NewOrder(
                account="alice",
                client_order_id="a",
                symbol="BTC-PERP",
                side=-1,
                qty_lots=5,
                price_ticks=200_000,
            )
        )
        await runtime.submit(
            NewOrder(
                account="bob", client_order_id="b", symbol="BTC-PERP", side=1, qty_lots=2, price_ticks=200_000
            )
        )
        await runtime.stop()
        await fanout.stop()
        deltas = [msgspec.json.decode(m) for m in await take(book.__aiter__(), 2)]
        assert [d["delta_seq"] for d in deltas] == [1, 2] and deltas[1]["qty_lots"] == 3
        trade = msgspec.json.decode((await take(trades.__aiter__(), 1))[0])
        assert (trade["type"], trade["qty_lots"], trade["taker_account"]) == ("Trade", 2, "bob")
        bob_events = [msgspec.json.decode(m)["type"] for m in await take(bob.__aiter__(), 4)]
        assert bob_events == ["BalanceChanged", "OrderAccepted", "Trade", "PositionChanged"]
        records = [
            msgspec.msgpack.decode(p)
            for _, p in await take(bus.read(EVENTS_STREAM, stream_start).__aiter__(), 5)
        ]
        assert [r["seq"] for r in records] == [1, 2, 3, 4, 5]
        assert fanout.dropped == 0
        await bus.close()

    asyncio.run(scenario())


def test_liquidation_events_go_to_the_liquidation_channels_and_the_accounts() -> None:
    from matching.events import LiquidationEnded, LiquidationStarted, LiquidationStep, PositionTransferred
    from venue.fanout import channels_for

    assert list(channels_for(LiquidationStarted("a", -1, 5))) == ["liquidations.all", "account.a"]
    assert list(channels_for(LiquidationStep("a", "BTC-PERP", 7, -10, 3))) == [
        "liquidations.all", "liquidations.BTC", "account.a",
    ]  # fmt: skip
    assert list(channels_for(PositionTransferred("a", "insurance", "ETH-27NOV26-3000-C", -4, 50))) == [
        "liquidations.all", "liquidations.ETH", "account.a", "account.insurance",
    ]  # fmt: skip
    assert list(channels_for(LiquidationEnded("a", 3, 0, 0, 10, 0))) == ["liquidations.all", "account.a"]


def test_in_process_streams_keep_a_bounded_tail_with_absolute_ids() -> None:
    from venue.bus import InProcessBus

    async def scenario() -> None:
        bus = InProcessBus(stream_maxlen=10)
        ids = [await bus.append("s", str(i).encode()) for i in range(25)]
        assert ids == [str(i) for i in range(1, 26)]  # ids never restart
        assert len(bus._streams["s"].slots) == 10  # memory stays bounded
        seen: list[tuple[str, bytes]] = []

        async def reader() -> None:
            async for entry_id, payload in bus.read("s", "0"):
                seen.append((entry_id, payload))
                if entry_id == "26":
                    return

        task = asyncio.create_task(reader())
        await asyncio.sleep(0)
        await bus.append("s", b"25")
        await asyncio.wait_for(task, 2)
        assert seen[0] == ("16", b"15") and seen[-1] == ("26", b"25")  # the oldest were trimmed
        assert [int(i) for i, _ in seen] == list(range(16, 27))  # the rest, in order

        # a reader overtaken while it was away resumes at the oldest entry still kept
        slow = bus.read("s", "20")
        assert await anext(slow) == ("21", b"20")
        for i in range(26, 56):
            await bus.append("s", str(i).encode())
        assert await anext(slow) == ("47", b"46")  # 56 appended, 10 kept
        assert [await anext(slow) for _ in range(9)][-1] == ("56", b"55")

    asyncio.run(scenario())


def test_with_no_subscriber_anywhere_the_fan_out_only_appends_the_stream() -> None:
    from matching.commands import Deposit, ListInstrument
    from tests.matching.harness import CATALOG
    from venue.fanout import EVENTS_STREAM

    async def scenario() -> None:
        bus = InProcessBus()
        assert not bus.may_have_any_subscriber()
        first = await bus.subscribe("account.alice")
        second = await bus.subscribe("account.alice")
        assert bus.may_have_any_subscriber()
        await first.close()
        await first.close()  # closing twice counts once
        assert bus.may_have_any_subscriber()
        await second.close()
        assert not bus.may_have_any_subscriber()

        named: list[str] = []
        probe = bus.may_have_subscribers

        def naming(channel: str) -> bool:
            named.append(channel)
            return probe(channel)

        bus.may_have_subscribers = naming  # type: ignore[method-assign]
        fanout, runtime = fanned_runtime(bus)
        await runtime.submit(ListInstrument(spec=CATALOG.perpetual("BTC")))
        await runtime.submit(Deposit(account="alice", amount_micro=10**12, reference="d1"))
        await runtime.stop()
        await fanout.stop()
        assert named == []  # no channel was even named
        assert bus._streams[EVENTS_STREAM].count == 2 and fanout.published == 2

        listener = await bus.subscribe("account.alice")  # one subscriber: the channels are back
        fanout, runtime = fanned_runtime(bus, runtime.sequencer)
        await runtime.submit(Deposit(account="alice", amount_micro=10**12, reference="d2"))
        await runtime.stop()
        await fanout.stop()
        assert "account.alice" in named
        balance = msgspec.json.decode((await take(listener.__aiter__(), 1))[0])
        assert balance["type"] == "BalanceChanged" and balance["account"] == "alice"
        assert bus._streams[EVENTS_STREAM].count == 3

    asyncio.run(scenario())
