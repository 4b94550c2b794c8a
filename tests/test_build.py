"""The compiled matching core (mypyc, see setup.py) must never be older than its sources.

Python imports a compiled module in preference to the .py file beside it, so a stale build would run
old code while the sources say otherwise. `make install` rebuilds whenever a source changes.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMPILED = ["book", "circuit_breaker", "instruments", "ledger", "matcher", "risk_check", "sequencer", "stops"]
SOURCES = [*sorted((ROOT / "matching").glob("*.py")), ROOT / "config" / "catalog.py"]


@pytest.mark.parametrize("name", COMPILED)
def test_compiled_module_is_not_older_than_any_source(name: str) -> None:
    binaries = list((ROOT / "matching").glob(f"{name}.*.so"))
    if not binaries:
        if os.environ.get("VENUE_PURE_PYTHON"):
            pytest.skip("pure-Python build requested")
        pytest.fail(f"matching/{name} is not compiled: run `make install` (or set VENUE_PURE_PYTHON=1)")
    newest_source = max(path.stat().st_mtime for path in SOURCES)
    assert binaries[0].stat().st_mtime >= newest_source, f"matching/{name} is stale: run `make install`"
    module = importlib.import_module(f"matching.{name}")
    assert module.__file__ is not None and module.__file__.endswith(".so")
