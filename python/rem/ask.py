"""`rem ask`: a question answered from the memory.

1. **The question is read** (:func:`read_question`): what it wants (``when``
   something happened, a ``summary`` of a time, or a ``fact``), the time it
   names ("last week", "in May", "yesterday", "my week"; resolved against
   today in the machine's zone) and the words to search for.
2. **Evidence is retrieved** with search (:mod:`rem.search`), inside the named
   time when there is one (everywhere when nothing is found there); each
   message comes with what the dream said happened in it (its events, their
   dates resolved), and the dates its own words say ("yesterday" said on
   8 May is 7 May) are resolved against the day it was written. A summary
   question takes the moments of its time instead — dreaming that time first
   when activity in it was never dreamed (the on-demand dream).
3. **The answer**:
   - with a model (any OpenAI-compatible endpoint, or the embedded one): a
     short answer citing its evidence by ref (``E1``, ``E2``…, given with the
     evidence; a ref the model invents is dropped, so it cannot make up a
     source), validated with instructor; when the evidence does not hold the
     answer, the model says so and REM answers "I don't find that in your
     memory"; the estimated cost is checked against ``max_cost`` before
     anything is sent, as the dream does;
   - with no model: the best evidence itself — for "when" questions the
     resolved date first, then who said what, when and where.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from .config import LLMSettings
from .days import day_window, local_date, local_zone
from .exceptions import LLMError, SearchError
from .store import Store, fetch_arrow
from .understand import when as when_mod

log = logging.getLogger("rem.ask")

NOT_FOUND = "I don't find that in your memory."
EVIDENCE = 8  # pieces of evidence retrieved (and given to a model)
SOURCES = 6  # of them up to this many messages or documents, searched on their own (chosen on DialogSum dev: 0.73 → 0.91)
# the best turns or documents come first, before the moments and events a search of every kind ranks above them: a
# moment's summary is found for a question's words more often than it holds the answer (DialogSum dev, the best hit
# of every kind is of the right dialogue for 0.68 of the questions, the best turn for 0.81; BENCHMARKS.md §7)
LEAD = 3
# a turn that only asks something is the answer only when it holds more than this many more of the question's
# words than anything else, unless the question asks who (DialogSum dev, the best turns leading; answered from the
# right dialogue and not by a question, asked / did: 1 → 0.575 / 0.689, 2 → 0.593 / 0.701; BENCHMARKS.md §7)
ASKING = 2.0
MAX_ANSWER_TOKENS = 300
TEXT_CHARS = 400  # of one piece of evidence

_SUMMARY_Q = re.compile(r"^\s*(?:summari[sz]e|recap|sum\s+up|give\s+me\s+(?:a|an)\s+(?:summary|overview|recap)|"
                        r"what\s+did\s+i\s+(?:do|work\s+on)|what\s+happened|what\s+have\s+i\s+(?:done|been\s+doing))\b", re.I)
# the forms that ask for a summary only when they name nothing else: "What happened last week?" is one, "What
# happened when Tom quit?" and "What did I do about the lease?" ask about something
_SUMMARY_ASK = re.compile(r"^\s*(?:what\s+did\s+i\s+(?:do|work\s+on)|what\s+happened|what\s+have\s+i\s+"
                          r"(?:done|been\s+doing))\b", re.I)
_QUESTION_WORDS = re.compile(r"^\s*(?:when|what|who|where|which|why|how|did|do|does|is|are|was|were|can|could)\b\s*", re.I)


# words that name nothing to look for, beside the question words and the asker's pronouns ("What is it?", "Anything?")
_EMPTY_WORDS = frozenset("""it this that these those there the a an be been being will so then ok okay and but or
anything something everything stuff""".split())


# what may follow "what happened" in a question that still asks for a summary ("… to me lately", "… in my life")
_SUMMARY_TAIL = frozenset("to me for with in my life lately recently so far much new else interesting".split())


def _names_something(query: str, also: frozenset[str] = frozenset()) -> bool:
    from .search.text import QUERY_STOPWORDS

    return any(w.lower() not in QUERY_STOPWORDS and w.lower() not in _EMPTY_WORDS and w.lower() not in also
               for w in re.findall(r"\w+", query))


@dataclass
class Question:
    text: str
    intent: str  # when | summary | fact
    window: tuple[date, date] | None = None  # the local days it names, first and last
    window_words: str | None = None
    query: str = ""  # the words searched for

    def public(self) -> dict[str, Any]:
        return {"intent": self.intent, "window": None if self.window is None else
                {"start": self.window[0].isoformat(), "end": self.window[1].isoformat(), "words": self.window_words},
                "query": self.query}


def read_question(text: str, today: date | None = None) -> Question:
    """What ``text`` asks for, the time it names (resolved against ``today``) and the words to search."""
    t = " ".join((text or "").split())
    if not t:
        raise SearchError('the question is empty: ask something, e.g. rem ask "When did I last go to the support group?"')
    from .search import time_in
    from .search.text import ASKS_WHEN

    today = today or datetime.now(local_zone()).date()
    intent = "when" if ASKS_WHEN.search(t) else "summary" if _SUMMARY_Q.search(t) else "fact"
    read = time_in(t, today)
    window, words, query = None, None, t
    if read is not None:
        window, words, query = (read.start, read.end), read.words, read.rest
    elif intent == "summary":
        window, words = (today - timedelta(days=today.weekday()), today), "this week"
    if intent == "summary" and (m := _SUMMARY_ASK.match(query)) and _names_something(query[m.end():], _SUMMARY_TAIL):
        intent = "fact"  # "What happened when Tom quit?": about that, not a summary of a time
        if read is None:
            window, words = None, None
    query = _QUESTION_WORDS.sub("", query).strip(" ?.!") or t
    if intent != "summary" and not _names_something(query):
        if window is None:  # "Who?", "???": any answer would be a guess
            raise SearchError(f"“{_cut(t, 80)}” names nothing to look for: ask about something, "
                              'e.g. rem ask "When did I last go to the support group?"')
        intent = "summary"  # "anything last week?": what that time holds
    return Question(t, intent, window, words, query)


@dataclass
class Evidence:
    ref: str
    kind: str  # event | message | resource | moment | session
    id: str
    time: datetime | None
    text: str
    who: str | None = None
    where: str | None = None  # the session or document's name
    moment_id: str | None = None
    moment: str | None = None
    date: str | None = None  # the date what it says happened (resolved), ISO
    date_end: str | None = None
    when: str | None = None  # the words that said it
    source: str | None = None  # an event's message or document
    clause: str = field(default="", repr=False)  # the words around the date it says (which question it answers)

    def public(self) -> dict[str, Any]:
        return {"ref": self.ref, "kind": self.kind, "id": self.id, "time": self.time.isoformat() if self.time else None,
                "text": self.text, "who": self.who, "where": self.where, "moment_id": self.moment_id,
                "moment": self.moment, "date": self.date, "date_end": self.date_end, "when": self.when}

    def happened(self) -> str | None:
        """The resolved date of what it says, as words (``7 May 2023``), or None."""
        if not self.date:
            return None
        a = date.fromisoformat(self.date)
        b = date.fromisoformat(self.date_end) if self.date_end else a
        return when_mod.When(self.when or "", a, b, (0, 0)).show()


@dataclass
class Answer:
    question: str
    answer: str
    evidence: list[Evidence] = field(default_factory=list)
    cited: list[str] = field(default_factory=list)  # the refs the answer rests on
    found: bool = True
    model: str = "none"
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float | None = 0.0
    intent: str = "fact"
    read: Question | None = None
    dreamed: list[str] = field(default_factory=list)  # run ids of the on-demand dream
    message: str = ""  # what the user should know (a fallback, a cost refusal)
    moments: int = 0  # a summary question: the moments its time holds (the evidence: the most substantial of them)

    def public(self) -> dict[str, Any]:
        return {"question": self.question, "answer": self.answer, "found": self.found, "cited": self.cited,
                "evidence": [e.public() for e in self.evidence], "model": self.model,
                "tokens": {"in": self.tokens_in, "out": self.tokens_out}, "cost": self.cost,
                "understood": self.read.public() if self.read else None, "dreamed": self.dreamed,
                "message": self.message, **({"moments": self.moments} if self.intent == "summary" else {})}


# -- retrieval ----------------------------------------------------------------------------------------------
def _window_bounds(q: Question) -> tuple[datetime, datetime] | None:
    if q.window is None:
        return None
    try:
        a, _ = day_window(q.window[0])
        _, b = day_window(q.window[1])
    except ValueError:
        return None
    return a, b


def retrieve(store: Store, q: Question, limit: int = EVIDENCE) -> tuple[list[Evidence], bool]:
    """The evidence for ``q``: search hits, each message with its events and resolved dates; and whether they are
    of the time the question names. Inside that time only, when anything is there; else from any time (and False)."""
    from .search import SearchOptions, search

    bounds = _window_bounds(q)
    def hits(**when: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        return (search(store, q.query, SearchOptions(limit=SOURCES, kinds=("message", "resource"), **when)).to_pylist()[:SOURCES],
                search(store, q.query, SearchOptions(limit=limit, **when)).to_pylist())

    inside = False
    if bounds is not None:
        said, every = hits(since=bounds[0].isoformat(), until=bounds[1].isoformat())
        inside = bool(said or every)
    if not inside:
        said, every = hits(read_time=False)
    # what was said first, then what was made of it: the best turns and documents lead and keep places of their own,
    # so the moments and events that rank first in a search of every kind (short, name-heavy) cannot crowd every
    # source out; each turn brings its events with it
    have = {r["id"] for r in said}
    made = [r for r in every if r["id"] not in have][:max(0, limit - len(said))]
    rows = said[:LEAD] + made + said[LEAD:]  # still ``limit`` hits in all
    return _enrich(store, rows, q.query)[:limit * 2], inside or bounds is None


def _enrich(store: Store, rows: list[dict[str, Any]], query: str = "") -> list[Evidence]:
    from .schema import events_sql
    from .search.index import event_sources

    wanted = _terms(query)
    ids = {k: [r["id"] for r in rows if r["kind"] == k] for k in ("message", "resource", "moment", "session", "event")}
    with store.read(sandbox=False) as con:
        msgs = {r["id"]: r for r in fetch_arrow(con, """SELECT m.id, m.speaker, m.role, m.content, m.created_at, s.name AS session,
                                                              hash(m.id) AS h
                                                       FROM messages m LEFT JOIN sessions s ON s.id = m.session_id
                                                       WHERE list_contains($ids, m.id)""", {"ids": ids["message"]}).to_pylist()}
        docs = {r["id"]: r for r in fetch_arrow(con, """SELECT id, name, content, created_at, hash(id) AS h FROM resources
                                                       WHERE list_contains($ids, id)""", {"ids": ids["resource"]}).to_pylist()}
        moments = {r["id"]: r for r in fetch_arrow(con, "SELECT id, name, summary, start_time FROM moments WHERE list_contains($ids, id)",
                                                   {"ids": ids["moment"]}).to_pylist()}
        # the events of the moments that can hold them: those with an event found in these turns and documents (a
        # cache), the moments and the events' own; the view of every moment's events costs ~30 ms at 20,000 events
        held = event_sources(store, con).every([r["h"] for r in (*msgs.values(), *docs.values())])
        held |= set(ids["moment"]) | {i.split("/", 1)[0] for i in ids["event"]}
        events: dict[str, list[dict[str, Any]]] = {}
        for e in fetch_arrow(con, f"""SELECT moment_id, moment_name, position, text, actors, "date", date_end, "when", source_id, "at"
                                      FROM ({events_sql("(SELECT * FROM moments WHERE list_contains($held, id))")})
                                      WHERE list_contains($src, source_id) OR list_contains($mom, moment_id)
                                         OR list_contains($ev, moment_id || '/' || position)
                                      ORDER BY moment_id, position""",
                             {"src": ids["message"] + ids["resource"], "mom": ids["moment"], "ev": ids["event"],
                              "held": sorted(held)}).to_pylist():
            events.setdefault(e["source_id"], []).append(e)
            events.setdefault("moment:" + e["moment_id"], []).append(e)
            events.setdefault(f"event:{e['moment_id']}/{e['position']}", []).append(e)
    out: list[Evidence] = []

    def add(**kw: Any) -> None:
        out.append(Evidence(ref=f"E{len(out) + 1}", **kw))

    def add_events(key: str, moment_id: str | None, moment: str | None, limit: int) -> None:
        held = events.get(key, [])
        held = sorted(held, key=lambda e: -len(wanted & _terms(e["text"] or "")))  # the question's words first
        for e in held[:limit]:
            add(kind="event", id=f"{e['moment_id']}/{e['position']}", time=e["at"], text=e["text"],
                who=", ".join(e["actors"] or []) or None, moment_id=moment_id or e["moment_id"], moment=moment or e["moment_name"],
                date=e["date"].isoformat() if e["date"] else None, date_end=e["date_end"].isoformat() if e["date_end"] else None,
                when=e["when"], source=e["source_id"], clause=_date_clause(e["text"], e["date"], e["date_end"]))

    for r in rows:
        kind, iid = r["kind"], r["id"]
        if kind == "message" and iid in msgs:
            m = msgs[iid]
            add_events(iid, r["moment_id"], r["moment"], 2)
            text = " ".join((m["content"] or "").split())
            d = _resolved(text, m["created_at"], wanted)
            add(kind="message", id=iid, time=m["created_at"], text=_cut(text), who=m["speaker"] or m["role"],
                where=m["session"], moment_id=r["moment_id"], moment=r["moment"],
                date=d.start.isoformat() if d else None, date_end=None if d is None or d.one_day else d.end.isoformat(),
                when=d.words if d else None, clause=when_mod.clause_of(text, *d.at) if d else "")
        elif kind == "resource" and iid in docs:
            doc = docs[iid]
            add_events(iid, r["moment_id"], r["moment"], 1)
            text = (r["snippet"] or "").replace("«", "").replace("»", "")
            d = _resolved(text, doc["created_at"], wanted)
            add(kind="resource", id=iid, time=doc["created_at"], text=_cut(text), where=doc["name"], moment_id=r["moment_id"],
                moment=r["moment"], date=d.start.isoformat() if d else None,
                date_end=None if d is None or d.one_day else d.end.isoformat(), when=d.words if d else None)
        elif kind == "moment" and iid in moments:
            mo = moments[iid]
            add(kind="moment", id=iid, time=mo["start_time"], text=_cut(mo["summary"] or mo["name"] or ""), where=mo["name"],
                moment_id=iid, moment=mo["name"])
            add_events("moment:" + iid, iid, mo["name"], 2)
        elif kind == "event":
            add_events(f"event:{iid}", r["moment_id"], r["moment"], 1)
        elif kind == "session":
            add(kind="session", id=iid, time=r["time"], text=r["title"] or "", where=r["title"], moment_id=r["moment_id"],
                moment=r["moment"])
    return _dedupe(out)


def _date_clause(text: str, a: date | None, b: date | None) -> str:
    """The clause of an event's text that holds its date ("Tomás lost their keys on 18 November 2026")."""
    if a is None:
        return ""
    shown = when_mod.When("", a, b or a, (0, 0)).show()
    at = text.find(shown)
    return text if at < 0 else when_mod.clause_of(text, at, at + len(shown))


