# One-command set-up: every target installs what it needs first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run test bench drills lint clean contracts

install: $(VENV)/.installed contracts/node_modules/.installed tests/fixgw/js/node_modules/.installed /usr/bin/chromedriver

# Headless Chromium and its driver for the dashboard's browser test: Debian's packages (no browser
# downloads); installed once per machine.
/usr/bin/chromedriver:
	apt-get install -y --no-install-recommends chromium chromium-driver || \
		(apt-get update && apt-get install -y --no-install-recommends chromium chromium-driver)

# Solidity compiler (solc-js) and a local EVM node (anvil), pinned by contracts/package-lock.json.
# The venue itself needs neither at run time: the compiled artifacts are committed.
contracts/node_modules/.installed: contracts/package.json contracts/package-lock.json
	# `npm ci` refuses this lock (npm 11 leaves out the other platforms' optional anvil builds);
	# `npm install` installs exactly the locked versions and leaves the lock unchanged.
	cd contracts && npm install --no-audit --no-fund --loglevel=error
	touch $@

# An independent FIX engine (jspurefix) the FIX tests use as a client, pinned by its lock file.
tests/fixgw/js/node_modules/.installed: tests/fixgw/js/package.json tests/fixgw/js/package-lock.json
	cd tests/fixgw/js && npm install --no-audit --no-fund --loglevel=error
	touch $@

# The matching core is compiled with mypyc at install (setup.py), so it is rebuilt whenever a source it
# is built from changes: a stale compiled module would shadow the edited .py file.
COMPILE_SOURCES := setup.py pyproject.toml constraints.txt $(shell sed -n 's/^ *"\([a-z_/]*\.py\)",$$/\1/p' setup.py)

$(VENV)/.installed: $(COMPILE_SOURCES)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt setuptools wheel mypy msgspec pydantic pydantic-settings
	$(BIN)/pip install --quiet --no-build-isolation -c constraints.txt -e ".[dev]"
	touch $@

run: install
	$(BIN)/venue run

# pytest exits 5 when it collected no test; make treats that as a failure like any other non-zero code.
test: install
	$(BIN)/pytest

bench: install
	$(BIN)/venue bench matching --json
	$(BIN)/venue bench journal --json
	$(BIN)/venue bench risk --json
	$(BIN)/venue bench settlement --json
	$(BIN)/venue bench settlement-gas --json
	$(BIN)/venue bench fix --json
	$(BIN)/venue bench rfq --json

# Load and fault drills against a real venue process; each prints one JSON object of figures. The
# faults drill stops and restarts this machine's PostgreSQL and Redis (venue/drills/faults.py).
# The HTTP fuzz (schemathesis) and the FIX fuzz run in `make test` (tests/venue/test_api_fuzz.py,
# tests/fixgw/test_robustness.py); here the HTTP fuzz runs with more examples.
drills: install
	$(BIN)/venue drill load --seconds 300 --rate 2000
	$(BIN)/venue drill faults
	VENUE_FUZZ_EXAMPLES=40 $(BIN)/pytest tests/venue/test_api_fuzz.py tests/fixgw/test_robustness.py

# Recompile the Solidity sources into contracts/artifacts/ (commit the result).
contracts: install
	cd contracts && node build.js

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) var build .pytest_cache .mypy_cache .ruff_cache .hypothesis contracts/node_modules tests/fixgw/js/node_modules
	find . -name '*.so' -not -path './$(VENV)/*' -delete
