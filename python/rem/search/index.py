"""The search index: a lexical index beside the database and embeddings in it.

Searchable items are moments, their events (what happened, with its date),
resources (not the dream's period summaries), messages and sessions. For each, ``search_index`` (a DuckDB table) holds the
digest of the text that was indexed and its embedding; the lexical index
(tantivy, BM25) lives in ``<db>.search/``. Both are derived: :func:`sync`
brings them in step with the tables — new and changed activity found by
when REM stored it (``ingested_at``, with a margin so a transaction that
committed late is not missed), moments by digest (their table is small),
deleted moments removed (and messages, resources and sessions no longer
in their tables: an edited conversation's old branch), a changed embedding model re-embedded batch by
batch — and runs after every ingest and dream and before every search, so
what was committed is searchable at once. A missing or damaged lexical
index is rebuilt from the tables.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .. import _rem, schema
from ..exceptions import DatabaseBusyError, RemError
from ..output import Progress
from ..store import (
    Connection,
    Store,
    execute,
    fetch_arrow,
    fetch_rows,
    fetch_value,
    file_kind,
    file_signature,
    get_meta,
    registered,
    set_meta,
    stream_arrow,
    table_dicts,
    transaction,
)
from .embed import Embedder
from .text import MAX_INDEXED_CHARS, MAY_HOLD_IDENTIFIER, analyze

log = logging.getLogger("rem.search")

KINDS = ("moment", "event", "resource", "message", "session")
MARK_KEY = "search.activity_mark"
VERSION_KEY, VERSION = "search.index_version", "9"  # a change to what is indexed, or how, rebuilds the index
MARGIN = timedelta(minutes=10)  # re-read this much before the mark: a transaction may commit after a later one
BATCH = 4096
# A message's context (its neighbours, its events) weighs 0.3 of its own words in the lexical ranking; it is not
# embedded (WordLlama's average of a turn and its neighbours found less on DialogSum dev: R@5 0.736 → 0.722).
CONTEXT_BOOST = 0.3
# the rows a search's own sync embeds at most (~20 s with all-MiniLM-L6-v2 on two cores), and none indexed before:
# a search after a large write that bypassed REM's ingest and dream (which embed everything) answers in seconds,
# the rest found by their words until `rem index` embeds them
QUERY_EMBED_LIMIT = 20_000
SLICE = 16_384  # rows read, analyzed, embedded and quantized at a time
COMMIT_SLICES = 4  # slices a sync commits together at most (the table's rows and the lexical index)
COMMIT_SECONDS = 5.0  # and at least this often, so a stopped sync loses little (a slice embeds in ~15 s with MiniLM)

# The words people use for each moment type, indexed with the moment ("when did I fix …" finds debugging,
# "… implementation" deep work): REM's own vocabulary said the way a person asks.
TYPE_WORDS = {
    "deep_work": "implementation implementing building coding", "debugging": "bug fix fixing debugging error failure",
    "learning": "reading research study paper learning", "meeting": "meeting discussion call sync talked",
    "writing": "writing documentation docs draft", "planning": "planning plan roadmap priorities decision",
    "review": "review reviewing feedback", "communication": "conversation chat messages talked",
    "infrastructure": "infrastructure ops deployment pipeline setup", "work_session": "work session",
}
_TYPE_CASE = "CASE moment_type " + " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in TYPE_WORDS.items()) + " ELSE moment_type END"



def _moment_text() -> tuple[str, str, str]:
    """A moment's (title, body, topics) SQL, from the fields the schema marks ``search`` (title, topics, or a
    part of the body in ``search_order``): a list field is joined, the type said in people's words."""
    def sql(f: Any) -> str:
        kind = schema.table("moments").column(f.name).kind
        if f.get("edit") == "type":
            return _TYPE_CASE
        return f"array_to_string({f.name}, ', ')" if kind == "list" else f.name

    found = schema.fields("moments", "search")
    part = {p: [sql(f) for f in found if f["search"] == p] for p in ("title", "topics")}
    body = [sql(f) for f in sorted((f for f in found if f["search"] == "body"), key=lambda f: f.get("search_order", 99))]
    def joined(parts: list[str], sep: str) -> str:
        return "NULL" if not parts else parts[0] if len(parts) == 1 else f"concat_ws({sep}, {', '.join(parts)})"

    return joined(part["title"], "' '"), f"concat_ws(chr(10), {', '.join(body)})" if body else "NULL", joined(part["topics"], "', '")


_MOMENT_TITLE, _MOMENT_BODY, _MOMENT_TOPICS = _moment_text()
_TEXT = {  # kind: (title, body, topics, time, table, condition)
    "moment": (_MOMENT_TITLE, _MOMENT_BODY, _MOMENT_TOPICS, "start_time", "moments", "TRUE"),
    "resource": ("name", f"left(content, {MAX_INDEXED_CHARS})", "NULL", "created_at", "resources", "resource_type <> 'summary'"),
    "message": ("NULL", f"concat_ws(': ', speaker, left(content, {MAX_INDEXED_CHARS}))", "NULL", "created_at", "messages", "TRUE"),
    "session": ("name", "NULL", "NULL", "created_at", "sessions", "TRUE"),
    # what happened, one row per event of a moment: its text and the date it resolved, found by itself
    "event": ("_moment", "concat_ws(' ', json_extract_string(_e, '$.text'), json_extract_string(_e, '$.date'))", "NULL",
              "coalesce(TRY_CAST(json_extract_string(_e, '$.at') AS TIMESTAMPTZ), _start)", "events", "TRUE"),
}
# the events of every moment, each with an id of its own: <moment id>/<position>
_EVENTS = """(SELECT mo.id || '/' || e.key AS id, mo.id AS moment_id, mo.name AS _moment, e.value AS _e, mo.start_time AS _start
              FROM moments mo, json_each(mo.events) e WHERE mo.events IS NOT NULL)"""
CONTEXT_CHARS = 300  # of each neighbouring turn, indexed as a message's context
# A message's context: the turns just before and after it in its session (a question's words are often split
# between a turn and its answer: "Where did you go?" / "To the support group"), and what the dream said happened
# in it (its events: who, and the date resolved). Searched with a lower weight than the message's own words.
_MESSAGE_CONTEXT = f"concat_ws(chr(10), left(x._prev, {CONTEXT_CHARS}), left(x._next, {CONTEXT_CHARS}), x._events)"
# What a model that reads a text whole (:attr:`.embed.Embedder.pairs`) embeds for a message with a turn after it in
# its session: the two turns together, so a question whose words are split between a turn and its reply ("What
# did Melanie paint?" of "What have you been painting?" / "A lake at sunrise") meets them in one vector; a match
# of it is a match of both turns (``pair_next``, :func:`vectors`; the reply is lent most of it). Chosen on DialogSum
# dev's "fact" set (bench/search/heldout.py; a fact asked of the turn or two holding it): R@5 0.503 → 0.554
# (BENCHMARKS.md §7, session 28). A turn costs about twice the embedding. The query gives only the reply (its
# first REPLY_CHARS, as "speaker: text") and :func:`_indexed` puts the message's own text before it: the two turns
# whole in the query's rows and digest held ~50 MB more at 300,000 messages (the load day peaked at 1,540 MB). The
# digest holds the reply as embedded (its id, its speaker, its first REPLY_CHARS): a reply edited or given another
# speaker embeds the message before it again. A tool's output or a system prompt is no one's reply: a turn next to
# one is embedded alone.
_PAIRED = "x._next_id IS NOT NULL AND x.role IN ('user', 'assistant') AND x._next_role IN ('user', 'assistant')"
REPLY_CHARS = 600  # of the turn after a message, embedded with it (the model reads ~1,000 characters in all)
_MESSAGE_PAIR = f"CASE WHEN {_PAIRED} THEN concat_ws(': ', x._next_speaker, left(x._next, {REPLY_CHARS})) END"


