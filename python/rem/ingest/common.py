"""Shared ingest machinery: time parsing, validation, batching and the one
transactional write per input."""

from __future__ import annotations

import contextlib
import json
import math
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa

from .. import schema
from ..exceptions import IngestError
from ..ids import normalize_key, stable_id
from ..store import Store, UpsertCounts, key_edges, one, run, transaction, upsert

MAX_TEXT = 8 * 1024 * 1024  # characters kept of one text field (longer is refused)


def parse_time(value: Any, *, source: str, field: str) -> datetime:
    """An aware UTC datetime from an ISO 8601 string, a date, or epoch seconds.

    Naive times are taken in the machine's local time zone (as a person writes
    them in a note); ``Z`` and offsets are honoured. Refuses anything else with
    an :class:`IngestError` naming ``source`` and ``field``.
    """
    if isinstance(value, bool) or value is None:
        raise IngestError(f"expected a timestamp, got {value!r}", source=source, field=field)
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    elif isinstance(value, int | float):
        if not math.isfinite(value) or abs(value) > 32503680000 * 10:
            raise IngestError(f"epoch seconds out of range: {value!r}", source=source, field=field)
        try:
            return datetime.fromtimestamp(float(value), tz=UTC)
        except (OverflowError, OSError, ValueError) as e:
            raise IngestError(f"epoch seconds out of range: {value!r}", source=source, field=field) from e
    elif isinstance(value, str):
        s = value.strip()
        try:
            dt = datetime.fromisoformat(s.replace("z", "Z"))
        except ValueError:
            raise IngestError(
                f"not an ISO 8601 timestamp: {value[:60]!r} (expected e.g. 2026-11-16T09:30:00Z)",
                source=source,
                field=field,
            ) from None
    else:
        raise IngestError(f"expected a timestamp, got {type(value).__name__}", source=source, field=field)
    if dt.tzinfo is None:
        dt = dt.astimezone()  # local time zone
    try:
        return dt.astimezone(UTC)
    except (OverflowError, ValueError) as e:
        raise IngestError(f"timestamp out of range: {value!r}", source=source, field=field) from e


def clean_text(value: Any, *, source: str, field: str, required: bool = False) -> str | None:
    """A string field: NUL bytes and lone surrogates removed; size-checked."""
    if value is None:
        if required:
            raise IngestError("is required", source=source, field=field)
        return None
    if not isinstance(value, str):
        raise IngestError(f"expected a string, got {type(value).__name__}", source=source, field=field)
    if len(value) > MAX_TEXT:
        raise IngestError(
            f"is {len(value):,} characters; the limit is {MAX_TEXT:,}", source=source, field=field
        )
    if "\x00" in value:
        value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def to_json(value: Any, *, source: str, field: str) -> str | None:
    if value is None:
        return None
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    except (TypeError, ValueError) as e:
        raise IngestError(f"cannot be stored as JSON: {e}", source=source, field=field) from e


@dataclass
class Batch:
    """Rows of one input, written in one transaction by :func:`write`."""

    resources: list[dict[str, Any]] = field(default_factory=list)
    sessions: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    entities: list[dict[str, Any]] = field(default_factory=list)
    edges: list[dict[str, Any]] = field(default_factory=list)

    def person(self, name: str, *, when: datetime, email: str | None = None) -> str:
        """Add (or re-add) a person entity; returns its id."""
        key = normalize_key(name) or normalize_key(email or "") or "unknown"
        eid = stable_id("entity", "person", key)
        meta = {"email": email} if email else None
        self.entities.append(
            {"id": eid, "key": key, "name": name.strip() or (email or "unknown"), "kind": "person",
             "aliases": [], "created_at": when, "updated_at": when, "metadata": meta}
        )
        return eid

    def edge(self, source_id: str, target_id: str, edge_type: str, when: datetime, *, generated_by: str = "ingest") -> None:
        self.edges.append(
            {"source_id": source_id, "target_id": target_id, "edge_type": edge_type, "weight": 1.0,
             "created_at": when, "reinforced_at": when, "reinforcement_count": 1,
             "metadata": None, "generated_by": generated_by, "dream_run_id": None}
        )

    def __len__(self) -> int:
        return len(self.resources) + len(self.sessions) + len(self.messages)


def arrow_rows(table_name: str, rows: list[dict[str, Any]]) -> pa.Table:
    """Rows (dicts) → a pyarrow Table typed after the table's JSON Schema.
    Later duplicates of a key win (a file naming the same id twice)."""
    t = schema.table(table_name)
    if t.key:
        seen: dict[tuple[Any, ...], dict[str, Any]] = {}
        for r in rows:
            seen[tuple(r[k] for k in t.key)] = r
        rows = list(seen.values())
    present = [c for c in t.columns if any(c.name in r for r in rows)]
    arrays = {}
    for c in present:
        vals = [r.get(c.name) for r in rows]
        if c.kind == "timestamp":
            arrays[c.name] = pa.array(vals, type=pa.timestamp("us", tz="UTC"))
        elif c.kind == "json":
            arrays[c.name] = pa.array(
                [v if v is None or isinstance(v, str) else json.dumps(v, ensure_ascii=False, sort_keys=True, default=str) for v in vals],
                type=pa.string(),
            )
        elif c.kind == "list":
            arrays[c.name] = pa.array(vals, type=pa.list_(pa.string()))
        elif c.kind == "int":
            arrays[c.name] = pa.array(vals, type=pa.int64())
        elif c.kind == "float":
            arrays[c.name] = pa.array(vals, type=pa.float64())
        elif c.kind == "bool":
            arrays[c.name] = pa.array(vals, type=pa.bool_())
        else:
            arrays[c.name] = pa.array(vals, type=pa.string())
    return pa.table(arrays)