def _dedupe(out: list[Evidence]) -> list[Evidence]:
    seen: set[tuple[str, str]] = set()
    kept = []
    for e in out:
        key = (e.kind, e.text) if e.kind == "event" else (e.kind, e.id)
        if key in seen:
            continue
        seen.add(key)
        kept.append(e)
    for n, e in enumerate(kept, start=1):
        e.ref = f"E{n}"
    return kept


def _resolved(text: str, at: datetime | None, wanted: set[str] | frozenset[str] = frozenset()) -> when_mod.When | None:
    """The date ``text`` says (resolved against the day it was written): of several, the one whose clause holds
    most of the question's words ("I lost my keys on Wednesday, so I get a copy made tomorrow": a question about
    the copy wants tomorrow)."""
    if at is None:
        return None
    found = when_mod.find(text, local_date(at))
    if len(found) > 1 and wanted:
        return max(found, key=lambda w: (len(wanted & _terms(when_mod.clause_of(text, *w.at))), -w.at[0]))
    return found[0] if found else None


def _cut(text: str, n: int = TEXT_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1].rsplit(" ", 1)[0] + "…"


def day_label(t: datetime | None, *, with_time: bool = False) -> str:
    """``Fri 20 Nov 2026`` (``Fri 20 Nov 2026 19:07``) in the machine's zone."""
    if t is None:
        return "?"
    d = t.astimezone(local_zone())
    return f"{d.strftime('%a')} {d.day} {d.strftime('%b %Y')}" + (d.strftime(" %H:%M") if with_time else "")


