"""The graph engine against reference implementations, decay arithmetic,
DOT output through the real Graphviz, and the `rem graph` commands."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from datetime import UTC, datetime, timedelta

import networkx as nx
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rem import _rem
from rem.decay import DEFAULT_HALF_LIVES, DEFAULT_OTHER_HALF_LIFE
from rem.store import Store, fetch_rows

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)
NOW_US = int(NOW.timestamp() * 1e6)


def edges_batch(rows):
    return pa.RecordBatch.from_pylist(rows, schema=pa.schema([
        ("source_id", pa.string()), ("target_id", pa.string()), ("edge_type", pa.string()),
        ("weight", pa.float64()), ("reinforced_at", pa.int64())]))


def node_keys(rows):
    """Dense keys in order of first appearance, as the store assigns them."""
    keys: dict[str, int] = {}
    for r in rows:
        for i in (r["source_id"], r["target_id"]):
            keys.setdefault(i, len(keys))
    return keys


def keyed_batch(rows):
    keys = node_keys(rows)
    b = edges_batch(rows)
    return (b.append_column("source_key", pa.array([keys[r["source_id"]] for r in rows], pa.uint32()))
             .append_column("target_key", pa.array([keys[r["target_id"]] for r in rows], pa.uint32())))


class Named:
    """The Rust graph, spoken to in node names (the engine speaks store keys)."""

    def __init__(self, rows, half_lives=None, default=None):
        self.key = node_keys(rows)
        self.name = {v: k for k, v in self.key.items()}
        self.g = _rem.Graph(keyed_batch(rows), half_lives if half_lives is not None else {}, default, NOW_US)

    def scores(self, **kw):
        t = pa.table(self.g.scores(**kw)[0])
        names = [self.name[k] for k in t.column("key").to_pylist()]
        return {c: dict(zip(names, t.column(c).to_pylist(), strict=True)) for c in t.column_names if c != "key"}

    def traverse(self, starts, depth, types, direction, min_weight):
        b = self.g.traverse([self.key[s] for s in starts if s in self.key], depth, types, direction, min_weight)
        return [(self.name[k], d, None if p is None else self.name[p], t, w)
                for k, d, p, t, w in zip(*(b.column(i).to_pylist() for i in range(5)), strict=True)]


def make_graph(rows, half_lives=None):
    return Named(rows, half_lives)


@st.composite
def random_edges(draw):
    n = draw(st.integers(2, 25))
    m = draw(st.integers(1, 80))
    rows = []
    for _ in range(m):
        a, b = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        rows.append({"source_id": f"n{a}", "target_id": f"n{b}", "edge_type": draw(st.sampled_from(["contains", "about", "related_to"])),
                     "weight": draw(st.floats(0.1, 5.0)), "reinforced_at": NOW_US})
    return rows


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_edges())
def test_pagerank_matches_networkx(rows):
    g = make_graph(rows)
    ours = g.scores(damping=0.85, tol=1e-13, max_iter=2000)["pagerank"]
    ref = nx.DiGraph()
    ref.add_nodes_from(ours)
    for r in rows:  # the symmetrized graph, parallel edges summed
        for u, v in ((r["source_id"], r["target_id"]), (r["target_id"], r["source_id"])):
            w = ref[u][v]["weight"] + r["weight"] if ref.has_edge(u, v) else r["weight"]
            ref.add_edge(u, v, weight=w)
    expect = nx.pagerank(ref, alpha=0.85, tol=1e-14, max_iter=5000, weight="weight")
    assert sum(abs(ours[k] - expect[k]) for k in ours) < 1e-6


@settings(max_examples=120, deadline=None)
@given(random_edges())
def test_clustering_matches_networkx(rows):
    g = make_graph(rows)
    ours = g.scores()["clustering"]
    ref = nx.Graph()
    ref.add_nodes_from(ours)
    ref.add_edges_from((r["source_id"], r["target_id"]) for r in rows if r["source_id"] != r["target_id"])
    expect = nx.clustering(ref)
    for k in ours:
        assert math.isclose(ours[k], expect[k], abs_tol=1e-12), k


@settings(max_examples=120, deadline=None)
@given(random_edges(), st.integers(0, 4), st.sampled_from(["out", "in", "both"]))
def test_bfs_matches_networkx(rows, depth, direction):
    g = make_graph(rows)
    reached = {node: d for node, d, *_ in g.traverse(["n0"], depth, [], direction, 0.0)}
    ref = nx.MultiDiGraph()
    ref.add_edges_from((r["source_id"], r["target_id"]) for r in rows)
    if "n0" not in ref:
        assert reached == {}
        return
    view = {"out": ref, "in": ref.reverse(copy=False), "both": ref.to_undirected(as_view=True)}[direction]
    assert reached == dict(nx.single_source_shortest_path_length(view, "n0", cutoff=depth))


def test_traverse_filters_and_paths():
    rows = [{"source_id": a, "target_id": b, "edge_type": t, "weight": w, "reinforced_at": NOW_US}
            for a, b, t, w in [("x", "y", "related_to", 1.0), ("y", "z", "related_to", 1.0), ("x", "q", "about", 1.0),
                               ("z", "far", "related_to", 0.01)]]
    g = make_graph(rows)
    got = {n: (d, p, t) for n, d, p, t, _ in g.traverse(["x"], 3, ["related_to"], "out", 0.05)}
    assert got == {"x": (0, None, None), "y": (1, "x", "related_to"), "z": (2, "y", "related_to")}


def test_decay_and_reinforcement_clock_edge_cases():
    day = 86_400_000_000
    rows = [
        {"source_id": "a", "target_id": "b", "edge_type": "related_to", "weight": 2.0, "reinforced_at": NOW_US - 14 * day},
        {"source_id": "a", "target_id": "c", "edge_type": "contains", "weight": 2.0, "reinforced_at": NOW_US - 900 * day},
        {"source_id": "a", "target_id": "d", "edge_type": "about", "weight": 2.0, "reinforced_at": NOW_US + 5 * day},
        {"source_id": "a", "target_id": "e", "edge_type": "zero", "weight": 2.0, "reinforced_at": NOW_US - 9 * day},
        {"source_id": "a", "target_id": "f", "edge_type": "unknown", "weight": 2.0, "reinforced_at": NOW_US - 30 * day},
    ]
    g = _rem.Graph(keyed_batch(rows), {**DEFAULT_HALF_LIVES, "zero": 0.0}, DEFAULT_OTHER_HALF_LIFE, NOW_US)
    w = g.effective_weights().to_pylist()
    assert math.isclose(w[0], 1.0, rel_tol=1e-12)   # one half-life of related_to
    assert w[1] == 2.0                               # structural: never decays
    assert w[2] == 2.0                               # "in the future": no growth
    assert w[3] == 2.0                               # zero half-life: no decay
    assert math.isclose(w[4], 1.0, rel_tol=1e-12)   # default half-life (30 days)


def test_sql_macro_agrees_with_rust(tmp_path):
    store = Store(tmp_path / "g.duckdb")
    rows = []
    for i, (t, age_h) in enumerate([("related_to", 10.0), ("about", 500.0), ("contains", 9000.0), ("follows", -5.0), ("other", 100.0)]):
        rows.append({"source_id": f"s{i}", "target_id": f"t{i}", "edge_type": t, "weight": 1.5, "reinforced_at": NOW - timedelta(hours=age_h)})
    with store.connect() as con:
        for r in rows:
            fetch_rows(con, "insert into edges (source_id, target_id, edge_type, weight, created_at, reinforced_at, reinforcement_count) values ($s,$t,$y,$w,$a,$a,1)",
                {"s": r["source_id"], "t": r["target_id"], "y": r["edge_type"], "w": r["weight"], "a": r["reinforced_at"]})
    from rem import graph as g

    lg = g.load(store, now=datetime.now(UTC))
    rust = dict(zip(lg.edges.column("source_key").to_pylist(), lg.graph.effective_weights().to_pylist(), strict=True))
    with store.read() as con:
        sql = dict(con.execute("select source_key, rem_decay(weight, reinforced_at, edge_type) from edges").fetchall())
    assert len(sql) == 5 and None not in sql  # keys were given to the hand-written edges on load
    for k in sql:
        assert math.isclose(sql[k], rust[k], rel_tol=1e-6), k


HOSTILE = ['He said "hi"', "back\\slash \\N \\G \\l", "two\nlines\r\n", "日本語 ünïcödé 🚀", "<b>not html</b>", "{[;]} -> -- ",
           "\x00nul\x07bell", "", "a" * 500, "tab\there", "'single'", "\\"]


@pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz (apt-get install graphviz; .ci/run installs it)")
def test_dot_with_hostile_labels_parses_and_round_trips(tmp_path):
    ids = [f"id{i}" for i in range(len(HOSTILE))] + ['weird "id" \\ \n']
    labels = HOSTILE + ["x"]
    nodes = pa.RecordBatch.from_pylist([{"id": i, "label": lab, "kind": k, "score": float(n)}
                                        for n, (i, lab, k) in enumerate(zip(ids, labels, ["moment", "resource", "session", "topic", "person", "summary", "tool"] * 2, strict=False))])
    edges = edges_batch([{"source_id": ids[i], "target_id": ids[(i + 1) % len(ids)], "edge_type": HOSTILE[i % len(HOSTILE)],
                          "weight": float(i), "reinforced_at": 0} for i in range(len(ids))]).drop_columns(["reinforced_at"])
    text = _rem.to_dot(nodes, edges)
    path = tmp_path / "g.dot"
    path.write_text(text, encoding="utf-8")
    out = subprocess.run(["dot", "-Tjson", str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert len(doc["objects"]) == len(ids) and len(doc["edges"]) == len(ids)
    assert {o["label"] for o in doc["objects"]} >= {"日本語 ünïcödé 🚀", 'He said "hi"'}
    svg = subprocess.run(["dot", "-Tsvg", str(path)], capture_output=True)
    assert svg.returncode == 0 and b"<svg" in svg.stdout
    # top N keeps the highest-score nodes and the edges among them
    top = _rem.to_dot(nodes, edges, top_n=3)
    assert top.count("[label=") - top.count("->") == 3


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(random_edges(), st.integers(0, 3), st.sampled_from(["out", "in", "both"]), st.sampled_from([[], ["about"], ["related_to", "contains"]]))
def test_sql_frontier_traversal_equals_the_in_memory_one(tmp_path_factory, rows, depth, direction, types):
    from rem import graph as g

    store = Store(tmp_path_factory.mktemp("t") / "g.duckdb")
    with store.connect() as con:
        con.register("_r", pa.table({k: [r[k] for r in rows] for k in ("source_id", "target_id", "edge_type", "weight")}))
        fetch_rows(con, "insert into edges (source_id, target_id, edge_type, weight, created_at, reinforced_at, reinforcement_count) "
                 "select source_id, target_id, edge_type, weight, now(), now(), 1 from _r")
    one_shot = g.traverse(store, ["n0"], depth=depth, edge_types=types, direction=direction, min_weight=0.0)
    loaded = g.traverse_loaded(store, g.load(store), ["n0"], depth=depth, edge_types=types, direction=direction, min_weight=0.0)
    a = dict(zip(one_shot.column("id").to_pylist(), one_shot.column("depth").to_pylist(), strict=True))
    b = dict(zip(loaded.column("id").to_pylist(), loaded.column("depth").to_pylist(), strict=True))
    assert a == b
    assert bool(a) == any("n0" in (r["source_id"], r["target_id"]) for r in rows)  # a node without edges has no key


def test_entangled_of_a_kind_finds_the_low_ranked_ones(demo_store):
    """`graph entangled --kind person` lists every person even when hundreds
    of moments and topics rank above them (a filter applied after the top page missed them)."""
    import json

    from rem.config import resolve_llm
    from rem.dream.run import DreamOptions, dream
    from support import WEEK, q, rem_cli

    dream(demo_store, resolve_llm(model="none", file_cfg={}, env={}), DreamOptions(start=WEEK[0], end=WEEK[1], lookback_hours=None))
    people = {r[0] for r in q(demo_store, "select name from entities where kind = 'person'")}
    r = rem_cli(demo_store.path, ["graph", "entangled", "--kind", "person", "--limit", "50", "--json"])
    assert r.exit_code == 0, r.output
    got = json.loads(r.output)
    # every person but the owner (the author of most commits, linked from every commit: ranking them says nothing)
    assert "Sam Rivera" in people
    assert {x["label"] for x in got} == people - {"Sam Rivera"} and len(people) >= 4 and all(x["kind"] == "person" for x in got)
