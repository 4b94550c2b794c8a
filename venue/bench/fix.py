"""`venue bench fix`: NewOrderSingle -> ExecutionReport(New) through the real venue, against a bare echo.

The acceptors run side by side in this process, each a quickfix SocketAcceptor polled from the
event loop (``fixgw.acceptor.serve``) with quickfix's FileStore, each with its own client
(``fixgw.client``, a quickfix initiator) in another process on loopback keeping ``window`` orders in
flight; one client loads at a time. The venue's GC policy (``venue.gc_policy``) holds for the whole
process while it runs, so for the echoes too.
  - venue_orders_per_s: the whole venue (SQLite journal, margin engine, read model, records, fan-out)
    acknowledging resting limit orders; each ER(New) leaves after its command's group commit.
  - echo_orders_per_s: an acceptor whose only work is to answer each order with an ExecutionReport,
    the same fields the venue's ER(New) carries, so both send the same messages.
  - ratio = venue / echo, measured in the same run.
  - echo_minimal_er_orders_per_s, ratio_to_minimal_echo: the same against an echo whose ER has only
    the fields FIX 4.4 requires (and ClOrdID): smaller messages, so a higher echo rate.
  - p50_ms / p99_ms: acknowledgement latency (client send -> ER received) at a steady ``rate``/s.

A run is ``rounds`` rounds; a round starts all three acceptors and loads them in turn, echo, minimal
echo, venue, ``segments`` times over (``count / segments`` orders each time), and takes each one's
orders/s over its segments together; then the venue's steady-rate latency. Each figure is the median
over the rounds, each ratio taken within its round (``rounds`` lists them all). The machines' speed
drifts by tens of percent within a minute (the cores are shared): measured one after the other, a
whole ~7 s load each, a round's ratio fell anywhere between 0.43 and 0.85 on one machine in ten
minutes; short turns put the three acceptors through the same drift.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import quickfix as fix

from config.fix_sessions import hash_password
from config.settings import VenueSettings
from fixgw import fields as f
from fixgw import quickfix_settings
from fixgw.acceptor import serve
from fixgw.outbound import build
from fixgw.socket_watch import SocketWatch
from fixgw.wire import FixMessage, utc_timestamp
from matching.commands import Deposit
from venue.demo.fix_actor import FixActor
from venue.wiring import Venue, start_venue

SESSION = "BENCH"
# The echoes' clients log on as sessions of their own: quickfix keeps one registry of sessions per
# process, so acceptors side by side with the same session id would answer on each other's sessions.
# Names as long as the venue's, so that every acceptor sends messages of the same size.
ECHO_SESSIONS = {"venue": "ECHOV", "minimal": "ECHOM"}
PASSWORD = "bench-only"


def _sessions_file(folder: Path, port: int, session: str = SESSION) -> Path:
    path = folder / "fix_sessions.toml"
    path.write_text(
        f'[acceptor]\nhost = "127.0.0.1"\nport = {port}\nstore = "file"\n\n'
        f'[[sessions]]\ntarget_comp_id = "{session}"\nusername = "{session.lower()}"\nrole = "order_entry"\n'
        f'accounts = ["{session}"]\npassword_hash = "{hash_password(PASSWORD)}"\n'
        "rate_per_s = 1000000\nburst = 1000000\n"
    )
    return path


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EchoApplication(fix.Application):  # type: ignore[misc]
    """Answers every NewOrderSingle with an ExecutionReport(New) and does nothing else.

    ``shape="venue"``: the ER carries the fields the venue's ER(New) carries (Account, OrdType,
    TimeInForce, TransactTime and Price besides the required ones; quickfix writes body fields in tag
    order either way), so both acceptors send the same messages; ``"minimal"``: only the fields
    FIX 4.4 requires and ClOrdID.
    """

    def __init__(self, shape: str = "venue") -> None:
        super().__init__()
        self.order_id = 0
        self.venue_shape = shape == "venue"

    def onCreate(self, session_id: fix.SessionID) -> None:
        pass

    def onLogon(self, session_id: fix.SessionID) -> None:
        pass

    def onLogout(self, session_id: fix.SessionID) -> None:
        pass

    def toAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        pass

    def fromAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        pass

    def toApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        pass

    def fromApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        try:
            order = FixMessage.parse(message.toString())
            self.order_id += 1
            pairs = [
                (f.ORDER_ID, str(self.order_id)), (f.CL_ORD_ID, order.get(f.CL_ORD_ID)),
                (f.EXEC_ID, str(self.order_id)), (f.EXEC_TYPE, "0"), (f.ORD_STATUS, "0"),
                (f.SYMBOL, order.get(f.SYMBOL)), (f.SIDE, order.get(f.SIDE)),
                (f.ORDER_QTY, order.get(f.ORDER_QTY)), (f.LEAVES_QTY, order.get(f.ORDER_QTY)),
                (f.CUM_QTY, "0"), (f.AVG_PX, "0"),
            ]  # fmt: skip
            if self.venue_shape:
                pairs += [
                    (f.ACCOUNT, SESSION), (f.ORD_TYPE, order.get(f.ORD_TYPE)),
                    (f.TIME_IN_FORCE, order.get(f.TIME_IN_FORCE)),
                    (f.TRANSACT_TIME, utc_timestamp(time.time_ns())), (f.PRICE, order.get(f.PRICE)),
                ]  # fmt: skip
            fix.Session.sendToTarget(build("8", pairs), session_id)
        except Exception:  # an exception leaving a callback would abort the process
            pass


class Driver:
    """The bench's client: a FixActor (``python -m fixgw.client``) logged on as the bench session."""

    def __init__(self, port: int, store: Path, session: str = SESSION) -> None:
        self.actor = FixActor(session, port, PASSWORD, store)

    async def __aenter__(self) -> Driver:
        await self.actor.start(timeout_s=120)
        return self

    async def load(self, count: int, rate: float, window: int) -> dict[str, Any]:
        template = [[55, "BTC-PERP"], [54, "1"], [38, "0.001"], [40, "2"], [44, "95000"], [59, "1"]]
        await self.actor.command(
            {"op": "load", "count": count, "rate": rate, "window": window, "fields": template}
        )
        return await self.actor.expect_message("", timeout_s=600, event="load")

    async def __aexit__(self, *exc: object) -> None:
        await self.actor.close()


