"""Background stages that die say so, a fan-out survives any client-library error, and a hung stop
step is reported and skipped instead of keeping the process alive."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence

import pytest

from matching.commands import Deposit, ListInstrument
from tests.matching.harness import CATALOG
from tests.venue.test_bus import fanned_runtime
from venue.bus import InProcessBus
from venue.fanout import EVENTS_STREAM
from venue.supervision import bounded_step, drained, report_death


class FlakyBus(InProcessBus):
    """The in-process bus, except that its first appends fail the way a client library can fail
    outside its own error types (seen: a venue whose fan-out died and whose stop then hung)."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def append_many(self, stream: str, payloads: Sequence[bytes]) -> list[str]:
        if self.failures > 0:
            self.failures -= 1
            raise RuntimeError("readuntil() called while another coroutine is already waiting")
        return await super().append_many(stream, payloads)


def test_the_fan_out_logs_a_foreign_error_and_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        bus = FlakyBus(failures=2)
        fanout, runtime = fanned_runtime(bus)
        await runtime.submit(ListInstrument(spec=CATALOG.perpetual("BTC")))
        for n in range(3):
            await runtime.submit(
                Deposit(account="alice", amount_micro=10**9, reference=f"{uuid.uuid4()}-{n}")
            )
        await asyncio.wait_for(fanout.stop(), 5)
        await runtime.stop()
        entries = bus._streams[EVENTS_STREAM]
        assert entries.count == 2  # records 3 and 4; 1 and 2 met the failures and were logged
        assert fanout.published == 2

    with caplog.at_level(logging.ERROR):
        asyncio.run(scenario())
    failed = [r for r in caplog.records if "fan-out of seq" in r.getMessage()]
    assert [r.getMessage() for r in failed] == ["fan-out of seq 1 failed", "fan-out of seq 2 failed"]
    assert all(r.exc_info is not None for r in failed)  # with the traceback, for whoever reads the log


def test_a_dead_stage_is_reported_and_its_queue_does_not_hang_a_stop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> None:
        queue: asyncio.Queue[int] = asyncio.Queue()

        async def worker() -> None:
            await queue.get()
            raise ValueError("a bug in the stage")

        task = asyncio.create_task(worker(), name="stage")
        report_death(task, "nothing more is done")
        for n in range(3):
            queue.put_nowait(n)
        await asyncio.wait_for(drained(queue, task), 5)  # returns although 3 items stay undone
        assert task.done() and queue.qsize() == 2

    with caplog.at_level(logging.CRITICAL):
        asyncio.run(scenario())
    [death] = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert death.getMessage() == "stage stopped: nothing more is done" and death.exc_info is not None


def test_a_hung_stop_step_is_logged_with_where_tasks_wait_and_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> list[bool]:
        never = asyncio.Event()

        async def waits_for_a_dead_peer() -> None:
            await never.wait()

        async def quick() -> None:
            await asyncio.sleep(0)

        blocker = asyncio.create_task(waits_for_a_dead_peer(), name="redis-reader")
        results = [
            await bounded_step("the fan-out", never.wait(), 0.2),
            await bounded_step("quick", quick(), 1),
        ]
        blocker.cancel()
        return results

    with caplog.at_level(logging.ERROR):
        assert asyncio.run(scenario()) == [False, True]
    [hung] = [r for r in caplog.records if r.levelno == logging.ERROR]
    text = hung.getMessage()
    assert text.startswith("stop: the fan-out did not finish in 0 s; going on")
    assert "redis-reader" in text and "waits_for_a_dead_peer" in text
