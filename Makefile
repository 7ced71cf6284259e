# courtbus: the two commands are `make demo` and `make test`; both set everything up.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: help install jars demo test unit integration lint format typecheck schemas-check wheel-check soak soak-load soak-fuzz bench bench-full down clean

help:
	@echo "make demo   - set up, start the local stack, send one message per flow"
	@echo "make test   - set up, lint, type-check, schema check, wheel check, unit + integration tests"
	@echo "make down   - stop the local stack started by make demo"
	@echo "make soak   - the long campaigns: 3 rounds of faults, 10 min at 1,000/s, the long fuzz"
	@echo "make bench  - every bench beside Kafka's own tools, one table (bench-full: the 8.6 M runs)"

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
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=30 tests/unit tests/integration $(PYTEST_ARGS)

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

# The long campaigns, one after the other; append new ones here. The fault campaign: three
# rounds of every fault (a broker leader, workers killed inside transactions, a zombie, the
# read model's database restarted and shut, a bank's mirror killed, a broker's disk full),
# judged by the reconciler. The sustained load (`make soak-load`). The gateway fuzz (`make soak-fuzz` alone): the fuzz tests of `make test`
# under the soak budget (tests/fuzz_records.py: 40x the examples, random inputs; about 13
# minutes), with a 2-hour timeout per test instead of 15 minutes.
SOAK_ROUNDS ?= 3
SOAK_LOAD_ARGS ?= --rate 1000 --minutes 10
FUZZ_TESTS := tests/unit/test_fuzz_gateway.py tests/unit/test_fuzz_gateway_dedup.py \
	tests/unit/test_fuzz_gateway_signed.py tests/integration/test_fuzz_live_gateway.py
soak: jars
	COURTBUS_CAMPAIGN_ROUNDS=$(SOAK_ROUNDS) COURTBUS_CAMPAIGN_MIRROR_BACKLOG=60 $(BIN)/python -m pytest -s tests/integration/test_fault_campaign.py $(PYTEST_ARGS)
	$(MAKE) soak-load
	$(MAKE) soak-fuzz

# 10 minutes at 1,000 records/s over the flows: fails if a service's memory grows or a
# group's lag runs away (python -m bench.sustained; its docstring has the verdict's rules)
soak-load: jars
	$(BIN)/python -m bench.sustained $(SOAK_LOAD_ARGS)

soak-fuzz: jars
	COURTBUS_FUZZ_PROFILE=soak $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile \
		-o timeout=7200 $(FUZZ_TESTS) $(PYTEST_ARGS)

# Every bench, one after the other, each beside Kafka's own tool on its own private stack, then
# one table: each figure, Kafka's in the same run, the ratio, issue 17's goal, met or not, and
# one JSON file of all the figures (python -m bench; path printed). `make bench` is the short
# mode (~15 minutes on a quiet 2-core machine, the 1 M-entry mirror bootstrap included);
# `make bench-full` the long one: the 8.6 M list for the bootstrap, the restores and the
# listing -> ban load (hours, ~12 GB of disk). BENCH_ARGS: e.g. --only gateway,latency.
BENCH_ARGS ?=
bench: jars
	$(BIN)/python -m bench $(BENCH_ARGS)

bench-full: jars
	$(BIN)/python -m bench --full $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .stack .pytest_cache .mypy_cache .ruff_cache .hypothesis