@contextlib.asynccontextmanager
async def venue_acceptor(folder: Path) -> AsyncIterator[tuple[Venue, int]]:
    """The whole venue with FIX on a free port and the bench account funded: (venue, port)."""
    port = _free_port()
    folder.mkdir(parents=True, exist_ok=True)
    settings = VenueSettings(
        data_dir=folder / "venue",
        fix_enabled=True,
        fix_port=port,
        fix_sessions_file=_sessions_file(folder, port),
        mark_interval_s=3600.0,  # one priming mark update; nothing else competes with the orders
        settlement_enabled=False,  # the FIX path alone (`venue bench settlement` measures settling)
    )
    venue = await start_venue(settings)
    try:
        await venue.runtime.submit(Deposit(account=SESSION, amount_micro=10**15, reference="bench"))
        yield venue, port
    finally:
        await venue.stop()


@contextlib.asynccontextmanager
async def echo_acceptor(folder: Path, shape: str) -> AsyncIterator[int]:
    """A bare quickfix acceptor (FileStore) answering with ``EchoApplication(shape)``: its port, for
    the session ``ECHO_SESSIONS[shape]``."""
    from config.fix_sessions import FixConfig

    port = _free_port()
    folder.mkdir(parents=True)
    config = FixConfig.load(_sessions_file(folder, port, ECHO_SESSIONS[shape]))
    settings_path = quickfix_settings.write(config, folder)
    app = EchoApplication(shape)
    settings = fix.SessionSettings(str(settings_path))
    store = fix.FileStoreFactory(settings)
    acceptor = fix.SocketAcceptor(app, store, settings)  # polled from the loop, as the venue's is
    acceptor.poll()
    polling = asyncio.create_task(serve(acceptor, lambda: app.order_id, watch=SocketWatch.create(port)))
    try:
        yield port
    finally:
        polling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await polling
        acceptor.stop(True)


