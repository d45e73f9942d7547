"""The dream ledger: the one home of the ``dream_runs`` table.

Every dream attempt leaves one row — written ``running`` when the dream
starts and finished as ``ok``, ``nothing_to_do``, ``skipped``, ``failed`` or
``interrupted`` (and later perhaps ``reverted``). Everything that reads or
writes runs goes through this module: the dream itself, scheduling, the
daemon, ``rem runs``, ``rem doctor``, digests and revert.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from enum import StrEnum
from typing import Any

import pyarrow as pa

from .exceptions import NotFoundError, QueryError
from .store import (
    Connection,
    Store,
    arrow_rows,
    execute,
    fetch_arrow,
    fetch_one,
    fetch_rows,
    fetch_value,
    transaction,
    upsert,
)


class RunStatus(StrEnum):
    """What became of a dream attempt."""

    RUNNING = "running"
    OK = "ok"
    NOTHING_TO_DO = "nothing_to_do"
    SKIPPED = "skipped"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    REVERTED = "reverted"


# a window these runs covered needs no dreaming again
SUCCESSFUL = (RunStatus.OK, RunStatus.NOTHING_TO_DO)
SCHEDULED_TRIGGERS = ("scheduled", "daemon", "fleet")


def _in(statuses: tuple[RunStatus, ...]) -> str:
    return "(" + ", ".join(f"'{s.value}'" for s in statuses) + ")"


# -- writes ---------------------------------------------------------------
def write_on(con: Connection, row: dict[str, Any]) -> None:
    """Insert or update one run row inside the caller's transaction."""
    row = {**row, "status": str(row["status"])} if "status" in row else row
    upsert(con, "dream_runs", arrow_rows("dream_runs", [row]))


def write(store: Store, row: dict[str, Any]) -> None:
    """Insert or update one run row in its own transaction."""
    with store.connect() as con, transaction(con):
        write_on(con, row)


def record_skip(store: Store, reason: str, trigger: str) -> str:
    """A row for a dream that was not started (threshold, readiness); its id."""
    run_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    store.init()
    write(store, {"id": run_id, "started_at": now, "finished_at": now, "status": RunStatus.SKIPPED, "trigger": trigger,
                  "reason": reason, "duration_s": 0.0})
    return run_id


def mark_stale(store: Store) -> None:
    """Called holding the dream lock: every row still ``running`` belongs to a
    dream that died (killed, crashed, machine rebooted) and becomes ``interrupted``."""
    with store.connect() as con:
        execute(con, f"""UPDATE dream_runs SET status = '{RunStatus.INTERRUPTED.value}', finished_at = coalesce(finished_at, now()),
                        reason = coalesce(reason, 'the dreaming process ended before finishing (killed or crashed); '
                                                 'nothing it produced was written')
                        WHERE status = '{RunStatus.RUNNING.value}'""")


def mark_reverted(con: Connection, run_id: str) -> None:
    """Inside revert's transaction: the run is ``reverted`` (its window is dreamed again)."""
    raw = fetch_value(con, "SELECT metadata FROM dream_runs WHERE id = $id", {"id": run_id})
    md = json.loads(raw) if raw else {}
    md["reverted_at"] = datetime.now(UTC).isoformat()
    execute(con, f"""UPDATE dream_runs SET status = '{RunStatus.REVERTED.value}', metadata = CAST($md AS JSON),
                    reason = 'reverted by `rem runs revert` at ' || strftime(now(), '%Y-%m-%d %H:%M') WHERE id = $id""",
            {"id": run_id, "md": json.dumps(md)})


# -- reads ----------------------------------------------------------------
def last_window_end(con: Connection) -> datetime | None:
    """Where the last successful dream's window ended (None before the first)."""
    value = fetch_value(con, f"SELECT max(window_end) FROM dream_runs WHERE status IN {_in(SUCCESSFUL)}")
    return value if isinstance(value, datetime) else None