@dataclass
class IngestReport:
    added: int = 0
    updated: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)
    per_table: dict[str, UpsertCounts] = field(default_factory=dict)

    def add(self, table_name: str, c: UpsertCounts) -> None:
        self.per_table.setdefault(table_name, UpsertCounts())
        self.per_table[table_name] += c
        if table_name in ("resources", "sessions", "messages"):
            self.added += c.added
            self.updated += c.updated
            self.skipped += c.skipped

    def line(self) -> str:
        parts = []
        for name in ("resources", "sessions", "messages", "entities"):
            c = self.per_table.get(name)
            if c and (c.added or c.updated or c.skipped):
                parts.append(f"{name}: {c.added} added, {c.updated} updated, {c.skipped} unchanged")
        s = "; ".join(parts) if parts else "nothing to ingest"
        if self.errors:
            s += f"; {len(self.errors)} input(s) refused"
        return s


def write(store: Store, batch: Batch, report: IngestReport | None = None) -> IngestReport:
    """Write one input's rows in a single transaction (all or nothing).

    Messages must reference a session in the batch or already stored.
    """
    report = report or IngestReport()
    with store.connect() as con:
        if batch.messages:
            known = {s["id"] for s in batch.sessions}
            missing = {m["session_id"] for m in batch.messages} - known
            if missing:
                con.register("_rem_sids", pa.table({"id": pa.array(sorted(missing), pa.string())}))
                found = {r[0] for r in run(con, "SELECT s.id FROM sessions s SEMI JOIN _rem_sids x ON s.id = x.id")}
                con.unregister("_rem_sids")
                for m in batch.messages:
                    if m["session_id"] not in found and m["session_id"] not in known:
                        raise IngestError(
                            f"session {m['session_id']!r} does not exist; ingest its session first "
                            "(rem ingest jsonl FILE --kind sessions) or include it",
                            source=m.get("_source", ""),
                            field="session_id",
                        )
        with transaction(con):
            for name, rows in (("sessions", batch.sessions), ("resources", batch.resources),
                               ("messages", batch.messages), ("entities", _merge_entities(batch.entities))):
                if rows:
                    clean = [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]
                    if name == "entities":
                        report.add(name, _upsert_entities(con, clean))
                    else:
                        report.add(name, upsert(con, name, arrow_rows(name, clean)))
            if batch.edges:
                _insert_missing_edges(con, batch.edges)
    return report


def _merge_entities(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        cur = out.get(r["id"])
        if cur is None:
            out[r["id"]] = dict(r)
            continue
        if r["name"] != cur["name"] and r["name"] not in cur["aliases"]:
            cur["aliases"] = [*cur["aliases"], r["name"]]
        cur["created_at"] = min(cur["created_at"], r["created_at"])
        cur["updated_at"] = max(cur["updated_at"], r["updated_at"])
    return list(out.values())


def _upsert_entities(con: Any, rows: list[dict[str, Any]]) -> UpsertCounts:
    """Entities keep their first display name; other spellings become aliases."""
    existing: dict[str, tuple[str, list[str]]] = {}
    con.register("_rem_eids", pa.table({"id": pa.array([r["id"] for r in rows], pa.string())}))
    for eid, name, aliases in run(
        con, "SELECT e.id, e.name, e.aliases FROM entities e SEMI JOIN _rem_eids x ON e.id = x.id"
    ):
        existing[eid] = (name, list(aliases or []))
    con.unregister("_rem_eids")
    merged = []
    for r in rows:
        if r["id"] in existing:
            name, aliases = existing[r["id"]]
            new_aliases = list(aliases)
            for n in [r["name"], *r.get("aliases", [])]:
                if n != name and n not in new_aliases:
                    new_aliases.append(n)
            r = {**r, "name": name, "aliases": new_aliases}
            r.pop("created_at", None)
        merged.append(r)
    return upsert(con, "entities", arrow_rows("entities", merged))


def _insert_missing_edges(con: Any, edges: list[dict[str, Any]]) -> int:
    tbl = arrow_rows("edges", edges)
    con.register("_rem_new_edges", tbl)
    try:
        before = (one(con, "SELECT count(*) FROM edges") or (0,))[0]
        run(
            con,
            """INSERT INTO edges BY NAME
               SELECT DISTINCT ON (source_id, target_id, edge_type) *
               FROM _rem_new_edges n
               WHERE NOT EXISTS (SELECT 1 FROM edges e WHERE e.source_id = n.source_id
                                 AND e.target_id = n.target_id AND e.edge_type = n.edge_type)"""
        )
        after = (one(con, "SELECT count(*) FROM edges") or (0,))[0]
        key_edges(con)
        return int(after - before)
    finally:
        con.unregister("_rem_new_edges")


@contextlib.contextmanager
def progress(iterable: Iterable[Any], *, label: str, length: int | None = None, enabled: bool | None = None) -> Iterator[Iterable[Any]]:
    """A progress bar on stderr for long ingests (shown only on a terminal)."""
    import click

    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        yield iterable
        return
    with click.progressbar(iterable, label=label, length=length, file=sys.stderr) as bar:
        yield bar


Reporter = Callable[[str], None]