_day = day_label


def _short_date(iso: str) -> str:
    d = date.fromisoformat(iso)
    return f"{d.strftime('%a')} {d.day} {d.strftime('%B %Y')}"


# -- moments of a time (summary questions) ------------------------------------------------------------------
SUMMARY_MOMENTS = 12  # a summary question's moments at most: the most substantial of its time, in time order


def moments_of(store: Store, q: Question, limit: int = SUMMARY_MOMENTS) -> tuple[list[Evidence], int]:
    """The moments of ``q``'s time, and how many it holds: all of them in time order when they are ``limit`` or
    fewer, else the ``limit`` with the most in them (pinned or corrected first, then by sources and events), in
    time order — not the first ``limit`` of a busy week."""
    bounds = _window_bounds(q)
    if bounds is None:
        return [], 0
    with store.read(sandbox=False) as con:
        rows = fetch_arrow(con, """SELECT id, name, summary, start_time, end_time, people, count(*) OVER () AS total FROM moments
                                   WHERE start_time < $b AND end_time >= $a
                                   ORDER BY coalesce(TRY_CAST(json_extract(metadata, '$.fixed') AS BOOLEAN), FALSE) DESC,
                                            len(coalesce(message_ids, [])) + len(coalesce(resource_ids, []))
                                            + coalesce(json_array_length(events), 0) DESC, start_time, id
                                   LIMIT $n""",
                           {"a": bounds[0], "b": bounds[1], "n": limit}).to_pylist()
    total = rows[0]["total"] if rows else 0
    rows.sort(key=lambda r: (r["start_time"], r["id"]))
    return [Evidence(ref=f"E{n}", kind="moment", id=r["id"], time=r["start_time"], text=_cut(r["summary"] or ""),
                     who=", ".join(r["people"] or []) or None, where=r["name"], moment_id=r["id"], moment=r["name"])
            for n, r in enumerate(rows, start=1)], total


