"""A JSON-lines command console: one command per input line, its events as JSON lines on output.

Each input line is a tagged command, e.g.
  {"type": "Deposit", "account": "alice", "amount_micro": 1000000000, "reference": "manual-1"}
  {"type": "NewOrder", "account": "alice", "client_order_id": "o1", "symbol": "BTC-PERP",
   "side": 1, "qty_lots": 10, "price_ticks": 199000}
Output lines are {"seq": N, "ts_ns": T, "events": [...]}; a line that is not a valid command gets
{"error": "..."} and changes nothing. Useful for scripting and for trying the core by hand.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TextIO

import msgspec

from matching.commands import Command
from venue.wiring import Core

_DECODER = msgspec.json.Decoder(Command)
_ENCODER = msgspec.json.Encoder()


def handle_line(core: Core, line: str) -> bytes | None:
    """The JSON answer to one input line, or None for a blank line."""
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    try:
        command = _DECODER.decode(line)
    except msgspec.DecodeError as exc:  # ValidationError is a DecodeError
        return _ENCODER.encode({"error": str(exc)})
    record, events = core.submit(command)
    return _ENCODER.encode({"seq": record.seq, "ts_ns": record.ts_ns, "events": events})


def serve(core: Core, lines: Iterable[str], out: TextIO) -> None:
    for line in lines:
        answer = handle_line(core, line)
        if answer is not None:
            out.write(answer.decode() + "\n")
            out.flush()
