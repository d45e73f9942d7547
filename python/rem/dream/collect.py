"""Collect a window of activity as Arrow (one SQL query per table) and pack
it with the Rust core."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from .. import _rem
from ..entities import owner_names
from ..store import Connection, Store, fetch_arrow, fetch_rows, one_batch, registered
from .window import Window

RESOURCES_SQL = """
SELECT id, name, resource_type, content, epoch_us(created_at) AS ts, CAST(metadata AS VARCHAR) AS metadata
FROM resources
WHERE created_at >= $start AND created_at < $end AND resource_type <> 'summary'
"""
MESSAGES_SQL = """
SELECT id, session_id, role, content, CAST(tool_calls AS VARCHAR) AS tool_calls, epoch_us(created_at) AS ts, speaker
FROM messages
WHERE created_at >= $start AND created_at < $end
"""
# the owner's history around the window (up to 90 days on each side, a fixed
# pseudo-random sample): the background key phrases are weighed against
HISTORY_SQL = """
SELECT text FROM (
    SELECT content AS text, hash(id) AS h FROM messages
    WHERE role IN ('user', 'assistant') AND (created_at < $start OR created_at >= $end)
      AND created_at >= $start - INTERVAL 90 DAY AND created_at < $end + INTERVAL 90 DAY
    UNION ALL
    SELECT coalesce(name, '') || '. ' || coalesce(content, ''), hash(id) FROM resources
    WHERE resource_type <> 'summary' AND (created_at < $start OR created_at >= $end)
      AND created_at >= $start - INTERVAL 90 DAY AND created_at < $end + INTERVAL 90 DAY)
ORDER BY h LIMIT 2000
"""
# the owner's topics so far: tags of earlier moments (topic entities) and of their notes
TOPICS_SQL = """
SELECT name FROM entities WHERE kind = 'topic'
UNION SELECT DISTINCT unnest(CAST(json_extract(metadata, '$.tags') AS VARCHAR[])) FROM resources
WHERE json_type(metadata, '$.tags') = 'ARRAY'
LIMIT 5000
"""
# people the store knows (name and aliases), for recognizing them in text
PEOPLE_SQL = "SELECT name, aliases FROM entities WHERE kind = 'person'"
# sessions of the window's messages, found through the messages already fetched
# (registered as `_rem_window_messages`) rather than by scanning messages again
SESSIONS_SQL = """
SELECT id, name, metadata->>'source' AS source, metadata->>'ends_at' AS ends_at FROM sessions
WHERE id IN (SELECT session_id FROM _rem_window_messages)
"""


@dataclass
class Activity:
    window: Window
    resources: pa.Table
    sessions: pa.Table
    messages: pa.Table
    history: list[str] = field(default_factory=list)  # texts around the window, for key-phrase weights
    people: dict[str, list[str]] = field(default_factory=dict)  # known person name -> aliases
    topics: list[str] = field(default_factory=list)  # the owner's topics so far (moment and note tags)
    owner: list[str] = field(default_factory=list)  # the owner's names (never "people" of a moment)

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


def collect(store: Store, window: Window, *, owner: list[str] | None = None) -> Activity:
    """One read of the database; the connection is closed on return.
    ``owner``: the owner's names (default: the config file's ``[owner] names``,
    else the author of most commits)."""
    with store.read(sandbox=False) as con:
        act = collect_on(con, window)
        if act.empty:
            return act
        act.history = [r[0] for r in fetch_rows(con, HISTORY_SQL, {"start": window.start, "end": window.end}) if r[0]]
        act.people = {name: list(aliases or []) for name, aliases in fetch_rows(con, PEOPLE_SQL)}
        act.topics = [r[0] for r in fetch_rows(con, TOPICS_SQL) if isinstance(r[0], str)]
        act.owner = owner if owner is not None else owner_names(con, store.settings.section("owner").get("names"))
    return act


def collect_on(con: Connection, window: Window) -> Activity:
    """The three window queries on an open connection."""
    params = {"start": window.start, "end": window.end}
    # one chunk each: the extraction takes a segment's rows at a time, and a take over chunks costs ten times more
    res = fetch_arrow(con, RESOURCES_SQL, params).combine_chunks()
    msg = fetch_arrow(con, MESSAGES_SQL, params).combine_chunks()
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
    **topics: Any,
) -> Packed:
    """Segment and pack the activity in the Rust core; ``topics``:
    ``topic_segments``, ``topic_window``, ``topic_min_depth`` (see ``rem._rem.pack_activity``)."""
    chunks, items, segments = _rem.pack_activity(
        one_batch(activity.resources),
        one_batch(activity.sessions),
        one_batch(activity.messages),
        gap_minutes=gap_minutes,
        max_input_tokens=max_input_tokens,
        max_item_chars=max_item_chars,
        tool_max_chars=tool_max_chars,
        **topics,
    )
    return Packed(pa.table(chunks), pa.table(items), pa.table(segments))
