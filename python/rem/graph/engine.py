"""The living graph from Python: load edges as Arrow, score and traverse
them in the Rust core, label the results, export DOT.

Decay happens when edges are read (``rem_decay`` in SQL, the same formula in
Rust); nothing rewrites the table on a timer. Half-lives: :mod:`rem.decay`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from .. import _rem, schema
from .. import edges as edge_table
from ..exceptions import RemError
from ..ids import normalize_key
from ..store import (
    Connection,
    Store,
    fetch_arrow,
    fetch_rows,
    fetch_value,
    id_table,
    one_batch,
    registered,
    stored_version,
    transaction,
)
from ..values import parse_time

HOT_HALF_LIFE_HOURS = 24.0

NODES_SQL = """
SELECT n.key, n.id, coalesce(m.name, r.name, s.name, e.name, n.id) AS label,
       CASE WHEN m.id IS NOT NULL THEN 'moment'
            WHEN r.id IS NOT NULL THEN CASE WHEN r.resource_type = 'summary' THEN 'summary' ELSE 'resource' END
            WHEN s.id IS NOT NULL THEN 'session'
            WHEN e.id IS NOT NULL THEN e.kind
            WHEN msg.id IS NOT NULL THEN 'message'
            ELSE 'other' END AS kind
FROM (SELECT n.key, n.id FROM nodes n SEMI JOIN _rem_keys k ON k.key = n.key) n
LEFT JOIN moments m ON m.id = n.id
LEFT JOIN resources r ON r.id = n.id
LEFT JOIN sessions s ON s.id = n.id
LEFT JOIN entities e ON e.id = n.id
LEFT JOIN (SELECT id FROM messages WHERE id IN (SELECT n2.id FROM nodes n2 SEMI JOIN _rem_keys k2 ON k2.key = n2.key)) msg
       ON msg.id = n.id
