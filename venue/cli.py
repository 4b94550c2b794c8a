"""The `venue` command line."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
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


@app.command()
def run() -> None:
    """Start the venue on its settings (embedded defaults when nothing is configured).

    Replays the journal, then reads JSON-lines commands on standard input and writes their events to
    standard output once journaled (see venue/console.py). Stops cleanly on end of input, SIGINT or
    SIGTERM: everything applied is journaled and acknowledged before exit.
    """
    asyncio.run(_run())


async def _run() -> None:
    from venue import console
    from venue.wiring import start_venue

    venue = await start_venue()
    settings = venue.settings
    instruments = venue.sequencer.instruments
    options = sum(1 for inst in instruments.values() if inst.is_option)
    err.print(
        f"[bold]venue[/bold] ready: {len(instruments)} instruments ({options} options); "
        f"{venue.recovered} journaled commands replayed; fee account '{venue.catalog.fee_account}'"
    )
    journal = settings.database_url or f"sqlite {settings.data_dir / 'journal.sqlite3'}"
    err.print(f"journal: {journal}; bus: {settings.redis_url or 'in-process'}")
    err.print("command console: one JSON command per line on stdin, events on stdout (Ctrl-D to stop)")
    loop = asyncio.get_running_loop()
    serving = asyncio.create_task(console.serve(venue.runtime, sys.stdin, sys.stdout))
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, serving.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await serving
    await venue.stop()
    err.print(f"venue stopped cleanly at seq {venue.sequencer.next_seq - 1}; journal flushed")


@app.command()
def replay(
    from_seq: Annotated[int, typer.Option("--from", help="first record to verify")] = 1,
    to_seq: Annotated[int | None, typer.Option("--to", help="last record to verify")] = None,
) -> None:
    """Replay the journal and verify every recorded event and the hash chain; exit 1 on a mismatch."""
    from config.catalog import Catalog
    from config.settings import VenueSettings
    from matching.journal import open_journal
    from matching.replay import verify
    from venue.wiring import new_sequencer

    settings = VenueSettings()
    catalog = Catalog.load(settings.catalog_path)

    async def go() -> bool:
        journal = open_journal(settings.database_url, settings.data_dir)
        await journal.open()
        try:
            report = await verify(journal, lambda: new_sequencer(catalog), from_seq, to_seq)
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


@app.command()
def bench(
    area: Annotated[BenchArea, typer.Argument(help="what to measure")],
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    commands: Annotated[int, typer.Option(help="measured commands")] = 200_000,
    seed: Annotated[int, typer.Option(help="workload seed")] = 7,
    repeats: Annotated[int, typer.Option(help="passes; the median is reported")] = 5,
) -> None:
    """Run a benchmark and print its figures."""
    if area is BenchArea.MATCHING:
        from venue.bench import matching

        result = matching.run(commands, seed, repeats)
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
