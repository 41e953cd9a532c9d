# arinsight — every target here is what CI and the README run.
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
UV    ?= $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
export UV_PROJECT_ENVIRONMENT := $(VENV)
export GX_ANALYTICS_ENABLED := False
# Bytecode: uv compiles every installed file when UV_COMPILE_BYTECODE=1 (the test
# environment: ~10k files). The demo environment is not precompiled; Python
# writes the .pyc of what it actually imports on first use instead (this
# machine sets PYTHONDONTWRITEBYTECODE=1, which would make every run pay for
# compiling great-expectations again, so the targets here unset it).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: help env env-runtime demo test test-fast bench bench-large eval eval-scores eval-routing lint format clean

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

$(UV):
	python3 -m pip install --quiet --user uv || python3 -m pip install --quiet uv

# Runtime dependencies only: what `arinsight` needs (the demo). --inexact keeps
# the dev/spark extras when the full environment is already there.
$(VENV)/.synced-runtime: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --inexact --python 3.11
	@touch $@

# Everything the tests, lint and benchmarks need: the dev and spark extras.
# Rebuilt whenever the lock file changes.
$(VENV)/.synced: uv.lock pyproject.toml | $(UV)
	UV_COMPILE_BYTECODE=1 $(UV) sync --frozen --extra dev --extra spark --python 3.11
	@touch $@ $(VENV)/.synced-runtime

env: $(VENV)/.synced  ## create .venv from uv.lock with the test extras (dev, spark)

env-runtime: $(VENV)/.synced-runtime  ## create .venv with the runtime dependencies only

DEMO_ARGS ?=
demo: env-runtime  ## simulate a sample company, load, build, report, serve the dashboard
	$(VENV)/bin/arinsight demo $(DEMO_ARGS)

# Two workers (pytest-xdist): the suite is mostly processes and I/O; about 7 min
# on a quiet 2-core machine, twice that serially.
test: env  ## run the whole suite
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

test-fast: env  ## skip slow, browser and notebook tests (local loop only)
	$(PY) -m pytest -m "not slow and not browser and not notebook" $(PYTEST_ARGS)

bench: env  ## benchmark table at 100k and 1M invoices -> bench/results.json
	$(PY) bench/run.py --sizes 100000,1000000

bench-large: env  ## the same at 10M invoices
	$(PY) bench/run.py --sizes 10000000 --steps simulate,load,build,check --out bench/results_10m.json

eval: env  ## recommendation quality on the simulated worlds of bench/worlds -> bench/eval_results.json
	$(PY) bench/eval.py

eval-scores: env  ## backtest payment scores and the cash forecast -> bench/results_scores.json
	$(PY) bench/eval_scores.py

eval-routing: env  ## gentler path for likely payers on a hallon-like world -> bench/results_routing.json
	$(PY) bench/eval_routing.py

lint: env  ## ruff, mypy, sqlfluff
	$(VENV)/bin/ruff check src tests bench dashboards
	$(VENV)/bin/ruff format --check src tests bench dashboards
	$(VENV)/bin/mypy
	$(VENV)/bin/sqlfluff lint sql

format: env
	$(VENV)/bin/ruff format src tests bench dashboards
	$(VENV)/bin/ruff check --fix src tests bench dashboards

clean:
	rm -rf $(VENV) data/*.duckdb data/sample reports/20* bench/_work
