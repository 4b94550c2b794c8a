# One-command set-up: every target installs what it needs first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run test bench lint clean

install: $(VENV)/.installed

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

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) var build .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find . -name '*.so' -not -path './$(VENV)/*' -delete
