# REM — every command the README mentions. `make help` lists them.
SHELL := /bin/bash
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DB ?= $(CURDIR)/demo/rem-demo.duckdb
export CARGO_TARGET_DIR ?= $(CURDIR)/target

.PHONY: help venv build demo test test-rust test-py stubtest lint bench wheel clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/activate:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip 'maturin>=1.9,<2'

venv: $(BIN)/activate ## Create the virtualenv (.venv) with maturin

build: venv ## Build the Rust extension (release) and install rem into .venv, with dev tools
	rm -f python/rem/_rem*.so  # a stale .so would shadow the fresh build
	VIRTUAL_ENV=$(CURDIR)/$(VENV) PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/maturin develop --release -q -E dev,bench

demo: build ## Fresh machine → environment, build, a demo week ingested, the dream planned (dry run)
	rm -f $(DEMO_DB) $(DEMO_DB).wal
	$(BIN)/rem --db $(DEMO_DB) demo-data --out $(CURDIR)/demo/activity
	$(BIN)/rem --db $(DEMO_DB) dream --dry-run --lookback-hours 192
	$(BIN)/rem --db $(DEMO_DB) query "select resource_type, count(*) as n from resources group by all order by n desc" --table

test: build test-rust test-py stubtest lint ## Rust tests + pytest + stubtest + lints

test-rust: ## Rust unit and property tests of the core crate
	cargo test -q -p rem-core

test-py: ## pytest (fast suite; excludes the slow reliability suite)
	$(BIN)/pytest -q -m "not slow" tests

stubtest: ## Check python/rem/_rem.pyi against the built module
	$(BIN)/python -m mypy.stubtest rem._rem --mypy-config-file mypy-stubtest.ini

lint: ## ruff + mypy on the package, clippy on the crates
	$(BIN)/ruff check python tests bench
	$(BIN)/mypy python/rem
	cargo clippy -q --workspace -- -D warnings

bench: build ## Benchmarks (see BENCHMARKS.md); writes bench/results/*.json
	$(BIN)/python bench/bench_pack.py
	$(BIN)/python bench/bench_edges_key.py

wheel: venv ## Build a release wheel into dist/
	$(BIN)/maturin build --release -q -o dist

clean: ## Remove build outputs and the demo database
	rm -rf dist demo python/rem/_rem*.so
