# Crucible: `make demo` runs the main job, `make test` runs the checks. Both set up .venv.
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
# pip's configured extra indexes print one harmless warning per package here; hide those.
QUIET_PIP := 2>&1 | { grep -v 'is ignored: it is neither a file nor a directory' || true; }
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.crucible-installed
# Single-threaded BLAS/torch by default: this project is developed on a shared 2-core box.
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1
export PYTHONDONTWRITEBYTECODE :=
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 180
export DO_NOT_TRACK := 1

.PHONY: install demo test lint typecheck unit test-slow test-integration test-operations bench \
	clean lock up down status

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "[1/2] torch 2.13.0, CPU build (about 1 min on a fresh venv)"
	$(BIN)/pip install --progress-bar off torch==2.13.0 -c constraints.txt $(QUIET_PIP) \
		| { grep -v '^Requirement already satisfied' || true; }
	@echo "[2/2] Crucible and its dependencies (about 3 min on a fresh venv)"
	$(BIN)/pip install --progress-bar off -c constraints.txt -e '.[dev]' $(QUIET_PIP) \
		| { grep -v '^Requirement already satisfied' || true; }
	$(BIN)/pip check
	@touch $@

install: $(STAMP)

# The same as `.venv/bin/crucible run molecular-design --preset demo` (Prefect's local
# database under .crucible/prefect; `.venv/bin/crucible ui` shows the run afterwards).
demo: $(STAMP)
	$(BIN)/crucible run molecular-design --preset demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest

test: lint typecheck unit

test-slow: $(STAMP)
	$(BIN)/pytest -m "slow"

test-integration: $(STAMP)
	$(BIN)/pytest -m "integration"

# The operations suite (.ci/run runs it after make test): pools and deployments on a real
# Prefect server, then the whole local stack as `make up` starts it (needs apt packages
# postgresql and docker-compose).
test-operations: $(STAMP)
	$(BIN)/pytest -m "operations" tests/operations

# The local stack (README "Operations"): PostgreSQL, Prefect server, MLflow, a cpu-process
# worker and the webhook gateway on 127.0.0.1, files under .crucible/stack. Idempotent.
# Extra options: make up STACK_ARGS='--free-ports' (see crucible stack up --help).
up: $(STAMP)
	$(BIN)/crucible stack up $(STACK_ARGS)

# Stops only what `make up` started (pid files); the data stays for the next `make up`.
down:
	@if test -x $(BIN)/crucible; then $(BIN)/crucible stack down; else echo "no .venv: nothing to stop"; fi

status:
	@if test -x $(BIN)/crucible; then $(BIN)/crucible stack status; else echo "no .venv: nothing runs"; fi

# A benchmark script with one torch/BLAS thread: make bench AREA=bo ARGS='--seeds 0-1'
# (AREA: bo, hpo, chem, generator, ligand_data, lightning_overhead; see benchmarks/).
bench: $(STAMP)
	@test -n "$(AREA)" || { echo "usage: make bench AREA=bo [ARGS='...']"; exit 2; }
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/$(AREA).py $(ARGS)

# Regenerate the constraints file from the current venv (after changing pyproject.toml).
lock: $(STAMP)
	$(BIN)/pip freeze --exclude-editable | sed -e 's/+cpu$$//' > constraints.txt

clean: down
	rm -rf $(VENV) .crucible .mypy_cache .ruff_cache .pytest_cache