def undreamed(store: Store, q: Question) -> list[date]:
    """The local days of ``q``'s time that hold activity no dream has seen, oldest first (none when it names no
    time)."""
    from . import ledger

    bounds = _window_bounds(q)
    if bounds is None or q.window is None:
        return []
    with store.read(sandbox=False) as con:
        return sorted(d for d, _n in ledger.undreamed_days(con, min(bounds[1], datetime.now(UTC)))
                      if q.window[0] <= d <= q.window[1])


def dream_if_needed(store: Store, q: Question, settings: LLMSettings, *, max_cost: float | None = None) -> list[str]:
    """Dream the days of ``q``'s time that hold activity no dream has seen (the on-demand dream); the run ids."""
    from .dream.run import DreamOptions, dream

    days = undreamed(store, q)
    if not days:
        return []
    a, _ = day_window(min(days))
    _, b = day_window(max(days))
    res = dream(store, settings, DreamOptions(start=a.isoformat(), end=b.isoformat(), lookback_hours=None, trigger="ask",
                                              max_cost=max_cost, progress=False))
    return [res.run_id]


def time_named(q: Question) -> str:
    """The time ``q`` names, in words and dates: "last week (Mon 9 November 2026 – Sun 15 November 2026)"."""
    return f"{q.window_words or 'that time'} ({_days(q)})"


