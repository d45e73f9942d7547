"""Opening the file: read-write connections (schema ensured), sandboxed
read-only ones for `rem query`, kept readers, and the gate that makes the
threads of one process take turns (DuckDB keeps one configuration per file
in a process)."""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from .. import schema

if TYPE_CHECKING:
    from ..config import Settings
from ..exceptions import DatabaseBusyError, StoreError
from .files import check_file, file_signature, resolve_db_path
from .migrate import check_ours, check_schema_version, ensure_schema, install_macros, stored_version
from .sql import Connection, _first_line, _is_lock_error, _is_read_only_error, execute

log = logging.getLogger("rem.store")

# Settings applied to every connection REM opens (no run-time downloads).
_BASE_CONFIG = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}
# REM's own connections (ingest, dream, search index, web view, MCP) keep DuckDB's buffer cache to this size:
# DuckDB would otherwise keep every block it read or wrote, up to 80% of the machine's memory (a dream of a
# million messages: +1 GB of cache while the search index is written). What does not fit is spilled to
# `<db>.tmp/` and read back. A user's `rem query` keeps DuckDB's own limit (its sandbox spills to a private folder).
_OWN_CONFIG = {**_BASE_CONFIG, "memory_limit": "512MB"}


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
                 adopt: bool = False, settings: Settings | None = None):
        self.path = resolve_db_path(path)
        self.busy_timeout_s = busy_timeout_s
        self.adopt = adopt  # add REM's tables to a DuckDB file another application made
        self._settings = settings

    @property
    def settings(self) -> Settings:
        """The settings this store was opened with (an entry point resolves them once and passes them; a
        Store made without them reads the config file on first use, once)."""
        if self._settings is None:
            from ..config import Settings

            self._settings = Settings.load()
        return self._settings

    # -- connections -----------------------------------------------------
    @contextlib.contextmanager
    def connect(self) -> Iterator[Connection]:
        """A read-write connection, schema ensured. Closed on exit."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with _gate.hold(self.path, _WRITER, self.busy_timeout_s):
            con = _open(self.path, False, _OWN_CONFIG, self.busy_timeout_s)
            try:
                check_ours(con, self.path, adopt=self.adopt)
                ensure_schema(con)
                install_macros(con, self.settings.half_lives_or_defaults())
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
        cfg: dict[str, Any] = dict(_BASE_CONFIG if sandbox else _OWN_CONFIG)
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
            for attempt in (1, 2):
                older = False
                with _gate.hold(self.path, kind, self.busy_timeout_s):
                    con = _open(self.path, True, cfg, self.busy_timeout_s)
                    try:
                        check_ours(con, self.path)
                        v = check_schema_version(con)
                        older = attempt == 1 and v is not None and v < schema.schema_version()
                        if not older:
                            if macros:
                                install_macros(con, self.settings.half_lives_or_defaults())
                            if sandbox:
                                execute(con, "SET lock_configuration = true")
                            yield con
                    finally:
                        con.close()
                if not older:
                    break
                self._upgrade()  # a file an older REM wrote: its new tables and columns, then read
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
        key = str(self.path)
        if key not in _current:
            with _lingering.use(self, 0) as con:
                older = _older(con)
            if older:
                self._upgrade()
            _current.add(key)
        with _lingering.use(self, linger_s) as con:
            yield con

    def _upgrade(self) -> None:
        """Migrate a file an older REM wrote (new tables and columns), so reading it sees what this REM reads.
        On a file that cannot be written, reading goes on as it is (what it lacks is said where it is used)."""
        try:
            self.init()
        except StoreError as e:
            log.warning("%s was written by an older REM and cannot be upgraded here (%s); reading it as it is",
                        self.path, str(e).splitlines()[0])

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
                con = _open(store.path, True, dict(_OWN_CONFIG), store.busy_timeout_s)
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


def _older(con: Connection) -> bool:
    """The file was written by an older REM (its schema version is lower than this REM's)."""
    v = stored_version(con)
    return v is not None and v < schema.schema_version()


_current: set[str] = set()  # files this process has seen at its schema version (Store.reader checks once)
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
