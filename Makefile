# arinsight — every target here is what CI and the README run.
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
UV    ?= $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
export UV_COMPILE_BYTECODE := 1
export UV_PROJECT_ENVIRONMENT := $(VENV)
export GX_ANALYTICS_ENABLED := False

.PHONY: help env demo test test-fast bench bench-large lint format clean

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

$(UV):
	python3 -m pip install --quiet --user uv || python3 -m pip install --quiet uv

# The environment is rebuilt whenever the lock file changes.
$(VENV)/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --extra dev --extra spark --python 3.11
	@touch $@

env: $(VENV)/.synced  ## create .venv from uv.lock

DEMO_ARGS ?=
demo: env  ## simulate a sample company, load, build, report, serve the dashboard
	$(VENV)/bin/arinsight demo $(DEMO_ARGS)

test: env  ## run the whole suite
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: env  ## skip slow, browser and notebook tests (local loop only)
	$(PY) -m pytest -m "not slow and not browser and not notebook" $(PYTEST_ARGS)

bench: env  ## benchmark table at 100k and 1M invoices -> bench/results.json
	$(PY) bench/run.py --sizes 100000,1000000

bench-large: env  ## the same at 10M invoices
	$(PY) bench/run.py --sizes 10000000 --steps simulate,load,build,check --out bench/results_10m.json

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
