"""Table definitions, read from the JSON Schemas shipped in ``rem/schema/core``.

The JSON Schema files are the only definition of REM's tables: the DDL, the
column order, the ingest validators and the schema version all derive from
them. Each file carries an ``x-rem`` block with store hints:

- ``version``: the table's schema version; the database's version is the
  highest of them and is recorded in ``rem_meta``;
- ``key``: primary-key columns (empty for ``edges``, whose one-row-per
  ``logical_key`` rule is kept by REM's merge, not by a constraint);
- ``time_column`` / ``order_by``: the column activity windows filter on and
  the physical order REM keeps the table in;
- ``json_columns``: array-of-object properties stored as JSON;
- ``references``: foreign references checked on ingest.

A property may carry an ``x-rem`` block of its own: the field's roles (what
the journal reads back, how it is shown, edited, searched and linked).
:func:`fields` reads them, so a moment field is declared once, in its schema.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

TABLES = ("resources", "sessions", "messages", "moments", "entities", "nodes", "edges", "dream_runs", "dream_edge_log", "dream_undo",
          "search_index", "moment_edits")


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str
    required: bool
    enum: tuple[str, ...] | None
    kind: str  # string | timestamp | json | list | floats | int8s | int | float | bool
    description: str = ""


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    version: int
    time_column: str | None
    order_by: tuple[str, ...]
    json_schema: dict[str, Any] = field(repr=False, compare=False, hash=False)
    hints: dict[str, Any] = field(repr=False, compare=False, hash=False)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def ddl(self) -> str:
        lines = []
        for c in self.columns:
            line = f'"{c.name}" {c.sql_type}'
            if c.name in self.key or c.required:
                line += " NOT NULL"
            if c.enum:
                opts = ", ".join("'" + v.replace("'", "''") + "'" for v in c.enum)
                line += f' CHECK ("{c.name}" IN ({opts}))'
            lines.append(line)
        if self.key:
            lines.append("PRIMARY KEY (" + ", ".join(f'"{k}"' for k in self.key) + ")")
        body = ",\n  ".join(lines)
        return f'CREATE TABLE IF NOT EXISTS "{self.name}" (\n  {body}\n)'


def _column(name: str, spec: dict[str, Any], required: bool, json_cols: set[str]) -> Column:
    t = spec.get("type")
    desc = spec.get("description", "")
    enum = tuple(spec["enum"]) if "enum" in spec else None
    if name in json_cols or t == "object":
        return Column(name, "JSON", required, None, "json", desc)
    if t == "string":
        if spec.get("format") == "date-time":
            return Column(name, "TIMESTAMPTZ", required, None, "timestamp", desc)
        return Column(name, "VARCHAR", required, enum, "string", desc)
    if t == "integer":
        return Column(name, "BIGINT", required, None, "int", desc)
    if t == "number":
        return Column(name, "DOUBLE", required, None, "float", desc)
    if t == "boolean":
        return Column(name, "BOOLEAN", required, None, "bool", desc)
    if t == "array" and spec.get("items", {}).get("format") == "date":
        return Column(name, "DATE[]", required, None, "dates", desc)
    if t == "array" and spec.get("items", {}).get("type") == "string":
        return Column(name, "VARCHAR[]", required, None, "list", desc)
    if t == "array" and spec.get("x-sql") == "TINYINT[]":
        return Column(name, "TINYINT[]", required, None, "int8s", desc)
    if t == "array" and spec.get("items", {}).get("type") == "number":
        return Column(name, "FLOAT[]", required, None, "floats", desc)
    raise ValueError(f"schema: column {name!r} has unsupported type {t!r}")


def schema_dir() -> Path:
    """The directory of the shipped JSON Schemas, beside this module (an installed wheel unpacks them there;
    not importlib.resources, whose import alone cost every command ~5 ms)."""
    return Path(__file__).resolve().parent / "schema" / "core"


@cache
def load_tables() -> dict[str, Table]:
    return {name: table(name) for name in TABLES}


@cache
def table(name: str) -> Table:
    """One table's definition, read from its JSON Schema on first use (a command that needs one table's
    fields does not read the other eleven)."""
    if name not in TABLES:
        raise KeyError(name)
    doc = json.loads((schema_dir() / f"{name}.json").read_text(encoding="utf-8"))
    hints = doc.get("x-rem", {})
    required = set(doc.get("required", []))
    json_cols = set(hints.get("json_columns", []))
    cols = tuple(_column(col, spec, col in required, json_cols) for col, spec in doc["properties"].items())
    return Table(
        name=name,
        description=doc.get("description", ""),
        columns=cols,
        key=tuple(hints.get("key", [])),
        version=int(hints.get("version", 1)),
        time_column=hints.get("time_column"),
        order_by=tuple(hints.get("order_by", [])),
        json_schema=doc,
        hints=hints,
    )


@dataclass(frozen=True)
class Field:
    """One column and its roles (the property's ``x-rem`` block)."""

    name: str
    roles: dict[str, Any] = field(compare=False, hash=False)

    def __getitem__(self, role: str) -> Any:
        return self.roles[role]

    def get(self, role: str, default: Any = None) -> Any:
        return self.roles.get(role, default)


@cache  # (as :func:`table`: read once; a moment shown or written asks it for every moment)
def fields(table_name: str, role: str, order: str | None = None) -> tuple[Field, ...]:
    """The fields of ``table_name`` that have ``role`` (a truthy value), in the order of the role ``order``
    names (a number; default: the role itself when it is a number, else the schema's column order)."""
    props = table(table_name).json_schema["properties"]
    out = [Field(n, dict(p.get("x-rem", {}))) for n, p in props.items() if p.get("x-rem", {}).get(role)]
    key = order or role
    if all(isinstance(f.get(key), int | float) and not isinstance(f.get(key), bool) for f in out):
        out.sort(key=lambda f: f[key])
    return tuple(out)


def field_names(table_name: str, role: str, order: str | None = None) -> tuple[str, ...]:
    """The names of :func:`fields`."""
    return tuple(f.name for f in fields(table_name, role, order))


def events_sql(moments: str = "moments") -> str:
    """The events of the moments ``moments`` (a table, or a subquery in parentheses), one row each: what the view
    ``events`` holds of every moment."""
    return f"""SELECT m.id AS moment_id, m.name AS moment_name, i.n AS position,
               json_extract_string(e, '$.text') AS text,
               CAST(json_extract(e, '$.actors') AS VARCHAR[]) AS actors,
               TRY_CAST(json_extract_string(e, '$.date') AS DATE) AS date,
               TRY_CAST(json_extract_string(e, '$.date_end') AS DATE) AS date_end,
               json_extract_string(e, '$.when') AS "when",
               json_extract_string(e, '$.source_id') AS source_id,
               TRY_CAST(json_extract_string(e, '$.at') AS TIMESTAMPTZ) AS at,
               m.start_time AS moment_start
        FROM {moments} m,
             LATERAL (SELECT unnest(range(CAST(coalesce(json_array_length(m.events), 0) AS BIGINT))) AS n) i,
             LATERAL (SELECT json_extract(m.events, '$[' || i.n || ']') AS e) x"""


# Views REM keeps beside its tables (created or replaced with the schema): the events of every moment, one row each.
VIEWS = {"events": f"CREATE OR REPLACE VIEW events AS\n        {events_sql()}"}


def schema_version() -> int:
    return max(t.version for t in load_tables().values())
