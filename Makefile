# WattDesk — everything a newcomer runs. `make help` lists the targets.
#
#   make demo    create .venv if missing, install the locked runtime deps, run `wattdesk demo`
#   make test    install the locked dev deps, then ruff, mypy and the full pytest suite
#                (SQLite; and PostgreSQL too when WATTDESK_TEST_POSTGRES_URL is set)
#   make check   ruff + mypy only
#   make bench   run every benchmarks/*.py (each prints its ratio against a peer measured in the same run)
#   make lock    re-pin requirements.lock / requirements-dev.lock from the .venv
#
# Installs are idempotent: a stamp file in .venv records the lock file it installed, so a second run does
# nothing unless the lock file (or pyproject.toml) changed.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON_FOR_VENV ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check --no-input
PYTEST_WORKERS ?= 2
PYTEST_ARGS ?=
# Test runs keep their SQLite files / Parquet outputs out of the user's own data directory.
TEST_DATA_DIR := $(CURDIR)/var/test-data

.PHONY: help demo test check lint typecheck pytest pytest-sqlite pytest-postgres bench lock install install-dev clean vendor chromium

help:
	@sed -n '2,12p' Makefile | sed 's/^# \{0,1\}//'

$(PY):
	$(PYTHON_FOR_VENV) -m venv $(VENV)

# Runtime install: stamp depends on the lock and on pyproject (entry points, package metadata).
$(VENV)/.stamp-runtime: requirements.lock pyproject.toml | $(PY)
	$(PIP) install -q -r requirements.lock
	$(PIP) install -q --no-deps -e .
	touch $@

$(VENV)/.stamp-dev: requirements-dev.lock $(VENV)/.stamp-runtime
	$(PIP) install -q -r requirements-dev.lock
	touch $@

# Front-end libraries served from our own static files (no CDN: utilities run on intranets): ECharts from npm,
# pinned in package-lock.json; reinstalled only when node_modules is missing or older than the lock.
# Only the built files a page loads are copied into the static tree (the package's dist/ is ~50 MB of
# variants and source maps that collectstatic would otherwise copy and compress).
VENDOR_STATIC := src/wattdesk/interfaces/web/static/vendor
node_modules/.stamp: package-lock.json package.json
	npm ci --no-audit --no-fund
	mkdir -p $(VENDOR_STATIC)/echarts
	cp node_modules/echarts/dist/echarts.min.js node_modules/echarts/LICENSE $(VENDOR_STATIC)/echarts/
	touch $@

vendor: node_modules/.stamp

install: $(VENV)/.stamp-runtime vendor
install-dev: $(VENV)/.stamp-dev vendor chromium

# Browser tests (tests/browser, Playwright) drive the system Chromium; Playwright's own browser download is
# never used. Installed through the system package manager when missing (sudo when not root), with a CJK font
# so the journeys' screenshots show Chinese text rather than boxes.
CHROMIUM ?= /usr/bin/chromium
chromium:
	@if [ ! -x "$(CHROMIUM)" ] || [ ! -e /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ]; then \
		echo "chromium: installing Debian chromium + fonts-wqy-zenhei"; \
		SUDO=""; if [ "$$(id -u)" -ne 0 ]; then SUDO=sudo; fi; \
		$$SUDO apt-get update -qq; \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends \
			chromium fonts-wqy-zenhei >/dev/null; \
	fi

demo: install
	$(VENV)/bin/wattdesk demo

lint: install-dev
	$(VENV)/bin/ruff check src tests $(wildcard benchmarks)

# mypy over the whole package; wattdesk.core is strict (pyproject override: no Django, no I/O, fully typed).
MYPY_TARGETS ?= src
typecheck: install-dev
	$(VENV)/bin/mypy $(MYPY_TARGETS)

check: lint typecheck

# Pass 1: every test on SQLite. Pass 2 (only if WATTDESK_TEST_POSTGRES_URL is set): every database test
# again on PostgreSQL. tests/conftest.py fails the run if a requested PostgreSQL is unreachable.
pytest-sqlite: install-dev
	mkdir -p $(TEST_DATA_DIR)
	env -u WATTDESK_DATABASE_URL WATTDESK_DATA_DIR=$(TEST_DATA_DIR) WATTDESK_TEST_EXPECT_VENDOR=sqlite \
		$(PY) -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

pytest-postgres: install-dev
	@if [ -z "$${WATTDESK_TEST_POSTGRES_URL:-}" ]; then \
		echo "pytest-postgres: WATTDESK_TEST_POSTGRES_URL not set: database tests ran on SQLite only"; \
	else \
		mkdir -p $(TEST_DATA_DIR); \
		echo "pytest-postgres: database tests again on $$WATTDESK_TEST_POSTGRES_URL"; \
		WATTDESK_DATABASE_URL="$$WATTDESK_TEST_POSTGRES_URL" WATTDESK_DATA_DIR=$(TEST_DATA_DIR) \
		WATTDESK_TEST_EXPECT_VENDOR=postgresql \
			$(PY) -m pytest -n $(PYTEST_WORKERS) -m db $(PYTEST_ARGS); \
	fi

# Both passes run even if the first fails, so one run reports both engines.
pytest: install-dev
	@status=0; \
	$(MAKE) --no-print-directory pytest-sqlite || status=1; \
	$(MAKE) --no-print-directory pytest-postgres || status=1; \
	exit $$status

# Runs every stage even if an earlier one fails, so one run shows everything that is wrong.
test: install-dev
	@status=0; \
	$(MAKE) --no-print-directory lint || status=1; \
	$(MAKE) --no-print-directory typecheck || status=1; \
	$(MAKE) --no-print-directory pytest || status=1; \
	if [ $$status -ne 0 ]; then echo "make test: FAILED (see above)"; fi; \
	exit $$status

bench: install-dev
	@set -e; shopt -s nullglob; files=(benchmarks/*.py); \
	if [ $${#files[@]} -eq 0 ]; then echo "bench: no benchmarks/*.py"; exit 0; fi; \
	for f in "$${files[@]}"; do echo "== $$f"; WATTDESK_DATA_DIR=$(TEST_DATA_DIR) $(PY) "$$f"; done

lock: install-dev
	$(PY) .ci/lock.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
