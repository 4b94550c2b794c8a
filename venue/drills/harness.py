"""What the drills share: a `venue run` process with its own FIX sessions file, keys and funded
accounts; its memory; clients for REST."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from config.fix_sessions import hash_password
from contracts.anvil import free_port
from venue.api.keys import KeyStore, Role
from venue.demo.maker import requote
from venue.memory import malloc_in_use

LOAD_PASSWORD = "drill-only"


@dataclass
class DrillVenue:
    """A venue process for a drill: ``sessions`` FIX order-entry sessions DRILL1.. (one account each,
    rate limits off), REST keys for ``makers`` and an admin, every account funded."""

    folder: Path
    sessions: int = 5
    makers: tuple[str, ...] = ("MMA", "MMB")
    extra_env: dict[str, str] = field(default_factory=dict)
    http_port: int = 0
    fix_port: int = 0
    keys: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def session_ids(self) -> list[str]:
        return [f"DRILL{n}" for n in range(1, self.sessions + 1)]

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "VENUE_DATA_DIR": str(self.folder / "var"),
            "VENUE_API_KEYS_FILE": str(self.folder / "keys.toml"),
            "VENUE_HTTP_PORT": str(self.http_port),
            "VENUE_FIX_ENABLED": "true",
            "VENUE_FIX_SESSIONS_FILE": str(self.folder / "fix_sessions.toml"),
            "VENUE_SETTLEMENT_ENABLED": "false",  # accounts funded by admin deposits
            "VENUE_PUBLIC_RATE_PER_S": "100000",
            **self.extra_env,
        }

    def prepare(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.http_port, self.fix_port = free_port(), free_port()
        digest = hash_password(LOAD_PASSWORD)
        lines = [f'[acceptor]\nhost = "127.0.0.1"\nport = {self.fix_port}\nstore = "file"\n']
        for session in self.session_ids:
            lines.append(
                f'[[sessions]]\ntarget_comp_id = "{session}"\nusername = "{session.lower()}"\n'
                f'role = "order_entry"\naccounts = ["{session}"]\npassword_hash = "{digest}"\n'
                "rate_per_s = 1000000\nburst = 1000000\ncancel_on_disconnect = false\n"
            )
        (self.folder / "fix_sessions.toml").write_text("\n".join(lines))
        store = KeyStore(self.folder / "keys.toml")
        self.keys["admin"] = store.create({Role.ADMIN}, set(), rate_per_s=100_000, burst=100_000)[0]
        for maker in self.makers:
            self.keys[maker] = store.create({Role.MARKET_MAKER}, {maker}, rate_per_s=100_000, burst=100_000)[
                0
            ]
        self.keys["taker"] = store.create({Role.TRADER}, {"TAKER"}, rate_per_s=100_000, burst=100_000)[0]

    async def start(self, log_name: str = "venue.log") -> None:
        log = self.folder / log_name
        self.process = subprocess.Popen(
            [str(Path(sys.executable).with_name("venue")), "run"], env=self.env(),
            stdout=log.open("ab"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 90
        async with httpx.AsyncClient(base_url=self.base, timeout=2) as http:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the venue exited: {log.read_text()[-2000:]}")
                try:
                    if (await http.get("/ready")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("the venue did not get ready")
                await asyncio.sleep(0.2)

    async def fund(self, amount_usdc: int = 1_000_000_000) -> None:
        async with httpx.AsyncClient(base_url=self.base, timeout=30) as http:
            for account in (*self.session_ids, *self.makers, "TAKER"):
                body = {
                    "account": account,
                    "amount": str(amount_usdc),
                    "reference": f"drill-{account}-{time.time_ns()}",
                }
                answer = await http.post(
                    "/admin/deposits", json=body, headers={"X-API-Key": self.keys["admin"]}
                )
                if answer.status_code != 200:
                    raise RuntimeError(f"funding {account}: {answer.text}")

    def rss_mb(self) -> float:
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def fix_messages_sent(self) -> int:
        """Messages the acceptor has sent in all sessions' current FIX day: each is one entry of
        quickfix's in-memory store index (the ``.seqnums`` file holds the next number to send)."""
        store = self.folder / "var" / "fix" / "store"
        return sum(int(p.read_text().split(":")[0]) - 1 for p in store.glob("*.seqnums"))

    def log_problems(self) -> dict[str, int]:
        """How often the venue's logs (every run of it in this drill) say something went wrong."""
        text = "".join(p.read_text(errors="replace") for p in sorted(self.folder.glob("venue*.log")))
        return {level: text.count(level) for level in ("CRITICAL", "ERROR", "Traceback")}

    def log_lines(self, marker: str) -> list[str]:
        """The venue's log lines (every run of it in this drill) that contain ``marker``."""
        text = "".join(p.read_text(errors="replace") for p in sorted(self.folder.glob("venue*.log")))
        return [line for line in text.splitlines() if marker in line]

    async def stop(self) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.to_thread(self.process.wait, 60)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


def fix_store_bytes_per_message(messages: int = 100_000) -> float:
    """What one sent message costs in quickfix's FileStore index, measured here: a store in a scratch
    folder is given ``messages`` messages, and glibc's count of bytes in use is read before and after
    (resident memory would hide what reused free chunks)."""
    import quickfix as fix

    with tempfile.TemporaryDirectory(prefix="venue-filestore-") as folder:
        store = fix.FileStoreFactory(folder).create(fix.UtcTimeStamp(), fix.SessionID("FIX.4.4", "A", "B"))
        message = "8=FIX.4.4\x019=5\x0135=0\x0110=000\x01"
        before = malloc_in_use() or 0
        for seq in range(1, messages + 1):
            store.set(seq, message)
        grown = (malloc_in_use() or 0) - before
        del store
    return grown / messages


async def quote_loop(venue: DrillVenue, maker: str, stop: asyncio.Event, size: str = "20") -> int:
    """A REST maker: every second, cancel its quotes and post three levels a side around the mark."""
    quotes = 0
    offset = 5 if maker.endswith("A") else 10
    async with httpx.AsyncClient(base_url=venue.base, timeout=30) as http:
        while not stop.is_set():
            try:
                mark = Decimal((await http.get("/ticker/BTC-PERP")).json()["mark_price"])
                answers = await requote(http, venue.keys[maker], maker, mark, offset, size)
                quotes += sum(1 for a in answers if a.status_code == 200)
            except httpx.HTTPError:
                pass  # the venue is away (a fault drill): quote again when it is back
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
    return quotes


def fields_for(n: int, mark: float) -> list[list[Any]]:
    """The order drill session ``n`` sends at ``mark``: sessions 1-2 buy and 3-4 sell 1 lot IOC through
    the makers' levels (trades); session 5 and beyond IOC 8 % away (acknowledged, never filled)."""
    buy, sell, away = f"{round(mark * 1.005):d}", f"{round(mark * 0.995):d}", f"{round(mark * 0.92):d}"
    side, price = {1: ("1", buy), 2: ("1", buy), 3: ("2", sell), 4: ("2", sell)}.get(n, ("1", away))
    return [[55, "BTC-PERP"], [54, side], [38, "0.001"], [40, "2"], [44, price], [59, "3"]]


async def scrape(http: httpx.AsyncClient) -> dict[str, float]:
    """The venue's /metrics as {sample name: value} (labelled samples left out); {} if it did not answer."""
    try:
        text = (await http.get("/metrics")).text
    except httpx.HTTPError:
        return {}
    values: dict[str, float] = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name and not name.startswith("#") and "{" not in name:
            try:
                values[name] = float(value)
            except ValueError:
                continue
    return values
