"""`venue run`'s log lines: UTC timestamp, level and logger on every line, the configured level kept."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest

from venue import logs


@pytest.fixture
def restored_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)


@pytest.mark.usefixtures("restored_root")
def test_each_line_says_when_how_bad_and_where(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("INFO")
    log = logging.getLogger("venue.runtime")
    log.debug("not shown at INFO")
    log.info("journal write of seq %d failed, retrying", 5)
    log.error("snapshot at seq %d not saved", 7)
    lines = capsys.readouterr().err.splitlines()
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    assert len(lines) == 2
    assert re.fullmatch(stamp + r" INFO venue\.runtime: journal write of seq 5 failed, retrying", lines[0])
    assert re.fullmatch(stamp + r" ERROR venue\.runtime: snapshot at seq 7 not saved", lines[1])
