PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
ORDERS ?= 200
BENCH_BACKEND ?= sqlite
# Type-checked by `make check` at mypy's default ([tool.mypy]); domain/ has its own, strict, run.
MYPY_PACKAGES := projections consumers engine api audit

.PHONY: run test check install install-dev bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(STAMP)

install: $(STAMP)
install-dev: $(DEV_STAMP)

run: $(STAMP)
	$(BIN)/intercept demo --orders $(ORDERS)

# Static checks run first: a lint, format, layer or type failure fails `make test`.
check: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy $(MYPY_PACKAGES)

test: check
	HYPOTHESIS_PROFILE=$${HYPOTHESIS_PROFILE:-ci} $(BIN)/python -m pytest

# Not part of `test`: measures the engine against raw baselines (docs/performance.md).
# BENCH_QUICK=1: scenarios 1-4 reduced, under a minute; its last line is the ratios as JSON.
bench: $(DEV_STAMP)
	$(BIN)/python -m bench $(if $(BENCH_QUICK),--quick) --backend $(BENCH_BACKEND) $(BENCH_ARGS)

clean:
	rm -rf var .pytest_cache .hypothesis
