"""What every page of `rem serve` shares: the server's state (the store, the secret the CSRF tokens are
bound to, the warm graph), the templates, and the request helpers — render a page, say an error, read a
posted form (CSRF checked), read a day from the path — and the small formatting rules the pages agree on."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..days import day_window, parse_day
from ..exceptions import RemError
from ..store import Store, file_signature

HERE = Path(__file__).parent
SESSION_COOKIE = "rem_session"
GAP_MINUTES = 30  # an idle gap at least this long is shown between cards


def same(a: str, b: str) -> bool:
    """Constant-time equality of two strings of any characters (``hmac.compare_digest`` refuses non-ASCII str)."""
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))


def cookie(scope: Mapping[str, Any], name: str) -> str:
    raw = dict(scope.get("headers") or []).get(b"cookie", b"").decode("latin-1")
    for part in raw.split(";"):
        k, _, v = part.strip().partition("=")
        if k == name:
            return v
    return ""


def session_of(request: Any) -> str:
    """The browser session of a request: its cookie, or the one the guard gives it with this response."""
    return str(request.scope.get("state", {}).get(SESSION_COOKIE) or "")


@dataclass
class State:
    store: Store
    secret: bytes
    token: str | None
    allowed: list[str] | None = None  # Host names answered (None: any), see rem.hosts
    graph: Any = None
    graph_sig: tuple[int, ...] = ()
    lock: threading.Lock = field(default_factory=threading.Lock)
    ranks: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)
    maps: dict[str, str] = field(default_factory=dict)  # the DOT of the map, per loaded graph

    def csrf(self, session: str) -> str:
        """The form token of a browser session (its cookie), bound to this server's secret."""
        return hmac.new(self.secret, b"csrf\x1f" + session.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()

    def ranked(self, key: str, n: int) -> list[dict[str, Any]]:
        """The top ``n`` nodes by ``key`` (hot, entanglement), computed once per loaded graph."""
        from .. import graph as g

        lg = self.loaded_graph()
        if (key, n) not in self.ranks:
            self.ranks[(key, n)] = g.ranked(self.store, lg, key, n).to_pylist()
        return self.ranks[(key, n)]

    def graph_map(self) -> str:
        """The DOT of the map of topics and people, made once per loaded graph."""
        from .. import graph as g

        lg = self.loaded_graph()
        if "map" not in self.maps:
            self.maps["map"] = g.map_dot(self.store, lg)
        return self.maps["map"]

    def loaded_graph(self) -> Any:
        """The graph, kept in memory; reloaded after anything was committed."""
        from .. import graph as g

        sig = file_signature(self.store.path)
        with self.lock:
            if self.graph is None or sig != self.graph_sig:
                self.graph = g.load(self.store)
                self.graph_sig = sig
                self.ranks = {}
                self.maps = {}
            return self.graph


class Web:
    """The request helpers every page uses."""

    def __init__(self, st: State) -> None:
        from jinja2 import Environment, FileSystemLoader, select_autoescape

        self.st = st
        self.store = st.store
        env = Environment(loader=FileSystemLoader(str(HERE / "templates")), autoescape=select_autoescape(["html"]))
        env.filters["hm"] = lambda t: t.astimezone().strftime("%H:%M") if t else ""
        env.filters["when"] = lambda t: t.astimezone().strftime("%a %d %b %Y %H:%M") if t else ""
        env.filters["dur"] = hm
        env.filters["q"] = lambda s: quote(str(s), safe="")
        self.env = env

    def page(self, request: Any, template: str, status: int = 200, **ctx: Any) -> Any:
        """``template`` rendered (autoescaped), with the form token of the request's browser session."""
        from starlette.responses import HTMLResponse

        ctx.setdefault("title", "REM")
        html = self.env.get_template(template).render(csrf=self.st.csrf(session_of(request)), path=request.url.path, **ctx)
        return HTMLResponse(html, status_code=status)

    def error(self, request: Any, message: str, status: int = 400) -> Any:
        return self.page(request, "error.html", status=status, message=message, title="REM — error")

    async def form(self, request: Any) -> dict[str, str]:
        """A posted form's fields; PermissionError when its CSRF token is not this browser session's."""
        data = await request.form()
        values = {k: str(v) for k, v in data.items() if isinstance(v, str)}
        session = cookie(request.scope, SESSION_COOKIE)
        if not session or not same(values.get("csrf", ""), self.st.csrf(session)):
            raise PermissionError("the form is stale or did not come from this page (CSRF check): reload and try again")
        return values


def local_day(value: str | None) -> date:
    try:
        return parse_day(value or "today")
    except (ValueError, OverflowError):
        raise RemError(f"{value!r} is not a day (use YYYY-MM-DD)") from None


def bounds(d: date, days: int = 1) -> tuple[datetime, datetime]:
    """A span of local days (rem.days: midnight to midnight in the zone, DST included)."""
    try:
        return day_window(d, days)
    except (ValueError, OverflowError):
        raise RemError(f"{d.isoformat()} is at the edge of the calendar: REM has no days after 9999-12-31") from None


def step(d: date, days: int) -> date | None:
    """``d`` moved by ``days``, or None past the calendar's edge (no link there)."""
    try:
        return d + timedelta(days=days)
    except OverflowError:
        return None


def minutes(m: dict[str, Any]) -> float:
    return max(0.0, (m["end_time"] - m["start_time"]).total_seconds() / 60)


def hm(mins: float) -> str:
    h, m = divmod(int(round(mins)), 60)
    return f"{h} h {m:02d} min" if h else f"{m} min"


def top(counts: dict[str, float], n: int) -> list[tuple[str, float]]:
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def form_value(m: dict[str, Any], name: str) -> str:
    """A moment field as its box on the edit form shows it (a list comma-separated)."""
    v = m.get(name)
    return ", ".join(v) if isinstance(v, list | tuple) else str(v or "")


def fixed(m: dict[str, Any]) -> bool:
    md = m.get("metadata")
    md = json.loads(md) if isinstance(md, str) else (md or {})
    return bool(md.get("fixed"))


_WEB_WORDS = ((" (see rem moments --json)", ""), (" (see rem moments for ids)", " (each moment's page shows its id)"),
              ("--at ", "the split time "), ("--at:", "the split time:"), ("--name", "the name"), ("--tags", "the topics"),
              ("--people", "the people"), ("--start", "the start"), ("--end", "the end"),
              ("rem moments undo", "Undo"), ("rem moments", "the moment's page"))


def web_words(message: str) -> str:
    """An error written for the command line, in the web view's words (no flags, no commands)."""
    for a, b in _WEB_WORDS:
        message = message.replace(a, b)
    return message
