"""Write a dream's results in ONE transaction.

Order: supersede stored moments whose activity the new moments now cover
(their edges go, snapshotted for revert); upsert moments; upsert topic and
person entities; upsert the period's summary resource; merge every edge the
moments, the model and the summary imply in one batch (reinforcing known
ones, inserting new ones, logging every change in ``dream_edge_log`` so a
run can be reverted); finish the ``dream_runs`` row. Any error rolls
everything back.

Reinforcement rule: edges are reinforced only by *new* moments. Re-running a
dream over the same activity resolves to the same moments (same ids); their
edges are asserted (inserted if missing) but not reinforced again, so the
second run leaves moments and edges as they were.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from .. import ahead, ledger, schema
from .. import edges as edge_table
from .. import entities as entity_table
from .. import moments as moment_table
from .. import resources as resource_table
from ..ahead import Ahead
from ..corrections import fixed_ground
from ..ids import stable_id
from ..ledger import RunStatus
from ..links import links_of_all, metadata_json
from ..store import (
    Connection,
    Store,
    arrow_columns,
    arrow_rows,
    execute,
    fetch_rows,
    id_table,
    registered,
    transaction,
)
from .resolve import ModelEdge, Moment, period_summary
from .window import Window

INCREMENT = 1.0


@dataclass
class PersistStats:
    moments_created: int = 0
    moments_merged: int = 0
    moments_superseded: int = 0
    moments_left_to_corrections: int = 0  # moments not written: the owner's corrections cover that activity
    entities_created: int = 0
    edges_added: int = 0
    edges_reinforced: int = 0
    summaries_created: int = 0


_LINKS = pa.schema([("moment_id", pa.string()), ("source_id", pa.string()), ("target_id", pa.string()),
                    ("edge_type", pa.string()), ("weight", pa.float64()), ("metadata", pa.string())])


def _linked(moments: list[Moment], now: datetime) -> tuple[list[dict[str, Any]], pa.Table]:
    """The entities the moments name (their rows) and the edges they imply, as columns, each with its moment.
    Computed ahead, while the moments are written (:class:`rem.ahead.Ahead`)."""
    ent_rows, links = links_of_all(moments, now)
    return ent_rows, pa.table({
        "moment_id": [m.id for m, _link in links], "source_id": [link.source_id for _m, link in links],
        "target_id": [link.target_id for _m, link in links], "edge_type": [link.edge_type for _m, link in links],
        "weight": [link.weight for _m, link in links], "metadata": [metadata_json(link.metadata) for _m, link in links],
    }, schema=_LINKS)


class _Edges:
    """The edges a dream asserts, as the columns of :data:`rem.edges.EDGE_BATCH` (``reinforce``: whether a new
    moment asserts it): the moments' links (:func:`_linked`, read column by column: a row of Python objects per
    edge cost more than the merge itself, and a dream of 100,000 chat turns asserts ~110,000 edges), then the
    few added one by one."""

    def __init__(self, links: pa.Table, existing: set[str]) -> None:
        stored = pc.is_in(links["moment_id"], value_set=pa.array(sorted(existing), pa.string()))
        self.linked = pa.table({
            "source_id": links["source_id"], "target_id": links["target_id"], "edge_type": links["edge_type"],
            "weight": links["weight"], "reinforce": pc.invert(stored), "metadata": links["metadata"],
            "generated_by": pa.array(["dream"] * links.num_rows, pa.string())}, schema=edge_table.EDGE_BATCH)
        self.cols: dict[str, list[Any]] = {name: [] for name in edge_table.EDGE_BATCH.names}

    def add(self, s: str, t: str, etype: str, reinforce: bool, by: str, meta: dict[str, Any] | None = None,
            weight: float = INCREMENT) -> None:
        for name, v in (("source_id", s), ("target_id", t), ("edge_type", etype), ("weight", weight),
                        ("reinforce", reinforce), ("metadata", metadata_json(meta)), ("generated_by", by)):
            self.cols[name].append(v)

    def table(self) -> pa.Table:
        return pa.concat_tables([self.linked, pa.table(self.cols, schema=edge_table.EDGE_BATCH)]).combine_chunks()


def _moment_rows(moments: list[Moment], run_id: str, window: Window, now: datetime, user_id: str | None,
                 pending: bool = False) -> pa.Table:
    if len({m.id for m in moments}) < len(moments):  # the same moment twice: the later wins where the first was,
        moments = list({m.id: m for m in moments}.values())  # as arrow_rows keeps it
    said = schema.field_names("moments", "dream")  # what the resolved moment says, field by field
    n = len(moments)
    return arrow_columns("moments", {
        **{f: [getattr(m, f) for m in moments] for f in said}, "id": [m.id for m in moments],
        "start_time": [m.start for m in moments], "end_time": [m.end for m in moments],
        "dream_run_id": [run_id] * n, "window_start": [window.start] * n, "window_end": [window.end] * n,
        "user_id": [user_id] * n, "created_at": [now] * n, "updated_at": [now] * n,
        "metadata": [{"segments": m.segments, **({"pending": True} if pending else {})} for m in moments],
    })


def _snapshot(con: Connection, run_id: str, table: str, action: str, ids_view: str) -> None:
    """Save the rows of ``table`` whose id is in ``ids_view`` as they are now."""
    execute(con, f"""INSERT INTO dream_undo (dream_run_id, table_name, row_id, action, prev_row)
                     SELECT $run, '{table}', t.id, '{action}', to_json(t) FROM "{table}" t
                     WHERE t.id IN (SELECT id FROM {ids_view})""", {"run": run_id})


def _record(con: Connection, run_id: str, table: str, ids: list[str]) -> None:
    """Before an upsert of ``ids`` into ``table``: snapshot the rows that
    exist ('updated') and note the ones that do not ('created')."""
    with registered(con, "_rem_undo_ids", id_table(sorted(set(ids)))):
        _snapshot(con, run_id, table, "updated", "_rem_undo_ids")
        execute(con, f"""INSERT INTO dream_undo (dream_run_id, table_name, row_id, action)
                         SELECT $run, '{table}', n.id, 'created' FROM _rem_undo_ids n
                         WHERE n.id NOT IN (SELECT id FROM "{table}")""", {"run": run_id})


def _supersede(con: Connection, run_id: str, ids: list[str]) -> None:
    """Delete stored moments the new ones replace, and their edges, snapshotting both."""
    with registered(con, "_rem_sup", id_table(ids)):
        _snapshot(con, run_id, "moments", "deleted", "_rem_sup")
    moment_table.delete(con, ids, log_run=run_id)


def _covered_moments(con: Connection, moments: list[Moment]) -> set[str]:
    """Stored moments all of whose items (resources, messages) the new moments cover."""
    items = sorted({i for m in moments for i in (*m.resource_ids, *m.message_ids)})
    if not items:
        return set()
    with registered(con, "_rem_new_items", id_table(items)):
        rows = fetch_rows(con, """
            SELECT m.id, any_value(len(list_concat(coalesce(m.resource_ids, []), coalesce(m.message_ids, [])))) AS n,
                   count(*) AS shared
            FROM moments m, unnest(list_concat(coalesce(m.resource_ids, []), coalesce(m.message_ids, []))) AS u(i)
            WHERE u.i IN (SELECT id FROM _rem_new_items) GROUP BY m.id""")
    return {mid for mid, n, shared in rows if n and shared >= n}


def _join_fixed(con: Connection, run_id: str, m: Moment, late: list[str], fixed: set[str]) -> Moment | None:
    """Items that arrived after the owner corrected (or pinned) the moment covering their segment: they join
    that moment, listed in its metadata as ``added_after_correction`` (the correction itself is untouched).
    When no fixed moment holds the rest of the segment (the owner deleted it), they make a moment of their
    own, returned to be written."""
    others = [i for i in (*m.resource_ids, *m.message_ids) if i not in late]
    host = None
    if others:
        with registered(con, "_rem_seg_items", id_table(others)):
            row = fetch_rows(con, """
                SELECT m.id, count(*) AS n FROM moments m,
                       unnest(list_concat(coalesce(m.resource_ids, []), coalesce(m.message_ids, []))) AS u(i)
                WHERE u.i IN (SELECT id FROM _rem_seg_items) GROUP BY m.id ORDER BY n DESC, m.id LIMIT 1""")
        host = row[0][0] if row and row[0][0] in fixed else None
    late_res = [i for i in late if i in set(m.resource_ids)]
    late_msg = [i for i in late if i in set(m.message_ids)]
    if host is None:
        return dataclasses.replace(m, resource_ids=late_res, message_ids=late_msg)
    _record(con, run_id, "moments", [host])
    with registered(con, "_rem_late", id_table(late)):
        first, last = fetch_rows(con, """SELECT min(t), max(t) FROM (
            SELECT created_at AS t FROM messages WHERE id IN (SELECT id FROM _rem_late)
            UNION ALL SELECT created_at FROM resources WHERE id IN (SELECT id FROM _rem_late))""")[0]
    moment_table.add_items(con, host, resource_ids=late_res, message_ids=late_msg, session_ids=list(m.session_ids),
                           start=first or m.start, end=last or m.end, late=late)
    return None


def persist(store: Store, *, run_id: str, window: Window, moments: list[Moment], model_edges: list[ModelEdge],
            summary: str | None, ledger_row: dict[str, Any], user_id: str | None = None, review: bool = False,
            on_moment_rows: Callable[[pa.Table], None] | None = None) -> PersistStats:
    """Everything the dream produced, in one transaction, plus the ledger row. With ``review`` the new moments
    are *pending* (rem.review): written, marked, and kept out of the graph (no entities, links or summary
    edges of theirs) until the owner accepts them. ``on_moment_rows``: called with the moments' rows as they are
    about to be written (the run digest renders them meanwhile)."""
    st = PersistStats()
    now = datetime.now(UTC)
    with store.connect() as con, transaction(con):
        # the owner's corrections are fixed ground: a corrected or pinned moment is never overwritten,
        # superseded or deleted, and activity it (or a moment the owner deleted) covers makes no new moment
        fixed, covered = fixed_ground(con)
        if fixed or covered:
            kept = []
            for m in moments:
                items = [*m.resource_ids, *m.message_ids]
                if m.id in fixed or (items and 2 * sum(i in covered for i in items) > len(items)):
                    st.moments_left_to_corrections += 1
                    late = [i for i in items if i not in covered]
                    if late:  # activity that arrived after the correction: it joins the fixed moment, or stands alone
                        alone = _join_fixed(con, run_id, m, late, fixed)
                        if alone is not None:
                            kept.append(alone)
                    continue
                kept.append(m)
            moments = kept
        new_ids = [m.id for m in moments]
        # pending: nothing of theirs feeds the graph until accepted (rem.review.accept links them)
        moments_linked: list[Moment] = [] if review else moments
        # the links, worked out while the moments are written (by a fork: on a large window)
        linking = Ahead(_linked, moments_linked, now, fork=len(moments_linked) >= ahead.WORTH_A_FORK)
        try:
            keys = sorted({k for m in moments for k in m.segment_keys})
            existing: set[str] = set()
            if moments:
                with registered(con, "_rem_new_ids", id_table(new_ids)):
                    existing = {r[0] for r in fetch_rows(con, "SELECT m.id FROM moments m SEMI JOIN _rem_new_ids n ON m.id = n.id")}
            if keys:
                with registered(con, "_rem_keys", id_table(keys, "k")):
                    old = fetch_rows(con, """SELECT DISTINCT m.id FROM moments m, unnest(m.segment_keys) AS u(k)
                                             WHERE u.k IN (SELECT k FROM _rem_keys)""")
                superseded = {r[0] for r in old} - set(new_ids) - fixed
                # a moment whose every item a new moment covers is replaced, whatever its segment keys say (a late
                # item changes a segment's key: the old moment would otherwise stay beside the new one)
                superseded |= _covered_moments(con, moments) - set(new_ids) - fixed
                if superseded:
                    _supersede(con, run_id, sorted(superseded))
                    st.moments_superseded = len(superseded)
            if moments:
                _record(con, run_id, "moments", new_ids)
                rows = _moment_rows(moments, run_id, window, now, user_id, pending=review)
                if on_moment_rows is not None:
                    on_moment_rows(rows)
                c = moment_table.upsert(con, rows)
                st.moments_created = c.added
                st.moments_merged = len(existing)
        except BaseException:
            linking.discard()
            raise
        if review:
            held = set(new_ids)
            model_edges = [e for e in model_edges if e.source_id not in held and e.target_id not in held]
        ent_rows, links = linking.result()
        if ent_rows:
            _record(con, run_id, "entities", [r["id"] for r in ent_rows])
            st.entities_created = entity_table.upsert(con, ent_rows).added
        item_moment_new: dict[str, bool] = {}
        for m in moments:
            for i in (*m.resource_ids, *m.message_ids, *m.session_ids):
                item_moment_new[i] = m.id not in existing
        edges = _Edges(links, existing)
        for e in model_edges:
            fresh = item_moment_new.get(e.source_id, True) or item_moment_new.get(e.target_id, True)
            edges.add(e.source_id, e.target_id, e.edge_type, fresh, "model", {"reason": e.reason} if e.reason else None)
        if summary and st.moments_left_to_corrections:
            # the owner's corrections changed this window: the summary tells the moments as they now stand
            # (a deleted one is not named, a corrected one by its new name), not as the dream first saw them
            summary = period_summary([tuple(r) for r in fetch_rows(con, """SELECT name, start_time, end_time FROM moments
                                      WHERE start_time >= $s AND start_time < $e ORDER BY start_time, id""",
                                                                    {"s": window.start, "e": window.end})])
        if summary:
            sid = stable_id("summary", window.start.isoformat(), window.end.isoformat())
            _record(con, run_id, "resources", [sid])
            c = resource_table.upsert(con, arrow_rows("resources", [{
                "id": sid, "name": f"Dream summary {window.start:%Y-%m-%d %H:%M} – {window.end:%Y-%m-%d %H:%M}",
                "uri": f"rem:dream/{run_id}", "content": summary, "resource_type": "summary",
                "created_at": window.end, "updated_at": now, "user_id": user_id,
                "metadata": {"dream_run_id": run_id, "moments": new_ids, "window_start": window.start.isoformat(),
                             "window_end": window.end.isoformat()},
            }]))
            st.summaries_created = c.added + c.updated
            if not review:
                for mid in new_ids:
                    edges.add(sid, mid, "summarizes", mid not in existing, "dream")
        st.edges_added, st.edges_reinforced = edge_table.merge(con, edges.table(), run_id, store.settings.half_lives)
        row = dict(ledger_row)
        meta = dict(row.pop("metadata", {}) or {})
        row.update({
            "status": RunStatus.OK, "finished_at": datetime.now(UTC), "moments_created": st.moments_created,
            "moments_merged": st.moments_merged, "moments_superseded": st.moments_superseded,
            "entities_created": st.entities_created, "edges_added": st.edges_added,
            "edges_reinforced": st.edges_reinforced, "summaries_created": st.summaries_created,
            "metadata": meta,
        })
        ledger.write_on(con, {"id": run_id, **row})
    return st
