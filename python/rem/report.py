"""Markdown digests: one per dream run, and day / week roll-ups.

Every successful dream writes ``<reports dir>/<window end date>_<run>.md``
(the moments it made with times, topics, people, emotions and outcomes, the
edges it added and reinforced, its cost) and keeps the newest 30 (older ones
are deleted). The folder is ``$REM_REPORTS_DIR``, else ``[reports] dir`` in
the config file, else ``reports/`` beside the database; ``[reports] keep``
changes how many are kept (0 = write none).

``rem report --day yesterday`` renders the day's moments from the database;
``rem report --week`` rolls seven days up (time per topic, people, moods);
``rem report --run ID`` prints one run's digest.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import ahead, ledger, moments
from .ahead import Ahead
from .store import Store

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger("rem.report")

DEFAULT_KEEP = 30


def reports_dir(store: Store, cfg: dict[str, Any] | None = None) -> Path:
    env = os.environ.get("REM_REPORTS_DIR")
    if env:
        return Path(env).expanduser()
    rc = (cfg if cfg is not None else store.settings.file).get("reports", {})
    if isinstance(rc, dict) and rc.get("dir"):
        return Path(str(rc["dir"])).expanduser()
    return store.path.parent / "reports"


def keep_count(cfg: dict[str, Any]) -> int:
    rc = cfg.get("reports", {})
    return int(rc.get("keep", DEFAULT_KEEP)) if isinstance(rc, dict) else DEFAULT_KEEP


def _hm(t: datetime) -> str:
    return f"{t.astimezone():%H:%M}"


@dataclass(frozen=True)
class MomentSection:
    """A run's moments as its digest shows them: how many, how many wait for review, their Markdown lines."""

    count: int
    waiting: int
    lines: list[str]


def moment_section(rows: Iterable[Mapping[str, Any]]) -> MomentSection:
    """The digest's section of these moments (stored rows, in the order shown)."""
    ms = list(rows)
    lines: list[str] = []
    for m in ms:
        lines += moments.as_markdown(m)
    return MomentSection(len(ms), sum(1 for m in ms if moments.provenance(m) == "pending review"), lines)


def _section_of_rows(rows: pa.Table) -> MomentSection:
    """:func:`moment_section` of the rows a dream writes, in the order :func:`moments.of_run` reads them back
    (start time, then id: both compare as DuckDB compares them, by code point)."""
    cols = [c for c in moments.COLUMNS if c in rows.column_names]
    ordered = sorted(rows.select(cols).to_pylist(), key=lambda r: (r["start_time"], r["id"]))
    return moment_section(ordered)


class SectionAhead:
    """A dream's moments rendered for its digest while the dream writes the rest of its results: from the rows
    it writes (``start``), the rows :func:`moments.of_run` reads back once they are written, by a fork of this
    process (:class:`rem.ahead.Ahead`) on the core the writing leaves idle. The digest then neither reads the
    moments back nor renders them (0.6 s of a dream of 100,000 chat turns, BENCHMARKS.md §10)."""

    def __init__(self) -> None:
        self._ahead: Ahead[MomentSection] | None = None

    def start(self, rows: pa.Table) -> None:
        self._ahead = Ahead(_section_of_rows, rows, fork=rows.num_rows >= ahead.WORTH_A_FORK)

    def discard(self) -> None:
        """Wait for the rendering and drop it (the dream failed: no digest is written)."""
        if self._ahead is not None:
            self._ahead.discard()
            self._ahead = None

    def result(self) -> MomentSection | None:
        """The section (None: never started, or it could not be rendered: the digest reads the moments back)."""
        if self._ahead is None:
            return None
        try:
            return self._ahead.result()
        except Exception as e:  # the digest reads the moments back
            log.warning("the run digest's moments are read back: rendering them ahead failed (%s)", e)
            return None
        finally:
            self._ahead = None


def run_digest(store: Store, run_id: str, d: ledger.RunDetail | None = None,
               section: MomentSection | None = None) -> str:
    """The Markdown digest of one run: its moments, summary, graph changes and cost (``d``: the run's
    :func:`ledger.detail`, when the caller has read it; ``section``: its moments, when rendered already)."""
    if d is None:
        with store.read(sandbox=False) as con:
            d = ledger.detail(con, run_id, with_moments=section is None)
    if section is None:
        section = moment_section(d.moments)
    r = d.row
    ws, we = r["window_start"], r["window_end"]
    cost = r.get("estimated_cost_usd")
    lines = [
        f"# REM dream — {ws.astimezone():%a %d %b %Y %H:%M} → {we.astimezone():%a %d %b %H:%M}" if ws and we else "# REM dream",
        "",
        f"Run `{run_id[:8]}` · **{r['status']}** · {r.get('trigger') or 'manual'} · model `{r.get('model')}` · "
        f"{r.get('tokens_in') or 0:,} tokens in, {r.get('tokens_out') or 0:,} out · "
        f"cost {'unknown' if cost is None else f'${cost:.4f}'} · {r.get('duration_s') or 0:.1f} s",
        "",
    ]
    if d.summary:
        lines += ["## Summary", "", moments.md(d.summary), ""]
    lines += [f"## Moments ({section.count})", ""]
    waiting = section.waiting
    if waiting:
        lines += [f"**{waiting} moment(s) wait for your review** (this dream ran with review): `rem review`, or the "
                  "Review page of `rem serve` (/review). They feed the graph once accepted.", ""]
    if not section.count:
        lines += ["No moments.", ""]
    lines += section.lines
    by_action: dict[str, list[str]] = {}
    for e in d.edges:
        by_action.setdefault(e["action"], []).append(f"{e['edge_type']} {e['n']}")
    lines += ["## Graph", ""]
    total = {a: sum(e["n"] for e in d.edges if e["action"] == a) for a in by_action}
    lines += [f"- {total.get('added', 0)} edges added" + (f" ({', '.join(by_action['added'])})" if "added" in by_action else ""),
              f"- {total.get('reinforced', 0)} edges reinforced" + (f" ({', '.join(by_action['reinforced'])})" if "reinforced" in by_action else "")]
    for k, label in (("moments_merged", "moments merged with stored ones"), ("moments_superseded", "older moments superseded"),
                     ("entities_created", "new topics and people"), ("fallback_moments", "moments named from their sources"),
                     ("dropped_refs", "refs the model invented (dropped)")):
        if r.get(k):
            lines.append(f"- {r[k]} {label}")
    return "\n".join(lines).rstrip() + "\n"


