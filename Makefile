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

.PHONY: demo test lint format bench docs sync clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

sync: $(UV)
	$(UV) sync --all-packages --locked --quiet

demo: sync
	cd $(EXAMPLE) && ../../$(BIN)/portway validate --all
	cd $(EXAMPLE) && ../../$(BIN)/portway graph --format mermaid

test: sync lint docs
	$(BIN)/python -m pytest

lint: sync
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: sync
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: sync
	$(BIN)/python benchmarks/run.py --json

docs: sync
	$(BIN)/mkdocs build --strict --quiet --site-dir site

clean:
	rm -rf .venv $(TOOLS) site .pytest_cache .mypy_cache .ruff_cache
