"""REM for agents: a Model Context Protocol server (`rem mcp`).

Built with the official MCP Python SDK (``mcp``, ``pip install 'rem[mcp]'``).
Over stdio, an agent (Claude Desktop, Claude Code, Cursor, any MCP client)
asks REM about its owner's past work: search it, read the moments of a day,
open one moment with its sources, walk the graph from a topic or person,
run read-only SQL, log new activity, and see how the dreams are doing.

The tools read the database the way ``rem query`` does (read-only, closed
between calls, so a dream and the server share the file); ``log_activity``
writes one message or resource in its own short transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from . import moments as moments_mod
from . import schema
from .api import Rem
from .exceptions import RemError
from .output import rows_of
from .store import Store

MAX_BYTES = 4_000_000  # of one query's answer (as JSON): an agent's context, not a dump
MAX_ROWS = 500  # a query tool's answer: an agent reads it, it must stay small
MAX_TEXT = 2000  # characters of one source's text in `moment`

INSTRUCTIONS = """REM remembers its owner's work: chats, notes, commits and documents, turned each night into
moments (named episodes with a time span, topics, people, emotions and an outcome) linked in a graph.
Ask it questions with `ask` ("when did we decide X?", "summarize my week"): the answer comes with its
evidence and dates resolved. `search` finds items ("the flaky test"); `moments` lists a day or a range; open one with `moment` to read its sources. Times are ISO 8601 (UTC unless an offset is given)."""


def _capped(reader: Any) -> tuple[list[dict[str, Any]], bool]:
    """At most ``MAX_ROWS`` rows and ``MAX_BYTES`` of JSON from a stream of Arrow batches: (rows, too big)."""
    rows: list[dict[str, Any]] = []
    size = 0
    for b in reader:
        if size + b.nbytes > 2 * MAX_BYTES:
            return rows, True
        for r in _plain(rows_of(pa.Table.from_batches([b]))):
            size += len(json.dumps(r, ensure_ascii=False, default=str))
            if size > MAX_BYTES:
                return rows, True
            rows.append(r)
            if len(rows) >= MAX_ROWS:
                return rows, False
    return rows, False


def _plain(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return json.loads(json.dumps(rows, default=str))


def _clear_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A tool whose expected failures (a bad id, refused SQL, a bad date) reach the agent as one clear
    message (the SDK's ToolError) rather than as an unexpected error."""
    import functools

    import duckdb
    from mcp.server.mcpserver.exceptions import ToolError

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except RemError as e:
            raise ToolError(str(e)) from None
        except duckdb.Error as e:
            msg = str(e)
            raise ToolError("read-only: " + msg if "read-only" in msg else msg) from None

    return wrapper


