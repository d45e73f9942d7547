"""Creating and migrating the tables from the JSON Schemas (:mod:`rem.schema`),
the schema version in ``rem_meta``, and the SQL macros every connection gets."""

from __future__ import annotations

import logging
from pathlib import Path

from .. import schema
from ..exceptions import SchemaVersionError, StoreError
from .sql import META_TABLE, Connection, execute, fetch_rows, fetch_value, transaction

log = logging.getLogger("rem.store")


def stored_version(con: Connection) -> int | None:
    """The schema version recorded in the file (None for a file REM never initialized)."""
    exists = fetch_value(
        con,
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ? AND table_schema = 'main'",
        [META_TABLE],
    )
    if not exists:
        return None
    value = fetch_value(con, f"SELECT value FROM {META_TABLE} WHERE key = 'schema_version'")
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise StoreError(f"the database's {META_TABLE}.schema_version is {str(value)[:40]!r}, not a number: "
                         "the file was changed by something other than REM. Restore a backup, or fix it with "
                         f"UPDATE {META_TABLE} SET value = '{schema.schema_version()}' WHERE key = 'schema_version'") from None


def _meta_exists(con: Connection) -> bool:
    return bool(fetch_value(con, "SELECT count(*) FROM information_schema.tables WHERE table_name = ? AND table_schema = 'main'",
                            [META_TABLE]))


def check_ours(con: Connection, path: Path | str, *, adopt: bool = False) -> None:
    """Refuse a DuckDB file another application made (tables, no ``rem_meta``):
    REM would add columns and keys to its tables. With ``adopt`` REM's tables
    are added beside the others, unless a name is taken."""
    if _meta_exists(con):
        return
    names = sorted(r[0] for r in fetch_rows(con, "SELECT table_name FROM information_schema.tables "
                                                 "WHERE table_catalog = current_database()"))
    if not names:
        return
    if not adopt:
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        raise StoreError(f"{path} is a DuckDB database but not a REM one (it holds {shown}, and no {META_TABLE}). "
                         "REM did not change it. Point --db at a REM database, or, to add REM's tables to this "
                         "file beside its own, run `rem --db … init --adopt`.")
    taken = [n for n in names if n in schema.TABLES or n in schema.VIEWS or n == META_TABLE]
    if taken:
        raise StoreError(f"{path} already has tables named {', '.join(taken)} that are not REM's; REM will not "
                         "change them, so it cannot adopt this file. Use another database file.")


def check_schema_version(con: Connection) -> int | None:
    """The file's schema version (None: never initialized); a version newer than this REM's is refused."""
    v = stored_version(con)
    if v is not None and v > schema.schema_version():
        raise SchemaVersionError(
            f"this database has schema version {v}, newer than this REM understands "
            f"({schema.schema_version()}); upgrade REM."
        )
    return v


def ensure_schema(con: Connection) -> None:
    """Create missing tables and columns and record the schema version.

    Migration rule for this release: tables and columns present in the JSON
    Schemas but missing from the file are added (new columns are nullable);
    a table whose allowed values (an ``enum``, a CHECK constraint) grew is
    rebuilt with the new constraint and all its rows; nothing is ever dropped.
    """
    check_schema_version(con)
    current = schema.schema_version()
    stored = stored_version(con)
    if stored == current and _all_tables_present(con):
        return
    with transaction(con):
        execute(con, f"CREATE TABLE IF NOT EXISTS {META_TABLE} (key VARCHAR PRIMARY KEY, value VARCHAR)")
        for t in schema.load_tables().values():
            execute(con, t.ddl())
            have = {
                r[0]
                for r in fetch_rows(con,
                    "SELECT column_name FROM information_schema.columns WHERE table_name = ? AND table_schema='main'",
                    [t.name],
                )
            }
            for c in t.columns:
                if c.name not in have:
                    execute(con, f'ALTER TABLE "{t.name}" ADD COLUMN "{c.name}" {c.sql_type}')
            _widen_checks(con, t)
        if fetch_value(con, "SELECT count(*) FROM edges WHERE source_key IS NULL OR target_key IS NULL"):
            from ..edges import (
                key_edges,  # the edges' owner (and the Rust core, pyarrow): only when there is work
            )

            key_edges(con)  # edges written before schema 4 get their dense node keys
        for view in schema.VIEWS.values():
            execute(con, view)
        execute(con,
            f"INSERT INTO {META_TABLE} VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [str(current)],
        )
        execute(con,
            f"INSERT INTO {META_TABLE} VALUES ('created_at', CAST(now() AS VARCHAR)) ON CONFLICT (key) DO NOTHING"
        )


def _widen_checks(con: Connection, t: schema.Table) -> None:
    """DuckDB cannot alter a CHECK constraint: when the schema allows a value
    the stored table's constraint lacks, copy the table into a new one."""
    ddl = fetch_value(con, "SELECT sql FROM duckdb_tables() WHERE table_name = ? AND schema_name = 'main'", [t.name]) or ""
    if all(f"'{v}'" in ddl for c in t.columns if c.enum for v in c.enum):
        return
    tmp = f"{t.name}__rem_migrate"
    execute(con, t.ddl().replace(f'CREATE TABLE IF NOT EXISTS "{t.name}"', f'CREATE TABLE "{tmp}"', 1))
    execute(con, f'INSERT INTO "{tmp}" BY NAME SELECT * FROM "{t.name}"')
    execute(con, f'DROP TABLE "{t.name}"')
    execute(con, f'ALTER TABLE "{tmp}" RENAME TO "{t.name}"')


def _all_tables_present(con: Connection) -> bool:
    names = {r[0] for r in fetch_rows(con, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'")}
    return all(t in names for t in (*schema.TABLES, *schema.VIEWS))


def install_macros(con: Connection, half_lives: tuple[dict[str, float | None], float | None] | None = None) -> None:
    """SQL helpers available on every connection REM opens (temporary macros,
    so they work on read-only connections too): ``rem_decay`` and
    ``rem_half_life_hours`` (see :mod:`rem.decay`) with ``half_lives``
    (per type, and for other types; default: the built-in ones)."""
    from ..decay import DEFAULT_HALF_LIVES, DEFAULT_OTHER_HALF_LIFE, macro_statements

    hl, other = half_lives if half_lives is not None else (dict(DEFAULT_HALF_LIVES), DEFAULT_OTHER_HALF_LIFE)
    for stmt in macro_statements(hl, other):
        execute(con, stmt)


def get_meta(con: Connection, key: str) -> str | None:
    """A value REM keeps in ``rem_meta`` (None when unset)."""
    v = fetch_value(con, f"SELECT value FROM {META_TABLE} WHERE key = ?", [key])
    return None if v is None else str(v)


def set_meta(con: Connection, key: str, value: str | None) -> None:
    """Keep ``value`` under ``key`` in ``rem_meta`` (None: forget the key)."""
    if value is None:
        execute(con, f"DELETE FROM {META_TABLE} WHERE key = ?", [key])
    else:
        execute(con, f"INSERT INTO {META_TABLE} VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, value])
