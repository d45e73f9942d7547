"""The owner of ``entities`` (topics and people): every write of them is here.

One entity per kind and normalized name (:func:`rem.links.entity_row` makes
the row): a stored entity keeps its display name and other spellings become
aliases (:func:`upsert`). The dream, ingestion and corrections upsert; undo
puts rows back (:func:`put_rows`, :func:`delete_unused`); a dream's revert
deletes by id (:func:`delete_ids`).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from .store.rows import UpsertCounts, arrow_rows, replace
from .store.rows import upsert as rows_upsert
from .store.sql import Connection, execute, fetch_one, fetch_rows, id_table, registered

# the owner, when the config names nobody: the author of most commits, when one author wrote most of them
OWNER_SQL = """
SELECT metadata->>'author' AS author, count(*) AS n, sum(count(*)) OVER () AS total FROM resources
WHERE resource_type = 'commit' AND metadata->>'author' IS NOT NULL GROUP BY 1 ORDER BY n DESC LIMIT 1
"""


def owner_names(con: Connection, configured: Any = None) -> list[str]:
    """The owner's names: ``configured`` (the config file's ``[owner] names``) when given, else the author of
    most commits when one author wrote most of them, else none."""
    if configured:
        return [str(n) for n in configured if str(n).strip()]
    row = fetch_one(con, OWNER_SQL)
    return [row[0]] if row and row[0] and row[1] * 2 > row[2] else []


def merge_entity_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Collapse entity rows of one id: the first name stays, other spellings
    become aliases, the earliest ``created_at`` and latest ``updated_at`` win."""
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        cur = out.get(r["id"])
        if cur is None:
            out[r["id"]] = {**r, "aliases": list(r.get("aliases") or [])}
            continue
        for n in [r["name"], *(r.get("aliases") or [])]:
            if n != cur["name"] and n not in cur["aliases"]:
                cur["aliases"].append(n)
        cur["created_at"] = min(cur["created_at"], r["created_at"])
        cur["updated_at"] = max(cur["updated_at"], r["updated_at"])
    return list(out.values())


def upsert(con: Connection, rows: list[dict[str, Any]]) -> UpsertCounts:
    """Upsert entities (topics, people): a stored entity keeps its display
    name; other spellings become aliases. Inside the caller's transaction."""
    rows = merge_entity_rows(rows)
    existing: dict[str, tuple[str, list[str]]] = {}
    with registered(con, "_rem_eids", id_table(r["id"] for r in rows)):
        for eid, name, aliases in fetch_rows(
            con, "SELECT e.id, e.name, e.aliases FROM entities e SEMI JOIN _rem_eids x ON e.id = x.id"
        ):
            existing[eid] = (name, list(aliases or []))
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
    return rows_upsert(con, "entities", arrow_rows("entities", merged))


def delete_unused(con: Connection, eid: str) -> None:
    """Delete entity ``eid`` unless an edge still uses it."""
    execute(con, """DELETE FROM entities WHERE id = $id AND NOT EXISTS
                    (SELECT 1 FROM edges WHERE source_id = $id OR target_id = $id)""", {"id": eid})


def put_rows(con: Connection, rows: list[dict[str, Any]] | pa.Table) -> None:
    """These entity rows exactly as given (an undo), replacing any stored row of the same id."""
    replace(con, "entities", rows if isinstance(rows, pa.Table) else arrow_rows("entities", rows))


def delete_ids(con: Connection, ids_sql: str) -> None:
    """Delete the entities whose id ``ids_sql`` (a one-column query) returns."""
    execute(con, f"DELETE FROM entities WHERE id IN ({ids_sql})")
