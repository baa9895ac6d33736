# pin2deal: `make demo` runs the whole pipeline on the sandbox; `make test` runs the test suite.
# Both set everything up themselves: .venv with the pinned set, and a warehouse (PIN2DEAL_WAREHOUSE_URL when
# set, else a private PostgreSQL under .local/postgres). `make test` stops that private PostgreSQL afterwards when it
# started it; `make demo`, `make ui` and `make bench` leave it running for each other (`make stop` stops it).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
WAREHOUSE_URL = $$($(PY) scripts/local_postgres.py url)
# Tests run in 4 workers (most tests wait on HTTP, budgets and processes; each worker has its own warehouse
# database and Airflow home); PYTEST_ARGS="-n0 -k ..." for one test.
PYTEST_ARGS ?= -n 4 --dist worksteal

export PYTHONPATH := $(CURDIR)/plugins:$(CURDIR)
# Briefing files and other channels' spend CSVs live under the repository (.local/briefings, data/channel_spend).
export PIN2DEAL_HOME := $(CURDIR)
export AIRFLOW_HOME ?= $(CURDIR)/.local/airflow
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False

.PHONY: demo ui test lint bench sandbox spec dist stop clean

$(INSTALLED): requirements.txt requirements-dev.txt constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt -c constraints.txt
	@touch $@

demo: $(INSTALLED)
	PIN2DEAL_WAREHOUSE_URL=$(WAREHOUSE_URL) $(PY) scripts/demo.py

# The real Airflow (api-server, scheduler, dag-processor, triggerer) in the background on the demo world; prints the
# URL and the login. `make stop` stops it (and the private PostgreSQL).
ui: $(INSTALLED)
	PIN2DEAL_WAREHOUSE_URL=$(WAREHOUSE_URL) $(PY) scripts/airflow_local.py start

test: $(INSTALLED) lint
	$(PY) scripts/local_postgres.py run -- $(PY) -m pytest $(PYTEST_ARGS)

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .

bench: $(INSTALLED)
	PIN2DEAL_WAREHOUSE_URL=$(WAREHOUSE_URL) $(PY) -m bench $(BENCH_ARGS)

sandbox: $(INSTALLED)
	$(PY) -m sandbox serve $(SANDBOX_ARGS)

# Pinterest's published OpenAPI description into .local/specs/pinterest/ (where the sandbox and the tests look when
# PIN2DEAL_PINTEREST_SPEC is not set); needs github.com.
spec: $(INSTALLED)
	$(PY) -m sandbox spec

# The distribution a user's Airflow installs: dist/pin2deal-<version>-py3-none-any.whl and the sdist.
dist: $(INSTALLED)
	$(VENV)/bin/uv build --out-dir dist

stop:
	@if [ -x $(PY) ]; then $(PY) scripts/airflow_local.py stop; fi
	$(PYTHON) scripts/local_postgres.py stop

clean: stop
	rm -rf .local
