"""The HTTP and WebSocket API against a real venue (SQLite journal in a temp dir, in-process bus)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from config.settings import VenueSettings
from venue.api.app import create_app
from venue.api.keys import KeyStore, Role


@pytest.fixture
def settings(tmp_path: Path) -> VenueSettings:
    return VenueSettings(
        data_dir=tmp_path / "var", catalog_as_of="2026-11-22", api_keys_file=tmp_path / "keys.toml"
    )


@pytest.fixture
def tokens(settings: VenueSettings) -> dict[str, str]:
    assert settings.api_keys_file is not None
    store = KeyStore(settings.api_keys_file)
    made = {
        "alice": store.create({Role.TRADER}, {"alice"})[0],
        "bob": store.create({Role.TRADER}, {"bob"})[0],
        "risk": store.create({Role.RISK_OFFICER}, set())[0],
        "slow": store.create({Role.TRADER}, {"alice"}, rate_per_s=1.0, burst=3)[0],
    }
    return made


@pytest.fixture
def client(settings: VenueSettings, tokens: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        fund(test_client)
        yield test_client


def fund(client: TestClient) -> None:
    from matching.commands import Deposit

    venue = client.app.state.venue  # type: ignore[attr-defined]
    for account in ("alice", "bob"):
        client.portal.call(
            venue.runtime.submit, Deposit(account=account, amount_micro=10**12, reference=account)
        )  # type: ignore[union-attr]


def auth(token: str) -> dict[str, str]:
    return {"X-API-Key": token}


def order(account: str, side: str, qty: str, price: str, **extra: object) -> dict[str, object]:
    return {"account": account, "symbol": "BTC-PERP", "side": side, "quantity": qty, "price": price, **extra}


def test_health_ready_instruments_and_openapi(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    perps = client.get("/instruments", params={"kind": "perpetual"}).json()
    assert {i["symbol"] for i in perps} == {"BTC-PERP", "ETH-PERP"}
    options = client.get("/instruments", params={"underlying": "ETH", "kind": "option"}).json()
    assert options and all(i["symbol"].startswith("ETH-") and i["option_type"] in "CP" for i in options)
    missing = client.get("/instruments/NOPE-PERP")
    assert missing.status_code == 404 and missing.json()["code"] == "unknown_instrument"
    assert "/orders" in client.get("/openapi.json").json()["paths"]
    assert client.get("/docs").status_code == 200


def test_trading_flow_book_trades_ticker_and_account(client: TestClient, tokens: dict[str, str]) -> None:
    placed = client.post(
        "/orders", json=order("alice", "sell", "1.5", "100000.5"), headers=auth(tokens["alice"])
    )
    assert placed.status_code == 200, placed.text
    ask_id = placed.json()["order_id"]
    book = client.get("/book/BTC-PERP").json()
    assert book["asks"] == [["100000.5", "1.500", 1]] and book["bids"] == []
    taken = client.post(
        "/orders", json=order("bob", "buy", "0.5", "100001", time_in_force="ioc"), headers=auth(tokens["bob"])
    )
    assert taken.status_code == 200 and any(e["type"] == "Trade" for e in taken.json()["events"])
    assert client.get("/book/BTC-PERP").json()["asks"] == [["100000.5", "1.000", 1]]
    trades = client.get("/trades/BTC-PERP").json()
    assert (
        trades[0]["price"] == "100000.5"
        and trades[0]["quantity"] == "0.500"
        and trades[0]["aggressor"] == "buy"
    )
    ticker = client.get("/ticker/BTC-PERP").json()
    assert ticker["best_ask"] == "100000.5" and ticker["last_price"] == "100000.5"
    bob = client.get("/accounts/bob", headers=auth(tokens["bob"])).json()
    assert bob["positions"] == [
        {
            "symbol": "BTC-PERP",
            "quantity": "0.500",
            "average_entry_price": "100000.5",
            "cost_micro": 50_000_250_000,
            "realised_pnl_micro": 0,
        }
    ]
    alice = client.get(
        "/accounts/alice", headers=auth(tokens["risk"])
    ).json()  # a risk officer reads any account
    assert [o["order_id"] for o in alice["open_orders"]] == [ask_id]
    assert alice["open_orders"][0]["filled_quantity"] == "0.500"
    replaced = client.post(
        f"/orders/{ask_id}/replace",
        json={"account": "alice", "quantity": "1.2", "price": "100002"},
        headers=auth(tokens["alice"]),
    )
    assert replaced.status_code == 200 and replaced.json()["events"][0]["type"] == "OrderReplaced"
    cancelled = client.delete(f"/orders/{ask_id}", params={"account": "alice"}, headers=auth(tokens["alice"]))
    assert cancelled.status_code == 200 and client.get("/book/BTC-PERP").json()["asks"] == []
    again = client.delete(f"/orders/{ask_id}", params={"account": "alice"}, headers=auth(tokens["alice"]))
    assert again.status_code == 409 and again.json()["code"] == "too_late_to_cancel"


def test_authentication_and_roles(client: TestClient, tokens: dict[str, str]) -> None:
    body = order("alice", "buy", "0.1", "90000")
    assert client.post("/orders", json=body).status_code == 401
    bad = client.post("/orders", json=body, headers=auth("vk_nope.secret"))
    assert bad.status_code == 401 and bad.json()["code"] == "bad_api_key"
    other = client.post("/orders", json=body, headers=auth(tokens["bob"]))
    assert other.status_code == 403 and other.json()["code"] == "account_not_permitted"
    wrong_role = client.post("/orders", json=body, headers=auth(tokens["risk"]))
    assert wrong_role.status_code == 403 and wrong_role.json()["code"] == "wrong_role"
    assert client.get("/accounts/alice", headers=auth(tokens["bob"])).status_code == 403
    assert client.get("/accounts/alice").status_code == 401


def test_bad_input_gets_a_useful_4xx(client: TestClient, tokens: dict[str, str]) -> None:
    headers = auth(tokens["alice"])
    tick = client.post("/orders", json=order("alice", "buy", "0.1", "90000.3"), headers=headers)
    assert tick.status_code == 400 and tick.json()["code"] == "invalid_price_tick"
    lot = client.post("/orders", json=order("alice", "buy", "0.0005", "90000"), headers=headers)
    assert lot.status_code == 400 and lot.json()["code"] == "invalid_qty_lot"
    malformed = client.post(
        "/orders",
        content=b'{"account": "alice", "side": ',
        headers={**headers, "content-type": "application/json"},
    )
    assert malformed.status_code == 422 and "json" in malformed.text.lower()
    missing = client.post("/orders", json={"account": "alice", "side": "buy"}, headers=headers)
    assert missing.status_code == 422
    fields = {tuple(d["loc"])[-1] for d in missing.json()["detail"]}
    assert {"symbol", "quantity"} <= fields
    unknown_field = client.post(
        "/orders", json={**order("alice", "buy", "0.1", "90000"), "leverage": 100}, headers=headers
    )
    assert unknown_field.status_code == 422
    first = client.post(
        "/orders", json=order("alice", "buy", "0.1", "90000", client_order_id="x1"), headers=headers
    )
    assert first.status_code == 200
    duplicate = client.post(
        "/orders", json=order("alice", "buy", "0.1", "90000", client_order_id="x1"), headers=headers
    )
    assert duplicate.status_code == 409 and duplicate.json()["code"] == "duplicate_client_order_id"
    too_big = client.post("/orders", json=order("alice", "buy", "490", "100000"), headers=headers)
    assert too_big.status_code == 422 and too_big.json()["code"] == "insufficient_margin"


def test_rate_limit_refuses_with_429_and_never_queues(client: TestClient, tokens: dict[str, str]) -> None:
    codes = [client.get("/accounts/alice", headers=auth(tokens["slow"])).status_code for _ in range(6)]
    assert codes[:3] == [200, 200, 200] and 429 in codes[3:]
    limited = client.get("/accounts/alice", headers=auth(tokens["slow"]))
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["code"] == "rate_limited"


def test_orderbook_stream_snapshot_then_gapless_deltas(client: TestClient, tokens: dict[str, str]) -> None:
    client.post("/orders", json=order("alice", "sell", "1", "100010"), headers=auth(tokens["alice"]))
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"op": "subscribe", "channel": "orderbook@BTC-PERP"})
        assert ws.receive_json() == {"op": "subscribed", "channel": "orderbook@BTC-PERP"}
        snapshot = ws.receive_json()
        assert snapshot["type"] == "snapshot" and snapshot["asks"] == [[200_020, 1000, 1]]
        for price in ("100011", "100012", "100013"):
            client.post("/orders", json=order("alice", "sell", "1", price), headers=auth(tokens["alice"]))
        seqs = [snapshot["delta_seq"]]
        for _ in range(3):
            delta = ws.receive_json()
            assert delta["type"] == "delta"
            seqs.append(delta["delta_seq"])
        assert seqs == list(range(seqs[0], seqs[0] + 4))  # consecutive: a client would detect a gap
        ws.send_json({"op": "subscribe", "channel": "orderbook@NOPE"})
        assert ws.receive_json()["code"] == "unknown_instrument"
        ws.send_text("not json")
        assert ws.receive_json()["code"] == "bad_message"


def test_account_stream_needs_a_key_that_may_read_it(client: TestClient, tokens: dict[str, str]) -> None:
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"op": "subscribe", "channel": "account@alice"})
        assert ws.receive_json()["code"] == "not_permitted"
        ws.send_json({"op": "auth", "key": tokens["alice"]})
        assert ws.receive_json()["op"] == "authenticated"
        ws.send_json({"op": "subscribe", "channel": "account@alice"})
        assert ws.receive_json()["op"] == "subscribed"
        client.post("/orders", json=order("alice", "buy", "0.1", "90000"), headers=auth(tokens["alice"]))
        message = ws.receive_json()
        assert message["channel"] == "account@alice" and message["data"]["type"] == "OrderAccepted"


def test_metrics(client: TestClient) -> None:
    text = client.get("/metrics").text
    assert "venue_commands_total" in text and "venue_journal_commits_total" in text
    assert "venue_intake_queue_depth" in text and "venue_refused_unjournaled_total 0.0" in text
    # the listing at start went through the journal: its commits are in the latency histogram
    commits = float(re.search(r"^venue_journal_commits_total (\S+)$", text, re.M)[1])  # type: ignore[index]
    assert commits >= 1
    assert f'venue_journal_commit_latency_seconds_bucket{{le="+Inf"}} {commits}' in text
    assert f"venue_journal_commit_latency_seconds_count {commits}" in text
    assert 'venue_journal_commit_latency_seconds_bucket{le="0.001"}' in text
    # primed at start: fresh marks for both underlyings
    assert (
        'venue_marks_stale{underlying="BTC"} 0.0' in text
        and 'venue_mark_age_seconds{underlying="ETH"}' in text
    )


def test_a_restart_serves_the_same_book_and_accounts(settings: VenueSettings, tokens: dict[str, str]) -> None:
    with TestClient(create_app(settings)) as client:
        fund(client)
        client.post("/orders", json=order("alice", "sell", "1", "100010"), headers=auth(tokens["alice"]))
        client.post("/orders", json=order("bob", "buy", "0.4", "100010"), headers=auth(tokens["bob"]))
        before = (
            client.get("/book/BTC-PERP").json(),
            client.get("/accounts/bob", headers=auth(tokens["bob"])).json(),
        )
    with TestClient(create_app(settings)) as client:
        after = (
            client.get("/book/BTC-PERP").json(),
            client.get("/accounts/bob", headers=auth(tokens["bob"])).json(),
        )
    # The restarted venue marks its underlyings before trading again: the same state, at a later seq.
    for view_after, view_before in zip(after, before, strict=True):
        assert view_after.pop("seq") > view_before.pop("seq")
    assert after == before


def test_order_status_and_trade_history_from_the_derived_records(
    client: TestClient, tokens: dict[str, str]
) -> None:
    alice, bob = auth(tokens["alice"]), auth(tokens["bob"])
    resting = client.post("/orders", json=order("alice", "sell", "1", "100010"), headers=alice).json()
    client.post("/orders", json=order("bob", "buy", "0.4", "100010"), headers=bob)
    gone = client.post("/orders", json=order("alice", "buy", "0.1", "90000"), headers=alice).json()
    client.delete(f"/orders/{gone['order_id']}", params={"account": "alice"}, headers=alice)
    venue = client.app.state.venue  # type: ignore[attr-defined]
    deadline = time.monotonic() + 5  # the projection follows the journal in a task of its own
    while venue.records.projected_seq < venue.readmodel.last_seq and time.monotonic() < deadline:
        time.sleep(0.02)
    cancelled = client.get(f"/orders/{gone['order_id']}", params={"account": "alice"}, headers=alice).json()
    assert cancelled["status"] == "cancelled" and cancelled["reason"] == 6001
    partly = client.get(f"/orders/{resting['order_id']}", params={"account": "alice"}, headers=alice).json()
    assert (partly["status"], partly["cum_lots"], partly["leaves_lots"]) == ("open", 400, 600)
    foreign = client.get(f"/orders/{resting['order_id']}", params={"account": "bob"}, headers=bob)
    assert foreign.status_code == 404
    history = client.get("/accounts/bob/trades", headers=bob).json()
    assert len(history) == 1 and history[0]["taker_account"] == "bob" and history[0]["qty_lots"] == 400


def test_margin_reports_for_risk_officers(client: TestClient, tokens: dict[str, str]) -> None:
    client.post("/orders", json=order("alice", "sell", "2", "100000"), headers=auth(tokens["alice"]))
    filled = client.post("/orders", json=order("bob", "buy", "2", "100000"), headers=auth(tokens["bob"]))
    assert filled.status_code == 200, filled.text
    report = client.get("/risk/accounts/bob", headers=auth(tokens["risk"])).json()
    assert report["account"] == "bob" and report["margin_mode"] == "standard"
    assert report["parameters_version"] and report["maintenance_margin"] > 0
    btc = report["underlyings"][0]
    assert btc["underlying"] == "BTC" and btc["mark_time"] and len(btc["scenarios"]) == 35
    # Long 2 BTC of perpetual on 1M USD survives even a 95% fall: no level within range.
    assert btc["liquidation"] == {
        "below": None, "above": None, "below_pct": None, "above_pct": None, "already_below": False
    }  # fmt: skip
    assert report["positions"][0]["symbol"] == "BTC-PERP" and report["positions"][0]["delta"] == 2.0
    own = client.get("/risk/accounts/bob", headers=auth(tokens["bob"]))
    assert own.status_code == 200
    assert client.get("/risk/accounts/bob", headers=auth(tokens["alice"])).status_code == 403
    csv_text = client.get("/risk/accounts/bob", params={"format": "csv"}, headers=auth(tokens["risk"])).text
    assert csv_text.startswith("section,field,value") and "BTC-PERP" in csv_text
    page = client.get("/risk/accounts/bob", params={"format": "html"}, headers=auth(tokens["risk"]))
    assert page.headers["content-type"].startswith("text/html") and "plotly" in page.text
    assert client.get("/risk/accounts", headers=auth(tokens["alice"])).status_code == 403
    ranking = client.get("/risk/accounts", headers=auth(tokens["risk"])).json()
    assert {row["account"] for row in ranking["accounts"]} == {"alice", "bob"}
    assert ranking["open_interest"]["BTC-PERP"] == 2.0 and ranking["stale_marks"] == []
    missing = client.get("/risk/accounts/nobody", headers=auth(tokens["risk"]))
    assert missing.status_code == 404 and missing.json()["code"] == "unknown_account"


def test_an_admin_marks_an_underlying_by_hand(settings: VenueSettings, tokens: dict[str, str]) -> None:
    assert settings.api_keys_file is not None
    admin = KeyStore(settings.api_keys_file).create({Role.ADMIN}, set())[0]
    manual = settings.model_copy(update={"mark_feed": "none"})
    with TestClient(create_app(manual)) as client:
        fund(client)
        refused = client.post(
            "/orders", json=order("alice", "sell", "1", "100000"), headers=auth(tokens["alice"])
        )
        assert refused.json()["code"] == "no_mark", refused.text  # no risk before the first mark
        smile = {"expiry": "2026-12-25T08:00:00Z", "forward": 95_200, "a": 0.01, "b": 0.03, "rho": -0.1,
                 "m": 0.0, "sigma": 0.4}  # fmt: skip
        body = {"index": 95_000, "smiles": [smile]}
        assert client.post("/admin/marks/BTC", json=body, headers=auth(tokens["alice"])).status_code == 403
        marked = client.post("/admin/marks/BTC", json=body, headers=auth(admin))
        assert marked.status_code == 200, marked.text
        assert marked.json()["events"][0]["type"] == "MarksUpdated"
        bad = client.post("/admin/marks/BTC", json={**body, "smiles": [{**smile, "b": 1.9, "rho": 0.5}]},
                          headers=auth(admin))  # fmt: skip
        assert bad.status_code == 422 and bad.json()["code"] == "invalid_smile"
        assert client.post("/admin/marks/SOL", json=body, headers=auth(admin)).status_code == 404
        placed = client.post(
            "/orders", json=order("alice", "sell", "1", "95000"), headers=auth(tokens["alice"])
        )
        assert placed.status_code == 200, placed.text
