# WattDesk — everything a newcomer runs. `make help` lists the targets.
#
#   make demo    create .venv if missing, install the locked runtime deps, run `wattdesk demo`
#   make test    install the locked dev deps, then make check and the full pytest suite (SQLite; PostgreSQL too
#                when WATTDESK_TEST_POSTGRES_URL is set; functional + browser tests again 45 days ahead)
#   make check   ruff (lint + format), mypy, import-linter layer contracts, deptry (no stage stops the others)
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

.PHONY: help demo demo-port test check lint typecheck imports deps pytest pytest-sqlite pytest-postgres pytest-shifted faketime bench lock install install-dev clean vendor-refresh chromium

help:
	@sed -n '2,12p' Makefile | sed 's/^# \{0,1\}//'

$(PY):
	$(PYTHON_FOR_VENV) -m venv $(VENV)

# Runtime install: stamp depends on the lock and on pyproject (entry points, package metadata).
# pip shows what it installs and its download progress (a first install takes minutes: say so, not silence).
$(VENV)/.stamp-runtime: requirements.lock pyproject.toml | $(PY)
	@echo "install: locked runtime dependencies into $(VENV) (first run: a few minutes)"
	$(PIP) install --progress-bar on -r requirements.lock
	$(PIP) install -q --no-deps -e .
	touch $@

$(VENV)/.stamp-dev: requirements-dev.lock $(VENV)/.stamp-runtime
	@echo "install: locked development dependencies into $(VENV)"
	$(PIP) install --progress-bar on -r requirements-dev.lock
	touch $@

# Front-end libraries served from our own static files (no CDN: utilities run on intranets). The built files a
# page loads are committed under static/vendor/ (ECharts: echarts.min.js + its LICENSE), so neither `make demo`
# nor `make test` needs Node. Optional refresh, with Node/npm: `make vendor-refresh` installs the versions pinned
# in package-lock.json and re-copies the built files (then commit them). Only those files are copied: the
# package's dist/ is ~50 MB of variants and source maps that collectstatic would otherwise copy and compress.
VENDOR_STATIC := src/wattdesk/interfaces/web/static/vendor
vendor-refresh:
	npm ci --no-audit --no-fund
	mkdir -p $(VENDOR_STATIC)/echarts
	cp node_modules/echarts/dist/echarts.min.js node_modules/echarts/LICENSE $(VENDOR_STATIC)/echarts/
	@git status --short -- $(VENDOR_STATIC)

install: $(VENV)/.stamp-runtime
install-dev: $(VENV)/.stamp-dev chromium faketime

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

# The port is checked before anything is installed or built (`wattdesk demo` checks again, and the gateway's).
DEMO_PORT ?= 8000
demo-port:
	@$(PYTHON_FOR_VENV) -c 'import socket, sys; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1])))' $(DEMO_PORT) 2>/dev/null \
		|| { echo "make demo: port $(DEMO_PORT) on 127.0.0.1 is busy: stop what uses it, or run make demo DEMO_PORT=N" >&2; exit 2; }

# libfaketime for `make pytest-shifted`, installed through the system package manager when missing.
faketime:
	@if ! command -v faketime >/dev/null 2>&1; then \
		echo "faketime: installing Debian faketime (libfaketime)"; \
		SUDO=""; if [ "$$(id -u)" -ne 0 ]; then SUDO=sudo; fi; \
		$$SUDO apt-get update -qq; \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends faketime >/dev/null; \
	fi

demo: demo-port install
	$(VENV)/bin/wattdesk demo --port $(DEMO_PORT)

lint: install-dev
	$(VENV)/bin/ruff check src tests $(wildcard benchmarks)
	$(VENV)/bin/ruff format --check src tests $(wildcard benchmarks)

# mypy over the whole package; wattdesk.core is strict (pyproject override: no Django, no I/O, fully typed).
MYPY_TARGETS ?= src
typecheck: install-dev
	$(VENV)/bin/mypy $(MYPY_TARGETS)

# Layer contracts (.importlinter): core is pure (no Django, no other layer, no I/O or clock modules); domain never
# imports application or interfaces; application never imports interfaces.
imports: install-dev
	$(VENV)/bin/lint-imports --no-cache

