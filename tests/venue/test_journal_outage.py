"""PostgreSQL unreachable under a running venue (a real `venue run` on a real PostgreSQL, behind a relay
the test cuts): new risk is refused at once (503 journal_unavailable) instead of hanging, what was
in flight and the cancels sent meanwhile are acknowledged once it is back, and nothing acknowledged
is lost."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import POSTGRES_DSN, _drop_schema, run
from tests.settlement.proxy import Relay
from tests.venue.venue_process import free_port, start
from venue.api.keys import KeyStore, Role


def order(account: str, side: str, price: str, cl: str) -> dict[str, Any]:
    return {"account": account, "symbol": "BTC-PERP", "side": side, "quantity": "0.01", "price": price,
            "client_order_id": cl}  # fmt: skip


def test_the_venue_refuses_new_risk_while_it_cannot_journal_and_recovers_by_itself(tmp_path: Path) -> None:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    store = KeyStore(tmp_path / "keys.toml")
    keys = {a: store.create({Role.TRADER}, {a}, rate_per_s=1_000, burst=1_000)[0] for a in ("alice", "bob")}
    admin = store.create({Role.ADMIN}, set())[0]
    pg_port = int(POSTGRES_DSN.rsplit(":", 1)[1].split("/")[0])
    port = free_port()
    log = tmp_path / "venue.log"

    async def scenario() -> None:
        relay = Relay(pg_port)
        await relay.up()
        env = {
            **os.environ,
            "VENUE_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{relay.port}/test?schema={schema}",
            "VENUE_DATA_DIR": str(tmp_path / "var"),
            "VENUE_API_KEYS_FILE": str(tmp_path / "keys.toml"),
            "VENUE_HTTP_PORT": str(port),
        }
        process = start(env, log)
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            try:
                deadline = time.monotonic() + 60
                while True:
                    try:
                        if (await http.get("/ready")).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    assert time.monotonic() < deadline and process.poll() is None, log.read_text()[-2000:]
                    await asyncio.sleep(0.2)
                for account in ("alice", "bob"):
                    deposit = {"account": account, "amount": "1000000", "reference": account}
                    funded = await http.post("/admin/deposits", json=deposit, headers={"X-API-Key": admin})
                    assert funded.status_code == 200, funded.text
                acked: dict[str, int] = {}

                async def place(body: dict[str, Any]) -> httpx.Response:
                    answer = await http.post(
                        "/orders", json=body, headers={"X-API-Key": keys[body["account"]]}
                    )
                    if answer.status_code == 200:
                        acked[body["client_order_id"]] = answer.json()["order_id"]
                    return answer

                for n in range(5):
                    assert (await place(order("alice", "buy", str(90_000 + n), f"a{n}"))).status_code == 200

                await relay.down()  # PostgreSQL unreachable from here on
                in_flight = asyncio.create_task(place(order("bob", "buy", "90100", "b-flight")))
                cancel = asyncio.create_task(
                    http.delete(
                        f"/orders/{acked['a0']}",
                        params={"account": "alice"},
                        headers={"X-API-Key": keys["alice"]},
                    )
                )
                deadline = time.monotonic() + 30
                refused: httpx.Response | None = None
                while refused is None and time.monotonic() < deadline:
                    # a probe sent before the venue saw the first write fail queues behind it
                    probe = order("bob", "buy", "90200", f"b-{time.time_ns()}")
                    try:
                        answer = await http.post("/orders", json=probe, headers={"X-API-Key": keys["bob"]},
                                                 timeout=1.0)  # fmt: skip
                    except httpx.ReadTimeout:
                        continue
                    if answer.status_code == 503:
                        refused = answer
                    await asyncio.sleep(0.2)
                assert refused is not None, "new risk was never refused while the journal was down"
                assert refused.json()["code"] == "journal_unavailable"
                assert refused.headers["retry-after"] == "1"
                started = time.monotonic()
                again = await place(order("bob", "buy", "90300", "b-fast"))
                assert again.status_code == 503 and time.monotonic() - started < 1.0  # at once, never blind
                assert (await http.get("/ready")).status_code == 503
                assert not cancel.done()  # a cancel is never refused: it waits for the journal, not lost
                # the order sent as the link went reached intake either before the first failed write
                # (then it waits, like the cancel) or after it (then it was refused at once, as new risk)
                refused_at_once = in_flight.done()
                if refused_at_once:
                    assert in_flight.result().json()["code"] == "journal_unavailable"

                await relay.up()  # the same port: the venue reconnects by itself
                flight = await asyncio.wait_for(in_flight, 30)
                assert flight.status_code == (503 if refused_at_once else 200), flight.text
                cancelled = await asyncio.wait_for(cancel, 30)
                assert cancelled.status_code == 200, cancelled.text
                assert (await place(order("bob", "buy", "90400", "b-after"))).status_code == 200
                assert (await http.get("/ready")).status_code == 200

                async def status_of(cl: str) -> str:
                    account = "alice" if cl.startswith("a") else "bob"
                    answer = await http.get(f"/orders/{acked[cl]}", params={"account": account},
                                            headers={"X-API-Key": keys[account]})  # fmt: skip
                    return str(answer.json()["status"]) if answer.status_code == 200 else answer.text

                # every acknowledged order is there, as acknowledged (the derived records catch up too)
                expected = {cl: "cancelled" if cl == "a0" else "open" for cl in acked}
                deadline = time.monotonic() + 30
                while (seen := {cl: await status_of(cl) for cl in acked}) != expected:
                    assert time.monotonic() < deadline, seen
                    await asyncio.sleep(0.5)
            finally:
                await relay.up()  # a clean stop journals what is in flight first
                process.send_signal(signal.SIGTERM)
                # waited for off the loop: the relay on this loop carries the venue's last writes
                await asyncio.to_thread(process.wait, 30)
                await relay.down()
        assert "venue stopped cleanly" in log.read_text()

    try:
        run(scenario())
    finally:
        _drop_schema(schema)
