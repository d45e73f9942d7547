"""Scoring moments against gold.

- **Segmentation**: boundaries are moment starts; a predicted boundary hits
  a gold one within ±10 minutes (one-to-one, closest first) → precision,
  recall, F1. Pk and WindowDiff (nltk's implementations) over the window's
  activity items in time order: between two consecutive items there is a
  boundary when they belong to different moments.
- **Moments are matched by their items**: each gold moment with the predicted
  moment sharing most of its items, and the other way round.
- **Topics**: a gold topic is found when a tag of the matched moment means it:
  the same words once case, punctuation and plural are folded ("vector
  search" = "Vector-Search" = "vector searches"), or one contains the other as
  whole words and the shorter is not a generic word ("diskann" ⊂ "diskann
  graph"). Recall over gold topics, precision over predicted tags.
- **People**: names compared after folding case and accents; precision and
  recall. **Emotions**: only where the gold has them — recall, precision,
  and agreement (the share of gold moments whose matched moment shares at
  least one emotion).
- **Names**: the share of predicted moments whose name is specific (see
  :func:`rem.dream.resolve.specific_name`).
- **Type**: the share of gold moments with a kind whose matched moment has that type.
- **Name overlap**: how much of the gold title the matched moment's name
  says — F1 of their content words (case, plural and stopwords folded).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..dream.resolve import specific_name
from ..ids import normalize_key
from ..understand.keyphrases import identifier, key_of
from ..understand.text import GENERIC, STOPWORDS
from .gold import Gold, GoldMoment

TOLERANCE = timedelta(minutes=10)


@dataclass
class Item:
    kind: str  # resource | message
    id: str
    session_id: str | None
    ts: datetime


@dataclass
class Predicted:
    """A moment as scored: its span, fields and items."""

    start: datetime
    end: datetime
    name: str
    moment_type: str
    tags: list[str]
    people: list[str]
    emotions: list[str]
    items: set[str]
    titles: frozenset[str] = frozenset()
    events: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Counts:
    """Hits and totals, summed over days and files."""

    n: Counter[str] = field(default_factory=Counter)  # counts
    sums: dict[str, float] = field(default_factory=lambda: defaultdict(float))  # sums of per-moment scores (name overlap F1)
    pk: list[tuple[float, int]] = field(default_factory=list)  # (pk, items) per scored sequence
    wd: list[tuple[float, int]] = field(default_factory=list)

    def add(self, other: Counts) -> None:
        self.n.update(other.n)
        for k, v in other.sums.items():
            self.sums[k] += v
        self.pk += other.pk
        self.wd += other.wd

    def ratio(self, hit: str, total: str) -> float | None:
        return self.n[hit] / self.n[total] if self.n[total] else None

    def metrics(self) -> dict[str, float | None]:
        p, r = self.ratio("b_hit_p", "b_pred"), self.ratio("b_hit_g", "b_gold")
        f1 = 2 * p * r / (p + r) if p and r else (0.0 if p is not None and r is not None else None)

        def mean(pairs: list[tuple[float, int]]) -> float | None:
            total = sum(n for _, n in pairs)
            return sum(v * n for v, n in pairs) / total if total else None

        return {
            "boundary_precision": p, "boundary_recall": r, "boundary_f1": f1,
            "pk": mean(self.pk), "windowdiff": mean(self.wd),
            "topic_recall": self.ratio("topic_hit_g", "topic_gold"), "topic_precision": self.ratio("topic_hit_p", "topic_pred"),
            "people_recall": self.ratio("people_hit_g", "people_gold"),
            "people_precision": self.ratio("people_hit_p", "people_pred"),
            "emotion_recall": self.ratio("emo_hit_g", "emo_gold"), "emotion_precision": self.ratio("emo_hit_p", "emo_pred"),
            "emotion_agreement": self.ratio("emo_agree", "emo_moments"),
            "specific_names": self.ratio("names_specific", "moments"),
            "type_accuracy": self.ratio("type_hit", "type_gold"),
            "event_recall": self.ratio("event_hit", "event_gold"),
            "event_date_accuracy": self.ratio("event_date_hit", "event_dated"),
            "event_actor_accuracy": self.ratio("event_actor_hit", "event_hit"),
            "person_or_identifier_topics": float(self.n["bad_topics"]) if self.n["moments"] else None,
            "name_overlap": self.sums.get("name_f1", 0.0) / self.n["name_gold"] if self.n["name_gold"] else None,
            "moments": float(self.n["moments"]), "gold_moments": float(self.n["gold_moments"]),
        }


def match_event(gold_text: str, events: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The predicted event that says ``gold_text``: the one sharing the most content words with it, if it
    holds at least half of them."""
    words = _content(gold_text)
    best = max(events, key=lambda e: len(words & _content(str(e.get("text") or ""))), default=None)
    if best is None or not words or len(words & _content(str(best.get("text") or ""))) < 0.5 * len(words):
        return None
    return best


