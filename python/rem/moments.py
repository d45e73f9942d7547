"""The owner of ``moments``: every write of them is here, and reading them back
(the journal query and the one moment renderer).

The dream upserts (:func:`upsert`), supersedes (:func:`delete`, logged for
its revert) and lets late items join a corrected moment (:func:`add_items`);
corrections replace rows (:func:`put`) and delete; review accepts
(:func:`accept`); a dream's revert deletes and puts back rows by id.

Every place that shows a moment to a person — ``rem moments``, the summary a
dream prints, ``rem runs show``, the Markdown digests — renders it here, as
plain text lines or as Markdown, from the same fields.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pyarrow as pa

from . import edges, schema
from .output import safe
from .store.rows import UpsertCounts, arrow_rows, replace
from .store.rows import upsert as rows_upsert
from .store.sql import Connection, execute, fetch_arrow, registered

COLUMNS = schema.field_names("moments", "journal")  # what is read back (the schema's ``journal`` role)
_SELECT = ", ".join(COLUMNS)

PROVENANCE = {
    "model": "",
    "fallback": "named from its sources",
}


def between(con: Connection, start: datetime, end: datetime | None = None, *, tags: tuple[str, ...] = (),
            moment_type: str | None = None, limit: int = 200) -> pa.Table:
    """Moments starting in ``[start, end)`` (no end: up to now and beyond),
    optionally with every tag of ``tags`` and of one type, in time order."""
    where = ["start_time >= $start"]
    params: dict[str, Any] = {"start": start}
    if end is not None:
        where.append("start_time < $end")
        params["end"] = end
    for i, t in enumerate(tags):
        params[f"t{i}"] = t.lower()
        where.append(f"list_contains(tags, $t{i})")
    if moment_type:
        params["mtype"] = moment_type
        where.append("moment_type = $mtype")
    return fetch_arrow(con, f"""SELECT {_SELECT} FROM moments WHERE {' AND '.join(where)}
                                ORDER BY start_time, id LIMIT {int(limit)}""", params)


def of_run(con: Connection, run_id: str) -> list[dict[str, Any]]:
    """The moments one dream run wrote, in time order."""
    return fetch_arrow(con, f"SELECT {_SELECT} FROM moments WHERE dream_run_id = $id ORDER BY start_time, id",
                       {"id": run_id}).to_pylist()


# -- rendering ----------------------------------------------------------------
_ALIAS = {"start_time": "start", "end_time": "end"}  # a stored row's name -> a resolved Moment's


def _get(m: Mapping[str, Any] | Any, name: str) -> Any:
    """A field of a moment row (dict) or of a resolved :class:`~rem.dream.resolve.Moment`."""
    if type(m) is dict or isinstance(m, Mapping):  # (a row is a dict: no ABC check for it)
        return m.get(name)
    return getattr(m, _ALIAS.get(name, name), None)


def one_line(text: Any) -> str:
    return " ".join(str(text or "").split())


_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<>!|~&#"})
_MD_MARKUP = re.compile("[" + re.escape("\\`*_[]<>!|~&#") + "]")  # a character of _MD_SPECIAL: most text holds none


def md(text: Any) -> str:
    """Activity or model text as inline Markdown that renders as the same
    text: one line, control characters shown as escapes, and every character
    that could start markup (links, images, raw HTML, emphasis, tables)
    backslash-escaped — so ``![x](https://…)``, ``<script>`` or
    ``[a](javascript:…)`` from a commit or an answer stay text."""
    t = safe(one_line(text))
    return t.translate(_MD_SPECIAL) if _MD_MARKUP.search(t) else t


def provenance(m: Mapping[str, Any] | Any) -> str:
    """"" for a moment the model described, "pending review" for one waiting in the inbox, "corrected" for one
    the owner corrected, else how it was made."""
    meta = _get(m, "metadata")
    if isinstance(meta, str):
        try:
            meta = json.loads(meta)
        except ValueError:
            meta = None
    if isinstance(meta, dict) and meta.get("pending"):
        return "pending review"
    if isinstance(meta, dict) and meta.get("fixed"):
        return "corrected"
    how = str(_get(m, "generated_by") or "")
    return PROVENANCE.get(how, how)


def fields(m: Mapping[str, Any] | Any) -> list[tuple[str, str]]:
    """The labelled fields of a moment that have a value, in display order."""
    out = []
    for label, key in ((f["label"], f.name) for f in schema.fields("moments", "show")):
        v = _get(m, key)
        text = ", ".join(v) if isinstance(v, list | tuple) else one_line(v)
        if text:
            out.append((label, text))
    return out


def events_of(m: Mapping[str, Any] | Any) -> list[dict[str, Any]]:
    """A moment's events (stored as JSON text, or a list)."""
    v = _get(m, "events")
    if isinstance(v, str):
        try:
            v = json.loads(v)
        except ValueError:
            return []
    return [e for e in v if isinstance(e, dict) and e.get("text")] if isinstance(v, list) else []


def event_line(e: Mapping[str, Any]) -> str:
    """``7 May 2023 · Caroline went to a support group  (yesterday)``: when, what, and the words the date came from."""
    when = ""
    if e.get("date"):
        when = str(e["date"]) + (f" – {e['date_end']}" if e.get("date_end") else "")
    said = f"  (“{one_line(e['when'])}”)" if e.get("when") else ""
    return f"{when + ' · ' if when else ''}{one_line(e.get('text'))}{said}"


def span(m: Mapping[str, Any] | Any, *, with_day: bool = False) -> str:
    """``09:00–10:30`` (local time), or ``Thu 12 Nov 09:00–10:30``."""
    st, en = _get(m, "start_time").astimezone(), _get(m, "end_time").astimezone()
    return (f"{st:%a %d %b} " if with_day else "") + f"{st:%H:%M}–{en:%H:%M}"


def as_text(m: Mapping[str, Any] | Any, *, detail: bool = True, with_day: bool = False) -> list[str]:
    """Plain text. With ``detail`` (the journal): ``Moment: name (09:00–10:30)``
    and one ``- Label: value`` line per field; without: one line, time first."""
    how = f"  [{provenance(m)}]" if provenance(m) else ""
    name = one_line(_get(m, "name"))
    if not detail:
        return [f"{span(m, with_day=with_day)}  {name}{how}"]
    events = events_of(m)
    mid = str(_get(m, "id") or "")[:8]
    return [f"Moment: {name} ({span(m, with_day=with_day)}){how}" + (f"  · {mid}" if mid else ""),
            *(f"- {label}: {value}" for label, value in fields(m)),
            *(["- Events:", *(f"    · {event_line(e)}" for e in events)] if events else [])]


def as_markdown(m: Mapping[str, Any] | Any, *, with_day: bool = False) -> list[str]:
    """Markdown: a level-3 heading, the fields as a list, the summary as a paragraph."""
    how = provenance(m)
    out = [f"### {span(m, with_day=with_day)} · {md(_get(m, 'name'))}" + (f" *({md(how)})*" if how else ""), ""]
    rest = fields(m)
    out += [f"- **{label}:** {md(value)}" for label, value in rest if label != "Summary"]
    events = events_of(m)
    if events:
        out += ["- **Events:**", *(f"  - {md(event_line(e))}" for e in events)]
    summary = dict(rest).get("Summary")
    if summary:
        out += ["", md(summary)]
    return [*out, ""]


# -- one moment, as every front end shows it (rem moments show, the web view, MCP) -----------------------
def one(con: Connection, moment_id: str) -> dict[str, Any] | None:
    """The stored row of moment ``moment_id`` (a full id), or None."""
    rows = fetch_arrow(con, "SELECT * FROM moments WHERE id = $id", {"id": moment_id}).to_pylist()
    return rows[0] if rows else None


def sources(con: Connection, m: Mapping[str, Any], *, max_text: int = 4000, limit: int = 500) -> list[dict[str, Any]]:
    """What moment ``m`` was made from, in time order: each message (who wrote it, its session) and resource
    (note, document, commit), its text shortened to ``max_text`` characters."""
    return fetch_arrow(con, f"""
        SELECT 'message' AS kind, m.id, m.created_at AS time, coalesce(m.speaker, m.role) AS who,
               s.name AS title, left(m.content, {int(max_text)}) AS text
        FROM messages m LEFT JOIN sessions s ON s.id = m.session_id WHERE list_contains($msgs, m.id)
        UNION ALL
        SELECT resource_type, id, created_at, NULL, name, left(content, {int(max_text)}) FROM resources
        WHERE list_contains($res, id)
        ORDER BY time, id LIMIT {int(limit)}""",
                       {"msgs": list(_get(m, "message_ids") or []), "res": list(_get(m, "resource_ids") or [])}).to_pylist()


def links(con: Connection, moment_id: str) -> list[dict[str, Any]]:
    """The topics and people moment ``moment_id`` links to: edge type, entity kind, name and id."""
    return fetch_arrow(con, """SELECT e.edge_type, n.kind, n.name, n.id FROM edges e JOIN entities n ON n.id = e.target_id
                               WHERE e.source_id = $id ORDER BY e.edge_type, n.name""", {"id": moment_id}).to_pylist()


def neighbours(con: Connection, m: Mapping[str, Any], start: datetime, end: datetime
               ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The moments just before and just after ``m`` among those starting in ``[start, end)`` (its day)."""
    mid = _get(m, "id")
    near = fetch_arrow(con, """SELECT id, name, start_time FROM moments
                               WHERE start_time >= $a AND start_time < $b AND id <> $id ORDER BY start_time, id""",
                       {"a": start, "b": end, "id": mid}).to_pylist()
    here = (_get(m, "start_time"), mid)
    before = [x for x in near if (x["start_time"], x["id"]) < here]
    after = [x for x in near if (x["start_time"], x["id"]) > here]
    return (before[-1] if before else None), (after[0] if after else None)


def with_subject(con: Connection, column: str, name: str, limit: int = 2000) -> list[dict[str, Any]]:
    """The moments with the topic (``column`` tags) or person (people) ``name``, matched whole and without
    case, newest first."""
    if column not in ("tags", "people"):
        raise ValueError(column)
    return fetch_arrow(con, f"""SELECT id, name, start_time, end_time, moment_type, tags, people FROM moments
                               WHERE list_contains(list_transform({column}, lambda x: lower(x)), lower($n))
                               ORDER BY start_time DESC, id LIMIT {int(limit)}""", {"n": name}).to_pylist()


def latest_start(con: Connection) -> datetime | None:
    """When the latest moment starts (None: no moments)."""
    v: datetime | None = fetch_arrow(con, "SELECT max(start_time) AS t FROM moments").column("t")[0].as_py()
    return v


# -- writing ----------------------------------------------------------------
def upsert(con: Connection, rows: pa.Table) -> UpsertCounts:
    """Insert new moments and update changed ones, by id (the dream; inside the caller's transaction)."""
    return rows_upsert(con, "moments", rows)


def put(con: Connection, rows: list[dict[str, Any]]) -> None:
    """These moments' rows exactly as given (a correction or an undo), replacing the stored ones."""
    if not rows:
        return
    cols = schema.table("moments").column_names
    put_rows(con, arrow_rows("moments", [{c: r.get(c) for c in cols} for r in rows]))


def put_rows(con: Connection, rows: pa.Table) -> None:
    """Typed moment rows exactly as given, replacing any stored row of the same id."""
    replace(con, "moments", rows)


def delete(con: Connection, ids: list[str], *, log_run: str | None = None) -> None:
    """Delete these moments and every edge from or to them (with ``log_run``, logged for that dream run's
    revert)."""
    if not ids:
        return
    with registered(con, "_rem_moments_gone", pa.table({"id": pa.array(ids, pa.string())})) as v:
        edges.delete_touching(con, v, log_run=log_run)
        execute(con, f"DELETE FROM moments WHERE id IN (SELECT id FROM {v})")


def drop_messages(con: Connection, moment_id: str, kept: list[str]) -> None:
    """Moment ``moment_id`` lists only ``kept`` of its messages (the rest were removed from their conversation)."""
    execute(con, "UPDATE moments SET message_ids = $m, updated_at = now() WHERE id = $id", {"m": kept, "id": moment_id})


def delete_ids(con: Connection, ids_sql: str) -> None:
    """Delete the moments whose id ``ids_sql`` (a one-column query) returns; their edges are the caller's."""
    execute(con, f"DELETE FROM moments WHERE id IN ({ids_sql})")


def add_items(con: Connection, moment_id: str, *, resource_ids: list[str], message_ids: list[str],
              session_ids: list[str], start: datetime, end: datetime, late: list[str]) -> None:
    """Items that arrived after the owner corrected moment ``moment_id`` join it: listed, its span widened,
    and named in its metadata as ``added_after_correction`` (what the owner wrote is untouched)."""
    execute(con, """UPDATE moments SET
                        resource_ids = list_distinct(list_concat(coalesce(resource_ids, []), $res)),
                        message_ids = list_distinct(list_concat(coalesce(message_ids, []), $msg)),
                        session_ids = list_distinct(list_concat(coalesce(session_ids, []), $ses)),
                        start_time = least(start_time, $start), end_time = greatest(end_time, $end),
                        metadata = json_merge_patch(coalesce(metadata, '{}'), json_object('added_after_correction',
                            to_json(list_distinct(list_concat(coalesce(CAST(json_extract(metadata, '$.added_after_correction')
                                                                             AS VARCHAR[]), []), $late))))),
                        updated_at = now()
                    WHERE id = $id""",
            {"res": resource_ids, "msg": message_ids, "ses": session_ids, "start": start, "end": end, "late": late,
             "id": moment_id})


def accept(con: Connection, ids: list[str]) -> None:
    """These pending moments are kept: their ``pending`` mark goes (their links are the caller's)."""
    with registered(con, "_rem_accept", pa.table({"id": pa.array(ids, pa.string())})) as v:
        execute(con, f"""UPDATE moments SET metadata = json_merge_patch(coalesce(metadata, '{{}}'), '{{"pending": null}}'),
                                            updated_at = now() WHERE id IN (SELECT id FROM {v})""")
