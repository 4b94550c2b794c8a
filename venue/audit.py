"""`venue audit`: every command and event touching an account in a time window, as CSV and JSON."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import msgspec

from matching.journal import Journal

ACCOUNT_FIELDS = ("account", "maker_account", "taker_account")


@dataclass(frozen=True, slots=True)
class AuditLine:
    seq: int
    ts_ns: int
    kind: str  # "command" or "event"
    type: str
    body: dict[str, object]


def parse_time(text: str) -> int:
    """Nanoseconds since the epoch from an integer or an ISO 8601 time (UTC when no zone is given)."""
    if text.lstrip("-").isdigit():
        return int(text)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        from datetime import UTC

        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1_000_000) * 1_000


def _touches(body: dict[str, object], account: str) -> bool:
    return any(body.get(name) == account for name in ACCOUNT_FIELDS)


async def collect(journal: Journal, account: str, start_ns: int, end_ns: int) -> list[AuditLine]:
    lines: list[AuditLine] = []
    async for rows in journal.read():
        for row in rows:
            record = row.record
            if not start_ns <= record.ts_ns <= end_ns:
                continue
            command = msgspec.to_builtins(record.command)
            events = [msgspec.to_builtins(e) for e in row.events()]
            touching = [e for e in events if _touches(e, account)]
            if not touching and not _touches(command, account):
                continue
            lines.append(AuditLine(record.seq, record.ts_ns, "command", str(command.pop("type")), command))
            for event in touching:
                lines.append(AuditLine(record.seq, record.ts_ns, "event", str(event.pop("type")), event))
    return lines


def write(lines: list[AuditLine], account: str, out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / f"audit-{account}.json"
    csv_path = out_dir / f"audit-{account}.csv"
    json_path.write_text(
        json.dumps(
            [{"seq": x.seq, "ts_ns": x.ts_ns, "kind": x.kind, "type": x.type, **x.body} for x in lines],
            indent=1,
        )
    )
    with csv_path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["seq", "ts_ns", "kind", "type", "fields"])
        for x in lines:
            writer.writerow([x.seq, x.ts_ns, x.kind, x.type, json.dumps(x.body, sort_keys=True)])
    return json_path, csv_path
