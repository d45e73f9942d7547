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

from .config import load_file
from .store import Store, arrow

log = logging.getLogger("rem.report")

DEFAULT_KEEP = 30


def reports_dir(store: Store, cfg: dict[str, Any] | None = None) -> Path:
    env = os.environ.get("REM_REPORTS_DIR")
    if env:
        return Path(env).expanduser()
    rc = (cfg if cfg is not None else load_file()).get("reports", {})
    if isinstance(rc, dict) and rc.get("dir"):
        return Path(str(rc["dir"])).expanduser()
    return store.path.parent / "reports"


def keep_count(cfg: dict[str, Any] | None = None) -> int:
    rc = (cfg if cfg is not None else load_file()).get("reports", {})
    return int(rc.get("keep", DEFAULT_KEEP)) if isinstance(rc, dict) else DEFAULT_KEEP


def _one_line(text: Any) -> str:
    return " ".join(str(text or "").split())


def _hm(t: datetime) -> str:
    return f"{t.astimezone():%H:%M}"


def _moment_md(m: dict[str, Any], with_date: bool = False) -> list[str]:
    st, en = m["start_time"], m["end_time"]
    when = f"{st.astimezone():%a %d %b} {_hm(st)}–{_hm(en)}" if with_date else f"{_hm(st)}–{_hm(en)}"
    src = "" if m.get("generated_by") == "model" else " *(named from its sources)*"
    out = [f"### {when} · {_one_line(m['name'])}{src}", ""]
    for label, val in (("Type", m.get("moment_type")), ("Topics", ", ".join(m.get("tags") or [])),
                       ("People", ", ".join(m.get("people") or [])), ("Emotions", ", ".join(m.get("emotion_tags") or [])),
                       ("Outcome", _one_line(m.get("outcome")))):
        if val:
            out.append(f"- **{label}:** {val}")
    if m.get("summary"):
        out += ["", _one_line(m["summary"])]
    return [*out, ""]


_MOMENT_COLS = "id, name, summary, start_time, end_time, moment_type, tags, emotion_tags, people, outcome, generated_by, dream_run_id"


def run_digest(store: Store, run_id: str) -> str:
    with store.read(sandbox=False) as con:
        rows = arrow(con, "SELECT * EXCLUDE (metadata) FROM dream_runs WHERE id = $id", {"id": run_id}).to_pylist()
        if not rows:
            raise KeyError(run_id)
        r = rows[0]
        moments = arrow(con, f"SELECT {_MOMENT_COLS} FROM moments WHERE dream_run_id = $id ORDER BY start_time",
                        {"id": run_id}).to_pylist()
        edges = arrow(con, """SELECT action, edge_type, count(*) AS n FROM dream_edge_log WHERE dream_run_id = $id
                              GROUP BY ALL ORDER BY action, n DESC""", {"id": run_id}).to_pylist()
        summary = arrow(con, """SELECT content FROM resources WHERE resource_type = 'summary'
                                AND metadata->>'dream_run_id' = $id""", {"id": run_id}).to_pylist()
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
    if summary and summary[0]["content"]:
        lines += ["## Summary", "", _one_line(summary[0]["content"]), ""]
    lines += [f"## Moments ({len(moments)})", ""]
    if not moments:
        lines += ["No moments.", ""]
    for m in moments:
        lines += _moment_md(m)
    by_action: dict[str, list[str]] = {}
    for e in edges:
        by_action.setdefault(e["action"], []).append(f"{e['edge_type']} {e['n']}")
    lines += ["## Graph", ""]
    total = {a: sum(e["n"] for e in edges if e["action"] == a) for a in by_action}
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
    cfg = cfg if cfg is not None else load_file()
    keep = keep_count(cfg)
    if keep <= 0:
        return None
    d = reports_dir(store, cfg)
    d.mkdir(parents=True, exist_ok=True)
    with store.read(sandbox=False) as con:
        t = arrow(con, "SELECT coalesce(window_end, started_at) AS t FROM dream_runs WHERE id = $id", {"id": run_id})
    when = t.column("t")[0].as_py() if t.num_rows else datetime.now().astimezone()
    path = d / f"{when.astimezone():%Y-%m-%d_%H%M}_{run_id[:8]}.md"
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(run_digest(store, run_id), encoding="utf-8")
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
        moments = arrow(con, f"""SELECT {_MOMENT_COLS} FROM moments WHERE start_time >= $s AND start_time < $e
                                 ORDER BY start_time""", {"s": start, "e": end}).to_pylist()
        runs = arrow(con, """SELECT count(*) AS n, coalesce(sum(estimated_cost_usd), 0) AS cost,
                                    coalesce(sum(edges_added), 0) AS added, coalesce(sum(edges_reinforced), 0) AS reinforced
                             FROM dream_runs WHERE id IN (SELECT DISTINCT dream_run_id FROM moments
                                                          WHERE start_time >= $s AND start_time < $e)""",
                     {"s": start, "e": end}).to_pylist()[0]
    days = (end - start).days
    lines = [f"# {title}", "", f"{start.astimezone():%a %d %b %Y} → {(end - timedelta(seconds=1)).astimezone():%a %d %b %Y}", ""]
    if not moments:
        return "\n".join([*lines, "No moments in this period — has `rem dream` run for it? See `rem runs`.", ""])
    minutes: Counter[str] = Counter()
    people: Counter[str] = Counter()
    moods: Counter[str] = Counter()
    for m in moments:
        dur = max(0.0, (m["end_time"] - m["start_time"]).total_seconds() / 60)
        for t in m["tags"] or []:
            minutes[t] += dur
        people.update(m["people"] or [])
        moods.update(m["emotion_tags"] or [])
    total_min = sum(max(0.0, (m["end_time"] - m["start_time"]).total_seconds() / 60) for m in moments)
    lines += [f"**{len(moments)} moments**, {total_min / 60:.1f} h of activity · made by {runs['n']} dream(s): "
              f"{runs['added']} edges added, {runs['reinforced']} reinforced, cost ${runs['cost']:.4f}", ""]
    if minutes:
        lines += ["## Where the time went", ""]
        lines += [f"- {t}: {v / 60:.1f} h" for t, v in minutes.most_common(10)] + [""]
    if people:
        lines += ["## People", "", ", ".join(f"{p} ({n})" for p, n in people.most_common(15)), ""]
    if moods:
        lines += ["## Moods", "", ", ".join(f"{p} ({n})" for p, n in moods.most_common(10)), ""]
    if days <= 1:
        lines += ["## Moments", ""]
        for m in moments:
            lines += _moment_md(m)
    else:
        last = None
        for m in moments:
            d = m["start_time"].astimezone().date()
            if d != last:
                lines += [f"## {m['start_time'].astimezone():%A %d %B}", ""]
                last = d
            tags = ", ".join(m["tags"] or [])
            lines.append(f"- {_hm(m['start_time'])}–{_hm(m['end_time'])} **{_one_line(m['name'])}**" + (f" — {tags}" if tags else ""))
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
