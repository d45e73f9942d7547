"""Rows: dicts typed after a table's JSON Schema, and the keyed upsert the
tables' owners write with."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import schema
from ..exceptions import StoreError
from .sql import INGESTED_AT, Connection, execute, fetch_one, registered

if TYPE_CHECKING:
    import pyarrow as pa


def table_dicts(t: pa.Table | pa.RecordBatch) -> list[dict[str, Any]]:
    """``t.to_pylist()``, turned into Python column by column (~3x faster for many rows)."""
    names = t.column_names
    return [dict(zip(names, r, strict=True)) for r in zip(*(c.to_pylist() for c in t.columns), strict=True)]


def arrow_rows(table_name: str, rows: list[dict[str, Any]]) -> pa.Table:
    """Rows (dicts) → a pyarrow Table typed after the table's JSON Schema.
    Later duplicates of a key win (a file naming the same id twice)."""
    t = schema.table(table_name)
    if t.key:
        seen: dict[tuple[Any, ...], dict[str, Any]] = {}
        for r in rows:
            seen[tuple(r[k] for k in t.key)] = r
        rows = list(seen.values())
    return arrow_columns(table_name, {c.name: [r.get(c.name) for r in rows]
                                      for c in t.columns if any(c.name in r for r in rows)})


def arrow_columns(table_name: str, columns: dict[str, list[Any]]) -> pa.Table:
    """Columns (a list of values per column name, no key twice) → the pyarrow Table :func:`arrow_rows` makes of
    the same rows, in the schema's column order: for a writer that has its values column by column (a dream's
    15,000 moments as dicts, then columns again, cost more than the typing)."""
    import pyarrow as pa

    arrays = {}
    for c in schema.table(table_name).columns:
        if c.name not in columns:
            continue
        vals = columns[c.name]
        if c.kind == "timestamp":
            arrays[c.name] = pa.array(vals, type=pa.timestamp("us", tz="UTC"))
        elif c.kind == "json":
            arrays[c.name] = pa.array(
                [v if v is None or isinstance(v, str) else json.dumps(v, ensure_ascii=False, sort_keys=True, default=str) for v in vals],
                type=pa.string(),
            )
        elif c.kind == "list":
            arrays[c.name] = pa.array(vals, type=pa.list_(pa.string()))
        elif c.kind == "dates":
            arrays[c.name] = pa.array(vals, type=pa.list_(pa.date32()))
        elif c.kind == "floats":
            arrays[c.name] = pa.array(vals, type=pa.list_(pa.float32()))
        elif c.kind == "int8s":
            arrays[c.name] = pa.array(vals, type=pa.list_(pa.int8()))
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
class UpsertCounts:
    added: int = 0
    updated: int = 0
    skipped: int = 0

    def __iadd__(self, other: UpsertCounts) -> UpsertCounts:
        self.added += other.added
        self.updated += other.updated
        self.skipped += other.skipped
        return self


def upsert(con: Connection, table_name: str, rows: pa.Table) -> UpsertCounts:
    """Insert new rows and update changed ones of a keyed table, by key.

    ``rows`` must have the table's key columns and may omit others. Rows
    whose non-key values equal the stored ones (``updated_at`` ignored) are
    counted as skipped and not touched. Runs inside the caller's transaction.
    """
    t = schema.table(table_name)
    if not t.key:
        raise StoreError(f"upsert needs a keyed table; {table_name} has no key")
    if rows.num_rows == 0:
        return UpsertCounts()
    cols = [c for c in rows.column_names if c in t.column_names and c != INGESTED_AT]
    key = list(t.key)
    compare = [c for c in cols if c not in key and c not in ("updated_at", "created_at")]
    stamp = INGESTED_AT in t.column_names  # activity tables: when REM stored or changed the row
    with registered(con, f"_rem_batch_{table_name}", rows) as name:
        on = " AND ".join(f'b."{k}" = t."{k}"' for k in key)
        diff = " OR ".join(
            f'CAST(b."{c}" AS {t.column(c).sql_type}) IS DISTINCT FROM t."{c}"' for c in compare
        ) or "FALSE"
        cls = fetch_one(
            con,
            f"""SELECT count(*) FILTER (WHERE t."{key[0]}" IS NULL),
                       count(*) FILTER (WHERE t."{key[0]}" IS NOT NULL AND ({diff}))
                FROM {name} b LEFT JOIN "{table_name}" t ON {on}"""
        )
        added, updated = (int(cls[0]), int(cls[1])) if cls else (0, 0)
        col_list = ", ".join(f'"{c}"' for c in cols) + (f', "{INGESTED_AT}"' if stamp else "")
        sel = ", ".join(f'CAST(b."{c}" AS {t.column(c).sql_type})' for c in cols) + (", now()" if stamp else "")
        if added:
            execute(con,
                f"""INSERT INTO "{table_name}" ({col_list})
                    SELECT {sel} FROM {name} b ANTI JOIN "{table_name}" t ON {on}"""
            )
        if updated:
            sets = ", ".join(f'"{c}" = CAST(b."{c}" AS {t.column(c).sql_type})' for c in cols if c not in key and c != "created_at")
            if stamp:
                sets += f', "{INGESTED_AT}" = now()'
            execute(con,
                f"""UPDATE "{table_name}" AS t SET {sets} FROM {name} b
                    WHERE {on} AND ({diff})"""
            )
        return UpsertCounts(added, updated, rows.num_rows - added - updated)


def replace(con: Connection, table_name: str, rows: pa.Table) -> None:
    """These rows exactly as given (an undo, a correction), each replacing any stored row of its id; inside
    the caller's transaction. The owners of keyed tables put rows back through this."""
    if rows.num_rows == 0:
        return
    with registered(con, f"_rem_replace_{table_name}", rows) as v:
        execute(con, f'DELETE FROM "{table_name}" WHERE id IN (SELECT id FROM {v})')
        execute(con, f'INSERT INTO "{table_name}" BY NAME SELECT * FROM {v}')


def rewrite_in_order(con: Connection, table_name: str) -> None:
    """Rewrite every row of ``table_name`` in the table's sort order (``order_by``, else its key), as it
    is: row groups in order let DuckDB skip them by their min/max statistics. The content is unchanged;
    inside the caller's transaction."""
    t = schema.table(table_name)
    order = ", ".join(f'"{c}"' for c in (t.order_by or t.key))
    execute(con, f'CREATE TEMP TABLE _rem_sorted AS SELECT * FROM "{table_name}" ORDER BY {order}')
    execute(con, f'DELETE FROM "{table_name}"')
    execute(con, f'INSERT INTO "{table_name}" SELECT * FROM _rem_sorted')
    execute(con, "DROP TABLE _rem_sorted")
