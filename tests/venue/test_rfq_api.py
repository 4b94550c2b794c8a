"""RFQ over REST and the WebSocket against a real venue: a taker, one maker on each front door."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from config.settings import VenueSettings
from matching.commands import Deposit
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
    return {
        "alice": store.create({Role.TRADER}, {"alice"})[0],
        "mm1": store.create({Role.MARKET_MAKER}, {"mm1"})[0],
        "mm2": store.create({Role.MARKET_MAKER}, {"mm2"})[0],
    }


@pytest.fixture
def client(settings: VenueSettings, tokens: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        venue = test_client.app.state.venue  # type: ignore[attr-defined]
        for account in ("alice", "mm1", "mm2"):
            deposit = Deposit(account=account, amount_micro=10**12, reference=account)
            test_client.portal.call(venue.runtime.submit, deposit)  # type: ignore[union-attr]
        yield test_client


def auth(token: str) -> dict[str, str]:
    return {"X-API-Key": token}


def call_and_mark(client: TestClient) -> tuple[str, Any]:
    venue = client.app.state.venue  # type: ignore[attr-defined]
    inst = next(
        i
        for s, i in sorted(venue.sequencer.instruments.items())
        if s.startswith("BTC-") and s.endswith("-C") and i.mark_ticks > 100
    )
    return inst.symbol, inst


def price(inst: Any, ticks_from_mark: int) -> str:
    return str(inst.ticks_to_price(inst.mark_ticks + ticks_from_mark))


def receive_until(ws: Any, kind: str) -> dict[str, Any]:
    for _ in range(50):
        message = ws.receive_json()
        if message.get("data", {}).get("type") == kind or message.get("op") == kind:
            return message
    raise AssertionError(f"no {kind}")


def test_auction_with_a_websocket_maker_and_a_rest_maker(client: TestClient, tokens: dict[str, str]) -> None:
    symbol, inst = call_and_mark(client)
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"op": "auth", "key": tokens["mm1"]})
        assert ws.receive_json()["op"] == "authenticated"
        ws.send_json({"op": "subscribe", "channel": "rfq@mm1"})
        assert ws.receive_json()["op"] == "subscribed"
        body = {"account": "alice", "client_rfq_id": "a-1", "legs": [{"symbol": symbol, "side": "buy"}],
                "size": "1", "window_ms": 300, "max_price": "100000000"}  # fmt: skip
        created = client.post("/rfq", json=body, headers=auth(tokens["alice"]))
        assert created.status_code == 200, created.text
        rfq_id = created.json()["rfq_id"]

        request = receive_until(ws, "RfqOpened")["data"]
        assert request["rfq_id"] == rfq_id
        for hidden in ("account", "client_rfq_id", "counterparties", "max_price_micro"):
            assert hidden not in request  # the maker never learns who asks, or their limits
        ws.send_json({"op": "rfq_quote", "rfq_id": rfq_id, "account": "mm1", "client_quote_id": "w1",
                      "bid": [price(inst, -10)], "offer": [price(inst, 10)]})  # fmt: skip
        ack = receive_until(ws, "rfq_quote_ack")
        ws_quote = ack["quote_id"]
        rest = client.post(
            f"/rfq/{rfq_id}/quotes",
            json={"account": "mm2", "bid": [price(inst, -5)], "offer": [price(inst, 20)]},
            headers=auth(tokens["mm2"]),
        )
        assert rest.status_code == 200, rest.text
        rest_quote = rest.json()["quote_id"]
        # the taker sees nothing until the window closes
        early = client.get(f"/rfq/{rfq_id}", params={"account": "alice"}, headers=auth(tokens["alice"]))
        assert early.json()["window_closed"] is False and "quotes" not in early.json()
        too_early = {"account": "alice", "quote_id": ws_quote, "side": "buy"}
        refused = client.post(f"/rfq/{rfq_id}/accept", json=too_early, headers=auth(tokens["alice"]))
        assert refused.status_code == 409 and refused.json()["code"] == "rfq_window_open"
        view: dict[str, Any] = {}
        for _ in range(100):
            time.sleep(0.02)
            view = client.get(
                f"/rfq/{rfq_id}", params={"account": "alice"}, headers=auth(tokens["alice"])
            ).json()
            if view["window_closed"]:
                break
        assert (view["best_offer_quote_id"], view["best_bid_quote_id"]) == (ws_quote, rest_quote)
        assert [q["quote_id"] for q in view["quotes"]] == [ws_quote, rest_quote]
        assert "mm1" not in str(view) and "mm2" not in str(view)

        taken = client.post(
            f"/rfq/{rfq_id}/accept",
            json={"account": "alice", "quote_id": ws_quote, "side": "buy", "limit_price": view["best_offer"]},
            headers=auth(tokens["alice"]),
        )
        assert taken.status_code == 200, taken.text
        assert taken.json()["price"] == view["best_offer"]
        trade = receive_until(ws, "BlockTrade")["data"]  # the legs come before the summary
        assert "taker_account" not in trade and trade["symbol"] == symbol
        executed = receive_until(ws, "RfqExecuted")["data"]
        assert "taker_account" not in executed and executed["side"] == -1  # the maker sold
        ws.send_json({"op": "rfq_cancel_quote", "rfq_id": rfq_id, "account": "mm1"})
        gone_quote = receive_until(ws, "error")  # the RFQ filled: no live quote left to cancel
        assert gone_quote["request"] == "rfq_cancel_quote" and gone_quote["code"] == "quote_not_found"

    tape = client.get(f"/trades/{symbol}").json()
    assert tape[0]["block"] is True and tape[0]["aggressor"] == "buy"
    account = client.get("/accounts/alice", headers=auth(tokens["alice"])).json()
    assert {p["symbol"]: p["quantity"] for p in account["positions"]}[symbol] == "1.00"
    gone = client.get(f"/rfq/{rfq_id}", params={"account": "alice"}, headers=auth(tokens["alice"]))
    assert gone.status_code == 404


def test_refusals_and_permissions(client: TestClient, tokens: dict[str, str]) -> None:
    symbol, inst = call_and_mark(client)
    alice = auth(tokens["alice"])
    leg = {"symbol": symbol, "side": "buy"}
    bad_size = client.post("/rfq", json={"account": "alice", "legs": [leg], "size": "0.00001"}, headers=alice)
    assert bad_size.status_code == 400 and bad_size.json()["code"] == "invalid_qty_lot"
    unknown = {"account": "alice", "legs": [{"symbol": "BTC-NOPE", "side": "buy"}], "size": "1"}
    assert client.post("/rfq", json=unknown, headers=alice).json()["code"] == "unknown_instrument"
    too_many = client.post("/rfq", json={"account": "alice", "legs": [leg] * 21, "size": "1"}, headers=alice)
    assert too_many.status_code == 422  # the schema caps legs at 20
    mixed = {"account": "alice", "size": "1", "legs": [leg, {"symbol": "ETH-PERP", "side": "sell"}]}
    assert client.post("/rfq", json=mixed, headers=alice).json()["code"] == "rfq_mixed_underlyings"
    other = client.post("/rfq", json={"account": "mm1", "legs": [leg], "size": "1"}, headers=alice)
    assert other.status_code == 403
    only_mm2 = {"account": "alice", "legs": [leg], "size": "1", "counterparties": ["mm2"]}
    rfq_id = client.post("/rfq", json=only_mm2, headers=alice).json()["rfq_id"]
    not_invited = client.post(
        f"/rfq/{rfq_id}/quotes",
        json={"account": "mm1", "offer": [price(inst, 1)]},
        headers=auth(tokens["mm1"]),
    )
    assert not_invited.status_code == 404
    takers_cannot_quote = client.post(
        f"/rfq/{rfq_id}/quotes", json={"account": "alice", "offer": [price(inst, 1)]}, headers=alice
    )
    assert takers_cannot_quote.status_code == 403
    listed = client.get("/rfq", params={"account": "mm2"}, headers=auth(tokens["mm2"])).json()
    assert [r["rfq_id"] for r in listed] == [rfq_id] and "counterparties" not in listed[0]
    assert client.get("/rfq", params={"account": "mm1"}, headers=auth(tokens["mm1"])).json() == []
    withdrawn = client.delete(f"/rfq/{rfq_id}", params={"account": "alice"}, headers=alice)
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "cancelled"


def test_market_maker_protection_endpoints(client: TestClient, tokens: dict[str, str]) -> None:
    mm1 = auth(tokens["mm1"])
    body = {"interval_ms": 10_000, "quantity_limit": "5", "delta_limit": "2.5", "frozen_ms": 0}
    set_ = client.put("/accounts/mm1/mmp/BTC", json=body, headers=mm1)
    assert set_.status_code == 200, set_.text
    assert (set_.json()["quantity_limit"], set_.json()["delta_limit"], set_.json()["frozen"]) == (
        "5",
        "2.5",
        False,
    )
    assert client.put("/accounts/mm1/mmp/SOL", json=body, headers=mm1).status_code == 400
    assert client.put("/accounts/mm1/mmp/BTC", json=body, headers=auth(tokens["alice"])).status_code == 403
    reset = client.delete("/accounts/mm1/mmp/BTC/freeze", headers=mm1)
    assert reset.status_code == 200 and reset.json()["frozen"] is False
