"""The `venue` command line."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Institutional crypto-options venue.")
err = Console(stderr=True)


class BenchArea(StrEnum):
    MATCHING = "matching"


@app.command()
def run() -> None:
    """Start the venue on its settings (embedded defaults when nothing is configured).

    Reads JSON-lines commands on standard input and writes their events to standard output
    (see venue/console.py); stops cleanly on end of input, SIGINT or SIGTERM.
    """
    from venue import console
    from venue.wiring import build_core

    core = build_core()
    settings = core.settings
    instruments = core.sequencer.instruments
    options = sum(1 for inst in instruments.values() if inst.is_option)
    err.print(
        f"[bold]venue[/bold] core ready: {len(instruments)} instruments ({options} options) "
        f"listed as of {core.settings.catalog_as_of or 'today'}; fee account '{core.catalog.fee_account}'"
    )
    err.print(
        f"journal: {settings.database_url or 'embedded (arrives with the journal issue)'}; "
        f"bus: {settings.redis_url or 'in-process'}"
    )
    err.print(
        "command console: one JSON command per line on stdin, events on stdout (Ctrl-D or Ctrl-C to stop)"
    )

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    with contextlib.suppress(KeyboardInterrupt):
        console.serve(core, sys.stdin, sys.stdout)
    err.print(f"venue stopped after {core.sequencer.next_seq - 1} commands")


@app.command()
def bench(
    area: Annotated[BenchArea, typer.Argument(help="what to measure")],
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    commands: Annotated[int, typer.Option(help="measured commands")] = 200_000,
    seed: Annotated[int, typer.Option(help="workload seed")] = 7,
    repeats: Annotated[int, typer.Option(help="passes; the median is reported")] = 5,
) -> None:
    """Run a benchmark and print its figures."""
    from venue.bench import matching

    result = matching.run(commands, seed, repeats)
    if as_json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            err.print(f"{key:>22}: {value}")


if __name__ == "__main__":
    app()