def _days(q: Question) -> str:
    """The days of ``q``'s time: "Mon 9 November 2026 – Sun 15 November 2026", "until Thu 8 June 2023"."""
    from .search import EARLIEST

    assert q.window is not None
    a, b = (_short_date(d.isoformat()) for d in q.window)
    return f"until {b}" if q.window[0] <= EARLIEST else a if a == b else f"{a} – {b}"


def _from(q: Question) -> str:
    """"from last week (…)", but "since Monday (…)", "before 9 June 2023 (…)", "in October (…)": a time named with
    a preposition says its own (not "from in October")."""
    named = time_named(q)
    return named if re.match(r"(?:before|after|since|until|till|in|during|on|at|around|by)\b", named, re.I) \
        else f"from {named}"


def _elsewhere(q: Question) -> str:
    """What to say when nothing of the time ``q`` names was found, and the evidence is from other times."""
    return f"Nothing {_from(q)}; the closest from another time"


def _nothing_in(q: Question) -> str:
    return f"I don't find anything {_from(q)} in your memory."


# -- answering ----------------------------------------------------------------------------------------------
def _said(e: Evidence) -> str:
    where = f" in “{e.moment}”" if e.moment else (f" in “{e.where}”" if e.where else "")
    if e.kind == "event":
        return f"{e.text}{where}"
    if e.kind == "moment":
        return f"{e.where}, {_day(e.time)}: {e.text}"
    who = f"{e.who}, " if e.who else ""
    return f"{who}{_day(e.time)}: “{e.text}”{where}"


