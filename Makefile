# courtbus: the two commands are `make demo` and `make test`; both set everything up.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: help install jars demo test unit integration lint format typecheck schemas-check wheel-check soak bench down clean

help:
	@echo "make demo   - set up, start the local stack, send one message per flow"
	@echo "make test   - set up, lint, type-check, schema check, wheel check, unit + integration tests"
	@echo "make down   - stop the local stack started by make demo"

# Virtualenv with the project and its dev tools; redone only when pyproject.toml changes.
$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (need Python 3.11+)"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "error: need Python 3.11+"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)

# Kafka and Apicurio Registry jars from Maven Central, cached in ~/.cache/courtbus.
jars: install
	$(BIN)/courtbus stack fetch

demo: jars
	$(BIN)/courtbus demo

down: install
	$(BIN)/courtbus stack down

# Two pytest workers (pytest-xdist), whole modules each: each worker starts its own private
# Kafka + registry; the integration tests mostly wait on the bus, so two run side by side.
TEST_WORKERS ?= 2
test: jars lint typecheck schemas-check wheel-check
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile tests/unit tests/integration $(PYTEST_ARGS)

unit: install
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

integration: jars
	$(BIN)/python -m pytest tests/integration $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check courtbus services tests bench examples
	$(BIN)/ruff format --check courtbus services tests bench examples

format: install
	$(BIN)/ruff check --fix courtbus services tests bench examples
	$(BIN)/ruff format courtbus services tests bench examples

typecheck: install
	$(BIN)/mypy

# Every schema must be FULL_TRANSITIVE-compatible with every committed version, and the history
# shipped with the package (for installs without git) must hold every one of them.
schemas-check: install
	$(BIN)/courtbus schemas check
	$(BIN)/courtbus schemas history

# Build the wheel, install it into a new virtualenv in a temporary folder and run the CLI's
# smoke commands from another folder, outside the repository (about 30 s; tests/wheel_check.py).
wheel-check: jars
	$(BIN)/python -m tests.wheel_check

soak: jars
	@echo "no soak campaigns yet (they arrive with the flow services)"

# Each figure beside Kafka's own tool on the same private stack, with the load average (a few
# minutes per script; the 8.6 M restore alone takes 15-30 minutes and ~12 GB of disk).
bench: jars
	$(BIN)/python -m bench.produce
	$(BIN)/python -m bench.gateway
	$(BIN)/python -m bench.gateway_checks
	$(BIN)/python -m bench.warm_restart
	$(BIN)/python -m bench.restore
	$(BIN)/python -m bench.restore --full
	$(BIN)/python -m bench.blacklist_restore
	$(BIN)/python -m bench.blacklist_restore --full
	$(BIN)/python -m bench.blacklist_bootstrap
	$(BIN)/python -m bench.blacklist_bootstrap --full
	$(BIN)/python -m bench.latency
	$(BIN)/python -m bench.restriction_latency
	$(BIN)/python -m bench.projector
	$(BIN)/python -m bench.listing_bans

clean:
	rm -rf $(VENV) .stack .pytest_cache .mypy_cache .ruff_cache .hypothesis
