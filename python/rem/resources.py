"""The owner of ``resources``: every write of them is here.

Ingestion upserts documents, notes and commits; the dream upserts its
summary resources; a dream's revert deletes and puts back rows by id.
"""

from __future__ import annotations

import pyarrow as pa

from .store.rows import UpsertCounts, replace
from .store.rows import upsert as rows_upsert
from .store.sql import Connection, execute


def upsert(con: Connection, rows: pa.Table) -> UpsertCounts:
    """Insert new resources and update changed ones, by id (inside the caller's transaction)."""
    return rows_upsert(con, "resources", rows)


def put_rows(con: Connection, rows: pa.Table) -> None:
    """These resource rows exactly as given (an undo), replacing any stored row of the same id."""
    replace(con, "resources", rows)


def delete_ids(con: Connection, ids_sql: str) -> None:
    """Delete the resources whose id ``ids_sql`` (a one-column query) returns."""
    execute(con, f"DELETE FROM resources WHERE id IN ({ids_sql})")
