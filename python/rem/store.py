"""The one module that opens DuckDB.

Everything else in REM asks this module for a connection. It knows:

- where the database lives (``--db`` > ``$REM_DB`` > ``$XDG_DATA_HOME/rem/rem.duckdb``,
  falling back to ``~/.local/share/rem/rem.duckdb``, the same path a shell and a
  systemd user unit compute);
- how to create and migrate the tables from the JSON Schemas
  (:mod:`rem.schema`) and record the schema version in ``rem_meta``;
- how to open read-only, sandboxed connections for ``rem query``
  (external access off, configuration locked), retrying briefly while a
  writer holds the file;
- how to fetch Arrow (one helper, because DuckDB's Arrow API moves between
  versions) and how to run a transaction that rolls back on any error.

DuckDB allows one writing process or many reading ones, never both: callers
open, do their work and close. A dream never keeps the file open while it
waits for the model.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from . import schema
from .exceptions import DatabaseBusyError, SchemaVersionError, StoreError

META_TABLE = "rem_meta"
_LOCK_MARKERS = ("could not set lock", "conflicting lock", "lock on file")

# Settings applied to every connection REM opens (no run-time downloads).
_BASE_CONFIG = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}


def default_db_path() -> Path:
    """``$REM_DB``, else ``$XDG_DATA_HOME/rem/rem.duckdb`` (``~/.local/share`` when unset)."""
    env = os.environ.get("REM_DB")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base).expanduser() / "rem" / "rem.duckdb"


def resolve_db_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The database path: the explicit one if given, else :func:`default_db_path`."""
    return Path(path).expanduser() if path else default_db_path()


# Fault injection for the reliability suite (tests/test_reliability_*.py): with
# REM_FAILPOINT_KILL_AT=N the process SIGKILLs itself just before the N-th SQL
# statement it runs, so crash consistency is tested at every statement.
_KILL_AT = int(os.environ.get("REM_FAILPOINT_KILL_AT", "0") or 0)
_statements = 0


def _failpoint() -> None:
    global _statements
    _statements += 1
    if _statements == _KILL_AT:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


def statements_run() -> int:
    """SQL statements this process has run through :func:`run`/:func:`arrow`."""
    return _statements


