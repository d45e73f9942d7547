"""Corrections: the owner's edits to moments, which later dreams respect.

Every edit — rename; change tags, people, emotions, type or outcome; retime;
merge two moments; split one at a time; delete; pin — is one row of
``moment_edits`` (this module owns the table) holding the moments as they
were before and the ids it left, so it can be undone and shown as the
moment's history. An edited or pinned moment is *fixed ground*
(``metadata.fixed``): a later dream never overwrites, supersedes or deletes
it, and drops the moments it would make of activity a fixed moment (or a
deleted one) already covers (:func:`fixed_ground`, used by the dream's
persist step). Tags and people a correction introduces become entities, so
later dreams pass them to the model as known spellings.

Each edit runs in one transaction; the moment's edges to its topics, people
and sources are rebuilt from what it says after the edit.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from . import edges, entities, moments, schema
from .days import local_zone
from .exceptions import CorrectionError, NotFoundError, RemError
from .ids import stable_id
from .links import MOMENT_EDGE_TYPES, edge_row, links_of_all
from .store import (
    Connection,
    Store,
    execute,
    fetch_arrow,
    fetch_rows,
    fetch_value,
    registered,
    transaction,
)
from .understand.describe import TYPES
from .values import parse_time

KINDS = ("edit", "merge", "split", "delete", "pin", "unpin")
FIELDS = schema.field_names("moments", "edit")  # what an edit may change (the schema's ``edit`` role)
_EDIT = {f.name: f["edit"] for f in schema.fields("moments", "edit")}
_LISTS = tuple(n for n, how in _EDIT.items() if how in ("list", "lower_list"))
MAX_EVENT_CHARS = 500
MAX_MOMENT = timedelta(days=7)  # a retimed moment lasts at most this long


@dataclass
class Edit:
    id: str
    kind: str
    moment_ids: list[str]
    summary: str


# -- reading ---------------------------------------------------------------------------------------------------
def resolve(con: Connection, ref: str) -> str:
    """A moment's id from its id or a unique prefix (at least 4 characters)."""
    ref = ref.strip()
    if len(ref) < 4:
        raise CorrectionError(f"{ref!r}: give a moment id or at least its first 4 characters (see rem moments --json)")
    rows = fetch_rows(con, """SELECT id, name, start_time FROM moments WHERE id = $r OR starts_with(id, $r)
                              ORDER BY start_time LIMIT 6""", {"r": ref})
    if not rows:
        raise NotFoundError("moment", ref, f"no moment {ref!r} (see rem moments for ids)")
    if len(rows) > 1 and not any(r[0] == ref for r in rows):
        shown = "; ".join(f"{r[0][:12]} {r[1]!r} ({r[2].astimezone():%a %d %b %H:%M})" for r in rows[:5])
        raise CorrectionError(f"{ref!r} names more than one moment: {shown}{' …' if len(rows) > 5 else ''}; "
                              "give more of its id")
    return ref if any(r[0] == ref for r in rows) else rows[0][0]


def _rows(con: Connection, ids: list[str]) -> list[dict[str, Any]]:
    with registered(con, "_rem_edit_ids", pa.table({"id": pa.array(ids, pa.string())})):
        return fetch_arrow(con, "SELECT * FROM moments WHERE id IN (SELECT id FROM _rem_edit_ids) ORDER BY start_time").to_pylist()


def history(store: Store, ref: str) -> list[dict[str, Any]]:
    """The edits that touched a moment, oldest first."""
    with store.read(sandbox=False) as con:
        mid = _resolve_any(con, ref)
        return fetch_arrow(con, """SELECT id, kind, made_at, summary, undone_at FROM moment_edits
                                   WHERE list_contains(moment_ids, $m) ORDER BY made_at, id""", {"m": mid}).to_pylist()


def _resolve_any(con: Connection, ref: str) -> str:
    """A moment id, also of a moment that an edit deleted or merged away."""
    try:
        return resolve(con, ref)
    except CorrectionError:
        row = fetch_rows(con, """SELECT m FROM (SELECT DISTINCT unnest(moment_ids) AS m FROM moment_edits)
                                 WHERE starts_with(m, $r) LIMIT 2""", {"r": ref.strip()})
        if len(row) == 1:
            return str(row[0][0])
        raise