def build(store: Store, loaded_graph: Callable[[], Any] | None = None) -> Any:
    """The MCP server for ``store`` (an ``mcp.server.mcpserver.MCPServer``);
    ``loaded_graph`` (rem serve's warm graph) makes ``traverse`` answer from memory."""
    from mcp.server.mcpserver import MCPServer

    server = MCPServer(name="rem", instructions=INSTRUCTIONS, log_level="WARNING")
    db = Rem(store.path)
    tool = server.tool

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        return tool()(_clear_errors(fn))

    @register
    def search(query: str, schema: str = "all", since: str | None = None, until: str | None = None,
               limit: int = 10) -> list[dict[str, Any]]:
        """Search everything REM remembers — moments, documents, notes, commits, chat messages and
        sessions — by words and by meaning at once (a question phrased differently from the answer is
        still found). `schema`: all, moments, events (what happened, with its date), resources, messages or sessions. `since`/`until`: ISO
        dates or times. A misspelt word no item holds is searched as the word a letter away that items
        hold ("persue" as "pursue"; the snippets mark what matched). Each result has its kind, id, time,
        title, a snippet with matches in «», and the moment it belongs to (moment_id, moment)."""
        t = db.search(query, schema=schema, since=since, until=until, limit=max(1, min(int(limit), 50)))
        return _plain(rows_of(t))

    @register
    def ask(question: str, use_model: bool = False, limit: int = 8) -> dict[str, Any]:
        """Ask the owner's memory a question ("When did I last go to the support group?", "What did
        Alice decide about the index?", "summarize my week"). REM searches messages, documents,
        events and moments and answers from the best evidence: the event or sentence, who said it,
        when, and the date it names resolved ("yesterday" said on 8 May is 7 May); "when" questions
        get the date first. Returns answer, found, cited (refs) and the evidence (ref, kind, id,
        time, text, who, where, moment, date). `use_model`: let the model `rem dream` uses write
        the answer, citing evidence refs (default: no model, the evidence answers)."""
        if use_model:
            return db.ask(question, limit=max(1, min(int(limit), 20)))
        return db.ask(question, model="none", limit=max(1, min(int(limit), 20)))

    @register
    def review(action: str = "list", id: str | None = None) -> dict[str, Any]:
        """The moments a dream left waiting for the owner's review (dreams run with --review, or
        [dream] review = true): `list` them (id, time, name, type, topics, people, summary), or
        `accept` or `reject` one by its id (or its first 8 characters). Accepted moments feed the
        graph; rejected ones are deleted and not proposed again. Ask the owner before deciding."""
        from .review import accept, pending, reject

        if action == "list":
            return {"pending": _plain(pending(store, limit=200))}
        if action not in ("accept", "reject") or not id:
            from .exceptions import CorrectionError

            raise CorrectionError("action is list, accept or reject; accept and reject need the moment's id")
        r = (accept if action == "accept" else reject)(store, [id])
        return {"accepted": r.accepted, "rejected": r.rejected}

    @register
    def moments(day: str | None = None, since: str | None = None, until: str | None = None, tag: str | None = None,
                limit: int = 50) -> list[dict[str, Any]]:
        """The moments (episodes of work) of one day (`day`: YYYY-MM-DD, "today" or "yesterday") or of a
        range (`since`, `until`: ISO dates or times; default the last 7 days), oldest first, optionally
        only those with the topic `tag`. Each has id, name, summary, start and end, type, tags (topics),
        people, emotions and outcome."""
        from .days import day_window, parse_day
        from .values import parse_time

        end: datetime | None
        if day:
            try:
                start, end = day_window(parse_day(day))
            except (ValueError, OverflowError):
                raise RemError(f"day {day!r}: use YYYY-MM-DD (up to 9999-12-30), today or yesterday") from None
        else:
            start = parse_time(since, source="since", field="value") if since else datetime.now(UTC) - timedelta(days=7)
            end = parse_time(until, source="until", field="value") if until else None
        with store.read() as con:
            t = moments_mod.between(con, start, end, tags=(tag,) if tag else (), limit=max(1, min(int(limit), 500)))
        return _plain(rows_of(t))

    @register
    def moment(id: str) -> dict[str, Any]:
        """One moment in full: its fields, the messages, notes, commits and documents it was made from
        (their text, shortened), the topics and people it links to, the dream run that wrote it, and the
        owner's corrections of it. `id`: the moment's id or its first 8 characters."""
        from .corrections import history, resolve

        with store.read() as con:
            mid = resolve(con, id)
            row = moments_mod.one(con, mid) or {}
            sources = moments_mod.sources(con, row, max_text=MAX_TEXT, limit=200)
            links = [{k: v for k, v in r.items() if k != "id"} for r in moments_mod.links(con, mid)]
        keep = [c for c in schema.field_names("moments", "journal") if c != "metadata"]
        out = {k: row.get(k) for k in keep}
        out["events"] = moments_mod.events_of(row)
        out.update({"sources": sources, "links": links, "corrections": history(store, mid)})
        return _plain([out])[0]

    @register
    def traverse(start: str, depth: int = 2, edge_types: list[str] | None = None, direction: str = "both") -> list[dict[str, Any]]:
        """Walk REM's graph breadth-first from a topic, a person or any node (`start`: an entity's name such
        as "diskann" or "Alice Chen", or an id), up to `depth` hops (1–4), optionally along some edge
        types only (about, involves, contains, captured_in, related_to, authored_by, summarizes). Each
        reached node comes with its kind, label, depth and one shortest path."""
        from . import graph as g

        d = max(1, min(int(depth), 4))
        if loaded_graph is not None:
            lg = loaded_graph()
            t = g.traverse_loaded(store, lg, lg.directory(store).resolve(start), depth=d,
                                  edge_types=list(edge_types or []), direction=direction, min_weight=0.0)
        else:
            t = g.traverse(store, g.resolve_start(store, start), depth=d, edge_types=list(edge_types or []),
                           direction=direction, min_weight=0.0)
        return _plain(rows_of(t.slice(0, MAX_ROWS)))

    @register
    def query(sql: str) -> list[dict[str, Any]]:
        """Run one read-only SQL statement (DuckDB dialect) against REM's tables: moments, resources,
        sessions, messages, entities, edges, dream_runs, moment_edits. Writes, file access and settings are
        refused. At most 500 rows come back: aggregate or LIMIT. rem_decay(weight, reinforced_at,
        edge_type) gives an edge's weight today."""
        from .store import stream_arrow

        with store.read() as con:
            reader = stream_arrow(con, sql, batch_rows=32)  # small batches: a huge answer is refused early
            if reader is None:
                return []
            try:
                rows, too_big = _capped(reader)
            finally:
                reader.close()  # a reader left open keeps the file's database instance alive in this process
        if too_big:
            raise RemError(f"the answer is over {MAX_BYTES // 1_000_000} MB after {len(rows)} row(s): select fewer "
                           "or shorter columns (left(content, 200)), aggregate, or LIMIT")
        return rows

    @register
    def log_activity(content: str, kind: str = "message", session: str | None = None, role: str = "assistant",
                     name: str | None = None, resource_type: str = "note", created_at: str | None = None) -> dict[str, Any]:
        """Record something that happened, so tonight's dream makes it part of a moment: a chat message
        (`kind` "message": `content`, `session` — a name for the thread, same name same thread —, `role`
        user/assistant/system/tool) or a resource (`kind` "resource": `content`, `name`, `resource_type`
        such as note, document, decision). `created_at`: ISO time (default now). Returns the new id."""
        from .exceptions import RemError

        if kind == "message":
            from .ids import stable_id

            thread = " ".join((session or "agent").split()) or "agent"
            sid = db.add_session(name=thread, id=stable_id("agent-session", thread))
            return {"id": db.add_message(sid, role=role, content=content, created_at=created_at), "session_id": sid}
        if kind == "resource":
            return {"id": db.add_resource(content, name=name, resource_type=resource_type, created_at=created_at)}
        raise RemError(f"kind {kind!r}: use \"message\" or \"resource\"")

    @register
    def dream_status() -> dict[str, Any]:
        """How REM's nightly dreaming is doing: the latest runs (status, window, counts, cost, errors), the
        schedule (installed, next run), and `rem doctor`'s checks."""
        from . import ledger
        from .ops import schedule as sch
        from .ops.doctor import run_checks

        with store.read() as con:
            runs = rows_of(ledger.recent(con, 10))
        return _plain([{"runs": runs, "schedule": sch.status(user=True),
                        "checks": [{"level": lv, "check": n, "message": m} for lv, n, m in run_checks(store)]}])[0]

    return server


def serve_stdio(store: Store) -> None:
    build(store).run("stdio")


def http_app(store: Store, token: str | None = None, host: str = "127.0.0.1", allowed_hosts: tuple[str, ...] = ()) -> Any:
    """The streamable-HTTP MCP app (Starlette) at ``/mcp`` for a server bound to ``host``: it answers the
    host names of :func:`rem.hosts.allowed_hosts` (421 otherwise); with ``token`` every request must carry
    ``Authorization: Bearer <token>`` (compared in constant time, any characters)."""
    import hmac

    from .hosts import mcp_security

    app = build(store).streamable_http_app(host=host, transport_security=mcp_security(host, allowed_hosts))
    if not token:
        return app
    inner = app

    async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            auth = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(auth, f"Bearer {token}".encode("utf-8", "surrogatepass")):
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"text/plain"), (b"www-authenticate", b"Bearer")]})
                await send({"type": "http.response.body", "body": b"a bearer token is required"})
                return
        await inner(scope, receive, send)

    return guarded


def serve_http(store: Store, host: str, port: int, token: str | None = None, allowed_hosts: tuple[str, ...] = ()) -> None:
    import uvicorn

    uvicorn.run(http_app(store, token, host, allowed_hosts), host=host, port=port, log_level="warning")
