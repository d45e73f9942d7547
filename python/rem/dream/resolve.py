"""Validate and resolve the model's answers against the packed ref table.

Rules (the model is trusted for meaning, never for structure):

- Refs map back to ids through the packer's ref table; unknown refs are
  dropped and counted. A moment without a single valid ref is dropped.
- Moments are whole segments: a moment covers every segment any of its refs
  falls in (``G3`` itself, the segment of ``M17``/``R4``, all segments of
  session ``S2``). Two answers that claim the same segment — e.g. one moment
  seen from both sides of a chunk boundary — are merged into one moment.
- A moment's start and end are the first and last timestamps of the items it
  covers, never times the model wrote.
- Coverage: every segment ends up in a moment. A segment no answer claimed
  is described by REM's own extraction (:mod:`rem.understand`) and marked
  ``generated_by = 'extractive'``.
- Meaning is checked field by field: a model's field that is worse than the
  extraction — a generic or copied name, tags or people that appear nowhere
  in the activity, a summary that is repetition or dates, an emotion or type
  outside the vocabulary — does not overwrite it (:func:`choose`). Which
  side each field came from is kept in the moment's metadata.
- Identity: a moment's id derives from the keys of its segments (a hash of
  their item ids), so the same activity resolves to the same moment.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..ids import normalize_key, stable_id
from ..understand import Digest, Understanding
from ..understand.describe import TYPES
from ..understand.emotions import VOCABULARY as EMOTIONS
from ..understand.text import GENERIC, STOPWORDS, fold, stem, tokens
from .collect import Activity, Packed
from .models import ChunkAnswer, MomentDraft


@dataclass
class Moment:
    id: str
    name: str
    summary: str
    moment_type: str
    tags: list[str]
    emotion_tags: list[str]
    people: list[str]
    outcome: str
    start: datetime
    end: datetime
    resource_ids: list[str]
    session_ids: list[str]
    message_ids: list[str]
    segment_keys: list[str]
    source_key: str
    generated_by: str
    segments: list[str] = field(default_factory=list)
    provenance: dict[str, str] = field(default_factory=dict)  # field -> "model" | "extractive"
    events: list[dict[str, Any]] = field(default_factory=list)  # what happened (rem.understand.events), extractive
    participation: dict[str, float] = field(default_factory=dict)  # person -> their part of the items (edge weights)
    place: str = ""  # where it happened (the notes' front matter, or the model's reading when the activity says it)

    @property
    def duration_minutes(self) -> float:
        return (self.end - self.start).total_seconds() / 60

    def public(self) -> dict[str, Any]:
        return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in self.__dict__.items()}


@dataclass
class ModelEdge:
    source_id: str
    target_id: str
    edge_type: str
    reason: str


@dataclass
class Resolution:
    moments: list[Moment]
    edges: list[ModelEdge]
    dropped_refs: int = 0
    dropped_moments: int = 0
    fallback_moments: int = 0  # moments the model did not describe (named by the extraction)
    filtered_moments: int = 0
    rejected_fields: int = 0  # model fields worse than the extraction, not used


def _ts(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1e6, UTC)


class Items(NamedTuple):
    """Some items of the packer's ref table (a moment's): their kinds, ids and times, and their sessions' ids."""

    resource_ids: list[str]
    message_ids: list[str]
    session_ids: list[str]
    start: int  # µs
    end: int


