"""Benchmark: the whole dream over the demo week's busiest day against a
zero-latency scripted model server — everything but the model's own time.

Reports collect, pack, resolve and persist times side by side with the
design note's budget (collect < 1 s, persist < 2 s) and REM's goal
(collect + pack + validate + persist < 0.5 s), and the input tokens per
1,000 messages of REM's packing against sending the raw rows as JSON.
Writes bench/results/dream.json.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from rem import _rem  # noqa: E402
from rem.config import resolve_llm  # noqa: E402
from rem.demo import generate  # noqa: E402
from rem.dream.collect import collect  # noqa: E402
from rem.dream.run import DreamOptions, dream  # noqa: E402
from rem.dream.window import resolve_window  # noqa: E402
from rem.ingest import ingest_demo  # noqa: E402
from rem.output import rows_of  # noqa: E402
from rem.store import Store  # noqa: E402
from scripted_llm import ScriptedLLM  # noqa: E402


def main(repeat: int = 5) -> None:
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d) / "activity"
        info = generate(folder, seed=7, days=7, end_date="2026-11-15")
        base = Store(Path(d) / "base.duckdb")
        ingest_demo(base, folder)
        with base.read() as con:
            day, n_msgs = con.execute("""select cast(created_at as date) d, count(*) n from messages
                                         group by d order by n desc limit 1""").fetchall()[0]
        day = str(day)
        # tokens: REM's packing vs the raw rows as JSON, same estimator
        # the baseline is the design note's naive collection: SELECT * rows of the window as JSON
        w = resolve_window(lookback_hours=None, start=day, end=day)
        act = collect(base, w)
        with base.read() as con:
            p = {"s": w.start, "e": w.end}
            raw_rows = {
                "resources": rows_of(con.sql("SELECT * FROM resources WHERE created_at >= $s AND created_at < $e", params=p).to_arrow_table()),
                "sessions": rows_of(con.sql("SELECT * FROM sessions WHERE id IN (SELECT session_id FROM messages WHERE created_at >= $s AND created_at < $e)", params=p).to_arrow_table()),
                "messages": rows_of(con.sql("SELECT * FROM messages WHERE created_at >= $s AND created_at < $e ORDER BY created_at", params=p).to_arrow_table()),
            }
        raw = json.dumps(raw_rows, ensure_ascii=False)
        runs = []
        for i in range(repeat):
            db = Path(d) / f"run{i}.duckdb"
            db.write_bytes(base.path.read_bytes())
            store = Store(db)
            with ScriptedLLM() as srv:
                s = resolve_llm(model="scripted", base_url=srv.base_url, file_cfg={}, env={})
                r = dream(store, s, DreamOptions(lookback_hours=None, start=day, end=day, progress=False))
            runs.append(r)
        t = {k: statistics.median(r.timings[k] for r in runs) for k in ("collect", "pack", "resolve", "persist", "model")}
        r0 = runs[0]
        packed_tokens = r0.plan.packed.est_tokens
        raw_tokens = _rem.estimate_tokens(raw)
        msgs = act.messages.num_rows
        out = {
            "day": day, "messages": msgs, "resources": act.resources.num_rows, "segments": r0.plan.packed.segments.num_rows,
            "moments": r0.stats.moments_created, "edges": r0.stats.edges_added, "demo_blocks": info["blocks"],
            "ms": {k: round(v * 1000, 1) for k, v in t.items()},
            "rem_total_ms_without_model": round((t["collect"] + t["pack"] + t["resolve"] + t["persist"]) * 1000, 1),
            "packed_tokens": packed_tokens, "raw_json_tokens": raw_tokens,
            "packed_tokens_per_1000_messages": round(packed_tokens / max(msgs, 1) * 1000),
            "raw_json_tokens_per_1000_messages": round(raw_tokens / max(msgs, 1) * 1000),
            "token_ratio": round(raw_tokens / max(packed_tokens, 1), 2),
        }
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "dream.json").write_text(json.dumps(out, indent=2) + "\n")
    print(f"dream of the busiest demo day ({out['day']}: {msgs} messages, {out['resources']} resources, "
          f"{out['segments']} segments) against a zero-latency scripted model, median of {repeat}")
    print(f"{'step':<10} {'REM':>9}   design-note budget")
    print(f"{'collect':<10} {out['ms']['collect']:>7.1f}ms   < 1000 ms")
    print(f"{'pack':<10} {out['ms']['pack']:>7.1f}ms")
    print(f"{'resolve':<10} {out['ms']['resolve']:>7.1f}ms")
    print(f"{'persist':<10} {out['ms']['persist']:>7.1f}ms   < 2000 ms")
    print(f"{'total':<10} {out['rem_total_ms_without_model']:>7.1f}ms   goal < 500 ms (model HTTP round trips: {out['ms']['model']:.1f} ms)")
    print(f"input tokens per 1,000 messages: packed {out['packed_tokens_per_1000_messages']:,} vs raw JSON rows "
          f"{out['raw_json_tokens_per_1000_messages']:,} ({out['token_ratio']}x fewer; goal >= 3x)")


if __name__ == "__main__":
    main()
