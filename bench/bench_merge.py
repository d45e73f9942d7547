"""Edge reinforce/merge throughput: REM's merge (deduplicate the batch, reinforce
known edges with decay, insert new ones, log every delta for revert) of N new
edges (10% repeats, 5% duplicates within the batch) into a file-backed table
of M edges, in one transaction. Writes bench/results/merge.json."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from rem.dream.persist import merge_edges
from rem.store import Store, run, transaction

HERE = Path(__file__).resolve().parent


def main(stored: int = 2_000_000, new: int = 500_000) -> None:
    with tempfile.TemporaryDirectory() as d:
        store = Store(Path(d) / "m.duckdb")
        store.init()
        with store.connect() as con:
            run(con, f"""INSERT INTO edges SELECT 'n' || (i % 100003), 'n' || (i * 7 % 99991), 'related_to', 1.0, now(), now(), 1,
                         NULL, 'bench', NULL FROM range({stored}) t(i)""")
            run(con, "CHECKPOINT")
        rows = []
        for i in range(new):
            j = i if i % 10 else (i * 31) % stored  # 10% repeats of stored edges
            if i % 20 == 0 and rows:
                rows.append(dict(rows[-1]))  # 5% duplicates inside the batch
                continue
            src, dst = (f"n{j % 100003}", f"n{j * 7 % 99991}") if i % 10 == 0 else (f"x{i}", f"y{i % 5000}")
            rows.append({"source_id": src, "target_id": dst, "edge_type": "related_to", "weight": 1.0, "reinforce": True,
                         "metadata": None, "generated_by": "bench"})
        t = time.perf_counter()
        with store.connect() as con, transaction(con):
            added, reinforced = merge_edges(con, rows, "bench-run")
        secs = time.perf_counter() - t
        with store.read() as con:
            dup = con.execute("select count(*) - count(distinct (source_id, target_id, edge_type)) from edges").fetchall()[0][0]
    out = {"stored": stored, "batch": new, "added": added, "reinforced": reinforced, "seconds": round(secs, 3),
           "rows_per_s": round(new / secs), "duplicates_left": dup}
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "merge.json").write_text(json.dumps(out, indent=2) + "\n")
    print(f"merge of {new:,} edges into {stored:,}: {secs:.2f}s = {out['rows_per_s']:,} rows/s "
          f"({added:,} added, {reinforced:,} reinforced, {dup} duplicates left); goal 2.5M rows/s")


if __name__ == "__main__":
    main()
