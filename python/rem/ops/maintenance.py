"""Keeping the activity tables in time order.

Window queries filter on ``created_at``; DuckDB skips row groups by their
min/max statistics, which only works when rows sit in time order (an index
on ``created_at`` is never used for ranges). Ingest appends mostly in time
order; ``rem compact`` restores it fully after out-of-order imports.
"""

from __future__ import annotations

import time

from .. import schema
from ..store import Store, execute, fetch_value, transaction

ACTIVITY = ("resources", "sessions", "messages")
# edges in source_key order: a traversal level reads only the row groups holding its frontier
SORTED = (*ACTIVITY, "edges")


def compact(store: Store, tables: tuple[str, ...] = SORTED) -> list[tuple[str, int, float]]:
    out = []
    with store.connect() as con:
        for name in tables:
            t = schema.table(name)
            order = ", ".join(f'"{c}"' for c in (t.order_by or t.key))
            t0 = time.perf_counter()
            with transaction(con):
                execute(con, f'CREATE TEMP TABLE _rem_sorted AS SELECT * FROM "{name}" ORDER BY {order}')
                execute(con, f'DELETE FROM "{name}"')
                execute(con, f'INSERT INTO "{name}" SELECT * FROM _rem_sorted')
                execute(con, "DROP TABLE _rem_sorted")
            n = fetch_value(con, f'SELECT count(*) FROM "{name}"') or 0
            out.append((name, int(n), time.perf_counter() - t0))
        execute(con, "CHECKPOINT")
    return out