"""


# what the engine reads: integer node keys, never the id strings (unless asked for)
EDGES_SQL = """SELECT {ids}CAST(source_key AS UINTEGER) AS source_key, CAST(target_key AS UINTEGER) AS target_key,
                      edge_type, weight, epoch_us(reinforced_at) AS reinforced_at
               FROM edges WHERE {where}"""


@dataclass(frozen=True)
class NodeInfo:
    id: str
    label: str
    kind: str


@dataclass
class LoadedGraph:
    """A graph kept in memory: the Rust CSR (keyed by the store's dense node
    keys), the edges it was built from, and the instant decay was computed at."""

    graph: Any  # rem._rem.Graph
    edges: pa.Table
    now: datetime
    _directory: NodeDirectory | None = None

    def nodes(self, store: Store, keys: list[int]) -> dict[int, NodeInfo]:
        return node_info(store, keys)

    def directory(self, store: Store) -> NodeDirectory:
        """Every node's id, label and kind and every entity's names, read once
        (a long-lived process — rem serve, rem mcp — then traverses from memory)."""
        if self._directory is None:
            self._directory = NodeDirectory.read(store)
        return self._directory


@dataclass
class NodeDirectory:
    info: dict[int, NodeInfo]  # node key -> id, label, kind
    key_of: dict[str, int]  # node id -> key
    names: dict[str, list[str]]  # an entity's normalized name, lower-cased name or alias -> entity ids

    @classmethod
    def read(cls, store: Store) -> NodeDirectory:
        with store.reader() as con:
            keys = [int(r[0]) for r in fetch_rows(con, "SELECT key FROM nodes")]
            ents = fetch_rows(con, "SELECT id, key, lower(name), list_transform(aliases, lambda a: lower(a)) FROM entities")
        info = node_info(store, keys)
        names: dict[str, list[str]] = {}
        for eid, key, lname, aliases in ents:
            for n in {key, lname, *(aliases or [])}:
                if n:
                    names.setdefault(n, []).append(eid)
        return cls(info, {v.id: k for k, v in info.items()}, names)

    def resolve(self, name: str) -> list[str]:
        """As :func:`resolve_start`, from memory."""
        ids = list(dict.fromkeys(self.names.get(normalize_key(name), []) + self.names.get(name.lower(), [])))
        if not ids and name in self.key_of:
            ids = [name]
        if not ids:
            raise RemError(f"no entity or node matches {name!r}; try `rem query \"select name, kind from entities\"`")
        return ids


def node_info(store: Store, keys: list[int]) -> dict[int, NodeInfo]:
    """Id, label and kind of each node key, looked up across moments,
    resources, sessions, entities and messages."""
    if not keys:
        return {}
    with store.reader() as con, registered(con, "_rem_keys", pa.table({"key": pa.array(keys, pa.int64())})):
        rows = fetch_arrow(con, NODES_SQL).to_pylist()
    return {r["key"]: NodeInfo(r["id"], r["label"], r["kind"]) for r in rows}


def keys_of(store: Store, ids: list[str]) -> list[int]:
    """Node keys of ids (ids that are in no edge have none and are dropped)."""
    if not ids:
        return []
    with store.reader() as con, registered(con, "_rem_ids", id_table(ids)):
        found = dict(fetch_rows(con, "SELECT id, key FROM nodes SEMI JOIN _rem_ids USING (id)"))
    return [int(found[i]) for i in ids if i in found]


def _ensure_keys(store: Store) -> None:
    """Edges written outside REM (by hand, by an older version) get their
    node keys before the graph is read."""
    with store.read(sandbox=False) as con:
        v = stored_version(con)
        if v is not None and v < schema.schema_version():
            missing = 1  # an older store: opening it for writing migrates and keys it
        else:
            missing = fetch_value(con, "SELECT count(*) FROM edges WHERE source_key IS NULL OR target_key IS NULL") or 0
    if missing:
        with store.connect() as con, transaction(con):
            edge_table.key_edges(con)


def load(store: Store, *, since: str | None = None, edge_types: list[str] | None = None,
         now: datetime | None = None, with_ids: bool = False) -> LoadedGraph:
    """Read the edges (optionally only those reinforced since a date, of some
    types) and build the in-memory graph from their integer node keys.
    ``with_ids`` also fetches the id strings of each edge's ends (for export)."""
    now = now or datetime.now(UTC)
    _ensure_keys(store)
    where: list[str] = ["TRUE"]
    params: dict[str, Any] = {}
    if since:
        params["since"] = parse_time(since, source="--since", field="value")
        where.append("reinforced_at >= $since")
    if edge_types:
        params["types"] = list(edge_types)
        where.append("list_contains($types, edge_type)")
    ids = "source_id, target_id, " if with_ids else ""
    with store.read(sandbox=False) as con:
        edges = fetch_arrow(con, EDGES_SQL.format(ids=ids, where=" AND ".join(where)), params or None)
    hl, other = store.settings.half_lives
    now_us = int(now.timestamp() * 1_000_000)
    g = _rem.Graph(edges, hl, other, now_us, HOT_HALF_LIFE_HOURS)
    return LoadedGraph(g, edges, now)


def ranked(store: Store, lg: LoadedGraph, key: str, limit: int, kinds: list[str] | None = None) -> pa.Table:
    """The top ``limit`` nodes by ``key`` (of ``kinds``), never a summary nor the owner (``[owner] names``, else
    the author of most commits: every commit links to them, which says nothing about what matters)."""
    from ..entities import owner_names

    scores, _ = lg.graph.scores()
    t = pa.table(scores)
    rows = t.to_pylist()
    rows.sort(key=lambda r: (-r[key], r["key"]))
    with store.read() as con:
        owner = {normalize_key(n) for n in owner_names(con, store.settings.section("owner").get("names"))}
    out: list[dict[str, Any]] = []
    page = max(limit * 5, limit + 50)
    for at in range(0, len(rows), page):  # labels page by page, until ``limit`` nodes of the kinds are found
        info = lg.nodes(store, [r["key"] for r in rows[at: at + page]])
        for r in rows[at: at + page]:
            ni = info.get(r["key"])
            if ni is None or (kinds and ni.kind not in kinds) or ni.kind == "summary" \
                    or (ni.kind == "person" and normalize_key(ni.label) in owner):
                continue
            out.append({"label": ni.label, "kind": ni.kind, key: round(r[key], 6), "entanglement": round(r["entanglement"], 4),
                        "pagerank": round(r["pagerank"], 6), "clustering": round(r["clustering"], 4),
                        "weighted_degree": round(r["weighted_degree"], 3), "hot": round(r["hot"], 4), "id": ni.id})
            if len(out) >= limit:
                break
        if len(out) >= limit:
            break
    cols = ["label", "kind", key] + [c for c in ("entanglement", "pagerank", "clustering", "weighted_degree", "hot", "id") if c != key]
    return pa.Table.from_pylist([{c: o[c] for c in cols} for o in out]) if out else pa.table({c: [] for c in cols})


