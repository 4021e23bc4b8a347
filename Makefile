# The two commands of the README: `make demo` and `make test`. Everything they need is
# installed from this repository's own files: uv (pinned, from PyPI, into .tools/) and
# the workspace's locked dependencies (uv.lock) into .venv/.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
BIN := .venv/bin
EXAMPLE := examples/lake-to-warehouse
# Never download a Python: use the machine's 3.11+.
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(shell command -v $(PYTHON))

.PHONY: demo test lint format bench soak docs sync clean ui browser

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

sync: $(UV)
	$(UV) sync --all-packages --locked --quiet

# The example end to end on the local provider, from a clean state: the sample CSVs
# land in `landing`, flow through enqueue -> transform -> loaded -> report, and the
# `status` endpoint's function lists what arrived in `lake`.
demo: sync
	cd $(EXAMPLE) && ../../$(BIN)/portway validate --all
	cd $(EXAMPLE) && ../../$(BIN)/portway graph --format mermaid
	rm -rf $(EXAMPLE)/.portway/dev
	cd $(EXAMPLE) && for file in samples/*.csv; do \
		../../$(BIN)/portway put landing "$$(basename $$file)" "$$file"; done
	cd $(EXAMPLE) && ../../$(BIN)/portway run --until-idle
	@echo "What arrived in lake (GET /status):"
	cd $(EXAMPLE) && ../../$(BIN)/portway invoke status

# The example with the live dashboard (`portway run --ui`) for two minutes: it prints
# the dashboard's URL (with its per-run token) at start; open it in a browser.
.PHONY: demo-ui
demo-ui: sync
	rm -rf $(EXAMPLE)/.portway/dev
	cd $(EXAMPLE) && for file in samples/*.csv; do \
		../../$(BIN)/portway put landing "$$(basename $$file)" "$$file"; done
	cd $(EXAMPLE) && ../../$(BIN)/portway run --ui --for 120

test: sync lint docs browser
	$(BIN)/python -m pytest

# The dashboard's browser tests drive Debian's Chromium (never a downloaded browser).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

lint: sync
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: sync
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: sync
	$(BIN)/python benchmarks/run.py --json

# The crash test with ten times the kills of CI (SOAK_KILLS to change it).
SOAK_KILLS ?= 200
soak: sync
	PORTWAY_CRASH_KILLS=$(SOAK_KILLS) $(BIN)/python -m pytest -s tests/local/test_crash_safety.py

docs: sync
	$(BIN)/mkdocs build --strict --quiet --site-dir site

# The graph view's bundle, src/portway/ui/static/portway-graph.{js,css}, from web/ (needs
# Node 20+ and npm). Not part of `make test`: the bundle is committed and ships in the
# wheel; tests/graph/test_html.py fails, saying "run make ui", when web/ changed since.
ui:
	cd web && npm ci --no-audit --no-fund && npm run build

clean:
	rm -rf .venv $(TOOLS) site .pytest_cache .mypy_cache .ruff_cache
