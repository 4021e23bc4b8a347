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

.PHONY: demo test lint format bench soak docs sync clean ui browser emulators

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

test: sync lint docs browser emulators
	$(BIN)/python -m pytest

# The emulators the provider tests use; pytest fixtures start each on a free port and stop
# it after. Azurite (Blob and Queue, for portway-azure) comes from npm with the lock file
# in tools/azurite; Google's Pub/Sub emulator (Java, for portway-gcp) comes with the
# machine's Google Cloud SDK (PORTWAY_PUBSUB_EMULATOR to point elsewhere). moto,
# gcp-storage-emulator, drongo and functions-framework are Python dev dependencies.
PUBSUB_EMULATOR ?= $(or $(PORTWAY_PUBSUB_EMULATOR),/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator)
AZURITE := tools/azurite/node_modules/.bin/azurite-queue
emulators: $(AZURITE)
	@if [ -x "$(PUBSUB_EMULATOR)" ]; then :; \
	elif [ "$${CI:-}" = "true" ]; then \
		echo "error: Google's Pub/Sub emulator is not at $(PUBSUB_EMULATOR): install the" \
			"Google Cloud SDK's pubsub-emulator component or set PORTWAY_PUBSUB_EMULATOR" >&2; \
		exit 1; \
	else \
		echo "warning: no Pub/Sub emulator at $(PUBSUB_EMULATOR): portway-gcp's emulator" \
			"tests will be skipped (they fail with CI=true)" >&2; \
	fi

$(AZURITE): tools/azurite/package-lock.json
	npm ci --prefix tools/azurite --no-audit --no-fund --loglevel=error
	touch $@

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
