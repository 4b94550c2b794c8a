"""The risk officer's dashboard in headless Chromium (Debian's chromium and chromium-driver) against a
real `venue run`: the ranking sorts, the drill-down's charts render (checked on screenshots), and a
liquidation reaches the page live over the WebSocket."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.venue.venue_process import free_port, start, wait_ready
from venue.api.keys import KeyStore, Role

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PANEL = (0x16, 0x1D, 0x26)  # the charts' background (dashboard.css --panel)


def until(check: Callable[[], Any], what: str, timeout_s: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def venue(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    store = KeyStore(tmp_path / "keys.toml")
    keys = {
        a: store.create({Role.TRADER}, {a}, rate_per_s=1_000, burst=1_000)[0]
        for a in ("alice", "bob", "carol")
    }
    keys["risk"] = store.create({Role.RISK_OFFICER}, set())[0]
    keys["admin"] = store.create({Role.ADMIN}, set())[0]
    port = free_port()
    env = {
        **os.environ,
        "VENUE_DATA_DIR": str(tmp_path / "var"),
        "VENUE_API_KEYS_FILE": str(tmp_path / "keys.toml"),
        "VENUE_HTTP_PORT": str(port),
        "VENUE_MARK_FEED": "none",  # marks by hand, so the crash below is ours alone
        "VENUE_FIX_ENABLED": "false",
    }
    log = tmp_path / "venue.log"
    process = start(env, log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, process, log)
        yield base, keys
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    options = Options()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1700,1300", f"--user-data-dir={tmp_path / 'chromium'}"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


class Client:
    def __init__(self, base: str, keys: dict[str, str]) -> None:
        self.http = httpx.Client(base_url=base, timeout=10)
        self.keys = keys

    def post(self, path: str, body: dict[str, Any], who: str) -> dict[str, Any]:
        answer = self.http.post(path, json=body, headers={"X-API-Key": self.keys[who]})
        assert answer.status_code == 200, f"{path}: {answer.text}"
        result: dict[str, Any] = answer.json()
        return result

    def mark(self, index: float, expiries: list[int]) -> None:
        smiles = [
            {"expiry": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(e // 10**9)), "forward": index,
             "a": 0.02, "b": 0.05, "rho": -0.2, "m": 0.0, "sigma": 0.3}
            for e in expiries
        ]  # fmt: skip
        self.post("/admin/marks/BTC", {"index": index, "smiles": smiles}, "admin")

    def order(self, who: str, symbol: str, side: str, qty: str, price: str) -> dict[str, Any]:
        body = {"account": who, "symbol": symbol, "side": side, "quantity": qty, "price": price}
        return self.post("/orders", body, who)

    def mark_price(self, symbol: str) -> str:
        return str(self.http.get(f"/ticker/{symbol}").json()["mark_price"])


def seed(client: Client) -> tuple[list[int], list[str]]:
    """alice makes the markets; bob is long 5 BTC of perpetual on 52,000 (near the edge); carol holds
    options over two expiries. Returns the expiries marked and carol's option symbols."""
    options = [i for i in client.http.get("/instruments", params={"underlying": "BTC"}).json()
               if i["kind"] == "option"]  # fmt: skip
    expiries = sorted({i["expiry_ns"] for i in options})[:6]
    for account, amount in (("alice", "50000000"), ("bob", "52000"), ("carol", "2000000")):
        client.post(
            "/admin/deposits", {"account": account, "amount": amount, "reference": f"fund-{account}"}, "admin"
        )
    client.mark(100_000, expiries)
    client.order("alice", "BTC-PERP", "sell", "5", "100000")
    client.order("bob", "BTC-PERP", "buy", "5", "100000")
    client.order("alice", "BTC-PERP", "buy", "10", "96000")  # where bob's liquidation will sell
    held = []
    for expiry, option_type, side, qty in (
        (expiries[1], "C", "buy", "2"),
        (expiries[3], "P", "sell", "3"),
    ):
        series = [i for i in options if i["expiry_ns"] == expiry and i["option_type"] == option_type]
        symbol = min(series, key=lambda i: abs(float(i["strike"]) - 100_000))["symbol"]
        price = client.mark_price(symbol)
        client.order("alice", symbol, "sell" if side == "buy" else "buy", qty, price)
        client.order("carol", symbol, side, qty, price)
        held.append(symbol)
    return expiries, held