def _shown(q: Question, shown: int, total: int) -> str:
    """"12 moments (this week, …)", or "40 moments (this week, …); the 12 with the most in them"."""
    span = _days(q) if q.window else ""
    n = max(total, shown)
    head = f"{n} moment{'s' if n != 1 else ''} ({q.window_words or 'this time'}, {span})"
    return head if n <= shown else f"{head}; the {shown} with the most in them"


def answer_without_model(q: Question, evidence: list[Evidence], total: int = 0) -> tuple[str, list[str]]:
    """(answer, cited refs) from the evidence alone. ``total``: a summary question's moments in all."""
    if not evidence:
        return NOT_FOUND, []
    if q.intent == "summary":
        lines = [f"{_shown(q, len(evidence), total)}:"]
        lines += [f"- {_day(e.time)} {e.where}: {e.text}" for e in evidence]
        if total > len(evidence) and q.window is not None:
            lines.append(f"- … and {total - len(evidence)} more (rem moments --since {q.window[0].isoformat()})")
        return "\n".join(lines), [e.ref for e in evidence]
    terms = _terms(q.query)
    # asked who, a turn that asks is an answer like any other: its speaker is who wanted to know ("Who asked about
    # the cover charge?")
    asks_who = bool(_ASKS_WHO.match(q.text))

    def asking(e: Evidence) -> bool:  # a turn that only asks something answers nothing
        return not asks_who and e.kind == "message" and only_asks(e.text)

    def fit(e: Evidence) -> float:  # the question's words it holds (who said it counts), events and words first
        held = _terms(" ".join(filter(None, [e.text, e.who])))
        return len(terms & held) + (0.5 if e.kind in ("event", "message") else 0.0) - (ASKING if asking(e) else 0.0)

    top = evidence[:6]
    if q.intent == "when" and _ASKS_WHEN_SAID.search(q.text):
        # when someone told, asked or suggested something: the day it was said, not a date it mentions ("When did
        # Tom tell you about the accident?" is not the day of the accident)
        e = next((x for x in top if x.kind == "message" and not asking(x)), None) or top[0]
        return f"{_day(e.time)} — {_said(e)}", [e.ref]
    if q.intent == "when":
        dated = [e for e in top if e.date]
        if dated:  # the date whose own clause holds the question's words, then the best evidence
            best = max(dated, key=lambda e: (len(terms & _terms(e.clause)), fit(e), -top.index(e)))
            return f"{best.happened()} — {_said(best)}", [best.ref]
        e = max(top, key=lambda e: (fit(e), -top.index(e)))
        return f"{_day(e.time)} — {_said(e)}", [e.ref]
    # the best-ranked piece that says something: search's ranking knows more of what the question is about than a
    # count of its words does (DialogSum dev, answered from the right place: 0.700 → 0.734 asked, 0.715 → 0.774 did)
    e = next((x for x in top if not asking(x)), top[0])
    if e.kind == "event":  # the event and the words it came from
        src = next((x for x in evidence if x.kind == "message" and x.id == e.source), None)
        if src is not None:
            return f"{_said(e)}\n{_said(src)}", [e.ref, src.ref]
    return _said(e), [e.ref]


