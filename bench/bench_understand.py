"""Benchmark: the offline understanding stage (topics, people, emotions,
type, outcome, summary, name) on two windows, no model:

- the demo week's busiest day (what `make demo` dreams): the time the stage
  adds to a dream (goal: at most 1 s);
- a backfill: a day of 20,000 messages in 1,000 sessions written like real
  work chat (sentences of the demo's topics, people and moods, 300–600
  characters): messages understood per second (goal: at least 1,000/s).

Compared side by side with what the same dream spends collecting and
packing (the Rust core) and with the whole no-model dream. Writes
bench/results/understand.json.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa

HERE = Path(__file__).resolve().parent
from rem.config import NO_MODEL, resolve_llm  # noqa: E402
from rem.demo import BLOCKS, MOODS, PEOPLE, generate  # noqa: E402
from rem.dream.run import DreamOptions, preview  # noqa: E402
from rem.ingest import ingest_demo  # noqa: E402
from rem.store import Store, arrow_rows, registered, transaction  # noqa: E402

DAY = datetime(2026, 3, 2, tzinfo=UTC)


def build_backfill(path: Path, n: int, per_session: int = 20) -> None:
    if path.exists():
        return
    rng = random.Random(11)
    store = Store(path)
    store.init()
    sessions, messages = [], []
    for s in range(n // per_session):
        block = rng.choice(BLOCKS)
        start = DAY + timedelta(seconds=rng.randint(0, 80_000))
        sessions.append({"id": f"s{s}", "name": f"{block['title']} #{s}", "created_at": start})
        for k in range(per_session):
            facts = rng.sample(block["facts"], k=min(3, len(block["facts"])))
            text = " ".join(f[0].upper() + f[1:] + "." for f in facts)
            if k % 4 == 0:
                text += f" {rng.choice(PEOPLE)} suggested looking at {rng.choice(block['topics'])}. "
                text += rng.choice(MOODS[rng.choice(block["emotion"])])
            messages.append({"id": f"s{s}m{k}", "session_id": f"s{s}", "role": "user" if k % 2 == 0 else "assistant",
                             "content": text[:600], "created_at": start + timedelta(minutes=2 * k)})
    with store.connect() as con, transaction(con):
        for name, rows in (("sessions", sessions), ("messages", messages)):
            with registered(con, "_b", arrow_rows(name, rows)):
                con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM _b")


def timed(store: Store, start: str, end: str, repeat: int) -> dict[str, float]:
    runs = []
    for _ in range(repeat):
        r = preview(store, resolve_llm(model=NO_MODEL, file_cfg={}, env={}),
                    DreamOptions(lookback_hours=None, start=start, end=end, progress=False))
        runs.append({**r.timings, "total": r.duration_s, "messages": r.plan.activity.messages.num_rows if r.plan else 0,
                     "segments": r.plan.packed.segments.num_rows if r.plan else 0})
    return {k: statistics.median(x[k] for x in runs) for k in runs[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--messages", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--data", type=Path, default=HERE / ".data")
    a = ap.parse_args()
    a.data.mkdir(exist_ok=True)
    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        demo = Store(Path(tmp) / "demo.duckdb")
        generate(Path(tmp) / "activity", seed=7, days=7, end_date="2026-11-15")
        ingest_demo(demo, Path(tmp) / "activity")
        with demo.read() as con:
            day = con.execute("""SELECT CAST(created_at AS DATE) AS d FROM messages GROUP BY 1
                                 ORDER BY count(*) DESC LIMIT 1""").fetchall()[0][0]
        out["busiest_demo_day"] = {"day": str(day), **timed(demo, str(day), str(day), a.repeat)}
    path = a.data / f"understand-{a.messages}.duckdb"
    build_backfill(path, a.messages)
    t = timed(Store(path), DAY.date().isoformat(), DAY.date().isoformat(), max(1, a.repeat // 2))
    t["messages_per_s_understanding"] = t["messages"] / (t["understand"] + t["resolve"])
    out["backfill"] = t
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "understand.json").write_text(json.dumps(out, indent=2) + "\n")
    b, f = out["busiest_demo_day"], out["backfill"]
    print(f"{'window':<28} {'msgs':>7} {'segs':>5} | {'collect':>8} {'pack':>7} | {'understand':>10} {'resolve':>8} | {'dream (no model)':>16}")
    for label, r in ((f"busiest demo day {b['day']}", b), (f"backfill day ({a.messages:,} msgs)", f)):
        print(f"{label:<28} {r['messages']:>7.0f} {r['segments']:>5.0f} | {r['collect'] * 1e3:>6.0f}ms {r['pack'] * 1e3:>5.0f}ms | "
              f"{r['understand'] * 1e3:>8.0f}ms {r['resolve'] * 1e3:>6.0f}ms | {r['total']:>14.2f}s")
    print(f"understanding throughput: {f['messages_per_s_understanding']:,.0f} messages/s")
    _ = pa  # pyarrow is what the rows travel in


if __name__ == "__main__":
    sys.exit(main())
