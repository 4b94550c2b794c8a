"""Snapshots taken by a forked child: the state as of the fork, the loop free meanwhile, failures told."""

from __future__ import annotations

import asyncio
import os
import time

import msgspec
import pytest

from venue.forked_snapshot import ForkedSnapshot, SnapshotFailed

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork: snapshots are taken inline")


def test_the_child_encodes_the_state_as_it_was_at_the_fork_not_as_the_parent_changes_it() -> None:
    state = {"orders": list(range(500_000)), "seq": 1}  # a few MB: more than a pipe holds

    async def scenario() -> bytes:
        forked = ForkedSnapshot.start(lambda: msgspec.msgpack.encode(state))
        state["seq"] = 2  # the parent applies the next record at once
        state["orders"].clear()
        return await forked.result()

    taken = msgspec.msgpack.decode(asyncio.run(scenario()))
    assert taken == {"orders": list(range(500_000)), "seq": 1}


def test_the_loop_goes_on_while_the_child_works() -> None:
    def slow() -> bytes:
        time.sleep(0.5)  # in the child: the parent's loop must not wait for it
        return b"state"

    async def scenario() -> tuple[bytes, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        started = time.perf_counter()
        forked = ForkedSnapshot.start(slow)
        assert time.perf_counter() - started < 0.25  # start() returned before the child finished
        blob = await forked.result()
        task.cancel()
        return blob, ticks

    blob, ticks = asyncio.run(scenario())
    assert blob == b"state" and ticks >= 20


def test_a_child_that_fails_is_reaped_and_reported() -> None:
    def broken() -> bytes:
        raise ValueError("cannot encode")

    async def scenario() -> ForkedSnapshot:
        forked = ForkedSnapshot.start(broken)
        with pytest.raises(SnapshotFailed, match="exited with 1"):
            await forked.result()
        return forked

    forked = asyncio.run(scenario())
    with pytest.raises(ChildProcessError):
        os.waitpid(forked.pid, os.WNOHANG)  # already reaped: no zombie left
