"""The sessions file's FIX day: what the acceptor's quickfix settings get from ``reset_time``."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from pydantic import ValidationError

from config.fix_sessions import DEFAULT_SESSIONS_PATH, FixConfig
from fixgw.quickfix_settings import render


def _config(**acceptor: object) -> FixConfig:
    data = tomllib.loads(DEFAULT_SESSIONS_PATH.read_text())
    data["acceptor"].pop("reset_time", None)
    data["acceptor"].update(acceptor)
    return FixConfig.model_validate(data)


def _schedule(config: FixConfig) -> list[str]:
    keys = ("NonStopSession", "StartTime", "EndTime", "UseLocalTime")
    return [line for line in render(config, Path("/nonexistent")).splitlines() if line.split("=")[0] in keys]


def test_the_shipped_sessions_end_their_day_at_22_utc() -> None:
    assert _schedule(FixConfig.load(DEFAULT_SESSIONS_PATH)) == [
        "NonStopSession=N", "StartTime=22:00:00", "EndTime=21:59:59", "UseLocalTime=N",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("given", "start", "end"),
    [
        ("00:00:00", "00:00:00", "23:59:59"),
        ("06:30:05", "06:30:05", "06:30:04"),
        ("23:59:59", "23:59:59", "23:59:58"),
    ],
)
def test_the_day_runs_from_reset_time_to_the_second_before(given: str, start: str, end: str) -> None:
    # not StartTime = EndTime: quickfix would then end the day at the UTC date change instead
    assert _schedule(_config(reset_time=given))[1:3] == [f"StartTime={start}", f"EndTime={end}"]


def test_without_reset_time_sessions_never_reset_and_offsets_are_refused() -> None:
    assert _schedule(_config()) == ["NonStopSession=Y"]
    assert _config(reset_time="22:00:00Z").acceptor.reset_time is not None
    with pytest.raises(ValidationError, match="UTC"):
        _config(reset_time="22:00:00+02:00")
    with pytest.raises(ValidationError):
        _config(reset_time="25:00:00")


def test_only_market_data_sessions_keep_no_messages() -> None:
    sections = render(_config(), Path("/nonexistent")).split("[SESSION]")[1:]
    persisting = {s.split("TargetCompID=")[1].split()[0]: "PersistMessages=N" not in s for s in sections}
    assert persisting == {"HF1": True, "HF2": True, "MM1": True, "MD1": False, "DC1": True}
