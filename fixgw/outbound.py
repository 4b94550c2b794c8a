"""Outbound FIX messages built as tag=value pairs and turned into quickfix Messages in one parse.

Parsing one string against the data dictionary costs ~2.5 us; setting the same 16 fields one SWIG
call at a time costs ~15 us. The session fills the header (comp ids, MsgSeqNum, SendingTime), body
length and checksum when it sends.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

import quickfix as fix

from config.fix_sessions import DEFAULT_DICTIONARY_PATH
from fixgw.fields import SOH
from fixgw.wire import format_decimal

Pairs = list[tuple[int, str]]

_dictionary: fix.DataDictionary | None = None


def dictionary(path: Path = DEFAULT_DICTIONARY_PATH) -> fix.DataDictionary:
    """The data dictionary groups are parsed with (loaded once per process)."""
    global _dictionary
    if _dictionary is None:
        _dictionary = fix.DataDictionary(str(path))
    return _dictionary


def clean(value: str) -> str:
    """A value safe inside a tag=value field (no SOH, no newline)."""
    return value.replace(SOH, " ").replace("\n", " ")


def build(msg_type: str, pairs: Iterable[tuple[int, str]]) -> fix.Message:
    body = "".join(f"{tag}={value}{SOH}" for tag, value in pairs)
    raw = f"8=FIX.4.4{SOH}9=0{SOH}35={msg_type}{SOH}{body}10=000{SOH}"
    return fix.Message(raw, dictionary(), False)


def money(micro: int) -> str:
    """micro-USDC as a USDC decimal string."""
    return format_decimal(Decimal(micro) / 1_000_000)