def stats(store: Store) -> dict[str, Any]:
    lg = load(store)
    out: dict[str, Any] = {"nodes": lg.graph.node_count, "edges": lg.graph.edge_count,
                           "components": lg.graph.components() if lg.graph.node_count else 0}
    with store.read(sandbox=False) as con:
        out["edges_by_type"] = dict(fetch_rows(con, "SELECT edge_type, count(*) FROM edges GROUP BY 1 ORDER BY 2 DESC"))
    if lg.graph.node_count:
        scores, iters = lg.graph.scores()
        t = pa.table(scores)
        keys = t.column("key").to_pylist()
        ent = t.column("entanglement").to_pylist()
        info = lg.nodes(store, keys)
        by_kind: dict[str, int] = {}
        for k in keys:
            kind = info[k].kind if k in info else "other"
            by_kind[kind] = by_kind.get(kind, 0) + 1
        out["nodes_by_kind"] = dict(sorted(by_kind.items(), key=lambda kv: -kv[1]))
        out["mean_entanglement"] = round(sum(ent) / len(ent), 4)
        out["pagerank_iterations"] = iters
    return out


def resolve_start(store: Store, name: str) -> list[str]:
    """Node ids for ``--start-entity``: an entity by name or alias
    (case-insensitive, normalized) or any node id."""
    key = normalize_key(name)
    with store.reader() as con:  # kept open across a burst of calls (rem serve, rem mcp)
        ids = [r[0] for r in fetch_rows(con, """SELECT id FROM entities WHERE key = $key OR lower(name) = lower($name)
                                         OR list_contains(list_transform(aliases, lambda a: lower(a)), lower($name))""",
                                 {"key": key, "name": name})]
        if not ids:
            for table in ("moments", "resources", "sessions", "entities"):
                if fetch_rows(con, f"SELECT 1 FROM {table} WHERE id = $id LIMIT 1", {"id": name}):
                    ids = [name]
                    break
        if not ids and fetch_rows(con, "SELECT 1 FROM edges WHERE source_id = $id OR target_id = $id LIMIT 1", {"id": name}):
            ids = [name]
    if not ids:
        raise RemError(f"no entity or node matches {name!r}; try `rem query \"select name, kind from entities\"`")
    return ids


def _rows_with_paths(store: Store, reached: list[tuple[int, int, int | None, str | None, float | None]],
                     known: dict[int, NodeInfo] | None = None) -> pa.Table:
    rows = _path_rows(store, reached, known)
    cols = ("depth", "label", "kind", "via", "weight", "path", "id")
    return pa.Table.from_pylist(rows) if rows else pa.table({k: [] for k in cols})


def _path_rows(store: Store, reached: list[tuple[int, int, int | None, str | None, float | None]],
               known: dict[int, NodeInfo] | None = None) -> list[dict[str, Any]]:
    parent = {r[0]: r[2] for r in reached}
    info = known if known is not None else node_info(store, list(parent))

    def label(k: int) -> str:
        return info[k].label if k in info else str(k)

    rows = []
    for node, d, _par, etype, w in reached:
        path = [node]
        while parent.get(path[-1]) is not None and len(path) <= d + 1:
            path.append(parent[path[-1]])  # type: ignore[arg-type]
        path.reverse()
        rows.append({"depth": d, "label": label(node), "kind": info[node].kind if node in info else "other",
                     "via": etype, "weight": None if w is None else round(w, 4),
                     "path": " → ".join(label(p) for p in path), "id": info[node].id if node in info else str(node)})
    return rows


DIRECTIONS = ("out", "in", "both")


def check_direction(direction: str) -> str:
    """``out``, ``in`` or ``both``; anything else is a clear error (it used to reach SQL as an empty step)."""
    if direction not in DIRECTIONS:
        raise RemError(f"direction {str(direction)[:40]!r}: use out (along the edges), in (against them) or both")
    return direction


