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
  becomes a plain moment named from its sessions and resources, marked
  ``generated_by = 'fallback'``.
- Identity: a moment's id derives from the keys of its segments (a hash of
  their item ids), so the same activity resolves to the same moment.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..ids import stable_id
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
    fallback_moments: int = 0
    filtered_moments: int = 0


def _ts(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1e6, UTC)


class RefTable:
    """The packer's ref table, indexed."""

    def __init__(self, packed: Packed, activity: Activity) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.seg_items: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.session_segs: dict[str, set[str]] = defaultdict(set)
        for it in packed.items.to_pylist():
            self.items[it["ref"]] = it
            if it["kind"] != "session":
                self.seg_items[it["segment"]].append(it)
            if it["kind"] == "message" and it["session_ref"]:
                self.session_segs[it["session_ref"]].add(it["segment"])
        self.segments = {s["ref"]: s for s in packed.segments.to_pylist()}
        self.seg_order = [s["ref"] for s in packed.segments.to_pylist()]
        self.seg_key = {
            g: hashlib.sha256("\x1f".join(sorted(i["id"] for i in items)).encode()).hexdigest()[:32]
            for g, items in self.seg_items.items()
        }
        self.res_info = {r["id"]: r for r in activity.resources.select(["id", "name", "resource_type"]).to_pylist()}
        self.ses_info = {s["id"]: s for s in activity.sessions.to_pylist()}

    def segments_of(self, ref: str) -> set[str] | None:
        if ref in self.segments:
            return {ref}
        it = self.items.get(ref)
        if it is None:
            return None
        if it["kind"] == "session":
            return set(self.session_segs.get(ref, ()))
        return {it["segment"]}

    def item_id(self, ref: str) -> str | None:
        it = self.items.get(ref)
        return it["id"] if it else None


def _merge_drafts(drafts: list[MomentDraft]) -> dict[str, Any]:
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
    }


def _fallback_fields(segs: list[str], refs: RefTable) -> dict[str, Any]:
    """A plain moment named from its sources: the first chat's (or resource's)
    title, plus a count of the other sources by kind."""
    titles: list[str] = []
    counts: dict[str, int] = {}
    sessions_seen: set[str] = set()
    for g in segs:
        for it in refs.seg_items[g]:
            if it["kind"] == "message":
                sref = it["session_ref"]
                if sref in sessions_seen:
                    continue
                sessions_seen.add(sref)
                sid = refs.items[sref]["id"] if sref in refs.items else None
                name = (refs.ses_info.get(sid) or {}).get("name") if sid else None
                counts["chat"] = counts.get("chat", 0) + 1
                titles.insert(sum(1 for t in titles if t.startswith("chat:")), f"chat:{name or 'a chat'}")
            else:
                info = refs.res_info.get(it["id"], {})
                rtype = info.get("resource_type") or "resource"
                counts[rtype] = counts.get(rtype, 0) + 1
                titles.append(f"{rtype}:{info.get('name') or rtype}")
    first_kind, _, first_title = (titles[0] if titles else "other:Activity").partition(":")
    rest = dict(counts)
    rest[first_kind] = rest.get(first_kind, 1) - 1
    extra = ", ".join(f"{n} {k}{'s' if n > 1 else ''}" for k, n in rest.items() if n > 0)
    name = first_title if len(first_title) <= 90 else first_title[:89] + "…"
    if extra:
        name += f" (+ {extra})"
    kinds = set(counts)
    if "commit" in kinds or "code" in kinds:
        mtype = "work_session"
    elif "chat" in kinds:
        mtype = "communication"
    elif kinds & {"note", "document"}:
        mtype = "writing"
    else:
        mtype = "other"
    listing = "; ".join(t.replace(":", ": ", 1) for t in titles[:6]) + (f"; and {len(titles) - 6} more" if len(titles) > 6 else "")
    return {"name": name, "summary": f"Not described by the model. Sources: {listing}.",
            "moment_type": mtype, "tags": [], "emotion_tags": [], "people": [], "outcome": ""}


def resolve(answers: list[ChunkAnswer], packed: Packed, activity: Activity, *, moment_types: list[str] | None = None,
            min_duration_minutes: float | None = None, summary_only: bool = False) -> Resolution:
    refs = RefTable(packed, activity)
    res = Resolution([], [])
    drafts: list[tuple[MomentDraft, set[str]]] = []
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
    plans: list[tuple[dict[str, Any], list[str], str]] = []
    for members in groups.values():
        seg_list = sorted(set().union(*(drafts[i][1] for i in members)), key=order.__getitem__)
        plans.append((_merge_drafts([drafts[i][0] for i in members]), seg_list, "model"))
    covered = set(owner)
    for g in refs.seg_order:
        if g not in covered and refs.seg_items.get(g):
            plans.append((_fallback_fields([g], refs), [g], "fallback"))
            res.fallback_moments += 1
    if summary_only:
        plans = []
    for fields, seg_refs, how in sorted(plans, key=lambda p: order[p[1][0]]):
        items = [it for g in seg_refs for it in refs.seg_items[g]]
        keys = sorted(refs.seg_key[g] for g in seg_refs)
        source_key = hashlib.sha256("\x1f".join(keys).encode()).hexdigest()[:32]
        session_ids = sorted({refs.items[it["session_ref"]]["id"] for it in items
                              if it["kind"] == "message" and it["session_ref"] in refs.items})
        m = Moment(
            id=stable_id("moment", source_key), start=_ts(min(i["ts"] for i in items)), end=_ts(max(i["ts"] for i in items)),
            resource_ids=sorted({i["id"] for i in items if i["kind"] == "resource"}),
            session_ids=session_ids, message_ids=sorted({i["id"] for i in items if i["kind"] == "message"}),
            segment_keys=keys, source_key=source_key, generated_by=how, segments=seg_refs, **fields,
        )
        if moment_types and m.moment_type not in moment_types:
            res.filtered_moments += 1
            continue
        if min_duration_minutes is not None and m.duration_minutes < min_duration_minutes:
            res.filtered_moments += 1
            continue
        res.moments.append(m)
    return res


def fallback_summary(moments: list[Moment]) -> str:
    if not moments:
        return ""
    hours = sum(m.duration_minutes for m in moments) / 60
    names = "; ".join(m.name for m in moments[:8])
    more = f" and {len(moments) - 8} more" if len(moments) > 8 else ""
    return f"{len(moments)} moments over {hours:.1f} hours of activity: {names}{more}."
