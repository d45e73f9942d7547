"""Understanding without a model: what each segment of a dream was about.

For every segment the packer made, deterministically and offline:

- **topics** — key phrases weighed against the owner's own history
  (:mod:`.keyphrases`): note tags, commit subjects, session titles, tool-call
  queries and what the owner wrote count most;
- **people** — speakers, commit authors and co-authors, attendees, mentions,
  people the store knows, names before a verb of speech (:mod:`.people`);
- **emotions** — REM's work-mood lexicon, VADER's valence and the shape of
  the activity (:mod:`.emotions`);
- **type**, **outcome**, an extractive **summary** and a specific **name**
  (:mod:`.describe`).

The result (:class:`Digest`) is a moment in its own right when no model
answers (``generated_by = 'extractive'``), the candidates a model is asked to
choose among, and the yardstick a model's answer is checked against, field
by field (:mod:`rem.dream.resolve`).
"""

from __future__ import annotations

import gc
import json
import logging
import multiprocessing
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..heap import few_full_collections
from ..ids import normalize_key
from ..store.rows import table_dicts
from . import describe
from .emotions import emotions
from .events import Event, Utterance, third_person
from .events import extract as extract_events
from .keyphrases import (
    DocumentFrequency,
    Phrase,
    candidates,
    key_name,
    key_of,
    rank,
    tag,
    vocabulary,
)
from .ner import Recognizer, recognizer
from .ner import imported as ner_imported
from .people import Found, PeopleFinder, front_matter_people
from .text import clean, fold, read_sentences, stem

__all__ = ["Digest", "Understanding", "worker_count"]

log = logging.getLogger(__name__)

# A window this large is understood by several processes at once (below it, starting them costs more than it saves).
PARALLEL_MIN_ITEMS = 4_000
# Digests are computed this many items at a time, their sentences read by the entity model in one batch.
BATCH_ITEMS = 2_000
ROWS_AT_ONCE = 256  # segments whose rows are read from the activity's tables together

# how much an item speaks for the subject of its segment
W_TAG, W_TITLE, W_PREFIX, W_OWN, W_QUERY, W_ASSISTANT, W_PATH, W_TOOL = 3.0, 1.5, 1.5, 1.0, 1.5, 0.6, 0.4, 0.2
_TRAILERS = re.compile(r"(?im)^\s*(?:co-authored-by|signed-off-by|reviewed-by|acked-by|change-id)\s*:.*$")
RAW_CHARS = 20_000  # of one text read for people (names sit near the top of long texts)
_QUERY_KEYS = ("query", "q", "search", "topic", "question", "keywords", "path", "file", "pattern")


@dataclass
class Digest:
    """What the extraction says about a group of segments."""

    segments: list[str]
    name: str
    summary: str
    moment_type: str
    tags: list[str]
    topics: list[str]  # display spellings of the tags, for names
    people: list[str]
    emotions: list[str]
    outcome: str
    events: list[Event] = field(default_factory=list)
    place: str = ""  # where it happened, as its notes name it (front matter ``place`` / ``location``)
    participation: dict[str, float] = field(default_factory=dict, repr=False)  # person -> share of the items they wrote
    vocabulary: frozenset[str] = field(default_factory=frozenset, repr=False)  # folded words of the activity
    titles: frozenset[str] = field(default_factory=frozenset, repr=False)  # source titles, normalized

    def fields(self) -> dict[str, Any]:
        return {"name": self.name, "summary": self.summary, "moment_type": self.moment_type, "tags": list(self.tags),
                "emotion_tags": list(self.emotions), "people": list(self.people), "outcome": self.outcome,
                "events": [e.public() for e in self.events], "place": self.place}


@dataclass
class _Item:
    kind: str  # resource | message
    ts: int
    weighted: list[tuple[str, float]]  # texts for key phrases
    own: list[str]  # what the owner wrote (for moods and outcomes)
    summary_text: list[str]  # sentences a summary may quote
    speaker: str | None = None
    author: str | None = None
    people_lists: list[Any] = field(default_factory=list)
    commit_subject: str | None = None
    resource_type: str | None = None
    session: str | None = None
    group: bool = False
    raw: list[str] = field(default_factory=list)  # the texts as written (line breaks kept), for people
    place: str | None = None  # a note's front matter place


