PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
ORDERS ?= 200
BENCH_BACKEND ?= sqlite
# pytest-xdist workers: the suite mostly waits (brokers, servers, killed processes), so more
# workers than the two cores pay.
TEST_WORKERS ?= 4
# Type-checked by `make check` at mypy's default ([tool.mypy]); domain/ has its own, strict, run.
MYPY_PACKAGES := storage projections consumers engine api audit

.PHONY: run test check install install-dev bench mutation clean

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
	$(BIN)/mypy domain
	$(BIN)/mypy $(MYPY_PACKAGES)

test: check
	HYPOTHESIS_PROFILE=$${HYPOTHESIS_PROFILE:-ci} $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

# Not part of `test`: measures the engine against raw baselines (docs/performance.md).
# BENCH_QUICK=1: scenarios 1-4, 6 and 7 reduced, a few minutes; its last line is the ratios as JSON.
bench: $(DEV_STAMP)
	$(BIN)/python -m bench $(if $(BENCH_QUICK),--quick) --backend $(BENCH_BACKEND) $(BENCH_ARGS)

# Not part of `test`: mutmut 3 mutates every function of domain/ and runs tests/unit alone
# against each mutant (docs/mutation.md). Fails under 95% of covered mutants killed, or when
# a mutant is reached by no unit test. MUTATION_JOBS: parallel mutants (default: all cores).
mutation: $(DEV_STAMP)
	rm -rf mutants
	HYPOTHESIS_PROFILE=ci $(BIN)/mutmut run $(if $(MUTATION_JOBS),--max-children $(MUTATION_JOBS))
	$(BIN)/mutmut export-cicd-stats
	$(BIN)/python -m tests.support.mutation_score

clean:
	rm -rf var .pytest_cache .hypothesis mutants
