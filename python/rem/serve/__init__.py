"""`rem serve`: a local web view of what REM remembers, where it can be corrected.

Starlette + Jinja2 (server-rendered, autoescaped; no JavaScript), served by
uvicorn; ``pip install 'rem[serve]'``. Pages: a day as a timeline of moment
cards with the idle gaps between them; a week and a month rolled up by
topic, type and person; a moment with its sources, links, run and edit
history, and the forms that correct it (the same edits as ``rem moments
edit|merge|split|delete|pin|undo``, which later dreams respect); search; the
graph around a topic, person or moment (an SVG by Graphviz, shown as an
image) with the hot and entangled lists; the runs with their digests,
``rem doctor``'s checks and revert (after a confirmation page). The MCP
server is mounted at ``/mcp``.

Security: loopback by default, and only the names of loopback (and those
given with ``--allowed-host``) are answered: a page whose DNS name rebinds
to 127.0.0.1 gets ``421`` (:mod:`rem.hosts`). Binding elsewhere needs a token
(sent once as ``?token=``, then kept in an HttpOnly cookie). Every form
carries a CSRF token bound to the browser's session cookie (HttpOnly,
SameSite=Strict) and the server's secret. Activity text is escaped everywhere (Jinja2
autoescape; Markdown digests are rendered with raw HTML off). No request
value reaches the file system. The database is opened read-only per request,
and for writing only for the short transaction of an edit, so a dream and
the server share it. The loaded graph is kept in memory and reloaded when
something was committed.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import secrets
import subprocess
import threading
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .. import ledger
from .. import moments as moments_mod
from ..days import day_window, local_zone, parse_day
from ..exceptions import RemError
from ..store import Store, fetch_arrow, file_signature

HERE = Path(__file__).parent
GAP_MINUTES = 30  # an idle gap at least this long is shown between cards


SESSION_COOKIE = "rem_session"


def _same(a: str, b: str) -> bool:
    """Constant-time equality of two strings of any characters (``hmac.compare_digest`` refuses non-ASCII str)."""
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))


def _cookie(scope: Mapping[str, Any], name: str) -> str:
    raw = dict(scope.get("headers") or []).get(b"cookie", b"").decode("latin-1")
    for part in raw.split(";"):
        k, _, v = part.strip().partition("=")
        if k == name:
            return v
    return ""


@dataclass
class State:
    store: Store
    secret: bytes
    token: str | None
    allowed: list[str] | None = None  # Host names answered (None: any), see rem.hosts
    graph: Any = None
    graph_sig: tuple[int, ...] = ()
    lock: threading.Lock = field(default_factory=threading.Lock)

    def csrf(self, session: str) -> str:
        """The form token of a browser session (its cookie), bound to this server's secret."""
        return hmac.new(self.secret, b"csrf\x1f" + session.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()

    ranks: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)

    def ranked(self, key: str, n: int) -> list[dict[str, Any]]:
        """The top ``n`` nodes by ``key`` (hot, entanglement), computed once per loaded graph."""
        from .. import graph as g

        lg = self.loaded_graph()
        if (key, n) not in self.ranks:
            self.ranks[(key, n)] = g.ranked(self.store, lg, key, n).to_pylist()
        return self.ranks[(key, n)]

    def loaded_graph(self) -> Any:
        """The graph, kept in memory; reloaded after anything was committed."""
        from .. import graph as g

        sig = file_signature(self.store.path)
        with self.lock:
            if self.graph is None or sig != self.graph_sig:
                self.graph = g.load(self.store)
                self.graph_sig = sig
                self.ranks = {}
            return self.graph


def _local_day(value: str | None) -> date:
    try:
        return parse_day(value or "today")
    except (ValueError, OverflowError):
        raise RemError(f"{value!r} is not a day (use YYYY-MM-DD)") from None


def _bounds(d: date, days: int = 1) -> tuple[datetime, datetime]:
    """A span of local days (rem.days: midnight to midnight in the zone, DST included)."""
    try:
        return day_window(d, days)
    except (ValueError, OverflowError):
        raise RemError(f"{d.isoformat()} is at the edge of the calendar: REM has no days after 9999-12-31") from None


