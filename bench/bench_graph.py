"""Benchmark: the living graph end to end — from the edges table in DuckDB to
scores written back — side by side with what a user would pick instead:
networkx, igraph, rustworkx, scipy.sparse power iteration and plain DuckDB
SQL; plus traversal (one-shot and in a long-lived process).

Each case runs in its own subprocess so its peak memory (VmHWM) is its own.
Sizes: 100k nodes / 1M edges and 1M nodes / 10M edges (``--sizes``).
PageRank runs exactly 20 iterations everywhere. Writes bench/results/graph.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"
SIZES = {"1M": (100_000, 1_000_000), "10M": (1_000_000, 10_000_000)}


def db_path(size: str) -> Path:
    return DATA / f"graph-{size}.duckdb"


def build(size: str) -> None:
    """A REM store (its real schema: ``nodes`` and keyed ``edges``) with a
    synthetic graph: skewed sources (a few hubs, a long tail), uniform
    targets, three edge types, ages up to 60 days; sorted by source key, as
    REM keeps it."""
    from rem.store import Store

    p = db_path(size)
    if p.exists():
        return
    n, m = SIZES[size]
    DATA.mkdir(exist_ok=True)
    tmp = p.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    Store(tmp).init()
    import duckdb

    con = duckdb.connect(str(tmp))
    con.execute(f"INSERT INTO nodes SELECT 'n' || i, i FROM range({n}) t(i)").fetchall()
    con.execute(f"""INSERT INTO edges (source_id, target_id, edge_type, weight, created_at, reinforced_at,
                                       reinforcement_count, generated_by, source_key, target_key)
        SELECT 'n' || s, 'n' || d, t, w, ts, ts, 1, 'bench', s, d FROM (
            SELECT CAST(floor(pow(random(), 2) * {n}) AS BIGINT) AS s, CAST(floor(random() * {n}) AS BIGINT) AS d,
                   CASE CAST(floor(random() * 3) AS INT) WHEN 0 THEN 'about' WHEN 1 THEN 'contains' ELSE 'related_to' END AS t,
                   1.0 + random() AS w, now() - to_microseconds(CAST(random() * 60 * 86400e6 AS BIGINT)) AS ts
            FROM range({m})) ORDER BY s""").fetchall()
    con.execute("CHECKPOINT").fetchall()
    con.close()
    tmp.rename(p)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def fetch_peer(con):
    """What a peer reads: the integer node keys REM's store already keeps
    (no string hashing for anyone) and the weight."""
    import numpy as np

    t = con.sql("SELECT source_key, target_key, weight FROM edges").to_arrow_table()
    src = t.column("source_key").to_numpy()
    dst = t.column("target_key").to_numpy()
    n = int(max(src.max(), dst.max())) + 1
    return src.astype(np.int64), dst.astype(np.int64), t.column("weight").to_numpy(), n


def rem_fetch(con):
    from rem.graph.engine import EDGES_SQL

    return con.sql(EDGES_SQL.format(ids="", where="TRUE")).to_arrow_table()


def case_rem(con, size):
    import pyarrow as pa

    from rem import _rem
    from rem.decay import DEFAULT_HALF_LIVES, DEFAULT_OTHER_HALF_LIFE

    t0 = time.perf_counter()
    t = rem_fetch(con)
    t1 = time.perf_counter()
    g = _rem.Graph(t, DEFAULT_HALF_LIVES, DEFAULT_OTHER_HALF_LIFE, int(time.time() * 1e6))
    del t
    t2 = time.perf_counter()
    pr, iters = g.pagerank(0.85, 0.0, 20)
    t3 = time.perf_counter()
    con.register("_scores", pa.table({"key": g.keys(), "pagerank": pr}))
    con.execute("CREATE OR REPLACE TABLE node_scores AS SELECT * FROM _scores").fetchall()
    t4 = time.perf_counter()
    scores, _ = g.scores(0.85, 0.0, 20)
    t5 = time.perf_counter()
    c0 = time.perf_counter()
    g.clustering()
    c1 = time.perf_counter()
    return {"fetch": t1 - t0, "build": t2 - t1, "pagerank": t3 - t2, "write_back": t4 - t3,
            "pagerank_end_to_end": t4 - t0, "iterations": iters, "scores_all": t5 - t4,
            "clustering": c1 - c0, "clustering_end_to_end": (t2 - t0) + (c1 - c0)}


def case_scipy(con, size):
    import numpy as np
    import scipy.sparse as sp

    t0 = time.perf_counter()
    src, dst, w, n = fetch_peer(con)
    t1 = time.perf_counter()
    a = sp.csr_matrix((w, (src, dst)), shape=(n, n))
    out = np.asarray(a.sum(axis=1)).ravel()
    inv = np.divide(1.0, out, out=np.zeros_like(out), where=out > 0)
    mt = (sp.diags(inv) @ a).T.tocsr()
    dangling = out == 0
    t2 = time.perf_counter()
    pr = np.full(n, 1.0 / n)
    for _ in range(20):
        pr = 0.85 * (mt @ pr + pr[dangling].sum() / n) + 0.15 / n
    t3 = time.perf_counter()
    deg = np.bincount(src, weights=w, minlength=n) + np.bincount(dst, weights=w, minlength=n)
    t4 = time.perf_counter()
    assert len(deg) == n
    return {"fetch": t1 - t0, "build": t2 - t1, "pagerank": t3 - t2, "weighted_degree": t4 - t3,
            "pagerank_end_to_end": t3 - t0}


def case_igraph(con, size):
    import igraph as ig
    import numpy as np

    t0 = time.perf_counter()
    src, dst, w, n = fetch_peer(con)
    t1 = time.perf_counter()
    g = ig.Graph(n=n, edges=np.column_stack([src, dst]).tolist(), directed=True)
    g.es["weight"] = w.tolist()
    t2 = time.perf_counter()
    g.pagerank(weights="weight", damping=0.85, implementation="prpack")
    t3 = time.perf_counter()
    u = g.as_undirected(mode="collapse")
    t4 = time.perf_counter()
    u.transitivity_local_undirected(mode="zero")
    t5 = time.perf_counter()
    g.strength(weights="weight", mode="all")
    t6 = time.perf_counter()
    return {"fetch": t1 - t0, "build": t2 - t1, "pagerank": t3 - t2, "undirected_build": t4 - t3, "clustering": t5 - t4,
            "weighted_degree": t6 - t5, "pagerank_end_to_end": t3 - t0, "clustering_end_to_end": (t2 - t0) + (t5 - t3)}


def case_rustworkx(con, size):
    import rustworkx as rx

    t0 = time.perf_counter()
    src, dst, w, n = fetch_peer(con)
    t1 = time.perf_counter()
    g = rx.PyDiGraph()
    g.add_nodes_from(range(n))
    g.add_edges_from(list(zip(src.tolist(), dst.tolist(), w.tolist(), strict=True)))
    t2 = time.perf_counter()
    try:
        rx.pagerank(g, alpha=0.85, weight_fn=float, tol=1e-6 / n, max_iter=20)
    except rx.FailedToConverge:
        pass  # 20 iterations done, as for everyone else
    t3 = time.perf_counter()
    return {"fetch": t1 - t0, "build": t2 - t1, "pagerank": t3 - t2, "pagerank_end_to_end": t3 - t0}


def case_networkx(con, size):
    import networkx as nx

    t0 = time.perf_counter()
    src, dst, w, n = fetch_peer(con)
    t1 = time.perf_counter()
    g = nx.DiGraph()
    g.add_weighted_edges_from(zip(src.tolist(), dst.tolist(), w.tolist(), strict=True))
    t2 = time.perf_counter()
    try:
        nx.pagerank(g, alpha=0.85, tol=1e-6 / n, max_iter=20)
    except nx.PowerIterationFailedConvergence:
        pass  # 20 iterations done, as for everyone else
    t3 = time.perf_counter()
    u = g.to_undirected()
    t4 = time.perf_counter()
    nx.clustering(u)
    t5 = time.perf_counter()
    return {"fetch": t1 - t0, "build": t2 - t1, "pagerank": t3 - t2, "undirected_build": t4 - t3, "clustering": t5 - t4,
            "pagerank_end_to_end": t3 - t0, "clustering_end_to_end": (t2 - t0) + (t5 - t3)}


def case_duckdb(con, size):
    t0 = time.perf_counter()
    con.execute("""CREATE OR REPLACE TEMP TABLE e AS SELECT source_key s, target_key d, weight w FROM edges""").fetchall()
    con.execute("""CREATE OR REPLACE TEMP TABLE nodes AS SELECT s AS id FROM e UNION SELECT d FROM e""").fetchall()
    n = con.execute("SELECT count(*) FROM nodes").fetchall()[0][0]
    con.execute("""CREATE OR REPLACE TEMP TABLE outw AS SELECT s, sum(w) AS ow FROM e GROUP BY s""").fetchall()
    con.execute(f"CREATE OR REPLACE TEMP TABLE pr AS SELECT id, 1.0 / {n} AS r FROM nodes").fetchall()
    t1 = time.perf_counter()
    for _ in range(20):
        con.execute(f"""CREATE OR REPLACE TEMP TABLE pr AS
            WITH dang AS (SELECT coalesce(sum(r), 0) AS dm FROM pr WHERE id NOT IN (SELECT s FROM outw)),
                 contrib AS (SELECT e.d AS id, sum(pr.r * e.w / o.ow) AS c FROM e JOIN pr ON pr.id = e.s JOIN outw o ON o.s = e.s GROUP BY e.d)
            SELECT nodes.id, 0.15 / {n} + 0.85 * (coalesce(contrib.c, 0) + (SELECT dm FROM dang) / {n}) AS r
            FROM nodes LEFT JOIN contrib ON contrib.id = nodes.id""").fetchall()
    t2 = time.perf_counter()
    con.execute("SELECT id, sum(w) FROM (SELECT s AS id, w FROM e UNION ALL SELECT d, w FROM e) GROUP BY id").fetchall()
    t3 = time.perf_counter()
    return {"prepare": t1 - t0, "pagerank": t2 - t1, "weighted_degree": t3 - t2, "pagerank_end_to_end": t2 - t0}


def case_traverse(con, size):
    """Depth-3 traversal (out-edges) from 20 random sources: REM's one-shot
    frontier loop over integer keys (what `rem graph traverse` runs), the same
    loop over id strings, a recursive CTE, and REM's BFS on a graph kept
    loaded in a long-lived process. Labelling the result is left out
    everywhere (the same few lookups for all)."""
    from rem import _rem
    from rem.decay import DEFAULT_HALF_LIVES, DEFAULT_OTHER_HALF_LIFE
    from rem.graph import frontier_traverse
    from rem.store import install_macros

    install_macros(con)
    starts = [r[0] for r in con.execute("SELECT source_key FROM edges USING SAMPLE 20 ROWS (reservoir, 42)").fetchall()]
    reached, one_shot = [], []
    for k in starts:
        t0 = time.perf_counter()
        r = frontier_traverse(con, [k], depth=3, edge_types=None, direction="out", min_weight=0.0)
        one_shot.append(time.perf_counter() - t0)
        reached.append(len(r))
    fl = []
    for k in starts[:10]:
        s = f"n{k}"
        t0 = time.perf_counter()
        seen, frontier = {s}, [s]
        for _ in range(3):
            if not frontier:
                break
            rows = con.execute("SELECT DISTINCT target_id FROM edges WHERE source_id IN (SELECT unnest($f))", {"f": frontier}).fetchall()
            frontier = [r[0] for r in rows if r[0] not in seen]
            seen.update(frontier)
        fl.append(time.perf_counter() - t0)
    cte = []
    for k in starts[:3]:
        t0 = time.perf_counter()
        con.execute("""WITH RECURSIVE walk(id, depth) AS (SELECT $s, 0 UNION
                       SELECT e.target_key, w.depth + 1 FROM walk w JOIN edges e ON e.source_key = w.id WHERE w.depth < 3)
                       SELECT count(DISTINCT id) FROM walk""", {"s": k}).fetchall()
        cte.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    g = _rem.Graph(rem_fetch(con), DEFAULT_HALF_LIVES, DEFAULT_OTHER_HALF_LIFE, int(time.time() * 1e6))
    g.traverse([starts[0]], 0, [], "out", 0.0)  # builds the directed CSR (once per loaded graph)
    load = time.perf_counter() - t0
    q = []
    for k in starts:
        t1 = time.perf_counter()
        g.traverse([k], 3, [], "out", 0.0)
        q.append(time.perf_counter() - t1)
    return {"reached_median": statistics.median(reached), "rem_one_shot_ms": statistics.median(one_shot) * 1000,
            "frontier_loop_strings_ms": statistics.median(fl) * 1000, "recursive_cte_ms": statistics.median(cte) * 1000,
            "rem_graph_load_ms": load * 1000, "rem_query_ms_long_lived": statistics.median(q) * 1000}


CASES = {"rem": case_rem, "scipy": case_scipy, "igraph": case_igraph, "rustworkx": case_rustworkx,
         "networkx": case_networkx, "duckdb": case_duckdb, "traverse": case_traverse}


def run_case(case: str, size: str) -> None:
    import duckdb

    con = duckdb.connect(str(db_path(size)), read_only=case not in ("rem", "duckdb"))
    if case in ("rem", "duckdb"):
        con.close()
        import shutil

        work = DATA / f"graph-{size}-{case}.duckdb"
        shutil.copy(db_path(size), work)
        con = duckdb.connect(str(work))
    out = CASES[case](con, size)
    out["peak_rss_mb"] = rss_mb()
    con.close()
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="1M,10M")
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--case")
    ap.add_argument("--size")
    ap.add_argument("--skip-slow", action="store_true", help="skip networkx and DuckDB SQL at 10M")
    a = ap.parse_args()
    if a.case:
        run_case(a.case, a.size)
        return
    results: dict[str, dict[str, dict]] = {}
    for size in a.sizes.split(","):
        build(size)
        results[size] = {}
        for case in a.cases.split(","):
            if a.skip_slow and size == "10M" and case in ("networkx", "duckdb"):
                continue
            t = time.perf_counter()
            p = subprocess.run([sys.executable, __file__, "--case", case, "--size", size], capture_output=True, text=True,
                               env={**os.environ, "PYTHONHASHSEED": "0"})
            if p.returncode != 0:
                results[size][case] = {"error": p.stderr.strip().splitlines()[-1] if p.stderr.strip() else f"exit {p.returncode}"}
            else:
                results[size][case] = json.loads(p.stdout.strip().splitlines()[-1])
            print(f"{size} {case:<10} {time.perf_counter() - t:6.1f}s  {results[size][case]}", flush=True)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "graph.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