def find(con: Connection, prefix: str) -> str:
    """The full id of the one run whose id starts with ``prefix``."""
    ids = [r[0] for r in fetch_rows(con, "SELECT id FROM dream_runs WHERE starts_with(id, $p)", {"p": prefix.strip()})]
    if len(ids) != 1 or not prefix.strip():
        if not ids:
            raise NotFoundError("run", prefix, f"no run matches {prefix!r}; see `rem runs`")
        raise QueryError(f"more than one run matches {prefix!r}; give more of its id (see `rem runs`)")
    return str(ids[0])


def status_of(con: Connection, run_id: str) -> RunStatus | None:
    value = fetch_value(con, "SELECT status FROM dream_runs WHERE id = $id", {"id": run_id})
    return RunStatus(value) if value else None


def later_ok_runs(con: Connection, run_id: str) -> list[str]:
    """Ids of the ``ok`` runs that started after ``run_id``, newest first."""
    return [r[0] for r in fetch_rows(con, f"""SELECT id FROM dream_runs WHERE status = '{RunStatus.OK.value}' AND id <> $id
                                              AND started_at > (SELECT started_at FROM dream_runs WHERE id = $id)
                                              ORDER BY started_at DESC""", {"id": run_id})]


def started_at(con: Connection, run_ids: list[str]) -> dict[str, datetime]:
    if not run_ids:
        return {}
    return dict(fetch_rows(con, "SELECT id, started_at FROM dream_runs WHERE list_contains(CAST($ids AS VARCHAR[]), id)", {"ids": run_ids}))


def recent(con: Connection, limit: int, *, full_id: bool = False) -> pa.Table:
    """The latest runs, newest first, as ``rem runs`` shows them (with ``full_id``, the whole id too)."""
    full = "id AS full_id, " if full_id else ""
    return fetch_arrow(con, f"""SELECT substr(id, 1, 8) AS run, {full}started_at, status, trigger,
                                       strftime(window_start, '%Y-%m-%d %H:%M') || ' → ' || strftime(window_end, '%Y-%m-%d %H:%M') AS window,
                                       model, moments_created AS moments, fallback_moments AS fallback, edges_added AS edges,
                                       tokens_in, tokens_out, round(estimated_cost_usd, 4) AS cost_usd,
                                       round(duration_s, 1) AS secs, coalesce(error, reason) AS note
                                FROM dream_runs ORDER BY started_at DESC LIMIT {int(limit)}""")


def recent_outcomes(con: Connection, limit: int = 10) -> list[dict[str, Any]]:
    """Status, start, note and trigger of the latest runs, newest first."""
    return fetch_arrow(con, f"""SELECT status, started_at, coalesce(error, reason) AS note, trigger FROM dream_runs
                                ORDER BY started_at DESC LIMIT {int(limit)}""").to_pylist()


def last_scheduled(con: Connection, *, with_late: bool = False) -> dict[str, Any] | None:
    """The latest scheduled (timer or daemon; with ``with_late``, also a late catch-up) run: start, status,
    note, trigger, moments made and cost."""
    triggers = (*SCHEDULED_TRIGGERS, "late") if with_late else tuple(SCHEDULED_TRIGGERS)
    rows = fetch_arrow(con, f"""SELECT started_at, status, coalesce(error, reason) AS note, trigger, moments_created,
                                       estimated_cost_usd FROM dream_runs
                                WHERE trigger IN {triggers!r} ORDER BY started_at DESC LIMIT 1""").to_pylist()
    return rows[0] if rows else None


def brief(con: Connection, run_id: str) -> dict[str, Any] | None:
    """A run's id, start, status and model (None when there is no such run)."""
    rows = fetch_arrow(con, "SELECT id, started_at, status, model FROM dream_runs WHERE id = $r", {"r": run_id}).to_pylist()
    return rows[0] if rows else None


def cost_of_runs(con: Connection, run_ids: list[str]) -> dict[str, Any]:
    """How many of ``run_ids`` exist, what they cost and the edges they added and reinforced."""
    row = fetch_arrow(con, """SELECT count(*) AS n, coalesce(sum(estimated_cost_usd), 0) AS cost,
                                     coalesce(sum(edges_added), 0) AS added, coalesce(sum(edges_reinforced), 0) AS reinforced
                              FROM dream_runs WHERE list_contains(CAST($ids AS VARCHAR[]), id)""", {"ids": list(run_ids)}).to_pylist()
    return row[0]