async def side_by_side(stack: contextlib.AsyncExitStack, folder: Path) -> dict[str, Driver]:
    """Start the echo, the minimal echo and the venue in this loop, each with its client logged on;
    the clients by name ("echo", "minimal", "venue"). ``stack`` stops them all."""
    targets = {
        name: (await stack.enter_async_context(echo_acceptor(folder / name, shape)), ECHO_SESSIONS[shape])
        for name, shape in (("echo", "venue"), ("minimal", "minimal"))
    }
    targets["venue"] = ((await stack.enter_async_context(venue_acceptor(folder)))[1], SESSION)
    return {
        name: await stack.enter_async_context(Driver(port, folder / f"client-{name}", session))
        for name, (port, session) in targets.items()
    }


async def _round(
    folder: Path, count: int, latency_count: int, rate: float, window: int, segments: int
) -> dict[str, Any]:
    """One round: the three acceptors side by side, loaded in turn ``segments`` times each."""
    async with contextlib.AsyncExitStack() as stack:
        clients = await side_by_side(stack, folder)
        for client in clients.values():
            await client.load(2_000, 0, window)  # warm-up
        acked = dict.fromkeys(clients, 0)
        seconds = dict.fromkeys(clients, 0.0)
        rejected = 0
        for _ in range(segments):
            for name, client in clients.items():
                result = await client.load(count // segments, 0, window)
                acked[name] += result["acked"]
                seconds[name] += result["seconds"]
                rejected += result["rejected"]
        steady = await clients["venue"].load(latency_count, rate, window)
    per_s = {name: round(acked[name] / seconds[name], 1) if seconds[name] else 0.0 for name in clients}
    return {
        "venue_orders_per_s": per_s["venue"],
        "echo_orders_per_s": per_s["echo"],
        "ratio": round(per_s["venue"] / per_s["echo"], 3) if per_s["echo"] else 0.0,
        "echo_minimal_er_orders_per_s": per_s["minimal"],
        "ratio_to_minimal_echo": round(per_s["venue"] / per_s["minimal"], 3) if per_s["minimal"] else 0.0,
        "p50_ms": steady["p50_ms"],
        "p99_ms": steady["p99_ms"],
        "max_ms": steady["max_ms"],
        "steady_acks_per_s": steady["acks_per_s"],
        "rejected": rejected + steady["rejected"],
    }


def run(
    count: int = 20_000,
    latency_count: int = 10_000,
    rate: float = 1_000.0,
    window: int = 64,
    rounds: int = 3,
    segments: int = 4,
) -> dict[str, Any]:
    """``rounds`` rounds of all three acceptors; figures as in the module docstring."""
    measured: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-fix-") as tmp:
        for index in range(rounds):
            folder = Path(tmp) / f"round-{index}"
            folder.mkdir()
            measured.append(asyncio.run(_round(folder, count, latency_count, rate, window, segments)))
    rejected = sum(r.pop("rejected") for r in measured)

    def median(key: str) -> float:
        return round(float(statistics.median(r[key] for r in measured)), 3)

    return {
        "venue_orders_per_s": median("venue_orders_per_s"),
        "echo_orders_per_s": median("echo_orders_per_s"),
        "ratio": median("ratio"),
        "echo_minimal_er_orders_per_s": median("echo_minimal_er_orders_per_s"),
        "ratio_to_minimal_echo": median("ratio_to_minimal_echo"),
        "p50_ms": median("p50_ms"),
        "p99_ms": median("p99_ms"),
        "max_ms": max(r["max_ms"] for r in measured),
        "steady_rate_per_s": rate,
        "steady_acks_per_s": median("steady_acks_per_s"),
        "orders": count,
        "window": window,
        "segments": segments,
        "rejected": rejected,
        "store": "file",
        "journal": "sqlite",
        "cpus": os.cpu_count(),
        "rounds": measured,
    }
