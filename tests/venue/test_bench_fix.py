"""`venue bench fix`: its echo sends the ExecutionReport the venue sends (a like-for-like ratio)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from venue.bench import fix as bench

ORDER = [(11, "o1"), (55, "BTC-PERP"), (54, "1"), (38, "0.001"), (40, "2"), (44, "95000"), (59, "1"),
         (60, "20261207-12:00:00.000")]  # fmt: skip
# what differs between any two reports: the session header (each acceptor answers a session of its
# own: TargetCompID), ids, timestamps, length and checksum
VARYING = {9, 10, 17, 34, 37, 52, 56, 60}


async def reports(folder: Path) -> dict[str, list[list[object]]]:
    """The (tag, value) pairs of the ER answering ORDER from the venue and from each echo, all three
    side by side in one loop, started as `venue bench fix` starts them."""
    async with contextlib.AsyncExitStack() as stack:
        answers = {}
        for name, driver in (await bench.side_by_side(stack, folder)).items():
            await driver.actor.send("D", ORDER)
            answers[name] = (await driver.actor.expect_message("8"))["pairs"]
        return answers


def stable(pairs: list[list[object]]) -> list[tuple[int, object]]:
    return [(int(str(tag)), value) for tag, value in pairs if int(str(tag)) not in VARYING]


def test_the_echo_answers_with_the_venues_execution_report_and_the_minimal_one_with_less(
    tmp_path: Path,
) -> None:
    answers = asyncio.run(reports(tmp_path))
    venue, echo, minimal = answers["venue"], answers["echo"], answers["minimal"]
    # each answered on its own session, though all three ran in one process
    assert [dict(answers[name]).get(56) for name in ("venue", "echo", "minimal")] == [
        "BENCH",
        "ECHOV",
        "ECHOM",
    ]
    assert dict(stable(venue))[39] == "0"  # the venue accepted the order: an ER(New)
    assert stable(echo) == stable(venue)  # same tags, same order, same values besides ids and times
    assert [t for t, _ in venue if int(str(t)) in VARYING] == [t for t, _ in echo if int(str(t)) in VARYING]
    minimal_tags = {t for t, _ in stable(minimal)}
    assert minimal_tags < {t for t, _ in stable(venue)}
    assert {1, 40, 44, 59} & minimal_tags == set()  # Account, OrdType, Price, TimeInForce left out
