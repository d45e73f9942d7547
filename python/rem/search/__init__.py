"""`rem search`: hybrid retrieval over moments, events, resources, messages and sessions.

Two rankings of the same items, fused: BM25 over the lexical index (tantivy,
with identifiers and CJK text made searchable, see :mod:`.text`) and cosine
similarity of embeddings (all-MiniLM-L6-v2 by default, see :mod:`.embed`; an int8
brute-force scan in the Rust core). The fusion is adaptive (:func:`fuse`):
each ranking's scores become z-scores over its candidates, and each ranking
weighs by its own confidence in this query (how far its best score stands
above its 20th), so a dense ranking that sees nothing in particular cannot
pull a sure lexical one down, and a paraphrase the words miss still comes
up. Chosen on DialogSum dev and REM's own set, reported on DialogSum test
and SuperDialseg in BENCHMARKS.md §7. A query that names someone who speaks
in the chats lifts that person's messages, and the events and moments they
are in, by :data:`SPEAKER_BOOST`; a question asking when lifts the messages
that say a time and the events whose date was said, by :data:`WHEN_BOOST`; a
question asking who, where or how many lifts the items that name a person, a
place or hold a number, by :data:`ANSWER_BOOST` (those naming someone by how
they stand to another, "my mom", by :data:`ROLE_BOOST`).

Every search first brings the index up to date (:func:`.index.sync`), so
what a dream or an ingest committed is found at once.
"""

from __future__ import annotations

import calendar
import logging
import re
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from ..days import day_window, local_zone
from ..exceptions import SearchError
from ..schema import events_sql
from ..store import Connection, Store, fetch_arrow, fetch_rows, file_signature
from ..understand.text import RELATIONS
from ..values import parse_time
from . import index as ix
from .embed import Embedder, configured
from .spelling import corrected
from .text import (
    ASKS_WHEN,
    MAX_QUERY_CHARS,
    asks_for,
    content_query,
    query_text,
    snippet,
    speaker_words,
)

log = logging.getLogger("rem.search")

# Fusion (see :func:`fuse`), chosen on DialogSum dev and the generated set (bench/search; BENCHMARKS.md §7):
# a ranking's confidence is how far its best score stands above the one at CONFIDENCE_DEPTH, relative to the best;
# a moment gets MOMENT_BOOST (in z-score units: a moment is what a question about a topic wants first).
CONFIDENCE_DEPTH = 20
MOMENT_BOOST = 0.3
# the messages, events and moments of a speaker the query names ("What did Caroline say about the trip?"): what a
# memory is asked of a person is mostly in that person's own turns. Chosen on DialogSum dev (BENCHMARKS.md §7: its summary sentences name
# a speaker by tag; 0.3 to 2.0 tried), reported on its test split.
SPEAKER_BOOST = 0.5
# a question asking when ("When did Caroline go to the support group?"): the messages that say a time (REM's
# reading of dates, :func:`rem.understand.when.find`: "yesterday", "last Friday", "on 20 May") and the events
# whose date was said are lifted, since the turn that answers it is the one saying when. Chosen on the "when"
# questions of DialogSum dev (BENCHMARKS.md §7: 0.2 to 2.0 tried; 1.0 the smallest weight at which the default beats
# its lexical half), reported on its test split. Only the candidates it can lift into the results are read.
WHEN_BOOST = 1.0
CANDIDATES = 200  # taken from each ranking before fusion (more when filters narrow the results)
COLUMNS = ("rank", "kind", "id", "time", "title", "snippet", "moment_id", "moment", "score")
EXPLAIN = ("lexical_rank", "lexical_score", "dense_rank", "dense_score", "boost")


@dataclass
class SearchOptions:
    """What to search and how. ``read_time``: a time the query names ("last week", "in May", "yesterday";
    resolved against today, local) becomes its ``since``/``until`` when neither is given — the items inside it
    first, everything when nothing is there (:func:`time_in`). ``spelling``: a misspelt word no item holds is read
    as the one a letter away that items do ("persue" as "pursue"; :mod:`.spelling`, :func:`spelling_of`)."""

    kinds: tuple[str, ...] = ix.KINDS
    since: str | None = None
    until: str | None = None
    tags: tuple[str, ...] = ()
    people: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    limit: int = 10
    explain: bool = False
    lexical: bool = True
    dense: bool = True
    sync: bool = True
    read_time: bool = True
    spelling: bool = True


@dataclass
class TimeRead:
    """The time a query names: its local days (first and last), the words that named it, and the query less
    those words."""

    start: date
    end: date
    words: str
    rest: str

    def bounds(self) -> tuple[datetime, datetime] | None:
        """[start, end) as instants, or None past the calendar's edge."""
        try:
            return day_window(self.start)[0], day_window(self.end)[1]
        except ValueError:
            return None


# "my week", "the month" (as a whole: "the weekend trip", "the week before 9 June" are not this week)
_MY = re.compile(r"\bmy\s+(week|weekend|month|year)\b|\bthe\s+(week|weekend|month|year)\b(?!\s*[\w'’])", re.I)
_MY_DAY = re.compile(r"\bmy\s+day\b|\bthe\s+day\b(?!\s*[\w'’])", re.I)
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# a time named from another: "since Monday", "before 9 June 2023", "the week after 3 May", "the Sunday before 25
# May 2023" (the words just before a time :func:`rem.understand.when.find` reads)
_RELATIVE = re.compile(rf"(?:\bthe\s+(?P<unit>day|week|weekend|month|{'|'.join(_WEEKDAYS)})\s+)?"
                       rf"\b(?P<rel>before|after|since|until|till)\s+(?:the\s+)?$", re.I)
