"""Finding things: search, ask, and the page of a topic or a person."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ... import moments
from ...days import local_zone
from ...exceptions import RemError
from ..web import Web, hm, minutes, top


def search(web: Web, request: Request) -> Response:
    from ...search import SearchOptions, said_of, spelling_of, time_of
    from ...search import search as run_search

    q = request.query_params.get("q", "").strip()
    results: list[dict[str, Any]] = []
    message = ""
    kept = None
    spelt: list[tuple[str, str]] = []
    if q:
        try:
            found = run_search(web.store, q, SearchOptions(limit=30, spelling=not request.query_params.get("as_written")))
            results, kept, spelt = found.to_pylist(), time_of(found), spelling_of(found)
            for r in results:  # found by what it says of the time asked about, written on another day
                r["said_of"] = kept["words"] if kept and said_of(r["time"], kept) else None
        except RemError as e:
            message = str(e)
    return web.page(request, "search.html", title=f"REM — search {q}" if q else "REM — search", q=q, results=results,
                    message=message, kept=kept, spelt=spelt)


def ask(web: Web, request: Request) -> Response:
    from ...ask import ask as run_ask

    q = request.query_params.get("q", "").strip()
    answer = None
    message = ""
    if q:
        try:  # no model and no dream from a page: a GET changes nothing and costs nothing
            answer = run_ask(web.store, q[:1000], dream_missing=False)
        except RemError as e:
            message = str(e)
    return web.page(request, "ask.html", title=f"REM — ask {q}" if q else "REM — ask", asked=q, answer=answer,
                    message=message)


def subject(web: Web, request: Request) -> Response:
    """A topic's or a person's page: first and last seen, hours per week, its moments, what goes with it."""
    kind = "person" if request.url.path.startswith("/person/") else "topic"
    name = request.path_params["name"][:300]
    with web.store.read() as con:
        rows = moments.with_subject(con, "people" if kind == "person" else "tags", name)
    if not rows:
        return web.error(request, f"no moment has the {kind} “{name}” (names are matched whole; try the search box)", 404)
    zone = local_zone()
    weeks: dict[date, float] = defaultdict(float)
    topics: dict[str, int] = defaultdict(int)
    people: dict[str, int] = defaultdict(int)
    for m in rows:
        d = m["start_time"].astimezone(zone).date()
        weeks[d - timedelta(days=d.weekday())] += minutes(m) / 60
        for t in m["tags"] or []:
            if t.lower() != name.lower():
                topics[t] += 1
        for p in m["people"] or []:
            if p.lower() != name.lower():
                people[p] += 1
    first, last = min(weeks), max(weeks)
    span = [first + timedelta(days=7 * i) for i in range((last - first).days // 7 + 1)][-52:]
    hours = [weeks.get(w, 0.0) for w in span]
    peak = max(hours) or 1.0
    w = min(60.0, 600 / len(span))
    bars = [(i * w, 40 - max(1.0, 38 * h / peak), max(1.0, w - 2), max(1.0, 38 * h / peak), wk, h)
            for i, (wk, h) in enumerate(zip(span, hours, strict=True))]
    return web.page(request, "subject.html", title=f"REM — {name}", kind=kind, subject=name, rows=rows,
                    first_seen=rows[-1]["start_time"], last_seen=rows[0]["start_time"], total=hm(sum(minutes(m) for m in rows)),
                    bars=bars, weeks=len(span), peak=peak, topics=top({k: float(v) for k, v in topics.items()}, 12),
                    people=top({k: float(v) for k, v in people.items()}, 12))
