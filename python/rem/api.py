"""The Python API for agents that log their own activity.

    db = rem.connect("~/.local/share/rem/rem.duckdb")
    sid = db.add_session(name="Refactor planner")
    db.add_message(sid, role="user", content="Split the packer")
    db.add_resource(content="…", name="plan.md", resource_type="document")

Each call is one transaction and returns the row's id. Without an explicit
``id``, ids derive from the call's identity (time, session, role, name), so a
retried call with the same arguments does not duplicate.
"""

from __future__ import annotations

import hashlib
import logging
import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from .exceptions import QueryError
from .ids import stable_id
from .ingest.common import Batch, write
from .store import Store, fetch_arrow
from .values import check_role, clean_text, parse_time

if TYPE_CHECKING:
    from .config import Settings


def _when(value: Any, field: str) -> datetime:
    if value is None:
        return datetime.now(UTC)
    return parse_time(value, source="api", field=field)


log = logging.getLogger("rem")

class Rem:
    """A handle on one REM database (no connection is held between calls)."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, settings: Settings | None = None) -> None:
        """``settings``: the config (default: the config file, read once, when first needed)."""
        self.store = Store(path, settings=settings)

    @property
    def path(self) -> str:
        return str(self.store.path)

    def add_resource(
        self,
        content: str,
        *,
        name: str | None = None,
        resource_type: str = "note",
        created_at: Any = None,
        uri: str | None = None,
        metadata: dict[str, Any] | None = None,
        user_id: str | None = None,
        id: str | None = None,
    ) -> str:
        when = _when(created_at, "created_at")
        rid = id or stable_id("api-resource", uri or name or hashlib.sha256(content.encode()).hexdigest(), when.isoformat())
        b = Batch()
        b.resources.append({
            "id": rid, "name": clean_text(name, source="api", field="name"), "uri": uri,
            "content": clean_text(content, source="api", field="content", required=True),
            "resource_type": resource_type, "created_at": when, "updated_at": when,
            "user_id": user_id, "metadata": metadata,
        })
        write(self.store, b)
        return rid

    def add_session(
        self,
        *,
        name: str | None = None,
        created_at: Any = None,
        case_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        user_id: str | None = None,
        id: str | None = None,
    ) -> str:
        when = _when(created_at, "created_at")
        sid = id or stable_id("api-session", name or "", when.isoformat())
        b = Batch()
        b.sessions.append({"id": sid, "name": clean_text(name, source="api", field="name"), "case_id": case_id,
                           "user_id": user_id, "created_at": when, "metadata": metadata})
        write(self.store, b)
        return sid

    def add_message(
        self,
        session_id: str,
        *,
        role: str,
        content: str = "",
        created_at: Any = None,
        tool_calls: list[dict[str, Any]] | None = None,
        trace_id: str | None = None,
        span_id: str | None = None,
        speaker: str | None = None,
        id: str | None = None,
    ) -> str:
        """Add a message to a session; ``speaker`` names who said it in a
        conversation of several people (it becomes a person entity)."""
        check_role(role, source="api")
        when = _when(created_at, "created_at")
        mid = id or stable_id("api-message", session_id, when.isoformat(), role,
                              hashlib.sha256((content or "").encode()).hexdigest())
        b = Batch()
        speaker = clean_text(speaker, source="api", field="speaker")
        if speaker:
            b.speaker(session_id, speaker, when)
        b.messages.append({"_source": "api", "id": mid, "session_id": session_id, "role": role, "speaker": speaker or None,
                           "content": clean_text(content, source="api", field="content"),
                           "tool_calls": tool_calls, "trace_id": trace_id, "span_id": span_id, "created_at": when})
        write(self.store, b)
        return mid

    def query(self, sql: str, params: Any = None) -> pa.Table:
        """Run read-only SQL and return a pyarrow Table."""
        import duckdb

        with self.store.read() as con:
            try:
                return fetch_arrow(con, sql, params)
            except duckdb.Error as e:
                raise QueryError(str(e)) from e


    def search(self, query: str, *, schema: str | list[str] = "all", since: str | None = None, until: str | None = None,
               tags: list[str] | tuple[str, ...] = (), people: list[str] | tuple[str, ...] = (),
               types: list[str] | tuple[str, ...] = (), limit: int = 10, explain: bool = False,
               mode: str = "hybrid", read_time: bool = True, spelling: bool = True) -> pa.Table:
        """Hybrid search (as ``rem search``): a pyarrow Table of rank, kind, id,
        time, title, snippet, moment_id, moment, score (and, with ``explain``,
        each ranking's rank and score). What was written before is found: the
        index is brought up to date first. ``read_time``: a time the query names
        ("last week") keeps the results to it when something there matches
        (``rem.search.time_of(table)`` says which). A query naming a speaker of
        the chats ("What did Caroline say …") lifts their messages, and the
        events and moments they are in; a question asking when ("When did …")
        lifts the messages that say a time and the events whose date was said.
        ``spelling``: a misspelt word no item holds ("persue") is read as the
        word a letter away that items do ("pursue"; ``rem.search.spelling_of(table)``
        says which); False searches the words as written."""
        from .search import SearchOptions
        from .search import search as run_search

        kinds = ("moment", "event", "resource", "message", "session") if schema == "all" else \
            tuple(k.rstrip("s") for k in ([schema] if isinstance(schema, str) else schema))
        if mode not in ("hybrid", "lexical", "dense"):
            raise ValueError("mode must be hybrid, lexical or dense")
        t = run_search(self.store, query, SearchOptions(
            kinds=kinds, since=since, until=until, tags=tuple(tags), people=tuple(people), types=tuple(types),
            limit=limit, explain=explain, lexical=mode != "dense", dense=mode != "lexical", read_time=read_time,
            spelling=spelling))
        _say_pending(self.store.path, t)
        return t

    def index(self, *, rebuild: bool = False) -> dict[str, Any]:
        """Bring the search index fully up to date (as ``rem index``): index what is new and embed every item that
        has no vector of the configured model yet (a search embeds 20,000 at most by itself; ingest and dream embed
        all they write). ``rebuild``: build it again from the tables. A dict of ``indexed``, ``embedded``,
        ``removed``, ``pending`` (still not embedded: new writes meanwhile), ``seconds``, ``by_kind``, ``model``."""
        from .search.index import index_all

        return index_all(self.store, rebuild=rebuild)

    def ask(self, question: str, *, model: str | None = None, base_url: str | None = None, local_model: str | None = None,
            limit: int = 8, max_cost: float | None = None, dream: bool = True) -> dict[str, Any]:
        """Answer ``question`` from the memory (as ``rem ask``): a dict of ``answer``, ``found``, ``cited`` (refs),
        ``evidence`` (ref, kind, id, time, text, who, where, moment, the resolved date), ``model``, ``tokens``,
        ``cost``. The model is the one `rem dream` would use unless given; with none, the evidence answers."""
        from .ask import ask
        from .config import NO_MODEL, LLMSettings, resolve_llm

        settings = LLMSettings() if model == NO_MODEL and not base_url and not local_model else \
            resolve_llm(model=model, base_url=base_url, local_model=local_model, file_cfg=self.store.settings.file)
        return ask(self.store, question, settings, limit=limit, max_cost=max_cost, dream_missing=dream).public()


_pending_said: dict[str, int] = {}


def _say_pending(path: Any, t: pa.Table) -> None:
    """Warn (once per database and process, and again when the number grows) that the dense half could not see
    items not embedded yet: a program reading the table alone would not know."""
    from .search import PENDING_RATE, pending_of

    n = pending_of(t)
    if n > _pending_said.get(str(path), 0):
        _pending_said[str(path)] = n
        log.warning("%d indexed items are not embedded yet, so this search found them by their words only; "
                    "Rem.index() embeds them (as `rem index` does), %s", n, PENDING_RATE)


def connect(path: str | os.PathLike[str] | None = None) -> Rem:
    """Open (creating on first write) the REM database at ``path`` (default: ``$REM_DB`` or the XDG path)."""
    return Rem(path)
