"""`venue bench fix`: its echo sends the ExecutionReport the venue sends (a like-for-like ratio)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import quickfix as fix

from config.fix_sessions import FixConfig
from config.settings import VenueSettings
from fixgw import quickfix_settings
from fixgw.acceptor import serve
from fixgw.socket_watch import SocketWatch
from matching.commands import Deposit
from venue.bench import fix as bench
from venue.wiring import start_venue

ORDER = [(11, "o1"), (55, "BTC-PERP"), (54, "1"), (38, "0.001"), (40, "2"), (44, "95000"), (59, "1"),
         (60, "20261207-12:00:00.000")]  # fmt: skip
# what differs between any two reports: the session header, ids, timestamps, length and checksum
VARYING = {9, 10, 17, 34, 37, 52, 60}


async def echo_report(folder: Path, shape: str) -> list[list[object]]:
    port = bench._free_port()
    folder.mkdir()
    config = FixConfig.load(bench._sessions_file(folder, port))
    app = bench.EchoApplication(shape)
    settings = fix.SessionSettings(str(quickfix_settings.write(config, folder)))
    store = fix.FileStoreFactory(settings)
    acceptor = fix.SocketAcceptor(app, store, settings)
    acceptor.poll()
    polling = asyncio.create_task(serve(acceptor, lambda: app.order_id, watch=SocketWatch.create(port)))
    actor = bench.FixActor(bench.SESSION, port, bench.PASSWORD, folder / "client")
    try:
        await actor.start(timeout_s=60)
        await actor.send("D", ORDER)
        return (await actor.expect_message("8"))["pairs"]
    finally:
        await actor.close()
        polling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await polling
        acceptor.stop(True)


async def venue_report(folder: Path) -> list[list[object]]:
    port = bench._free_port()
    folder.mkdir()
    settings = VenueSettings(
        data_dir=folder / "venue", fix_enabled=True, fix_port=port,
        fix_sessions_file=bench._sessions_file(folder, port), mark_interval_s=3600.0,
        settlement_enabled=False,
    )  # fmt: skip
    venue = await start_venue(settings)
    actor = bench.FixActor(bench.SESSION, port, bench.PASSWORD, folder / "client")
    try:
        await venue.runtime.submit(Deposit(account=bench.SESSION, amount_micro=10**12, reference="t"))
        await actor.start(timeout_s=60)
        await actor.send("D", ORDER)
        return (await actor.expect_message("8"))["pairs"]
    finally:
        await actor.close()
        await venue.stop()


def stable(pairs: list[list[object]]) -> list[tuple[int, object]]:
    return [(int(str(tag)), value) for tag, value in pairs if int(str(tag)) not in VARYING]


def test_the_echo_answers_with_the_venues_execution_report_and_the_minimal_one_with_less(
    tmp_path: Path,
) -> None:
    venue = asyncio.run(venue_report(tmp_path / "v"))
    echo = asyncio.run(echo_report(tmp_path / "e", "venue"))
    minimal = asyncio.run(echo_report(tmp_path / "m", "minimal"))
    assert dict(stable(venue))[39] == "0"  # the venue accepted the order: an ER(New)
    assert stable(echo) == stable(venue)  # same tags, same order, same values besides ids and times
    assert [t for t, _ in venue if int(str(t)) in VARYING] == [t for t, _ in echo if int(str(t)) in VARYING]
    minimal_tags = {t for t, _ in stable(minimal)}
    assert minimal_tags < {t for t, _ in stable(venue)}
    assert {1, 40, 44, 59} & minimal_tags == set()  # Account, OrdType, Price, TimeInForce left out
