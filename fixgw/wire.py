"""A received FIX message as plain Python data, read once from quickfix's string form.

One ``toString()`` and a split cost less than a SWIG call per field, and give the gateway a message it
can carry across threads (quickfix owns its Message objects and reuses them after the callback).
Repeating groups keep their order in ``pairs``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from fixgw.fields import MSG_TYPE, SOH


@dataclass(slots=True, frozen=True)
class FixMessage:
    msg_type: str
    fields: dict[int, str]  # first occurrence of each tag
    pairs: tuple[tuple[int, str], ...]  # every field in wire order

    @classmethod
    def parse(cls, raw: str) -> FixMessage:
        """Split a quickfix-validated message; a malformed pair (no ``=``, non-numeric tag) is skipped."""
        pairs: list[tuple[int, str]] = []
        fields: dict[int, str] = {}
        for item in raw.split(SOH):
            tag, sep, value = item.partition("=")
            if not sep or not tag.isdigit():
                continue
            number = int(tag)
            pairs.append((number, value))
            if number not in fields:
                fields[number] = value
        return cls(fields.get(MSG_TYPE, ""), fields, tuple(pairs))

    def get(self, tag: int, default: str = "") -> str:
        return self.fields.get(tag, default)

    def group(self, count_tag: int, delimiter: int) -> list[dict[int, str]]:
        """The entries of a repeating group: each starts at ``delimiter``, after the ``count_tag`` field."""
        entries: list[dict[int, str]] = []
        inside = False
        for tag, value in self.pairs:
            if tag == count_tag:
                inside = True
                continue
            if not inside:
                continue
            if tag == delimiter:
                entries.append({tag: value})
            elif entries and tag not in entries[-1]:
                entries[-1][tag] = value
            elif entries:
                break  # a repeated tag that is not the delimiter: the group has ended
        return entries


class FieldError(ValueError):
    """A field whose value cannot be used (the gateway answers with a business reject)."""

    def __init__(self, tag: int, text: str) -> None:
        super().__init__(text)
        self.tag = tag


def decimal_field(message: FixMessage, tag: int, *, required: bool = False) -> Decimal | None:
    raw = message.fields.get(tag)
    if raw is None or raw == "":
        if required:
            raise FieldError(tag, f"tag {tag} is required")
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise FieldError(tag, f"tag {tag}: {raw!r} is not a number") from None
    if not value.is_finite():
        raise FieldError(tag, f"tag {tag}: {raw!r} is not a finite number")
    return value


_last_second: list[Any] = [None, ""]  # (second, its formatted text): reports come many per second


def utc_timestamp(ns: int) -> str:
    """FIX UTCTimestamp with milliseconds: ``YYYYMMDD-HH:MM:SS.sss``."""
    seconds, rest = divmod(ns, 1_000_000_000)
    cached = _last_second
    if cached[0] != seconds:
        cached[1] = datetime.fromtimestamp(seconds, UTC).strftime("%Y%m%d-%H:%M:%S")
        cached[0] = seconds
    return f"{cached[1]}.{rest // 1_000_000:03d}"


def parse_utc_timestamp(raw: str) -> int | None:
    """Nanoseconds since the epoch of a FIX UTCTimestamp (with or without fractions), or None."""
    for pattern in ("%Y%m%d-%H:%M:%S.%f", "%Y%m%d-%H:%M:%S"):
        try:
            moment = datetime.strptime(raw, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
        return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1_000
    return None


def format_decimal(value: Decimal) -> str:
    """Plain notation without exponent or trailing zeros (FIX prices and quantities)."""
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"
