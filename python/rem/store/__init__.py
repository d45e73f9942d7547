"""The one package that opens DuckDB.

Everything else in REM asks it for a connection. Its modules:

- :mod:`.files`: where the database lives (``--db`` > ``$REM_DB`` >
  ``$XDG_DATA_HOME/rem/rem.duckdb``, falling back to
  ``~/.local/share/rem/rem.duckdb``, the same path a shell and a systemd user
  unit compute) and what a path holds before DuckDB touches it;
- :mod:`.connection`: read-write connections (schema ensured), read-only
  sandboxed ones for ``rem query`` (external access off, configuration
  locked), kept readers, retrying briefly while a writer holds the file, and
  the gate that makes one process's threads take turns;
- :mod:`.migrate`: creating and migrating the tables from the JSON Schemas
  (:mod:`rem.schema`), the schema version in ``rem_meta``, the SQL macros;
- :mod:`.sql`: the statement helpers every statement goes through —
  :func:`execute` (nothing), :func:`fetch_rows`, :func:`fetch_one`,
  :func:`fetch_value`, :func:`fetch_arrow`, :func:`stream_arrow` — plus
  :func:`registered` (an Arrow table shown to SQL for one block) and
  :func:`transaction` (rolls back on any error);
- :mod:`.rows`: rows typed after a table's schema and the keyed upsert.

Which module *writes* each table is not decided here: every table has one
owner (:mod:`rem.moments`, :mod:`rem.entities`, :mod:`rem.edges`,
:mod:`rem.resources`, :mod:`rem.ledger`, …) that writes it with these helpers.

DuckDB allows one writing process or many reading ones, never both: callers
open, do their work and close. A dream never keeps the file open while it
waits for the model.
"""

from __future__ import annotations

from .connection import Store, attached_read_only, sandbox
from .files import check_file, default_db_path, file_kind, file_signature, resolve_db_path
from .migrate import (
    check_ours,
    check_schema_version,
    ensure_schema,
    get_meta,
    install_macros,
    set_meta,
    stored_version,
)
from .rows import UpsertCounts, arrow_columns, arrow_rows, table_dicts, upsert
from .sql import (
    INGESTED_AT,
    META_TABLE,
    Connection,
    execute,
    explain_db_error,
    fetch_arrow,
    fetch_one,
    fetch_rows,
    fetch_value,
    id_table,
    one_batch,
    registered,
    statements_run,
    stream_arrow,
    stream_rows,
    transaction,
)

__all__ = [
    "INGESTED_AT", "META_TABLE", "Connection", "Store", "UpsertCounts", "arrow_columns", "arrow_rows", "attached_read_only", "check_file",
    "check_ours", "check_schema_version", "default_db_path", "ensure_schema", "execute", "explain_db_error", "fetch_arrow",
    "fetch_one", "fetch_rows", "fetch_value", "file_kind", "file_signature", "get_meta", "id_table", "install_macros",
    "one_batch", "registered", "resolve_db_path", "sandbox", "set_meta", "stored_version", "statements_run", "stream_arrow", "stream_rows", "table_dicts", "transaction", "upsert",
]
