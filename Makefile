PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/passerelle db upgrade
	$(BIN)/passerelle demo-data --if-empty
	$(BIN)/passerelle run

test: $(STAMP)
	$(BIN)/ruff check .
	PTB_TIMEDELTA=true $(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python tests/bench/bench_relay.py
	$(BIN)/python tests/bench/bench_suggest.py
	$(BIN)/python tests/bench/bench_matching.py
	$(BIN)/python tests/bench/bench_cohort.py
	$(BIN)/python tests/bench/bench_sweep.py

clean:
	rm -rf $(VENV) data/*.db*
