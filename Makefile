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

test: install
	$(PYTHON) -m pytest $(ARGS)

lint:
	ruff check . && ruff format --check . && mypy device_agent cloud firmware_sim dashboards && lint-imports
