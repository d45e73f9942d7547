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
  versions) and how to run a transaction that rolls back on any error;
- how to show an Arrow table to SQL for one block (:func:`registered`), and
  the writes every family shares: keyed upserts, entities (one per
  normalized name), edges from ingestion, dense node keys.

Statement helpers say what they return: :func:`execute` (nothing),
:func:`fetch_rows`, :func:`fetch_one`, :func:`fetch_arrow`. Every statement
REM runs goes through them (DuckDB 2.0 refuses new work on a connection
while a previous result is unfetched; the failpoint counts them).

DuckDB allows one writing process or many reading ones, never both: callers
open, do their work and close. A dream never keeps the file open while it
waits for the model.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import re
import shutil
import stat
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from . import schema
from .exceptions import DatabaseBusyError, RemError, SchemaVersionError, StoreError

log = logging.getLogger("rem.store")
Connection = duckdb.DuckDBPyConnection

META_TABLE = "rem_meta"
INGESTED_AT = "ingested_at"  # set by upsert on the activity tables; never taken from input
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
    """SQL statements this process has run through the helpers below."""
    return _statements


def fetch_arrow(con: Connection, sql: str, params: Any = None) -> pa.Table:
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


def stream_arrow(con: Connection, sql: str, batch_rows: int = 10_000, params: Any = None) -> pa.RecordBatchReader | None:
    """Run ``sql`` and return its result as a stream of Arrow batches (None for
    a statement without a result set): a result larger than memory is never
    held whole."""
    _failpoint()
    rel = con.sql(sql) if params is None else con.sql(sql, params=params)
    if rel is None:
        return None
    return rel.to_arrow_reader(batch_rows) if hasattr(rel, "to_arrow_reader") else rel.fetch_arrow_reader(batch_rows)


