"""Why `edges` has no PRIMARY KEY: bulk edge writes with and without one.

Writes N new edges (with 10% repeats of stored ones) into a table already
holding M edges, file-backed, three ways:
- keyed: PRIMARY KEY (source_id, target_id, edge_type) + INSERT … ON CONFLICT DO UPDATE;
- unkeyed merge: no constraint, MERGE INTO keyed on the same columns (REM's rule);
- unkeyed append: plain INSERT (no uniqueness at all; the floor).
Also the time to load the M stored edges into each table. Writes
bench/results/edges_key.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent

COLS = "source_id VARCHAR, target_id VARCHAR, edge_type VARCHAR, weight DOUBLE, reinforced_at TIMESTAMPTZ, reinforcement_count BIGINT"


def gen(n: int, offset: int) -> str:
    return f"""SELECT 'n' || ((i + {offset}) % 1000003) AS source_id, 'n' || ((i + {offset}) * 7 % 999983) AS target_id,
                      CASE i % 3 WHEN 0 THEN 'about' WHEN 1 THEN 'contains' ELSE 'related_to' END AS edge_type,
                      1.0 AS weight, now() AS reinforced_at, 1 AS reinforcement_count FROM range({n}) t(i)"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stored", type=int, default=2_000_000)
    ap.add_argument("--new", type=int, default=500_000)
    a = ap.parse_args()
    out = {"stored": a.stored, "new": a.new}
    with tempfile.TemporaryDirectory() as d:
        for mode in ("keyed", "merge", "append"):
            con = duckdb.connect(str(Path(d) / f"{mode}.duckdb"))
            pk = ", PRIMARY KEY (source_id, target_id, edge_type)" if mode == "keyed" else ""
            con.execute(f"CREATE TABLE edges ({COLS}{pk})").fetchall()
            t0 = time.perf_counter()
            con.execute(f"INSERT INTO edges SELECT DISTINCT ON (source_id, target_id, edge_type) * FROM ({gen(a.stored, 0)})").fetchall()
            con.execute("CHECKPOINT").fetchall()
            load = time.perf_counter() - t0
            # the batch: 90% new, 10% repeats of stored edges, deduplicated within itself first
            batch = f"SELECT DISTINCT ON (source_id, target_id, edge_type) * FROM ({gen(a.new, a.stored - a.new // 10)})"
            con.execute(f"CREATE TEMP TABLE b AS {batch}").fetchall()
            t0 = time.perf_counter()
            if mode == "keyed":
                con.execute("""INSERT INTO edges SELECT * FROM b ON CONFLICT (source_id, target_id, edge_type)
                               DO UPDATE SET weight = edges.weight + 1, reinforced_at = excluded.reinforced_at,
                               reinforcement_count = edges.reinforcement_count + 1""").fetchall()
            elif mode == "merge":
                con.execute("""MERGE INTO edges e USING b ON e.source_id = b.source_id AND e.target_id = b.target_id AND e.edge_type = b.edge_type
                               WHEN MATCHED THEN UPDATE SET weight = e.weight + 1, reinforced_at = b.reinforced_at, reinforcement_count = e.reinforcement_count + 1
                               WHEN NOT MATCHED THEN INSERT VALUES (b.source_id, b.target_id, b.edge_type, b.weight, b.reinforced_at, b.reinforcement_count)""").fetchall()
            else:
                con.execute("INSERT INTO edges SELECT * FROM b").fetchall()
            con.execute("CHECKPOINT").fetchall()
            write = time.perf_counter() - t0
            dup = con.execute("SELECT count(*) - count(DISTINCT (source_id, target_id, edge_type)) FROM edges").fetchall()[0][0]
            out[mode] = {"load_s": round(load, 2), "write_s": round(write, 3), "rows_per_s": round(a.new / write), "duplicates_left": dup}
            con.close()
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "edges_key.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
