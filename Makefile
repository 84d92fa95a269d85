# `make demo` and `make test` each set up .venv from scratch on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/edgeml demo --out demo-output

test: $(STAMP)
	$(BIN)/ruff check edgeml tests benchmarks examples
	$(BIN)/mypy edgeml
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check edgeml tests benchmarks examples
	$(BIN)/ruff format --check edgeml tests benchmarks examples

typecheck: $(STAMP)
	$(BIN)/mypy edgeml

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_pipeline.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache .mypy_cache .ruff_cache