def frontier_traverse(con: Connection, starts: list[int], *, depth: int, edge_types: list[str] | None, direction: str,
                      min_weight: float) -> list[tuple[int, int, int | None, str | None, float | None]]:
    """Breadth-first search by one SQL query per level over the edges table's
    integer keys (``source_key IN frontier``; after ``rem compact`` the table is in
    ``source_key`` order, so DuckDB reads only the row groups that hold the
    frontier), decay applied by ``rem_decay``. Returns (key, depth, parent,
    edge type, effective weight) in BFS order; the parent of a node is the
    first one reaching it, by frontier order then key then edge type."""
    seen: dict[int, tuple[int, int | None, str | None, float | None]] = {s: (0, None, None, None) for s in starts}
    order = list(dict.fromkeys(starts))
    frontier = list(order)
    conds = ""
    params: dict[str, Any] = {}
    if edge_types:
        conds += " AND list_contains($types, edge_type)"
        params["types"] = list(edge_types)
    if min_weight > 0:
        conds += " AND rem_decay(weight, reinforced_at, edge_type) >= $minw"
        params["minw"] = float(min_weight)
    for d in range(1, depth + 1):
        if not frontier:
            break
        parts = []
        if direction in ("out", "both"):
            parts.append(f"""SELECT source_key AS parent, target_key AS node, edge_type,
                                    rem_decay(weight, reinforced_at, edge_type) AS w
                             FROM edges WHERE source_key IN (SELECT unnest($f)){conds}""")
        if direction in ("in", "both"):
            parts.append(f"""SELECT target_key AS parent, source_key AS node, edge_type,
                                    rem_decay(weight, reinforced_at, edge_type) AS w
                             FROM edges WHERE target_key IN (SELECT unnest($f)){conds}""")
        rank = {p: i for i, p in enumerate(frontier)}
        rows = fetch_rows(con, " UNION ALL ".join(parts), {**params, "f": frontier})
        rows.sort(key=lambda r: (rank.get(r[0], 0), r[1], r[2]))
        nxt = []
        for par, node, etype, w in rows:
            if node not in seen:
                seen[node] = (d, par, etype, w)
                order.append(node)
                nxt.append(node)
        frontier = nxt
    return [(n, *seen[n]) for n in order]


def traverse(store: Store, starts: list[str], *, depth: int, edge_types: list[str] | None, direction: str,
             min_weight: float) -> pa.Table:
    """One-shot breadth-first traversal without loading the whole graph (see
    :func:`frontier_traverse`). Each reached node comes with its depth and one
    shortest path."""
    check_direction(direction)
    _ensure_keys(store)
    keys = keys_of(store, starts)
    if not keys:
        return _rows_with_paths(store, [])
    with store.read(sandbox=False) as con:
        reached = frontier_traverse(con, keys, depth=depth, edge_types=edge_types, direction=direction,
                                    min_weight=min_weight)
    return _rows_with_paths(store, reached)


def traverse_loaded(store: Store, lg: LoadedGraph, starts: list[str], *, depth: int, edge_types: list[str] | None,
                    direction: str, min_weight: float) -> pa.Table:
    """The same traversal on a graph already loaded in memory (library API,
    long-lived processes): node ids and labels come from the graph's
    :class:`NodeDirectory`, read once, so a warm traversal touches no database."""
    check_direction(direction)
    rows = traverse_loaded_rows(store, lg, starts, depth=depth, edge_types=edge_types, direction=direction,
                                min_weight=min_weight)
    cols = ("depth", "label", "kind", "via", "weight", "path", "id")
    return pa.Table.from_pylist(rows) if rows else pa.table({k: [] for k in cols})


def traverse_loaded_rows(store: Store, lg: LoadedGraph, starts: list[str], *, depth: int,
                         edge_types: list[str] | None, direction: str, min_weight: float) -> list[dict[str, Any]]:
    """:func:`traverse_loaded` as plain rows (what a web or MCP answer sends)."""
    d = lg.directory(store)
    keys = [d.key_of[i] for i in starts if i in d.key_of]
    b = lg.graph.traverse(keys, depth, edge_types or [], direction, min_weight)
    return _path_rows(store, list(zip(*(b.column(i).to_pylist() for i in range(5)), strict=True)), d.info)


