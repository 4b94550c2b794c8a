"""The journal: every command record the sequencer applied, with the events it produced, in order.

The journal is the truth. Each row holds one record (sequence number, intake time, command) and the
events applying it produced, both MessagePack-encoded, plus a hash chain over the events:

    chain[seq] = BLAKE2b-256(chain[seq - 1] || seq as 8 bytes || encoded events of seq)
    chain[0] = 32 zero bytes

so the recorded event stream can be verified from any point, and a replay that yields other events
is caught at the first record that differs.

Writes are group commits: ``append`` takes a whole batch and makes it durable in one round trip
(PostgreSQL COPY, one SQLite transaction); nothing of a batch is visible unless all of it is.
Implementations: ``matching.journal_sqlite`` (embedded default) and ``matching.journal_postgres``.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Protocol

import msgspec

from matching.commands import Command, CommandRecord
from matching.events import Event

GENESIS_CHAIN = bytes(32)

_record_encoder = msgspec.msgpack.Encoder()
_command_decoder: msgspec.msgpack.Decoder[Command] = msgspec.msgpack.Decoder(Command)
_events_decoder: msgspec.msgpack.Decoder[list[Event]] = msgspec.msgpack.Decoder(list[Event])


class JournalError(RuntimeError):
    """The journal cannot be written or read, or is not the sequence it must be."""


@dataclass(frozen=True, slots=True)
class JournalRow:
    """One journaled record as stored: the decoded record, the events as bytes, and the chain."""

    record: CommandRecord
    events_blob: bytes
    chain: bytes

    def events(self) -> list[Event]:
        return _events_decoder.decode(self.events_blob)


def encode_command(command: Command) -> bytes:
    return _record_encoder.encode(command)


def decode_command(blob: bytes) -> Command:
    return _command_decoder.decode(blob)


def encode_events(events: Sequence[Event]) -> bytes:
    return _record_encoder.encode(events)


def next_chain(previous: bytes, seq: int, events_blob: bytes) -> bytes:
    # one call over one buffer: cheaper than a hash object fed three times
    return hashlib.blake2b(previous + seq.to_bytes(8, "big") + events_blob, digest_size=32).digest()


class PendingRow(NamedTuple):
    """A record ready to be written; the field order is the journal table's column order."""

    seq: int
    ts_ns: int
    command_blob: bytes
    events_blob: bytes
    chain: bytes


class ChainBuilder:
    """Turns applied records into PendingRows, continuing the hash chain from ``last_chain``."""

    __slots__ = ("last_chain", "last_seq")

    def __init__(self, last_seq: int = 0, last_chain: bytes = GENESIS_CHAIN) -> None:
        self.last_seq = last_seq
        self.last_chain = last_chain

    def row(
        self, record: CommandRecord, events: Sequence[Event], command_blob: bytes | None = None
    ) -> PendingRow:
        """The row of ``record``; ``command_blob`` is its command already encoded, if the caller has it."""
        if record.seq != self.last_seq + 1:
            raise JournalError(f"journal would skip from {self.last_seq} to {record.seq}")
        events_blob = encode_events(events)
        chain = next_chain(self.last_chain, record.seq, events_blob)
        self.last_seq, self.last_chain = record.seq, chain
        blob = command_blob if command_blob is not None else encode_command(record.command)
        return PendingRow(record.seq, record.ts_ns, blob, events_blob, chain)


class Journal(Protocol):
    """Storage of the journal. Every method may raise JournalError; none loses a written row."""

    async def open(self) -> None:
        """Connect, create or migrate the schema."""
        ...

    async def close(self) -> None: ...

    async def append(self, rows: Sequence[PendingRow]) -> None:
        """Make ``rows`` (consecutive, following the last written seq) durable, all or nothing."""
        ...

    async def last(self) -> tuple[int, bytes]:
        """(last seq, its chain), or (0, GENESIS_CHAIN) when empty."""
        ...

    def read(self, from_seq: int = 1, to_seq: int | None = None) -> AsyncIterator[list[JournalRow]]:
        """Rows from ``from_seq`` to ``to_seq`` (inclusive), in order, in chunks."""
        ...

    async def chain_before(self, seq: int) -> bytes:
        """The chain value of ``seq - 1`` (GENESIS_CHAIN for seq 1)."""
        ...

    async def save_snapshot(self, seq: int, state: bytes) -> None:
        """Keep a snapshot of the state after record ``seq`` (which must already be journaled)."""
        ...

    async def latest_snapshot(self) -> tuple[int, bytes] | None:
        """(seq, state) of the newest snapshot, or None."""
        ...


def open_journal(database_url: str | None, data_dir: Path) -> Journal:
    """The journal for the settings: PostgreSQL for a ``postgresql://`` URL, else SQLite.

    ``None`` means the embedded default, ``data_dir/journal.sqlite3``; ``sqlite:///path`` a file.
    A PostgreSQL URL may name the schema to use: ``postgresql://host/db?schema=venue`` (default public).
    """
    if database_url and database_url.startswith(("postgresql://", "postgres://")):
        from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

        from matching.journal_postgres import PostgresJournal

        parts = urlsplit(database_url)
        query = dict(parse_qsl(parts.query))
        schema = query.pop("schema", "public")
        return PostgresJournal(urlunsplit(parts._replace(query=urlencode(query))), schema=schema)
    from matching.journal_sqlite import SqliteJournal

    if database_url and database_url.startswith("sqlite:///"):
        return SqliteJournal(Path(database_url.removeprefix("sqlite:///")))
    if database_url:
        raise JournalError(f"unsupported database URL: {database_url.split(':', 1)[0]}://...")
    return SqliteJournal(data_dir / "journal.sqlite3")