_ASKS_WHO = re.compile(r"^\W*who(?:m|se)?\b", re.I)
# "When did Ben tell you …?": the verb right after the one who did it (a past question; "When will Ben call?" asks
# for a plan, and "When was it that they talk about … and decide …" may ask for either)
_ASKS_WHEN_SAID = re.compile(r"^\W*when\s+did\s+(?:\S+\s+){1,3}?(?:tell|say|ask|mention|suggest|remind|call|talk|"
                             r"discuss|explain|text|message)\b", re.I)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def only_asks(text: str) -> bool:
    """Whether a turn asks something and says nothing else: its last sentence a question, any before it of four words
    at most ("That's really cool. Did you paint anything lately?"), so it cannot be what answers a question."""
    parts = [p for p in _SENTENCE_END.split(text.strip()) if p]
    return bool(parts) and parts[-1].rstrip("\"')»” ").endswith("?") and \
        all(len(p.split()) <= 4 or p.endswith("?") for p in parts[:-1])


def _terms(text: str) -> set[str]:
    from .search.text import terms

    return terms(text)


class AskReply(BaseModel):
    """The model's answer to a question from the owner's memory."""

    answer: str = Field(max_length=600, description="the answer in one to three sentences, citing evidence refs like [E2]; "
                                                    "empty when not found")
    refs: list[str] = Field(default_factory=list, max_length=8,
                            description="the refs of the evidence the answer rests on, e.g. [\"E2\"]")
    found: bool = Field(description="true when the evidence holds the answer; false when it does not")


_SYSTEM = ("You answer the owner's question about their own life and work from their memory. Use only the evidence "
           "given; each piece has a ref (E1, E2, …). Answer briefly, in the second person for the owner, with dates "
           "as dates (the evidence gives them resolved). Cite the refs your answer rests on. If the evidence does "
           "not hold the answer, set found to false: never guess.")


def _prompt(q: Question, evidence: list[Evidence], today: date, elsewhere: str = "", also: str = "") -> list[dict[str, str]]:
    lines = []
    for e in evidence:
        bits = [f"[{e.ref}] {e.kind}", _day(e.time)]
        if e.who:
            bits.append(f"by {e.who}")
        if e.date:
            bits.append(f"(happened {e.happened()})")
        if e.moment:
            bits.append(f"in moment “{e.moment}”")
        lines.append(" ".join(bits) + f": {e.text}")
    note = f"{elsewhere}: the evidence below is of other times.\n" if elsewhere else ""
    note += f"{also}.\n" if also else ""
    user = (f"Today is {_short_date(today.isoformat())}.\nQuestion: {q.text}\n{note}\n<evidence>\n" + "\n".join(lines)
            + "\n</evidence>\n\nAnswer from the evidence only, citing refs.")
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": user}]


_REF = re.compile(r"\[?\b(E\d{1,3})\b\]?")