def write_run_digest(store: Store, run_id: str, cfg: dict[str, Any] | None = None,
                     section: MomentSection | None = None) -> Path | None:
    """Write the run's digest into the reports folder and keep the newest
    ``keep``; returns the file (None when reports are turned off). ``section``: its moments, rendered already
    (:class:`SectionAhead`)."""
    cfg = cfg if cfg is not None else store.settings.file
    keep = keep_count(cfg)
    if keep <= 0:
        return None
    d = reports_dir(store, cfg)
    d.mkdir(parents=True, exist_ok=True)
    with store.read(sandbox=False) as con:
        detail = ledger.detail(con, run_id, with_moments=section is None)  # read once: it holds every moment
    text = run_digest(store, run_id, detail, section)
    row = detail.row
    when = row.get("window_end") or row.get("started_at") or datetime.now().astimezone()
    path = d / f"{when.astimezone():%Y-%m-%d_%H%M}_{run_id[:8]}.md"
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    digests = sorted(d.glob("*_*.md"), key=lambda p: (p.stat().st_mtime, p.name))
    for old in digests[:-keep]:
        old.unlink(missing_ok=True)
    return path


def find_run_digest(store: Store, run_id: str) -> Path | None:
    d = reports_dir(store)
    hits = sorted(d.glob(f"*_{run_id[:8]}.md")) if d.is_dir() else []
    return hits[-1] if hits else None


def period_digest(store: Store, start: datetime, end: datetime, title: str) -> str:
    """Moments starting in [start, end), by day, with a roll-up of topics,
    people and moods, plus what the dreams that made them cost."""
    with store.read(sandbox=False) as con:
        rows = moments.between(con, start, end, limit=100_000).to_pylist()
        runs = ledger.cost_of_runs(con, sorted({m["dream_run_id"] for m in rows if m["dream_run_id"]}))
    days = (end - start).days
    lines = [f"# {title}", "", f"{start.astimezone():%a %d %b %Y} → {(end - timedelta(seconds=1)).astimezone():%a %d %b %Y}", ""]
    if not rows:
        return "\n".join([*lines, "No moments in this period — has `rem dream` run for it? See `rem runs`.", ""])
    minutes: Counter[str] = Counter()
    people: Counter[str] = Counter()
    moods: Counter[str] = Counter()
    for m in rows:
        dur = max(0.0, (m["end_time"] - m["start_time"]).total_seconds() / 60)
        tags = m["tags"] or []
        for t in tags:  # a moment's time shared among its topics, so the topics add up to the total
            minutes[t] += dur / len(tags)
        people.update(m["people"] or [])
        moods.update(m["emotion_tags"] or [])
    total_min = sum(max(0.0, (m["end_time"] - m["start_time"]).total_seconds() / 60) for m in rows)
    lines += [f"**{len(rows)} moments**, {total_min / 60:.1f} h of activity · made by {runs['n']} dream(s): "
              f"{runs['added']} edges added, {runs['reinforced']} reinforced, cost ${runs['cost']:.4f}", ""]
    if minutes:
        lines += ["## Where the time went", ""]
        lines += [f"- {moments.md(t)}: {v / 60:.1f} h" for t, v in minutes.most_common(10)] + [""]
    if people:
        lines += ["## People", "", ", ".join(f"{moments.md(p)} ({n})" for p, n in people.most_common(15)), ""]
    if moods:
        lines += ["## Moods", "", ", ".join(f"{moments.md(p)} ({n})" for p, n in moods.most_common(10)), ""]
    if days <= 1:
        lines += ["## Moments", ""]
        for m in rows:
            lines += moments.as_markdown(m)
    else:
        last = None
        for m in rows:
            d = m["start_time"].astimezone().date()
            if d != last:
                lines += [f"## {m['start_time'].astimezone():%A %d %B}", ""]
                last = d
            tags = ", ".join(moments.md(t) for t in m["tags"] or [])
            lines.append(f"- {_hm(m['start_time'])}–{_hm(m['end_time'])} **{moments.md(m['name'])}**" + (f" — {tags}" if tags else ""))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