def _messages_with_neighbours(where: str) -> str:
    """The messages of the sessions holding a row that passes ``where``, each with the turns before and after it
    and the events the dream found in it (their text and resolved date)."""
    touched = "" if where.strip() == "TRUE" else \
        f"WHERE coalesce(x.session_id, '') IN (SELECT coalesce(x.session_id, '') FROM messages x WHERE ({where}))"
    return f"""(SELECT x.*, lag(x.content) OVER w AS _prev, lead(x.content) OVER w AS _next, lead(x.id) OVER w AS _next_id,
                       lead(x.speaker) OVER w AS _next_speaker, lead(x.role) OVER w AS _next_role, ev.events AS _events
                FROM messages x LEFT JOIN (
                    SELECT json_extract_string(e.value, '$.source_id') AS source_id,
                           string_agg(concat_ws(' ', json_extract_string(e.value, '$.text'),
                                                json_extract_string(e.value, '$.date')), chr(10)) AS events
                    FROM moments mo, json_each(mo.events) e WHERE mo.events IS NOT NULL GROUP BY 1) ev ON ev.source_id = x.id
                {touched}
                WINDOW w AS (PARTITION BY x.session_id ORDER BY x.created_at, x.id))"""


def items_sql(kind: str, where: str = "TRUE", *, text: bool = True) -> str:
    """(id, kind, item_id, title, body, topics, context, ts, digest) of one kind's searchable rows (topics: a
    moment's tags; context: a message's neighbouring turns and events; an event's item id is
    ``<moment id>/<n>``). ``text=False``: ids and times only (for filters). A message is passed when ``where``
    passes any row of its session, so a turn whose neighbour is new is indexed again with its new context
    (unchanged rows are known by their digest)."""
    title, body, topics, ts, table, cond = _TEXT[kind]
    plain = _EVENTS if kind == "event" else f'"{table}"'
    if not text:
        return f"""SELECT '{kind}:' || x.id AS id, '{kind}' AS kind, x.id AS item_id, {ts} AS ts
                   FROM {plain} x WHERE {cond} AND ({where})"""
    context = _MESSAGE_CONTEXT if kind == "message" else "NULL"
    pair = _MESSAGE_PAIR if kind == "message" else "NULL"
    pair_next = f"CASE WHEN {_PAIRED} THEN x._next_id END" if kind == "message" else "NULL"
    source = _messages_with_neighbours(where) if kind == "message" else plain
    row_where = "TRUE" if kind == "message" else where
    # who it is of (the lexical index's ``who``): a message's speaker, an event's actors, a moment's people
    who = {"message": "CASE WHEN x.speaker IS NULL THEN [] ELSE [x.speaker] END",
           "event": "coalesce(CAST(json_extract(x._e, '$.actors') AS VARCHAR[]), [])",
           "moment": "coalesce(x.people, [])"}.get(kind, "[]")
    who = f"CAST({who} AS VARCHAR[])"
    # whether it says when (see _rows): a message's own words are read for a time; an event knows whether its date
    # was said
    when_text = "x.content" if kind == "message" else "NULL"
    says = "NULL::BOOLEAN" if kind == "message" else \
        "json_extract_string(x._e, '$.when') IS NOT NULL" if kind == "event" else "FALSE"
    return f"""SELECT '{kind}:' || x.id AS id, '{kind}' AS kind, x.id AS item_id, {title} AS title, {body} AS body,
                      {topics} AS topics, {context} AS context, {ts} AS ts, {when_text} AS _when_text, {says} AS _says,
                      {who} AS _who, {pair} AS _pair, {pair_next} AS _pair_next,
                      md5(coalesce({title}, '') || chr(31) || coalesce({body}, '') || chr(31) || coalesce({topics}, '')
                          || chr(31) || coalesce({context}, '') || chr(31) || array_to_string({who}, chr(30))
                          || chr(31) || coalesce({pair_next}, '') || chr(31) || coalesce({pair}, '')) AS digest
               FROM {source} x WHERE {cond} AND ({row_where})"""


def texts_of(con: Connection, ids: dict[str, list[str]], chars: int = 2_000) -> dict[str, str]:
    """The searchable text (title and body, the first ``chars`` of it) of the items ``ids`` names (kind → item ids),
    by key (``kind:item_id``): what :func:`rem.search._answer_boost` reads for a name, a place or a number."""
    out: dict[str, str] = {}
    for kind, items in ids.items():
        if kind not in _TEXT or not items:
            continue
        title, body, _topics, _ts, table, cond = _TEXT[kind]
        source = _EVENTS if kind == "event" else f'"{table}"'
        text = "x.content" if kind == "message" else f"concat_ws(chr(10), {title}, {body})"  # a turn without its speaker
        sql = (f"SELECT x.id, left({text}, {int(chars)}) FROM {source} x "
               f"WHERE {cond} AND x.id IN ({', '.join('?' * len(items))})")
        out.update((f"{kind}:{i}", text or "") for i, text in fetch_rows(con, sql, list(items)))
    return out


def search_dir(db: Path) -> Path:
    return db.with_name(db.name + ".search")


# -- the lexical index -------------------------------------------------------------------------------------
_lock = threading.Lock()
_lex_cache: dict[str, tuple[Lexical, int]] = {}
KEEP_OPEN = 8  # databases whose indexes a process keeps open (a fleet worker dreams hundreds in turn)


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
    """Put ``key`` last in ``cache`` (least recently used first) and drop the oldest beyond :data:`KEEP_OPEN`."""
    cache.pop(key, None)
    cache[key] = value
    while len(cache) > KEEP_OPEN:
        cache.pop(next(iter(cache)))


