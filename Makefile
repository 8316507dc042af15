# Quick start: `make demo` serves the demo, `make test` runs every check.
# Both create .venv on first use; only Python 3.11+ and make are needed.
# `make test` runs the suite twice: on the fast stack (SQLite + in-memory
# channel layer) and on the production stack (PostgreSQL at 127.0.0.1:5432,
# user postgres, + channels_redis at 127.0.0.1:6379), selected by
# CG_TEST_STACK=production; `make pytest-production` runs only the latter.
# Each production run creates its own database and Redis prefix (tests/stacks.py).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: test lint typecheck pytest pytest-production dist docs matrix demo bench screenshot clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install only when the package metadata changes.
$(VENV)/.stamp-test: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,demo,docs]'
	touch $@

$(VENV)/.stamp-demo: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[demo]'
	touch $@

lint: $(VENV)/.stamp-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.stamp-test
	$(BIN)/mypy

pytest: $(VENV)/.stamp-test
	$(BIN)/pytest $(PYTEST_ARGS)

# The sdist and wheel, built offline from the venv's setuptools, checked as
# PyPI renders them (twine) and for what an installer needs (.ci/check_dist.py).
dist: $(VENV)/.stamp-test
	rm -rf dist
	$(BIN)/python -m build --no-isolation --outdir dist . >/dev/null
	$(BIN)/twine check --strict dist/*
	$(BIN)/python .ci/check_dist.py dist

# The documentation site (docs/conf.py says why Sphinx), warnings as errors.
# Doctrees are kept in build/ so a rebuild only redoes changed pages.
docs: $(VENV)/.stamp-test
	$(BIN)/sphinx-build -q -W --keep-going -j 2 -b html -d build/doctrees docs build/docs
	@echo "documentation: build/docs/index.html"

# The built wheel on the oldest and newest supported Python/Django/DRF/Channels
# (a smoke subset of the suite, in venvs under .matrix/; .ci/matrix.py).
matrix: dist
	$(BIN)/python .ci/matrix.py

pytest-production: $(VENV)/.stamp-test
	CG_TEST_STACK=production $(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck pytest pytest-production dist docs matrix

demo: $(VENV)/.stamp-demo
	$(BIN)/python demo_project/manage.py migrate --noinput
	$(BIN)/python demo_project/manage.py seed_demo
	@echo
	@echo "  channels-gateway demo: http://$(HOST):$(PORT)/"
	@echo "  demo login: demo / demo-password"
	@echo
	@# uvicorn, not daphne: its send waits while a client's socket is full, which
	@# is what lets the gateway close a client that stops reading (docs/PROTOCOL.md).
	cd demo_project && ../$(BIN)/uvicorn --host $(HOST) --port $(PORT) demo_project.asgi:application

$(VENV)/.stamp-bench: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,demo,bench]'
	touch $@

# Side-by-side benchmarks (docs/PERFORMANCE.md); e.g. `make bench BENCH_ARGS=--quick`.
bench: $(VENV)/.stamp-bench
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

# Refresh docs/screenshot.png (docs/DEMO.md) and docs/browsable-gateway.png
# (docs/ASYNCAPI.md) from the browser tests.
screenshot: $(VENV)/.stamp-test
	UPDATE_SCREENSHOT=1 $(BIN)/pytest tests/integration/test_demo_browser.py tests/integration/test_gateway_browser.py

clean:
	rm -rf $(VENV) .matrix build dist docs/reference/_generated *.egg-info
