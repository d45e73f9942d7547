"""Collect a window of activity as Arrow (one SQL query per table) and pack
it with the Rust core."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from .. import _rem
from ..store import Connection, Store, fetch_arrow, one_batch, registered
from .window import Window

RESOURCES_SQL = """
SELECT id, name, resource_type, content, epoch_us(created_at) AS ts
FROM resources
WHERE created_at >= $start AND created_at < $end AND resource_type <> 'summary'
"""
MESSAGES_SQL = """
SELECT id, session_id, role, content, CAST(tool_calls AS VARCHAR) AS tool_calls, epoch_us(created_at) AS ts
FROM messages
WHERE created_at >= $start AND created_at < $end
"""
# sessions of the window's messages, found through the messages already fetched
# (registered as `_rem_window_messages`) rather than by scanning messages again
SESSIONS_SQL = """
SELECT id, name FROM sessions
WHERE id IN (SELECT session_id FROM _rem_window_messages)
"""


@dataclass
class Activity:
    window: Window
    resources: pa.Table
    sessions: pa.Table
    messages: pa.Table

    @property
    def empty(self) -> bool:
        return self.resources.num_rows == 0 and self.messages.num_rows == 0


@dataclass
class Packed:
    chunks: pa.Table
    items: pa.Table
    segments: pa.Table

    @property
    def est_tokens(self) -> int:
        return int(sum(self.chunks.column("est_tokens").to_pylist())) if self.chunks.num_rows else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "chunks": self.chunks.to_pylist(),
            "segments": self.segments.to_pylist(),
            "refs": self.items.to_pylist(),
        }


def collect(store: Store, window: Window) -> Activity:
    """One read of the database; the connection is closed on return."""
    with store.read(sandbox=False) as con:
        return collect_on(con, window)


def collect_on(con: Connection, window: Window) -> Activity:
    """The three window queries on an open connection."""
    params = {"start": window.start, "end": window.end}
    res = fetch_arrow(con, RESOURCES_SQL, params)
    msg = fetch_arrow(con, MESSAGES_SQL, params)
    with registered(con, "_rem_window_messages", msg.select(["session_id"])):
        ses = fetch_arrow(con, SESSIONS_SQL)
    return Activity(window, res, ses, msg)


def pack(
    activity: Activity,
    *,
    gap_minutes: float = 30.0,
    max_input_tokens: int = 6000,
    max_item_chars: int = 1200,
    tool_max_chars: int = 60,
) -> Packed:
    chunks, items, segments = _rem.pack_activity(
        one_batch(activity.resources),
        one_batch(activity.sessions),
        one_batch(activity.messages),
        gap_minutes=gap_minutes,
        max_input_tokens=max_input_tokens,
        max_item_chars=max_item_chars,
        tool_max_chars=tool_max_chars,
    )
    return Packed(pa.table(chunks), pa.table(items), pa.table(segments))