def _json(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if not value:
        return {}
    try:
        v = json.loads(value)
    except (TypeError, ValueError):
        return {}
    return v if isinstance(v, dict) else {}


def _query_strings(tool_calls: str | None) -> list[str]:
    """String arguments of tool calls that name what was looked for (``query``, ``path`` …)."""
    if not tool_calls:
        return []
    try:
        calls = json.loads(tool_calls)
    except (TypeError, ValueError):
        return []
    out = []
    for c in calls if isinstance(calls, list) else []:
        f = c.get("function", c) if isinstance(c, dict) else {}
        args = f.get("arguments") if isinstance(f, dict) else None
        if isinstance(args, str):
            try:
                args = json.loads(args)
            except ValueError:
                args = {}
        if isinstance(args, dict):
            out += [str(v) for k, v in args.items() if k in _QUERY_KEYS and isinstance(v, str) and len(v) < 200]
    return out


LANGUAGES = {"rs": "rust", "py": "python", "ts": "typescript", "tsx": "typescript", "js": "javascript", "go": "go",
             "java": "java", "kt": "kotlin", "rb": "ruby", "c": "c", "h": "c", "cc": "c++", "cpp": "c++", "hpp": "c++",
             "cs": "c#", "swift": "swift", "sql": "sql", "tf": "terraform", "sh": "shell", "md": "documentation",
             "rst": "documentation", "proto": "protobuf", "ex": "elixir", "scala": "scala", "php": "php", "lua": "lua",
             "zig": "zig", "dart": "dart", "vue": "vue", "svelte": "svelte"}


def _path_words(files: Any) -> str:
    """Directory and file names of changed paths, and their languages
    (``src/hnsw/search.rs`` → ``hnsw search. rust``)."""
    words = []
    for f in files if isinstance(files, list) else []:
        path = f.get("path") if isinstance(f, dict) else None
        if isinstance(path, str):
            parts = [p.rsplit(".", 1)[0] for p in path.split("/") if p and p not in ("src", "lib", "test", "tests")]
            words.append(" ".join(parts).replace("_", " ").replace("-", " "))
            ext = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
            if ext in LANGUAGES:
                words.append(LANGUAGES[ext])
    return ". ".join(words)


class Understanding:
    """The extraction for one dream: built once from the collected activity
    and the packer's item table, then asked about groups of segments."""

    def __init__(self, activity: Any, packed: Any, *, ner: Any = "spacy", workers: int = 1, vocabulary: bool = True) -> None:
        """``ner``: ``"spacy"`` (the English entity model, when installed), ``"off"`` or None (the rules alone),
        or a callable as :func:`rem.understand.ner.recognizer` returns. ``workers``: processes a large window's
        background and digests are computed in (:meth:`prefetch`). ``vocabulary``: whether a digest holds its
        :attr:`Digest.vocabulary`, which only a model's answers are checked against (False for a dream without a
        model: it was half of what the workers sent back)."""
        self._vocabulary = vocabulary
        self._digests: dict[tuple[str, ...], Digest] = {}
        owner = [o for o in getattr(activity, "owner", []) if o]
        self.owner_name = owner[0] if owner else "the owner"  # who "I" is in the owner's own texts
        self.owner_keys = {normalize_key(o) for o in owner}
        self.owner_words = {stem(fold(w)) for o in owner for w in o.split()}
        sessions = activity.sessions.to_pylist()  # one per conversation: few beside their messages
        # a thread's title is a strong topic; a name that is only its key ("conv-26_session_1", a UUID) is none
        self._session_name = {s["id"]: n for s in sessions if (n := s.get("name")) and not key_name(n)}
        # ChatGPT-style conversations: the owner asks, an assistant explains
        self.chatgpt = {s["id"] for s in sessions if s.get("source") == "chatgpt"}
        self.transcripts = {s["id"] for s in sessions if s.get("source") == "transcript"}
        msgs: pa.Table = activity.messages
        self._group_sessions = set(pc.unique(msgs.filter(pc.is_valid(msgs["speaker"]))["session_id"]).to_pylist()) \
            if msgs.num_rows else set()
        self._resources, self._messages = activity.resources, msgs
        # what the background reads of a message (a row of three columns turns into a dict ~4x faster than one of all)
        self._message_texts = msgs.select([c for c in ("role", "content", "tool_calls") if c in msgs.column_names])
        # what a digest reads of a message (its times, as Python datetimes, cost most of a row's conversion)
        self._message_rows = msgs.select([c for c in ("id", "session_id", "role", "content", "speaker", "tool_calls")
                                          if c in msgs.column_names])
        self._index_items(packed.items)
        # the owner's own vocabulary of topics: earlier moments' tags, their notes' tags
        self.known_topics = frozenset(key_of(t) for t in getattr(activity, "topics", []) if t)
        # the background: the owner's history around the window, and the window's own segments
        self.background = DocumentFrequency(t[:2000] for t in getattr(activity, "history", []))
        self.workers = workers
        segments = list(self._segments)
        found: list[Recognizer | None] = []

        def load_entities() -> None:  # (spaCy's import and load: ~0.9 s)
            found.append((recognizer() if ner == "spacy" else None) if isinstance(ner, str) else ner)

        # the entity model is loaded while the workers count the background (they do not need it; the digests'
        # workers, forked later, find it loaded)
        counted = self._in_forks(_background_share, [(g,) for g in segments], meanwhile=load_entities)
        if counted is not None:  # each worker's segments as phrase counts: the same sums, in any order
            for (n, df), _ in counted:
                self.background.add_counts(n, df)
        else:
            for text in self._background_texts(segments):
                self.background.add(text)
        if not found:
            load_entities()
        self.people = PeopleFinder(getattr(activity, "people", {}), owner, ner=found[0])

    # -- many segments at once --------------------------------------------------------------
    def prefetch(self, groups: Sequence[Sequence[str]]) -> int:
        """Digest these groups of segments and keep the digests (a later :meth:`digest` of a group finds it done):
        in the understanding's worker processes at once for a large window, else here, in batches. Returns the
        processes used."""
        todo = list(dict.fromkeys(tuple(g) for g in groups if tuple(g) not in self._digests))
        with few_full_collections():  # (the workers are forked inside: they inherit it)
            done = self._in_forks(_digest_share, todo)
            if done is None:  # in this process, in batches
                for g, d in zip(todo, self._digests_of(todo), strict=True):
                    self._digests.setdefault(g, d)
                return 1
        for digests, share in done:
            for g, d in zip(share, digests, strict=True):
                self._digests.setdefault(g, d)
        return min(self.workers, len(done))

    def _in_forks(self, work: Any, groups: list[tuple[str, ...]], meanwhile: Callable[[], None] | None = None
                  ) -> list[tuple[Any, list[tuple[str, ...]]]] | None:
        """``work(share)`` for shares of ``groups`` (of about equal items, the largest first) in
        :attr:`workers` processes at once: (its result, the share) for every share. Each process is a fork of
        this one: it reads the activity, the background and the entity model where they are, nothing is copied
        to it but its share's names, and what it returns is exactly what this process would have computed.
        None — nothing done — below :data:`PARALLEL_MIN_ITEMS` items, with one worker, in a daemonic process
        (a fleet's worker may not start processes of its own), where processes cannot be forked or started;
        ``meanwhile`` is then not called. Else it runs here once the processes are forked, while they work."""
        ner_imported()  # (no fork while another thread imports)
        size = {g: sum(len(self._segments.get(s, ())) for s in g) for g in groups}
        if self.workers < 2 or len(groups) < 2 or sum(size.values()) < PARALLEL_MIN_ITEMS \
                or "fork" not in multiprocessing.get_all_start_methods() or multiprocessing.current_process().daemon:
            return None
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool

        # shares of about equal work (a share is a few groups: its round trip costs little beside its work, and
        # small shares keep every process busy to the end)
        n_shares = min(len(groups), self.workers * 8)
        shares: list[list[tuple[str, ...]]] = [[] for _ in range(n_shares)]
        load = [0] * n_shares
        for g in sorted(groups, key=lambda g: -size[g]):
            k = load.index(min(load))
            shares[k].append(g)
            load[k] += size[g] + 1
        global _FORKED
        _FORKED = self
        # what exists now is the workers' to read, not to collect: frozen, a worker's garbage collector never
        # writes to those objects' pages, so the kernel never has to copy them into the worker
        gc.freeze()
        pool = None
        try:
            pool = ProcessPoolExecutor(min(self.workers, n_shares), mp_context=multiprocessing.get_context("fork"))
            results = pool.map(work, shares)  # every share submitted: the processes are forked now
            if meanwhile is not None:
                meanwhile()
            return list(zip(results, shares, strict=True))
        except (OSError, BrokenProcessPool) as e:  # no processes to be had (limits, memory): one process does it
            log.warning("understanding in one process: could not run %d (%s)", self.workers, e)
            return None
        finally:
            _FORKED = None
            if pool is not None:  # on Ctrl-C too: the shares not started are dropped, not worked through first
                pool.shutdown(wait=True, cancel_futures=True)
            gc.unfreeze()

    # -- where each segment's items are ------------------------------------------------------
    def _index_items(self, items: pa.Table) -> None:
        """Each segment's resources and messages, as row numbers of the activity's tables, in the
        packer's order. The items themselves are read when a segment is digested, not kept: on a
        day of a million messages, keeping them all took over a gigabyte."""
        items = items.filter(pc.is_in(items["kind"], pa.array(["resource", "message"])))
        msg = pc.equal(items["kind"], "message")
        found = pc.if_else(msg, pc.index_in(items["id"], value_set=self._messages["id"]),
                           pc.index_in(items["id"], value_set=self._resources["id"]))
        self._is_msg = msg.to_numpy(zero_copy_only=False)
        self._row = row = pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int64)
        self._ts = items["ts"].to_numpy()
        codes = pc.dictionary_encode(items["segment"]).combine_chunks()
        seg_of = codes.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        order = np.argsort(seg_of, kind="stable")
        bounds = np.searchsorted(seg_of[order], np.arange(len(codes.dictionary) + 1))
        self._segments: dict[str, Any] = {}
        for k, name in enumerate(codes.dictionary.to_pylist()):
            at = order[bounds[k]:bounds[k + 1]]
            at = at[row[at] >= 0]  # an item the activity does not hold (cannot happen; never a crash)
            if len(at):
                self._segments[name] = at

    def _rows_of(self, segs: Sequence[str], *, texts_only: bool = False) -> list[list[tuple[int, dict[str, Any], bool]]]:
        """(ts, row, is_message) of the items of each of ``segs``, in order; ``texts_only``: a message's row holds
        only what :meth:`_message_weighted` reads. Read together: one ``take`` of each table for them all, each
        column turned into Python once (a take and a row-wise conversion per segment cost ~100 µs, 7 µs a row;
        together under 1 µs a row)."""
        ats = [self._segments.get(seg) for seg in segs]
        found = [a for a in ats if a is not None]
        if not found:
            return [[] for _ in segs]
        at = np.concatenate(found)
        is_msg, rows = self._is_msg[at], self._row[at]
        table = self._message_texts if texts_only else self._message_rows
        msgs = iter(table_dicts(table.take(pa.array(rows[is_msg])))) if is_msg.any() else iter(())
        res = iter(table_dicts(self._resources.take(pa.array(rows[~is_msg])))) if (~is_msg).any() else iter(())
        every = [(int(t), next(msgs) if m else next(res), bool(m)) for t, m in zip(self._ts[at], is_msg, strict=True)]
        out, k = [], 0
        for a in ats:
            n = 0 if a is None else len(a)
            out.append(every[k:k + n])
            k += n
        return out

    def _background_texts(self, segs: Sequence[str]) -> Iterator[str]:
        """Each of ``segs`` as one background document (:meth:`_background_of`), their rows read
        :data:`ROWS_AT_ONCE` segments at a time."""
        for k in range(0, len(segs), ROWS_AT_ONCE):
            chunk = segs[k:k + ROWS_AT_ONCE]
            for rows in self._rows_of(chunk, texts_only=True):
                yield self._background_of(rows)

    def _background_of(self, rows: list[tuple[int, dict[str, Any], bool]]) -> str:
        """A segment as one background document: its key-phrase texts, up to 20,000 characters."""
        out: list[str] = []
        n = 0
        for t, r, m in rows:
            texts = self._message_weighted(r) if m else self._resource(r, t).weighted
            for text, _ in texts:
                out.append(text)
                n += len(text) + 1
            if n > 20000:
                break
        return " ".join(out)[:20000]

    # -- items ------------------------------------------------------------------------------
    def _is_owner(self, name: str | None) -> bool:
        return bool(name) and normalize_key(name or "") in self.owner_keys

    def _resource(self, r: dict[str, Any], ts: int) -> _Item:
        meta = _json(r.get("metadata"))
        rtype = r.get("resource_type") or "resource"
        name, content = clean(r.get("name") or "", 300), r.get("content") or ""
        item = _Item("resource", ts, [], [], [], resource_type=rtype)
        if rtype == "commit":
            body = _TRAILERS.sub("", content.split("\n\nFiles changed", 1)[0]).strip()
            item.raw.append(content[:RAW_CHARS])
            subject = name or body.split("\n", 1)[0]
            item.commit_subject = subject
            prefix, sep, rest = subject.partition(": ")
            if sep and len(prefix.split()) <= 4:
                item.weighted.append((prefix, W_PREFIX))
            item.weighted += [(clean(body), W_OWN), (_path_words(meta.get("files")), W_PATH)]
            author = meta.get("author")
            item.author = author if isinstance(author, str) and not self._is_owner(author) else None
            item.summary_text.append(subject)
        else:
            if name:
                item.weighted.append((name, W_TITLE))
            item.weighted.append((clean(content), W_OWN))
            tags = meta.get("tags")
            for t in tags if isinstance(tags, list) else ([tags] if isinstance(tags, str) else []):
                item.weighted.append((str(t), W_TAG))
            item.people_lists = front_matter_people(meta)
            where = meta.get("place") or meta.get("location")
            item.place = clean(where, 120) or None if isinstance(where, str) else None
            item.own += read_sentences(content)
            item.summary_text += read_sentences(content)
            item.raw.append(content[:RAW_CHARS])
        return item

    @staticmethod
    def _message_weighted(m: dict[str, Any]) -> list[tuple[str, float]]:
        role = m.get("role") or ""
        weight = W_OWN if role in ("user", "system") else W_ASSISTANT if role == "assistant" else W_TOOL
        return [(clean(m.get("content") or ""), weight)] + [(q, W_QUERY) for q in _query_strings(m.get("tool_calls"))]

    def _message(self, m: dict[str, Any], ts: int, group: bool, speakers: Sequence[str] = ()) -> _Item:
        role, content, speaker = m.get("role") or "", m.get("content") or "", m.get("speaker")
        own = role == "user" and (not speaker or self._is_owner(speaker))
        item = _Item("message", ts, self._message_weighted(m), [], [], session=m.get("session_id"), group=group)
        item.raw.append(content[:RAW_CHARS])
        if speaker and not self._is_owner(speaker):
            item.speaker = speaker
        if own:
            item.own += read_sentences(content)
        if role in ("user", "assistant") and speaker:
            # a conversation between people: what each said, in the third person; questions are not what happened
            actor = self.owner_name if self._is_owner(speaker) else speaker
            others = [x for x in speakers if x != speaker]
            item.summary_text += [third_person(s, actor, others) for s in read_sentences(content) if not s.rstrip().endswith("?")]
        elif role in ("user", "assistant"):
            item.summary_text += read_sentences(content)
        return item

    # -- the digest -----------------------------------------------------------------------
    def digest(self, segments: Sequence[str]) -> Digest:
        """What the extraction says about ``segments`` taken as one moment.
        Computed once per group: a dream asks for a segment's digest when it
        prompts the model, again for the period summary and again when it
        resolves the answers (three times the work on a day of a million
        messages, before this was kept)."""
        key = tuple(segments)
        done = self._digests.get(key)
        if done is None:
            done = self._digests.setdefault(key, self._digest(segments))
        return done

    def _digest(self, segments: Sequence[str]) -> Digest:
        return self._digests_of([tuple(segments)])[0]

    def _digests_of(self, groups: Sequence[tuple[str, ...]]) -> list[Digest]:
        """The digests of these groups, computed in batches of about :data:`BATCH_ITEMS` items: the entity model
        reads a batch's sentences at once (its cost per sentence is about half what it is a few at a time)."""
        out: list[Digest] = []
        batch: list[tuple[tuple[str, ...], list[tuple[int, dict[str, Any], bool]], list[_Item], Found]] = []
        n = 0
        read: dict[str, list[tuple[int, dict[str, Any], bool]]] = {}
        for k, g in enumerate(groups):
            if any(s not in read for s in g):  # the rows of the next groups, read together
                ahead = list(dict.fromkeys(s for h in groups[k:k + ROWS_AT_ONCE] for s in h))
                read = dict(zip(ahead, self._rows_of(ahead), strict=True))
            rows = [r for s in g for r in read[s]]
            speakers = list(dict.fromkeys(r["speaker"] for _, r, m in rows if m and r.get("speaker")))
            items = [self._message(r, t, r["session_id"] in self._group_sessions, speakers) if m
                     else self._resource(r, t) for t, r, m in rows]
            found = self.people.begin(speakers=[i.speaker for i in items if i.speaker],
                                      authors=[i.author for i in items if i.author],
                                      texts=[t for i in items for t in i.raw],
                                      lists=[v for i in items for v in i.people_lists])
            batch.append((g, rows, items, found))
            n += len(items)
            if n >= BATCH_ITEMS or k == len(groups) - 1:
                self.people.read((s for *_, f in batch for s in f.asks), {s for *_, f in batch for s in f.tagged})
                out += [self._digest_of(g, rows, items, self.people.finish(f)) for g, rows, items, f in batch]
                batch, n = [], 0
        return out

    def _digest_of(self, segments: tuple[str, ...], rows: list[tuple[int, dict[str, Any], bool]], items: list[_Item],
                   people: list[str]) -> Digest:
        names = sorted({n for _, r, m in rows if m and (n := self._session_name.get(r["session_id"]))})
        weighted = [(n, W_TITLE) for n in names] + [wt for i in items for wt in i.weighted if wt[0]]
        texts = [t for i in items for t, _ in i.weighted]
        names_of_people = {stem(fold(w)) for p in people for w in p.split()}
        cands = candidates(weighted)  # read once, ranked once or twice
        kp = rank(cands, self.background, exclude=names_of_people | self.owner_words, known=self.known_topics)
        topics = list(kp.tags)
        if len(topics) < 3:
            more = rank(cands, self.background, min_support=0.5, exclude=names_of_people | self.owner_words, floor=0.0,
                        known=self.known_topics).tags
            topics += [p for p in more if all(p.key != q.key for q in topics)][: 3 - len(topics)]
        headline = [p.surface for p in kp.headline] or [p.surface for p in topics]

        ts = [i.ts for i in items] or [0]
        shape = describe.Shape(
            minutes=(max(ts) - min(ts)) / 60e6, commits=sum(i.resource_type == "commit" for i in items),
            notes=sum(i.resource_type == "note" for i in items), documents=sum(i.resource_type == "document" for i in items),
            conversations=len({i.session for i in items if i.session in self.chatgpt}),
            group_chats=len({i.session for i in items if i.group}), people=len(people), items=len(items),
            speakers=len({r.get("speaker") or self.owner_name for _, r, m in rows
                          if m and r.get("session_id") in self._group_sessions and r.get("role") in ("user", "assistant")}),
            meetings=len({i.session for i in items if i.session in self.transcripts}))
        own = [s for i in items for s in i.own]
        kind = describe.moment_type(shape, " ".join(texts))
        surfaces = [_display(p) for p in topics]
        key_terms = [p.key for p in topics]
        central = describe.central_sentences([s for i in items for s in i.summary_text], key_terms)
        events = extract_events(self._utterances(rows), owner=self.owner_name, people=people)
        fallback = names[0] if names else (items[0].commit_subject or "") if items else ""
        if not fallback:  # nothing titled it and no key phrase stood out: who was there
            fallback = describe.with_people(people) if any(i.kind == "message" for i in items) else "Activity"
        places = Counter(i.place for i in items if i.place)
        place = places.most_common(1)[0][0] if places else ""
        vocab = vocabulary([*texts, *people, place]) if self._vocabulary else frozenset()
        return Digest(
            segments=list(segments),
            name=(describe.event_name(events) if kind in ("conversation", "support") and events
                  else describe.name(kind, headline, people, fallback)),
            summary=(describe.what_happened(events, central) or describe.summary(central)
                     or describe.event_summary(events, states=True)
                     or describe.longest([s for i in items for s in i.summary_text])),
            moment_type=kind,
            tags=[tag(p) for p in topics],
            topics=surfaces,
            people=people,
            emotions=emotions(own, n_people=len(people), n_commits=shape.commits, minutes=shape.minutes),
            outcome=describe.outcome([i.commit_subject for i in items if i.commit_subject], own, key_terms),
            events=events,
            place=place,
            participation={p: sum(1 for i in items if p in (i.speaker, i.author)) / max(1, len(items)) for p in people},
            vocabulary=vocab,
            titles=frozenset(normalize_key(t) for t in [*names, *(i.commit_subject or "" for i in items)] if t),
        )


    def _utterances(self, rows: list[tuple[int, dict[str, Any], bool]]) -> list[Utterance]:
        """A segment's texts as the event extractor reads them: who wrote each, to whom."""
        speakers = list(dict.fromkeys(r["speaker"] for _, r, m in rows if m and r.get("speaker")))
        out = []
        for t, r, m in rows:
            if m:
                role, speaker = r.get("role") or "", r.get("speaker")
                if role == "tool" or (role == "system" and not speaker):
                    continue
                if speaker:
                    who: str | None = None if self._is_owner(speaker) else speaker
                    others = [x for x in speakers if x != speaker]
                    human = True
                else:
                    who, others, human = None, [], role == "user"
                out.append(Utterance(r["id"], t, r.get("content") or "", who, others, human))
            elif (r.get("resource_type") or "") not in ("commit", "summary"):
                out.append(Utterance(r["id"], t, r.get("content") or "", None, [], True))
        return out


_FORKED: Understanding | None = None  # the understanding a forked worker digests with (inherited, never pickled)


def _forked() -> Understanding:
    und = _FORKED
    if und is None:  # cannot happen: the pool is forked after it is set
        raise RuntimeError("a worker of the understanding started without it")
    return und


def _digest_share(groups: list[tuple[str, ...]]) -> list[Digest]:
    """A worker's share: the digests of these groups, by the understanding the worker was forked with."""
    return _forked()._digests_of(groups)


def _background_share(groups: list[tuple[str, ...]]) -> tuple[int, Counter[str]]:
    """A worker's share of the background: (its segments, in how many of them each phrase key occurs)."""
    und = _forked()
    counts = DocumentFrequency(())
    for text in und._background_texts([seg for (seg,) in groups]):
        counts.add(text)
    return counts.n, counts.df


def worker_count(setting: Any = None) -> int:
    """Processes for the understanding: the ``[dream] workers`` setting, else the cores this process may use."""
    if isinstance(setting, int) and setting >= 1:
        return setting
    import os

    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _display(p: Phrase) -> str:
    return p.surface
