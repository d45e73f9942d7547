"""The owner of ``resources``: every write of them is here.

Ingestion upserts documents, notes and commits; the dream upserts its
summary resources; a dream's revert deletes and puts back rows by id; an ingest that
removes turns stamps the notes beside them in a moment (:func:`stamp`).
"""

from __future__ import annotations

import pyarrow as pa

from .store.rows import UpsertCounts, replace
from .store.rows import upsert as rows_upsert
from .store.sql import INGESTED_AT, Connection, execute, id_table, registered


def upsert(con: Connection, rows: pa.Table) -> UpsertCounts:
    """Insert new resources and update changed ones, by id (inside the caller's transaction)."""
    return rows_upsert(con, "resources", rows)


def put_rows(con: Connection, rows: pa.Table) -> None:
    """These resource rows exactly as given (an undo), replacing any stored row of the same id."""
    replace(con, "resources", rows)


def stamp(con: Connection, ids: list[str]) -> None:
    """Mark these resources as changed now (``ingested_at``): a moment they are in changed under them (turns beside
    them removed), so a scheduled dream makes their day again."""
    if ids:
        with registered(con, "_rem_stamp_resources", id_table(ids)) as v:
            execute(con, f'UPDATE resources SET "{INGESTED_AT}" = now() WHERE id IN (SELECT id FROM {v})')


def delete_ids(con: Connection, ids_sql: str) -> None:
    """Delete the resources whose id ``ids_sql`` (a one-column query) returns."""
    execute(con, f"DELETE FROM resources WHERE id IN ({ids_sql})")