def topic_matches(gold_topic: str, tag: str) -> bool:
    """Does ``tag`` mean ``gold_topic`` (see the module docs)?"""
    g, t = key_of(gold_topic), key_of(tag)
    if not g or not t:
        return False
    if g == t or g.replace(" ", "") == t.replace(" ", ""):
        return True
    gw, tw = g.split(), t.split()
    short, long_ = (gw, tw) if len(gw) <= len(tw) else (tw, gw)
    if " ".join(short) in GENERIC or all(w in STOPWORDS or w in GENERIC for w in short):
        return False
    n = len(short)
    return any(long_[i:i + n] == short for i in range(len(long_) - n + 1))


def _content(text: str) -> set[str]:
    return {w for w in key_of(text).split() if w not in STOPWORDS and len(w) > 1}


def name_f1(gold_title: str, name: str) -> float:
    """F1 of the content words of a gold title and a predicted name."""
    g, p = _content(gold_title), _content(name)
    if not g or not p:
        return 0.0
    hit = len(g & p)
    return 2 * hit / (len(g) + len(p))


def _person_key(name: str) -> str:
    return normalize_key(name)


def _labels(items: Sequence[Item], gold: Sequence[GoldMoment]) -> list[int | None]:
    """The gold moment each item belongs to (None: unlabelled)."""
    out: list[int | None] = []
    for it in items:
        hits = [i for i, g in enumerate(gold) if g.holds(it.kind, it.id, it.session_id, it.ts)]
        out.append(min(hits, key=lambda i: gold[i].end - gold[i].start) if hits else None)
    return out


def _boundaries(items: Sequence[Item], labels: Sequence[Any]) -> str:
    return "".join("1" if labels[i] != labels[i - 1] else "0" for i in range(1, len(items)))


