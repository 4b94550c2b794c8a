"""The instrument catalog: symbols, expiries, ladders, rolling, and validation of the file."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pydantic
import pytest

from config.catalog import Catalog, InstrumentKind, option_symbol
from config.settings import VenueSettings

CATALOG = Catalog.load()


def expiry_dates(specs: list) -> list[date]:
    return sorted({datetime.fromtimestamp(s.expiry_ns / 1e9, UTC).date() for s in specs if s.expiry_ns})


def test_symbols_follow_the_common_crypto_style() -> None:
    assert option_symbol("BTC", date(2026, 12, 25), Decimal("100000"), "C") == "BTC-25DEC26-100000-C"
    assert option_symbol("ETH", date(2027, 3, 5), Decimal("2500.0"), "P") == "ETH-5MAR27-2500-P"
    assert CATALOG.perpetual("BTC").symbol == "BTC-PERP"


def test_expiries_are_weeklies_monthlies_and_quarterlies_on_fridays_at_eight() -> None:
    specs = CATALOG.options("BTC", date(2026, 11, 22))  # a Sunday
    days = expiry_dates(specs)
    assert all(d.weekday() == 4 for d in days)
    assert days[:4] == [date(2026, 11, 27), date(2026, 12, 4), date(2026, 12, 11), date(2026, 12, 18)]
    assert date(2026, 12, 25) in days and date(2027, 1, 29) in days  # monthlies: last Fridays
    assert {date(2027, 3, 26), date(2027, 6, 25), date(2027, 9, 24)} <= set(days)  # quarterlies
    hours = {datetime.fromtimestamp(s.expiry_ns / 1e9, UTC).hour for s in specs}
    assert hours == {8}


def test_each_expiry_has_calls_and_puts_over_a_ladder_around_the_reference() -> None:
    specs = CATALOG.options("BTC", date(2026, 11, 22))
    weekly = [s for s in specs if s.symbol.startswith("BTC-4DEC26-")]
    strikes = sorted({s.strike for s in weekly})
    assert strikes[0] == Decimal(90000) and strikes[-1] == Decimal(110000) and len(strikes) == 21
    assert len(weekly) == 42 and {s.option_type for s in weekly} == {"C", "P"}
    quarterly = {s.strike for s in specs if s.symbol.startswith("BTC-26MAR27-")}
    assert max(quarterly) - min(quarterly) == Decimal(120000)  # wider for longer tenors
    assert all(s.kind is InstrumentKind.OPTION and s.premium_cap == Decimal("0.125") for s in specs)


def test_full_listing_is_unique_and_has_both_underlyings() -> None:
    specs = CATALOG.instruments(date(2026, 11, 22))
    symbols = [s.symbol for s in specs]
    assert len(symbols) == len(set(symbols))
    assert {"BTC-PERP", "ETH-PERP"} <= set(symbols)
    assert {s.underlying for s in specs} == {"BTC", "ETH"}


def test_roll_delists_expired_series_and_lists_new_ones() -> None:
    listed = CATALOG.instruments(date(2026, 11, 22))
    after_expiry = datetime(2026, 11, 27, 8, tzinfo=UTC)
    now_ns = int(after_expiry.timestamp()) * 1_000_000_000
    new, expired = CATALOG.roll(listed, date(2026, 11, 27), now_ns, {"BTC": Decimal(120000)})
    assert expired and all("-27NOV26-" in symbol for symbol in expired)
    # weeklies 4-25 Dec, monthlies Dec/Jan and the quarterlies are listed already: Feb's monthly is new
    assert expiry_dates(new) == [date(2027, 2, 26)]
    assert not {s.symbol for s in new} & {s.symbol for s in listed}
    # a new expiry's ladder centres on the given reference price
    btc_new = [s for s in new if s.underlying == "BTC"]
    assert (min(s.strike for s in btc_new), max(s.strike for s in btc_new)) == (
        Decimal(90000),
        Decimal(150000),
    )


def test_a_broken_catalog_file_is_refused_with_every_problem(tmp_path: Path) -> None:
    text = Path(CATALOG_PATH := Path(__file__).parents[2] / "config" / "catalog.toml").read_text()
    bad = text.replace('tick_size = "0.5"', 'tick_size = "-0.5"').replace("weeklies = 4", "weeklies = 99", 1)
    path = tmp_path / "bad.toml"
    path.write_text(bad)
    with pytest.raises(pydantic.ValidationError) as err:
        Catalog.load(path)
    message = str(err.value)
    assert "tick_size" in message and "weeklies" in message
    assert CATALOG_PATH.exists()


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VENUE_HTTP_PORT", "9999")
    monkeypatch.setenv("VENUE_DATABASE_URL", "postgresql://postgres@127.0.0.1/test")
    settings = VenueSettings()
    assert settings.http_port == 9999 and settings.database_url.startswith("postgresql")
    assert settings.redis_url is None
    monkeypatch.setenv("VENUE_HTTP_PORT", "not-a-port")
    with pytest.raises(pydantic.ValidationError):
        VenueSettings()


def test_settings_from_a_toml_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "venue.toml"
    path.write_text('http_port = 7001\ndata_dir = "/tmp/venue-data"\n')
    monkeypatch.setenv("VENUE_CONFIG_FILE", str(path))
    settings = VenueSettings()
    assert settings.http_port == 7001 and str(settings.data_dir) == "/tmp/venue-data"
    monkeypatch.setenv("VENUE_HTTP_PORT", "7002")  # the environment wins over the file
    assert VenueSettings().http_port == 7002
