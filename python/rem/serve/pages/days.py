"""The day as a timeline, the week as seven of them, the month as a calendar heatmap."""

from __future__ import annotations

import calendar
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ... import moments
from ...days import local_zone
from ...exceptions import RemError
from .. import timeline
from ..web import GAP_MINUTES, Web, bounds, hm, local_day, minutes, step, top


def home(web: Web, request: Request) -> Response:
    with web.store.read() as con:
        last = moments.latest_start(con)
    d = last.astimezone().date() if last else datetime.now().astimezone().date()
    return RedirectResponse(f"/day/{d.isoformat()}", status_code=302)


def day(web: Web, request: Request) -> Response:
    try:
        d = local_day(request.path_params["day"])
        start, end = bounds(d)
    except RemError as e:
        return web.error(request, str(e), 404)
    with web.store.read() as con:
        rows = moments.between(con, start, end, limit=1000).to_pylist()
    zone = local_zone()
    ruler, blocks = timeline.day_layout(rows, start.astimezone(zone), day_end=end.astimezone(zone))
    kinds = sorted({b.kind for b in blocks})
    cards: list[dict[str, Any]] = []
    prev_end = None
    for m in rows:
        if prev_end is not None and (m["start_time"] - prev_end).total_seconds() >= GAP_MINUTES * 60:
            cards.append({"gap": hm((m["start_time"] - prev_end).total_seconds() / 60)})
        cards.append({"m": m, "minutes": minutes(m), "pending": timeline.is_pending(m)})
        prev_end = max(prev_end, m["end_time"]) if prev_end else m["end_time"]
    deleted = request.query_params.get("deleted", "")
    return web.page(request, "day.html", title=f"REM — {d:%A %d %B %Y}", day=d, cards=cards,
                    prev=step(d, -1), next=step(d, 1), total=hm(sum(minutes(m) for m in rows)),
                    ruler=ruler, blocks=blocks, kinds=kinds, width=timeline.WIDTH, ruler_px=timeline.RULER_PX,
                    deleted=deleted[:80], deleted_name=request.query_params.get("name", "")[:300])


def _period(web: Web, request: Request, kind: str, start_day: date, days: int, label: str, prev: str | None,
            nxt: str | None) -> Response:
    try:
        start, end = bounds(start_day, days)
    except RemError as e:
        return web.error(request, str(e), 404)
    with web.store.read() as con:
        rows = moments.between(con, start, end, limit=100_000).to_pylist()
    topics: dict[str, float] = defaultdict(float)
    types: dict[str, float] = defaultdict(float)
    people: dict[str, float] = defaultdict(float)
    by_day: dict[date, list[dict[str, Any]]] = {}
    for m in rows:
        mins = minutes(m)
        tags = m["tags"] or []
        for t in tags:  # a moment's time shared among its topics: the topics add up to the total
            topics[t] += mins / len(tags)
        types[m["moment_type"] or "other"] += mins
        for p in m["people"] or []:
            people[p] += mins
        by_day.setdefault(m["start_time"].astimezone().date(), []).append(m)
    zone = local_zone()
    picture: dict[str, Any] = {}
    if kind == "week":
        cols = []
        for i in range(days):
            dd = start_day + timedelta(days=i)
            a, b = bounds(dd)
            cols.append((dd, a.astimezone(zone), b.astimezone(zone),
                         [m for m in rows if m["start_time"] >= a and m["start_time"] < b]))
        picture["ruler"], picture["columns"] = timeline.week_layout(cols)
    else:
        hours: dict[date, float] = defaultdict(float)
        for m in rows:
            hours[m["start_time"].astimezone(zone).date()] += minutes(m) / 60
        picture["cells"], rows_n = timeline.month_layout(start_day, hours)
        picture["height"] = rows_n * (timeline.CELL + 4) + 22
    return web.page(request, "period.html", title=f"REM — {label}", kind=kind, label=label, prev=prev, next=nxt,
                    topics=top(topics, 15), types=top(types, 50), people=top(people, 15),
                    by_day=sorted(by_day.items()), total=hm(sum(minutes(m) for m in rows)), n=len(rows),
                    width=timeline.WIDTH, ruler_px=timeline.RULER_PX, cell=timeline.CELL, **picture)


def week(web: Web, request: Request) -> Response:
    try:
        d = local_day(request.path_params["day"])
    except RemError as e:
        return web.error(request, str(e), 404)
    monday = step(d, -d.weekday())
    if monday is None:
        return web.error(request, f"{d.isoformat()} is at the edge of the calendar: its week starts before year 1", 404)
    before, after = step(monday, -7), step(monday, 7)
    return _period(web, request, "week", monday, 7, f"week of {monday:%d %B %Y}",
                   f"/week/{before}" if before else None, f"/week/{after}" if after else None)


def month(web: Web, request: Request) -> Response:
    try:
        raw = request.path_params["month"]
        if raw == "now":
            today = datetime.now().astimezone().date()
            raw = f"{today.year}-{today.month}"
        y, mo = (int(x) for x in raw.split("-", 1))
        first = date(y, mo, 1)
    except ValueError:
        return web.error(request, "use /month/YYYY-MM", 404)
    days = calendar.monthrange(y, mo)[1]
    before, after = step(first, -1), step(first, days)
    return _period(web, request, "month", first, days, f"{first:%B %Y}",
                   f"/month/{before:%Y-%m}" if before else None, f"/month/{after:%Y-%m}" if after else None)