def _step(d: date, days: int) -> date | None:
    """``d`` moved by ``days``, or None past the calendar's edge (no link there)."""
    try:
        return d + timedelta(days=days)
    except OverflowError:
        return None


def _minutes(m: dict[str, Any]) -> float:
    return max(0.0, (m["end_time"] - m["start_time"]).total_seconds() / 60)


def _hm(minutes: float) -> str:
    h, m = divmod(int(round(minutes)), 60)
    return f"{h} h {m:02d} min" if h else f"{m} min"


def create_app(store: Store, *, token: str | None = None, mcp: bool = True, host: str = "127.0.0.1",  # noqa: C901
               allowed_hosts: tuple[str, ...] | list[str] = ()) -> Any:
    """The ASGI app (Starlette) for a server bound to ``host``; ``allowed_hosts``: more names it answers."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    from ..hosts import allowed_hosts as hosts_for

    st = State(store, secrets.token_bytes(32), token, hosts_for(host, allowed_hosts))
    env = Environment(loader=FileSystemLoader(str(HERE / "templates")), autoescape=select_autoescape(["html"]))
    env.filters["hm"] = lambda t: t.astimezone().strftime("%H:%M") if t else ""
    env.filters["when"] = lambda t: t.astimezone().strftime("%a %d %b %Y %H:%M") if t else ""
    env.filters["dur"] = _hm
    env.filters["q"] = lambda s: quote(str(s), safe="")

    def page(request: Request, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
        ctx.setdefault("title", "REM")
        html = env.get_template(name).render(csrf=st.csrf(_session(request)), path=request.url.path, **ctx)
        return HTMLResponse(html, status_code=status)

    def error(request: Request, message: str, status: int = 400) -> HTMLResponse:
        return page(request, "error.html", status=status, message=message, title="REM — error")

    async def form(request: Request) -> dict[str, str]:
        data = await request.form()
        values = {k: str(v) for k, v in data.items() if isinstance(v, str)}
        session = _cookie(request.scope, SESSION_COOKIE)
        if not session or not _same(values.get("csrf", ""), st.csrf(session)):
            raise PermissionError("the form is stale or did not come from this page (CSRF check): reload and try again")
        return values

    # -- pages -----------------------------------------------------------------------------------------------
    def home(request: Request) -> Response:
        with store.read() as con:
            last = fetch_arrow(con, "SELECT max(start_time) AS t FROM moments").column("t")[0].as_py()
        d = last.astimezone().date() if last else datetime.now().astimezone().date()
        return RedirectResponse(f"/day/{d.isoformat()}", status_code=302)

    def day_view(request: Request) -> Response:
        try:
            d = _local_day(request.path_params["day"])
        except RemError as e:
            return error(request, str(e), 404)
        try:
            start, end = _bounds(d)
        except RemError as e:
            return error(request, str(e), 404)
        with store.read() as con:
            rows = moments_mod.between(con, start, end, limit=1000).to_pylist()
        from ..days import local_zone
        from . import timeline

        zone = local_zone()
        ruler, blocks = timeline.day_layout(rows, start.astimezone(zone), day_end=end.astimezone(zone))
        kinds = sorted({b.kind for b in blocks})
        cards: list[dict[str, Any]] = []
        prev_end = None
        for m in rows:
            if prev_end is not None and (m["start_time"] - prev_end).total_seconds() >= GAP_MINUTES * 60:
                cards.append({"gap": _hm((m["start_time"] - prev_end).total_seconds() / 60)})
            cards.append({"m": m, "minutes": _minutes(m), "pending": timeline.is_pending(m)})
            prev_end = max(prev_end, m["end_time"]) if prev_end else m["end_time"]
        deleted = request.query_params.get("deleted", "")
        return page(request, "day.html", title=f"REM — {d:%A %d %B %Y}", day=d, cards=cards,
                    prev=_step(d, -1), next=_step(d, 1), total=_hm(sum(_minutes(m) for m in rows)),
                    ruler=ruler, blocks=blocks, kinds=kinds, width=timeline.WIDTH, ruler_px=timeline.RULER_PX,
                    deleted=deleted[:80], deleted_name=request.query_params.get("name", "")[:300])

    def period_view(request: Request, kind: str, start_day: date, days: int, label: str, prev: str | None,
                    nxt: str | None) -> Response:
        try:
            start, end = _bounds(start_day, days)
        except RemError as e:
            return error(request, str(e), 404)
        with store.read() as con:
            rows = moments_mod.between(con, start, end, limit=100_000).to_pylist()
        topics: dict[str, float] = defaultdict(float)
        types: dict[str, float] = defaultdict(float)
        people: dict[str, float] = defaultdict(float)
        by_day: dict[date, list[dict[str, Any]]] = {}
        for m in rows:
            mins = _minutes(m)
            tags = m["tags"] or []
            for t in tags:  # a moment's time shared among its topics: the topics add up to the total
                topics[t] += mins / len(tags)
            types[m["moment_type"] or "other"] += mins
            for p in m["people"] or []:
                people[p] += mins
            by_day.setdefault(m["start_time"].astimezone().date(), []).append(m)
        from ..days import local_zone
        from . import timeline

        zone = local_zone()
        picture: dict[str, Any] = {}
        if kind == "week":
            cols = []
            for i in range(days):
                dd = start_day + timedelta(days=i)
                a, b = _bounds(dd)
                cols.append((dd, a.astimezone(zone), b.astimezone(zone),
                             [m for m in rows if m["start_time"] >= a and m["start_time"] < b]))
            picture["ruler"], picture["columns"] = timeline.week_layout(cols)
        else:
            hours: dict[date, float] = defaultdict(float)
            for m in rows:
                hours[m["start_time"].astimezone(zone).date()] += _minutes(m) / 60
            picture["cells"], rows_n = timeline.month_layout(start_day, hours)
            picture["height"] = rows_n * (timeline.CELL + 4) + 22
        return page(request, "period.html", title=f"REM — {label}", kind=kind, label=label, prev=prev, next=nxt,
                    topics=_top(topics, 15), types=_top(types, 50), people=_top(people, 15),
                    by_day=sorted(by_day.items()), total=_hm(sum(_minutes(m) for m in rows)), n=len(rows),
                    width=timeline.WIDTH, ruler_px=timeline.RULER_PX, cell=timeline.CELL, **picture)

    def week_view(request: Request) -> Response:
        try:
            d = _local_day(request.path_params["day"])
        except RemError as e:
            return error(request, str(e), 404)
        monday = _step(d, -d.weekday())
        if monday is None:
            return error(request, f"{d.isoformat()} is at the edge of the calendar: its week starts before year 1", 404)
        before, after = _step(monday, -7), _step(monday, 7)
        return period_view(request, "week", monday, 7, f"week of {monday:%d %B %Y}",
                           f"/week/{before}" if before else None, f"/week/{after}" if after else None)

    def month_view(request: Request) -> Response:
        try:
            raw = request.path_params["month"]
            if raw == "now":
                today = datetime.now().astimezone().date()
                raw = f"{today.year}-{today.month}"
            y, mo = (int(x) for x in raw.split("-", 1))
            first = date(y, mo, 1)
        except ValueError:
            return error(request, "use /month/YYYY-MM", 404)
        days = calendar.monthrange(y, mo)[1]
        before, after = _step(first, -1), _step(first, days)
        return period_view(request, "month", first, days, f"{first:%B %Y}",
                           f"/month/{before:%Y-%m}" if before else None, f"/month/{after:%Y-%m}" if after else None)

    def moment_view(request: Request, *, problem: str = "", typed: dict[str, str] | None = None,
                    status: int = 200) -> Response:
        """A moment's page; after a correction that could not be made, with ``problem`` said on the form and what
        was ``typed`` still in it."""
        from ..corrections import CorrectionError, history, resolve
        from ..days import local_zone
        from ..moments import events_of

        try:
            with store.read() as con:
                mid = resolve(con, request.path_params["id"])
                m = fetch_arrow(con, "SELECT * FROM moments WHERE id = $id", {"id": mid}).to_pylist()[0]
                sources = fetch_arrow(con, """
                    SELECT 'message' AS kind, m.id, m.created_at AS time, coalesce(m.speaker, m.role) AS who,
                           s.name AS title, m.content AS text
                    FROM messages m LEFT JOIN sessions s ON s.id = m.session_id WHERE list_contains($msgs, m.id)
                    UNION ALL
                    SELECT resource_type, id, created_at, NULL, name, left(content, 4000) FROM resources WHERE list_contains($res, id)
                    ORDER BY time LIMIT 500""", {"msgs": m.get("message_ids") or [], "res": m.get("resource_ids") or []}).to_pylist()
                links = fetch_arrow(con, """SELECT e.edge_type, n.kind, n.name, n.id FROM edges e JOIN entities n ON n.id = e.target_id
                                           WHERE e.source_id = $id ORDER BY e.edge_type, n.name""", {"id": mid}).to_pylist()
                brief = ledger.brief(con, m.get("dream_run_id") or "")
                run = [brief] if brief else []
                day_a, day_b = _bounds(m["start_time"].astimezone(local_zone()).date())
                near = fetch_arrow(con, """SELECT id, name, start_time FROM moments
                                           WHERE start_time >= $a AND start_time < $b AND id <> $id ORDER BY start_time, id""",
                                   {"a": day_a, "b": day_b, "id": mid}).to_pylist()
        except CorrectionError as e:
            return error(request, str(e), 404)
        before = [x for x in near if (x["start_time"], x["id"]) < (m["start_time"], mid)]
        after = [x for x in near if (x["start_time"], x["id"]) > (m["start_time"], mid)]
        from ..understand.describe import TYPES
        from ..understand.emotions import VOCABULARY

        return page(request, "moment.html", status=status, title=f"REM — {m['name']}", m=m, sources=sources, links=links,
                    types=TYPES, emotions=VOCABULARY, problem=problem, typed=typed or {},
                    events=events_of(m), previous=before[-1] if before else None, following=after[0] if after else None,
                    run=run[0] if run else None, edits=history(store, mid), fixed=_fixed(m))

    async def moment_edit(request: Request) -> Response:
        from .. import corrections as c

        mid = request.path_params["id"]
        try:
            f = await form(request)
            action = f.get("action", "edit")
            if action == "edit":
                # a field sent empty is cleared (as `--outcome ""` on the command line); a field not sent is left alone
                changes = {k: f[k].strip() for k in ("name", "tags", "people", "emotion_tags", "moment_type", "outcome", "summary")
                           if k in f}
                stored = _moment_fields(mid)
                changes = {k: v for k, v in changes.items() if v != stored.get(k)}
                if not changes:
                    return RedirectResponse(f"/moment/{quote(mid)}", status_code=303)
                e = c.edit(store, mid, **changes)
            elif action == "pin":
                e = c.pin(store, mid, True)
            elif action == "unpin":
                e = c.pin(store, mid, False)
            elif action == "undo":
                e = c.undo(store, mid)
            elif action == "delete":
                with store.read() as con:
                    full = c.resolve(con, mid)
                    when, name = fetch_arrow(con, "SELECT start_time, name FROM moments WHERE id = $id",
                                             {"id": full}).to_pylist()[0].values()
                if f.get("confirm") != "yes":
                    return page(request, "confirm_delete.html", title="REM — delete?", mid=full, moment_name=name, when=when)
                c.delete(store, full)
                return RedirectResponse(f"/day/{when.astimezone().date().isoformat()}?deleted={quote(full)}&name={quote(name or '')}",
                                        status_code=303)
            elif action in ("event", "drop_event"):
                try:
                    n = int(f.get("n", ""))
                except ValueError:
                    return error(request, "which event? (the form lost its number: reload the page)")
                e = (c.edit_events(store, mid, texts={n: f.get("text", "")}) if action == "event"
                     else c.edit_events(store, mid, drop=[n]))
            elif action == "merge":
                e = c.merge(store, mid, f.get("other", ""))
            elif action == "split":
                e = c.split(store, mid, f.get("at", ""))
            else:
                return error(request, f"unknown action {action!r}")
        except PermissionError as ex:
            return error(request, str(ex), 403)
        except RemError as ex:
            if action in ("edit", "split", "merge", "event"):  # said on the form, with what was typed still there
                return moment_view(request, problem=_web_words(str(ex)), typed=f, status=400)
            return error(request, _web_words(str(ex)))
        return RedirectResponse(f"/moment/{quote(e.moment_ids[0] if e.moment_ids else mid)}", status_code=303)

    def _moment_fields(mid: str) -> dict[str, str]:
        from ..corrections import resolve

        with store.read() as con:
            m = fetch_arrow(con, "SELECT * FROM moments WHERE id = $id", {"id": resolve(con, mid)}).to_pylist()[0]
        return {"name": m["name"] or "", "tags": ", ".join(m["tags"] or []), "people": ", ".join(m["people"] or []),
                "emotion_tags": ", ".join(m["emotion_tags"] or []), "moment_type": m["moment_type"] or "",
                "outcome": m["outcome"] or "", "summary": m["summary"] or ""}

    def search_view(request: Request) -> Response:
        from ..search import SearchOptions, search

        q = request.query_params.get("q", "").strip()
        results: list[dict[str, Any]] = []
        message = ""
        if q:
            try:
                results = search(store, q, SearchOptions(limit=30)).to_pylist()
            except RemError as e:
                message = str(e)
        return page(request, "search.html", title=f"REM — search {q}" if q else "REM — search", q=q, results=results,
                    message=message)

    def ask_view(request: Request) -> Response:
        from ..ask import ask

        q = request.query_params.get("q", "").strip()
        answer = None
        message = ""
        if q:
            try:  # no model and no dream from a page: a GET changes nothing and costs nothing
                answer = ask(store, q[:1000], dream_missing=False)
            except RemError as e:
                message = str(e)
        return page(request, "ask.html", title=f"REM — ask {q}" if q else "REM — ask", asked=q, answer=answer, message=message)

    def subject_view(request: Request) -> Response:
        """A topic's or a person's page: first and last seen, hours per week, its moments, what goes with it."""
        kind = "person" if request.url.path.startswith("/person/") else "topic"
        name = request.path_params["name"][:300]
        column = "people" if kind == "person" else "tags"
        with store.read() as con:
            rows = fetch_arrow(con, f"""SELECT id, name, start_time, end_time, moment_type, tags, people FROM moments
                                       WHERE list_contains(list_transform({column}, lambda x: lower(x)), lower($n))
                                       ORDER BY start_time DESC, id LIMIT 2000""", {"n": name}).to_pylist()
        if not rows:
            return error(request, f"no moment has the {kind} “{name}” (names are matched whole; try the search box)", 404)
        zone = local_zone()
        weeks: dict[date, float] = defaultdict(float)
        topics: dict[str, int] = defaultdict(int)
        people: dict[str, int] = defaultdict(int)
        for m in rows:
            d = m["start_time"].astimezone(zone).date()
            weeks[d - timedelta(days=d.weekday())] += _minutes(m) / 60
            for t in m["tags"] or []:
                if t.lower() != name.lower():
                    topics[t] += 1
            for p in m["people"] or []:
                if p.lower() != name.lower():
                    people[p] += 1
        first, last = min(weeks), max(weeks)
        span = [first + timedelta(days=7 * i) for i in range((last - first).days // 7 + 1)][-52:]
        hours = [weeks.get(w, 0.0) for w in span]
        top = max(hours) or 1.0
        w = min(60.0, 600 / len(span))
        bars = [(i * w, 40 - max(1.0, 38 * h / top), max(1.0, w - 2), max(1.0, 38 * h / top), wk, h)
                for i, (wk, h) in enumerate(zip(span, hours, strict=True))]
        return page(request, "subject.html", title=f"REM — {name}", kind=kind, subject=name, rows=rows,
                    first_seen=rows[-1]["start_time"], last_seen=rows[0]["start_time"], total=_hm(sum(_minutes(m) for m in rows)),
                    bars=bars, weeks=len(span), peak=top, topics=_top({k: float(v) for k, v in topics.items()}, 12),
                    people=_top({k: float(v) for k, v in people.items()}, 12))

    def review_view(request: Request) -> Response:
        from ..review import pending

        return page(request, "review.html", title="REM — review", rows=pending(store, limit=500),
                    done=request.query_params.get("done", "")[:200])

    async def review_post(request: Request) -> Response:
        from ..review import accept, reject

        try:
            f = await form(request)
            action, every = f.get("action", ""), f.get("all") == "yes"
            refs = [f["id"]] if f.get("id") else []
            if action not in ("accept", "reject"):
                return error(request, f"unknown action {action!r}: accept or reject")
            r = (accept if action == "accept" else reject)(store, refs, every=every)
        except PermissionError as ex:
            return error(request, str(ex), 403)
        except RemError as ex:
            return error(request, str(ex))
        return RedirectResponse(f"/review?done={quote(r.line())}", status_code=303)

    def graph_view(request: Request) -> Response:
        from .. import graph as g

        node = request.query_params.get("node", "").strip()
        lg = st.loaded_graph()
        hot = st.ranked("hot", 12)
        entangled = st.ranked("entanglement", 12)
        near: list[dict[str, Any]] = []
        message = ""
        if node:
            try:
                near = g.traverse_loaded(store, lg, lg.directory(store).resolve(node), depth=1, edge_types=None,
                                         direction="both", min_weight=0.0).to_pylist()
            except RemError as e:
                message = str(e)
        return page(request, "graph.html", title="REM — graph", node=node, near=near, hot=hot, entangled=entangled,
                    message=message, has_dot=_has_dot())

    def api_traverse(request: Request) -> Response:
        """JSON: the nodes reached from ``node`` (an entity name or an id) within ``depth`` hops, from the warm graph."""
        from starlette.responses import JSONResponse

        from .. import graph as g

        node = request.query_params.get("node", "").strip()
        try:
            depth = max(1, min(int(request.query_params.get("depth", "2")), 4))
            lg = st.loaded_graph()
            rows = g.traverse_loaded_rows(store, lg, lg.directory(store).resolve(node), depth=depth, edge_types=None,
                                          direction="both", min_weight=0.0)
        except (RemError, ValueError) as e:
            return JSONResponse({"error": str(e)}, status_code=404)
        return JSONResponse(rows[:1000])

    def graph_svg(request: Request) -> Response:
        node = request.query_params.get("node", "").strip()
        try:
            dot = _neighbourhood_dot(st, node)
        except RemError as e:
            return PlainTextResponse(str(e), status_code=404)
        if not _has_dot():
            return PlainTextResponse("Graphviz (dot) is not installed: apt-get install graphviz", status_code=501)
        svg = subprocess.run(["dot", "-Tsvg"], input=dot.encode("utf-8"), capture_output=True, timeout=30)
        if svg.returncode != 0:
            return PlainTextResponse("Graphviz could not draw this graph", status_code=500)
        return Response(svg.stdout, media_type="image/svg+xml",
                        headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})

    def runs_view(request: Request) -> Response:
        from ..ops.doctor import run_checks

        with store.read() as con:
            runs = ledger.recent(con, 50, full_id=True).to_pylist()
        checks = [{"level": lv, "name": n, "message": m} for lv, n, m in run_checks(store)]
        return page(request, "runs.html", title="REM — runs", runs=runs, checks=checks)

    def run_view(request: Request) -> Response:
        from markdown_it import MarkdownIt

        from ..report import run_digest

        rid = request.path_params["id"]
        try:
            with store.read() as con:

                full = ledger.find(con, rid)
            digest = run_digest(store, full)
        except RemError as e:
            return error(request, str(e), 404)
        html = MarkdownIt("commonmark", {"html": False}).render(digest)  # raw HTML off: activity text stays text
        return page(request, "run.html", title=f"REM — run {full[:8]}", run_id=full, digest_html=html)

    async def run_revert(request: Request) -> Response:
        from ..dream.revert import revert

        rid = request.path_params["id"]
        try:
            f = await form(request)
            if f.get("confirm") != "yes":
                plan = revert(store, rid, dry_run=True)
                return page(request, "confirm.html", title="REM — revert?", run_id=rid, plan=plan)
            revert(store, rid)
        except PermissionError as ex:
            return error(request, str(ex), 403)
        except RemError as ex:
            return error(request, str(ex))
        return RedirectResponse("/runs", status_code=303)

    def favicon(request: Request) -> Response:
        return Response((HERE / "static" / "rem.svg").read_bytes(), media_type="image/svg+xml")

    routes = [
        Route("/", home), Route("/favicon.ico", favicon), Route("/day/{day}", day_view), Route("/week/{day}", week_view),
        Route("/month/{month}", month_view), Route("/moment/{id}", moment_view),
        Route("/moment/{id}/edit", moment_edit, methods=["POST"]), Route("/search", search_view), Route("/ask", ask_view),
        Route("/review", review_view), Route("/review", review_post, methods=["POST"]),
        Route("/topic/{name:path}", subject_view), Route("/person/{name:path}", subject_view),
        Route("/graph", graph_view), Route("/graph.svg", graph_svg), Route("/api/traverse", api_traverse), Route("/runs", runs_view),
        Route("/runs/{id}", run_view), Route("/runs/{id}/revert", run_revert, methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    lifespan = None
    if mcp:
        try:
            from ..hosts import mcp_security
            from ..mcp_tools import build

            mcp_server = build(store, loaded_graph=st.loaded_graph)
            mcp_app = mcp_server.streamable_http_app(streamable_http_path="/", host=host,
                                                     transport_security=mcp_security(host, allowed_hosts))
            routes.append(Mount("/mcp", app=mcp_app))
            lifespan = _lifespan_of(mcp_app)
        except ImportError:
            pass
    from ..exceptions import DatabaseBusyError

    async def busy(request: Request, exc: Exception) -> Response:
        """Another process is writing the database (a dream, an import): say so, and when to try again."""
        r = page(request, "error.html", status=503, title="REM — busy",
                 message="The database is busy: a dream or an import is writing it right now. Reload this page in a "
                         "few seconds; nothing you did was lost.")
        r.headers["Retry-After"] = "5"
        return r

    app = Starlette(routes=routes, middleware=[Middleware(_Guard, state=st)], lifespan=lifespan,
                    exception_handlers={DatabaseBusyError: busy})
    app.state.rem = st
    return app


def _session(request: Any) -> str:
    """The browser session of a request: its cookie, or the one the guard gives it with this response."""
    return str(request.scope.get("state", {}).get(SESSION_COOKIE) or "")


def _lifespan_of(inner: Any) -> Any:
    import contextlib

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> Any:
        async with inner.router.lifespan_context(inner):
            yield

    return lifespan


class _Guard:
    """Every request: a Host this server answers (else 421, see :mod:`rem.hosts`), the access token when
    the server is not on loopback, a session cookie for the CSRF tokens; security headers on every response."""

    def __init__(self, app: Any, state: State) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from ..hosts import host_ok

        headers = dict(scope.get("headers") or [])
        if not host_ok(headers.get(b"host", b"").decode("latin-1"), self.state.allowed):
            await send({"type": "http.response.start", "status": 421, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"REM: this server does not answer that host name "
                        b"(421 Misdirected Request). Open it as 127.0.0.1 or localhost, or start it with --allowed-host NAME."})
            return
        token = self.state.token
        set_cookies: list[bytes] = []
        if token:
            from urllib.parse import parse_qs

            given = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [""])[0]
            bearer = headers.get(b"authorization", b"").decode("latin-1").removeprefix("Bearer ")
            from urllib.parse import unquote

            cookie = unquote(_cookie(scope, "rem_token"))
            if not any(_same(x, token) for x in (given, bearer, cookie) if x):
                await send({"type": "http.response.start", "status": 401, "headers": [(b"content-type", b"text/plain")]})
                await send({"type": "http.response.body", "body": b"REM: open this server's address with ?token=... once"})
                return
            if given:
                set_cookies.append(f"rem_token={quote(token, safe='')}; HttpOnly; SameSite=Strict; Path=/".encode())
        session = _cookie(scope, SESSION_COOKIE)
        if not (len(session) == 43 and session.replace("-", "").replace("_", "").isalnum()):
            session = secrets.token_urlsafe(32)
            set_cookies.append(f"{SESSION_COOKIE}={session}; HttpOnly; SameSite=Strict; Path=/".encode())
        scope.setdefault("state", {})[SESSION_COOKIE] = session

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                hs = list(message.get("headers") or [])
                names = {k.lower() for k, _ in hs}
                for k, v in ((b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
                             (b"referrer-policy", b"no-referrer"),
                             (b"content-security-policy", b"default-src 'self'; img-src 'self'; style-src 'self'; "
                                                          b"script-src 'none'; form-action 'self'; frame-ancestors 'none'")):
                    if k not in names:
                        hs.append((k, v))
                hs += [(b"set-cookie", c) for c in set_cookies]
                message = {**message, "headers": hs}
            await send(message)

        await self.app(scope, receive, send_with_headers)


_WEB_WORDS = ((" (see rem moments --json)", ""), (" (see rem moments for ids)", " (each moment's page shows its id)"),
              ("--at ", "the split time "), ("--at:", "the split time:"), ("--name", "the name"), ("--tags", "the topics"),
              ("--people", "the people"), ("--start", "the start"), ("--end", "the end"),
              ("rem moments undo", "Undo"), ("rem moments", "the moment's page"))


def _web_words(message: str) -> str:
    """An error written for the command line, in the web view's words (no flags, no commands)."""
    for a, b in _WEB_WORDS:
        message = message.replace(a, b)
    return message


