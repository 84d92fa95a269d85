# `make demo` and `make test` each set up .venv from scratch on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint typecheck bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/edgeml demo --out demo-output

# The whole suite, the library's doctests included (pyproject's testpaths and addopts).
test: $(STAMP) system-deps
	$(BIN)/ruff check edgeml tests benchmarks examples
	$(BIN)/mypy edgeml
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

# The same without what is marked slow (training on the real datasets, servers, qemu).
test-fast: $(STAMP)
	$(BIN)/ruff check edgeml tests benchmarks examples
	$(BIN)/mypy edgeml
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -m "not slow"

# Cross compilers and qemu-user for the C package tests (aarch64 and armhf under emulation),
# installed with apt only when missing; as root in CI, through sudo otherwise.
# PostgreSQL: the server that tests/test_source_postgres.py starts (initdb/pg_ctl on a temp dir).
SYSTEM_DEPS := gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf qemu-user postgresql
.PHONY: system-deps
system-deps:
	@if command -v aarch64-linux-gnu-gcc >/dev/null && command -v arm-linux-gnueabihf-gcc >/dev/null \
	    && command -v qemu-aarch64 >/dev/null && command -v qemu-arm >/dev/null \
	    && ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then :; else \
	  if [ "$$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    $(SYSTEM_DEPS); \
	fi

lint: $(STAMP)
	$(BIN)/ruff check edgeml tests benchmarks examples
	$(BIN)/ruff format --check edgeml tests benchmarks examples

typecheck: $(STAMP)
	$(BIN)/mypy edgeml

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[all,dev,bench]'
	$(BIN)/python benchmarks/bench_pipeline.py
	$(BIN)/python benchmarks/bench_kernels.py
	$(BIN)/python benchmarks/bench_features_real.py
	$(BIN)/python benchmarks/bench_inference.py
	$(BIN)/python benchmarks/bench_search.py
	$(BIN)/python benchmarks/bench_serve.py
	$(BIN)/python benchmarks/bench_sources.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
