"""Build hook: compiles the matching core's hot modules with mypyc (part of mypy).

The Python sources stay the source of truth and run unchanged when not compiled; compiled, the same
code runs as C extension classes about twice as fast. Set VENUE_PURE_PYTHON=1 to skip compilation.
"""

import os

from setuptools import setup

COMPILED = [
    "matching/book.py",
    "matching/circuit_breaker.py",
    "matching/instruments.py",
    "matching/ledger.py",
    "matching/matcher.py",
    "matching/native_codes.py",
    "matching/order_checks.py",
    "matching/risk_check.py",
    "matching/sequencer.py",
    "matching/stops.py",
    "risk/scenario_kernel.py",
]

# What the compiled modules are built from: themselves and the modules whose types they compile
# against. A change to any of these needs a rebuild (the Makefile and tests/test_build.py read this).
BUILD_INPUTS = [
    *COMPILED,
    "matching/commands.py",
    "matching/events.py",
    "matching/liquidation.py",
    "matching/reasons.py",
    "matching/types.py",
    "config/catalog.py",
]

ext_modules = []
if not os.environ.get("VENUE_PURE_PYTHON"):
    from mypyc.build import mypycify

    ext_modules = mypycify(COMPILED, opt_level="3")

setup(ext_modules=ext_modules)
