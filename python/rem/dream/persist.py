"""Write a dream's results in ONE transaction.

Order: supersede stored moments whose activity the new moments now cover;
upsert moments; upsert topic and person entities; merge edges (reinforcing
known ones, inserting new ones, logging every change in ``dream_edge_log``
so a run can be reverted); upsert the period's summary resource; finish the
``dream_runs`` row. Any error rolls everything back.

Reinforcement rule: edges are reinforced only by *new* moments. Re-running a
dream over the same activity resolves to the same moments (same ids); their
edges are asserted (inserted if missing) but not reinforced again, so the
second run leaves moments and edges as they were.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from ..ids import normalize_key, stable_id
from ..ingest.common import _upsert_entities, arrow_rows
from ..store import Store, one, run, transaction, upsert
from .resolve import ModelEdge, Moment
from .window import Window

INCREMENT = 1.0


@dataclass
class PersistStats:
    moments_created: int = 0
    moments_merged: int = 0
    moments_superseded: int = 0
    entities_created: int = 0
    edges_added: int = 0
    edges_reinforced: int = 0
    summaries_created: int = 0


def _entity_rows(moments: list[Moment], now: datetime) -> tuple[list[dict[str, Any]], dict[tuple[str, str], str]]:
    rows: dict[str, dict[str, Any]] = {}
    ids: dict[tuple[str, str], str] = {}
    for m in moments:
        for kind, names in (("topic", m.tags), ("person", m.people)):
            for name in names:
                key = normalize_key(name)
                if not key:
                    continue
                eid = stable_id("entity", kind, key)
                ids[(kind, name)] = eid
                r = rows.setdefault(eid, {"id": eid, "key": key, "name": name, "kind": kind, "aliases": [],
                                          "created_at": now, "updated_at": now, "metadata": None})
                if name != r["name"] and name not in r["aliases"]:
                    r["aliases"].append(name)
    return list(rows.values()), ids


def _edge(s: str, t: str, etype: str, reinforce: bool, run_id: str, by: str, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"source_id": s, "target_id": t, "edge_type": etype, "weight": INCREMENT, "reinforce": reinforce,
            "metadata": json.dumps(meta, sort_keys=True) if meta else None, "generated_by": by, "dream_run_id": run_id}


def merge_edges(con: Any, rows: list[dict[str, Any]], run_id: str) -> tuple[int, int]:
    """Deduplicate ``rows`` and merge them into ``edges``; log the deltas.
    Returns (added, reinforced)."""
    if not rows:
        return 0, 0
    batch = pa.table({
        "source_id": pa.array([r["source_id"] for r in rows], pa.string()),
        "target_id": pa.array([r["target_id"] for r in rows], pa.string()),
        "edge_type": pa.array([r["edge_type"] for r in rows], pa.string()),
        "weight": pa.array([r["weight"] for r in rows], pa.float64()),
        "reinforce": pa.array([r["reinforce"] for r in rows], pa.bool_()),
        "metadata": pa.array([r["metadata"] for r in rows], pa.string()),
        "generated_by": pa.array([r["generated_by"] for r in rows], pa.string()),
    })
    con.register("_rem_edge_batch", batch)
    try:
        run(con, """CREATE OR REPLACE TEMP TABLE _rem_b AS
                    SELECT source_id, target_id, edge_type, max(weight) AS weight, bool_or(reinforce) AS reinforce,
                           any_value(metadata) AS metadata, any_value(generated_by) AS generated_by
                    FROM _rem_edge_batch GROUP BY ALL""")
        run(con, """CREATE OR REPLACE TEMP TABLE _rem_m AS
                    SELECT b.*, e.weight AS old_weight, e.reinforced_at AS old_at, e.reinforcement_count AS old_count,
                           e.source_id IS NOT NULL AS known
                    FROM _rem_b b LEFT JOIN edges e USING (source_id, target_id, edge_type)""")
        added = (one(con, "SELECT count(*) FROM _rem_m WHERE NOT known") or (0,))[0]
        reinforced = (one(con, "SELECT count(*) FROM _rem_m WHERE known AND reinforce") or (0,))[0]
        run(con, """INSERT INTO dream_edge_log (dream_run_id, source_id, target_id, edge_type, action, prev_weight, prev_reinforced_at, prev_count)
                    SELECT $run, source_id, target_id, edge_type, CASE WHEN known THEN 'reinforced' ELSE 'added' END,
                           old_weight, old_at, old_count
                    FROM _rem_m WHERE NOT known OR reinforce""", {"run": run_id})
        run(con, """UPDATE edges AS e SET weight = rem_decay(e.weight, e.reinforced_at, e.edge_type) + m.weight,
                           reinforced_at = now(), reinforcement_count = e.reinforcement_count + 1
                    FROM _rem_m m WHERE m.known AND m.reinforce AND e.source_id = m.source_id
                      AND e.target_id = m.target_id AND e.edge_type = m.edge_type""")
        run(con, """INSERT INTO edges (source_id, target_id, edge_type, weight, created_at, reinforced_at,
                                       reinforcement_count, metadata, generated_by, dream_run_id)
                    SELECT source_id, target_id, edge_type, weight, now(), now(), 1, CAST(metadata AS JSON), generated_by, $run
                    FROM _rem_m WHERE NOT known""", {"run": run_id})
        run(con, "DROP TABLE _rem_b")
        run(con, "DROP TABLE _rem_m")
        return int(added), int(reinforced)
    finally:
        con.unregister("_rem_edge_batch")


def _moment_rows(moments: list[Moment], run_id: str, window: Window, now: datetime, user_id: str | None) -> pa.Table:
    return arrow_rows("moments", [{
        "id": m.id, "name": m.name, "summary": m.summary, "start_time": m.start, "end_time": m.end,
        "moment_type": m.moment_type, "tags": m.tags, "emotion_tags": m.emotion_tags, "people": m.people,
        "outcome": m.outcome, "resource_ids": m.resource_ids, "session_ids": m.session_ids,
        "message_ids": m.message_ids, "segment_keys": m.segment_keys, "source_key": m.source_key,
        "generated_by": m.generated_by, "dream_run_id": run_id, "window_start": window.start,
        "window_end": window.end, "user_id": user_id, "created_at": now, "updated_at": now,
        "metadata": {"segments": m.segments},
    } for m in moments])


def _snapshot(con: Any, run_id: str, table: str, action: str, ids_view: str) -> None:
    """Save the rows of ``table`` whose id is in ``ids_view`` as they are now."""
    run(con, f"""INSERT INTO dream_undo (dream_run_id, table_name, row_id, action, prev_row)
                 SELECT $run, '{table}', t.id, '{action}', to_json(t) FROM "{table}" t
                 WHERE t.id IN (SELECT id FROM {ids_view})""", {"run": run_id})


def _record(con: Any, run_id: str, table: str, ids: list[str]) -> None:
    """Before an upsert of ``ids`` into ``table``: snapshot the rows that
    exist ('updated') and note the ones that do not ('created')."""
    con.register("_rem_undo_ids", pa.table({"id": pa.array(sorted(set(ids)), pa.string())}))
    try:
        _snapshot(con, run_id, table, "updated", "_rem_undo_ids")
        run(con, f"""INSERT INTO dream_undo (dream_run_id, table_name, row_id, action)
                     SELECT $run, '{table}', n.id, 'created' FROM _rem_undo_ids n
                     WHERE n.id NOT IN (SELECT id FROM "{table}")""", {"run": run_id})
    finally:
        con.unregister("_rem_undo_ids")


def persist(store: Store, *, run_id: str, window: Window, moments: list[Moment], model_edges: list[ModelEdge],
            summary: str | None, ledger: dict[str, Any], user_id: str | None = None) -> PersistStats:
    """Everything the dream produced, in one transaction, plus the ledger row."""
    st = PersistStats()
    now = datetime.now(UTC)
    with store.connect() as con, transaction(con):
        new_ids = [m.id for m in moments]
        keys = sorted({k for m in moments for k in m.segment_keys})
        existing: set[str] = set()
        if moments:
            con.register("_rem_new_ids", pa.table({"id": pa.array(new_ids, pa.string())}))
            existing = {r[0] for r in run(con, "SELECT m.id FROM moments m SEMI JOIN _rem_new_ids n ON m.id = n.id")}
            con.unregister("_rem_new_ids")
        if keys:
            con.register("_rem_keys", pa.table({"k": pa.array(keys, pa.string())}))
            old = run(con, """SELECT DISTINCT m.id FROM moments m, unnest(m.segment_keys) AS u(k)
                              WHERE u.k IN (SELECT k FROM _rem_keys)""")
            con.unregister("_rem_keys")
            superseded = sorted({r[0] for r in old} - set(new_ids))
            if superseded:
                con.register("_rem_sup", pa.table({"id": pa.array(superseded, pa.string())}))
                _snapshot(con, run_id, "moments", "deleted", "_rem_sup")
                run(con, """INSERT INTO dream_edge_log (dream_run_id, source_id, target_id, edge_type, action, prev_weight,
                                   prev_reinforced_at, prev_count, prev_created_at, prev_metadata, prev_generated_by, prev_dream_run_id)
                            SELECT $run, source_id, target_id, edge_type, 'deleted', weight, reinforced_at, reinforcement_count,
                                   created_at, metadata, generated_by, dream_run_id
                            FROM edges WHERE source_id IN (SELECT id FROM _rem_sup) OR target_id IN (SELECT id FROM _rem_sup)""",
                    {"run": run_id})
                run(con, "DELETE FROM edges WHERE source_id IN (SELECT id FROM _rem_sup) OR target_id IN (SELECT id FROM _rem_sup)")
                run(con, "DELETE FROM moments WHERE id IN (SELECT id FROM _rem_sup)")
                con.unregister("_rem_sup")
                st.moments_superseded = len(superseded)
        if moments:
            _record(con, run_id, "moments", new_ids)
            c = upsert(con, "moments", _moment_rows(moments, run_id, window, now, user_id))
            st.moments_created = c.added
            st.moments_merged = len(existing)
        ent_rows, ent_ids = _entity_rows(moments, now)
        if ent_rows:
            _record(con, run_id, "entities", [r["id"] for r in ent_rows])
            st.entities_created = _upsert_entities(con, ent_rows).added
        edges: list[dict[str, Any]] = []
        item_moment_new: dict[str, bool] = {}
        for m in moments:
            fresh = m.id not in existing
            for i in (*m.resource_ids, *m.message_ids, *m.session_ids):
                item_moment_new[i] = fresh
            edges += [_edge(m.id, r, "contains", fresh, run_id, "dream") for r in m.resource_ids]
            edges += [_edge(m.id, s, "captured_in", fresh, run_id, "dream") for s in m.session_ids]
            topics = [ent_ids[("topic", t)] for t in m.tags if ("topic", t) in ent_ids]
            edges += [_edge(m.id, t, "about", fresh, run_id, "dream") for t in dict.fromkeys(topics)]
            edges += [_edge(m.id, ent_ids[("person", p)], "involves", fresh, run_id, "dream") for p in m.people if ("person", p) in ent_ids]
            uniq = sorted(set(topics))
            for a_i, a in enumerate(uniq):
                for b in uniq[a_i + 1:]:
                    edges.append(_edge(a, b, "related_to", fresh, run_id, "dream", {"reason": "topics of one moment"}))
        for e in model_edges:
            fresh = item_moment_new.get(e.source_id, True) or item_moment_new.get(e.target_id, True)
            edges.append(_edge(e.source_id, e.target_id, e.edge_type, fresh, run_id, "model", {"reason": e.reason} if e.reason else None))
        if summary:
            sid = stable_id("summary", window.start.isoformat(), window.end.isoformat())
            _record(con, run_id, "resources", [sid])
            c = upsert(con, "resources", arrow_rows("resources", [{
                "id": sid, "name": f"Dream summary {window.start:%Y-%m-%d %H:%M} – {window.end:%Y-%m-%d %H:%M}",
                "uri": f"rem:dream/{run_id}", "content": summary, "resource_type": "summary",
                "created_at": window.end, "updated_at": now, "user_id": user_id,
                "metadata": {"dream_run_id": run_id, "moments": new_ids, "window_start": window.start.isoformat(),
                             "window_end": window.end.isoformat()},
            }]))
            st.summaries_created = c.added + c.updated
            edges += [_edge(sid, m, "summarizes", m not in existing, run_id, "dream") for m in new_ids]
        st.edges_added, st.edges_reinforced = merge_edges(con, edges, run_id)
        ledger = dict(ledger)
        meta = dict(ledger.pop("metadata", {}) or {})
        ledger.update({
            "status": "ok", "finished_at": datetime.now(UTC), "moments_created": st.moments_created,
            "moments_merged": st.moments_merged, "moments_superseded": st.moments_superseded,
            "entities_created": st.entities_created, "edges_added": st.edges_added,
            "edges_reinforced": st.edges_reinforced, "summaries_created": st.summaries_created,
            "metadata": meta,
        })
        upsert(con, "dream_runs", arrow_rows("dream_runs", [{"id": run_id, **ledger}]))
    return st
