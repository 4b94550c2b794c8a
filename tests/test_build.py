"""The compiled modules (mypyc, see setup.py) must never be older than their sources.

Python imports a compiled module in preference to the .py file beside it, so a stale build would run
old code while the sources say otherwise. `make install` rebuilds whenever a source changes.
"""

from __future__ import annotations

import ast
import importlib
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _setup_list(name: str) -> list[str]:
    """A list of paths assigned to ``name`` in setup.py (read, not run: running it would build)."""
    tree = ast.parse((ROOT / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == name:
            assert isinstance(node.value, ast.List)
            paths: list[str] = []
            for element in node.value.elts:
                if isinstance(element, ast.Starred):
                    paths.extend(_setup_list(element.value.id))  # type: ignore[attr-defined]
                else:
                    paths.append(element.value)  # type: ignore[attr-defined]
            return paths
    raise AssertionError(f"{name} not found in setup.py")


COMPILED = [Path(p).with_suffix("").as_posix() for p in _setup_list("COMPILED")]  # e.g. matching/matcher
SOURCES = [ROOT / p for p in _setup_list("BUILD_INPUTS")]


def test_the_build_lists_are_read() -> None:
    assert "matching/matcher" in COMPILED and ROOT / "matching" / "events.py" in SOURCES


@pytest.mark.parametrize("name", COMPILED)
def test_compiled_module_is_not_older_than_any_source(name: str) -> None:
    package, module_name = name.split("/")
    binaries = list((ROOT / package).glob(f"{module_name}.*.so"))
    if not binaries:
        if os.environ.get("VENUE_PURE_PYTHON"):
            pytest.skip("pure-Python build requested")
        pytest.fail(f"{name} is not compiled: run `make install` (or set VENUE_PURE_PYTHON=1)")
    newest_source = max(path.stat().st_mtime for path in SOURCES)
    assert binaries[0].stat().st_mtime >= newest_source, f"{name} is stale: run `make install`"
    module = importlib.import_module(name.replace("/", "."))
    assert module.__file__ is not None and module.__file__.endswith(".so")