# "the week of 16 February", "during the weekend of 20 May 2022", "that month of …": the unit the time is in
_OF_UNIT = re.compile(rf"(?:\b(?:the|that)\s+)?\b(?P<unit>week|weekend|month)\s+of\s+(?:the\s+)?(?:(?:{'|'.join(_WEEKDAYS)}),?\s+)?$",
                      re.I)
_SINCE_WEEKDAY = re.compile(rf"\b(?:since|before|after)\s+({'|'.join(_WEEKDAYS)})\b", re.I)
EARLIEST = date(1900, 1, 1)  # "before 9 June": from the start of what a memory can hold


def _relative(unit: str, rel: str, start: date, end: date, today: date) -> tuple[date, date]:
    """The days of "the <unit> <rel> <start … end>" ("the week before", "since", "the Sunday after")."""
    day = timedelta(days=1)
    after = rel in ("after", "since")
    if unit == "week":
        return (end + day, end + 7 * day) if after else (start - 7 * day, start - day)
    if unit == "month":
        return (end + day, end + 31 * day) if after else (start - 31 * day, start - day)
    if unit == "day":
        return (end + day, end + day) if after else (start - day, start - day)
    if unit == "weekend":  # the Saturday and Sunday next to it
        if after:
            sat = end + ((5 - end.weekday()) % 7 or 7) * day
            return sat, sat + day
        sun = start - ((start.weekday() - 6) % 7 or 7) * day
        return sun - day, sun
    if unit in _WEEKDAYS:
        wd = _WEEKDAYS.index(unit)
        d = end + ((wd - end.weekday()) % 7 or 7) * day if after else start - ((start.weekday() - wd) % 7 or 7) * day
        return d, d
    if rel == "since":
        return start, max(today, start)
    if rel == "after":
        return end + day, max(today, end + day)
    if rel == "before":
        return EARLIEST, start - day
    return EARLIEST, end  # until, till


def _of_unit(unit: str, start: date) -> tuple[date, date]:
    """The days of "the <unit> of <start>": its week (Monday to Sunday), its weekend (that week's Saturday and
    Sunday, from a Friday named), its month."""
    monday = start - timedelta(days=start.weekday())
    if unit == "week":
        return monday, monday + timedelta(days=6)
    if unit == "weekend":
        return (start if start.weekday() == 4 else monday + timedelta(days=5)), monday + timedelta(days=6)
    return start.replace(day=1), date(start.year, start.month, calendar.monthrange(start.year, start.month)[1])


def time_in(query: str, today: date | None = None) -> TimeRead | None:
    """The first time ``query`` names, resolved against ``today`` (default: the local date), looking back ("on
    Friday" is the last Friday; "my week" is this week; "since Monday" runs from the last Monday to today; "the
    week before 9 June 2023" is 2–8 June; "the weekend of 20 May 2022" is 21–22 May); None when it names none."""
    from ..understand import when as when_mod

    today = today or datetime.now(local_zone()).date()
    probe = _MY_DAY.sub("today", _MY.sub(lambda m: "this " + (m.group(1) or m.group(2)), query))
    found = [(w.start, w.end, w.at) for w in when_mod.find(probe, today, future=False) if w.words.lower() != "this morning"]
    for m in _SINCE_WEEKDAY.finditer(probe):  # "since Monday": a weekday alone is read only after these words
        if not any(a < m.end(1) and m.start(1) < b for _s, _e, (a, b) in found):
            d = today - timedelta(days=(today.weekday() - _WEEKDAYS.index(m.group(1).lower())) % 7 or 7)
            found.append((d, d, m.span(1)))
    if not found:
        return None
    start, end, (a, b) = min(found, key=lambda f: f[2])
    rel = _RELATIVE.search(probe[:a])
    of = _OF_UNIT.search(probe[:a])
    if of is not None:
        start, end = _of_unit(of.group("unit").lower(), start)
        a = of.start()
    elif rel is not None:
        try:
            start, end = _relative((rel.group("unit") or "").lower(), rel.group("rel").lower(), start, end, today)
        except OverflowError:
            return None  # "the week before 1 January 0001": no day of the calendar
        a = rel.start()
    if start > end:
        return None  # "after tomorrow", looking back: no day
    rest = " ".join((probe[:a] + " " + probe[b:]).split())
    return TimeRead(start, end, probe[a:b], rest)


