# The two commands of the README: `make demo` and `make test`.
# Flags go through ARGS: make demo ARGS="--devices 50 --port 0"
PYTHON ?= python3
ARGS ?=
PIP_FLAGS ?= --quiet --disable-pip-version-check

.PHONY: install demo test lint bench

install:
	$(PYTHON) -m pip install $(PIP_FLAGS) -e '.[dev]'

demo: install
	aftercare demo $(ARGS)

# One test process per core: most tests wait on brokers, databases and device time,
# so two processes on two cores finish in about two thirds of the time of one. Each
# test file stays on one process (its module fixtures are built once).
TEST_JOBS ?= auto

test: install
	$(PYTHON) -m pytest -n $(TEST_JOBS) --dist loadfile $(ARGS)

lint:
	ruff check . && ruff format --check . && mypy device_agent cloud firmware_sim dashboards && lint-imports
