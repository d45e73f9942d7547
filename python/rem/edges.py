"""The owner of ``edges``, ``nodes`` and ``dream_edge_log``: every write of them is here.

The dream merges its links (:func:`merge`, Rust kernel, logged per run so a
run can be reverted: :func:`revert_run`); ingestion and corrections insert
the ones not stored yet (:func:`insert_missing`); corrections, the dream's
supersession and undo delete and restore (:func:`delete_touching`,
:func:`delete_links_of`, :func:`delete_keys`, :func:`insert_rows`); the graph
engine prunes decayed ones (:func:`prune`). Each edge's endpoints get a dense
integer key in ``nodes`` (:func:`add_nodes`, :func:`key_edges`), which the
Rust graph loads. What a moment's links *are* is :mod:`rem.links`.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from . import _rem
from .store.rows import arrow_rows
from .store.sql import (
    Connection,
    execute,
    fetch_arrow,
    fetch_rows,
    fetch_value,
    one_batch,
    registered,
)

EDGE_BATCH = pa.schema([("source_id", pa.string()), ("target_id", pa.string()), ("edge_type", pa.string()),
                        ("weight", pa.float64()), ("reinforce", pa.bool_()), ("metadata", pa.string()),
                        ("generated_by", pa.string())])


def merge(con: Connection, rows: list[dict[str, Any]] | pa.Table, run_id: str | None,
          half_lives: tuple[dict[str, float | None], float | None]) -> tuple[int, int]:
    """Merge a batch of edges into ``edges`` inside the caller's transaction
    and log the deltas in ``dream_edge_log``. Returns (added, reinforced).

    ``rows``: dicts or an Arrow table with the columns of :data:`EDGE_BATCH`
    (``weight`` is the increment); ``half_lives``: the decay policy
    (per type, and for other types) the stored weights decay by. Steps: new node ids get their dense keys
    (``nodes``); one semi-join fetches the stored edges sharing a key with the
    batch; the Rust kernel (``rem._rem.merge_edges``) deduplicates the batch
    and computes inserts and reinforcements (decayed weight + increment);
    both are written back from Arrow — an append and one UPDATE by row id.
    """
    batch = rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(rows, schema=EDGE_BATCH)
    if batch.num_rows == 0:
        return 0, 0
    batch = batch.select(EDGE_BATCH.names).cast(EDGE_BATCH).combine_chunks()
    batch = batch.append_column("_row", pa.array(range(batch.num_rows), pa.int64()))
    with registered(con, "_rem_edge_batch", batch):
        add_nodes(con, """SELECT id, min(o) AS first FROM (
                              SELECT source_id AS id, _row * 2 AS o FROM _rem_edge_batch
                              UNION ALL SELECT target_id, _row * 2 + 1 FROM _rem_edge_batch) GROUP BY id""")
        keys = fetch_arrow(con, """SELECT CAST(ns.key AS UINTEGER) AS source_key, CAST(nt.key AS UINTEGER) AS target_key
                                   FROM _rem_edge_batch b JOIN nodes ns ON ns.id = b.source_id JOIN nodes nt ON nt.id = b.target_id
                                   ORDER BY b._row""")
    kb = pa.table({"source_key": keys.column(0), "target_key": keys.column(1), "edge_type": batch.column("edge_type"),
                   "weight": batch.column("weight"), "reinforce": batch.column("reinforce")})
    with registered(con, "_rem_edge_keys", kb):
        stored = fetch_arrow(con, """SELECT e.rowid AS rid, CAST(e.source_key AS UINTEGER) AS source_key,
                                            CAST(e.target_key AS UINTEGER) AS target_key, e.edge_type, e.weight,
                                            epoch_us(e.reinforced_at) AS reinforced_at, e.reinforcement_count
                                     FROM edges e SEMI JOIN _rem_edge_keys k ON e.source_key = k.source_key
                                          AND e.target_key = k.target_key AND e.edge_type = k.edge_type""")
    now_us = int(fetch_value(con, "SELECT epoch_us(now())") or 0)
    hl, other = half_lives
    ins_b, upd_b = _rem.merge_edges(one_batch(kb), one_batch(stored), hl, other, now_us)
    ins, upd = pa.table(ins_b), pa.table(upd_b)
    if ins.num_rows:
        new = batch.take(ins.column("row"))
        nk = kb.take(ins.column("row"))
        with registered(con, "_rem_edge_ins", pa.table({
                "source_id": new.column("source_id"), "target_id": new.column("target_id"),
                "edge_type": new.column("edge_type"), "weight": ins.column("weight"),
                "metadata": new.column("metadata"), "generated_by": new.column("generated_by"),
                "source_key": nk.column("source_key"), "target_key": nk.column("target_key")})):
            execute(con, """INSERT INTO edges (source_id, target_id, edge_type, weight, created_at, reinforced_at,
                                               reinforcement_count, metadata, generated_by, dream_run_id, source_key, target_key)
                            SELECT source_id, target_id, edge_type, weight, now(), now(), 1, CAST(metadata AS JSON),
                                   generated_by, $run, source_key, target_key FROM _rem_edge_ins""", {"run": run_id})
            execute(con, """INSERT INTO dream_edge_log (dream_run_id, source_id, target_id, edge_type, action)
                            SELECT $run, source_id, target_id, edge_type, 'added' FROM _rem_edge_ins""", {"run": run_id})
    if upd.num_rows:
        old = batch.take(upd.column("row"))
        with registered(con, "_rem_edge_upd", pa.table({
                "rid": upd.column("rid"), "weight": upd.column("weight"), "count": upd.column("reinforcement_count"),
                "source_id": old.column("source_id"), "target_id": old.column("target_id"),
                "edge_type": old.column("edge_type"), "prev_weight": upd.column("prev_weight"),
                "prev_at": upd.column("prev_reinforced_at"), "prev_count": upd.column("prev_count")})):
            execute(con, """INSERT INTO dream_edge_log (dream_run_id, source_id, target_id, edge_type, action, prev_weight,
                                                        prev_reinforced_at, prev_count)
                            SELECT $run, source_id, target_id, edge_type, 'reinforced', prev_weight,
                                   to_timestamp(0) + to_microseconds(prev_at), prev_count FROM _rem_edge_upd""", {"run": run_id})
            execute(con, """UPDATE edges SET weight = u.weight, reinforced_at = now(), reinforcement_count = u.count
                            FROM _rem_edge_upd u WHERE edges.rowid = u.rid""")
    return ins.num_rows, upd.num_rows


def insert_missing(con: Connection, edges: list[dict[str, Any]]) -> int:
    """Insert edges (full rows) whose (source, target, type) is not stored
    yet, keyed; stored ones are left as they are. Returns how many were added."""
    before = fetch_value(con, "SELECT count(*) FROM edges") or 0
    with registered(con, "_rem_new_edges", arrow_rows("edges", edges)):
        execute(
            con,
            """INSERT INTO edges BY NAME
               SELECT DISTINCT ON (source_id, target_id, edge_type) *
               FROM _rem_new_edges n
               WHERE NOT EXISTS (SELECT 1 FROM edges e WHERE e.source_id = n.source_id
                                 AND e.target_id = n.target_id AND e.edge_type = n.edge_type)"""
        )
    after = fetch_value(con, "SELECT count(*) FROM edges") or 0
    key_edges(con)
    return int(after - before)


# -- node keys --------------------------------------------------------------
NEW_NODES_SQL = """INSERT INTO nodes (id, key)
    SELECT id, (SELECT coalesce(max(key) + 1, 0) FROM nodes) + row_number() OVER (ORDER BY first) - 1
    FROM ({ids}) ANTI JOIN nodes USING (id)"""


def add_nodes(con: Connection, ids_sql: str) -> None:
    """Give a dense integer key to each id of ``ids_sql`` (a query with
    columns ``id`` and ``first``, one row per id, ``first`` ordering new keys)
    that has none yet. Keys continue after the largest one and are never reused."""
    execute(con, NEW_NODES_SQL.format(ids=ids_sql))


def key_edges(con: Connection) -> int:
    """Fill ``source_key``/``target_key`` of edges that lack them (written by
    an older REM, by hand, or by a bulk path that leaves them to this call),
    adding the ids to ``nodes``. Returns how many edges were keyed."""
    missing = int(fetch_value(con, "SELECT count(*) FROM edges WHERE source_key IS NULL OR target_key IS NULL") or 0)
    if not missing:
        return 0
    add_nodes(con, """SELECT id, min(o) AS first FROM (
                           SELECT source_id AS id, rowid * 2 AS o FROM edges WHERE source_key IS NULL
                           UNION ALL SELECT target_id, rowid * 2 + 1 FROM edges WHERE target_key IS NULL) GROUP BY id""")
    execute(con, """UPDATE edges SET source_key = n.key FROM nodes n
                    WHERE edges.source_key IS NULL AND n.id = edges.source_id""")
    execute(con, """UPDATE edges SET target_key = n.key FROM nodes n
                    WHERE edges.target_key IS NULL AND n.id = edges.target_id""")
    return missing


def delete_touching(con: Connection, ids_view: str, *, log_run: str | None = None) -> int:
    """Delete every edge from or to an id of ``ids_view`` (a view or table with a column ``id``). With
    ``log_run`` each is first logged as deleted by that dream run (so reverting the run restores it).
    Returns how many were deleted."""
    touching = f"source_id IN (SELECT id FROM {ids_view}) OR target_id IN (SELECT id FROM {ids_view})"
    if log_run is not None:
        execute(con, f"""INSERT INTO dream_edge_log (dream_run_id, source_id, target_id, edge_type, action, prev_weight,
                               prev_reinforced_at, prev_count, prev_created_at, prev_metadata, prev_generated_by, prev_dream_run_id)
                        SELECT $run, source_id, target_id, edge_type, 'deleted', weight, reinforced_at, reinforcement_count,
                               created_at, metadata, generated_by, dream_run_id
                        FROM edges WHERE {touching}""", {"run": log_run})
    n = int(fetch_value(con, f"SELECT count(*) FROM edges WHERE {touching}") or 0)
    if n:
        execute(con, f"DELETE FROM edges WHERE {touching}")
    return n


def delete_links_of(con: Connection, ids_view: str, edge_types: tuple[str, ...]) -> None:
    """Delete the edges of ``edge_types`` whose source is an id of ``ids_view`` (a moment's own links)."""
    types = ", ".join(f"'{t}'" for t in edge_types)
    execute(con, f"DELETE FROM edges WHERE source_id IN (SELECT id FROM {ids_view}) AND edge_type IN ({types})")


def delete_keys(con: Connection, keys: list[tuple[str, str, str]]) -> None:
    """Delete the edges named by (source, target, type)."""
    if not keys:
        return
    t = pa.table({"s": [k[0] for k in keys], "t": [k[1] for k in keys], "y": [k[2] for k in keys]})
    with registered(con, "_rem_edge_del_keys", t) as v:
        execute(con, f"""DELETE FROM edges WHERE EXISTS (SELECT 1 FROM {v} k WHERE k.s = edges.source_id
                         AND k.t = edges.target_id AND k.y = edges.edge_type)""")


def missing_keys(con: Connection, keys: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """The (source, target, type) of ``keys`` not stored yet (distinct)."""
    if not keys:
        return []
    t = pa.table({"s": [k[0] for k in keys], "t": [k[1] for k in keys], "y": [k[2] for k in keys]})
    with registered(con, "_rem_edge_new_keys", t) as v:
        return [tuple(r) for r in fetch_rows(con, f"""SELECT DISTINCT k.s, k.t, k.y FROM {v} k
            WHERE NOT EXISTS (SELECT 1 FROM edges e WHERE e.source_id = k.s AND e.target_id = k.t
                              AND e.edge_type = k.y)""")]  # type: ignore[misc]


def insert_rows(con: Connection, rows: list[dict[str, Any]]) -> None:
    """Put back full edge rows exactly as they were (an undo): weights, times, run ids and all."""
    if not rows:
        return
    with registered(con, "_rem_edge_rows", arrow_rows("edges", rows)) as v:
        execute(con, f"INSERT INTO edges BY NAME SELECT * FROM {v}")
    key_edges(con)


def revert_run(con: Connection, run_id: str) -> None:
    """Undo what dream run ``run_id`` did to the edges, from its log: an edge it added is gone, one it
    reinforced gets its previous weight, time and count back, one it deleted comes back as it was."""
    params = {"id": run_id}
    execute(con, """DELETE FROM edges e WHERE EXISTS (SELECT 1 FROM dream_edge_log l WHERE l.dream_run_id = $id
                AND l.action = 'added' AND l.source_id = e.source_id AND l.target_id = e.target_id
                AND l.edge_type = e.edge_type)""", params)
    execute(con, """UPDATE edges AS e SET weight = l.prev_weight, reinforced_at = l.prev_reinforced_at,
                       reinforcement_count = l.prev_count
                FROM dream_edge_log l WHERE l.dream_run_id = $id AND l.action = 'reinforced'
                  AND l.source_id = e.source_id AND l.target_id = e.target_id AND l.edge_type = e.edge_type""", params)
    execute(con, """INSERT INTO edges (source_id, target_id, edge_type, weight, created_at, reinforced_at,
                                   reinforcement_count, metadata, generated_by, dream_run_id)
                SELECT source_id, target_id, edge_type, prev_weight, prev_created_at, prev_reinforced_at, prev_count,
                       prev_metadata, prev_generated_by, prev_dream_run_id
                FROM dream_edge_log WHERE dream_run_id = $id AND action = 'deleted'""", params)
    key_edges(con)


DECAYED = "rem_half_life_hours(edge_type) IS NOT NULL AND rem_decay(weight, reinforced_at, edge_type) < $thr"


def decayed_by_type(con: Connection, threshold: float) -> dict[str, int]:
    """How many decaying edges (never structural ones) are under ``threshold`` now, by type."""
    return dict(fetch_rows(con, f"SELECT edge_type, count(*) FROM edges WHERE {DECAYED} GROUP BY 1 ORDER BY 2 DESC",
                           {"thr": threshold}))


def prune(con: Connection, threshold: float) -> dict[str, int]:
    """Delete the decayed edges under ``threshold`` (never structural ones); returns how many, by type."""
    by_type = decayed_by_type(con, threshold)
    if by_type:
        execute(con, f"DELETE FROM edges WHERE {DECAYED}", {"thr": threshold})
    return by_type