def neighbourhood_dot(store: Store, lg: LoadedGraph, node: str, *, most: int = 30) -> str:
    """DOT of a node and its ``most`` - 1 strongest neighbours, with only the node's own links (a star is
    readable, a hairball is not), through the Rust writer (labels escaped there)."""
    if not node:
        raise RemError("no node given")
    starts = lg.directory(store).resolve(node)
    near = traverse_loaded(store, lg, starts, depth=1, edge_types=None, direction="both", min_weight=0.0).to_pylist()
    near = sorted(near, key=lambda r: (r["depth"], -(r["weight"] or 0)))[:most]
    ids = {r["id"] for r in near}
    with store.read() as con:
        edges = fetch_arrow(con, """SELECT source_id, target_id, edge_type, rem_decay(weight, reinforced_at, edge_type) AS weight
                                   FROM edges WHERE (list_contains($s, source_id) AND list_contains($ids, target_id))
                                                 OR (list_contains($s, target_id) AND list_contains($ids, source_id))""",
                            {"ids": sorted(ids), "s": starts})
    from urllib.parse import quote

    def link(r: dict[str, Any]) -> str:  # a moment's page, or the neighbourhood of a topic or a person
        if r["kind"] == "moment":
            return f"/moment/{quote(r['id'], safe='')}"
        return f"/graph?node={quote(r['label'] if r['kind'] in ('topic', 'person') else r['id'], safe='')}"

    nodes = pa.table({"id": pa.array([r["id"] for r in near], pa.string()),
                      "label": pa.array([r["label"][:60] for r in near], pa.string()),
                      "kind": pa.array([r["kind"] for r in near], pa.string()),
                      "score": pa.array([1.0 / (1 + r["depth"]) for r in near], pa.float64()),
                      "url": pa.array([link(r) for r in near], pa.string())})
    return str(_rem.to_dot(one_batch(nodes), one_batch(edges), top_n=None, name="neighbourhood"))


MAP_NODES = 40  # topics and people on the map
MAP_EDGES_PER_NODE = 4  # each node's strongest links drawn (a map, not a hairball)