def arrow(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> pa.Table:
    """Run ``sql`` and return the whole result as a pyarrow Table.

    The single place that knows DuckDB's Arrow fetch API: 2.0 removed
    ``fetch_arrow_table()`` on connections in favour of relation methods.
    """
    _failpoint()
    rel = con.sql(sql) if params is None else con.sql(sql, params=params)
    if rel is None:  # a statement without a result set
        return pa.table({})
    if hasattr(rel, "to_arrow_table"):
        return rel.to_arrow_table()
    return rel.arrow()  # DuckDB < 1.4


def run(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    """Execute and fetch everything. DuckDB 2.0 refuses new work on a
    connection while a previous result is unfetched, so every statement REM
    runs goes through here (or :func:`arrow`)."""
    _failpoint()
    cur = con.execute(sql, params) if params is not None else con.execute(sql)
    try:
        return cur.fetchall()
    except duckdb.InvalidInputException as e:
        if "result" in str(e).lower() and "pytz" not in str(e):
            return []  # a statement without a result set (older DuckDB versions raise here)
        raise


def one(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> tuple[Any, ...] | None:
    """The first row of a statement's result (the rest is fetched and dropped)."""
    rows = run(con, sql, params)
    return rows[0] if rows else None


def explain_db_error(e: BaseException) -> str:
    """A DuckDB error as a user should read it."""
    msg = str(e)
    low = msg.lower()
    if "no space left" in low or "disk full" in low or "errno 28" in low:
        return ("disk full: the filesystem holding the database has no space left, so the operation was rolled back "
                f"and nothing of it was written; the data stored before is intact. Free some space and run it again. ({msg.splitlines()[0]})")
    if "read-only file system" in low or "permission denied" in low:
        return f"the database file or its folder cannot be written ({msg.splitlines()[0]}); nothing was written"
    return f"the database refused an operation: {msg}"


def _is_lock_error(exc: BaseException) -> bool:
    msg = str(exc).lower()
    return any(m in msg for m in _LOCK_MARKERS)


def _open(path: Path, read_only: bool, config: dict[str, Any], wait_s: float) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + max(wait_s, 0.0)
    delay = 0.05
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only, config=dict(config))
        except duckdb.IOException as e:  # lock held by another process, or a bad file
            if _is_lock_error(e):
                if time.monotonic() >= deadline:
                    raise DatabaseBusyError(
                        f"database {path} is busy: another process holds it for writing "
                        f"(waited {wait_s:.0f}s). Try again when the dream or ingest finishes."
                    ) from e
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
                continue
            raise StoreError(f"cannot open database {path}: {e}{_DAMAGED_HINT.format(path=path)}") from e
        except duckdb.Error as e:
            raise StoreError(f"cannot open database {path}: {e}{_DAMAGED_HINT.format(path=path)}") from e


_DAMAGED_HINT = (
    "\nREM did not change the file. If it is damaged (truncated, overwritten), move it aside "
    "(mv '{path}' '{path}.broken') and restore a backup, or start a new database with `rem init`; "
    "`rem doctor` checks it."
)


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


class Store:
    """A REM database file. Cheap to create; connections are opened on demand."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, busy_timeout_s: float = 10.0):
        self.path = resolve_db_path(path)
        self.busy_timeout_s = busy_timeout_s

    # -- connections -----------------------------------------------------
    @contextlib.contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection, schema ensured. Closed on exit."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = _open(self.path, False, _BASE_CONFIG, self.busy_timeout_s)
        try:
            ensure_schema(con)
            install_macros(con)
            yield con
        finally:
            con.close()

    @contextlib.contextmanager
    def read(self, *, sandbox: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection; with ``sandbox`` no file outside the database
        can be read or written and the configuration is locked."""
        if not self.path.exists():
            # create it (and its tables) once, so queries on a fresh path work
            self.init()
        cfg = dict(_BASE_CONFIG)
        if sandbox:
            cfg["enable_external_access"] = False
        con = _open(self.path, True, cfg, self.busy_timeout_s)
        try:
            check_schema_version(con)
            install_macros(con)
            if sandbox:
                run(con, "SET lock_configuration = true")
            yield con
        finally:
            con.close()

    def init(self) -> bool:
        """Create the database if needed; returns True when it was created."""
        existed = self.path.exists()
        with self.connect() as con:
            run(con, "CHECKPOINT")  # the tables are on disk before anyone reads
        return not existed


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN … COMMIT, or ROLLBACK on any exception (then re-raised)."""
    run(con, "BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            run(con, "ROLLBACK")
        raise
    else:
        run(con, "COMMIT")


# -- schema ---------------------------------------------------------------
def stored_version(con: duckdb.DuckDBPyConnection) -> int | None:
    exists = one(
        con,
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ? AND table_schema = 'main'",
        [META_TABLE],
    )
    if not exists or not exists[0]:
        return None
    row = one(con, f"SELECT value FROM {META_TABLE} WHERE key = 'schema_version'")
    return int(row[0]) if row else None


def check_schema_version(con: duckdb.DuckDBPyConnection) -> None:
    v = stored_version(con)
    if v is not None and v > schema.schema_version():
        raise SchemaVersionError(
            f"this database has schema version {v}, newer than this REM understands "
            f"({schema.schema_version()}); upgrade REM."
        )


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
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
        run(con, f"CREATE TABLE IF NOT EXISTS {META_TABLE} (key VARCHAR PRIMARY KEY, value VARCHAR)")
        for t in schema.load_tables().values():
            run(con, t.ddl())
            have = {
                r[0]
                for r in run(con,
                    "SELECT column_name FROM information_schema.columns WHERE table_name = ? AND table_schema='main'",
                    [t.name],
                )
            }
            for c in t.columns:
                if c.name not in have:
                    run(con, f'ALTER TABLE "{t.name}" ADD COLUMN "{c.name}" {c.sql_type}')
            _widen_checks(con, t)
        key_edges(con)  # edges written before schema 4 get their dense node keys
        run(con,
            f"INSERT INTO {META_TABLE} VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [str(current)],
        )
        run(con,
            f"INSERT INTO {META_TABLE} VALUES ('created_at', CAST(now() AS VARCHAR)) ON CONFLICT (key) DO NOTHING"
        )


def _widen_checks(con: duckdb.DuckDBPyConnection, t: schema.Table) -> None:
    """DuckDB cannot alter a CHECK constraint: when the schema allows a value
    the stored table's constraint lacks, copy the table into a new one."""
    row = one(con, "SELECT sql FROM duckdb_tables() WHERE table_name = ? AND schema_name = 'main'", [t.name])
    ddl = row[0] if row else ""
    if all(f"'{v}'" in ddl for c in t.columns if c.enum for v in c.enum):
        return
    tmp = f"{t.name}__rem_migrate"
    run(con, t.ddl().replace(f'CREATE TABLE IF NOT EXISTS "{t.name}"', f'CREATE TABLE "{tmp}"', 1))
    run(con, f'INSERT INTO "{tmp}" BY NAME SELECT * FROM "{t.name}"')
    run(con, f'DROP TABLE "{t.name}"')
    run(con, f'ALTER TABLE "{tmp}" RENAME TO "{t.name}"')


def _all_tables_present(con: duckdb.DuckDBPyConnection) -> bool:
    names = {
        r[0]
        for r in run(con,
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        )
    }
    return all(t in names for t in schema.TABLES)


def install_macros(con: duckdb.DuckDBPyConnection) -> None:
    """SQL helpers available on every connection REM opens (temporary macros,
    so they work on read-only connections too)."""
    from .graph_sql import macro_statements  # local import: avoids a cycle

    for stmt in macro_statements():
        run(con, stmt)


# -- writes ---------------------------------------------------------------
NEW_NODES_SQL = """INSERT INTO nodes (id, key)
    SELECT id, (SELECT coalesce(max(key) + 1, 0) FROM nodes) + row_number() OVER (ORDER BY first) - 1
    FROM ({ids}) ANTI JOIN nodes USING (id)"""


def add_nodes(con: duckdb.DuckDBPyConnection, ids_sql: str) -> None:
    """Give a dense integer key to each id of ``ids_sql`` (a query with
    columns ``id`` and ``first``, one row per id, ``first`` ordering new keys)
    that has none yet. Keys continue after the largest one and are never reused."""
    run(con, NEW_NODES_SQL.format(ids=ids_sql))


def key_edges(con: duckdb.DuckDBPyConnection) -> int:
    """Fill ``source_key``/``target_key`` of edges that lack them (written by
    an older REM, by hand, or by a bulk path that leaves them to this call),
    adding the ids to ``nodes``. Returns how many edges were keyed."""
    row = one(con, "SELECT count(*) FROM edges WHERE source_key IS NULL OR target_key IS NULL")
    missing = int(row[0]) if row else 0
    if not missing:
        return 0
    add_nodes(con, """SELECT id, min(o) AS first FROM (
                           SELECT source_id AS id, rowid * 2 AS o FROM edges WHERE source_key IS NULL
                           UNION ALL SELECT target_id, rowid * 2 + 1 FROM edges WHERE target_key IS NULL) GROUP BY id""")
    run(con, """UPDATE edges SET source_key = n.key FROM nodes n
                WHERE edges.source_key IS NULL AND n.id = edges.source_id""")
    run(con, """UPDATE edges SET target_key = n.key FROM nodes n
                WHERE edges.target_key IS NULL AND n.id = edges.target_id""")
    return missing


def upsert(con: duckdb.DuckDBPyConnection, table_name: str, rows: pa.Table) -> UpsertCounts:
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
    cols = [c for c in rows.column_names if c in t.column_names]
    key = list(t.key)
    compare = [c for c in cols if c not in key and c not in ("updated_at", "created_at")]
    name = f"_rem_batch_{table_name}"
    con.register(name, rows)
    try:
        on = " AND ".join(f'b."{k}" = t."{k}"' for k in key)
        diff = " OR ".join(
            f'CAST(b."{c}" AS {t.column(c).sql_type}) IS DISTINCT FROM t."{c}"' for c in compare
        ) or "FALSE"
        cls = one(
            con,
            f"""SELECT count(*) FILTER (WHERE t."{key[0]}" IS NULL),
                       count(*) FILTER (WHERE t."{key[0]}" IS NOT NULL AND ({diff}))
                FROM {name} b LEFT JOIN "{table_name}" t ON {on}"""
        )
        added, updated = (int(cls[0]), int(cls[1])) if cls else (0, 0)
        col_list = ", ".join(f'"{c}"' for c in cols)
        sel = ", ".join(f'CAST(b."{c}" AS {t.column(c).sql_type})' for c in cols)
        if added:
            run(con,
                f"""INSERT INTO "{table_name}" ({col_list})
                    SELECT {sel} FROM {name} b ANTI JOIN "{table_name}" t ON {on}"""
            )
        if updated:
            sets = ", ".join(f'"{c}" = CAST(b."{c}" AS {t.column(c).sql_type})' for c in cols if c not in key and c != "created_at")
            run(con,
                f"""UPDATE "{table_name}" AS t SET {sets} FROM {name} b
                    WHERE {on} AND ({diff})"""
            )
        return UpsertCounts(added, updated, rows.num_rows - added - updated)
    finally:
        con.unregister(name)
