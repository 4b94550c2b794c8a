"""A day at the venue: every front door, the risk engine and the chain, against a real `venue run`.

The demo starts its own chain (anvil: it must outlive the operator) and its own venue process on it
(settlement on, FIX on a free port), then, printing as it goes:

1. funds everyone through the vault: the custodial desks HF1, HF2, MM1..MM3 by ``depositFor`` from the
   treasury (anvil's first account, the token's owner), the wallet user by its own ``deposit``;
2. three market makers quote the book: MM1 over FIX, MM2 and MM3 over REST;
3. two hedge funds trade over FIX: HF1 a limit order, its replace and cancel, a market order and a stop;
   HF2 a leveraged perpetual long;
4. the wallet user asks for quotes on a call spread; MM1 answers over FIX, MM2 and MM3 over WebSocket;
   the best offer is accepted as a block trade;
5. the market falls in steps (hand marks the simulated feed then follows); the makers requote, HF2
   drifts toward maintenance margin and is liquidated (the liquidation feed over WebSocket);
6. batches settle on chain; the wallet user withdraws with an EIP-712 signature;
7. the operator disappears (the venue is killed with SIGKILL): the user files a withdrawal request on
   chain, the exit timeout passes, anyone freezes the vault, and the user exits with the Merkle proof
   the API served before the venue stopped;
8. the risk report as of the operator's last batch.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import websockets
from rich.console import Console
from rich.table import Table
from web3 import Web3

from config.settings import DEFAULT_WALLETS_PATH
from contracts.anvil import free_port, start_anvil, stop_anvil
from contracts.loader import at
from risk.marks import flat_smiles
from settlement.wallets import WalletRegistry
from settlement.withdrawal_sig import sign
from venue.api.keys import KeyStore, Role
from venue.chain import deposit_test_usdc
from venue.demo.fix_actor import FixActor, now
from venue.demo.maker import requote

# anvil's second dev account (the public test mnemonic): the wallet user who trades, withdraws and exits
USER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
USER = Web3.to_checksum_address("0x70997970C51812dc3A010C7d01b50e0d17dc79C8")
USDC = 1_000_000
PERP = "BTC-PERP"
EXIT_TIMEOUT_S = 600
DESKS = {"HF1": 1_000_000, "HF2": 60_000, "MM1": 5_000_000, "MM2": 5_000_000, "MM3": 5_000_000}


class DemoError(RuntimeError):
    """A step did not do what it should; the message says which and why."""


@dataclass
class Demo:
    console: Console
    folder: Path
    summary: dict[str, Any] = field(default_factory=dict)

    # -- plumbing ---------------------------------------------------------------------------------

    def step(self, title: str) -> None:
        self.console.rule(f"[bold]{title}")

    def say(self, text: str) -> None:
        self.console.print(f"  {text}")

    async def until(self, check: Callable[[], Awaitable[Any]], what: str, timeout_s: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = await check()
            if value:
                return value
            await asyncio.sleep(0.2)
        raise DemoError(f"timed out waiting for {what}")

    async def get(self, path: str, who: str = "admin", **params: Any) -> Any:
        answer = await self.http.get(path, params=params, headers={"X-API-Key": self.keys[who]})
        if answer.status_code != 200:
            raise DemoError(f"GET {path}: {answer.status_code} {answer.text}")
        return answer.json()

    async def post(self, path: str, body: dict[str, Any], who: str, ok: tuple[int, ...] = (200,)) -> Any:
        answer = await self.http.post(path, json=body, headers={"X-API-Key": self.keys[who]})
        if answer.status_code not in ok:
            raise DemoError(f"POST {path}: {answer.status_code} {answer.text}")
        return answer.json()

    async def mark_price(self, symbol: str) -> Decimal:
        ticker = (await self.http.get(f"/ticker/{symbol}")).json()
        return Decimal(ticker["mark_price"])

    def tx(self, call: Any, sender: str) -> Any:
        receipt = self.w3.eth.wait_for_transaction_receipt(call.transact({"from": sender}))
        if receipt["status"] != 1:
            raise DemoError(f"transaction {call.fn_name} from {sender} reverted")
        return receipt

    # -- the day ----------------------------------------------------------------------------------

    async def run(self) -> dict[str, Any]:
        anvil, self.w3 = start_anvil()
        self.processes: list[FixActor] = []
        try:
            await self.open_venue()
            try:
                await self.fund()
                await self.quote_the_book()
                await self.hedge_funds_trade()
                await self.rfq()
                await self.market_falls()
                await self.settle_and_withdraw()
                report = await self.get("/risk/accounts", "risk")
                await self.operator_disappears()
                self.risk_report(report)
            finally:
                for actor in self.processes:
                    await actor.close()
                await self.http.aclose()
                if self.venue.poll() is None:
                    self.venue.send_signal(signal.SIGTERM)
                    self.venue.wait(timeout=30)
        finally:
            stop_anvil(anvil)
        return self.summary

    async def open_venue(self) -> None:
        self.step("The venue")
        rpc = str(self.w3.provider.endpoint_uri)  # type: ignore[attr-defined]
        http_port, self.fix_port = free_port(), free_port()
        keys_file = self.folder / "api_keys.toml"
        store = KeyStore(keys_file)
        self.keys = {
            "admin": store.create({Role.ADMIN}, set(), rate_per_s=1_000, burst=2_000)[0],
            "risk": store.create({Role.RISK_OFFICER}, set(), rate_per_s=1_000, burst=2_000)[0],
            "user": store.create({Role.TRADER}, {USER}, rate_per_s=1_000, burst=2_000)[0],
        }
        for maker in ("MM2", "MM3"):
            self.keys[maker] = store.create({Role.MARKET_MAKER}, {maker}, rate_per_s=1_000, burst=2_000)[0]
        env = {
            **os.environ,
            "VENUE_DATA_DIR": str(self.folder / "var"),
            "VENUE_API_KEYS_FILE": str(keys_file),
            "VENUE_HTTP_PORT": str(http_port),
            "VENUE_FIX_ENABLED": "true",
            "VENUE_FIX_PORT": str(self.fix_port),
            "VENUE_CHAIN_RPC": rpc,
            "VENUE_SETTLEMENT_ENABLED": "true",
            "VENUE_SETTLEMENT_INTERVAL_S": "2",
            "VENUE_EXIT_TIMEOUT_S": str(EXIT_TIMEOUT_S),
            "VENUE_MARK_FEED": "sim",
            "VENUE_MARK_INTERVAL_S": "1",
        }
        log = self.folder / "venue.log"
        self.venue = subprocess.Popen(
            [str(Path(sys.executable).with_name("venue")), "run"], env=env,
            stdout=log.open("ab"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        base = f"http://127.0.0.1:{http_port}"
        self.http = httpx.AsyncClient(base_url=base, timeout=30)

        async def ready() -> bool:
            if self.venue.poll() is not None:
                raise DemoError(f"the venue exited: {log.read_text()[-2000:]}")
            try:
                return (await self.http.get("/ready")).status_code == 200
            except httpx.HTTPError:
                return False

        await self.until(ready, "the venue to start", 90)
        chain = (await self.http.get("/chain")).json()
        self.token = at(self.w3, "CollateralToken", chain["token"])
        self.vault = at(self.w3, "Vault", chain["vault"])
        self.treasury = self.w3.eth.accounts[0]
        self.say(f"venue at {base}  (dashboard: {base}/dashboard#key={self.keys['risk']})")
        self.say(f"FIX at 127.0.0.1:{self.fix_port}; chain {rpc}, vault {chain['vault']}; log {log}")
        self.summary["venue"] = base

    async def fund(self) -> None:
        self.step("Deposits through the vault")
        wallets = WalletRegistry.load(DEFAULT_WALLETS_PATH)
        for desk, amount in DESKS.items():  # custodial desks: the treasury deposits for them
            deposit_test_usdc(self.w3, self.token, self.vault, wallets.address(desk), amount * USDC)
        self.tx(self.token.functions.mint(USER, 100_000 * USDC), self.treasury)
        self.tx(self.token.functions.approve(self.vault.address, 100_000 * USDC), USER)
        self.tx(self.vault.functions.deposit(100_000 * USDC), USER)
        funded = {**DESKS, USER: 100_000}
        for account, amount in funded.items():

            async def credited(account: str = account, amount: int = amount) -> bool:
                answer = await self.http.get(
                    f"/accounts/{account}", headers={"X-API-Key": self.keys["admin"]}
                )
                return answer.status_code == 200 and answer.json()["collateral_micro"] >= amount * USDC

            await self.until(credited, f"the deposit of {account}")
            self.say(f"{account:>44}: {amount:>12,} USDC credited from the chain")
        self.fix = {
            name: await FixActor(
                name, self.fix_port, f"demo-{name.lower()}", self.folder / "fix" / name
            ).start()
            for name in ("HF1", "HF2", "MM1")
        }
        self.processes.extend(self.fix.values())
        self.say("FIX sessions HF1, HF2 and MM1 logged on")

    async def quote_the_book(self, size: str = "3") -> None:
        self.step("Market makers quote the book")
        mark = await self.mark_price(PERP)
        for maker, offset in (("MM2", 10), ("MM3", 20)):
            await self.requote(maker, mark, offset, size)
        await self.mm1_quotes(mark)
        book = (await self.http.get(f"/book/{PERP}", params={"depth": 5})).json()
        self.say(f"{PERP} mark {mark}: best bid {book['bids'][0][0]}, best ask {book['asks'][0][0]}")

    async def requote(self, maker: str, mark: Decimal, offset: int, size: str) -> None:
        for answer in await requote(self.http, self.keys[maker], maker, mark, offset, size):
            if answer.status_code != 200:
                raise DemoError(f"{maker}'s quote was refused: {answer.status_code} {answer.text}")

    async def mm1_quotes(self, mark: Decimal) -> None:
        mm1 = self.fix["MM1"]
        for n, (side, price) in enumerate((("1", mark - 15), ("2", mark + 15))):
            await mm1.send("D", [(11, f"mm1-{time.time_ns()}-{n}"), (55, PERP), (54, side), (38, "2"),
                                 (40, "2"), (44, price), (60, now())])  # fmt: skip
            await mm1.expect("8", t150="0", t55=PERP)

    async def hedge_funds_trade(self) -> None:
        self.step("Hedge funds trade over FIX")
        hf1, hf2 = self.fix["HF1"], self.fix["HF2"]
        mark = await self.mark_price(PERP)
        await hf1.send("D", [(11, "hf1-limit"), (55, PERP), (54, "1"), (38, "1"), (40, "2"),
                             (44, mark - 200), (60, now())])  # fmt: skip
        new = await hf1.expect("8", t11="hf1-limit")
        if new["150"] != "0":
            raise DemoError(f"HF1's limit order was refused: {new.get('58')}")
        self.say(f"HF1 limit buy 1 @ {mark - 200}: resting, order {new['37']}")
        await hf1.send("G", [(11, "hf1-limit-2"), (41, "hf1-limit"), (37, new["37"]), (55, PERP), (54, "1"),
                             (38, "1.5"), (40, "2"), (44, mark - 150), (60, now())])  # fmt: skip
        replaced = await hf1.expect("8", t11="hf1-limit-2")
        outcome = "replaced" if replaced["150"] == "5" else replaced.get("58")
        self.say(f"HF1 replace -> 1.5 @ {mark - 150}: {outcome}")
        await hf1.send("F", [(11, "hf1-cancel"), (41, "hf1-limit-2"), (55, PERP), (54, "1"), (60, now())])
        cancelled = await hf1.expect("8", t11="hf1-cancel")
        self.say(f"HF1 cancel: {'cancelled' if cancelled['150'] == '4' else cancelled.get('58')}")
        await hf1.send(
            "D", [(11, "hf1-market"), (55, PERP), (54, "1"), (38, "2"), (40, "1"), (59, "3"), (60, now())]
        )
        filled = await hf1.expect("8", t11="hf1-market", t39="2")
        self.say(f"HF1 market buy 2: filled at {filled['6']} (average)")
        await hf1.send("D", [(11, "hf1-stop"), (55, PERP), (54, "2"), (38, "2"), (40, "3"),
                             (99, mark - 3_000), (60, now())])  # fmt: skip
        stop = await hf1.expect("8", t11="hf1-stop")
        outcome = "accepted, waiting for its trigger" if stop["150"] == "0" else stop.get("58")
        self.say(f"HF1 protective stop sell 2 @ {mark - 3_000}: {outcome}")
        await hf2.send(
            "D", [(11, "hf2-long"), (55, PERP), (54, "1"), (38, "5"), (40, "1"), (59, "3"), (60, now())]
        )
        long = await hf2.expect("8", t11="hf2-long", t39="2")
        self.say(f"HF2 market buy 5 (about 8x its collateral): filled at {long['6']}")
        self.summary["fix_orders"] = 6

    async def rfq(self) -> None:
        self.step("An RFQ: a call spread, three makers, one over FIX and two over WebSocket")
        options = [i for i in (await self.http.get("/instruments", params={"underlying": "BTC"})).json()
                   if i["kind"] == "option" and i["option_type"] == "C"]  # fmt: skip
        week = time.time_ns() + 6 * 86_400 * 10**9
        expiry = min(
            (i["expiry_ns"] for i in options if i["expiry_ns"] > week), default=options[0]["expiry_ns"]
        )
        index = await self.mark_price(PERP)
        series = sorted((i for i in options if i["expiry_ns"] == expiry), key=lambda i: float(i["strike"]))
        low = min(series, key=lambda i: abs(float(i["strike"]) - float(index)))
        high = min(series, key=lambda i: abs(float(i["strike"]) - float(index) * 1.1))
        legs = [low["symbol"], high["symbol"]]
        marks = [await self.mark_price(s) for s in legs]
        makers = [
            asyncio.create_task(self.ws_maker(m, legs, marks, edge)) for m, edge in (("MM2", 30), ("MM3", 25))
        ]
        fix_maker = asyncio.create_task(self.fix_maker(marks, 35))
        await asyncio.sleep(1.0)  # the makers are listening
        spread = [{"symbol": legs[0], "side": "buy"}, {"symbol": legs[1], "side": "sell"}]
        body = {"account": USER, "legs": spread, "size": "1", "side": "buy", "window_ms": 1500}
        opened = await self.post("/rfq", body, "user")
        rfq_id = opened["rfq_id"]
        self.say(f"{USER} asks for {legs[0]} / {legs[1]} x 1 (RFQ {rfq_id}); window 1.5 s")
        await asyncio.sleep(2.0)
        board = await self.get(f"/rfq/{rfq_id}", "user", account=USER)
        self.say(
            f"{len(board['quotes'])} anonymous quotes; best offer {board['best_offer']} USD for the package"
        )
        accept = {"account": USER, "quote_id": board["best_offer_quote_id"], "side": "buy"}
        filled = await self.post(f"/rfq/{rfq_id}/accept", accept, "user")
        price, legs_traded = filled["price"], filled["legs"]
        self.say(f"accepted quote {filled['quote_id']} at {price} USD: {legs_traded} legs traded as one "
                 "block trade, both sides margin-checked on the package")  # fmt: skip
        for task in (*makers, fix_maker):
            task.cancel()
        self.summary["rfq_quotes"] = len(board["quotes"])

    async def ws_maker(self, maker: str, legs: list[str], marks: list[Decimal], edge: int) -> None:
        """A WebSocket maker: offers on every RFQ it sees (legs at mark +/- edge per coin)."""
        url = str(self.http.base_url).replace("http", "ws", 1) + "/ws"
        async with websockets.connect(url) as ws:
            await ws.send(json.dumps({"op": "auth", "key": self.keys[maker]}))
            await ws.send(json.dumps({"op": "subscribe", "channel": f"rfq@{maker}"}))
            async for raw in ws:
                message = json.loads(raw)
                data = message.get("data", {})
                if data.get("type") == "RfqOpened":
                    offer = [str(marks[0] + edge), str(marks[1] - edge)]
                    await ws.send(json.dumps({"op": "rfq_quote", "rfq_id": data["rfq_id"], "account": maker,
                                              "client_quote_id": f"{maker}-q", "offer": offer}))  # fmt: skip

    async def fix_maker(self, marks: list[Decimal], edge: int) -> None:
        mm1 = self.fix["MM1"]
        message = await mm1.expect_message("R", timeout_s=None)
        request = {str(k): str(v) for k, v in message["fields"].items()}
        legs = [str(v) for t, v in message["pairs"] if t == 600]
        prices = [marks[0] + edge, marks[1] - edge]
        fields: list[tuple[int, object]] = [
            (131, request["131"]),
            (117, "mm1-q"),
            (55, "BTC"),
            (555, len(legs)),
        ]
        for symbol, price in zip(legs, prices, strict=False):
            fields += [(600, symbol), (684, price)]
        await mm1.send("S", fields)

    async def market_falls(self) -> None:
        self.step("The market falls; HF2 drifts toward maintenance and is liquidated")
        url = str(self.http.base_url).replace("http", "ws", 1) + "/ws"
        liquidations: list[dict[str, Any]] = []

        async def feed() -> None:
            async with websockets.connect(url) as ws:
                await ws.send(json.dumps({"op": "subscribe", "channel": "liquidations@all"}))
                async for raw in ws:
                    data = json.loads(raw).get("data")
                    if data:
                        liquidations.append(data)

        listening = asyncio.create_task(feed())
        await asyncio.sleep(0.5)
        instruments = (await self.http.get("/instruments", params={"underlying": "BTC"})).json()
        expiries = sorted({i["expiry_ns"] for i in instruments if i["kind"] == "option"})[:64]
        index = float(await self.mark_price(PERP))
        for step in range(1, 7):
            index *= 1 - 0.016
            smiles = flat_smiles(index, expiries, 0.55, time.time_ns())
            body = {"index": round(index, 2), "smiles": [
                {"expiry": _iso(s.expiry_ns), "forward": s.forward, "a": s.a, "b": s.b, "rho": s.rho,
                 "m": s.m, "sigma": s.sigma} for s in smiles]}  # fmt: skip
            await self.post("/admin/marks/BTC", body, "admin")
            hf2 = await self.get("/risk/accounts/HF2", "risk")
            usage = "-" if hf2.get("mm_usage") is None else f"{hf2['mm_usage']:.0%}"
            self.say(f"index {index:,.0f} ({-1.6 * step:.1f}%): HF2 equity {hf2['equity']:,.0f}, "
                     f"MM {hf2['maintenance_margin']:,.0f}, MM usage {usage}")  # fmt: skip
            if any(e.get("type") == "LiquidationEnded" and e.get("account") == "HF2" for e in liquidations):
                break
            mark = await self.mark_price(PERP)
            for maker, offset in (("MM2", 10), ("MM3", 20)):
                await self.requote(maker, mark, offset, "3")
            await asyncio.sleep(1.0)
        await self.until(self._liquidated(liquidations), "HF2's liquidation", 20)
        for event in liquidations:
            if event.get("account") == "HF2" or event.get("from_account") == "HF2":
                self.say(
                    f"[red]{event['type']}[/red] "
                    + ", ".join(f"{k}={v}" for k, v in event.items() if k != "type")
                )
        listening.cancel()
        hf1 = await self.get("/accounts/HF1", "admin")
        held = next((p["quantity"] for p in hf1["positions"] if p["symbol"] == PERP), "0")
        self.say(
            f"HF1's protective stop: {'triggered, flat' if Decimal(held) == 0 else f'still long {held}'}"
        )
        self.summary["liquidation_events"] = len(liquidations)

    @staticmethod
    def _liquidated(events: list[dict[str, Any]]) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return any(e.get("type") == "LiquidationEnded" and e.get("account") == "HF2" for e in events)

        return check

    async def settle_and_withdraw(self) -> None:
        self.step("Batches settle on chain; the wallet user withdraws")
        status = await self.until(
            self._settled_after(self.vault.functions.lastBatchId().call()), "a batch", 30
        )
        self.say(f"{status['batches_confirmed']} batches confirmed, {status['gas_used']:,} gas in all, "
                 f"alarm: {status['alarm'] or 'none'}")  # fmt: skip
        before = self.token.functions.balanceOf(USER).call()
        amount = 20_000 * USDC
        nonce = self.vault.functions.nonces(USER).call()
        deadline = int(time.time()) + 600
        signature = sign(USER_KEY, self.w3.eth.chain_id, self.vault.address, amount, nonce, deadline)
        body = {"amount_micro": amount, "nonce": nonce, "deadline": deadline, "signature": signature}
        asked = await self.post(f"/accounts/{USER}/withdrawals", body, "user", ok=(202,))
        self.say(f"signed withdrawal of 20,000 USDC relayed on chain: request {asked['request_id']}")

        async def paid() -> bool:
            return bool(self.token.functions.balanceOf(USER).call() >= before + amount)

        await self.until(paid, "the withdrawal to be paid", 30)
        self.say("served by the next batch: 20,000 USDC in the user's wallet")
        self.summary["withdrawn"] = 20_000

    def _settled_after(self, batch: int) -> Callable[[], Awaitable[Any]]:
        async def check() -> Any:
            status = await self.get("/settlement", "risk")
            return status if status["last_confirmed_batch"] > batch else None

        return check

    async def operator_disappears(self) -> None:
        self.step("The operator disappears; the user exits through the escape hatch")

        async def idle() -> Any:  # no batch in flight: the proof stays the vault's last root
            first = await self.get("/settlement", "risk")
            await asyncio.sleep(2.5)
            second = await self.get("/settlement", "risk")
            settled = second["batches_built"] == second["batches_confirmed"] == first["batches_confirmed"]
            return second if settled else None

        await self.until(idle, "settlement to be idle", 60)
        proof = await self.get(f"/accounts/{USER}/proof", "user")
        self.say(f"proof fetched: batch {proof['batch_id']}, equity {proof['equity_micro'] / USDC:,.2f} USDC")
        self.venue.send_signal(signal.SIGKILL)
        self.venue.wait(timeout=10)
        self.say("[red]venue killed with SIGKILL[/red]: nobody settles, nobody serves withdrawals")
        if self.vault.functions.lastBatchId().call() != proof["batch_id"]:
            raise DemoError("a batch settled between the proof and the stop: the proof is stale")
        asked = self.tx(self.vault.functions.requestWithdrawal(1 * USDC), USER)
        (requested,) = self.vault.events.WithdrawalRequested().process_receipt(asked)
        request_id = requested["args"]["id"]
        self.w3.provider.make_request("evm_increaseTime", [EXIT_TIMEOUT_S + 1])  # type: ignore[arg-type]
        self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        self.say(
            f"request {request_id} left unserved for the exit timeout ({EXIT_TIMEOUT_S} s, time travelled)"
        )
        bystander = list(self.w3.eth.accounts)[5]
        self.tx(self.vault.functions.freeze(request_id), bystander)
        self.say("a bystander froze the vault")
        before = self.token.functions.balanceOf(USER).call()
        proof_path = [bytes.fromhex(p[2:]) for p in proof["proof"]]
        positions = bytes.fromhex(proof["positions_hash"][2:])
        exit_call = self.vault.functions.exit(
            proof["collateral_micro"], proof["equity_micro"], positions, proof_path
        )
        self.tx(exit_call, USER)
        paid = self.token.functions.balanceOf(USER).call() - before
        self.say(f"[green]exit paid {paid / USDC:,.2f} USDC[/green] for a proven equity of "
                 f"{proof['equity_micro'] / USDC:,.2f}")  # fmt: skip
        self.summary["exit_paid"] = paid / USDC

    def risk_report(self, report: dict[str, Any]) -> None:
        self.step("Risk report (as of the operator's last batch)")
        table = Table("account", "mode", "equity", "IM", "MM", "MM usage", "to liquidation")
        for row in report["accounts"]:
            usage, near = row.get("mm_usage"), row.get("nearest_liquidation_pct")
            table.add_row(
                row["account"], row["margin_mode"], f"{row['equity']:,.0f}", f"{row['initial_margin']:,.0f}",
                f"{row['maintenance_margin']:,.0f}", "-" if usage is None else f"{usage:.1%}",
                "-" if near is None else f"{near:+.1%}",
            )  # fmt: skip
        self.console.print(table)
        self.say(
            f"insurance fund {report['insurance_fund']:,.2f} USD; open interest {report['open_interest']}"
        )
        self.summary["accounts"] = len(report["accounts"])


def _iso(ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ns // 10**9))