class Lexical:
    """A tantivy index (BM25) of the searchable items' titles and bodies."""

    def __init__(self, path: Path, *, create: bool) -> None:
        import tantivy

        self.path = path
        sb = tantivy.SchemaBuilder()
        sb.add_text_field("id", stored=True, tokenizer_name="raw")
        sb.add_text_field("kind", stored=True, tokenizer_name="raw")
        sb.add_text_field("title", tokenizer_name="rem")
        sb.add_text_field("body", tokenizer_name="rem")
        sb.add_text_field("topics", tokenizer_name="rem")
        sb.add_text_field("context", tokenizer_name="rem")
        # who it is of, as written: a message's speaker, an event's actors, a moment's people (a question naming a
        # speaker lifts theirs; see rem.search._speakers_boost)
        sb.add_text_field("who", tokenizer_name="raw")
        self.schema = sb.build()
        if create:
            path.mkdir(parents=True, exist_ok=True)
        self.index = tantivy.Index(self.schema, path=str(path), reuse=True)
        analyzer = (tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple()).filter(tantivy.Filter.remove_long(40))
                    .filter(tantivy.Filter.lowercase()).filter(tantivy.Filter.stopword("english"))
                    .filter(tantivy.Filter.ascii_fold())
                    .filter(tantivy.Filter.stemmer("english")).build())
        self.index.register_tokenizer("rem", analyzer)
        self.analyzer = analyzer

    @classmethod
    def open(cls, db: Path) -> Lexical | None:
        """The index of ``db`` (kept open in this process, re-read when another process committed to it);
        None when it must be (re)built: missing, damaged (a segment's files gone), or not a folder (a file,
        a dangling link — removed here). A FIFO or a device in its place is refused by name: opening one
        would hang."""
        d = search_dir(db)
        _check_place(d)
        try:
            stamp = (d / "meta.json").stat().st_mtime_ns
        except OSError:
            _lex_cache.pop(str(d), None)
            return None
        if not _segments_whole(d):
            log.warning("the lexical index %s is damaged (a segment's files are missing): rebuilding it", d)
            _lex_cache.pop(str(d), None)
            return None
        hit = _lex_cache.get(str(d))
        if hit is not None:
            lex, seen = hit
            if seen != stamp:
                lex.index.reload()
            _remember(_lex_cache, str(d), (lex, stamp))
            return lex
        try:
            lex = cls(d, create=False)
        except (ValueError, OSError) as e:
            log.warning("the lexical index %s cannot be opened (%s); it is rebuilt", d, e)
            return None
        _remember(_lex_cache, str(d), (lex, stamp))
        return lex

    @classmethod
    def create(cls, db: Path) -> Lexical:
        d = search_dir(db)
        _lex_cache.pop(str(d), None)
        shutil.rmtree(d, ignore_errors=True)
        return cls(d, create=True)

    @contextlib.contextmanager
    def writing(self, *, new_rows_absent: bool = False) -> Iterator[_LexWriter]:
        """One commit for everything added and deleted in the block (nothing of it on an error).
        ``new_rows_absent``: a row marked ``_was_indexed = False`` is known not to be in the index."""
        writer = self.index.writer(heap_size=64_000_000, num_threads=1)
        try:
            yield _LexWriter(writer, new_rows_absent)
            writer.commit()
            writer.wait_merging_threads()
        except BaseException:
            with contextlib.suppress(Exception):
                writer.rollback()
            with contextlib.suppress(Exception):  # gives up the writer and its lock (a kept traceback keeps it alive)
                writer.wait_merging_threads()
            raise
        self.index.reload()

    def search(self, query: str, limit: int, kinds: tuple[str, ...] | None = None) -> list[tuple[str, float]]:
        """(id, BM25 score) of the best ``limit`` items (of ``kinds``: a filter that adds nothing to a score), best
        first."""
        import tantivy

        if not query.strip() or not self.analyzer.analyze(query):
            return []  # nothing but stop words ("if not then what?"): tantivy refuses a query it reduces to nothing
        q = self.index.parse_query(query, ["title", "body", "topics", "context"],
                                   field_boosts={"title": 2.0, "topics": 3.0, "context": CONTEXT_BOOST})
        if kinds is not None:
            only = tantivy.Query.const_score_query(tantivy.Query.term_set_query(self.schema, "kind", list(kinds)), 0.0)
            q = tantivy.Query.boolean_query([(tantivy.Occur.Must, q), (tantivy.Occur.Must, only)])
        searcher = self.index.searcher()
        res = searcher.search(q, limit)
        return [(searcher.doc(addr)["id"][0], float(score)) for score, addr in res.hits]

    def of(self, ids: list[str], who: list[str]) -> set[str]:
        """Those of ``ids`` that are of one of ``who`` (a speaker, an actor, a person in a moment)."""
        import tantivy

        if not ids or not who:
            return set()
        q = tantivy.Query.boolean_query([
            (tantivy.Occur.Must, tantivy.Query.term_set_query(self.schema, "id", ids)),
            (tantivy.Occur.Must, tantivy.Query.term_set_query(self.schema, "who", who))])
        searcher = self.index.searcher()
        return {searcher.doc(addr)["id"][0] for _score, addr in searcher.search(q, len(ids)).hits}

    def count(self) -> int:
        return int(self.index.searcher().num_docs)


def _check_place(d: Path) -> None:
    """What stands at the index's path: a folder (or nothing) is fine; a regular file or a dangling link is
    removed (the index is rebuilt there); a FIFO, a socket or a device is refused by name."""
    import stat

    try:
        st = d.lstat()
    except FileNotFoundError:
        return
    except OSError as e:
        raise RemError(f"the search index {d} cannot be read ({e.strerror}): move it aside and search again") from None
    if stat.S_ISDIR(st.st_mode):
        return
    if stat.S_ISLNK(st.st_mode):
        try:
            target = d.stat()
        except OSError:  # a dangling link
            log.warning("the search index %s is a link to nothing: replacing it with a new index", d)
            d.unlink()
            return
        if stat.S_ISDIR(target.st_mode):
            return
        st = target
    if stat.S_ISREG(st.st_mode):
        log.warning("the search index %s is a file, not REM's index folder: replacing it with a new index", d)
        d.unlink()
        return
    raise RemError(f"{d} is {file_kind(st.st_mode)}, not REM's search index folder: remove it (rm '{d}') and search again; "
                   "REM rebuilds the index from the database")


