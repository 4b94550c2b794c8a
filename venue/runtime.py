"""The running core: intake -> sequencer -> journal (group commit) -> acknowledgements and listeners.

Stages (STYLE 1), each an asyncio task:
  1. intake       ``submit`` queues a command with a future for its answer
  2. apply        the applier stamps (seq, wall-clock time) and applies commands in arrival order,
                  in batches of whatever has queued up, and hands (record, events) batches on
  3. journal      the writer appends each batch to the journal in one durable write (group commit)
  4. acknowledge  only then are the futures resolved and listeners (bus, front doors) called

So no event leaves before the command behind it is durable. Applying runs ahead of journaling by at
most ``max_pending`` batches: if the journal stalls, intake backs up instead of memory growing.
If a journal write fails it is retried until it succeeds or the runtime is stopped; nothing is
acknowledged meanwhile. On start, ``recover`` replays the journal into the sequencer.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence

from matching import snapshot
from matching.commands import (
    ClockTick,
    Command,
    CommandRecord,
    NewOrder,
    ReplaceOrder,
    RfqAccept,
    RfqCreate,
    RfqQuote,
    Withdraw,
)
from matching.events import Event
from matching.journal import ChainBuilder, Journal, JournalError, PendingRow, encode_command
from matching.reasons import Reason
from matching.sequencer import Sequencer
from venue.forked_snapshot import ForkedSnapshot, SnapshotFailed
from venue.supervision import report_death

log = logging.getLogger(__name__)
Listener = Callable[[CommandRecord, list[Event]], None]


Answer = asyncio.Future[tuple[CommandRecord, list[Event]]]


class Refusal:
    """Takes an answer future's place for a command whose submitter learns the outcome from the
    listeners and only needs to hear of a refusal before it is applied: ``refused(exc)`` is called
    then, on the loop. A front door saves a future and its done-callback per command."""

    __slots__ = ("refused",)

    def __init__(self, refused: Callable[[BaseException], None]) -> None:
        self.refused = refused

    def done(self) -> bool:
        return False

    def set_result(self, result: object) -> None:
        pass

    def set_exception(self, exc: BaseException) -> None:
        self.refused(exc)


class InvalidCommand(ValueError):
    """A submitted command that cannot be journaled (a value outside the encodable types or ranges)."""


class JournalUnavailable(RuntimeError):
    """A command that would add risk, refused at intake while journal writes fail: it could not be
    acknowledged until the journal is back, and a client must not wait blind for that."""

    reason = Reason.JOURNAL_UNAVAILABLE


# Refused while the journal fails; everything else (cancels, marks, clock ticks, settlement cuts)
# queues and is acknowledged once the journal is back: it only reduces risk or keeps time.
NEW_RISK = (NewOrder, ReplaceOrder, Withdraw, RfqCreate, RfqQuote, RfqAccept)


# Upper bounds (seconds) of the journal commit-latency histogram: an fsync or a COPY round trip
# takes a millisecond or two; whole-second commits mean a stalled database.
JOURNAL_LATENCY_BOUNDS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


# (record, events, journal row or None, answer future or None); a tuple: one is made per command
Applied = tuple[CommandRecord, list[Event], PendingRow | None, Answer | Refusal | None]


class Runtime:
    def __init__(
        self,
        sequencer: Sequencer,
        journal: Journal | None,
        *,
        max_batch: int = 4_096,
        max_pending: int = 8,
        commit_batches: int = 8,
        snapshot_every: int = 0,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.sequencer = sequencer
        self.journal = journal
        self.max_batch = max_batch
        self.snapshot_every = snapshot_every  # commands between snapshots; 0: never
        self._last_snapshot_seq = 0
        self._snapshotting: asyncio.Task[None] | None = None  # a forked snapshot being taken and saved
        self._durable_seq = 0
        self._durable = asyncio.Event()  # set whenever _durable_seq moves
        self.snapshots_saved = 0
        self.commit_batches = commit_batches
        self.clock = clock
        self.listeners: list[Listener] = []
        self.chain = ChainBuilder()
        # a deque and a wake-up event: much cheaper per command than asyncio.Queue
        self._intake: deque[tuple[Command, Answer | Refusal | None]] = deque()
        self._intake_ready = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._pending: asyncio.Queue[list[Applied]] = asyncio.Queue(maxsize=max_pending)
        self._tasks: list[asyncio.Task[None]] = []
        self.journal_batches = 0
        self.journal_seconds = 0.0
        # group commits by duration: counts per JOURNAL_LATENCY_BOUNDS bucket (+Inf last), for /metrics
        self.journal_latency_counts = [0] * (len(JOURNAL_LATENCY_BOUNDS) + 1)
        self.journal_failing = False  # the last write failed and is being retried
        self.refused_unjournaled = 0  # NEW_RISK commands refused meanwhile

    # -- lifecycle ----------------------------------------------------------------------------------

    async def recover(
        self, observers: Sequence[Listener] = (), on_snapshot: Callable[[Sequencer], None] | None = None
    ) -> int:
        """Rebuild the state: the newest snapshot, then the journal after it; returns records replayed.

        The sequencer is replaced by the restored one (``self.sequencer``). ``on_snapshot`` is given
        the restored sequencer (read models load from it); ``observers`` then get each replayed
        record's recorded events, as they were published.
        """
        if self.journal is None:
            return 0
        count = 0
        start = 1
        latest = await self.journal.latest_snapshot()
        if latest is not None:
            seq, state = latest
            self.sequencer = snapshot.restore(
                state, self.sequencer.risk, self.sequencer.liquidation_terms, self.sequencer.extensions
            )
            self._last_snapshot_seq = seq
            start = seq + 1
            if on_snapshot is not None:
                on_snapshot(self.sequencer)
        apply = self.sequencer.apply
        async for rows in self.journal.read(start):
            for row in rows:
                apply(row.record)
                if observers:
                    events = row.events()
                    for observer in observers:
                        observer(row.record, events)
            count += len(rows)
        self.chain = ChainBuilder(*await self.journal.last())
        if self.chain.last_seq != self.sequencer.next_seq - 1:
            raise JournalError(
                f"journal ends at {self.chain.last_seq} but replay reached {self.sequencer.next_seq - 1}"
            )
        return count

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._apply_loop(), name="runtime-apply"),
            asyncio.create_task(self._write_loop(), name="runtime-journal"),
            asyncio.create_task(self._timer_loop(), name="runtime-timers"),
        ]
        for task in self._tasks:
            # a stage that ends on its own is a dead venue (``running`` turns false, /ready 503)
            report_death(task, "the venue no longer applies commands")

    async def stop(self) -> None:
        """Stop taking commands, journal and acknowledge everything already applied, stop the tasks."""
        if not self._tasks:
            return
        timer = self._tasks.pop()  # no tick may arrive after the final drain
        timer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await timer
        while self._intake:
            self._intake_ready.set()
            await asyncio.sleep(0.001)
        await self._idle.wait()
        await self._pending.join()
        await self.snapshot_taken()  # its record is journaled by now: it can be saved
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def snapshot_taken(self) -> None:
        """Return once the snapshot being taken, if any, is saved (or has failed and been logged)."""
        if self._snapshotting is not None:
            await asyncio.shield(self._snapshotting)

    @property
    def intake_depth(self) -> int:
        return len(self._intake)

    @property
    def running(self) -> bool:
        return bool(self._tasks) and not any(task.done() for task in self._tasks)

    # -- intake -------------------------------------------------------------------------------------

    def submit_nowait(self, command: Command) -> Answer:
        """Queue ``command``; the future resolves to (record, events) once the record is durable, or
        fails at once with ``JournalUnavailable`` for a NEW_RISK command while journal writes fail.

        Answers resolve in sequence order, so a client that pipelines many commands may await only
        the last one.
        """
        future: Answer = asyncio.get_running_loop().create_future()
        self._queue(command, future)
        return future

    async def submit(self, command: Command) -> tuple[CommandRecord, list[Event]]:
        return await self.submit_nowait(command)

    def submit_quiet(self, command: Command, refused: Callable[[BaseException], None]) -> None:
        """Queue ``command`` with no answer: its record and events reach the listeners once durable;
        ``refused(exc)`` is called instead if it is refused before it is applied: at once with
        ``JournalUnavailable`` (a NEW_RISK command while journal writes fail), or with
        ``InvalidCommand`` when it cannot be journaled."""
        self._queue(command, Refusal(refused))

    def _queue(self, command: Command, answer: Answer | Refusal) -> None:
        """Intake, or ``JournalUnavailable`` on ``answer`` at once for new risk while the journal fails."""
        if self.journal_failing and isinstance(command, NEW_RISK):
            self.refused_unjournaled += 1
            answer.set_exception(JournalUnavailable("the journal is unavailable: no new risk; retry"))
            return
        self._intake.append((command, answer))
        if not self._intake_ready.is_set():
            self._intake_ready.set()

    async def _timer_loop(self, poll_s: float = 0.05, spin_s: float = 0.0015) -> None:
        """Submit a ClockTick when a GTD expiry, a breaker cool-off or an RFQ deadline (auction window,
        quote or RFQ expiry, protection cool-off) falls due and no command came.

        Sleeps until ``spin_s`` before the earliest one, then yields to the loop until it is due: the
        loop's timers fire up to a millisecond late, and an auction's close is on the taker's clock.
        """
        while True:
            due = self.sequencer.next_timer_ns()
            now = self.clock()
            if due and due <= now:
                if not self._intake:
                    await self.submit(ClockTick())
                    continue
                wait = 0.001  # the queued command's record will run the timers
            elif not due:
                wait = poll_s
            else:
                left = (due - now) / 1e9
                wait = 0.0 if left <= spin_s else min(poll_s, left - spin_s)
            await asyncio.sleep(wait)

    # -- stages -------------------------------------------------------------------------------------

    async def _apply_loop(self) -> None:
        intake, ready, sequencer, clock, chain = (
            self._intake,
            self._intake_ready,
            self.sequencer,
            self.clock,
            self.chain,
        )
        journaled = self.journal is not None
        popleft = intake.popleft
        while True:
            if not intake:
                self._idle.set()
                ready.clear()
                await ready.wait()
                continue
            self._idle.clear()
            applied: list[Applied] = []
            for _ in range(min(len(intake), self.max_batch)):
                command, future = popleft()
                blob = None
                if journaled:
                    # A command the journal cannot hold must be refused before it changes any state.
                    try:
                        blob = encode_command(command)
                    except (TypeError, ValueError, OverflowError) as exc:
                        if future is not None and not future.done():
                            future.set_exception(
                                InvalidCommand(f"cannot journal {type(command).__name__}: {exc}")
                            )
                        continue
                record, events = sequencer.submit(command, clock())
                row = chain.row(record, events, blob) if journaled else None
                applied.append((record, events, row, future))
            if not applied:  # every command of this intake batch was refused before it was applied
                continue
            await self._pending.put(applied)
            if (
                journaled
                and self.snapshot_every
                and sequencer.next_seq - 1 - self._last_snapshot_seq >= self.snapshot_every
                and (self._snapshotting is None or self._snapshotting.done())  # else after that one
            ):
                self._last_snapshot_seq = sequencer.next_seq - 1
                self._start_snapshot(self._last_snapshot_seq, sequencer)
            await asyncio.sleep(0)  # let the writer and the front doors run between batches

    async def _write_loop(self) -> None:
        pending = self._pending
        while True:
            batches = [await pending.get()]
            # a bounded commit keeps the database (another process, another core) busy while the
            # applier fills the next one; one huge commit would leave each idle in turn
            while not pending.empty() and len(batches) < self.commit_batches:
                batches.append(pending.get_nowait())
            entries = [entry for batch in batches for entry in batch]
            if self.journal is not None:
                await self._write(entries)
                self._durable_seq = entries[-1][0].seq
                self._durable.set()
            listeners = self.listeners
            for record, events, _, future in entries:
                if future is not None and not future.done():
                    future.set_result((record, events))
                for listener in listeners:
                    try:
                        listener(record, events)
                    except Exception:  # a broken listener must not stall acknowledgements
                        log.exception("listener failed on seq %d", record.seq)
            for _ in batches:
                pending.task_done()

    def _start_snapshot(self, seq: int, sequencer: Sequencer) -> None:
        """Fork the state after record ``seq`` (between batches: no record is half-applied) to a child
        that encodes it; a task saves it once the child is done and ``seq`` is durable."""
        try:
            forked = ForkedSnapshot.start(lambda: snapshot.take(sequencer))
        except OSError as exc:  # no memory or processes left to fork: the next one is tried later
            log.error("snapshot at seq %d not started: %s", seq, exc)
            return
        self._snapshotting = asyncio.create_task(self._save_snapshot(seq, forked), name="snapshot")

    async def _save_snapshot(self, seq: int, forked: ForkedSnapshot) -> None:
        assert self.journal is not None
        try:
            state = await forked.result()
            while self._durable_seq < seq:
                self._durable.clear()
                await self._durable.wait()
            await self.journal.save_snapshot(seq, state)
            self.snapshots_saved += 1
        except (SnapshotFailed, JournalError) as exc:  # a missed snapshot only makes a start longer
            log.error("snapshot at seq %d not saved: %s", seq, exc)
        except Exception:  # an OS error reading the child's pipe: the same, and never a failed stop
            log.exception("snapshot at seq %d not saved", seq)

    async def _already_written(self, row: PendingRow) -> bool:
        assert self.journal is not None
        try:
            last_seq, last_chain = await self.journal.last()
        except Exception:  # any failure to read back: not known written; the write is retried
            return False
        return last_seq == row.seq and last_chain == row.chain

    async def _write(self, entries: list[Applied]) -> None:
        assert self.journal is not None
        rows = [row for _, _, row, _ in entries if row is not None]
        delay = 0.05
        while True:
            started = time.perf_counter()
            try:
                await self.journal.append(rows)
            except Exception as exc:  # JournalError, or anything a driver lets through: retry, never die
                self.journal_failing = True
                log.error("journal write of seq %d..%d failed, retrying: %s", rows[0].seq, rows[-1].seq, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                if await self._already_written(rows[-1]):  # the commit landed; only its answer was lost
                    return
                continue
            self.journal_failing = False
            took = time.perf_counter() - started
            self.journal_batches += 1
            self.journal_seconds += took
            self.journal_latency_counts[bisect.bisect_left(JOURNAL_LATENCY_BOUNDS, took)] += 1
            return
