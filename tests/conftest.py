"""Shared fixtures: real journals on SQLite (a temp file) and PostgreSQL (a fresh schema per test)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from matching.journal import Journal
from matching.journal_postgres import PostgresJournal
from matching.journal_sqlite import SqliteJournal

POSTGRES_DSN = os.environ.get("VENUE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def _drop_schema(schema: str) -> None:
    async def drop() -> None:
        conn = await asyncpg.connect(POSTGRES_DSN)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()

    asyncio.run(drop())


@pytest.fixture(autouse=True)
def _no_fix_acceptor_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Venues started by tests run without FIX unless a test enables it (tests/fixgw): port 9880 is
    the demo acceptor's and tests run in parallel with whatever else is on the machine."""
    monkeypatch.setenv("VENUE_FIX_ENABLED", "false")


@pytest.fixture(autouse=True)
def _no_settlement_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Venues started by tests fund accounts with Deposit commands unless a test settles on a chain
    (tests/settlement): the venue's own default settles, and then only the vault credits deposits."""
    monkeypatch.setenv("VENUE_SETTLEMENT_ENABLED", "false")
    monkeypatch.setenv("VENUE_CHAIN_PORT", "0")  # a test that settles embedded never takes 8545


@pytest.fixture
def postgres_schema() -> Iterator[str]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield schema
    _drop_schema(schema)


@pytest.fixture(params=["sqlite", "postgres"])
def make_journal(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    """A factory of journal handles on one store (call it again to 'restart' on the same data)."""
    if request.param == "sqlite":
        path = tmp_path / "journal.sqlite3"
        yield lambda: SqliteJournal(path)
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    journal_factory: object = lambda: PostgresJournal(POSTGRES_DSN, schema=schema)  # noqa: E731
    yield journal_factory
    _drop_schema(schema)


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


__all__ = ["Journal", "run"]