def coloured_share(png: bytes) -> tuple[float, int]:
    """Share of a screenshot's pixels that are not the panel background, and how many colours it has."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    pixels = list(image.get_flattened_data())
    painted = sum(1 for p in pixels if max(abs(p[i] - PANEL[i]) for i in range(3)) > 12)
    return painted / len(pixels), len(set(pixels))


# The table is redrawn on every push: read it in one script, never through element handles that go stale.
ROWS = "return [...document.querySelectorAll('#accounts tbody tr')].map(r => r.dataset.account)"
ROW = "return document.querySelector(`#accounts tbody tr[data-account='${arguments[0]}']`)"


def rows(browser: WebDriver) -> list[str]:
    return [str(a) for a in browser.execute_script(ROWS)]


def row_text(browser: WebDriver, account: str, column: int) -> str:
    return str(browser.execute_script(ROW + "?.children[arguments[1]].textContent ?? ''", account, column))


def row_class(browser: WebDriver, account: str) -> str:
    return str(browser.execute_script(ROW + "?.className ?? ''", account))


def test_the_dashboard_ranks_drills_down_draws_and_goes_live(
    venue: tuple[str, dict[str, str]], browser: WebDriver, tmp_path: Path
) -> None:
    base, keys = venue
    client = Client(base, keys)
    expiries, held = seed(client)

    assert client.http.get("/dashboard").headers["content-type"].startswith("text/html")
    browser.get(f"{base}/dashboard#key={keys['risk']}&account=carol")
    until(lambda: browser.find_element(By.ID, "status").text == "live", "the socket to authenticate")
    until(lambda: browser.execute_script("return document.body.dataset.ranking") == "ready", "the ranking")
    until(lambda: set(rows(browser)) >= {"alice", "bob", "carol"}, "every account in the ranking")
    # ranked by MM usage, highest first: bob (a leveraged perpetual) leads
    assert rows(browser)[0] == "bob"
    assert row_class(browser, "bob") in {"warn", "danger"}  # 62% of equity: amber
    browser.find_element(By.CSS_SELECTOR, "th[data-key=account]").click()
    assert rows(browser) == sorted(rows(browser))  # by name, ascending
    ranking = client.http.get("/risk/accounts", headers={"X-API-Key": keys["risk"]}).json()["accounts"]
    by_equity = [r["account"] for r in sorted(ranking, key=lambda r: r["equity"])]
    browser.find_element(By.CSS_SELECTOR, "th[data-key=equity]").click()  # a number: highest first
    assert rows(browser) == by_equity[::-1]
    browser.find_element(By.CSS_SELECTOR, "th[data-key=equity]").click()  # again: lowest first
    assert rows(browser) == by_equity

    # carol's drill-down: her two option positions, the three charts drawn
    until(lambda: browser.execute_script("return document.body.dataset.charts") == "ready", "the charts")
    assert browser.find_element(By.ID, "detail-account").text == "carol"
    table = browser.find_element(By.ID, "positions").text
    assert all(symbol in table for symbol in held)
    for chart in ("heatmap", "curve", "greeks"):
        element = browser.find_element(By.ID, chart)
        assert element.find_elements(By.CSS_SELECTOR, ".main-svg"), f"{chart}: plotly drew nothing"
        png = element.screenshot_as_png
        (tmp_path / f"{chart}.png").write_bytes(png)
        share, colours = coloured_share(png)
        assert share > 0.04 and colours > 30, f"{chart}: {share:.1%} painted, {colours} colours"
    heat = browser.find_element(By.ID, "heatmap")
    assert heat.find_elements(By.CSS_SELECTOR, ".heatmaplayer image, .hm image, image"), "no heatmap image"
    greek_bars = browser.find_elements(By.CSS_SELECTOR, "#greeks .bars .point")
    assert len(greek_bars) >= 8  # 4 Greeks x 2 expiries
    browser.save_screenshot(str(tmp_path / "dashboard.png"))

    # the market falls 4.5%: bob goes below maintenance and is liquidated; the page hears it live
    client.mark(95_500, expiries)
    until(
        lambda: "LiquidationStarted" in browser.find_element(By.ID, "liquidations").text,
        "the liquidation feed",
    )
    until(lambda: "bob" in browser.find_element(By.ID, "liquidations").text, "bob in the feed")
    # the socket's ranking follows: bob's position was cut, his row shows the new equity
    after = client.http.get("/risk/accounts", headers={"X-API-Key": keys["risk"]}).json()
    bob = next(r for r in after["accounts"] if r["account"] == "bob")

    until(lambda: row_text(browser, "bob", 2) == f"{bob['equity']:,.0f}", "bob's new equity on the page")
    # clicking a row drills down into that account
    browser.execute_script(ROW.replace("return ", "") + ".click()", "bob")
    until(lambda: browser.find_element(By.ID, "detail-account").text == "bob", "bob's drill-down")
    until(lambda: "BTC-PERP" in browser.find_element(By.ID, "positions").text or
          "no positions" in browser.find_element(By.ID, "levels").text, "bob's positions")  # fmt: skip


def test_the_dashboard_data_needs_a_risk_officer(venue: tuple[str, dict[str, str]]) -> None:
    base, keys = venue
    http = httpx.Client(base_url=base, timeout=10)
    assert http.get("/dashboard/dashboard.js").status_code == 200
    assert http.get("/dashboard/plotly.min.js").headers["content-type"].startswith("text/javascript")
    assert http.get("/risk/accounts", headers={"X-API-Key": keys["alice"]}).status_code == 403
    deposit = {"account": "alice", "amount": "1000", "reference": "fund-alice"}
    assert http.post("/admin/deposits", json=deposit, headers={"X-API-Key": keys["admin"]}).status_code == 200
    from websockets.sync.client import connect

    with connect(f"{base.replace('http', 'ws')}/ws") as ws:
        ws.send(json.dumps({"op": "auth", "key": keys["alice"]}))
        assert '"authenticated"' in str(ws.recv(timeout=5))
        ws.send('{"op": "subscribe", "channel": "risk@all"}')
        assert '"not_permitted"' in str(ws.recv(timeout=5))
        ws.send('{"op": "subscribe", "channel": "risk@bob"}')
        assert '"not_permitted"' in str(ws.recv(timeout=5))
        ws.send('{"op": "subscribe", "channel": "risk@alice"}')
        assert '"subscribed"' in str(ws.recv(timeout=5))
