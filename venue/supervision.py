"""Keeping the venue's background tasks honest: a stage that dies says so at once, and a stop that
hangs says where and goes on, instead of leaving a process that neither serves nor exits."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Awaitable
from typing import Any

log = logging.getLogger("venue.supervision")


def report_death(task: asyncio.Task[None], consequence: str) -> None:
    """Log CRITICAL, with the exception, when ``task`` ends on an exception (not when cancelled)."""

    def done(finished: asyncio.Task[None]) -> None:
        if not finished.cancelled() and finished.exception() is not None:
            log.critical("%s stopped: %s", finished.get_name(), consequence, exc_info=finished.exception())

    task.add_done_callback(done)


async def drained(queue: asyncio.Queue[Any], worker: asyncio.Task[None]) -> None:
    """Wait until every item put on ``queue`` is done, or until ``worker`` (the task that works it
    off) has ended: a dead worker drains nothing, and waiting for it would hang a shutdown."""
    joined = asyncio.ensure_future(queue.join())
    try:
        await asyncio.wait({joined, worker}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        joined.cancel()


def task_stacks(limit: int = 8) -> str:
    """Where every pending task of the running loop is waiting (for a log line)."""
    out = io.StringIO()
    for task in asyncio.all_tasks():
        if task is asyncio.current_task():
            continue
        out.write(f"-- {task.get_name()}: {task.get_coro()!r}\n")
        task.print_stack(limit=limit, file=out)
    return out.getvalue()


async def bounded_step(name: str, step: Awaitable[None], timeout_s: float) -> bool:
    """Await one step of a shutdown for at most ``timeout_s``; on timeout log where every task waits,
    cancel the step and return False, so the caller can go on stopping the rest."""
    try:
        await asyncio.wait_for(step, timeout_s)
        return True
    except TimeoutError:
        log.error(
            "stop: %s did not finish in %.0f s; going on. Pending tasks:\n%s", name, timeout_s, task_stacks()
        )
        return False
