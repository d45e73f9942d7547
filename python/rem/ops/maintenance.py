"""Keeping the activity tables in time order.

Window queries filter on ``created_at``; DuckDB skips row groups by their
min/max statistics, which only works when rows sit in time order (an index
on ``created_at`` is never used for ranges). Ingest appends mostly in time
order; ``rem compact`` restores it fully after out-of-order imports.
"""

from __future__ import annotations

import time

from ..store import Store, execute, fetch_value, transaction
from ..store.rows import rewrite_in_order

ACTIVITY = ("resources", "sessions", "messages")
# edges in source_key order: a traversal level reads only the row groups holding its frontier
SORTED = (*ACTIVITY, "edges")


def compact(store: Store, tables: tuple[str, ...] = SORTED) -> list[tuple[str, int, float]]:
    out = []
    with store.connect() as con:
        for name in tables:
            t0 = time.perf_counter()
            with transaction(con):
                rewrite_in_order(con, name)
            n = fetch_value(con, f'SELECT count(*) FROM "{name}"') or 0
            out.append((name, int(n), time.perf_counter() - t0))
        execute(con, "CHECKPOINT")
    return out
