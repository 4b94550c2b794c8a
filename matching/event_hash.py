"""A running hash of an event stream: the proof that replay reproduced live exactly.

Each event is encoded with msgspec's MessagePack (tagged structs encode deterministically: fixed field
order, integers exact) and fed to BLAKE2b together with the sequence number of the command behind it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import msgspec

from matching.events import Event

_ENCODER = msgspec.msgpack.Encoder()


class EventHasher:
    __slots__ = ("_hash", "count")

    def __init__(self) -> None:
        self._hash = hashlib.blake2b(digest_size=32)
        self.count = 0

    def update(self, seq: int, events: Iterable[Event]) -> None:
        h = self._hash
        h.update(seq.to_bytes(8, "big"))
        for event in events:
            h.update(_ENCODER.encode(event))
            self.count += 1

    def hexdigest(self) -> str:
        return self._hash.hexdigest()
