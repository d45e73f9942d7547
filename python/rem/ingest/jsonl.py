"""JSONL / JSON records of resources, sessions or messages, validated against
``schema/core``. A record without ``id`` gets a stable one derived from its
identity (resources: uri or name + time; sessions: name + time; messages:
session + time + role, and speaker when there is one) and, when several
records of the file share that identity, its position among them — so two
different messages of one session at the same second are two messages.
A message's ``speaker`` becomes a person entity linked to its session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from .. import schema
from ..exceptions import IngestError
from ..ids import stable_id
from ..store import Store
from ..values import clean_text, load_json, parse_time
from .common import Batch, IngestReport, write

KINDS = ("resources", "sessions", "messages")


def _validator(kind: str) -> Draft202012Validator:
    doc = dict(schema.table(kind).json_schema)
    doc["required"] = [r for r in doc.get("required", []) if r != "id"]
    doc.pop("x-rem", None)
    return Draft202012Validator(doc)


def _records(path: Path) -> list[tuple[str, Any]]:
    """(place, record) pairs: JSONL line by line, or a JSON array."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise IngestError(f"cannot read: {e.strerror}", source=str(path)) from e
    stripped = raw.lstrip()
    if stripped.startswith(b"["):
        data = load_json(raw, source=str(path))
        return [(f"{path}: record {i + 1}", r) for i, r in enumerate(data)]
    out = []
    for n, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        place = f"{path}:{n}"
        out.append((place, load_json(line, source=place, line=True)))
    return out


def parse_record(kind: str, place: str, rec: Any, validator: Draft202012Validator) -> dict[str, Any]:
    if not isinstance(rec, dict):
        raise IngestError(f"expected a JSON object, got {type(rec).__name__}", source=place)
    errors = sorted(validator.iter_errors(rec), key=lambda e: (list(e.path), e.message))
    if errors:
        e = errors[0]
        fld = ".".join(str(p) for p in e.path) or None
        msg = e.message
        if e.validator == "additionalProperties":
            msg = f"unknown field(s) — {e.message}; allowed: {', '.join(schema.table(kind).column_names)}"
        if len(msg) > 300:
            msg = msg[:300] + "…"
        raise IngestError(msg, source=place, field=fld)
    t = schema.table(kind)
    for name in rec:
        if t.json_schema["properties"].get(name, {}).get("readOnly"):
            raise IngestError("is set by REM when it stores a row, not by input: leave it out", source=place, field=name)
    row: dict[str, Any] = {"_source": place}
    for c in t.columns:
        if c.name not in rec:
            continue
        v = rec[c.name]
        if c.kind == "timestamp":
            row[c.name] = None if v is None else parse_time(v, source=place, field=c.name)
        elif c.kind == "string":
            row[c.name] = clean_text(v, source=place, field=c.name)
        elif c.kind == "list":
            row[c.name] = None if v is None else [clean_text(x, source=place, field=c.name) for x in v]
        else:
            row[c.name] = v
    if kind == "resources" and "updated_at" not in row:
        row["updated_at"] = row["created_at"]
    return row


def identity(kind: str, row: dict[str, Any]) -> tuple[str, ...]:
    """What a record without an ``id`` is identified by."""
    when = row["created_at"].isoformat()
    if kind == "resources":
        return ("resource", row.get("uri") or row.get("name") or "", when)
    if kind == "sessions":
        return ("session", row.get("name") or "", when)
    if row.get("speaker"):
        return ("message", row["session_id"], when, row["role"], row["speaker"])
    return ("message", row["session_id"], when, row["role"])


def ingest_jsonl(store: Store, path: str | Path, kind: str) -> IngestReport:
    """Ingest one JSONL (or JSON array) file of ``kind`` records, all or nothing."""
    if kind not in KINDS:
        raise IngestError(f"--kind must be one of {', '.join(KINDS)} (got {kind!r})")
    p = Path(path)
    validator = _validator(kind)
    batch = Batch()
    target = getattr(batch, kind)
    seen: dict[tuple[str, ...], int] = {}
    for place, rec in _records(p):
        row = parse_record(kind, place, rec, validator)
        if not row.get("id"):
            key = identity(kind, row)
            seen[key] = seen.get(key, 0) + 1
            # the first record of an identity keeps the id it always had
            row["id"] = stable_id(*key) if seen[key] == 1 else stable_id(*key, seen[key])
        if kind == "messages" and row.get("speaker"):
            batch.speaker(row["session_id"], row["speaker"], row["created_at"])
        target.append(row)
    return write(store, batch)