def fixed_ground(con: Connection) -> tuple[set[str], set[str]]:
    """(ids of fixed moments, the activity items fixed or deleted moments cover):
    what a dream must leave alone."""
    fixed = {r[0] for r in fetch_rows(con, "SELECT id FROM moments WHERE CAST(json_extract(metadata, '$.fixed') AS BOOLEAN)")}
    items = {r[0] for r in fetch_rows(con, """
        SELECT DISTINCT unnest(list_concat(coalesce(resource_ids, []), coalesce(message_ids, []))) FROM moments
        WHERE CAST(json_extract(metadata, '$.fixed') AS BOOLEAN)""")}
    for (before,) in fetch_rows(con, "SELECT before FROM moment_edits WHERE kind = 'delete' AND undone_at IS NULL"):
        for m in json.loads(before or "[]"):
            items.update(m.get("resource_ids") or [])
            items.update(m.get("message_ids") or [])
    return fixed, items


# -- writing ---------------------------------------------------------------------------------------------------
def _plain(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat()
    return v


def _snapshot(rows: list[dict[str, Any]]) -> str:
    return json.dumps([{k: _plain(v) for k, v in r.items()} for r in rows], ensure_ascii=False, sort_keys=True, default=str)


def _revive(rows_json: str) -> list[dict[str, Any]]:
    out = []
    for r in json.loads(rows_json or "[]"):
        for k in ("start_time", "end_time", "window_start", "window_end", "created_at", "updated_at"):
            if r.get(k):
                r[k] = datetime.fromisoformat(r[k])
        if isinstance(r.get("metadata"), str):
            r["metadata"] = json.loads(r["metadata"])
        out.append(r)
    return out


def _fix(row: dict[str, Any], *, pinned: bool | None = None) -> dict[str, Any]:
    md = row.get("metadata")
    md = json.loads(md) if isinstance(md, str) else dict(md or {})
    md["fixed"] = True
    if pinned is not None:
        md["pinned"] = pinned
    return {**row, "metadata": md, "updated_at": datetime.now(UTC)}


@dataclass
class _Journal:
    """What an edit changes in the graph, kept with it so undo restores it exactly: the edges touching the
    edited moments as they were, the entity rows the edit upserted as they were (None: it created them),
    and the keys of the edges it inserted elsewhere (a new ``related_to`` between topics)."""

    edges: list[dict[str, Any]] = field(default_factory=list)
    entities: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    created_edges: list[tuple[str, str, str]] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps({"edges": [{k: _plain(v) for k, v in e.items()} for e in self.edges],
                           "entities": {k: ({c: _plain(x) for c, x in r.items()} if r else None)
                                        for k, r in self.entities.items()},
                           "created_edges": self.created_edges}, ensure_ascii=False, sort_keys=True, default=str)


def _journal(con: Connection, moment_ids: list[str]) -> _Journal:
    """The graph around ``moment_ids`` before an edit."""
    with registered(con, "_rem_journal_ids", pa.table({"id": pa.array(moment_ids, pa.string())})) as v:
        around = fetch_arrow(con, f"""SELECT * FROM edges WHERE source_id IN (SELECT id FROM {v})
                                      OR target_id IN (SELECT id FROM {v})""").to_pylist()
    return _Journal(around)


def _write_moments(con: Connection, rows: list[dict[str, Any]], journal: _Journal | None = None) -> None:
    """Replace these moments' rows and rebuild their edges and entities."""
    if not rows:
        return
    ids = [r["id"] for r in rows]
    _put_moments(con, rows)
    _rebuild_edges(con, ids, rows, journal)


def _put_moments(con: Connection, rows: list[dict[str, Any]]) -> None:
    """These moments' rows, exactly as given."""
    moments.put(con, rows)


def _delete_moments(con: Connection, ids: list[str]) -> None:
    moments.delete(con, ids)


def _rebuild_edges(con: Connection, ids: list[str], rows: list[dict[str, Any]], journal: _Journal | None = None) -> None:
    """The moments' links, from what they say now (:func:`rem.links.links_of`, the dream's rule)."""
    now = datetime.now(UTC)
    with registered(con, "_rem_fixed_ids", pa.table({"id": pa.array(ids, pa.string())})) as v:
        edges.delete_links_of(con, v, MOMENT_EDGE_TYPES)
    ents, links = links_of_all(rows, now)
    if ents:
        if journal is not None:
            with registered(con, "_rem_ent_ids", pa.table({"id": pa.array([e["id"] for e in ents], pa.string())})) as v:
                had = {r["id"]: r for r in fetch_arrow(con, f"SELECT * FROM entities WHERE id IN (SELECT id FROM {v})").to_pylist()}
            for e in ents:
                journal.entities.setdefault(e["id"], had.get(e["id"]))
        entities.upsert(con, ents)
    if links:
        new = [edge_row(link, now, generated_by="correction") for _, link in links]
        if journal is not None:
            journal.created_edges += edges.missing_keys(con, [(e["source_id"], e["target_id"], e["edge_type"]) for e in new])
        edges.insert_missing(con, new)


def relink(con: Connection, ids: list[str]) -> None:
    """Make the moments' links (topics, people, sources) from what they say now, as a dream does."""
    _rebuild_edges(con, ids, _rows(con, ids))


def _log(con: Connection, kind: str, moment_ids: list[str], before: list[dict[str, Any]], after_ids: list[str],
         summary: str, journal: _Journal | None = None) -> Edit:
    eid = str(uuid.uuid4())
    execute(con, """INSERT INTO moment_edits (id, kind, moment_ids, made_at, before, after_ids, summary, graph_before)
                    VALUES ($id, $k, $m, now(), CAST($b AS JSON), $a, $s, CAST($g AS JSON))""",
            {"id": eid, "k": kind, "m": sorted(set(moment_ids) | set(after_ids)), "b": _snapshot(before), "a": after_ids,
             "s": summary, "g": journal.to_json() if journal is not None else None})
    return Edit(eid, kind, after_ids or moment_ids, summary)


def _restore(con: Connection, rows: list[dict[str, Any]], graph: dict[str, Any]) -> None:
    """Undo exactly: the moments' rows, the edges that touched them (weights, times, run ids as they were),
    the entity rows the edit changed; the edges and entities it created are gone."""
    ids = [r["id"] for r in rows]
    with registered(con, "_rem_undo_ids", pa.table({"id": pa.array(ids, pa.string())})) as v:
        edges.delete_touching(con, v)
    edges.delete_keys(con, [tuple(c) for c in graph.get("created_edges") or []])  # type: ignore[misc]
    _put_moments(con, rows)
    edges.insert_rows(con, [{k: (datetime.fromisoformat(v) if k in ("created_at", "reinforced_at") and v else v)
                             for k, v in e.items()} for e in graph.get("edges") or []])
    for eid, row in (graph.get("entities") or {}).items():
        if row is None:
            entities.delete_unused(con, eid)
        else:
            entities.put_rows(con, [{k: (datetime.fromisoformat(v) if k in ("created_at", "updated_at") and v else v)
                                     for k, v in row.items()}])


def _list(value: Any, what: str) -> list[str]:
    items = value.split(",") if isinstance(value, str) else list(value)
    out = list(dict.fromkeys(" ".join(str(x).split()) for x in items if str(x).strip()))
    if any(len(x) > 200 for x in out):
        raise CorrectionError(f"{what}: each entry must be under 200 characters")
    return out


def edit(store: Store, ref: str, **changes: Any) -> Edit:
    """Change fields of one moment (:data:`FIELDS`: name, tags, people, emotion_tags, moment_type, outcome,
    summary, start_time, end_time, events …; None = unchanged). How each value is read is its ``edit`` role."""
    changes = {k: v for k, v in changes.items() if v is not None}
    bad = set(changes) - set(FIELDS)
    if bad:
        raise CorrectionError(f"cannot change {', '.join(sorted(bad))}; the fields are {', '.join(FIELDS)}")
    if not changes:
        options = ", ".join(f["option"] for f in schema.fields("moments", "edit") if f.get("option"))
        raise CorrectionError(f"nothing to change: give {options}, --event N TEXT or --drop-event N")
    with store.connect() as con, transaction(con):
        mid = resolve(con, ref)
        (row,) = _rows(con, [mid])
        new = dict(row)
        for k, v in changes.items():
            how = _EDIT[k]
            if how == "events":
                new[k] = _events(v)
            elif how in ("list", "lower_list"):
                new[k] = [x.lower() for x in _list(v, k)] if how == "lower_list" else _list(v, k)
            elif how == "time":
                new[k] = v if isinstance(v, datetime) else parse_time(v, source=f"--{k.split('_')[0]}", field="value")
            else:
                text = " ".join(str(v).split())
                if how == "name" and not text:
                    raise CorrectionError("a moment's name cannot be empty")
                if how == "type" and text not in _TYPES:
                    raise CorrectionError(f"type {text!r}: use one of {', '.join(_TYPES)}")
                new[k] = text or None
        if new["end_time"] < new["start_time"]:
            raise CorrectionError("the moment would end before it starts")
        if new["end_time"] - new["start_time"] > MAX_MOMENT:
            raise CorrectionError(f"the moment would last {(new['end_time'] - new['start_time']).days} days; a moment lasts "
                                  "at most 7 days: give times near its activity, or split it")
        what = ", ".join(f"{k} → {_show(new[k])}" for k in changes)
        j = _journal(con, [mid])
        _write_moments(con, [_fix(new)], j)
        return _log(con, "edit", [mid], [row], [mid], what, j)


def _events(value: Any) -> list[dict[str, Any]]:
    """A moment's events as given by an edit: a list of event objects, each with a text."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise CorrectionError("events: give a JSON list of events") from None
    if not isinstance(value, list) or not all(isinstance(e, dict) for e in value):
        raise CorrectionError("events: give a list of events (objects with a text)")
    out = []
    for e in value:
        text = " ".join(str(e.get("text") or "").split())
        if not text:
            raise CorrectionError("an event needs a text (delete it instead)")
        if len(text) > MAX_EVENT_CHARS:
            raise CorrectionError(f"an event's text must be under {MAX_EVENT_CHARS} characters")
        out.append({**e, "text": text})
    return out


def _stored_events(row: dict[str, Any]) -> list[dict[str, Any]]:
    v = row.get("events")
    if isinstance(v, str):
        try:
            v = json.loads(v)
        except ValueError:
            v = []
    return [dict(e) for e in v if isinstance(e, dict)] if isinstance(v, list) else []


def edit_events(store: Store, ref: str, *, texts: dict[int, str] | None = None, drop: list[int] | None = None) -> Edit:
    """Correct a moment's events by their position (1 = the first, as ``rem moments`` lists them): give
    event ``n`` a new text, or delete it. The event keeps its date, actors and source."""
    texts, drop = dict(texts or {}), sorted(set(drop or []))
    with store.read() as con:
        (row,) = _rows(con, [resolve(con, ref)])
    events = _stored_events(row)
    for n in [*texts, *drop]:
        if not 1 <= n <= len(events):
            raise CorrectionError(f"event {n}: the moment has {len(events)} event(s), numbered from 1"
                                  if events else "the moment has no events")
    if set(texts) & set(drop):
        raise CorrectionError("an event cannot be changed and deleted at once")
    for n, text in texts.items():
        events[n - 1] = {**events[n - 1], "text": text, "corrected": True}
    events = [e for i, e in enumerate(events, start=1) if i not in drop]
    return edit(store, row["id"], events=events)


def _show(v: Any) -> str:
    if isinstance(v, list) and v and isinstance(v[0], dict):
        return "; ".join(str(e.get("text", "")) for e in v)
    if isinstance(v, list):
        return ", ".join(v) or "(none)"
    if isinstance(v, datetime):
        return v.astimezone().strftime("%Y-%m-%d %H:%M")
    return str(v)


_TYPES = (*TYPES, "infrastructure")  # the extraction's types, and one a model may give


def merge(store: Store, first: str, second: str) -> Edit:
    """One moment from two: the first keeps its id and name, gains the
    second's sources, tags and people, and spans both; the second goes."""
    with store.connect() as con, transaction(con):
        a, b = resolve(con, first), resolve(con, second)
        if a == b:
            raise CorrectionError("give two different moments to merge")
        ra, rb = (next(r for r in _rows(con, [a, b]) if r["id"] == x) for x in (a, b))
        new = dict(ra)
        for k in (*_LISTS, "resource_ids", "session_ids", "message_ids", "segment_keys"):
            new[k] = list(dict.fromkeys([*(ra.get(k) or []), *(rb.get(k) or [])]))
        new["start_time"] = min(ra["start_time"], rb["start_time"])
        new["end_time"] = max(ra["end_time"], rb["end_time"])
        if rb.get("summary") and rb["summary"] not in (ra.get("summary") or ""):
            new["summary"] = " ".join(x for x in (ra.get("summary"), rb["summary"]) if x)
        j = _journal(con, [a, b])
        _delete_moments(con, [b])
        _write_moments(con, [_fix(new)], j)
        return _log(con, "merge", [a, b], [ra, rb], [a], f"merged {rb['name']!r} into {ra['name']!r}", j)


_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$")


def split_time(at: str, start: datetime, end: datetime) -> datetime:
    """Where to split: a full date and time, or a clock time (``15:30``) meaning that time on the moment's own
    local day (the day it ends on, for a moment that runs past midnight, when that is the one inside it)."""
    m = _CLOCK.match(at or "")
    if not m:
        try:
            return parse_time(at, source="--at", field="value")
        except RemError:
            raise CorrectionError(f"--at {str(at)[:40]!r}: give a time like 15:30 (on the moment's day) "
                                  "or a date and time like 2026-11-12T15:30") from None
    h, mi, sec = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    if h > 23 or mi > 59 or sec > 59:
        raise CorrectionError(f"--at {at.strip()!r} is not a time of day (00:00 to 23:59)")
    tz = local_zone()
    candidates = []
    for day in dict.fromkeys((start.astimezone(tz).date(), end.astimezone(tz).date())):
        candidates.append(datetime(day.year, day.month, day.day, h, mi, sec, tzinfo=tz).astimezone(UTC))
    inside = [c for c in candidates if start < c < end]
    return inside[0] if inside else candidates[0]


def split(store: Store, ref: str, at: str | datetime) -> Edit:
    """Two moments from one, at a time inside it: sources before ``at`` stay,
    those from ``at`` on go to a new moment (named after the first, "(cont.)")."""
    with store.connect() as con, transaction(con):
        mid = resolve(con, ref)
        (row,) = _rows(con, [mid])
        t = at if isinstance(at, datetime) else split_time(at, row["start_time"], row["end_time"])
        if not row["start_time"] < t < row["end_time"]:
            raise CorrectionError(f"{_show(t)} is not inside the moment ({_show(row['start_time'])} – {_show(row['end_time'])})")
        times = _item_times(con, row)
        before = {k: [i for i in (row.get(k) or []) if times.get(i, row["start_time"]) < t]
                  for k in ("resource_ids", "message_ids")}
        after = {k: [i for i in (row.get(k) or []) if times.get(i, row["start_time"]) >= t]
                 for k in ("resource_ids", "message_ids")}
        first = {**row, **before, "end_time": t}
        second_id = stable_id("moment-split", mid, t.isoformat())
        second = {**row, **after, "id": second_id, "start_time": t, "name": f"{row['name']} (cont.)",
                  "segment_keys": [f"{k}+split" for k in row.get("segment_keys") or []],
                  "session_ids": _sessions_of(con, after["message_ids"]) or row.get("session_ids"),
                  "created_at": datetime.now(UTC)}
        first["session_ids"] = _sessions_of(con, before["message_ids"]) or row.get("session_ids")
        j = _journal(con, [mid, second_id])
        _write_moments(con, [_fix(first), _fix(second)], j)
        return _log(con, "split", [mid], [row], [mid, second_id], f"split at {_show(t)}", j)


def _item_times(con: Connection, row: dict[str, Any]) -> dict[str, datetime]:
    ids = [*(row.get("resource_ids") or []), *(row.get("message_ids") or [])]
    if not ids:
        return {}
    with registered(con, "_rem_item_ids", pa.table({"id": pa.array(ids, pa.string())})) as v:
        rows = fetch_rows(con, f"""SELECT id, created_at FROM resources WHERE id IN (SELECT id FROM {v})
                                   UNION ALL SELECT id, created_at FROM messages WHERE id IN (SELECT id FROM {v})""")
    return {r[0]: r[1] for r in rows}


def _sessions_of(con: Connection, message_ids: list[str]) -> list[str]:
    if not message_ids:
        return []
    with registered(con, "_rem_msg_ids", pa.table({"id": pa.array(message_ids, pa.string())})) as v:
        return [r[0] for r in fetch_rows(con, f"SELECT DISTINCT session_id FROM messages WHERE id IN (SELECT id FROM {v}) ORDER BY 1")]


def delete(store: Store, ref: str) -> Edit:
    """Remove a moment; later dreams will not make it again from the same activity."""
    with store.connect() as con, transaction(con):
        mid = resolve(con, ref)
        (row,) = _rows(con, [mid])
        j = _journal(con, [mid])
        _delete_moments(con, [mid])
        return _log(con, "delete", [mid], [row], [], f"deleted {row['name']!r}", j)


def pin(store: Store, ref: str, pinned: bool = True) -> Edit:
    """Keep a moment as it is: later dreams leave it alone (``pinned=False`` lifts
    the pin; a moment with other corrections stays fixed)."""
    with store.connect() as con, transaction(con):
        mid = resolve(con, ref)
        (row,) = _rows(con, [mid])
        new = _fix(row, pinned=pinned)
        if not pinned and not fetch_value(con, """SELECT count(*) FROM moment_edits WHERE list_contains(moment_ids, $m)
                                                   AND kind NOT IN ('pin', 'unpin') AND undone_at IS NULL""", {"m": mid}):
            new["metadata"] = {k: v for k, v in new["metadata"].items() if k not in ("fixed", "pinned")}
        j = _journal(con, [mid])
        _write_moments(con, [new], j)
        return _log(con, "pin" if pinned else "unpin", [mid], [row], [mid], "pinned" if pinned else "unpinned", j)


def undo(store: Store, ref: str) -> Edit:
    """Take back the latest edit of a moment (or the edit with this id): the
    moments it changed, merged, split or deleted are as they were before it."""
    with store.connect() as con, transaction(con):
        row = fetch_rows(con, """SELECT id, kind, before, after_ids, summary, graph_before FROM moment_edits WHERE undone_at IS NULL
                                 AND (id = $r OR starts_with(id, $r) OR list_contains(moment_ids, $r)
                                      OR len(list_filter(moment_ids, lambda m: starts_with(m, $r))) > 0)
                                 ORDER BY made_at DESC, id DESC LIMIT 1""", {"r": ref.strip()})
        if len(ref.strip()) < 4 or not row:
            raise CorrectionError(f"no edit to undo for {ref!r} (see rem moments history ID)")
        eid, kind, before, after_ids, summary, graph_before = row[0]
        later = fetch_value(con, """SELECT count(*) FROM moment_edits e, (SELECT made_at FROM moment_edits WHERE id = $e) x
                                    WHERE e.undone_at IS NULL AND e.made_at > x.made_at AND len(list_intersect(e.moment_ids,
                                    (SELECT moment_ids FROM moment_edits WHERE id = $e))) > 0""", {"e": eid})
        if later:
            raise CorrectionError("later edits touched the same moments: undo those first (newest first)")
        _delete_moments(con, list(after_ids or []))
        if graph_before:
            _restore(con, _revive(before), json.loads(graph_before))
        else:  # an edit made before REM kept its graph: its moments' links are rebuilt
            _write_moments(con, _revive(before))
        execute(con, "UPDATE moment_edits SET undone_at = now() WHERE id = $e", {"e": eid})
        return Edit(eid, kind, [r["id"] for r in _revive(before)], f"undid: {summary}")