def _top(counts: dict[str, float], n: int) -> list[tuple[str, float]]:
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def _fixed(m: dict[str, Any]) -> bool:
    import json

    md = m.get("metadata")
    md = json.loads(md) if isinstance(md, str) else (md or {})
    return bool(md.get("fixed"))


def _has_dot() -> bool:
    import shutil

    return shutil.which("dot") is not None


def _neighbourhood_dot(st: State, node: str) -> str:
    """DOT of a node and its neighbours (at most 60), through the Rust writer (labels escaped there)."""
    import pyarrow as pa

    from .. import _rem
    from .. import graph as g
    from ..store import one_batch

    lg = st.loaded_graph()
    if not node:
        raise RemError("no node given")
    starts = lg.directory(st.store).resolve(node)
    near = g.traverse_loaded(st.store, lg, starts, depth=1, edge_types=None, direction="both",
                             min_weight=0.0).to_pylist()
    near = sorted(near, key=lambda r: (r["depth"], -(r["weight"] or 0)))[:30]  # the node and its 29 strongest links
    ids = {r["id"] for r in near}
    with st.store.read() as con:  # only the links of the node itself: a star is readable, a hairball is not
        edges = fetch_arrow(con, """SELECT source_id, target_id, edge_type, rem_decay(weight, reinforced_at, edge_type) AS weight
                                   FROM edges WHERE (list_contains($s, source_id) AND list_contains($ids, target_id))
                                                 OR (list_contains($s, target_id) AND list_contains($ids, source_id))""",
                            {"ids": sorted(ids), "s": starts})
    nodes = pa.table({"id": pa.array([r["id"] for r in near], pa.string()),
                      "label": pa.array([r["label"][:60] for r in near], pa.string()),
                      "kind": pa.array([r["kind"] for r in near], pa.string()),
                      "score": pa.array([1.0 / (1 + r["depth"]) for r in near], pa.float64())})
    return str(_rem.to_dot(one_batch(nodes), one_batch(edges), top_n=None, name="neighbourhood"))


def serve(store: Store, host: str, port: int, token: str | None, open_browser: bool,
          allowed_hosts: tuple[str, ...] = ()) -> None:
    import uvicorn

    store.init()
    url = f"http://{host}:{port}/" + (f"?token={token}" if token else "")
    if open_browser:
        import webbrowser

        threading.Timer(1.0, lambda: webbrowser.open(url)).start()
    uvicorn.run(create_app(store, token=token, host=host, allowed_hosts=allowed_hosts), host=host, port=port,
                log_level="warning")


__all__ = ["create_app", "serve"]
