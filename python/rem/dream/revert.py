"""`rem runs revert RUN_ID`: take a dream back, in one transaction.

A dream records everything it changes: ``dream_edge_log`` holds, for every
edge it added, reinforced or deleted, the edge's state before; ``dream_undo``
holds, for every moment, entity and summary resource it created, changed or
deleted, the whole row before. Reverting replays that record backwards:

* edges it added are deleted; edges it reinforced get back their weight,
  ``reinforced_at`` and count; edges it deleted (those of superseded moments)
  are re-inserted as they were;
* rows it created are deleted; rows it changed or deleted are restored;
* its ledger row becomes ``reverted`` (so the next scheduled dream covers its
  window again).

A run can only be reverted while no later run has changed the same rows or
edges (otherwise restoring its "before" would undo part of the later run);
such runs are named so they can be reverted first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .. import edges, entities, ledger, moments, resources, schema
from ..exceptions import RevertRefused
from ..ledger import RunStatus
from ..store import (
    Connection,
    Store,
    arrow_rows,
    execute,
    fetch_rows,
    id_table,
    registered,
    transaction,
)

# the owners of the rows a run snapshotted (rem.dream.persist records them in dream_undo)
OWNERS = {"moments": moments, "entities": entities, "resources": resources}


@dataclass
class RevertPlan:
    run_id: str
    status: str
    edges: dict[str, int] = field(default_factory=dict)  # action -> count
    rows: dict[str, dict[str, int]] = field(default_factory=dict)  # table -> action -> count
    blockers: list[dict[str, Any]] = field(default_factory=list)

    def describe(self, done: bool) -> str:
        verb = "restored" if done else "would restore"
        undo = {"added": "deleted", "reinforced": "weights restored", "deleted": "re-inserted"}
        lines = [f"run {self.run_id}: {'reverted' if done else 'revert plan (nothing changed yet)'}"]
        if self.edges:
            lines.append("edges: " + ", ".join(f"{n} {undo.get(a, a)} (were {a})" for a, n in sorted(self.edges.items())))
        for table, acts in sorted(self.rows.items()):
            parts = [f"{n} {'deleted' if a == 'created' else verb} (were {a})" for a, n in sorted(acts.items())]
            lines.append(f"{table}: " + ", ".join(parts))
        if not self.edges and not self.rows:
            lines.append("the run changed nothing")
        return "\n".join(lines)


def _plan(con: Connection, run_id: str) -> RevertPlan:
    p = RevertPlan(run_id, str(ledger.status_of(con, run_id)))
    for action, n in fetch_rows(con, "SELECT action, count(*) FROM dream_edge_log WHERE dream_run_id = $id GROUP BY ALL",
                                {"id": run_id}):
        p.edges[action] = int(n)
    for table, action, n in fetch_rows(con, """SELECT table_name, action, count(*) FROM dream_undo
                                               WHERE dream_run_id = $id GROUP BY ALL""", {"id": run_id}):
        p.rows.setdefault(table, {})[action] = int(n)
    later = ledger.later_ok_runs(con, run_id)
    if not later:
        return p
    with registered(con, "_rem_later", id_table(later)):
        shared = fetch_rows(con, """
            WITH mine_e AS (SELECT DISTINCT source_id, target_id, edge_type FROM dream_edge_log WHERE dream_run_id = $id),
            mine_r AS (SELECT DISTINCT table_name, row_id FROM dream_undo WHERE dream_run_id = $id)
            SELECT id, sum(n) FROM (
                SELECT l.dream_run_id AS id, count(*) AS n FROM dream_edge_log l SEMI JOIN mine_e m
                       USING (source_id, target_id, edge_type)
                WHERE l.dream_run_id IN (SELECT id FROM _rem_later) GROUP BY ALL
                UNION ALL
                SELECT u.dream_run_id, count(*) FROM dream_undo u SEMI JOIN mine_r m USING (table_name, row_id)
                WHERE u.dream_run_id IN (SELECT id FROM _rem_later) AND u.table_name <> 'entities' GROUP BY ALL)
            GROUP BY id""", {"id": run_id})
    starts = ledger.started_at(con, [r[0] for r in shared])
    p.blockers = sorted(({"id": rid, "started_at": starts[rid], "shared": int(n)} for rid, n in shared),
                        key=lambda b: b["started_at"], reverse=True)
    return p


def _typed(table: str, snap: dict[str, Any]) -> dict[str, Any]:
    """A row from its ``to_json`` snapshot, typed for :func:`arrow_rows`."""
    t = schema.table(table)
    out: dict[str, Any] = {}
    for c in t.columns:
        v = snap.get(c.name)
        if v is not None and c.kind == "timestamp":
            v = datetime.fromisoformat(v)
        out[c.name] = v
    return out


def revert(store: Store, prefix: str, *, dry_run: bool = False) -> RevertPlan:
    """Take back everything run ``prefix`` wrote (see the module docstring)."""
    store.init()
    with store.connect() as con, transaction(con):
        rid = ledger.find(con, prefix)
        p = _plan(con, rid)
        if p.status == RunStatus.REVERTED:
            raise RevertRefused(f"run {rid[:8]} was already reverted")
        if p.status != RunStatus.OK:
            raise RevertRefused(f"run {rid[:8]} is {p.status!r}: only a run that finished ok wrote anything to revert")
        if p.blockers:
            names = ", ".join(f"{b['id'][:8]} ({b['started_at']:%Y-%m-%d %H:%M}, {b['shared']} shared)" for b in p.blockers)
            raise RevertRefused(f"later runs changed the same moments or edges: {names}. Revert them first "
                             f"(`rem runs revert {p.blockers[0]['id'][:8]}`), newest first. Nothing was changed.")
        corrected = fetch_rows(con, """SELECT DISTINCT u.row_id FROM dream_undo u JOIN moments m ON m.id = u.row_id
                                       WHERE u.dream_run_id = $id AND u.table_name = 'moments'
                                       AND CAST(json_extract(m.metadata, '$.fixed') AS BOOLEAN)""", {"id": rid})
        if corrected:
            raise RevertRefused(f"run {rid[:8]} made moments you corrected or pinned since ({', '.join(r[0][:8] for r in corrected)}): "
                             "reverting would undo your corrections. Undo them first (`rem moments undo ID`, or "
                             "`rem moments unpin ID`). Nothing was changed.")
        if dry_run:
            return p
        params = {"id": rid}
        later = ledger.later_ok_runs(con, rid)
        # edges: added -> gone; reinforced -> previous weight/time/count; deleted -> back as they were
        edges.revert_run(con, rid)
        # rows: created -> gone; updated/deleted -> the snapshot. Entities are shared by every run that
        # names them: one this run created stays while other edges use it, and one a later run touched
        # keeps its current name and aliases.
        for table in OWNERS:
            keep = ""
            if table == "entities":
                keep = """ AND NOT (action = 'created' AND (row_id IN (SELECT source_id FROM edges)
                                                         OR row_id IN (SELECT target_id FROM edges)))
                           AND NOT (action = 'updated' AND row_id IN (
                               SELECT u.row_id FROM dream_undo u WHERE u.table_name = 'entities'
                                 AND list_contains(CAST($later AS VARCHAR[]), u.dream_run_id)))"""
            execute(con, f"""CREATE OR REPLACE TEMP TABLE _rem_undo AS SELECT row_id, action, prev_row FROM dream_undo
                         WHERE dream_run_id = $id AND table_name = '{table}' {keep}""",
                    {**params, "later": later} if table == "entities" else params)
            owner = OWNERS[table]
            owner.delete_ids(con, "SELECT row_id FROM _rem_undo")
            snaps = [json.loads(s) for (s,) in fetch_rows(con, "SELECT prev_row FROM _rem_undo WHERE action <> 'created'")]
            if snaps:
                owner.put_rows(con, arrow_rows(table, [_typed(table, s) for s in snaps]))
            execute(con, "DROP TABLE _rem_undo")
        ledger.mark_reverted(con, rid)
    return p