@dataclass
class Ranked:
    lexical: dict[str, tuple[int, float]] = field(default_factory=dict)
    dense: dict[str, tuple[int, float]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    pending: int = 0  # indexed items the dense half could not see (not embedded yet)
    # what fusion adds to an item's score beyond its rankings: the items of a speaker the query names, the items
    # that say when for a question asking when
    boost: dict[str, float] = field(default_factory=dict)
    query: str = ""  # the query as searched: its misspelt words read as the memory's (:mod:`.spelling`)
    spelling: list[tuple[str, str]] = field(default_factory=list)  # (written, read) of each


_UNSET: Any = object()


def search(store: Store, query: str, opts: SearchOptions | None = None, *, embedder: Embedder | None = _UNSET) -> pa.Table:
    """The best ``opts.limit`` items for ``query``, as an Arrow table (see :data:`COLUMNS`)."""
    opts = opts or SearchOptions()
    q = " ".join((query or "").split())
    if not q:
        raise SearchError("the query is empty: give some words, e.g. rem search \"DiskANN implementation\"")
    q = q[:MAX_QUERY_CHARS]
    bad = [k for k in opts.kinds if k not in ix.KINDS]
    if bad:
        raise SearchError(f"unknown kind(s) {', '.join(bad)}: use {', '.join(ix.KINDS)} or all")
    if not 1 <= opts.limit <= 1000:
        raise SearchError("--limit must be from 1 to 1000")
    emb = configured(store.settings.file) if embedder is _UNSET else embedder
    if opts.read_time and not (opts.since or opts.until):
        read = time_in(q)
        bounds = read.bounds() if read is not None else None
        if read is not None and bounds is not None:
            inside = search(store, read.rest or q, replace(opts, since=bounds[0].isoformat(), until=bounds[1].isoformat(),
                                                            read_time=False), embedder=emb)
            if inside.num_rows:
                return _with_time(inside, read)
            opts = replace(opts, sync=False)  # just synced
        opts = replace(opts, read_time=False)
    limit = ix.QUERY_EMBED_LIMIT  # a search's own sync embeds this many rows at most (the rest: `rem index`)
    if opts.sync:
        ix.sync_if_changed(store, emb, embed_limit=limit)
        if opts.lexical and ix.Lexical.open(store.path) is None:  # missing, damaged or not a folder: rebuilt now
            ix.try_sync(store, emb, embed_limit=limit, max_reembed=0)
    try:
        with store.reader() as con:  # kept open across a burst of queries: opening one costs ~15 ms
            r = rank(store, q, opts, emb, con)
            return _with_spelling(_with_pending(details(store, con, r.query or q, r, opts), r.pending), r.spelling)
    except ValueError as e:  # tantivy found the index damaged while reading it ("Data corrupted"): rebuild, once
        if not opts.sync:
            raise
        ix.log.warning("the lexical index %s failed while searching (%s): rebuilding it", ix.search_dir(store.path), e)
        ix.Lexical.create(store.path)
        ix.try_sync(store, emb, embed_limit=limit, max_reembed=0)
        with store.reader() as con:
            r = rank(store, q, opts, emb, con)
            return _with_spelling(_with_pending(details(store, con, r.query or q, r, opts), r.pending), r.spelling)


def _with_spelling(t: pa.Table, pairs: list[tuple[str, str]]) -> pa.Table:
    """Say on the results which words of the query were read otherwise (schema metadata ``rem.spelling``: JSON
    [[written, read], …]; :func:`spelling_of`)."""
    import json

    if not pairs:
        return t
    return t.replace_schema_metadata({**(t.schema.metadata or {}), b"rem.spelling": json.dumps(pairs).encode()})


def spelling_of(t: pa.Table) -> list[tuple[str, str]]:
    """The (written, read) words :func:`search` read otherwise in the query ("persue" as "pursue": no item holds
    the word as written, and it is not an English word); [] when it searched the words as written."""
    import json

    raw = (t.schema.metadata or {}).get(b"rem.spelling")
    return [(a, b) for a, b in json.loads(raw)] if raw else []


def _with_pending(t: pa.Table, pending: int) -> pa.Table:
    """Say on the results how many indexed items the dense half could not see (schema metadata ``rem.pending``:
    not embedded yet, found by their words only; :func:`pending_of`)."""
    if not pending:
        return t
    return t.replace_schema_metadata({**(t.schema.metadata or {}), b"rem.pending": str(pending).encode()})


def pending_of(t: pa.Table) -> int:
    """How many indexed items were not embedded yet when ``t`` was found (0: none): the dense half did not see
    them; ``rem index`` (``Memory.index()``) embeds them."""
    raw = (t.schema.metadata or {}).get(b"rem.pending")
    return int(raw) if raw else 0


PENDING_RATE = "about a thousand a second with the default model"


def _with_time(t: pa.Table, read: TimeRead) -> pa.Table:
    """Say on the results which time they were kept to (schema metadata ``rem.time``: JSON start, end, words, and
    the days in words: "from 2026-11-30 … 2026-12-06", "up to 2023-06-08")."""
    import json

    start, end = read.start.isoformat(), read.end.isoformat()
    span = f"up to {end}" if read.start <= EARLIEST else f"from {start}" if start == end else f"from {start} … {end}"
    meta = {**(t.schema.metadata or {}), b"rem.time": json.dumps(
        {"start": start, "end": end, "words": read.words, "span": span}).encode()}
    return t.replace_schema_metadata(meta)


def time_of(t: pa.Table) -> dict[str, str] | None:
    """The time a result table was kept to (:func:`search` read it in the query), or None."""
    import json

    raw = (t.schema.metadata or {}).get(b"rem.time")
    return json.loads(raw) if raw else None


def said_of(t: datetime | None, kept: dict[str, str] | None) -> bool:
    """Whether a result written at ``t`` lies outside the time its search was kept to (``kept``: :func:`time_of`):
    it was found by what it says of that time ("I went hiking on Saturday", written on Monday)."""
    if kept is None or t is None:
        return False
    day = t.astimezone(local_zone()).date()
    return not date.fromisoformat(kept["start"]) <= day <= date.fromisoformat(kept["end"])


def rank(store: Store, q: str, opts: SearchOptions, emb: Embedder | None, con: Connection | None = None) -> Ranked:
    if con is None:
        with store.reader() as c:
            return rank(store, q, opts, emb, c)
    out = Ranked(query=q)
    lex = ix.Lexical.open(store.path) if opts.lexical or opts.spelling else None
    if opts.spelling and lex is not None:
        q, out.spelling = corrected(q, lex)
        out.query = q
    some_kinds = set(opts.kinds) != set(ix.KINDS)
    by_moment = bool(opts.tags or opts.people or opts.types)
    filtered = bool(by_moment or opts.since or opts.until)
    # kinds alone are known from the ids: each half keeps to them itself (the ids of every item of a kind, read and
    # tested at each query, cost a search of messages alone at 100k items ~45 ms); so is a time alone, from each
    # item's time (:func:`.index.item_times`; the ids of every item in the window cost ~100 ms at 100k items)
    kinds = tuple(opts.kinds) if some_kinds and not by_moment else None
    n = CANDIDATES * (10 if filtered else 1)
    allowed = _allowed(con, opts) if by_moment else None
    window = _window(store, con, opts) if filtered and not by_moment else None
    about = content_query(q)
    wants = asks_for(q) if ANSWER_BOOST else None
    if wants in ("person", "place"):
        from ..understand.ner import import_ahead

        import_ahead()  # the entity model reads the candidates (_answer_boost): spaCy is imported while both halves search
    # the speakers the query names, by the words it names them with (see _speakers_boost)
    named = _named_speakers(store, con, q) if "message" in opts.kinds else {}
    if opts.lexical:
        t0 = time.perf_counter()
        words = query_text(about)
        hits = lex.search(words, n, kinds) if lex is not None and words else []
        hits = [h for h in hits if allowed is None or h[0] in allowed]
        if window is not None and hits:
            hashes = ix.hashes_of(con, [h[0] for h in hits])
            # written in the window, or saying a time in it and among the best for the question at any time
            inside = window.holds(window.times.of(hashes)) | (window.said(hashes) & (np.arange(len(hits)) < CANDIDATES))
            hits = [h for h, keep in zip(hits, inside.tolist(), strict=True) if keep]
        out.lexical = {i: (k + 1, s) for k, (i, s) in enumerate(hits[:CANDIDATES])}
        out.timings["lexical"] = time.perf_counter() - t0
    if opts.dense and emb is not None:
        t0 = time.perf_counter()
        vec = ix.vectors(store, con, emb.name, emb.dim)
        out.pending = vec.pending
        out.timings["load_vectors"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        qv = emb.embed([_less_names(about if getattr(emb, "static", False) else q, named)])[0]
        # kinds alone: a list made once per set of kinds; a time or a moment's filter: the rows it keeps (numpy)
        kept = vec.of_kinds(kinds) if kinds is not None else None
        rows_in: Any = None
        if allowed is not None:
            rows_in, kept = np.fromiter((i in allowed for i in vec.ids), dtype=bool, count=len(vec.ids)), None
        elif window is not None:
            inside = window.holds(vec.times(window.times))
            said = vec.said(window.times, window.lo, window.hi) & ~inside
            if said.any():  # a message saying a time in the window, among the best for the question at any time
                best, _ = vec.index.search([float(x) for x in qv], CANDIDATES, kept)
                among = np.zeros(len(said), dtype=bool)
                among[np.asarray(best, dtype=np.int64)] = True
                inside |= said & among
            rows_in, kept = (inside & np.array(kept, dtype=bool) if kept is not None else inside), None
        out.dense = _dense(vec, [float(x) for x in qv], kept, rows_in)
        out.timings["dense"] = time.perf_counter() - t0
    asks_when = bool(WHEN_BOOST and ASKS_WHEN.match(q))
    if named and (out.lexical or out.dense):
        t0 = time.perf_counter()
        # a turn of the speaker named that also says when, or holds what is asked for, gets both lifts: looked up as
        # far as both can reach
        reach = SPEAKER_BOOST + (WHEN_BOOST if asks_when else 0.0) + (ANSWER_BOOST if wants else 0.0)
        out.boost = _speakers_boost(store, set().union(*named.values()), _speakers(store, con), out, opts.limit, reach)
        out.timings["speakers"] = time.perf_counter() - t0
    if asks_when and (out.lexical or out.dense):
        t0 = time.perf_counter()
        for key, lift in _when_boost(store, con, out, opts.limit).items():
            out.boost[key] = out.boost.get(key, 0.0) + lift
        out.timings["when"] = time.perf_counter() - t0
    if wants and (out.lexical or out.dense):
        t0 = time.perf_counter()
        for key, lift in _answer_boost(store, con, out, opts.limit, wants).items():
            out.boost[key] = out.boost.get(key, 0.0) + lift
        out.timings["answer"] = time.perf_counter() - t0
    return out


# the share of a message's score (its vector holds the turn after it too) lent to that turn: a little less than
# the whole, so the turn whose own vector matches comes first (DialogSum dev, R@5: "fact" 0.540 → 0.552 against
# lending the whole, "who" 0.904 → 0.913, TIAGE 0.310 → 0.318; 0.8 and 0.85 within a question or two)
PAIR_LEND = 0.9


def _dense(vec: ix.Vectors, qv: list[float], kinds: list[bool] | None, rows_in: Any = None) -> dict[str, tuple[int, float]]:
    """The dense half's best :data:`CANDIDATES` (id → (rank, score)) among the rows of ``kinds`` (a mask, made
    once per set of kinds) or ``rows_in`` (numpy: a time's or a moment filter's rows). A message embedded with
    the turn after it (``vec.next_row``) lends :data:`PAIR_LEND` of its score to that turn: a question split
    between a turn and its reply finds both (each keeps the better of its own score and the one lent). A turn is
    credited only where it is searched: of the same kind as the message before it (both messages), it is kept to
    the same kinds; a turn outside a time is not lent its partner's match, nor is a partner outside it shown."""
    nxt = vec.next_row
    if nxt is None or not vec.pairs:
        rows, scores = vec.index.search(qv, CANDIDATES, kinds if rows_in is None else rows_in.tolist())
        return {vec.ids[r]: (k + 1, float(s)) for k, (r, s) in enumerate(zip(rows, scores, strict=True))}
    if rows_in is None:
        lends, searched = nxt >= 0, kinds
    else:
        lends = (nxt >= 0) & rows_in[np.maximum(nxt, 0)]
        searched = (rows_in | lends).tolist()  # a pair either of whose turns is kept
    rows, scores = vec.index.search(qv, 2 * CANDIDATES, searched)
    best: dict[int, float] = {}
    for r, s in zip(rows, scores, strict=True):
        for row, got in ((r, s), (int(nxt[r]) if lends[r] else -1, PAIR_LEND * s)):
            if row >= 0 and (rows_in is None or rows_in[row]) and got > best.get(row, float("-inf")):
                best[row] = float(got)
    top = sorted(best.items(), key=lambda x: (-x[1], x[0]))[:CANDIDATES]
    return {vec.ids[r]: (k + 1, s) for k, (r, s) in enumerate(top)}


_speaker_cache: dict[str, tuple[tuple[int, ...], dict[str, frozenset[str]]]] = {}
SHORT_NAME = 3  # letters of a name's start that name its speaker ("Mel" of Melanie; "Al" could be anyone's)
SHORTER = 3  # and at least this many letters short of it: a shortened name, not a word ("Age" does not call Agent)
_CAPITALIZED = re.compile(r"\b[A-Z]\w*")


def _speakers(store: Store, con: Connection) -> dict[str, frozenset[str]]:
    """The word each speaker is called by (the first word of their name that :func:`.text.speaker_words` keeps:
    "Alice" of "Alice Chen", never "Park" of "Bob Park", a word of its own too) → the speakers called so; read
    again only when something was committed (the file's signature, as :func:`.index.sync_if_changed` knows it)."""
    sig = file_signature(store.path)
    hit = _speaker_cache.get(str(store.path))
    if hit is not None and hit[0] == sig:
        return hit[1]
    words: dict[str, set[str]] = {}
    for (name,) in fetch_rows(con, "SELECT DISTINCT speaker FROM messages WHERE speaker IS NOT NULL"):
        for part in name.split():
            if called := speaker_words(part):
                words.setdefault(min(called), set()).add(name)
                break
    out = {w: frozenset(names) for w, names in words.items()}
    _speaker_cache.clear()  # one memory's at a time
    _speaker_cache[str(store.path)] = (sig, out)
    return out


def _named_speakers(store: Store, con: Connection, q: str) -> dict[str, frozenset[str]]:
    """The words of ``q`` that name someone who speaks in the chats → those speakers ("Caroline", "Alice" of
    "Alice Chen", "#Person1#"; written with a capital, unless the whole query is in lower case), or that are the
    start of the word they are called by, of :data:`SHORT_NAME` letters or more and :data:`SHORTER` short of it,
    written with a capital after the query's first word ("Mel" of Melanie, "Caro" of Caroline; not "Age" of
    Agent)."""
    asked = speaker_words(q, as_written=True)
    if not asked:
        return {}
    by_word = _speakers(store, con)
    named = {w: by_word[w] for w in asked if w in by_word}
    # a name's start: written with a capital, not as the query's first word ("Use …" does not call User)
    rest = q.split(None, 1)[1:]
    capitals = _CAPITALIZED.findall(rest[0]) if rest and q != q.lower() else []
    for w in speaker_words(" ".join(capitals)) - named.keys():
        if len(w) >= SHORT_NAME and (called := [k for k in by_word if k.startswith(w) and len(k) >= len(w) + SHORTER]):
            named[w] = frozenset().union(*(by_word[k] for k in called))
    return named


def _less_names(text: str, named: dict[str, frozenset[str]]) -> str:
    """``text`` less the words, written with a capital, that name a speaker, for any embedding model: a message is
    embedded without its speaker, so a name in the query only pulls its vector away from what it asks (DialogSum
    dev, dense half R@5: WordLlama 0.860 → 0.902, all-MiniLM-L6-v2 0.800 → 0.889; BENCHMARKS.md §7). A word in
    lower case stays ("the rose bush" keeps "rose" though Rose speaks). ``text`` itself when nothing else is left."""
    if not named:
        return text
    kept = [w for w in text.split() if w.lstrip("#@")[:1].islower() or not (speaker_words(w) & named.keys())]
    return " ".join(kept) if kept else text


def _speakers_boost(store: Store, named: set[str], every: dict[str, frozenset[str]], r: Ranked,
                    limit: int, reach: float = SPEAKER_BOOST) -> dict[str, float]:
    """:data:`SPEAKER_BOOST` for the candidates of the speakers the query names: their messages, the events they
    are an actor of, the moments they are in (a person's turns are lifted over another's, never messages over the
    rest); nothing when no one, or everyone who speaks, is named. Only the candidates that a lift of ``reach`` (this
    one and any other the item may get: the when lift) can bring into the best ``limit`` are looked up, by id, in
    the lexical index, which knows who each item is of (DuckDB answers ``id IN (…)`` with a scan of the id column:
    4–5 ms at 100k messages); without one, nothing is lifted."""
    if not named or len(named) == len(set().union(*every.values())):
        return {}
    lex = ix.Lexical.open(store.path)
    if lex is None:
        return {}
    near = _near(r, limit, reach)
    keys = [f"{kind}:{i}" for kind in ("message", "moment", "event") for i in near.get(kind, [])]
    return dict.fromkeys(lex.of(keys, sorted(named)), SPEAKER_BOOST)


def _within(r: Ranked, limit: int, lift: float) -> list[str]:
    """The candidates (keys, best first) a lift of ``lift`` can bring into the best ``limit``."""
    fused = fuse(r)
    floor = fused[limit - 1][1] - lift if len(fused) > limit else float("-inf")
    return [key for key, score in fused if score >= floor]


def _near(r: Ranked, limit: int, lift: float) -> dict[str, list[str]]:
    """The candidates a lift of ``lift`` can bring into the best ``limit``, by kind (item ids)."""
    near: dict[str, list[str]] = {}
    for key in _within(r, limit, lift):
        kind, item = key.split(":", 1)
        near.setdefault(kind, []).append(item)
    return near


def _when_boost(store: Store, con: Connection, r: Ranked, limit: int) -> dict[str, float]:
    """:data:`WHEN_BOOST` for the candidates that say when: the messages in which REM reads a time, the events
    whose date was said (``search_index.says_when``, found when they were indexed). Only the candidates the boost
    can lift into the best ``limit`` are looked at."""
    near = _near(r, limit, WHEN_BOOST)
    saying = ix.saying_when(store, con)
    return {key: WHEN_BOOST for kind, ids in near.items() for i in ids if (key := f"{kind}:{i}") in saying}


# an item that holds what the question asks for — a person's name for "who", a place for "where", a number for "how
# many" (:func:`.text.asks_for`) — is lifted by ANSWER_BOOST (z-score units, as the when lift). Chosen on DialogSum
# dev's "fact" questions asked with their question word (bench/search/heldout.py, ``dialogsum-fact-wh``): R@5 0.575
# → 0.599 at 1.0; 1.5 and 2.0 gained more there (0.605, 0.615) but lift such an item over nearly any other, where the
# set's evidence holds the thing asked for by construction and a person's chats need not; TIAGE dev within two
# questions at each (BENCHMARKS.md §7, session 31)
ANSWER_BOOST = 1.0
_NUMBER = re.compile(r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
                     r"fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|"
                     r"ninety|hundred|thousand|million|billion|dozen|once|twice|half)\b", re.I)
_PLACES = frozenset({"GPE", "LOC", "FAC"})
# someone named by how they stand to another ("my mom", "her friends", "the doctor"): an answer to "who …?" as a name
# is ("Who helped Caroline?" — "My mentors did"), lifted by ROLE_BOOST where no name is read. Chosen on DialogSum dev's
# "who" answered by a relation (bench/search/heldout.py, ``dialogsum-who-role``, 52): R@5 0.538 → 0.615 at 0.5
# (0.577 with no lift at all: the lift of names alone had put their turns first), 0.635 at 1.0, where the questions
# answered by a name lost (``dialogsum-fact-wh`` "who" 0.577 → 0.572; unchanged at 0.5); BENCHMARKS.md §7, session 32
_ROLE = re.compile(r"\b(?:my|our|your|his|her|their|the|a|an)\s+(?:[\w-]+\s+)?(?:(?:" + "|".join(RELATIONS)
                   + r"|parent|mentor)(?:s|es)?|children|family)\b", re.I)
ROLE_BOOST = 0.5
_NAMED, _RELATED = 2, 1  # what a text was read to hold: what was asked for; for "who", someone by a relation only
_held: dict[tuple[str, int], int] = {}  # (what is asked for, hash of a turn's text) → _NAMED, _RELATED or 0
_HELD_KEPT = 20_000
# the best candidates read for it, at most, or twice the results asked for (a flat ranking can bring hundreds within
# reach; DialogSum dev "fact" asked with its question word: R@5 0.599 reading 20, 30, 50 or 100; reading 20 saves
# 2–3 ms of a question asking who at 100k items but lost R@10, dev 0.681 → 0.680, test 0.634 → 0.627: BENCHMARKS.md
# §7, session 32)
ANSWER_READ = 30


def _answer_boost(store: Store, con: Connection, r: Ranked, limit: int, wants: str) -> dict[str, float]:
    """The candidates a lift of :data:`ANSWER_BOOST` can bring into the best ``limit`` (the best
    :data:`ANSWER_READ` of them, or twice ``limit``) whose text holds what the question asks for: a number (digits
    or a number's word), or a person or a place as the entity model reads them (spaCy's English model through
    :mod:`rem.understand.ner`; a speaker's own name, as in "Thanks, Caroline!", names no one else: :func:`_no_one`;
    without the model, nothing is lifted for a person or a place), each with its lift; for a person, the candidates
    naming no one but someone by a relation ("my mentors", "the doctor") are lifted by :data:`ROLE_BOOST`. Items of
    every kind: a document that says "the build took 40 minutes" answers "how long …?" as well as a turn. A text's
    reading is kept in this process."""
    keys = _within(r, limit, ANSWER_BOOST)[:max(ANSWER_READ, 2 * limit)]
    if not keys:
        return {}
    wanted: dict[str, list[str]] = {}
    for key in keys:
        kind, item = key.split(":", 1)
        wanted.setdefault(kind, []).append(item)
    texts = ix.texts_of(con, wanted)
    held = {k: _held.get((wants, hash(t))) for k, t in texts.items()}
    todo = [k for k, v in held.items() if v is None]
    if todo and wants == "number":
        held.update({k: _NAMED if _NUMBER.search(texts[k]) else 0 for k in todo})
    elif todo:
        read = _recognizer()
        if read is None:
            return {}
        speakers = set(_speakers(store, con))
        labels = {"PERSON"} if wants == "person" else _PLACES
        # line by line, as the dream reads sentences: a document's heading and its list items read as one sentence
        # make names of capitals ("Files changed", "Fixing the CI pipeline")
        lines = [(k, line) for k in todo for line in texts[k].splitlines() if line.strip()]
        named = dict.fromkeys(todo, False)
        for (k, _line), (ents, commons) in zip(lines, read([line for _k, line in lines]), strict=True):
            named[k] = named[k] or any(label in labels and not (label == "PERSON" and _no_one(name, speakers, commons))
                                       for name, label in ents)
        held.update({k: _NAMED if named[k] else _RELATED if wants == "person" and _ROLE.search(texts[k]) else 0
                     for k in todo})
    if len(_held) > _HELD_KEPT:
        _held.clear()
    for k in todo:
        _held[(wants, hash(texts[k]))] = held[k] or 0
    return {k: ANSWER_BOOST if v == _NAMED else ROLE_BOOST for k, v in held.items() if v}


def _no_one(name: str, speakers: set[str], commons: frozenset[str] | None) -> bool:
    """Whether a PERSON the entity model read names no one but a speaker ("Thanks, Caroline!"), or is a common word
    the tagger reads as one ("Fixing the CI pipeline", "Files changed")."""
    return speaker_words(name) <= speakers or all(w in (commons or ()) for w in name.split())


_recognizers: list[Any] = []


def _recognizer() -> Any:
    """The entity model (loaded once a process), or None without it."""
    if not _recognizers:
        from ..understand.ner import recognizer

        _recognizers.append(recognizer())
    return _recognizers[0]


def _confidence(ranking: dict[str, tuple[int, float]], depth: int = CONFIDENCE_DEPTH) -> float:
    """How far the best score stands above the one at ``depth`` (or the last), relative to the best: 0 when
    every candidate scores alike (a ranking that sees nothing in particular)."""
    scores = sorted((s for _r, s in ranking.values()), reverse=True)
    if len(scores) < 2 or scores[0] <= 0:
        return 0.0
    return max(0.0, (scores[0] - scores[min(depth, len(scores) - 1)]) / scores[0])


def _zscores(ranking: dict[str, tuple[int, float]]) -> dict[str, float]:
    if not ranking:
        return {}
    values = [s for _r, s in ranking.values()]
    mean = sum(values) / len(values)
    sd = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5 or 1.0
    return {i: (s - mean) / sd for i, (_r, s) in ranking.items()}


def fuse(r: Ranked, moment_boost: float = MOMENT_BOOST) -> list[tuple[str, float]]:
    """Adaptive score fusion: each ranking's scores as z-scores over its
    candidates (an item a ranking did not return gets that ranking's lowest),
    summed with weights proportional to each ranking's own confidence for
    this query (:func:`_confidence`; equal when neither is confident), plus
    ``moment_boost`` for a moment and what ``r.boost`` adds (a named speaker's turns, the turns saying when a
    question asks when); best first."""
    lex, den = _zscores(r.lexical), _zscores(r.dense)
    cl, cd = _confidence(r.lexical), _confidence(r.dense)
    wl = 0.5 if cl + cd == 0 else cl / (cl + cd)
    low_l, low_d = min(lex.values(), default=0.0), min(den.values(), default=0.0)
    scores = {}
    for i in lex.keys() | den.keys():
        s = (wl * lex.get(i, low_l) if lex else 0.0) + ((1 - wl) * den.get(i, low_d) if den else 0.0)
        scores[i] = s + (moment_boost if i.startswith("moment:") else 0.0) + r.boost.get(i, 0.0)
    return sorted(scores.items(), key=lambda x: (-x[1], x[0]))


@dataclass
class _Window:
    """A search's time alone, tested on each candidate's time: [lo, hi) in µs since the epoch."""

    times: ix.ItemTimes
    lo: int
    hi: int

    def holds(self, ts: Any) -> Any:
        """Which candidates (their times ``ts``) were written in the window."""
        return (ts >= self.lo) & (ts < self.hi)

    def said(self, hashes: Any) -> Any:
        """Which candidates (their ids' ``hashes``) are messages saying a time that meets the window ("I went hiking
        on Saturday", written on Monday, of the weekend): :meth:`.index.ItemTimes.said`."""
        return self.times.said(hashes, self.lo, self.hi)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _window(store: Store, con: Connection, opts: SearchOptions) -> _Window:
    def us(value: str | None, flag: str, default: int) -> int:
        return default if not value else (_when(value, flag) - _EPOCH) // timedelta(microseconds=1)

    big = int(np.iinfo(np.int64).max)
    return _Window(ix.item_times(store, con), us(opts.since, "--since", ix.NO_TIME + 1), us(opts.until, "--until", big))


def _allowed(con: Connection, opts: SearchOptions) -> set[str]:
    """The ids of the items the filters let through."""
    params: dict[str, Any] = {}
    cond = ["TRUE"]
    if opts.since:
        params["since"] = _when(opts.since, "--since")
        cond.append("c.ts >= $since")
    if opts.until:
        params["until"] = _when(opts.until, "--until")
        cond.append("c.ts < $until")
    moment_filter = []
    for i, t in enumerate(opts.tags):
        params[f"t{i}"] = t.lower().strip()
        moment_filter.append(f"list_contains(tags, $t{i})")
    for i, p in enumerate(opts.people):
        params[f"p{i}"] = p.lower().strip()
        moment_filter.append(f"list_contains(list_transform(people, lambda x: lower(x)), $p{i})")
    if opts.types:
        params["types"] = list(opts.types)
        moment_filter.append("list_contains($types, moment_type)")
    parts = []
    for kind in opts.kinds:
        sql = f"SELECT c.id FROM ({ix.items_sql(kind, text=False)}) c WHERE {' AND '.join(cond)}"
        if moment_filter:
            mf = " AND ".join(moment_filter)
            if kind == "moment":
                sql += f" AND c.item_id IN (SELECT id FROM moments WHERE {mf})"
            elif kind == "event":
                sql += f" AND split_part(c.item_id, '/', 1) IN (SELECT id FROM moments WHERE {mf})"
            else:
                sql += f""" AND c.item_id IN (SELECT unnest(list_concat(coalesce(resource_ids, []), coalesce(message_ids, []),
                                                                        coalesce(session_ids, []))) FROM moments WHERE {mf})"""
        parts.append(sql)
    return set(fetch_arrow(con, " UNION ALL ".join(parts), params or None).column("id").to_pylist())


def _when(value: str, flag: str) -> datetime:
    from ..exceptions import IngestError

    try:
        return parse_time(value, source=flag, field="value")
    except IngestError as e:
        raise SearchError(f"{flag} {value!r} is not a date or time (use e.g. 2026-11-16)") from e


# each kind's rows for the hits: (SELECT …, FROM …, the id column the hits are looked up by)
_DETAIL = {
    "moment": ("id, name AS title, concat_ws(' ', summary, outcome) AS text, start_time AS time, id AS moment_id, "
               "name AS moment", "moments", "id"),
    "resource": ("id, name AS title, content AS text, created_at AS time, NULL AS moment_id, NULL AS moment",
                 "resources", "id"),
    "message": ("m.id, s.name AS title, concat_ws(': ', m.speaker, m.content) AS text, m.created_at AS time, "
                "NULL AS moment_id, NULL AS moment", "messages m LEFT JOIN sessions s ON s.id = m.session_id", "m.id"),
    "session": ("id, name AS title, name AS text, created_at AS time, NULL AS moment_id, NULL AS moment", "sessions", "id"),
    "event": ("""moment_id || '/' || position AS id, moment_name AS title, concat_ws(' — ', text, CAST("date" AS VARCHAR)) AS text,
                 coalesce("at", moment_start) AS time, moment_id, moment_name AS moment""", "events",
              "moment_id || '/' || position"),
}
# the moment a message, resource or session belongs to (the earliest, when several hold it)
_OWNER = ("message", "resource", "session")


def details(store: Store, con: Connection, q: str, r: Ranked, opts: SearchOptions) -> pa.Table:
    fused = fuse(r)[: opts.limit]
    keys = [i for i, _ in fused]
    score = dict(fused)
    by_kind: dict[str, list[str]] = {}
    for key in keys:
        kind, item = key.split(":", 1)
        by_kind.setdefault(kind, []).append(item)
    found: dict[str, dict[str, Any]] = {}
    # the hits' rows, each kind looked up by id, in one query (a join of the hits against every kind's whole table
    # cost ~20 ms at 100k items); the moment each message, resource or session belongs to from a cache
    params: dict[str, Any] = {}
    parts = []
    for k, (kind, items) in enumerate(by_kind.items()):
        cols, source, key_col = _DETAIL[kind]
        params[f"k{k}"] = items
        where = f"list_contains($k{k}, {key_col})"
        if kind == "event":  # the view unnests every moment's events (~15 ms at 20,000): the hits' moments only
            params[f"m{k}"] = list({i.split("/", 1)[0] for i in items})
            source = f"({events_sql(f'(SELECT * FROM moments WHERE list_contains($m{k}, id))')})"
        # the hash the moment it belongs to is looked up by (see rem.search.index.owners)
        h = f"hash('{kind}:' || {key_col})" if kind in _OWNER else "NULL::UBIGINT"
        parts.append(f"SELECT '{kind}' AS kind, {cols}, {h} AS h FROM {source} WHERE {where}")
    if parts:
        rows_ = fetch_arrow(con, " UNION ALL ".join(parts), params).to_pylist()
        if any(r["h"] is not None for r in rows_):
            held = ix.owners(store, con).of([r["h"] for r in rows_])
            for row, owner in zip(rows_, held, strict=True):
                if owner is not None:
                    row["moment_id"], row["moment"] = owner
        for row in rows_:
            found[f"{row['kind']}:{row['id']}"] = row
    rows = [(key, found[key]) for key in keys if key in found]
    out: dict[str, list[Any]] = {c: [] for c in COLUMNS + (EXPLAIN if opts.explain else ())}
    for n, (key, row) in enumerate(rows, start=1):
        out["rank"].append(n)
        out["kind"].append(key.split(":", 1)[0])
        out["id"].append(row["id"])
        out["time"].append(row["time"])
        out["title"].append(row["title"])
        out["snippet"].append(snippet(row["text"] or row["title"] or "", q))
        out["moment_id"].append(row["moment_id"])
        out["moment"].append(row["moment"])
        out["score"].append(round(score[key], 6))
        if opts.explain:
            lr, ls = r.lexical.get(key, (None, None))
            dr, ds = r.dense.get(key, (None, None))
            out["lexical_rank"].append(lr)
            out["lexical_score"].append(None if ls is None else round(ls, 4))
            out["dense_rank"].append(dr)
            out["dense_score"].append(None if ds is None else round(ds, 4))
            # what fusion added beyond the two rankings: a moment's, a named speaker's (see fuse)
            out["boost"].append(round((MOMENT_BOOST if key.startswith("moment:") else 0.0) + r.boost.get(key, 0.0), 4))
    types = {"rank": pa.int64(), "time": pa.timestamp("us", tz="UTC"), "score": pa.float64(), "lexical_rank": pa.int64(),
             "dense_rank": pa.int64(), "lexical_score": pa.float64(), "dense_score": pa.float64(), "boost": pa.float64()}
    return pa.table({c: pa.array(v, types.get(c, pa.string())) for c, v in out.items()})