def map_dot(store: Store, lg: LoadedGraph, *, most: int = MAP_NODES) -> str:
    """DOT of the memory's map: the ``most`` most entangled topics and people (a quarter of the places for
    people; never a moment, a source, a summary or the owner), each sized by its entanglement (against the first of its kind) and a link to its page of the graph, joined by what they share:
    the moments that are about both or involve both, each weighing the lesser of its two decayed links. Each
    node keeps its strongest few links."""
    from urllib.parse import quote

    people = ranked(store, lg, "entanglement", max(1, most // 4), kinds=["person"]).to_pylist()
    top = ranked(store, lg, "entanglement", most - len(people), kinds=["topic"]).to_pylist() + people
    if not top:
        raise RemError("the graph has no topics or people yet: dream first (rem dream)")
    ids = [r["id"] for r in top]
    with store.read() as con:
        pairs = fetch_arrow(con, """
            WITH e AS (SELECT source_id AS m, target_id AS x, rem_decay(weight, reinforced_at, edge_type) AS w FROM edges
                       WHERE edge_type IN ('about', 'involves') AND list_contains($ids, target_id))
            SELECT a.x AS source_id, b.x AS target_id, '' AS edge_type, sum(least(a.w, b.w)) AS weight
            FROM e a JOIN e b ON a.m = b.m AND a.x < b.x GROUP BY 1, 2 ORDER BY weight DESC, 1, 2""", {"ids": ids}).to_pylist()
    kept: list[dict[str, Any]] = []
    links: dict[str, int] = {}
    for p in pairs:
        if links.get(p["source_id"], 0) < MAP_EDGES_PER_NODE or links.get(p["target_id"], 0) < MAP_EDGES_PER_NODE:
            kept.append(p)
            links[p["source_id"]] = links.get(p["source_id"], 0) + 1
            links[p["target_id"]] = links.get(p["target_id"], 0) + 1
    high = {k: max((r["entanglement"] for r in top if r["kind"] == k), default=0.0) or 1.0 for k in ("topic", "person")}
    nodes = pa.table({"id": pa.array(ids, pa.string()),
                      "label": pa.array([r["label"][:60] for r in top], pa.string()),
                      "kind": pa.array([r["kind"] for r in top], pa.string()),
                      "score": pa.array([float(r["entanglement"]) for r in top], pa.float64()),
                      "url": pa.array([f"/graph?node={quote(r['label'], safe='')}" for r in top], pa.string()),
                      "size": pa.array([max(0.0, float(r["entanglement"])) / high[r["kind"]] for r in top], pa.float64())})
    edges = pa.table({"source_id": pa.array([p["source_id"] for p in kept], pa.string()),
                      "target_id": pa.array([p["target_id"] for p in kept], pa.string()),
                      "edge_type": pa.array(["" for _ in kept], pa.string()),
                      "weight": pa.array([float(p["weight"]) for p in kept], pa.float64())})
    return str(_rem.to_dot(one_batch(nodes), one_batch(edges), top_n=None, name="map"))


def export(store: Store, fmt: str, *, since: str | None, edge_types: list[str] | None, min_weight: float,
           top: int | None) -> str:
    lg = load(store, since=since, edge_types=edge_types, with_ids=True)
    edges = lg.edges.append_column("effective", lg.graph.effective_weights())
    if min_weight > 0:
        import pyarrow.compute as pc

        edges = edges.filter(pc.greater_equal(edges.column("effective"), min_weight))
    if lg.graph.node_count:
        st = pa.table(lg.graph.scores()[0])
        keys, ent = st.column("key").to_pylist(), st.column("entanglement").to_pylist()
    else:
        keys, ent = [], []
    info = lg.nodes(store, keys)
    ids = [info[k].id if k in info else str(k) for k in keys]
    nodes = pa.table({"id": pa.array(ids, pa.string()),
                      "label": pa.array([info[k].label if k in info else str(k) for k in keys], pa.string()),
                      "kind": pa.array([info[k].kind if k in info else "other" for k in keys], pa.string()),
                      "score": pa.array(ent, pa.float64())})
    if fmt == "json":
        keep = set(ids)
        if top:
            order = sorted(range(len(ids)), key=lambda i: -ent[i])[:top]
            keep = {ids[i] for i in order}
        nrows = [r for r in nodes.to_pylist() if r["id"] in keep]
        erows = [{"source": e["source_id"], "target": e["target_id"], "type": e["edge_type"], "weight": e["effective"]}
                 for e in edges.select(["source_id", "target_id", "edge_type", "effective"]).to_pylist()
                 if e["source_id"] in keep and e["target_id"] in keep]
        return json.dumps({"nodes": nrows, "edges": erows}, ensure_ascii=False, indent=1)
    e = edges.select(["source_id", "target_id", "edge_type", "effective"]).rename_columns(["source_id", "target_id", "edge_type", "weight"])
    return str(_rem.to_dot(one_batch(nodes), one_batch(e), top_n=top, name="rem"))


def prune(store: Store, threshold: float, *, dry_run: bool) -> tuple[int, dict[str, int]]:
    """Delete decayed edges under ``threshold`` (never structural ones)."""
    if dry_run:
        with store.read() as con:
            by_type = edge_table.decayed_by_type(con, threshold)
        return sum(by_type.values()), by_type
    with store.connect() as con, transaction(con):
        by_type = edge_table.prune(con, threshold)
    return sum(by_type.values()), by_type


def decayed_edges(store: Store, *, limit: int, edge_type: str | None = None) -> pa.Table:
    """Edges with their decayed (effective) weights, weakest first. Writes nothing."""
    where = "WHERE edge_type = $t" if edge_type else ""
    with store.read() as con:
        return fetch_arrow(con, f"""SELECT edge_type, source_id, target_id, round(weight, 4) AS weight,
                                           round(rem_decay(weight, reinforced_at, edge_type), 4) AS effective,
                                           rem_half_life_hours(edge_type) AS half_life_h, reinforcement_count AS count,
                                           reinforced_at
                                    FROM edges {where} ORDER BY effective ASC, source_id LIMIT {int(limit)}""",
                           {"t": edge_type} if edge_type else None)
