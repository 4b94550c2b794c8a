"""The `venue` command line."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Institutional crypto-options venue.")
err = Console(stderr=True)


class BenchArea(StrEnum):
    MATCHING = "matching"
    JOURNAL = "journal"
    RISK = "risk"
    SETTLEMENT = "settlement"
    SETTLEMENT_GAS = "settlement-gas"
    FIX = "fix"
    RFQ = "rfq"


@app.command()
def run(
    console: Annotated[
        bool, typer.Option(help="also read JSON-lines commands on stdin; stop at end of input")
    ] = False,
) -> None:
    """Start the venue: journal recovery, the core, the HTTP/WebSocket API; Ctrl-C or SIGTERM stops it.

    Everything applied is journaled and acknowledged before exit. With --console, commands typed or
    piped on stdin are answered on stdout (see venue/console.py), and end of input stops the venue.
    """
    asyncio.run(_run(console))


async def _run(with_console: bool) -> None:
    import uvicorn

    from config.fix_sessions import DEFAULT_SESSIONS_PATH
    from config.settings import VenueSettings
    from venue import console, logs
    from venue.api.app import create_app

    class Server(uvicorn.Server):
        """uvicorn re-raises SIGINT/SIGTERM after shutting down; the venue stops and exits 0 instead."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, self.handle_exit, signum, None)
            try:
                yield
            finally:
                for signum in (signal.SIGINT, signal.SIGTERM):
                    loop.remove_signal_handler(signum)

    settings = VenueSettings()
    logs.configure(settings.log_level)
    api = create_app(settings)
    server = Server(
        uvicorn.Config(
            api, host=settings.http_host, port=settings.http_port, log_level="warning", lifespan="on"
        )
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            await serving  # start-up failed: let its error surface
            return
        await asyncio.sleep(0.05)
    venue = api.state.venue
    instruments = venue.sequencer.instruments
    options = sum(1 for inst in instruments.values() if inst.is_option)
    journal = settings.database_url or f"sqlite {settings.data_dir / 'journal.sqlite3'}"
    keys = settings.api_keys_file or settings.data_dir / "api_keys.toml"
    err.print(
        f"[bold]venue[/bold] ready: {len(instruments)} instruments ({options} options); "
        f"{venue.recovered} journaled commands replayed"
    )
    address = f"http://{settings.http_host}:{settings.http_port}"
    err.print(f"  HTTP + WebSocket  {address}  (OpenAPI at /docs, streams at /ws)")
    err.print(f"  journal           {journal}")
    err.print(f"  bus               {settings.redis_url or 'in-process'}")
    risk = f"{venue.risk_params.version} ({settings.risk_path.name}); marks: {settings.mark_feed}"
    err.print(f"  risk              {risk}")
    if venue.chain is not None:
        err.print(f"  chain             {venue.chain.description}; settlement running")
    else:
        err.print("  chain             none: settlement off (VENUE_SETTLEMENT_ENABLED=false)")
    err.print(f"  API keys          {keys} ({len(api.state.keys.keys)} keys; `venue keys create` adds one)")
    if venue.fix is not None:
        fix_config = venue.fix.config
        sessions = ", ".join(
            f"{s.target_comp_id} ({s.role}{', rfq maker' if s.rfq_maker else ''})"
            for s in fix_config.sessions
        )
        err.print(
            f"  FIX 4.4           {venue.fix.address} as {fix_config.acceptor.sender_comp_id}; "
            f"sessions {sessions} ({settings.fix_sessions_file.name})"
        )
        if settings.fix_sessions_file == DEFAULT_SESSIONS_PATH:
            err.print(
                "                    demo passwords: 'demo-' + the lower-cased TargetCompID (demo-hf1 ...)"
            )
    if with_console:
        err.print("  console           one JSON command per line on stdin; end of input stops the venue")
        await console.serve(venue.runtime, sys.stdin, sys.stdout)
        server.should_exit = True
    await serving  # uvicorn handles SIGINT/SIGTERM; its lifespan shutdown stops the venue cleanly
    err.print(f"venue stopped cleanly at seq {venue.sequencer.next_seq - 1}; journal flushed")


fix_app = typer.Typer(help="The FIX acceptor's sessions.")
app.add_typer(fix_app, name="fix")


@fix_app.command("hash-password")
def fix_hash_password(
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
) -> None:
    """Print the salted scrypt hash of a session password, for ``password_hash`` in the sessions file."""
    from config.fix_sessions import hash_password

    print(hash_password(password))


records_app = typer.Typer(help="Derived records (orders, trades, positions, balances in SQL).")
app.add_typer(records_app, name="records")


@records_app.command("rebuild")
def records_rebuild() -> None:
    """Recreate the derived records from the journal (run while the venue is stopped)."""
    from config.settings import VenueSettings
    from matching.journal import open_journal
    from venue.records import Records

    settings = VenueSettings()

    async def go() -> int:
        journal = open_journal(settings.database_url, settings.data_dir)
        await journal.open()
        records = Records(journal)
        try:
            await records.open()
            return await records.rebuild()
        finally:
            await records.close()
            await journal.close()

    err.print(f"derived records rebuilt from {asyncio.run(go())} journaled commands")


keys_app = typer.Typer(help="API keys.")
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def keys_create(
    role: Annotated[list[str], typer.Option(help="trader, market_maker, risk_officer or admin (repeatable)")],
    account: Annotated[
        list[str] | None, typer.Option(help="an account the key may act for (repeatable)")
    ] = None,
    rate: Annotated[float, typer.Option(help="requests per second")] = 20.0,
    burst: Annotated[int, typer.Option(help="burst size")] = 40,
) -> None:
    """Create an API key; the secret is printed once and only its hash is stored."""
    from config.settings import VenueSettings
    from venue.api.keys import KeyStore, Role

    settings = VenueSettings()
    try:
        roles = {Role(r) for r in role}
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    store = KeyStore(settings.api_keys_file or settings.data_dir / "api_keys.toml")
    token, key = store.create(roles, set(account or ()), rate, burst)
    err.print(f"key {key.key_id}: roles {sorted(map(str, roles))}, accounts {sorted(key.accounts) or 'any'}")
    print(token)


@app.command()
def replay(
    from_seq: Annotated[int, typer.Option("--from", help="first record to verify")] = 1,
    to_seq: Annotated[int | None, typer.Option("--to", help="last record to verify")] = None,
) -> None:
    """Replay the journal and verify every recorded event and the hash chain; exit 1 on a mismatch."""
    from config.catalog import Catalog
    from config.risk_params import RiskParams
    from config.settings import VenueSettings
    from matching.journal import open_journal
    from matching.replay import verify
    from venue.wiring import new_sequencer

    settings = VenueSettings()
    catalog = Catalog.load(settings.catalog_path)
    params = RiskParams.load(settings.risk_path)

    async def go() -> bool:
        journal = open_journal(settings.database_url, settings.data_dir)
        await journal.open()
        try:
            report = await verify(journal, lambda: new_sequencer(catalog, params), from_seq, to_seq)
        finally:
            await journal.close()
        if report.ok:
            err.print(
                f"[green]OK[/green] records {report.from_seq}..{report.to_seq}: {report.verified} verified, "
                f"{report.events} events identical; chain {report.chain.hex()}"
            )
            return True
        for problem in report.problems:
            err.print(f"[red]PROBLEM[/red] {problem}")
        if report.mismatch is not None:
            m = report.mismatch
            err.print(f"[red]MISMATCH[/red] at seq {m.seq}, event {m.index}: {m.detail}")
            err.print(f"  recorded: {m.recorded!r}")
            err.print(f"  replayed: {m.replayed!r}")
        return False

    if not asyncio.run(go()):
        raise typer.Exit(1)


@app.command()
def audit(
    account: Annotated[str, typer.Option(help="the account")],
    start: Annotated[str, typer.Option("--from", help="ISO 8601 time or ns since epoch")],
    end: Annotated[str, typer.Option("--to", help="ISO 8601 time or ns since epoch")],
    out: Annotated[Path, typer.Option(help="directory for audit-ACCOUNT.json and .csv")] = Path("."),
) -> None:
    """Export every command and event touching an account within a time window, as JSON and CSV."""
    from config.settings import VenueSettings
    from matching.journal import open_journal
    from venue import audit as audit_module

    settings = VenueSettings()
    try:
        start_ns, end_ns = audit_module.parse_time(start), audit_module.parse_time(end)
    except ValueError as exc:
        err.print(f"[red]bad time[/red]: {exc}")
        raise typer.Exit(2) from exc

    async def go() -> list[audit_module.AuditLine]:
        journal = open_journal(settings.database_url, settings.data_dir)
        await journal.open()
        try:
            return await audit_module.collect(journal, account, start_ns, end_ns)
        finally:
            await journal.close()

    lines = asyncio.run(go())
    json_path, csv_path = audit_module.write(lines, account, out)
    err.print(f"{len(lines)} lines for {account}: {json_path}, {csv_path}")


risk_app = typer.Typer(help="Margin reports and what-ifs.")
app.add_typer(risk_app, name="risk")


@risk_app.command("report")
def risk_report(
    portfolio: Annotated[
        Path, typer.Option(help="portfolio file (JSON; see README)", exists=True, dir_okay=False)
    ],
    out: Annotated[Path, typer.Option(help="directory for report.json, report.csv, report.html")],
) -> None:
    """Margin report of a portfolio file, computed offline with the venue's engine and parameters."""
    from config.catalog import Catalog
    from config.risk_params import RiskParams
    from config.settings import VenueSettings
    from risk.report_files import write_report
    from risk.whatif import PortfolioError, report

    settings = VenueSettings()
    try:
        result = report(portfolio, Catalog.load(settings.catalog_path), RiskParams.load(settings.risk_path))
    except PortfolioError as exc:
        err.print(f"[red]bad portfolio file[/red]: {exc}")
        raise typer.Exit(2) from exc
    paths = write_report(result, out)
    err.print(
        f"{result['account']}: equity {result['equity']:,.2f} IM {result['initial_margin']:,.2f} "
        f"MM {result['maintenance_margin']:,.2f} USD; wrote {', '.join(str(p) for p in paths)}"
    )


@app.command()
def bench(
    area: Annotated[BenchArea, typer.Argument(help="what to measure")],
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    commands: Annotated[int, typer.Option(help="measured commands")] = 200_000,
    seed: Annotated[int, typer.Option(help="workload seed")] = 7,
    repeats: Annotated[
        int | None, typer.Option(help="passes (rounds for fix); the median is reported [5; fix: 3]")
    ] = None,
    risk_check: Annotated[
        str, typer.Option("--risk", help="matching: the 'standin' or the 'engine' pre-trade check")
    ] = "standin",
) -> None:
    """Run a benchmark and print its figures."""
    if area is BenchArea.MATCHING:
        from venue.bench import matching

        result = matching.run(commands, seed, repeats or 5, risk_check)
    elif area is BenchArea.RISK:
        from venue.bench import risk

        result = risk.run(repeats=repeats or 5)
    elif area is BenchArea.FIX:
        from venue.bench import fix

        result = fix.run(rounds=repeats or 3)
    elif area is BenchArea.RFQ:
        from venue.bench import rfq

        result = rfq.run()
    elif area is BenchArea.SETTLEMENT:
        from venue.bench import settlement

        result = settlement.run()
    elif area is BenchArea.SETTLEMENT_GAS:
        from venue.bench import settlement_gas

        result = settlement_gas.run()
    else:
        from venue.bench import journal

        result = asyncio.run(journal.run(commands, seed))
    if as_json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            err.print(f"{key:>24}: {value}")


if __name__ == "__main__":
    app()


@app.command()
def demo(
    folder: Annotated[
        Path | None, typer.Option("--dir", help="keep the run's venue data, chain log and FIX stores here")
    ] = None,
) -> None:
    """A day at the venue in a couple of minutes: its own chain and venue, FIX and WebSocket traders
    and makers, an RFQ, a market fall with a liquidation, batches, a withdrawal, the operator's
    disappearance and an exit through the escape hatch, then the risk report (see venue/demo/script.py)."""
    import tempfile

    from rich.console import Console as RichConsole

    from venue.demo.script import Demo, DemoError

    out = RichConsole()
    with tempfile.TemporaryDirectory(prefix="venue-demo-") as scratch:
        where = folder or Path(scratch)
        where.mkdir(parents=True, exist_ok=True)
        try:
            summary = asyncio.run(Demo(out, where).run())
        except (DemoError, TimeoutError) as exc:
            err.print(f"[red]demo failed:[/red] {exc}")
            raise typer.Exit(1) from exc
    out.print(f"[bold green]demo complete[/bold green]: {json.dumps(summary)}")


chain_app = typer.Typer(help="The settlement chain of a running venue.")
app.add_typer(chain_app, name="chain")


@chain_app.command("deposit")
def chain_deposit(
    account: Annotated[str, typer.Argument(help="ledger account: a wallet address, or a desk's name")],
    amount: Annotated[str, typer.Argument(help="USDC")],
    url: Annotated[str, typer.Option(help="the running venue")] = "http://127.0.0.1:8080",
) -> None:
    """Fund an account on a local chain (the embedded anvil): mint test USDC and deposit it into the
    vault for the account's wallet; the venue credits it once the deposit is confirmed. A desk's name
    (HF1, alice) deposits to its wallet in config/wallets.toml, or to its derived custodial address."""
    from decimal import Decimal

    import httpx
    from web3 import Web3

    from config.settings import VenueSettings
    from contracts.loader import at
    from settlement.wallets import WalletRegistry
    from venue.chain import deposit_test_usdc

    found = httpx.get(f"{url}/chain", timeout=10)
    if found.status_code != 200 or not found.json().get("rpc_url"):
        err.print(f"[red]no reachable settlement chain at {url}[/red]: {found.text}")
        raise typer.Exit(1)
    chain = found.json()
    w3 = Web3(Web3.HTTPProvider(chain["rpc_url"]))
    address = WalletRegistry.load(VenueSettings().wallets_file).address(account)
    micro = int(Decimal(amount) * 1_000_000)
    token, vault = at(w3, "CollateralToken", chain["token"]), at(w3, "Vault", chain["vault"])
    tx_hash = deposit_test_usdc(w3, token, vault, address, micro)
    err.print(f"deposited {amount} USDC for {account} ({address}): {tx_hash}; credited once confirmed")


class DrillArea(StrEnum):
    LOAD = "load"
    FAULTS = "faults"


@app.command()
def drill(
    area: Annotated[DrillArea, typer.Argument(help="which drill")],
    seconds: Annotated[float, typer.Option(help="load: how long the steady load runs")] = 300.0,
    rate: Annotated[float, typer.Option(help="load: orders per second, all sessions together")] = 2_000.0,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = True,
) -> None:
    """Run a drill against a real venue process (see venue/drills/); prints its figures. The faults
    drill stops and restarts the machine's PostgreSQL and Redis (commands in venue/drills/faults.py)."""
    if area is DrillArea.LOAD:
        from venue.drills import load

        result = asyncio.run(load.run(seconds=seconds, rate=rate))
    else:
        from venue.drills import faults

        result = asyncio.run(faults.run())
    print(json.dumps(result, indent=None if as_json else 2))
    if not result.get("ok", False):
        raise typer.Exit(1)
