# The two commands a newcomer runs: `make demo` and `make test`. Each sets up what it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test bench lint format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Installs are stamped so that repeated make calls are fast; pyproject changes reinstall.
$(VENV)/.ml: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[ml,ui]'
	touch $@

$(VENV)/.dev: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.ml

demo: $(VENV)/.ml
	$(BIN)/dagwell demo

test: $(VENV)/.dev
	$(BIN)/python -m pytest -n 2 --dist loadfile

bench: $(VENV)/.dev
	$(BIN)/python bench/run.py
	$(BIN)/python bench/ui_pages.py

lint: $(VENV)/.dev
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/mypy

format: $(VENV)/.dev
	$(BIN)/ruff check --fix src tests bench examples
	$(BIN)/ruff format src tests bench examples

clean:
	rm -rf $(VENV) .dagwell .bench build dist src/*.egg-info
