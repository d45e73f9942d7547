"""Statements: every SQL statement REM runs goes through these helpers.

:func:`execute` (nothing), :func:`fetch_rows`, :func:`fetch_one`, :func:`fetch_value`,
:func:`fetch_arrow` and :func:`stream_arrow` (the one place that knows DuckDB's Arrow
API), :func:`registered` (an Arrow table shown to SQL for one block) and
:func:`transaction`. DuckDB 2.0 refuses new work on a connection while a
previous result is unfetched; the failpoint counts the statements for the
crash tests."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import duckdb

if TYPE_CHECKING:  # pyarrow loads with the first Arrow result: `rem query` and `rem --help` never need it
    import pyarrow as pa

Connection = duckdb.DuckDBPyConnection

META_TABLE = "rem_meta"
INGESTED_AT = "ingested_at"  # set by upsert on the activity tables; never taken from input
_LOCK_MARKERS = ("could not set lock", "conflicting lock", "lock on file")

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
    import pyarrow as pa

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


def stream_rows(con: Connection, sql: str) -> Connection | None:
    """Run ``sql`` and return the connection positioned on its result, to ``fetchmany`` plain Python rows from
    (None for a statement without a result set): what `rem query` prints, without loading pyarrow."""
    _failpoint()
    cur = con.execute(sql)
    return cur if cur.description is not None else None


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
    import pyarrow as pa

    batches = t.combine_chunks().to_batches()
    return batches[0] if batches else pa.RecordBatch.from_pylist([], schema=t.schema)


def id_table(ids: Any, column: str = "id") -> pa.Table:
    """A one-column string table of ``ids`` (for :func:`registered`)."""
    import pyarrow as pa

    return pa.table({column: pa.array(list(ids), pa.string())})


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
