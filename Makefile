# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
PIP_FLAGS ?= --quiet --disable-pip-version-check

.PHONY: install demo test lint bench

install:
	$(PYTHON) -m pip install $(PIP_FLAGS) -e '.[dev]'

demo: install
	aftercare demo

test: install
	$(PYTHON) -m pytest

lint:
	ruff check . && ruff format --check . && mypy device_agent cloud firmware_sim && lint-imports
