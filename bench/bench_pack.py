"""Benchmark: collect + segment + pack a 24-hour window of ~50,000 messages
(average ~400 characters) out of a 5-million-message table.

Side by side in one run:
- REM: one SQL query per table fetched as Arrow, then the Rust packer;
- plain Python: the same SQL fetched as Python rows, then the same packing
  written in Python (bench/pypack.py, byte-identical output, checked here);
on the table in time order and on a physically shuffled copy.

Prints a table and writes bench/results/pack.json. The 5M-row database is
built once into bench/.data/ (about a minute) and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import pypack  # noqa: E402
from rem import _rem  # noqa: E402
from rem.dream.collect import MESSAGES_SQL, RESOURCES_SQL, collect_on, pack  # noqa: E402
from rem.dream.window import Window  # noqa: E402
from rem.store import Store, fetch_rows  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 100


def build(path: Path, n_messages: int, shuffled: bool) -> None:
    if path.exists():
        return
    tmp = path.with_suffix(".tmp")
    if tmp.exists():
        tmp.unlink()
    Store(tmp).init()
    con = duckdb.connect(str(tmp))
    per_session = 20
    span_us = DAYS * 86_400_000_000
    order = "ORDER BY hash(i)" if shuffled else ""
    t = time.perf_counter()
    fetch_rows(con, f"""
        INSERT INTO sessions (id, name, created_at)
        SELECT 's' || i, 'session ' || i, TIMESTAMPTZ '{T0.isoformat()}' + to_microseconds(CAST(i * {per_session} * ({span_us} // {n_messages}) AS BIGINT))
        FROM range({n_messages // per_session}) t(i) {order}""")
    fetch_rows(con, f"""
        INSERT INTO messages (id, session_id, role, content, created_at)
        SELECT 'm' || i, 's' || (i // {per_session}),
               CASE i % 4 WHEN 0 THEN 'user' WHEN 1 THEN 'assistant' WHEN 2 THEN 'tool' ELSE 'assistant' END,
               substr(repeat(md5(CAST(i AS VARCHAR)) || ' lorem ipsum dolor sit amet ', 12), 1, 200 + CAST(i * 7919 % 400 AS INTEGER)),
               TIMESTAMPTZ '{T0.isoformat()}' + to_microseconds(CAST(i * ({span_us} // {n_messages}) AS BIGINT))
        FROM range({n_messages}) t(i) {order}""")
    fetch_rows(con, f"""
        INSERT INTO resources (id, name, resource_type, content, created_at, updated_at)
        SELECT 'r' || i, 'doc ' || i, CASE i % 3 WHEN 0 THEN 'note' WHEN 1 THEN 'commit' ELSE 'document' END,
               repeat('Resource text about vector search. ', 20),
               TIMESTAMPTZ '{T0.isoformat()}' + to_microseconds(CAST(i * ({span_us} // 20000) AS BIGINT)),
               TIMESTAMPTZ '{T0.isoformat()}'
        FROM range(20000) t(i) {order}""")
    fetch_rows(con, "CHECKPOINT")
    con.close()
    tmp.rename(path)
    print(f"built {path.name} in {time.perf_counter() - t:.1f}s", file=sys.stderr)


def peak_rss_reset() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rem_way(con: duckdb.DuckDBPyConnection, w: Window) -> tuple[dict, object]:
    """What a dream does: collect, then segment (time gaps, sessions and topic shifts) and pack."""
    t0 = time.perf_counter()
    act = collect_on(con, w)
    t1 = time.perf_counter()
    packed = pack(act, max_input_tokens=6000)
    t2 = time.perf_counter()
    plain = pack(act, max_input_tokens=6000, topic_segments=False)  # like for like with the reference
    t3 = time.perf_counter()
    return {"collect": t1 - t0, "pack": t2 - t1, "total": t2 - t0, "pack_without_topics": t3 - t2}, (packed, plain)


def python_way(con: duckdb.DuckDBPyConnection, w: Window) -> tuple[dict, object]:
    p = {"start": w.start, "end": w.end}
    t0 = time.perf_counter()

    def rows(sql: str) -> list[dict]:
        cur = con.execute(sql, p)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    res, msg = rows(RESOURCES_SQL), rows(MESSAGES_SQL)
    ses = rows("SELECT id, name FROM sessions WHERE id IN (SELECT session_id FROM messages WHERE created_at >= $start AND created_at < $end)")
    t1 = time.perf_counter()
    out = pypack.pack(res, ses, msg, max_input_tokens=6000)
    t2 = time.perf_counter()
    return {"collect": t1 - t0, "pack": t2 - t1, "total": t2 - t0}, out


def median_of(fn, con, w, repeat: int) -> tuple[dict, object, float]:
    runs = []
    out = None
    peak_rss_reset()
    for _ in range(repeat):
        t, out = fn(con, w)
        runs.append(t)
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}, out, peak_rss_mb()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--messages", type=int, default=5_000_000)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--data", type=Path, default=HERE / ".data")
    args = ap.parse_args()
    args.data.mkdir(exist_ok=True)
    results = {"messages_in_table": args.messages, "repeat": args.repeat, "cases": {}}
    for layout, shuffled in (("time-ordered", False), ("shuffled", True)):
        path = args.data / f"pack-{args.messages}-{layout}.duckdb"
        build(path, args.messages, shuffled)
        con = duckdb.connect(str(path), read_only=True)
        day = T0 + timedelta(days=DAYS // 2)
        w = Window(day, day + timedelta(hours=24))
        n = con.execute("select count(*) from messages where created_at >= $1 and created_at < $2", [w.start, w.end]).fetchall()[0][0]
        avg = con.execute("select avg(length(content)) from messages where created_at >= $1 and created_at < $2", [w.start, w.end]).fetchall()[0][0]
        rem_way(con, w)  # warm-up
        python_way(con, w)
        rt, (packed, plain), rem_peak = median_of(rem_way, con, w, args.repeat)
        pt, ref, py_peak = median_of(python_way, con, w, max(1, args.repeat // 2))
        # the Python reference implements time-gap segmentation only: compare it with REM's plain packing
        same = plain.chunks.to_pylist() == ref["chunks"]
        con.close()
        results["cases"][layout] = {
            "window_messages": n, "avg_chars": round(avg, 1), "chunks": packed.chunks.num_rows,
            "rem_ms": {k: round(v * 1000, 1) for k, v in rt.items()},
            "python_ms": {k: round(v * 1000, 1) for k, v in pt.items()},
            "segments": packed.segments.num_rows, "segments_without_topics": plain.segments.num_rows,
            "pack_speedup": round(pt["pack"] / rt["pack"], 1),
            "total_speedup": round(pt["total"] / rt["total"], 1),
            "peak_rss_mb": {"rem": round(rem_peak), "python": round(py_peak)},
            "identical_output": same,
        }
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "pack.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"collect + segment + pack, 24 h window of a {args.messages:,}-message table (median of {args.repeat})")
    print(f"{'layout':<13} {'msgs':>6} {'chunks':>6} | {'REM collect':>11} {'pack':>7} {'total':>7} | {'Python collect':>14} {'pack':>8} {'total':>8} | {'pack x':>6} {'total x':>7} | same")
    for layout, c in results["cases"].items():
        r, p = c["rem_ms"], c["python_ms"]
        print(f"{layout:<13} {c['window_messages']:>6} {c['chunks']:>6} | {r['collect']:>9.1f}ms {r['pack']:>5.1f}ms {r['total']:>5.1f}ms | "
              f"{p['collect']:>12.1f}ms {p['pack']:>6.1f}ms {p['total']:>6.1f}ms | {c['pack_speedup']:>5.1f}x {c['total_speedup']:>6.1f}x | {c['identical_output']}")
    _ = _rem  # the native module is what is measured


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
