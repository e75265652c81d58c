# `make demo` and `make test` each set up everything they need on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test pg-stop bench data lint clean

# torch's CPU build first (tools/ml_test_deps.sh), so the test group's ML frameworks find it
# installed instead of pulling PyPI's CUDA build.
$(STAMP): pyproject.toml tools/ml_test_deps.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"
	tools/ml_test_deps.sh $(BIN)/python
	$(BIN)/python -m pip install --quiet -e . --group test
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m wattprint.demo

# The team server's API tests run on SQLite and on a real PostgreSQL: tools/pg_test_server.sh installs
# it from Debian packages if missing and starts a private server (unprivileged user, unix socket only)
# under .pgtest/. It is left running: several `make test` may share one tree at once, and the next run
# reuses it (0.04 s instead of 1 s for initdb + start). `make pg-stop` stops it; `make clean` removes it.
# WATTPRINT_TEST_NO_PG=1 skips PostgreSQL (its tests then skip, saying so).
# The dashboard's browser tests need Debian's chromium and chromium-driver: installed if missing.
test: $(STAMP)
	@tools/browser_test_deps.sh >/dev/null || exit 1; \
	tools/report_test_deps.sh >/dev/null || exit 1; \
	if [ "$${WATTPRINT_TEST_NO_PG:-}" != 1 ]; then \
	  WATTPRINT_TEST_PG_URL="$$(tools/pg_test_server.sh start)" || exit 1; \
	  export WATTPRINT_TEST_PG_URL; \
	fi; \
	$(BIN)/python -m pytest -q

pg-stop:
	tools/pg_test_server.sh stop

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
	tools/pg_test_server.sh clean
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
