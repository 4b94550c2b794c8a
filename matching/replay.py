"""Replay a journal into a fresh sequencer and verify every recorded event and the hash chain."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from matching.events import Event
from matching.journal import Journal, encode_events, next_chain
from matching.sequencer import Sequencer


@dataclass(slots=True)
class Mismatch:
    seq: int
    index: int  # position of the first differing event in the record's events (-1: count or chain)
    recorded: Event | None
    replayed: Event | None
    detail: str


@dataclass(slots=True)
class ReplayReport:
    from_seq: int
    to_seq: int
    replayed: int = 0  # records applied (all from 1)
    verified: int = 0  # records compared (from_seq..to_seq)
    events: int = 0
    mismatch: Mismatch | None = None
    chain: bytes = b""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.mismatch is None and not self.problems


async def verify(
    journal: Journal, make_sequencer: Callable[[], Sequencer], from_seq: int = 1, to_seq: int | None = None
) -> ReplayReport:
    """Apply the journal from seq 1 (state needs it) and verify records ``from_seq``..``to_seq``.

    Stops at the first record whose replayed events differ from the recorded ones, or whose recorded
    chain does not follow from the recorded events.
    """
    last, _ = await journal.last()
    stop = last if to_seq is None else min(to_seq, last)
    report = ReplayReport(from_seq, stop)
    sequencer = make_sequencer()
    chain = await journal.chain_before(1)
    async for rows in journal.read(1, stop):
        for row in rows:
            seq = row.record.seq
            if seq != sequencer.next_seq:
                report.problems.append(f"journal jumps from {sequencer.next_seq - 1} to {seq}")
                return report
            events = sequencer.apply(row.record)
            report.replayed += 1
            recorded_chain = next_chain(chain, seq, row.events_blob)
            if recorded_chain != row.chain:
                report.mismatch = Mismatch(
                    seq, -1, None, None, "recorded chain does not match recorded events"
                )
                return report
            chain = row.chain
            if seq < from_seq:
                continue
            report.verified += 1
            report.events += len(events)
            if encode_events(events) != row.events_blob:
                report.mismatch = _first_difference(seq, row.events(), events)
                return report
    report.chain = chain
    return report


def _first_difference(seq: int, recorded: list[Event], replayed: list[Event]) -> Mismatch:
    for index, (a, b) in enumerate(zip(recorded, replayed, strict=False)):
        if a != b:
            return Mismatch(seq, index, a, b, "event differs")
    index = min(len(recorded), len(replayed))
    return Mismatch(
        seq,
        index,
        recorded[index] if index < len(recorded) else None,
        replayed[index] if index < len(replayed) else None,
        f"{len(recorded)} events recorded, {len(replayed)} replayed",
    )
