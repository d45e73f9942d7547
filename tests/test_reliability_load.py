"""Load: a day of many messages dreamed through the scripted server (the
fast suite uses 100,000; `make reliability` one million), with the peak
memory of the dreaming process measured."""

from __future__ import annotations

import json
import os
import time

import pytest

from rem.store import Store, fetch_rows
from scripted_llm import ScriptedLLM
from support import FULL, check_consistent, rem_with_peak, scale

pytestmark = pytest.mark.slow

PEAK_GOAL_MB = 2048


def _fill(store: Store, n: int, per_session: int = 100) -> None:
    store.init()
    with store.connect() as con:
        fetch_rows(con, f"""INSERT INTO sessions (id, name, created_at)
                     SELECT 's' || i, 'load session ' || i, TIMESTAMPTZ '2026-11-12 00:00:00+00' + to_microseconds(CAST(i * {per_session} * 86400e6 / {n} AS BIGINT))
                     FROM range({n // per_session}) t(i)""")
        fetch_rows(con, f"""INSERT INTO messages (id, session_id, role, content, created_at)
                     SELECT 'm' || i, 's' || (i // {per_session}), CASE WHEN i % 2 = 0 THEN 'user' ELSE 'assistant' END,
                            'message ' || i || ' about the diskann vamana graph build, recall at 10 and the ci pipeline',
                            TIMESTAMPTZ '2026-11-12 00:00:00+00' + to_microseconds(CAST(i * 86400e6 / {n} AS BIGINT))
                     FROM range({n}) t(i)""")
        fetch_rows(con, "CHECKPOINT")


def test_a_day_of_many_messages(tmp_path, tally):
    n = 1_000_000 if FULL else scale(100_000, 1_000_000)
    store = Store(tmp_path / "rem.duckdb")
    t0 = time.perf_counter()
    _fill(store, n)
    fill_s = time.perf_counter() - t0
    env = {**os.environ, "REM_CONFIG": str(tmp_path / "none.toml"), "REM_REPORTS_DIR": str(tmp_path / "reports")}
    for v in ("REM_LLM_MODEL", "REM_LLM_BASE_URL", "OPENAI_API_KEY", "REM_LLM_API_KEY", "REM_DB"):
        env.pop(v, None)
    with ScriptedLLM() as srv:
        t1 = time.perf_counter()
        p, peak_mb = rem_with_peak(["--db", str(store.path), "dream", "--start", "2026-11-12", "--end", "2026-11-12",
                                    "--llm", "scripted", "--llm-base-url", srv.base_url, "--json", "--concurrency", "4",
                                    "--max-input-tokens", "6000"], capture_output=True, text=True, env=env, timeout=3600)
        dream_s = time.perf_counter() - t1
        requests = len(srv.requests)
    assert p.returncode == 0, p.stderr[-3000:]
    out = json.loads(p.stdout)
    with store.read() as con:
        covered = con.execute("select count(*) from (select unnest(message_ids) from moments)").fetchall()[0][0]
    ok = out["status"] == "ok" and covered == n and not check_consistent(store) and peak_mb < PEAK_GOAL_MB
    tally(f"load: a day of {n:,} messages dreamed ({out.get('chunks')} chunks, {requests} requests, "
          f"{dream_s:.0f}s, peak {peak_mb:.0f} MB)", 1, int(ok), 0 if covered == n else n - covered)
    result = {"messages": n, "fill_s": round(fill_s, 1), "dream_s": round(dream_s, 1), "chunks": out.get("chunks"),
              "requests": requests, "moments": out.get("moments_created"), "peak_rss_mb": round(peak_mb), "covered": covered}
    print("LOAD", json.dumps(result))
    if os.environ.get("REM_LOAD_OUT"):
        with open(os.environ["REM_LOAD_OUT"], "w") as f:
            json.dump(result, f, indent=2)
    assert ok, result
