"""A venue with its FIX acceptor on a free port, funded demo accounts and the demo sessions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from config.fix_sessions import DEFAULT_SESSIONS_PATH
from config.settings import VenueSettings
from matching.commands import Deposit
from tests.fixgw.harness import FixClient, free_port
from venue.api.app import create_app
from venue.wiring import Venue

ACCOUNTS = ("HF1", "HF2", "MM1")


@dataclass
class FixVenue:
    settings: VenueSettings
    port: int
    http: TestClient
    tmp: Path

    @property
    def venue(self) -> Venue:
        return self.http.app.state.venue  # type: ignore[attr-defined,no-any-return]

    def submit(self, command: object) -> object:
        return self.http.portal.call(self.venue.runtime.submit, command)  # type: ignore[union-attr]

    def client(self, sender: str, *args: str, password: str | None = None, **kw: object) -> FixClient:
        secret = password if password is not None else f"demo-{sender.lower()}"
        extra = list(args) if "--secret" in args else ["--password", secret, *args]
        return FixClient(self.port, sender, *extra, **kw)  # type: ignore[arg-type]


def sessions_file(tmp: Path, **acceptor: object) -> Path:
    """The demo sessions with a short lockout (tests wait it out) and any acceptor overrides; no daily
    reset unless ``reset_time`` is given (a test running at 22:00 UTC would be logged out)."""
    text = DEFAULT_SESSIONS_PATH.read_text()
    reset = acceptor.pop("reset_time", None)
    text = text.replace('reset_time = "22:00:00"', f'reset_time = "{reset}"' if reset else "")
    text = text.replace("lockout_s = 300", f"lockout_s = {acceptor.pop('lockout_s', 2)}")
    text = text.replace("failed_logons_before_lockout = 5", "failed_logons_before_lockout = 3")
    path = tmp / "fix_sessions.toml"
    path.write_text(text)
    return path


@pytest.fixture
def fix_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> VenueSettings:
    monkeypatch.setenv("VENUE_FIX_SECRET_HF1", "hf1-signing-secret")
    return VenueSettings(
        data_dir=tmp_path / "var",
        catalog_as_of="2026-11-22",
        api_keys_file=tmp_path / "keys.toml",
        fix_enabled=True,
        fix_port=free_port(),
        fix_sessions_file=sessions_file(tmp_path),
        mark_feed="sim",
        mark_interval_s=3600,  # one priming update: prices stay where the tests put them
    )


def start(settings: VenueSettings, tmp: Path, fund: bool = True) -> Iterator[FixVenue]:
    with TestClient(create_app(settings)) as http:
        assert settings.fix_port is not None
        running = FixVenue(settings, settings.fix_port, http, tmp)
        if fund:
            for account in ACCOUNTS:
                running.submit(Deposit(account=account, amount_micro=10**12, reference=f"fund-{account}"))
        yield running


@pytest.fixture
def fix_venue(fix_settings: VenueSettings, tmp_path: Path) -> Iterator[FixVenue]:
    yield from start(fix_settings, tmp_path)
