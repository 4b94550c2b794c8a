"""A JSON-lines command console: one command per input line, its events as JSON lines on output.

Each input line is a tagged command, e.g.
  {"type": "Deposit", "account": "alice", "amount_micro": 1000000000, "reference": "manual-1"}
  {"type": "NewOrder", "account": "alice", "client_order_id": "o1", "symbol": "BTC-PERP",
   "side": 1, "qty_lots": 10, "price_ticks": 199000}
Output lines are {"seq": N, "ts_ns": T, "events": [...]}, written once the command is journaled;
a line that is not a valid command gets {"error": "..."} and changes nothing.
"""

from __future__ import annotations

import asyncio
import threading
from typing import TextIO

import msgspec

from matching.commands import Command
from venue.runtime import Runtime

_DECODER = msgspec.json.Decoder(Command)
_ENCODER = msgspec.json.Encoder()


async def handle_line(runtime: Runtime, line: str) -> bytes | None:
    """The JSON answer to one input line, or None for a blank or comment line."""
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    try:
        command = _DECODER.decode(line)
    except msgspec.DecodeError as exc:  # ValidationError is a DecodeError
        return _ENCODER.encode({"error": str(exc)})
    record, events = await runtime.submit(command)
    return _ENCODER.encode({"seq": record.seq, "ts_ns": record.ts_ns, "events": events})


async def serve(runtime: Runtime, source: TextIO, out: TextIO) -> None:
    """Answer lines from ``source`` until it ends.

    A daemon thread reads ``source`` (reads block), so stopping never waits for input to arrive.
    """
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str] = asyncio.Queue()

    def reader() -> None:
        for line in source:
            loop.call_soon_threadsafe(lines.put_nowait, line)
        loop.call_soon_threadsafe(lines.put_nowait, "")

    threading.Thread(target=reader, name="console-reader", daemon=True).start()
    while True:
        line = await lines.get()
        if not line:
            return
        answer = await handle_line(runtime, line)
        if answer is not None:
            out.write(answer.decode() + "\n")
            out.flush()