def fetch_rows(con: Connection, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    """Execute and fetch every row (an empty list for a statement without a result)."""
    _failpoint()
    cur = con.execute(sql, params) if params is not None else con.execute(sql)
    try:
        return cur.fetchall()
    except duckdb.InvalidInputException as e:
        if "result" in str(e).lower() and "pytz" not in str(e):
            return []  # a statement without a result set (older DuckDB versions raise here)
        raise


def execute(con: Connection, sql: str, params: Any = None) -> None:
    """Execute a statement whose result (if any) is not needed."""
    fetch_rows(con, sql, params)


def fetch_one(con: Connection, sql: str, params: Any = None) -> tuple[Any, ...] | None:
    """The first row of a statement's result (the rest is fetched and dropped)."""
    rows = fetch_rows(con, sql, params)
    return rows[0] if rows else None


def fetch_value(con: Connection, sql: str, params: Any = None) -> Any:
    """The first column of the first row (None when there is no row)."""
    row = fetch_one(con, sql, params)
    return row[0] if row else None


@contextlib.contextmanager
def registered(con: Connection, name: str, table: pa.Table | pa.RecordBatch) -> Iterator[str]:
    """Show ``table`` to SQL as the view ``name`` for the block; unregistered
    on exit, also on errors. Yields the name."""
    con.register(name, table)
    try:
        yield name
    finally:
        with contextlib.suppress(duckdb.Error):
            con.unregister(name)


def one_batch(t: pa.Table) -> pa.RecordBatch:
    """A table as one RecordBatch (zero-copy when it already is one chunk), as the Rust core takes it."""
    batches = t.combine_chunks().to_batches()
    return batches[0] if batches else pa.RecordBatch.from_pylist([], schema=t.schema)


def id_table(ids: Any, column: str = "id") -> pa.Table:
    """A one-column string table of ``ids`` (for :func:`registered`)."""
    return pa.table({column: pa.array(list(ids), pa.string())})


def file_signature(path: Path) -> tuple[int, ...]:
    """(size, mtime) of the database file and its WAL: changes whenever anything commits."""
    out: list[int] = []
    for p in (path, path.with_name(path.name + ".wal")):
        try:
            st = p.stat()
            out += [st.st_size, st.st_mtime_ns]
        except OSError:
            out += [-1, -1]
    return tuple(out)


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


def _first_line(e: BaseException) -> str:
    return (str(e).splitlines() or [""])[0]


def _is_read_only_error(exc: BaseException) -> bool:
    msg = str(exc).lower()
    return "read-only file system" in msg or "permission denied" in msg


def _is_lock_error(exc: BaseException) -> bool:
    msg = str(exc).lower()
    return any(m in msg for m in _LOCK_MARKERS)


_MAGIC = {b"SQLite format 3\x00": "a SQLite database", b"PAR1": "a Parquet file", b"PK\x03\x04": "a zip archive",
          b"\x89HDF": "an HDF5 file", b"ARROW1": "an Arrow file", b"\x7fELF": "a program", b"%PDF": "a PDF document"}


def file_kind(mode: int) -> str:
    """What a file system entry is, in words: "a directory", "a FIFO", "a socket", "a device" …"""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a regular file" if stat.S_ISREG(mode) else "not a regular file"


def check_file(path: Path) -> None:
    """Refuse, before DuckDB touches it, a ``--db`` that cannot be a REM
    database: a path that is not UTF-8 (DuckDB takes UTF-8 paths), something
    other than a regular file (a FIFO would hang the open), or a file that is
    not DuckDB's (a SQLite or Parquet file would get an extension hint)."""
    try:
        os.fsencode(path).decode("utf-8")
    except UnicodeDecodeError:
        shown = os.fsencode(path).decode("utf-8", "backslashreplace")
        raise StoreError(f"the database path {shown} is not valid UTF-8, which DuckDB cannot open: "
                         "rename the file or folder (or pick another --db)") from None
    try:
        st = path.stat()
    except FileNotFoundError:
        return
    except OSError as e:
        raise StoreError(f"cannot open database {path}: {e.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise StoreError(f"{path} is {file_kind(st.st_mode)}, not a REM database: point --db (or $REM_DB) at a database file")
    if st.st_size == 0:
        return
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError as e:
        raise StoreError(f"cannot open database {path}: {e.strerror}") from None
    if head[8:12] == b"DUCK":
        return
    what = next((name for magic, name in _MAGIC.items() if head.startswith(magic)), None)
    if what is not None:
        raise StoreError(f"{path} is not a REM database ({what}). REM did not change it. Point --db (or $REM_DB) "
                         "at a REM database, or leave it out to use the default.")
    raise StoreError(f"{path} is not a REM database (not a DuckDB file: its header is not DuckDB's). REM did not "
                     "change it. If it is a REM database that was damaged (overwritten, truncated), move it aside "
                     f"(mv '{path}' '{path}.broken') and restore a backup, or start a new one with `rem init`; "
                     "otherwise point --db (or $REM_DB) at your REM database.")


def _quiet(con: Connection) -> Connection:
    """No progress bar: DuckDB draws one on stdout for a query that runs over 2 s, even into a pipe
    (it corrupted `rem dream --json` on a day of 1M messages; found by the load test)."""
    con.execute("SET enable_progress_bar = false")  # not through execute(): no failpoint at open
    return con


def _open(path: Path, read_only: bool, config: dict[str, Any], wait_s: float) -> duckdb.DuckDBPyConnection:
    check_file(path)
    deadline = time.monotonic() + max(wait_s, 0.0)
    delay = 0.05
    while True:
        try:
            return _quiet(duckdb.connect(str(path), read_only=read_only, config=dict(config)))
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
            if not read_only and _is_read_only_error(e):
                raise StoreError(
                    f"the database {path} cannot be written ({_first_line(e)}). Commands that only read "
                    "(rem query, rem moments, rem report, rem graph) still work; to ingest or dream, make it "
                    f"writable (a read-write mount, or chmod u+w on the file and its folder) or copy it somewhere "
                    f"writable and use --db there.") from e
            raise StoreError(f"cannot open database {path}: {e}{_DAMAGED_HINT.format(path=path)}") from e
        except duckdb.Error as e:
            raise StoreError(f"cannot open database {path}: {e}{_DAMAGED_HINT.format(path=path)}") from e


_DAMAGED_HINT = (
    "\nREM did not change the file. If it is damaged (truncated, overwritten), move it aside "
    "(mv '{path}' '{path}.broken') and restore a backup, or start a new database with `rem init`; "
    "`rem doctor` checks it."
)


class Store:
    """A REM database file. Cheap to create; connections are opened on demand."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, busy_timeout_s: float = 10.0,
                 adopt: bool = False):
        self.path = resolve_db_path(path)
        self.busy_timeout_s = busy_timeout_s
        self.adopt = adopt  # add REM's tables to a DuckDB file another application made

    # -- connections -----------------------------------------------------
    @contextlib.contextmanager
    def connect(self) -> Iterator[Connection]:
        """A read-write connection, schema ensured. Closed on exit."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with _gate.hold(self.path, _WRITER, self.busy_timeout_s):
            con = _open(self.path, False, _BASE_CONFIG, self.busy_timeout_s)
            try:
                check_ours(con, self.path, adopt=self.adopt)
                ensure_schema(con)
                install_macros(con)
                yield con
            finally:
                con.close()

    @contextlib.contextmanager
    def read(self, *, sandbox: bool = True, macros: bool = True) -> Iterator[Connection]:
        """A read-only connection; with ``sandbox`` no file outside the database
        can be read or written and the configuration is locked; ``macros``
        installs REM's SQL helpers (``rem_decay``; they read the config file)."""
        if not self.path.exists():
            # create it (and its tables) once, so queries on a fresh path work
            self.init()
        cfg: dict[str, Any] = dict(_BASE_CONFIG)
        spill = None
        # a sandboxed connection locks its database instance's configuration, so it shares it with nobody
        kind: object = object() if sandbox else _READER
        if sandbox:
            cfg["enable_external_access"] = False
            # DuckDB lets a sandboxed query write into its spill folder (by default
            # `<db>.tmp/`, beside the user's files): give it a private one, removed after
            spill = tempfile.mkdtemp(prefix="rem-query-")
            cfg["temp_directory"] = spill
        try:
            with _gate.hold(self.path, kind, self.busy_timeout_s):
                con = _open(self.path, True, cfg, self.busy_timeout_s)
                try:
                    check_ours(con, self.path)
                    check_schema_version(con)
                    if macros:
                        install_macros(con)
                    if sandbox:
                        execute(con, "SET lock_configuration = true")
                    yield con
                finally:
                    con.close()
        finally:
            if spill:
                shutil.rmtree(spill, ignore_errors=True)

    @contextlib.contextmanager
    def reader(self, linger_s: float = 2.0) -> Iterator[Connection]:
        """A read-only connection (not sandboxed, no macros) that stays open
        for ``linger_s`` after use, so a burst of queries from one process
        (searches from `rem serve`, an agent, a benchmark) pays DuckDB's
        ~15 ms open once. It is reopened when anything was committed since
        (a read-only connection does not see later commits), closed before
        this process writes, and closed when idle so other processes can
        write (their open retries meanwhile)."""
        if not self.path.exists():
            self.init()
        with _lingering.use(self, linger_s) as con:
            yield con

    def init(self) -> bool:
        """Create the database if needed; returns True when it was created."""
        existed = self.path.exists()
        with self.connect() as con:
            execute(con, "CHECKPOINT")  # the tables are on disk before anyone reads
        return not existed


class _Lingering:
    """The kept read-only connections of this process (see :meth:`Store.reader`)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._cons: dict[str, tuple[Connection, tuple[int, ...], float]] = {}  # path -> (con, signature, last use)
        self._reaper: threading.Thread | None = None

    @contextlib.contextmanager
    def use(self, store: Store, linger_s: float) -> Iterator[Connection]:
        with _gate.hold(store.path, _READER, store.busy_timeout_s), self._use(store, linger_s) as con:
            yield con

    @contextlib.contextmanager
    def _use(self, store: Store, linger_s: float) -> Iterator[Connection]:
        key = str(store.path)
        with self._lock:
            sig = file_signature(store.path)
            kept = self._cons.pop(key, None)
            if kept is not None and kept[1] != sig:
                with contextlib.suppress(duckdb.Error):
                    kept[0].close()
                kept = None
            if kept is None:
                con = _open(store.path, True, dict(_BASE_CONFIG), store.busy_timeout_s)
                try:
                    check_ours(con, store.path)
                    check_schema_version(con)
                except BaseException:
                    con.close()
                    raise
            else:
                con = kept[0]
            try:
                yield con
            except BaseException:
                with contextlib.suppress(duckdb.Error):
                    con.close()
                raise
            if linger_s > 0:
                self._cons[key] = (con, sig, time.monotonic() + linger_s)
                self._start_reaper()
            else:
                con.close()

    def _start_reaper(self) -> None:
        if self._reaper is None or not self._reaper.is_alive():
            self._reaper = threading.Thread(target=self._reap, name="rem-reader-reaper", daemon=True)
            self._reaper.start()

    def _reap(self) -> None:
        while True:
            time.sleep(0.25)
            with self._lock:
                now = time.monotonic()
                for key, (con, _sig, until) in list(self._cons.items()):
                    if now >= until:
                        del self._cons[key]
                        with contextlib.suppress(duckdb.Error):
                            con.close()
                if not self._cons:
                    self._reaper = None
                    return

    def close(self, path: Path) -> None:
        with self._lock:
            kept = self._cons.pop(str(path), None)
            if kept is not None:
                with contextlib.suppress(duckdb.Error):
                    kept[0].close()

    def close_all(self) -> None:
        """At exit: close every kept connection while the interpreter is whole
        (a daemon thread closing DuckDB during finalization would crash it)."""
        with self._lock:
            for con, _sig, _until in self._cons.values():
                with contextlib.suppress(duckdb.Error):
                    con.close()
            self._cons.clear()


_lingering = _Lingering()
atexit.register(_lingering.close_all)

_WRITER, _READER = "read-write", "read-only"  # the connection kinds that share a database instance


class _Gate:
    """DuckDB keeps one database instance per file in a process, with one
    configuration, and refuses to open a connection of another configuration
    while one is open ("Can't open a connection to same database file with a
    different configuration"): a writer while a reader is open, or two
    sandboxed readers (each has its own spill folder and a locked
    configuration). Threads of one process (`rem serve`'s requests, the MCP
    tools, a fleet worker) therefore take turns here: readers of one kind
    share the file, another kind waits until they are closed (up to the
    store's busy timeout). Writers take turns too, one thread at a time (a
    thread may nest its own): two edits of one moment from two requests
    would otherwise meet as a transaction conflict. A thread that already
    holds a connection of another kind is told so at once instead of waiting
    for itself."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._held: dict[str, tuple[object, list[int]]] = {}  # path -> (kind, holder threads; one entry per hold)

    @contextlib.contextmanager
    def hold(self, path: Path, kind: object, wait_s: float) -> Iterator[None]:
        key, me = str(path), threading.get_ident()
        deadline = time.monotonic() + max(wait_s, 0.0)
        with self._cond:
            while True:
                held = self._held.get(key)
                if held is None or (held[0] is kind and (kind is not _WRITER or all(h == me for h in held[1]))):
                    break
                if me in held[1] and held[0] is not kind:
                    raise StoreError(f"{path} is already open in this thread with another kind of connection; "
                                     "DuckDB cannot open it twice with different settings (a bug in REM: please report it)")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise DatabaseBusyError(f"database {path} is busy: another thread of this process is using it "
                                            f"(waited {wait_s:.0f}s). Try again.")
                self._cond.wait(remaining)
            if held is None:
                if kind is not _READER:
                    _lingering.close(path)  # this process's kept reader would refuse another configuration
                held = (kind, [])
                self._held[key] = held
            held[1].append(me)
        try:
            yield
        finally:
            with self._cond:
                held[1].remove(me)
                if not held[1]:
                    del self._held[key]
                self._cond.notify_all()


_gate = _Gate()


@contextlib.contextmanager
def transaction(con: Connection) -> Iterator[Connection]:
    """BEGIN … COMMIT, or ROLLBACK on any exception (then re-raised)."""
    execute(con, "BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            execute(con, "ROLLBACK")
        raise
    else:
        execute(con, "COMMIT")


# -- schema ---------------------------------------------------------------
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


def check_schema_version(con: Connection) -> None:
    v = stored_version(con)
    if v is not None and v > schema.schema_version():
        raise SchemaVersionError(
            f"this database has schema version {v}, newer than this REM understands "
            f"({schema.schema_version()}); upgrade REM."
        )


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


@contextlib.contextmanager
def attached_read_only(dbs: dict[str, Path]) -> Iterator[Connection]:
    """An in-memory connection with each database of ``dbs`` (alias -> file)
    attached read-only (`rem fleet query`). Nothing is locked yet: the caller
    builds its views, then calls :func:`sandbox`."""
    # an in-memory database spills to ./.tmp of the current folder: a private spill folder instead, so a
    # sandboxed query cannot write a file there (COPY … TO '.tmp/x.csv')
    spill = tempfile.mkdtemp(prefix="rem-fleet-query-")
    con = _quiet(duckdb.connect(":memory:", config={**_BASE_CONFIG, "temp_directory": spill}))
    try:
        for alias, path in dbs.items():
            if not re.fullmatch(r"[a-z_][a-z0-9_]*", alias):
                raise ValueError(f"bad alias {alias!r}")
            quoted = str(path).replace("'", "''")
            try:
                execute(con, f"ATTACH '{quoted}' AS {alias} (READ_ONLY)")
            except duckdb.Error as e:
                raise StoreError(f"cannot open database {path}: {_first_line(e)}{_DAMAGED_HINT.format(path=path)}") from None
        yield con
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


def sandbox(con: Connection) -> None:
    """Lock ``con`` as `rem query` is locked: no files read or written, no ATTACH, no configuration changes."""
    execute(con, "SET enable_external_access = false")
    execute(con, "SET lock_configuration = true")


def install_macros(con: Connection) -> None:
    """SQL helpers available on every connection REM opens (temporary macros,
    so they work on read-only connections too): ``rem_decay`` and
    ``rem_half_life_hours`` (see :mod:`rem.graph.decay`)."""
    from .config import half_lives
    from .graph.decay import DEFAULT_HALF_LIVES, DEFAULT_OTHER_HALF_LIFE, macro_statements

    try:
        hl, other = half_lives()
    except RemError as e:  # a bad config value: the graph commands report it; queries keep working
        log.warning("%s; rem_decay uses the default half-lives", e)
        hl, other = dict(DEFAULT_HALF_LIVES), DEFAULT_OTHER_HALF_LIFE
    for stmt in macro_statements(hl, other):
        execute(con, stmt)


# -- rows -----------------------------------------------------------------
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


def upsert_entities(con: Connection, rows: list[dict[str, Any]]) -> UpsertCounts:
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
    return upsert(con, "entities", arrow_rows("entities", merged))


def insert_missing_edges(con: Connection, edges: list[dict[str, Any]]) -> int:
    """Insert edges (full rows) whose (source, target, type) is not stored
    yet, keyed; stored ones are left as they are. Returns how many were added."""
    before = fetch_value(con, "SELECT count(*) FROM edges") or 0
    with registered(con, "_rem_new_edges", arrow_rows("edges", edges)):
        execute(
            con,
            """INSERT INTO edges BY NAME
               SELECT DISTINCT ON (source_id, target_id, edge_type) *
               FROM _rem_new_edges n
               WHERE NOT EXISTS (SELECT 1 FROM edges e WHERE e.source_id = n.source_id
                                 AND e.target_id = n.target_id AND e.edge_type = n.edge_type)"""
        )
    after = fetch_value(con, "SELECT count(*) FROM edges") or 0
    key_edges(con)
    return int(after - before)


# -- node keys --------------------------------------------------------------
NEW_NODES_SQL = """INSERT INTO nodes (id, key)
    SELECT id, (SELECT coalesce(max(key) + 1, 0) FROM nodes) + row_number() OVER (ORDER BY first) - 1
    FROM ({ids}) ANTI JOIN nodes USING (id)"""


def add_nodes(con: Connection, ids_sql: str) -> None:
    """Give a dense integer key to each id of ``ids_sql`` (a query with
    columns ``id`` and ``first``, one row per id, ``first`` ordering new keys)
    that has none yet. Keys continue after the largest one and are never reused."""
    execute(con, NEW_NODES_SQL.format(ids=ids_sql))


def key_edges(con: Connection) -> int:
    """Fill ``source_key``/``target_key`` of edges that lack them (written by
    an older REM, by hand, or by a bulk path that leaves them to this call),
    adding the ids to ``nodes``. Returns how many edges were keyed."""
    missing = int(fetch_value(con, "SELECT count(*) FROM edges WHERE source_key IS NULL OR target_key IS NULL") or 0)
    if not missing:
        return 0
    add_nodes(con, """SELECT id, min(o) AS first FROM (
                           SELECT source_id AS id, rowid * 2 AS o FROM edges WHERE source_key IS NULL
                           UNION ALL SELECT target_id, rowid * 2 + 1 FROM edges WHERE target_key IS NULL) GROUP BY id""")
    execute(con, """UPDATE edges SET source_key = n.key FROM nodes n
                    WHERE edges.source_key IS NULL AND n.id = edges.source_id""")
    execute(con, """UPDATE edges SET target_key = n.key FROM nodes n
                    WHERE edges.target_key IS NULL AND n.id = edges.target_id""")
    return missing