def answer_with_model(settings: LLMSettings, q: Question, evidence: list[Evidence], out: Answer, *,
                      max_cost: float | None = None, today: date | None = None, timeout_s: float = 120.0,
                      elsewhere: str = "", also: str = "") -> str:
    """Ask the configured model; fills ``out`` (answer, cited, found, usage, cost) and returns "", or returns why
    nothing was sent (the estimated cost is over ``max_cost``). Raises LLMError."""
    from .dream.run import endpoint
    from .llm.client import LLM

    msgs = _prompt(q, evidence, today or datetime.now(local_zone()).date(), elsewhere, also)
    est_in = sum(len(m["content"]) for m in msgs) // 3 + 50
    est = settings.estimate_cost(est_in, MAX_ANSWER_TOKENS)
    if max_cost is not None and (est is None or est > max_cost):
        shown = "unknown (no price for this model)" if est is None else f"${est:.4f}"
        return f"estimated cost {shown} exceeds --max-cost ${max_cost:.4f}; nothing was sent"
    with endpoint(settings) as (base_url, model):
        llm = LLM(settings, base_url, model, timeout_s=timeout_s, transport_retries=1 if settings.embedded else 3)
        call = llm.constrained if settings.embedded else llm.structured
        temperature = float(settings.temperature if settings.temperature is not None else 0.0)
        reply = call(AskReply, msgs, temperature=temperature, max_tokens=int(settings.max_output_tokens or MAX_ANSWER_TOKENS))
    out.model = model
    out.tokens_in, out.tokens_out = reply.usage.tokens_in, reply.usage.tokens_out
    out.cost = settings.estimate_cost(out.tokens_in, out.tokens_out)
    value: AskReply = reply.value
    known = {e.ref for e in evidence}
    cited = list(dict.fromkeys(r.strip("[] ") for r in value.refs if r.strip("[] ") in known))
    cited += [r for r in dict.fromkeys(_REF.findall(value.answer)) if r in known and r not in cited]
    invented = [r for r in dict.fromkeys(_REF.findall(value.answer)) if r not in known]
    if invented:
        log.warning("the model cited evidence it was not given (%s): dropped", ", ".join(invented))
    text = _REF.sub(lambda m: f"[{m.group(1)}]" if m.group(1) in known else "", value.answer)
    text = " ".join(text.split())
    if not value.found or not cited or not text:
        out.found, out.answer, out.cited = False, NOT_FOUND, []
        return ""
    out.answer, out.cited = text, cited
    return ""


def ask(store: Store, question: str, settings: LLMSettings | None = None, *, limit: int = EVIDENCE,
        max_cost: float | None = None, dream_missing: bool = True, today: date | None = None) -> Answer:
    """Answer ``question`` from the memory in ``store`` (see the module's doc). ``settings``: the model
    (None or no model: the evidence answers). ``dream_missing``: dream a summary question's time first
    when activity in it was never dreamed."""
    from .config import NO_MODEL

    settings = settings or LLMSettings(model=NO_MODEL)
    q = read_question(question, today)
    out = Answer(question=q.text, answer="", intent=q.intent, read=q)
    if q.intent == "summary":
        if dream_missing:
            out.dreamed = dream_if_needed(store, q, settings, max_cost=max_cost)
        out.evidence, out.moments = moments_of(store, q)
        if not out.evidence:
            out.answer, out.found = _nothing_in(q), False
            return out
    elsewhere = ""  # nothing of the time the question names was found: said first, whoever answers
    if q.intent != "summary":
        out.evidence, of_its_time = retrieve(store, q, limit)
        if not of_its_time and out.evidence:
            elsewhere = _elsewhere(q)
    if not settings.no_model and out.evidence:
        try:
            also = _shown(q, len(out.evidence), out.moments) if q.intent == "summary" and out.moments > len(out.evidence) else ""
            refused = answer_with_model(settings, q, out.evidence, out, max_cost=max_cost, today=today, elsewhere=elsewhere,
                                        also=also)
            if not refused:
                out.message = elsewhere
                return out
            out.message = f"{refused}: answered from the evidence alone"
        except LLMError as e:
            out.message = f"the model could not answer ({e}): answered from the evidence alone"
    out.answer, out.cited = answer_without_model(q, out.evidence, out.moments)
    out.found = out.answer != NOT_FOUND
    if elsewhere and out.found:
        out.answer = f"{elsewhere}:\n{out.answer}"
    return out
