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
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from . import ledger, moments
from .store import Store

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


def run_digest(store: Store, run_id: str, d: ledger.RunDetail | None = None) -> str:
    """The Markdown digest of one run: its moments, summary, graph changes and cost (``d``: the run's
    :func:`ledger.detail`, when the caller has read it)."""
    if d is None:
        with store.read(sandbox=False) as con:
            d = ledger.detail(con, run_id)
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
    lines += [f"## Moments ({len(d.moments)})", ""]
    waiting = sum(1 for m in d.moments if moments.provenance(m) == "pending review")
    if waiting:
        lines += [f"**{waiting} moment(s) wait for your review** (this dream ran with review): `rem review`, or the "
                  "Review page of `rem serve` (/review). They feed the graph once accepted.", ""]
    if not d.moments:
        lines += ["No moments.", ""]
    for m in d.moments:
        lines += moments.as_markdown(m)
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


def write_run_digest(store: Store, run_id: str, cfg: dict[str, Any] | None = None) -> Path | None:
    """Write the run's digest into the reports folder and keep the newest
    ``keep``; returns the file (None when reports are turned off)."""
    cfg = cfg if cfg is not None else store.settings.file
    keep = keep_count(cfg)
    if keep <= 0:
        return None
    d = reports_dir(store, cfg)
    d.mkdir(parents=True, exist_ok=True)
    with store.read(sandbox=False) as con:
        detail = ledger.detail(con, run_id)  # read once: it holds every moment of the run
    text = run_digest(store, run_id, detail)
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