def _segments_whole(d: Path) -> bool:
    """Does every segment the index lists still have its files (a store and a term dictionary)?"""
    import json

    try:
        meta = json.loads((d / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    names = {p.name for p in d.iterdir()} if d.is_dir() else set()
    for seg in meta.get("segments") or []:
        sid = str(seg.get("segment_id", "")).replace("-", "")
        if not sid or not {f"{sid}.store", f"{sid}.term"} <= names:
            return False
    return True


# -- sync ----------------------------------------------------------------------------------------------------
@dataclass
class SyncReport:
    indexed: int = 0
    removed: int = 0
    embedded: int = 0
    rebuilt: bool = False
    seconds: float = 0.0
    pending: int = 0  # indexed rows not embedded with the embedder yet (found by their words only until then)
    by_kind: dict[str, int] = field(default_factory=dict)


class _LexWriter:
    def __init__(self, writer: Any, new_rows_absent: bool) -> None:
        self.writer, self.new_rows_absent = writer, new_rows_absent

    def commit(self) -> None:
        """Make what was added and deleted so far durable (the block goes on)."""
        self.writer.commit()

    def delete(self, ids: list[str]) -> None:
        for i in ids:
            self.writer.delete_documents_by_term("id", i)

    def add(self, rows: list[dict[str, Any]]) -> None:
        import tantivy

        for r in rows:
            if not (self.new_rows_absent and r.get("_was_indexed") is False):
                self.writer.delete_documents_by_term("id", r["id"])
            ident = r.get("_may_ident", True)
            self.writer.add_document(tantivy.Document(
                id=r["id"], kind=r["kind"], title=analyze(r["title"] or "", identifiers=ident),
                body=analyze(r["body"] or "", identifiers=ident), topics=analyze(r["topics"] or "", identifiers=ident),
                context=analyze(r.get("context") or "", identifiers=ident), who=[w for w in r.get("_who") or [] if w]))


def _mark(con: Connection) -> datetime | None:
    v = get_meta(con, MARK_KEY)
    return datetime.fromisoformat(v) if v else None


# of the rows indexed before whose vector is not of the model asked for, how many one sync embeds by default (a
# model changed in the config re-embeds a large history over several syncs, never in one search)
MAX_REEMBED = 50_000


def sync(store: Store, embedder: Embedder | None, *, max_reembed: int | None = MAX_REEMBED,
         embed_limit: int | None = None, progress: bool | None = None, rebuild: bool = False) -> SyncReport:
    """Bring the index in step with the database (see the module's doc). ``max_reembed``: of the rows indexed
    before whose vector is not of ``embedder`` (another model's, or none yet), how many this sync embeds (None:
    all). ``embed_limit``: how many rows this sync embeds in all (None: every row it indexes); the rest are
    indexed by their words now and embedded by a later sync (:func:`pending`; ``rem index``), so a search after
    a large import that bypassed REM's ingest answers in seconds, not minutes. ``progress``: a bar on standard
    error (None: when it is a terminal and the sync is large). ``rebuild``: start again from the tables (every
    item read and embedded again).

    Durable as it goes: the table and the lexical index are committed together every few slices
    (:data:`COMMIT_SLICES`, :data:`COMMIT_SECONDS`), so a sync stopped midway (Ctrl-C, a kill) keeps what it
    did, and the next one goes on from there."""
    t0 = time.perf_counter()
    rep = SyncReport()
    with _lock:
        lex = Lexical.open(store.path)
        with store.connect() as con:
            version = get_meta(con, VERSION_KEY)
            held = fetch_value(con, "SELECT count(*) FROM search_index")
            if lex is not None and version == VERSION and lex.count() != held:
                # the folder and the table disagree: an index older or newer than the database (a backup
                # restored, a copy), or a sync that died between its two commits
                log.warning("the lexical index %s is out of step with the database (%d documents, %d indexed rows): "
                            "rebuilding it", search_dir(store.path), lex.count(), held)
                lex = None
            if rebuild or lex is None or version != VERSION:
                lex = Lexical.create(store.path)
                if version != VERSION:  # derived data in an older layout: made again
                    execute(con, "DROP TABLE IF EXISTS search_index")
                    execute(con, schema.table("search_index").ddl())
                set_meta(con, VERSION_KEY, VERSION)
                execute(con, "DELETE FROM search_index")
                set_meta(con, MARK_KEY, None)
                rep.rebuilt = True
            plan = _plan(con, lex, embedder, max_reembed, embed_limit)
        planned = _write(store, lex, plan, embedder, embed_limit, progress, rep)
        if embedder is not None:
            rep.embedded = planned
        rep.removed = len(plan.gone) + _prune(store, lex)
        _backfill_said(store)
    rep.seconds = time.perf_counter() - t0
    if rep.indexed or rep.removed:
        log.info("search index: %d indexed, %d removed in %.2fs", rep.indexed, rep.removed, rep.seconds)
    return rep


@dataclass
class _Plan:
    """What a sync indexes: the rows new or changed since the mark (``changed_sql``), the moments and events gone,
    the rows whose vector is not the model's (``extra_sql``, or None)."""

    mark: datetime | None
    started: datetime
    model: str | None
    changed_sql: str
    changed_params: dict[str, Any]
    gone: list[str]
    in_step: bool
    extra_sql: str | None


def _plan(con: Connection, lex: Lexical, embedder: Embedder | None, max_reembed: int | None,
          embed_limit: int | None) -> _Plan:
    mark = _mark(con)
    started = fetch_value(con, "SELECT now()")
    model = embedder.name if embedder else None
    since = (mark - MARGIN) if mark else None
    # the moments and their events first: a sync with an embed limit embeds what the dream made before the rest
    parts = [items_sql("moment"), items_sql("event")]
    for kind in ("resource", "message", "session"):
        # new and changed since the mark; rows stored before REM tracked ingested_at, once
        where = (f"x.ingested_at > $since OR (x.ingested_at IS NULL AND NOT EXISTS "
                 f"(SELECT 1 FROM search_index s WHERE s.id = '{kind}:' || x.id))") if since else "TRUE"
        if since and kind == "message":  # a message whose moment changed (its events are its context), or whose
            # session did (turns removed from it: its neighbours changed though it did not)
            where += (" OR x.session_id IN (SELECT unnest(session_ids) FROM moments WHERE updated_at > $since"
                      " OR created_at > $since) OR x.session_id IN (SELECT id FROM sessions WHERE ingested_at > $since)")
        parts.append(items_sql(kind, where))
    changed_sql = " UNION ALL ".join(f"({p})" for p in parts)
    # the lexical index holds what the table holds (unless a sync died between its two commits):
    # then a row the table does not hold needs no delete first (a delete costs tantivy ~1.4 KB until the commit)
    in_step = fetch_value(con, "SELECT count(*) FROM search_index") == lex.count()
    changed_sql = f"""SELECT c.*, s.id IS NOT NULL AS _was_indexed
                      FROM ({changed_sql}) c LEFT JOIN search_index s ON s.id = c.id
                      WHERE s.id IS NULL OR s.digest <> c.digest OR s.model IS DISTINCT FROM $model"""
    changed_params = {"since": since, "model": model} if since else {"model": model}
    gone = [r[0] for r in fetch_rows(con, f"""SELECT s.id FROM search_index s WHERE s.kind IN ('moment', 'event')
                                               AND NOT EXISTS (SELECT 1 FROM ({items_sql('moment', text=False)} UNION ALL
                                                                              {items_sql('event', text=False)}) c
                                                               WHERE c.id = s.id)""")]
    # rows indexed before whose vector is not this model's (a changed model, a sync that had a limit):
    # embedded a batch per sync (resumable), streamed after the new rows
    stale = 0 if embedder is None or max_reembed == 0 else \
        fetch_value(con, "SELECT count(*) FROM search_index WHERE model IS DISTINCT FROM $m", {"m": model})
    extra_sql: str | None = None
    if stale and since:
        more = []
        for kind in KINDS:
            more.append(f"""SELECT c.*, TRUE AS _was_indexed FROM ({items_sql(kind)}) c JOIN search_index s ON s.id = c.id
                            WHERE s.model IS DISTINCT FROM $model""")
        cap = max_reembed if embed_limit is None else embed_limit if max_reembed is None else min(max_reembed, embed_limit)
        extra_sql = " UNION ALL ".join(f"({p})" for p in more) + ("" if cap is None else f" LIMIT {int(cap)}")
    return _Plan(mark, started, model, changed_sql, changed_params, gone, in_step, extra_sql)


def _write(store: Store, lex: Lexical, plan: _Plan, embedder: Embedder | None, embed_limit: int | None,
           progress: bool | None, rep: SyncReport) -> int:
    """Index the plan's rows; the rows handed to the embedder (the rest wait for a later sync)."""
    model, gone, extra_sql = plan.model, plan.gone, plan.extra_sql
    # slice by slice, streamed from the database: a day of a million messages is never a million rows, dicts
    # and vectors at once (the rows whole, with their neighbours' text, took ~1 GB). The table's rows and the
    # lexical index are committed together every COMMIT_SLICES slices or COMMIT_SECONDS (the lexical index
    # first): a sync that dies keeps what was committed, in step. One that dies between the two commits
    # leaves the table behind the lexical index: the count check above rebuilds both.
    now = datetime.now(UTC)
    planned = 0  # rows handed to the embedder so far (embed_limit)
    with store.connect() as rcon, store.connect() as con:
        reader = stream_arrow(rcon, plan.changed_sql, SLICE, plan.changed_params)
        batches = _slices(reader, (lambda: stream_arrow(rcon, extra_sql, SLICE, {"model": model})) if extra_sql else None)
        first = next(batches, None)
        # a sync of thousands of rows takes seconds with a transformer embedding them (~1,000 a second): a bar on
        # a terminal says so (a first sync of a large history, a changed model)
        big = first is not None and first.num_rows >= BATCH
        show = (big and sys.stderr.isatty()) if progress is None else progress
        execute(con, "BEGIN TRANSACTION")
        try:
            if first is not None or gone:
                # the next slice is embedded in a thread while this one goes into the lexical index and the table
                # (the tokenizer and numpy let go of the GIL): on two cores a million rows index in ~2/3 the time
                with lex.writing(new_rows_absent=plan.in_step) as w, ThreadPoolExecutor(1, thread_name_prefix="rem-embed") as ahead, \
                        Progress(None, "indexing for search", enabled=show) as bar:
                    def prepared(batch: pa.RecordBatch | pa.Table | None) -> tuple[list[dict[str, Any]], Future[pa.Table]] | None:
                        nonlocal planned
                        if batch is None:
                            return None
                        rows = _rows(batch)
                        k = len(rows) if embed_limit is None or embedder is None else max(0, min(len(rows), embed_limit - planned))
                        planned += k
                        return rows, ahead.submit(_indexed_part, rows, k, embedder, model, now)

                    w.delete(gone)
                    if gone:
                        with registered(con, "_rem_gone", pa.table({"id": pa.array(gone, pa.string())})):
                            execute(con, "DELETE FROM search_index WHERE id IN (SELECT id FROM _rem_gone)")
                    nxt = prepared(first)
                    del first
                    held, last = 0, time.monotonic()
                    while nxt is not None:
                        rows, fut = nxt
                        nxt = prepared(next(batches, None))
                        w.add(rows)
                        part = fut.result()
                        with registered(con, "_rem_indexed", part):
                            if any(r.get("_was_indexed") is not False for r in rows):  # else none is in the table
                                execute(con, "DELETE FROM search_index WHERE id IN (SELECT id FROM _rem_indexed)")
                            execute(con, "INSERT INTO search_index BY NAME SELECT * FROM _rem_indexed")
                        rep.indexed += part.num_rows
                        bar.advance(len(rows))
                        for r in rows:
                            rep.by_kind[r["kind"]] = rep.by_kind.get(r["kind"], 0) + 1
                        del rows, part, fut
                        held += 1
                        if nxt is not None and (held >= COMMIT_SLICES or time.monotonic() - last >= COMMIT_SECONDS):
                            w.commit()
                            execute(con, "COMMIT")
                            execute(con, "BEGIN TRANSACTION")
                            held, last = 0, time.monotonic()
            new_mark = plan.started if plan.mark is None else max(plan.mark, plan.started)
            set_meta(con, MARK_KEY, new_mark.isoformat())
        except BaseException:
            with contextlib.suppress(Exception):
                execute(con, "ROLLBACK")
            raise
        finally:
            with contextlib.suppress(Exception):  # let the streams go (a caller keeping a traceback keeps this frame)
                batches.close()
                if reader is not None:
                    reader.close()
        execute(con, "COMMIT")
        if embedder is not None:
            rep.pending = fetch_value(con, "SELECT count(*) FROM search_index WHERE model IS DISTINCT FROM $m", {"m": model})
    return planned


# the kinds whose rows a write can remove from their table (an edited conversation re-imported drops its old branch),
# or make unsearchable: looked for after each sync (moments and events are looked for as it is planned)
_PRUNED = ("message", "resource", "session")


def _orphans(con: Connection) -> list[str]:
    """The indexed rows of :data:`_PRUNED` whose item is no longer in its table (or no longer searchable). After a
    sync the index holds every row its table holds, so there are some only where it holds more rows of a kind than
    the table: counted first (a scan of one column), looked up (one anti-join) only then."""
    held = dict(fetch_rows(con, "SELECT kind, count(*) FROM search_index GROUP BY kind"))
    out: list[str] = []
    for kind in _PRUNED:
        table, cond = _TEXT[kind][4], _TEXT[kind][5]
        if held.get(kind, 0) > fetch_value(con, f'SELECT count(*) FROM "{table}" x WHERE {cond}'):
            out += [r[0] for r in fetch_rows(con, f"""SELECT s.id FROM search_index s WHERE s.kind = $k AND NOT EXISTS
                                                      (SELECT 1 FROM "{table}" x WHERE x.id = s.item_id AND {cond})""",
                                             {"k": kind})]
    return out


def _prune(store: Store, lex: Lexical) -> int:
    """Remove from the index the rows whose item is gone (:func:`_orphans`), so that a removed message is neither
    found by the words it held (a card number in an edited-away branch) nor takes a result's place (the results
    are read from the tables: a search for one result found none when a removed turn ranked first). The lexical
    index first, then the table: a sync that dies between leaves the two out of step, and the next one rebuilds
    them (its count check). How many rows were removed. Costs a scan of one column when nothing was removed
    (~6 ms at a million rows), the lookup ~120 ms when something was."""
    with store.connect() as con:
        gone = _orphans(con)
        if not gone:
            return 0
        with lex.writing() as w:
            w.delete(gone)
        with transaction(con), registered(con, "_rem_orphans", pa.table({"id": pa.array(gone, pa.string())})):
            execute(con, "DELETE FROM search_index WHERE id IN (SELECT id FROM _rem_orphans)")
    return len(gone)


def _rows(batch: pa.RecordBatch | pa.Table) -> list[dict[str, Any]]:
    """A slice's rows as the writers read them: without their times (turned into Python, they cost more than the
    rest of a row), each with ``_may_ident``: whether one of its texts can hold a CamelCase identifier (asked of
    the whole slice at once; :func:`.text.analyze` scans only those), and ``says_when`` (:func:`_says_when`)."""
    t = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
    if "_says" in t.column_names:
        says, said_from, said_to = _says_when(t)
        t = t.append_column("says_when", says).append_column("said_from", said_from).append_column("said_to", said_to)
    t = t.drop_columns([c for c in ("ts", "_when_text", "_says") if c in t.column_names])
    may: Any = None
    for c in ("title", "body", "topics", "context"):
        if c in t.column_names:
            hit = pc.fill_null(pc.match_substring_regex(t[c], MAY_HOLD_IDENTIFIER), False)
            may = hit if may is None else pc.or_(may, hit)
    if may is not None:
        t = t.append_column("_may_ident", may)
    return table_dicts(t)


def _says_when(t: pa.Table) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Whether each row says when: an event whose date was said; a message in whose words REM reads a time (what
    :func:`rem.understand.when.find` finds, against the local day it was written), and for such a message the
    first and last day of each time it says (``said_from``, ``said_to``; null for the rest). The whole column is
    scanned at once for the words a time can be said in (:data:`~rem.understand.when.MAY_SAY`, a superset); only
    the few turns that hold them are read for a time."""
    from ..understand import when as when_mod

    says = t["_says"].to_pylist()
    texts = t["_when_text"]
    said: list[list[tuple[date, date]] | None] = [None] * len(says)
    maybe = pc.fill_null(pc.match_substring_regex(texts, when_mod.MAY_SAY, ignore_case=True), False)
    at = pc.indices_nonzero(maybe)
    if len(at):
        for i, text, ts in zip(at.to_pylist(), texts.take(at).to_pylist(), t["ts"].take(at).to_pylist(), strict=True):
            if says[i] is None:
                said[i] = said_in(text, ts) or None
                says[i] = said[i] is not None
    days = pa.list_(pa.date32())
    return (pa.array([bool(v) for v in says], pa.bool_()),
            pa.array([[a for a, _b in x] if x else None for x in said], days),
            pa.array([[b for _a, b in x] if x else None for x in said], days))


def said_in(text: str, ts: datetime | None) -> list[tuple[date, date]]:
    """The first and last day of each time ``text`` says, read against the local day of ``ts`` (its time; now
    when it has none)."""
    from ..days import local_zone
    from ..understand import when as when_mod

    zone = local_zone()
    return [(w.start, w.end) for w in when_mod.find(text, ts.astimezone(zone).date() if ts else datetime.now(zone).date())]


def _backfill_said(store: Store) -> int:
    """``said_from``/``said_to`` for the messages indexed before REM kept them (a database upgraded to schema 12):
    read once, without indexing anything again. How many rows were filled."""
    with store.connect() as con:
        sql = """SELECT s.id, m.content, m.created_at FROM search_index s JOIN messages m ON s.id = 'message:' || m.id
                 WHERE s.kind = 'message' AND s.says_when AND s.said_from IS NULL"""
        if not fetch_value(con, "SELECT count(*) FROM search_index WHERE kind = 'message' AND says_when AND said_from IS NULL"):
            return 0
        rows = fetch_rows(con, sql)
        spans = [said_in(text or "", ts) for _id, text, ts in rows]
        days = pa.list_(pa.date32())
        filled = pa.table({"id": pa.array([r[0] for r in rows], pa.string()),
                           "f": pa.array([[a for a, _b in x] for x in spans], days),
                           "t": pa.array([[b for _a, b in x] for x in spans], days)})
        with transaction(con), registered(con, "_rem_said", filled):
            execute(con, "UPDATE search_index SET said_from = x.f, said_to = x.t FROM _rem_said x WHERE search_index.id = x.id")
    return len(rows)


def _indexed_part(rows: list[dict[str, Any]], k: int, embedder: Embedder | None, model: str | None,
                  now: datetime) -> pa.Table:
    """:func:`_indexed` of ``rows``, the first ``k`` with their vectors, the rest without (embedded later)."""
    if embedder is None or k >= len(rows):
        return _indexed(rows, embedder, model, now)
    if k <= 0:
        return _indexed(rows, None, None, now)
    return pa.concat_tables([_indexed(rows[:k], embedder, model, now), _indexed(rows[k:], None, None, now)])


def _indexed(rows: list[dict[str, Any]], embedder: Embedder | None, model: str | None, now: datetime) -> pa.Table:
    """The ``search_index`` rows of ``rows``: their digests and, with an embedder, their quantized vectors."""
    vectors: list[Any] = [None] * len(rows)
    # a message with a turn after it, for a model that reads a text whole: its own text, then the reply (_MESSAGE_PAIR)
    paired = [bool(embedder is not None and getattr(embedder, "pairs", False) and r.get("_pair")) for r in rows]
    if embedder is not None:
        # a text is embedded once however many items hold it ("ok", "thanks", a repeated notice)
        texts = [(f"\n\n{(r['body'] or '')[:2000]}\n{r['_pair']}" if p else
                  (r["title"] or "") + "\n" + (r["topics"] or "") + "\n" + (r["body"] or ""))[:4000]
                 for r, p in zip(rows, paired, strict=True)]
        first: dict[str, int] = {}
        for t in texts:
            first.setdefault(t, len(first))
        unique = list(first)
        done: list[Any] = []
        for i in range(0, len(unique), BATCH):
            done.extend(embedder.embed(unique[i:i + BATCH]))
        vectors = [done[first[t]] for t in texts]
    codes, scales = quantize(vectors)
    return pa.table({
        "id": pa.array([r["id"] for r in rows], pa.string()),
        "kind": pa.array([r["kind"] for r in rows], pa.string()),
        "item_id": pa.array([r["item_id"] for r in rows], pa.string()),
        "digest": pa.array([r["digest"] for r in rows], pa.string()),
        "model": pa.array([model if embedder else None] * len(rows), pa.string()),
        "dim": pa.array([embedder.dim if embedder else None] * len(rows), pa.int64()),
        "vector": pa.array(codes, pa.list_(pa.int8())),
        "scale": pa.array(scales, pa.float32()),
        "says_when": pa.array([r.get("says_when") for r in rows], pa.bool_()),
        "said_from": pa.array([r.get("said_from") for r in rows], pa.list_(pa.date32())),
        "said_to": pa.array([r.get("said_to") for r in rows], pa.list_(pa.date32())),
        "pair_next": pa.array([r.get("_pair_next") if p else None for r, p in zip(rows, paired, strict=True)], pa.string()),
        "indexed_at": pa.array([now] * len(rows), pa.timestamp("us", tz="UTC")),
    })


def quantize(vectors: list[Any]) -> tuple[list[Any], list[float | None]]:
    """Unit vectors as int8 codes and a scale each (``codes * scale`` ≈ the vector), as the Rust index keeps them;
    all the vectors of one length at once (a None stays None, a zero or non-finite vector gets scale 0)."""
    codes: list[Any] = [None] * len(vectors)
    scales: list[float | None] = [None] * len(vectors)
    by_dim: dict[int, list[int]] = {}
    for i, v in enumerate(vectors):
        if v is not None:
            by_dim.setdefault(len(v), []).append(i)
    for dim, at in by_dim.items():
        m = np.asarray([vectors[i] for i in at], dtype=np.float32).reshape(len(at), dim)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            norm = np.sqrt(np.einsum("ij,ij->i", m, m, dtype=np.float64)).astype(np.float32)
            top = (np.max(np.abs(m), axis=1) / norm) if dim else np.zeros(len(at), np.float32)
            ok = np.isfinite(norm) & (norm > 0) & np.isfinite(top) & (top > 0)
            scale = np.where(ok, top / 127.0, 0.0).astype(np.float32)
            m /= np.where(ok, norm * scale, 1.0)[:, None]  # in place: the codes, before rounding
            np.rint(m, out=m)
            np.clip(m, -127, 127, out=m)
            m[~ok] = 0
        q = m.astype(np.int8)
        for k, i in enumerate(at):
            codes[i] = q[k]
            scales[i] = float(scale[k])
    return codes, scales


def _slices(reader: pa.RecordBatchReader | None,
            extra: Callable[[], pa.RecordBatchReader | None] | None) -> Generator[pa.RecordBatch | pa.Table, None, None]:
    """The changed rows a slice at a time: the stream's batches, then those of ``extra`` (opened when the first
    is read through: the rows indexed before that a model re-embeds), less the rows already given."""
    seen: set[str] = set()
    for batch in reader or ():
        if batch.num_rows:
            if extra is not None:
                seen.update(batch.column("id").to_pylist())
            yield batch
    if extra is None:
        return
    given = pa.array(sorted(seen), pa.string())
    for batch in extra() or ():
        keep = batch.filter(pc.invert(pc.is_in(batch.column("id"), value_set=given))) if len(given) else batch
        if keep.num_rows:
            yield keep


_synced: dict[tuple[str, str | None], tuple[int, ...]] = {}  # (db, model) -> the file's signature after our last sync


def sync_if_changed(store: Store, embedder: Embedder | None, *, embed_limit: int | None = None) -> SyncReport | None:
    """:func:`try_sync` unless nothing was committed to the database since
    this process last synced it (known from the file's size and times,
    without opening it): a warm process answers the next query at once.
    ``embed_limit``: a search's own sync embeds at most this many new rows and none indexed before
    (see :func:`sync`; :data:`QUERY_EMBED_LIMIT`)."""
    key = (str(store.path), embedder.name if embedder else None)
    sig = file_signature(store.path)
    if _synced.get(key) == sig and search_dir(store.path).is_dir():
        return None
    rep = try_sync(store, embedder, embed_limit=embed_limit, max_reembed=0 if embed_limit is not None else MAX_REEMBED)
    if rep is not None:
        _synced[key] = file_signature(store.path)
    return rep


def try_sync(store: Store, embedder: Embedder | None, *, embed_limit: int | None = None,
             max_reembed: int | None = MAX_REEMBED) -> SyncReport | None:
    """:func:`sync`, or None (logged) when the database is busy or the index cannot be written:
    a search still answers from what is indexed, an ingest or a dream is never failed by it."""
    try:
        return sync(store, embedder, embed_limit=embed_limit, max_reembed=max_reembed)
    except DatabaseBusyError as e:
        log.warning("search index not brought up to date (the database is busy): %s", e)
    except (RemError, OSError, ValueError) as e:
        log.warning("search index not brought up to date: %s", e)
    return None


def index_all(store: Store, *, rebuild: bool = False, progress: bool | None = None) -> dict[str, Any]:
    """Bring the index fully up to date (``rem index``, ``Rem.index()``): what is new indexed, every item without a
    vector of the configured model embedded (:func:`sync` with no limit; stopped midway, the next run goes on);
    ``rebuild``: everything again from the tables. Its report as a dict."""
    from .embed import configured

    emb = configured(store.settings.file)
    rep = sync(store, emb, max_reembed=None, progress=progress, rebuild=rebuild)
    _synced[(str(store.path), emb.name if emb else None)] = file_signature(store.path)
    return {"indexed": rep.indexed, "embedded": rep.embedded, "removed": rep.removed, "pending": rep.pending,
            "rebuilt": rep.rebuilt, "seconds": round(rep.seconds, 2), "by_kind": dict(sorted(rep.by_kind.items())),
            "model": emb.name if emb else None}


def pending(con: Connection, model: str) -> int:
    """How many indexed items have no vector of ``model`` yet (found by their words only until a sync embeds them:
    ``rem index``, the next ingest or dream)."""
    return int(fetch_value(con, "SELECT count(*) FROM search_index WHERE model IS DISTINCT FROM $m", {"m": model}))


# -- what says when, cached per process -----------------------------------------------------------------------
_when_cache: dict[str, tuple[tuple[int, ...], tuple[Any, ...], frozenset[str]]] = {}


def saying_when(store: Store, con: Connection) -> frozenset[str]:
    """The ids (``kind:item_id``) of the indexed items that say when (``search_index.says_when``), reused while
    nothing changed: a question asking when looks its candidates up here instead of reading their text (DuckDB
    answers ``id IN (…)`` with a scan of the id column: 4–5 ms at 100k rows)."""
    sig = file_signature(store.path)  # nothing committed since the last look: no query at all (~1 ms at 100k)
    hit = _when_cache.get(str(store.path))
    if hit is not None and hit[0] == sig:
        return hit[2]
    key = tuple(fetch_rows(con, "SELECT count(*), max(indexed_at) FROM search_index")[0])
    if hit is not None and hit[1] == key:
        _remember(_when_cache, str(store.path), (sig, key, hit[2]))
        return hit[2]
    ids = frozenset(r[0] for r in fetch_rows(con, "SELECT id FROM search_index WHERE says_when"))
    _remember(_when_cache, str(store.path), (sig, key, ids))
    return ids


# -- the moments of each item, cached per process ------------------------------------------------------------
@dataclass
class MomentMap:
    """Moments looked up by a 64-bit hash of a key (DuckDB's ``hash``): ``hashes`` sorted, with the index of a moment
    (in ``ids``/``names``, in time order) beside each; a key held by several moments has a row for each, the
    earliest first. ~12 bytes a row (a dict of a million ids would hold ~150 MB)."""

    hashes: Any  # numpy uint64, sorted
    moment: Any  # numpy int32, aligned with hashes
    ids: list[str]
    names: list[str]
    key: tuple[Any, ...]
    sig: tuple[int, ...]

    def _spans(self, hashes: list[int | None]) -> list[tuple[int, int]]:
        q = np.array([h if h is not None else 0 for h in hashes], dtype=np.uint64)
        lo = np.searchsorted(self.hashes, q, side="left").tolist()
        hi = np.searchsorted(self.hashes, q, side="right").tolist()
        return [(a, z) if h is not None else (0, 0) for h, a, z in zip(hashes, lo, hi, strict=True)]

    def of(self, hashes: list[int | None]) -> list[tuple[str, str] | None]:
        """(id, name) of the earliest moment for each hash, or None (none; None for a hash of None)."""
        out: list[tuple[str, str] | None] = []
        for a, z in self._spans(hashes):
            n = int(self.moment[a]) if z > a else None
            out.append(None if n is None else (self.ids[n], self.names[n]))
        return out

    def every(self, hashes: list[int | None]) -> set[str]:
        """The ids of every moment for any of ``hashes``."""
        return {self.ids[int(n)] for a, z in self._spans(hashes) for n in self.moment[a:z]}


_owner_cache: dict[str, MomentMap] = {}
_source_cache: dict[str, MomentMap] = {}
# what changes when the moments do (their events are inside them)
_MOMENTS_KEY = "SELECT count(*), max(updated_at), max(created_at), max(start_time) FROM moments"


def _moment_map(store: Store, con: Connection, cache: dict[str, MomentMap], pairs_sql: str) -> MomentMap:
    """A :class:`MomentMap` of ``pairs_sql`` (``h``, the key's hash, and ``n``, a moment's row number in time order
    over ``mo``), reused while the moments are the same (known by the file's signature, then by the moments' count
    and last change)."""
    sig = file_signature(store.path)
    hit = cache.get(str(store.path))
    if hit is not None and hit.sig == sig:
        return hit
    key = tuple(fetch_rows(con, _MOMENTS_KEY)[0])
    if hit is not None and hit.key == key:
        hit.sig = sig
        return hit
    cache.pop(str(store.path), None)
    ms = fetch_arrow(con, "SELECT id, name FROM moments ORDER BY start_time, id")
    pairs = fetch_arrow(con, f"""WITH mo AS (SELECT CAST(row_number() OVER (ORDER BY start_time, id) - 1 AS INTEGER) AS n, *
                                            FROM moments)
                                 SELECT h, n FROM ({pairs_sql}) WHERE h IS NOT NULL ORDER BY h, n""")
    hashes = pairs.column("h").to_numpy().astype(np.uint64, copy=False) if pairs.num_rows else np.zeros(0, np.uint64)
    moment = pairs.column("n").to_numpy().astype(np.int32, copy=False) if pairs.num_rows else np.zeros(0, np.int32)
    out = MomentMap(hashes, moment, ms.column("id").to_pylist(), ms.column("name").to_pylist(), key, sig)
    _remember(cache, str(store.path), out)
    return out


def owners(store: Store, con: Connection) -> MomentMap:
    """The moments holding each message, resource and session, by the hash of ``kind:item_id``: what a search shows
    beside each hit (the earliest), without scanning every moment's lists at each query (that cost ~14 ms at 100k
    messages held by 2,000 moments)."""
    return _moment_map(store, con, _owner_cache, """
        SELECT hash(kind || ':' || x) AS h, n FROM (
            SELECT 'message' AS kind, n, unnest(message_ids) AS x FROM mo
            UNION ALL SELECT 'resource', n, unnest(resource_ids) FROM mo
            UNION ALL SELECT 'session', n, unnest(session_ids) FROM mo)
        WHERE x IS NOT NULL""")


def event_sources(store: Store, con: Connection) -> MomentMap:
    """The moments with an event found in each message or resource, by the hash of its id: the events of a few
    items are read from their moments alone (the ``events`` view unnests every moment's events: ~30 ms a question
    at 20,000 events)."""
    return _moment_map(store, con, _source_cache, """
        SELECT hash(json_extract_string(e.value, '$.source_id')) AS h, n
        FROM mo, json_each(mo.events) e WHERE mo.events IS NOT NULL AND json_extract_string(e.value, '$.source_id') IS NOT NULL""")


# -- the time of each item, cached per process ------------------------------------------------------------
NO_TIME = np.iinfo(np.int64).min  # an item without a time: outside every window


@dataclass
class ItemTimes:
    """The time of every searchable item (µs since the epoch), by DuckDB's hash of its id (``kind:item_id``):
    ``hashes`` sorted, ``ts`` beside them. A search kept to a time tests its candidates here instead of reading
    the ids of every item in the window (~100 ms at 100k items)."""

    hashes: Any  # numpy uint64, sorted
    ts: Any  # numpy int64
    sig: tuple[int, ...]
    # the times the messages that say when say (``said_from``/``said_to``), a row for each: the message's hash, the
    # first and last instant of the days [lo, hi) in µs
    said_hashes: Any = field(default_factory=lambda: np.zeros(0, np.uint64))
    said_lo: Any = field(default_factory=lambda: np.zeros(0, np.int64))
    said_hi: Any = field(default_factory=lambda: np.zeros(0, np.int64))

    def said(self, hashes: Any, lo: int, hi: int) -> Any:
        """Whether each hash is of a message that says a time meeting [lo, hi) (µs) and no longer than it: "on
        Saturday", said on Monday, meets a search kept to the weekend; "this year" or "next month" do not meet a
        week (a plan for the year is not news of each of its weeks)."""
        hashes = np.asarray(hashes, dtype=np.uint64)
        meeting = self.said_hashes[self.meeting(lo, hi)]
        if not len(meeting):
            return np.zeros(len(hashes), dtype=bool)
        meeting = np.unique(meeting)  # sorted: each hash looked up by bisection
        at = np.minimum(np.searchsorted(meeting, hashes), len(meeting) - 1)
        return meeting[at] == hashes

    def meeting(self, lo: int, hi: int) -> Any:
        """Which of the times said (rows of ``said_hashes``) meet [lo, hi) and are no longer than it."""
        return (self.said_lo < hi) & (self.said_hi > lo) & (self.said_hi - self.said_lo <= hi - lo)

    def of(self, hashes: Any) -> Any:
        """The time of each hash (a numpy uint64 array), :data:`NO_TIME` where none is known."""
        hashes = np.asarray(hashes, dtype=np.uint64)
        if not len(self.hashes):
            return np.full(len(hashes), NO_TIME, dtype=np.int64)
        at = np.minimum(np.searchsorted(self.hashes, hashes), len(self.hashes) - 1)
        return np.where(self.hashes[at] == hashes, self.ts[at], NO_TIME)


_times_cache: dict[str, ItemTimes] = {}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def item_times(store: Store, con: Connection) -> ItemTimes:
    """:class:`ItemTimes` of the database, made again whenever anything was committed (by the file's signature)."""
    sig = file_signature(store.path)
    hit = _times_cache.get(str(store.path))
    if hit is not None and hit.sig == sig:
        return hit
    _times_cache.pop(str(store.path), None)
    every = " UNION ALL ".join(f"SELECT hash(id) AS h, epoch_us(ts) AS t FROM ({items_sql(k, text=False)})" for k in KINDS)
    t = fetch_arrow(con, f"SELECT h, t FROM ({every}) WHERE t IS NOT NULL ORDER BY h")
    out = ItemTimes(t.column("h").to_numpy().astype(np.uint64, copy=False) if t.num_rows else np.zeros(0, np.uint64),
                    t.column("t").to_numpy().astype(np.int64, copy=False) if t.num_rows else np.zeros(0, np.int64), sig)
    said = fetch_arrow(con, """SELECT h, f, t FROM (SELECT hash(id) AS h, unnest(said_from) AS f, unnest(said_to) AS t
                                                  FROM search_index WHERE said_from IS NOT NULL) WHERE f IS NOT NULL""")
    if said.num_rows:
        from ..days import day_window

        bounds: dict[date, tuple[int, int]] = {}
        for d in set(said.column("f").to_pylist()) | set(said.column("t").to_pylist()):
            try:
                a, b = day_window(d)
            except (ValueError, OverflowError):  # the calendar's first or last day
                continue
            bounds[d] = ((a - _EPOCH) // _US, (b - _EPOCH) // _US)
        lo = [bounds.get(d, (NO_TIME, NO_TIME))[0] for d in said.column("f").to_pylist()]
        hi = [bounds.get(d, (NO_TIME, NO_TIME))[1] for d in said.column("t").to_pylist()]
        out.said_hashes = said.column("h").to_numpy().astype(np.uint64, copy=False)
        out.said_lo, out.said_hi = np.array(lo, dtype=np.int64), np.array(hi, dtype=np.int64)
    _remember(_times_cache, str(store.path), out)
    return out


def hashes_of(con: Connection, ids: list[str]) -> Any:
    """DuckDB's hash of each of ``ids``, in order (numpy uint64)."""
    if not ids:
        return np.zeros(0, np.uint64)
    t = fetch_arrow(con, "SELECT list_transform($ids, lambda x: hash(x)) AS h", {"ids": ids})
    return np.array(t.column("h")[0].as_py(), dtype=np.uint64)


# -- dense vectors, cached per process -----------------------------------------------------------------------
@dataclass
class Vectors:
    ids: list[str]
    index: Any  # _rem.VectorIndex
    key: tuple[Any, ...]
    # numpy int32 beside ``ids``: for a message embedded with the turn after it (``pair_next``), that turn's row
    # (a match of the vector is a match of both); -1 for the rest
    next_row: Any = None
    pairs: bool = False  # whether any message was embedded with the turn after it
    masks: dict[tuple[str, ...], list[bool]] = field(default_factory=dict)
    pending: int = 0  # indexed items without a vector of this model (:func:`pending`)
    sig: tuple[int, ...] = ()  # the database file's signature when ``key`` was last checked
    hashes: Any = None  # numpy uint64: DuckDB's hash of each row's id (the rows' times are looked up by it)
    _times: tuple[Any, Any] | None = None  # (the ItemTimes, each row's time in it)
    _said: tuple[Any, Any] | None = None  # (the ItemTimes, the row of each of its times said, -1 for none)

    def times(self, times: ItemTimes) -> Any:
        """Each row's time (µs since the epoch; :data:`NO_TIME` where unknown), worked out once per ``times``."""
        if self._times is None or self._times[0] is not times:
            self._times = (times, times.of(self.hashes))
        return self._times[1]

    def said(self, times: ItemTimes, lo: int, hi: int) -> Any:
        """Which rows are of messages saying a time that meets [lo, hi) (:meth:`ItemTimes.said`), found from the
        few times said, not by looking up every row; the row of each time said is worked out once per ``times``."""
        if self._said is None or self._said[0] is not times:
            self._said = (times, _rows_of(self.hashes, times.said_hashes))
        rows = self._said[1][times.meeting(lo, hi)]
        out = np.zeros(len(self.ids), dtype=bool)
        out[rows[rows >= 0]] = True
        return out

    def of_kinds(self, kinds: tuple[str, ...]) -> list[bool]:
        """Which rows are of ``kinds`` (a search of some kinds only), worked out once."""
        key = tuple(sorted(kinds))
        if key not in self.masks:
            prefixes = tuple(f"{k}:" for k in key)
            self.masks[key] = [i.startswith(prefixes) for i in self.ids]
        return self.masks[key]


_vec_cache: dict[tuple[str, str], Vectors] = {}


def _rows_of(hashes: Any, wanted: Any) -> Any:
    """For each hash in ``wanted`` (0: none), the row of ``hashes`` holding it, or -1 (numpy int32)."""
    if not len(wanted) or not wanted.any():
        return np.full(len(wanted), -1, np.int32)
    order = np.argsort(hashes, kind="stable")
    ranked = hashes[order]
    at = np.minimum(np.searchsorted(ranked, wanted), len(ranked) - 1)
    found = (wanted != 0) & (ranked[at] == wanted)
    return np.where(found, order[at], -1).astype(np.int32)


def vectors(store: Store, con: Connection, model: str, dim: int) -> Vectors:
    """The embeddings of ``model`` as an in-memory index, reused while nothing changed (nothing committed since it
    was last checked, by the file's signature, or the same vectors in ``search_index``)."""
    sig = file_signature(store.path)
    ck = (str(store.path), model)
    hit = _vec_cache.get(ck)
    if hit is not None and hit.sig == sig:
        return hit
    n, last, waiting = fetch_rows(con, """SELECT count(*) FILTER (WHERE model = $m), max(indexed_at) FILTER (WHERE model = $m),
                                                count(*) FILTER (WHERE model IS DISTINCT FROM $m) FROM search_index""", {"m": model})[0]
    key = (n, last)
    if hit is not None and hit.key == key:
        hit.pending, hit.sig = int(waiting), sig
        _remember(_vec_cache, ck, hit)
        return hit
    _vec_cache.pop(ck, None)  # let the old index go before the new one is built
    ix = _rem.VectorIndex(dim)
    ids: list[str] = []
    hashes = []
    nexts = []
    # the hash of the id of the turn each message was embedded with (0: none), made a row number below (a join in
    # the database held ~120 MB more at 100k rows)
    reader = stream_arrow(con, """SELECT id, vector, scale, hash(id) AS h,
                                         coalesce(hash('message:' || pair_next), CAST(0 AS UBIGINT)) AS next_h
                                  FROM search_index WHERE model = $m AND vector IS NOT NULL ORDER BY id""",
                          batch_rows=65_536, params={"m": model})
    if reader is not None:
        for b in reader:  # batch by batch: never the whole column in memory at once
            ix.add_quantized(b, "vector", "scale")
            ids.extend(b.column(0).to_pylist())
            hashes.append(b.column("h").to_numpy().astype(np.uint64, copy=True))  # a view would keep the batch alive
            nexts.append(b.column("next_h").to_numpy().astype(np.uint64, copy=True))
    every = np.concatenate(hashes) if hashes else np.zeros(0, np.uint64)
    nxt = _rows_of(every, np.concatenate(nexts) if nexts else np.zeros(0, np.uint64))
    v = Vectors(ids, ix, key, pending=int(waiting), sig=sig, hashes=every, next_row=nxt, pairs=bool((nxt >= 0).any()))
    _remember(_vec_cache, ck, v)
    return v