@dataclass
class RunDetail:
    """One run as ``rem runs show`` and its digest present it."""

    row: dict[str, Any]
    moments: list[dict[str, Any]] = field(default_factory=list)
    edges: list[dict[str, Any]] = field(default_factory=list)  # action, edge_type, n
    summary: str | None = None


def detail(con: Connection, run_id: str, *, with_moments: bool = True) -> RunDetail:
    """The ledger row of ``run_id`` with the moments it wrote (unless not ``with_moments``), its edge changes
    by action and type, and its period summary."""
    from . import moments

    rows = fetch_arrow(con, "SELECT * EXCLUDE (metadata) FROM dream_runs WHERE id = $id", {"id": run_id}).to_pylist()
    if not rows:
        raise NotFoundError("run", run_id, f"no run {run_id!r}; see `rem runs`")
    edges = fetch_arrow(con, """SELECT action, edge_type, count(*) AS n FROM dream_edge_log WHERE dream_run_id = $id
                                GROUP BY ALL ORDER BY action, n DESC, edge_type""", {"id": run_id}).to_pylist()
    summary = fetch_value(con, """SELECT content FROM resources WHERE resource_type = 'summary'
                                  AND metadata->>'dream_run_id' = $id""", {"id": run_id})
    return RunDetail(rows[0], moments.of_run(con, run_id) if with_moments else [], edges, summary)


# -- what has been dreamed ---------------------------------------------------------
_UNDREAMED_SQL = f"""
WITH items AS (
    SELECT created_at, ingested_at FROM resources
     WHERE resource_type <> 'summary' AND ingested_at IS NOT NULL AND created_at < $before
    UNION ALL
    SELECT created_at, ingested_at FROM messages WHERE ingested_at IS NOT NULL AND created_at < $before
), runs AS (
    SELECT window_start, window_end, started_at FROM dream_runs WHERE status IN {_in(SUCCESSFUL)}
)
SELECT time_bucket(INTERVAL 15 MINUTE, i.created_at) AS bucket, count(*) AS n
  FROM items i
 WHERE NOT EXISTS (SELECT 1 FROM runs r
                    WHERE i.created_at >= r.window_start AND i.created_at < r.window_end
                      AND r.started_at >= i.ingested_at)
 GROUP BY ALL"""


def undreamed_days(con: Connection, before: datetime, tz: tzinfo | None = None) -> list[tuple[date, int]]:
    """Local days (in ``tz``, default the machine's; newest first) holding activity from before
    ``before`` that no successful dream has seen: an item is dreamed when a
    successful run's window holds its time and the run started after REM
    stored (or last changed) it. Activity that arrived late — an export, a
    pull, notes synced later, with old timestamps — shows up here until a
    dream covers its day. Returns (day, items) pairs."""
    days: dict[date, int] = {}
    for bucket, n in fetch_rows(con, _UNDREAMED_SQL, {"before": before}):  # 15-minute buckets fit every UTC offset
        d = bucket.astimezone(tz).date()
        days[d] = days.get(d, 0) + int(n)
    return sorted(days.items(), reverse=True)


def new_since_last_dream(con: Connection) -> int:
    """Resources and sessions REM stored (or changed) since the last successful
    dream started, whatever their timestamps say (rows stored before REM
    tracked this count when they are newer than that dream's window)."""
    row = fetch_one(con, f"""SELECT max(started_at), max(window_end) FROM dream_runs WHERE status IN {_in(SUCCESSFUL)}""")
    started, end = (row or (None, None))
    n = fetch_value(con, """
        SELECT (SELECT count(*) FROM resources WHERE resource_type <> 'summary' AND
                  ($s IS NULL OR ingested_at > $s OR (ingested_at IS NULL AND created_at > $e)))
             + (SELECT count(*) FROM sessions WHERE
                  ($s IS NULL OR ingested_at > $s OR (ingested_at IS NULL AND created_at > $e)))""",
                    {"s": started, "e": end})
    return int(n or 0)
