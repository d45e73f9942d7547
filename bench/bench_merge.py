"""Edge reinforce/merge throughput, file-backed, side by side in one run.

A REM store holding M edges among M/10 nodes receives a batch of N edges:
10% repeat stored edges (reinforced: decayed weight + increment), 5% repeat
a row of the batch itself, the rest are new edges from new moment nodes to
existing nodes. Every method starts from its own copy of the same file and
commits one transaction; the clock covers the whole call including commit.

- **REM** (`rem.edges.merge`): node keys for new ids, one
  semi-join for the stored matches, the Rust kernel (dedup + decay +
  increment) over Arrow, an Arrow append, one UPDATE by row id, and the
  revert log (`dream_edge_log`) for every added and reinforced edge.
- **MERGE INTO**: what a user would write by hand in DuckDB: deduplicate the
  batch with GROUP BY, then one `MERGE INTO edges` on (source_id, target_id,
  edge_type) — no node keys, no revert log.

Writes bench/results/merge.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"


def build(stored: int) -> Path:
    from rem.store import Store

    p = DATA / f"merge-{stored}.duckdb"
    if p.exists():
        return p
    DATA.mkdir(exist_ok=True)
    tmp = p.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    Store(tmp).init()
    import duckdb

    n = stored // 10
    con = duckdb.connect(str(tmp))
    con.execute(f"INSERT INTO nodes SELECT 'n' || i, i FROM range({n}) t(i)").fetchall()
    con.execute(f"""INSERT INTO edges (source_id, target_id, edge_type, weight, created_at, reinforced_at,
                                       reinforcement_count, generated_by, source_key, target_key)
        SELECT DISTINCT ON (s, d, t) 'n' || s, 'n' || d, t, 1.0, ts, ts, 1, 'bench', s, d FROM (
            SELECT CAST(floor(pow(random(), 2) * {n}) AS BIGINT) AS s, CAST(floor(random() * {n}) AS BIGINT) AS d,
                   CASE CAST(floor(random() * 3) AS INT) WHEN 0 THEN 'about' WHEN 1 THEN 'contains' ELSE 'related_to' END AS t,
                   now() - to_microseconds(CAST(random() * 30 * 86400e6 AS BIGINT)) AS ts
            FROM range({stored})) ORDER BY s""").fetchall()
    con.execute("CHECKPOINT").fetchall()
    con.close()
    tmp.rename(p)
    return p


def batch(path: Path, new: int):
    import duckdb
    import pyarrow as pa

    con = duckdb.connect(str(path), read_only=True)
    rep = con.execute(f"SELECT source_id, target_id, edge_type FROM edges USING SAMPLE {new // 10} ROWS (reservoir, 7)").fetchall()
    n = con.execute("SELECT count(*) FROM nodes").fetchall()[0][0]
    con.close()
    src, dst, typ = [], [], []
    types = ("about", "related_to", "involves")
    for i in range(new):
        if i % 20 == 19 and src:  # 5%: a repeat within the batch
            s, d, t = src[-1], dst[-1], typ[-1]
        elif i % 10 == 0 and rep:  # 10%: a stored edge
            s, d, t = rep[(i // 10) % len(rep)]
        else:  # a new moment linked to existing nodes
            s, d, t = f"m{i // 4}", f"n{(i * 7919) % n}", types[i % 3]
        src.append(s)
        dst.append(d)
        typ.append(t)
    return pa.table({"source_id": src, "target_id": dst, "edge_type": typ, "weight": [1.0] * new,
                     "reinforce": [True] * new, "metadata": pa.nulls(new, pa.string()),
                     "generated_by": ["bench"] * new})


def run_rem(path: Path, b) -> dict:
    from rem.config import half_lives
    from rem.edges import merge as merge_edges
    from rem.store import Store, transaction

    store = Store(path)
    with store.connect() as con:
        t = time.perf_counter()
        with transaction(con):
            added, reinforced = merge_edges(con, b, "bench-run", half_lives())
        secs = time.perf_counter() - t
    return {"seconds": secs, "added": added, "reinforced": reinforced}


def run_merge_into(path: Path, b) -> dict:
    from rem.store import Store, fetch_rows, transaction

    store = Store(path)
    with store.connect() as con:
        con.register("b", b)
        t = time.perf_counter()
        with transaction(con):
            fetch_rows(con, """MERGE INTO edges e USING (
                            SELECT source_id, target_id, edge_type, max(weight) AS weight, any_value(generated_by) AS generated_by
                            FROM b GROUP BY ALL) n
                        ON e.source_id = n.source_id AND e.target_id = n.target_id AND e.edge_type = n.edge_type
                        WHEN MATCHED THEN UPDATE SET weight = rem_decay(e.weight, e.reinforced_at, e.edge_type) + n.weight,
                             reinforced_at = now(), reinforcement_count = e.reinforcement_count + 1
                        WHEN NOT MATCHED THEN INSERT (source_id, target_id, edge_type, weight, created_at, reinforced_at,
                             reinforcement_count, generated_by) VALUES (n.source_id, n.target_id, n.edge_type, n.weight, now(),
                             now(), 1, n.generated_by)""")
        secs = time.perf_counter() - t
    return {"seconds": secs}


def check(path: Path) -> dict:
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    dup, rows = con.execute("SELECT count(*) - count(DISTINCT (source_id, target_id, edge_type)), count(*) FROM edges").fetchall()[0]
    unkeyed = con.execute("SELECT count(*) FROM edges WHERE source_key IS NULL OR target_key IS NULL").fetchall()[0][0]
    con.close()
    return {"duplicates_left": dup, "rows_after": rows, "edges_without_keys": unkeyed}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="2000000:500000,10000000:1000000", help="stored:batch pairs")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    out = []
    for pair in a.sizes.split(","):
        stored, new = (int(x) for x in pair.split(":"))
        base = build(stored)
        b = batch(base, new)
        res: dict = {"stored": stored, "batch": new}
        for name, fn in (("rem", run_rem), ("merge_into", run_merge_into)):
            runs = []
            for i in range(a.repeat):
                work = DATA / f"merge-work-{name}.duckdb"
                shutil.copy(base, work)
                r = fn(work, b)
                if i == 0:
                    r.update(check(work))
                runs.append(r)
                work.unlink()
            secs = sorted(r["seconds"] for r in runs)[len(runs) // 2]
            res[name] = {**runs[0], "seconds": round(secs, 3), "rows_per_s": round(new / secs)}
            print(f"{stored:,} + {new:,} {name:<10} {secs:6.2f}s = {new / secs:,.0f} rows/s  {runs[0]}", flush=True)
        out.append(res)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "merge.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
