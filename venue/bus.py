"""Event fan-out between components and processes: in-process by default, Redis when configured.

Two kinds of delivery, one interface:
- channels (pub/sub): market data and notifications. A subscriber gets what is published while it
  listens, in order; a slow subscriber's backlog is bounded and the oldest messages are dropped, so
  consumers must detect gaps themselves (book deltas carry per-book sequence numbers for that).
- streams: what other processes must not miss (the event log for settlement, risk). Appends get
  increasing ids; a reader resumes after the last id it processed, and nothing is lost while it is away
  (Redis keeps ``stream_maxlen`` entries per stream, approximately).

``open_bus(None)`` is the in-process bus; ``open_bus("redis://...")`` the Redis adapter (redis-py asyncio).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Protocol, cast

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

# what XREAD answers: [(stream, [(entry id, {field: value})])]
StreamAnswer = list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]] | None


class BusError(RuntimeError):
    """The bus cannot deliver (Redis down or refusing)."""


class Bus(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, channel: str, payload: bytes) -> None:
        """Deliver to current subscribers of ``channel`` (may be missed by anyone not listening)."""
        ...

    async def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        """``publish`` each (channel, payload) in order, in one round trip."""
        ...

    def may_have_subscribers(self, channel: str) -> bool:
        """False only when publishing on ``channel`` certainly reaches no one (skip encoding it)."""
        ...

    def may_have_any_subscriber(self) -> bool:
        """False only when no channel has a subscriber (a publisher may skip naming the channels)."""
        ...

    async def subscribe(self, channel: str) -> Subscription:
        """Listen to ``channel``: live when this returns; iterate it for messages; ``close`` to stop."""
        ...

    async def append(self, stream: str, payload: bytes) -> str:
        """Append to ``stream``; returns the entry id (ids increase)."""
        ...

    async def append_many(self, stream: str, payloads: Sequence[bytes]) -> list[str]:
        """Append ``payloads`` to ``stream`` in order, in one round trip; returns their entry ids."""
        ...

    def read(self, stream: str, after: str = "0") -> AsyncIterator[tuple[str, bytes]]:
        """Entries after id ``after`` ("0" for all kept), then new ones as they come, forever."""
        ...


class Subscription(Protocol):
    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def close(self) -> None: ...


# In process nobody outside reads the streams (Redis serves external consumers): keep a short tail
# only. With Redis' 1,000,000 the event stream alone held about 1 GB of the venue's memory under load.
IN_PROCESS_TAIL = 50_000


def open_bus(redis_url: str | None, *, stream_maxlen: int = 1_000_000, backlog: int = 10_000) -> Bus:
    if redis_url:
        return RedisBus(redis_url, stream_maxlen=stream_maxlen)
    return InProcessBus(backlog=backlog, stream_maxlen=min(stream_maxlen, IN_PROCESS_TAIL))


class _Ring:
    """The last ``size`` entries of one stream in a fixed list: entry ``n`` (1-based, absolute) sits in
    slot ``(n - 1) % size``. Each append frees exactly one old payload, so the allocator reuses its
    memory at once; trimming a list in halves freed tens of thousands of payloads at a time and left the
    heap fragmented (RSS grew under load while the live data did not)."""

    __slots__ = ("count", "slots")

    def __init__(self, size: int) -> None:
        self.slots: list[bytes | None] = [None] * size
        self.count = 0  # entries ever appended: the id of the newest

    @property
    def first(self) -> int:
        """Id of the oldest entry kept (``count + 1`` when empty)."""
        return max(1, self.count - len(self.slots) + 1)

    def append(self, payload: bytes) -> int:
        self.slots[self.count % len(self.slots)] = payload
        self.count += 1
        return self.count

    def __getitem__(self, entry_id: int) -> bytes:
        """The entry ``entry_id``, which must lie in ``first..count`` (older slots hold newer entries)."""
        payload = self.slots[(entry_id - 1) % len(self.slots)]
        assert payload is not None
        return payload


class InProcessBus:
    """Streams keep their last ``stream_maxlen`` entries, as Redis does; ids stay absolute."""

    def __init__(self, backlog: int = 10_000, stream_maxlen: int = IN_PROCESS_TAIL) -> None:
        if stream_maxlen < 1:
            raise ValueError("stream_maxlen must be at least 1")
        self.backlog = backlog
        self.stream_maxlen = stream_maxlen
        self._subscribers: dict[str, set[asyncio.Queue[bytes]]] = defaultdict(set)
        self._streams: dict[str, _Ring] = {}
        self._subscriptions = 0  # open subscriptions over all channels
        self._appended = asyncio.Condition()

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def publish(self, channel: str, payload: bytes) -> None:
        self._deliver(channel, payload)

    async def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        for channel, payload in messages:
            self._deliver(channel, payload)

    def _deliver(self, channel: str, payload: bytes) -> None:
        for queue in self._subscribers.get(channel, ()):
            if queue.full():
                queue.get_nowait()  # drop the oldest: a slow subscriber must not stall the venue
            queue.put_nowait(payload)

    def may_have_subscribers(self, channel: str) -> bool:
        return bool(self._subscribers.get(channel))

    def may_have_any_subscriber(self) -> bool:
        return self._subscriptions > 0

    async def subscribe(self, channel: str) -> _QueueSubscription:
        queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=self.backlog)
        self._subscribers[channel].add(queue)
        self._subscriptions += 1
        return _QueueSubscription(queue, functools.partial(self._unsubscribe, channel, queue))

    def _unsubscribe(self, channel: str, queue: asyncio.Queue[bytes]) -> None:
        subscribers = self._subscribers[channel]
        if queue in subscribers:
            subscribers.discard(queue)
            self._subscriptions -= 1

    def _ring(self, stream: str) -> _Ring:
        ring = self._streams.get(stream)
        if ring is None:
            ring = self._streams[stream] = _Ring(self.stream_maxlen)
        return ring

    async def append(self, stream: str, payload: bytes) -> str:
        return (await self.append_many(stream, (payload,)))[0]

    async def append_many(self, stream: str, payloads: Sequence[bytes]) -> list[str]:
        ring = self._ring(stream)
        ids = [str(ring.append(payload)) for payload in payloads]
        async with self._appended:
            self._appended.notify_all()
        return ids

    async def read(self, stream: str, after: str = "0") -> AsyncIterator[tuple[str, bytes]]:
        ring = self._ring(stream)
        position = int(after)  # absolute id of the last entry seen
        while True:
            # entries overwritten while the reader was away are gone, as trimmed ones are in Redis
            position = max(position, ring.first - 1)
            if position < ring.count:
                position += 1
                yield str(position), ring[position]
            else:
                async with self._appended:
                    await self._appended.wait_for(functools.partial(self._longer_than, ring, position))

    @staticmethod
    def _longer_than(ring: _Ring, position: int) -> bool:
        return ring.count > position


class RedisBus:
    def __init__(self, url: str, stream_maxlen: int = 1_000_000) -> None:
        self.url = url
        self.stream_maxlen = stream_maxlen
        self._redis: aioredis.Redis | None = None

    @property
    def redis(self) -> aioredis.Redis:
        if self._redis is None:
            raise BusError("bus is not open")
        return self._redis

    async def open(self) -> None:
        self._redis = aioredis.from_url(self.url)
        try:
            await self._redis.ping()
        except (RedisError, OSError) as exc:
            raise BusError(f"cannot reach Redis: {exc}") from exc

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    def may_have_subscribers(self, channel: str) -> bool:
        return True  # other processes may listen: Redis decides

    def may_have_any_subscriber(self) -> bool:
        return True

    async def publish(self, channel: str, payload: bytes) -> None:
        try:
            await self.redis.publish(channel, payload)
        except (RedisError, OSError) as exc:
            raise BusError(f"publish to {channel} failed: {exc}") from exc

    async def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        if not messages:
            return
        try:
            pipe = self.redis.pipeline(transaction=False)
            for channel, payload in messages:
                pipe.publish(channel, payload)
            await pipe.execute()
        except (RedisError, OSError) as exc:
            raise BusError(f"publish of {len(messages)} messages failed: {exc}") from exc

    async def subscribe(self, channel: str) -> _RedisSubscription:
        pubsub = self.redis.pubsub()
        try:
            await pubsub.subscribe(channel)
            # wait for the server's confirmation: from here on nothing published is missed
            while (await pubsub.get_message(timeout=1.0)) is None:
                pass
        except (RedisError, OSError) as exc:
            raise BusError(f"subscribe to {channel} failed: {exc}") from exc
        return _RedisSubscription(pubsub, channel)

    async def append(self, stream: str, payload: bytes) -> str:
        return (await self.append_many(stream, (payload,)))[0]

    async def append_many(self, stream: str, payloads: Sequence[bytes]) -> list[str]:
        try:
            pipe = self.redis.pipeline(transaction=False)
            for payload in payloads:
                pipe.xadd(stream, {b"p": payload}, maxlen=self.stream_maxlen, approximate=True)
            entries = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise BusError(f"append to {stream} failed: {exc}") from exc
        return [e.decode() if isinstance(e, bytes) else str(e) for e in entries]

    async def read(self, stream: str, after: str = "0") -> AsyncIterator[tuple[str, bytes]]:
        last = after
        while True:
            try:
                answer = cast(StreamAnswer, await self.redis.xread({stream: last}, block=1_000, count=1_000))
            except (RedisError, OSError) as exc:
                raise BusError(f"read of {stream} failed: {exc}") from exc
            for _, entries in answer or ():
                for entry_id, fields in entries:
                    last = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
                    yield last, fields[b"p"]


class _QueueSubscription:
    def __init__(self, queue: asyncio.Queue[bytes], on_close: Callable[[], None]) -> None:
        self._queue = queue
        self._on_close = on_close

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            yield await self._queue.get()

    async def close(self) -> None:
        self._on_close()


class _RedisSubscription:
    def __init__(self, pubsub: PubSub, channel: str) -> None:
        self._pubsub = pubsub
        self._channel = channel

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            try:
                message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except (RedisError, OSError) as exc:
                raise BusError(f"subscription to {self._channel} failed: {exc}") from exc
            if message is not None and message["type"] == "message":
                yield message["data"]

    async def close(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self._pubsub.unsubscribe(self._channel)
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]
