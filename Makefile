# Quick start: `make run` (demo workspace on SQLite) and `make test` (ruff, mypy, pytest).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO_DB ?= demo/winnow.db
DEMO_URL := sqlite:///$(DEMO_DB)
PORT ?= 8000

.PHONY: run test lint typecheck pytest install dev bench clean

$(BIN)/winnow: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(BIN)/pytest: pyproject.toml $(BIN)/winnow
	$(BIN)/pip install --quiet -e '.[dev,spark]'
	touch $@

install: $(BIN)/winnow

dev: $(BIN)/pytest

run: install
	@mkdir -p $(dir $(DEMO_DB))
	$(BIN)/winnow demo --database $(DEMO_URL) --force
	$(BIN)/winnow leads --database $(DEMO_URL) --workspace demo --top 10
	@echo "Keys for the demo workspace (shown once):"
	$(BIN)/winnow keys create write --name "demo website" --database $(DEMO_URL) --workspace demo
	$(BIN)/winnow keys create secret --role admin --name "demo admin" --database $(DEMO_URL) --workspace demo
	@echo "Sign in to the dashboard at http://127.0.0.1:$(PORT) with:"
	$(BIN)/winnow users add demo@lumen.example --role admin --name "Demo Admin" --generate --database $(DEMO_URL) --workspace demo
	$(BIN)/winnow serve --database $(DEMO_URL) --port $(PORT)

lint: dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: dev
	$(BIN)/mypy

pytest: dev
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck pytest

bench: install
	$(BIN)/python bench/rescore.py

clean:
	rm -rf $(VENV) demo .pytest_cache .mypy_cache .ruff_cache