# Dependencies (deptry, configured in pyproject.toml [tool.deptry]), two passes:
#  1. the package: undeclared or transitive-only imports, runtime dependencies imported nowhere, dev ones in src;
#  2. src + tests + benchmarks with the dev group counted as regular: dev dependencies imported nowhere. Every
#     module name under tests/ and benchmarks/ is first party (pytest puts the test folders on sys.path); the
#     tools run as commands or pytest plugins, never imported, are named here (waitress and gunicorn: servers
#     bench_platform.py runs as commands, peers of `wattdesk serve`).
DEV_TOOLS := ruff|mypy|django-stubs|types-pyyaml|import-linter|deptry|pytest-xdist|pytest-django|waitress|gunicorn
TEST_MODULES = $(shell find tests benchmarks -name '*.py' -printf '%f\n' 2>/dev/null | sed 's/\.py$$//' | sort -u | sed 's/^/-kf /')
deps: install-dev
	$(VENV)/bin/deptry --no-ansi src
	$(VENV)/bin/deptry --no-ansi src tests benchmarks --exclude '(.*/)?(\.venv|node_modules|var|test-artifacts)/' \
		-kf wattdesk $(TEST_MODULES) --optional-dependencies-dev-groups "" \
		--per-rule-ignores "DEP002=psycopg|django-htmx|whitenoise|$(DEV_TOOLS)"

# Runs every stage even if an earlier one fails, so one run shows everything that is wrong.
check: install-dev
	@status=0; \
	$(MAKE) --no-print-directory lint || status=1; \
	$(MAKE) --no-print-directory typecheck || status=1; \
	$(MAKE) --no-print-directory imports || status=1; \
	$(MAKE) --no-print-directory deps || status=1; \
	if [ $$status -ne 0 ]; then echo "make check: FAILED (see above)"; fi; \
	exit $$status

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

# Pass 3: the functional and browser tests again with the clock SHIFT ahead (libfaketime, Debian `faketime`), so
# nothing passes only because of today's date (a default period, a due date, a "recent" window). The shift is a
# relative offset: the faked clock runs on. FAKETIME_DONT_FAKE_MONOTONIC is NOT set: with it, libfaketime 0.9.10
# breaks Python's time.sleep (clock_nanosleep -> EINVAL); the monotonic clock is shifted by the same constant,
# which nothing minds. Every child (`wattdesk serve`/`demo` subprocesses, Playwright's driver, Chromium) inherits
# the shifted clock, so the served app and the tests agree on "now". SQLite only: no product query reads the
# database server's clock (PostgreSQL's now() would be the real one), and pass 2 covers PostgreSQL.
SHIFT ?= +45d
SHIFTED_TESTS ?= tests/functional tests/browser
pytest-shifted: install-dev faketime
	mkdir -p $(TEST_DATA_DIR)
	@real=$$(date +%s); faketime -f "$(SHIFT)" $(PY) -c 'import sys, time; d = (time.time() - int(sys.argv[1])) / 86400; print(f"pytest-shifted: clock {d:+.1f} days"); sys.exit(d < 40)' $$real \
		|| { echo "pytest-shifted: the clock is not shifted >= 40 days (SHIFT=$(SHIFT), faketime working?)"; exit 1; }
	env -u WATTDESK_DATABASE_URL WATTDESK_DATA_DIR=$(TEST_DATA_DIR) WATTDESK_TEST_EXPECT_VENDOR=sqlite \
		faketime -f "$(SHIFT)" $(PY) -m pytest -n $(PYTEST_WORKERS) $(SHIFTED_TESTS) $(PYTEST_ARGS)

# All passes run even if one fails, so one run reports both engines and the shifted clock.
pytest: install-dev
	@status=0; \
	$(MAKE) --no-print-directory pytest-sqlite || status=1; \
	$(MAKE) --no-print-directory pytest-postgres || status=1; \
	$(MAKE) --no-print-directory pytest-shifted || status=1; \
	exit $$status

# Runs every stage even if an earlier one fails, so one run shows everything that is wrong.
test: install-dev
	@status=0; \
	$(MAKE) --no-print-directory check || status=1; \
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
