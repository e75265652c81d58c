# `make demo` and `make test` each set up everything they need on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench data lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet -e . --group test
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m wattprint.demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

# Regenerate the bundled tables from ../shared/reference-data (see tools/build_data/, one module per table family).
data: $(STAMP)
	$(BIN)/python tools/build_data.py

lint: $(STAMP)
	$(BIN)/python -m pip install --quiet --group dev
	$(BIN)/python -m ruff check src tests tools benchmarks
	$(BIN)/python -m mypy

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
