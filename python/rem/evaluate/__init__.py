"""``rem eval``: how good are the moments? Dream labelled days without
writing anything and score what comes out against the gold.

Each day of the gold is dreamed on its own, as the nightly dream would, by
the path asked for — no model (the extraction alone), the embedded model,
any OpenAI-compatible endpoint, or the oracle (an endpoint that answers
from the gold: the ceiling of the pipeline around the model) — and scored
by :mod:`.score`. Nothing is written to the database.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..config import LLMSettings
from ..dream.plan import plan
from ..dream.run import DreamOptions, preview
from ..ids import normalize_key
from ..store import Store, fetch_rows
from .gold import Gold, GoldMoment, load
from .oracle import Oracle
from .score import Counts, Item, Predicted, score

__all__ = ["EvalResult", "Gold", "GoldMoment", "Oracle", "evaluate", "evaluate_stored", "load", "table"]


@dataclass
class EvalResult:
    path: str
    counts: Counts = field(default_factory=Counts)
    seconds: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    days: int = 0

    def metrics(self) -> dict[str, Any]:
        m: dict[str, Any] = dict(self.counts.metrics())
        d = max(self.days, 1)
        m.update({"days": self.days, "seconds_per_day": self.seconds / d, "tokens_in_per_day": self.tokens_in / d,
                  "tokens_out_per_day": self.tokens_out / d})
        return m


def _items(store: Store, d0: Any, d1: Any) -> tuple[list[Item], dict[str, str]]:
    """The day's activity items, and the title of every session and resource."""
    with store.read(sandbox=False) as con:
        rows = fetch_rows(con, """SELECT 'message', id, session_id, created_at FROM messages WHERE created_at >= $s AND created_at < $e
                                  UNION ALL
                                  SELECT 'resource', id, NULL, created_at FROM resources
                                  WHERE created_at >= $s AND created_at < $e AND resource_type <> 'summary'""",
                          {"s": d0, "e": d1})
        titles = dict(fetch_rows(con, """SELECT id, name FROM sessions WHERE name IS NOT NULL UNION ALL
                                         SELECT id, name FROM resources WHERE name IS NOT NULL AND created_at >= $s AND created_at < $e""",
                                 {"s": d0, "e": d1}))
    return [Item(k, i, s, ts) for k, i, s, ts in rows], titles


def evaluate(store: Store, gold: Gold, settings: LLMSettings, *, path: str = "", gap_minutes: float = 30.0,
             max_input_tokens: int = 6000, oracle: Oracle | None = None,
             progress: Callable[[str], None] | None = None) -> EvalResult:
    """Dream every day of ``gold`` with ``settings`` (no writes) and score it.
    With ``oracle``, the endpoint is told each day which gold moment each ref belongs to."""
    out = EvalResult(path or settings.model)
    for d0, d1 in gold.days():
        items, titles = _items(store, d0, d1)
        opts = DreamOptions(lookback_hours=None, start=d0.isoformat(), end=d1.isoformat(), gap_minutes=gap_minutes,
                            max_input_tokens=max_input_tokens, progress=False)
        if oracle is not None:
            p = plan(store, settings, lookback_hours=None, start=opts.start, end=opts.end, gap_minutes=gap_minutes,
                     max_input_tokens=max_input_tokens)
            day_gold = [g for g in gold.moments if d0 <= g.start < d1]
            kinds = {i.id: i for i in items}
            labels: dict[str, int] = {}
            for it in p.packed.items.to_pylist():
                item = kinds.get(it["id"])
                if item is not None:
                    hits = [k for k, g in enumerate(day_gold) if g.holds(item.kind, item.id, item.session_id, item.ts)]
                    if hits:
                        labels[it["ref"]] = min(hits, key=lambda k: day_gold[k].end - day_gold[k].start)
            oracle.expect(day_gold, labels)
        t0 = time.perf_counter()
        res = preview(store, settings, opts)
        out.seconds += time.perf_counter() - t0
        out.tokens_in += res.usage.tokens_in
        out.tokens_out += res.usage.tokens_out
        out.days += 1
        predicted = []
        for m in res.resolution.moments if res.resolution else []:
            ids = {*m.message_ids, *m.resource_ids}
            own = frozenset(normalize_key(titles[i]) for i in (*m.session_ids, *m.resource_ids) if titles.get(i))
            predicted.append(Predicted(m.start, m.end, m.name, m.moment_type, m.tags, m.people, m.emotion_tags, ids, own,
                                       list(m.events)))
        out.counts.add(score(items, gold, predicted, (d0, d1)))
        if progress:
            progress(f"{out.path}: {d0:%Y-%m-%d} — {len(predicted)} moments in {time.perf_counter() - t0:.1f}s")
    return out


def evaluate_stored(store: Store, gold: Gold, *, path: str = "stored moments") -> EvalResult:
    """Score the moments already in the database (what earlier dreams wrote) against ``gold``."""
    out = EvalResult(path)
    for d0, d1 in gold.days():
        items, titles = _items(store, d0, d1)
        with store.read(sandbox=False) as con:
            rows = fetch_rows(con, """SELECT start_time, end_time, name, moment_type, tags, people, emotion_tags,
                                             message_ids, resource_ids, session_ids, CAST(events AS VARCHAR) FROM moments
                                      WHERE start_time >= $s AND start_time < $e""", {"s": d0, "e": d1})
        predicted = [Predicted(st, en, name or "", mt or "", list(tags or []), list(people or []), list(emo or []),
                               {*(mids or []), *(rids or [])},
                               frozenset(normalize_key(titles[i]) for i in (*(sids or []), *(rids or [])) if titles.get(i)),
                               json.loads(ev) if ev else [])
                     for st, en, name, mt, tags, people, emo, mids, rids, sids, ev in rows]
        out.counts.add(score(items, gold, predicted, (d0, d1)))
        out.days += 1
    return out


METRICS = [
    ("boundary_f1", "segm. F1 (±10 min)"), ("boundary_precision", "boundary P"), ("boundary_recall", "boundary R"),
    ("pk", "Pk ↓"), ("windowdiff", "WindowDiff ↓"), ("topic_recall", "topic R"), ("topic_precision", "topic P"),
    ("people_recall", "people R"), ("people_precision", "people P"), ("emotion_agreement", "emotion agreement"),
    ("emotion_recall", "emotion R"), ("emotion_precision", "emotion P"), ("specific_names", "specific names"),
    ("name_overlap", "name overlap with the gold title"), ("type_accuracy", "type accuracy"),
    ("event_recall", "event R"), ("event_date_accuracy", "event dates right"), ("event_actor_accuracy", "event actors right"),
    ("person_or_identifier_topics", "topics that are a person or an identifier"),
    ("seconds_per_day", "s / day"), ("tokens_in_per_day", "tokens in / day"),
    ("tokens_out_per_day", "tokens out / day"),
]


def table(results: list[EvalResult]) -> str:
    """A Markdown table: one row per metric, one column per path."""
    def fmt(v: Any, key: str) -> str:
        if v is None:
            return "—"
        if key.startswith("tokens"):
            return f"{v:,.0f}"
        if key == "seconds_per_day":
            return f"{v:.1f}"
        if key == "person_or_identifier_topics":
            return f"{v:.0f}"
        return f"{v:.3f}"

    ms = [r.metrics() for r in results]
    lines = ["| metric | " + " | ".join(r.path for r in results) + " |", "|---|" + "---:|" * len(results)]
    for key, label in METRICS:
        lines.append(f"| {label} | " + " | ".join(fmt(m.get(key), key) for m in ms) + " |")
    return "\n".join(lines)