def score(items: Sequence[Item], gold: Gold, predicted: Sequence[Predicted], day: tuple[datetime, datetime]) -> Counts:
    """Score the predicted moments of one day against the gold moments of that day."""
    from nltk.metrics.segmentation import pk, windowdiff

    c = Counts()
    d0, d1 = day
    g_day = [g for g in gold.moments if d0 <= g.start < d1]
    p_day = [m for m in predicted if d0 <= m.start < d1]
    items = sorted((i for i in items if d0 <= i.ts < d1), key=lambda i: (i.ts, i.id))
    c.n["gold_moments"] += len(g_day)
    c.n["moments"] += len(p_day)
    # boundaries within ±10 minutes, one to one, closest first
    gb, pb = sorted(g.start for g in g_day), sorted(m.start for m in p_day)
    pairs = sorted((abs((p - g).total_seconds()), i, j) for i, g in enumerate(gb) for j, p in enumerate(pb)
                   if abs(p - g) <= TOLERANCE)
    used_g: set[int] = set()
    used_p: set[int] = set()
    for _, i, j in pairs:
        if i not in used_g and j not in used_p:
            used_g.add(i)
            used_p.add(j)
    c.n["b_gold"] += len(gb)
    c.n["b_pred"] += len(pb)
    c.n["b_hit_g"] += len(used_g)
    c.n["b_hit_p"] += len(used_p)
    # Pk / WindowDiff over the items
    glab = _labels(items, g_day)
    owner_of = {iid: k for k, m in enumerate(p_day) for iid in m.items}
    plab = [owner_of.get(i.id) for i in items]
    if len(items) >= 3:
        ref, hyp = _boundaries(items, glab), _boundaries(items, plab)
        n_seg = ref.count("1") + 1
        k = max(2, round(len(items) / n_seg / 2))
        if k < len(ref):
            c.pk.append((pk(ref, hyp, k=k, boundary="1"), len(items)))
            c.wd.append((windowdiff(ref, hyp, k, boundary="1"), len(items)))
    # match moments by shared items
    g_items: dict[int, set[str]] = defaultdict(set)
    for it, lab in zip(items, glab, strict=True):
        if lab is not None:
            g_items[lab].add(it.id)

    def best_pred(gi: int) -> Predicted | None:
        cands = [(len(g_items[gi] & m.items), -abs((m.start - g_day[gi].start).total_seconds()), k) for k, m in enumerate(p_day)]
        cands = [x for x in cands if x[0] > 0]
        return p_day[max(cands)[2]] if cands else None

    def best_gold(m: Predicted) -> GoldMoment | None:
        cands = [(len(g_items[gi] & m.items), gi) for gi in range(len(g_day))]
        cands = [x for x in cands if x[0] > 0]
        return g_day[max(cands)[1]] if cands else None

    owner = _person_key(gold.owner) if gold.owner else None
    for gi, g in enumerate(g_day):
        m = best_pred(gi)
        tags = m.tags if m else []
        c.n["topic_gold"] += len(g.topics)
        c.n["topic_hit_g"] += sum(any(topic_matches(t, x) for x in tags) for t in g.topics)
        gp = {_person_key(p) for p in g.people} - {owner}
        pp = {_person_key(p) for p in (m.people if m else [])}
        c.n["people_gold"] += len(gp)
        c.n["people_hit_g"] += len(gp & pp)
        if g.emotions:
            emo = set(m.emotions) if m else set()
            c.n["emo_moments"] += 1
            c.n["emo_agree"] += bool(emo & set(g.emotions))
            c.n["emo_gold"] += len(g.emotions)
            c.n["emo_hit_g"] += len(emo & set(g.emotions))
        if g.kind:
            c.n["type_gold"] += 1
            c.n["type_hit"] += bool(m and m.moment_type == g.kind)
        if g.title:
            c.n["name_gold"] += 1
            c.sums["name_f1"] += name_f1(g.title, m.name) if m else 0.0
    day_events = [e for m in p_day for e in m.events]
    for gi, g in enumerate(g_day):
        m = best_pred(gi)
        for ge in g.events:
            c.n["event_gold"] += 1
            e = match_event(ge.text, (m.events if m else []) or day_events)
            if e is None:
                continue
            c.n["event_hit"] += 1
            c.n["event_actor_hit"] += bool(ge.actor) and (ge.actor in (e.get("actors") or []) or ge.actor in str(e.get("text")))
            if ge.date:
                c.n["event_dated"] += 1
                start, end = str(e.get("date") or ""), str(e.get("date_end") or e.get("date") or "")
                c.n["event_date_hit"] += bool(start) and start <= ge.date[0] and ge.date[1] <= end
    people_words = {w for g in g_day for p in g.people for w in _content(p)} | {w for m in p_day for p in m.people
                                                                                 for w in _content(p)}
    for m in p_day:
        c.n["bad_topics"] += sum(bool(_content(t) & people_words) or any(identifier(w) for w in t.split()) for t in m.tags)
        c.n["names_specific"] += specific_name(m.name, m.titles)
        gm = best_gold(m)
        if gm is None:
            continue
        g = gm
        c.n["topic_pred"] += len(m.tags)
        c.n["topic_hit_p"] += sum(any(topic_matches(t, x) for t in g.topics) for x in m.tags)
        gp = {_person_key(p) for p in g.people} - {owner}
        c.n["people_pred"] += len(m.people)
        c.n["people_hit_p"] += sum(_person_key(p) in gp for p in m.people)
        if g.emotions:
            c.n["emo_pred"] += len(m.emotions)
            c.n["emo_hit_p"] += len(set(m.emotions) & set(g.emotions))
    return c