class RefTable:
    """The packer's ref table, indexed where it lies: in Arrow and numpy columns, never as a Python object per
    item (a day of a million messages made a million tuples, ~250 MB at the dream's peak). A ref the model wrote
    is looked up in a dict of the refs the answers cite (:meth:`cite`), not of every item."""

    def __init__(self, packed: Packed, activity: Activity) -> None:
        t = packed.items
        self._refs = t["ref"].combine_chunks()
        self._ids = t["id"].combine_chunks()
        kind = t["kind"]
        self._session_row = pc.equal(kind, "session").to_numpy(zero_copy_only=False)
        self._message_row = pc.equal(kind, "message").to_numpy(zero_copy_only=False)
        self._ts = t["ts"].to_numpy()
        codes = pc.dictionary_encode(t["segment"]).combine_chunks()
        self._seg_names: list[str] = codes.dictionary.to_pylist()
        self._seg_of = seg_of = pc.fill_null(codes.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
        # each segment's items (sessions aside), in the packer's order
        order = np.argsort(seg_of, kind="stable")
        order = order[~self._session_row[order] & (seg_of[order] >= 0)]
        bounds = np.searchsorted(seg_of[order], np.arange(len(self._seg_names) + 1))
        self._seg_rows = {name: order[bounds[k]:bounds[k + 1]] for k, name in enumerate(self._seg_names)
                          if bounds[k + 1] > bounds[k]}
        # a session's ref -> its id, and the segments its messages fall in (as many as the window has sessions)
        sessions = t.filter(pc.equal(kind, "session")).select(["ref", "id"]).to_pylist()
        session_id = {r["ref"]: r["id"] for r in sessions}
        scodes = pc.dictionary_encode(t["session_ref"]).combine_chunks()
        self._sref_names: list[str | None] = scodes.dictionary.to_pylist()
        self._sid = [session_id.get(r) if r else None for r in self._sref_names]  # a session ref's code -> its id
        self._sref_of = pc.fill_null(scodes.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
        in_session = self._message_row & (self._sref_of >= 0) & (seg_of >= 0)
        n_seg = max(1, len(self._seg_names))
        self.session_segs: dict[str, set[str]] = defaultdict(set)
        for pair in np.unique(self._sref_of[in_session] * n_seg + seg_of[in_session]).tolist():
            sref = self._sref_names[pair // n_seg]
            if sref:
                self.session_segs[sref].add(self._seg_names[pair % n_seg])
        self._row: dict[str, int] = {}  # ref -> row, for the refs cited
        self.segments = {s["ref"]: s for s in packed.segments.to_pylist()}
        self.seg_order = [s["ref"] for s in packed.segments.to_pylist()]
        self._keys: dict[str, str] = {}

    def cite(self, refs: Iterable[str]) -> None:
        """Look these refs up at once (one hash join over the table instead of a dict of every item)."""
        todo = pa.array(sorted({r for r in refs if isinstance(r, str) and r not in self._row}), pa.string())
        if len(todo):
            at = pc.index_in(todo, value_set=self._refs).to_pylist()
            self._row.update((r, a) for r, a in zip(todo.to_pylist(), at, strict=True) if a is not None)

    def _row_of(self, ref: str) -> int | None:
        if ref not in self._row:
            self.cite([ref])
        return self._row.get(ref)

    def segments_of(self, ref: str) -> set[str] | None:
        if ref in self.segments:
            return {ref}
        row = self._row_of(ref)
        if row is None:
            return None
        if self._session_row[row]:
            return set(self.session_segs.get(ref, ()))
        seg = int(self._seg_of[row])
        return {self._seg_names[seg]} if seg >= 0 else set()

    def item_id(self, ref: str) -> str | None:
        row = self._row_of(ref)
        return None if row is None else self._ids[row].as_py()

    def has_items(self, seg: str) -> bool:
        return seg in self._seg_rows

    def seg_key(self, seg: str) -> str:
        """A segment's identity: a hash of its items' ids."""
        key = self._keys.get(seg)
        if key is None:
            self.items_and_keys([[seg]])
            key = self._keys[seg]
        return key

    def items(self, segs: Iterable[str]) -> Items:
        """The items of these segments."""
        return self.items_and_keys([list(segs)])[0][0]

    def items_and_keys(self, groups: Sequence[Sequence[str]]) -> list[tuple[Items, list[str]]]:
        """For each group of segments (a moment's): its items (:meth:`items`) and its segments' keys
        (:meth:`seg_key`), sorted. The ids of all the groups' items are read from Arrow at once (a take and a
        conversion per moment, twice, cost ~6 % of a dream of short chats)."""
        segs = list(dict.fromkeys(g for grp in groups for g in grp))
        rows_of = {g: self._seg_rows.get(g, np.empty(0, np.int64)) for g in segs}
        everything = np.concatenate(list(rows_of.values())) if segs else np.empty(0, np.int64)
        ids = self._ids.take(pa.array(everything, pa.int64())).to_pylist()
        ids_of: dict[str, list[str]] = {}
        k = 0
        for g in segs:
            ids_of[g] = ids[k:k + len(rows_of[g])]
            k += len(rows_of[g])
            if g not in self._keys:
                self._keys[g] = hashlib.sha256("\x1f".join(sorted(ids_of[g])).encode()).hexdigest()[:32]
        out = []
        for grp in groups:
            keys = sorted(self._keys[g] for g in grp)
            held = [g for g in grp if g in self._seg_rows]
            if not held:
                out.append((Items([], [], [], 0, 0), keys))
                continue
            rows = np.concatenate([rows_of[g] for g in held])
            msg = self._message_row[rows]
            gids = [i for g in held for i in ids_of[g]]
            codes = np.unique(self._sref_of[rows[msg]]).tolist()
            ts = self._ts[rows]
            out.append((Items(resource_ids=sorted({i for i, m in zip(gids, msg.tolist(), strict=True) if not m}),
                              message_ids=sorted({i for i, m in zip(gids, msg.tolist(), strict=True) if m}),
                              session_ids=sorted({sid for c in codes if c >= 0 and (sid := self._sid[c]) is not None}),
                              start=int(ts.min()), end=int(ts.max())), keys))
        return out

    def last_message_ts(self) -> dict[str, int]:
        """Each session's id -> the time of its last message in the window."""
        mask = self._message_row & (self._sref_of >= 0)
        last = np.full(len(self._sref_names), np.iinfo(np.int64).min, np.int64)
        np.maximum.at(last, self._sref_of[mask], self._ts[mask])
        return {sid: ts for sid, ts, n in zip(self._sid, last.tolist(), np.bincount(self._sref_of[mask], minlength=len(last)).tolist(),
                                              strict=True) if sid is not None and n}


def _merge_drafts(drafts: list[MomentDraft]) -> dict[str, Any]:
    """One set of fields from the drafts that claim the same segments."""
    first = drafts[0]
    def union(attr: str, cap: int) -> list[str]:
        out: list[str] = []
        for d in drafts:
            for v in getattr(d, attr):
                if v not in out:
                    out.append(v)
        return out[:cap]
    summaries = [d.summary for d in drafts if d.summary]
    outcomes = [d.outcome for d in drafts if d.outcome]
    return {
        "name": first.name,
        "summary": " ".join(dict.fromkeys(summaries))[:2000],
        "moment_type": first.moment_type,
        "tags": union("tags", 10),
        "emotion_tags": union("emotion_tags", 10),
        "people": union("people", 20),
        "outcome": " ".join(dict.fromkeys(outcomes))[:1200],
        "place": next((d.place for d in drafts if d.place), ""),
    }


READ_AT_ONCE = 2048  # moments whose item ids are read from the ref table together (bounded: a day of a million messages)
_GENERIC_NAMES = {"work session", "untitled moment", "moment", "activity", "work", "chat", "various things",
                  "misc", "session", "coding", "meeting", "a moment", "work on various things", "other"}
_REF = re.compile(r"\b[GRSM]\d+\b|\(\+ \d")
_DATEISH = re.compile(r"^[\d\s:./\-–—,TZ+apmAPM]*$")


def content_words(text: str) -> list[str]:
    """The stemmed content words of a text (what grounding checks compare)."""
    return _words(text)


def _words(text: str) -> list[str]:
    return [stem(fold(t)) for t in tokens(text) if fold(t) not in STOPWORDS and any(c.isalpha() for c in t)]


def _grounded(text: str, vocab: frozenset[str], share: float) -> bool:
    w = _words(text)
    return bool(w) and sum(x in vocab for x in w) >= share * len(w)


def specific_name(name: str, titles: frozenset[str] = frozenset(), vocab: frozenset[str] | None = None) -> bool:
    """A name that says what happened: 2–14 words, not generic, not a copied
    source title, no refs or ``(+ 2 commits)``, and (given the activity's
    words) at least one of its words comes from the activity."""
    words = name.split()
    if not 2 <= len(words) <= 14 or _REF.search(name) or _DATEISH.match(name):
        return False
    if " ".join(name.lower().split()) in _GENERIC_NAMES or all(w in GENERIC or w in STOPWORDS for w in _words(name)):
        return False
    bare = normalize_key(re.sub(r"\s*\([^)]*\)\s*$", "", name))
    if bare in titles:
        return False
    return vocab is None or any(w in vocab for w in _words(name))


def sound_summary(text: str, vocab: frozenset[str]) -> bool:
    """A summary worth keeping: words, not dates or repetition, mostly about the activity."""
    words = text.split()
    if len(words) < 6 or _DATEISH.match(text) or "not described" in text.lower():
        return False
    if len({w.lower() for w in words}) < 0.45 * len(words):
        return False
    return _grounded(text, vocab, 0.3)


def choose(draft: dict[str, Any] | None, d: Digest, known_people: set[str]) -> tuple[dict[str, Any], dict[str, str], int]:
    """The moment's fields: the model's where they hold up, the extraction's
    elsewhere. Returns (fields, provenance, number of model fields rejected)."""
    ext = d.fields()
    if draft is None:
        return ext, {k: "extractive" for k in ext}, 0
    out: dict[str, Any] = {}
    prov: dict[str, str] = {}
    rejected = 0

    def take(key: str, ok: bool, value: Any) -> None:
        nonlocal rejected
        if ok:
            out[key], prov[key] = value, "model"
        else:
            out[key], prov[key] = ext[key], "extractive"
            rejected += bool(draft.get(key))

    take("name", specific_name(draft["name"], d.titles, d.vocabulary), draft["name"])
    take("summary", sound_summary(draft["summary"], d.vocabulary), draft["summary"])
    take("moment_type", draft["moment_type"] in TYPES, draft["moment_type"])
    take("outcome", len(draft["outcome"].split()) >= 3 and _grounded(draft["outcome"], d.vocabulary, 0.3), draft["outcome"])
    model_tags = [t for t in draft["tags"] if _grounded(t, d.vocabulary, 0.5) and t not in GENERIC]
    tags = list(model_tags)
    for t in ext["tags"]:  # at least three, the extraction's filling in
        if len(tags) >= 3:
            break
        if all(normalize_key(t) != normalize_key(x) for x in tags):
            tags.append(t)
    take("tags", bool(model_tags), tags[:10])
    emo = [e for e in draft["emotion_tags"] if e in EMOTIONS]
    take("emotion_tags", bool(emo), emo[:5])
    people = [p for p in draft["people"] if normalize_key(p) in known_people or _grounded(p, d.vocabulary, 1.0)]
    merged = list(ext["people"]) + [p for p in people if all(normalize_key(p) != normalize_key(q) for q in ext["people"])]
    take("people", bool(people), merged[:20])
    take("place", bool(draft.get("place")) and _grounded(draft["place"], d.vocabulary, 1.0), draft.get("place", ""))
    out["events"], prov["events"] = ext["events"], "extractive"  # the model never dates or sources an event
    return out, prov, rejected


def resolve(answers: list[ChunkAnswer], packed: Packed, activity: Activity, *, understanding: Understanding | None = None,
            moment_types: list[str] | None = None, min_duration_minutes: float | None = None,
            summary_only: bool = False) -> Resolution:
    refs = RefTable(packed, activity)
    und = understanding or Understanding(activity, packed)
    known_people = {normalize_key(n) for n in getattr(activity, "people", {})}
    res = Resolution([], [])
    drafts: list[tuple[MomentDraft, set[str]]] = []
    refs.cite(r for ans in answers for r in [*(r for d in ans.moments for r in d.refs),
                                             *(x for e in ans.edges for x in (e.source, e.target))])
    for ans in answers:
        for d in ans.moments:
            segs: set[str] = set()
            for r in d.refs:
                got = refs.segments_of(r)
                if got is None:
                    res.dropped_refs += 1
                else:
                    segs |= got
            if segs:
                drafts.append((d, segs))
            else:
                res.dropped_moments += 1
        for e in ans.edges:
            s, t = refs.item_id(e.source), refs.item_id(e.target)
            res.dropped_refs += (s is None) + (t is None)
            if s and t and s != t:
                res.edges.append(ModelEdge(s, t, e.edge_type, e.reason))
    # union-find: drafts sharing a segment are one moment
    parent = list(range(len(drafts)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i, (_, segs) in enumerate(drafts):
        for g in segs:
            if g in owner:
                parent[find(i)] = find(owner[g])
            else:
                owner[g] = i
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(drafts)):
        groups[find(i)].append(i)
    order = {g: n for n, g in enumerate(refs.seg_order)}
    plans: list[tuple[dict[str, Any], list[str], str, dict[str, str]]] = []
    for members in groups.values():
        seg_list = sorted(set().union(*(drafts[i][1] for i in members)), key=order.__getitem__)
        fields, prov, rejected = choose(_merge_drafts([drafts[i][0] for i in members]), und.digest(seg_list), known_people)
        res.rejected_fields += rejected
        how = "model" if prov["name"] == "model" else "extractive"
        res.fallback_moments += how != "model"
        plans.append((fields, seg_list, how, prov))
    covered = set(owner)
    for g in refs.seg_order:
        if g not in covered and refs.has_items(g):
            fields, prov, _ = choose(None, und.digest([g]), known_people)
            plans.append((fields, [g], "extractive", prov))
            res.fallback_moments += 1
    if summary_only:
        plans = []
    recorded_end = _recorded_ends(refs, activity)
    meeting_end = note_meeting_ends(activity)
    plans.sort(key=lambda p: order[p[1][0]])
    read: list[tuple[Items, list[str]]] = []
    for n, (fields, seg_refs, how, prov) in enumerate(plans):
        if n % READ_AT_ONCE == 0:  # the next moments' item ids, read together
            read = refs.items_and_keys([p[1] for p in plans[n:n + READ_AT_ONCE]])
        items, keys = read[n % READ_AT_ONCE]
        source_key = hashlib.sha256("\x1f".join(keys).encode()).hexdigest()[:32]
        m = Moment(
            id=stable_id("moment", source_key), start=_ts(items.start), end=_ts(items.end),
            resource_ids=items.resource_ids, session_ids=items.session_ids, message_ids=items.message_ids,
            segment_keys=keys, source_key=source_key, generated_by=how, segments=seg_refs, provenance=prov,
            participation=und.digest(seg_refs).participation, **fields,
        )
        m.end = max([m.end, *(end for sid in m.session_ids if (end := recorded_end.get((sid, m.end)))),
                     *(end for rid in m.resource_ids if (end := meeting_end.get(rid)))])
        if moment_types and m.moment_type not in moment_types:
            res.filtered_moments += 1
            continue
        if min_duration_minutes is not None and m.duration_minutes < min_duration_minutes:
            res.filtered_moments += 1
            continue
        res.moments.append(m)
    return res


def _recorded_ends(refs: RefTable, activity: Activity) -> dict[tuple[str, datetime], datetime]:
    """A recorded meeting ends when its last turn ends, not when that turn starts (rem.ingest.transcript keeps
    the end in the session's metadata): (session, the time of its last turn in the window) → when it ended.
    The moment that ends with that turn lasts until then."""
    if "ends_at" not in activity.sessions.column_names:
        return {}
    ends: dict[str, datetime] = {}
    for s in activity.sessions.select(["id", "ends_at"]).to_pylist():
        try:
            t = datetime.fromisoformat(s["ends_at"]) if s["ends_at"] else None
        except ValueError:
            t = None
        if t is not None:
            ends[s["id"]] = t if t.tzinfo else t.replace(tzinfo=UTC)
    if not ends:
        return {}
    last = {sid: ts for sid, ts in refs.last_message_ts().items() if sid in ends}
    return {(sid, _ts(ts)): ends[sid] for sid, ts in last.items() if ends[sid] > _ts(ts)}


NOTE_MEETING_MINUTES = 30  # a meeting's note that says no duration: the meeting is taken to last this long
_DURATION_LINE = re.compile(r"(?im)^\s*(?:[-*]\s*)?(?:duration|length)\s*:\s*(.+?)\s*$")
_ATTENDEES_LINE = re.compile(r"(?im)^\s*(?:attendees|participants|present)\s*:\s*\S")
_SPAN = re.compile(r"^\s*(?:(?P<h>\d+(?:[.,]\d+)?)\s*(?:hours?|hrs|hr|h)(?![a-z])\s*)?"
                   r"(?:(?P<m>\d+)\s*(?:minutes?|mins|min|m)(?![a-z]))?\s*$"
                   r"|^\s*(?P<hh>\d{1,2}):(?P<mm>\d{2})\s*$|^\s*(?P<bare>\d+)\s*$", re.I)


def minutes_of(value: Any) -> float | None:
    """A duration as a note writes it — ``45``, ``"45 min"``, ``"1h"``, ``"1h30m"``, ``"1.5 hours"``, ``"1:30"``
    — in minutes; None for anything else (and for 0, negative or more than a day)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        out = float(value)
    elif isinstance(value, str):
        m = _SPAN.match(value)
        if m is None or not value.strip():
            return None
        if m.group("bare"):
            out = float(m.group("bare"))
        elif m.group("hh"):
            out = int(m.group("hh")) * 60 + int(m.group("mm"))
        else:
            if not (m.group("h") or m.group("m")):
                return None
            out = float((m.group("h") or "0").replace(",", ".")) * 60 + int(m.group("m") or 0)
    else:
        return None
    return out if 0 < out <= 24 * 60 else None


def note_meeting_ends(activity: Activity) -> dict[str, datetime]:
    """When a meeting written down as a note ended: the note's time plus the duration it states (front matter
    ``duration``, or a ``Duration:`` line), or :data:`NOTE_MEETING_MINUTES` for a note with attendees that
    states none. A moment that holds such a note lasts at least until then (a note is one instant; a meeting
    is not)."""
    import json
    from datetime import timedelta

    res = activity.resources
    if not res.num_rows or "metadata" not in res.column_names:
        return {}
    out: dict[str, datetime] = {}
    for r in res.select(["id", "resource_type", "content", "ts", "metadata"]).to_pylist():
        if r["resource_type"] != "note" or r["ts"] is None:
            continue
        try:
            meta = json.loads(r["metadata"]) if r["metadata"] else {}
        except ValueError:
            meta = {}
        meta = meta if isinstance(meta, dict) else {}
        body = r["content"] or ""
        said = _DURATION_LINE.search(body)
        minutes = minutes_of(meta.get("duration")) or (minutes_of(said.group(1)) if said else None)
        if minutes is None and (_ATTENDEES_LINE.search(body) or any(meta.get(k) for k in ("attendees", "participants"))):
            minutes = NOTE_MEETING_MINUTES
        if minutes is not None:
            out[r["id"]] = _ts(r["ts"]) + timedelta(minutes=minutes)
    return out


def fallback_summary(moments: list[Moment]) -> str:
    """The period in one sentence, from its moments (when no model summarized it)."""
    return period_summary([(m.name, m.start, m.end) for m in moments])


def period_summary(moments: list[tuple[str, datetime, datetime]]) -> str:
    """``N moments over H hours of activity: name; name …`` from (name, start, end) in time order."""
    if not moments:
        return ""
    hours = sum((e - s).total_seconds() for _, s, e in moments) / 3600
    names = "; ".join(n for n, _, _ in moments[:8])
    more = f" and {len(moments) - 8} more" if len(moments) > 8 else ""
    return f"{len(moments)} moments over {hours:.1f} hours of activity: {names}{more}."
