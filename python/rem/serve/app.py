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

import secrets
import threading
from typing import Any
from urllib.parse import quote

from ..store import Store
from .web import SESSION_COOKIE, State, Web, cookie, same

__all__ = ["Guard", "State", "create_app", "serve"]


def create_app(store: Store, *, token: str | None = None, mcp: bool = True, host: str = "127.0.0.1",
               allowed_hosts: tuple[str, ...] | list[str] = ()) -> Any:
    """The ASGI app (Starlette) for a server bound to ``host``; ``allowed_hosts``: more names it answers.
    The pages are in :mod:`.pages`, mapped by :mod:`.routes`; the MCP server is mounted at ``/mcp``."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Mount

    from ..exceptions import DatabaseBusyError
    from ..hosts import allowed_hosts as hosts_for
    from .routes import routes as routes_of

    st = State(store, secrets.token_bytes(32), token, hosts_for(host, allowed_hosts))
    web = Web(st)
    routes = routes_of(web)
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

    async def busy(request: Request, exc: Exception) -> Response:
        """Another process is writing the database (a dream, an import): say so, and when to try again."""
        r = web.page(request, "error.html", status=503, title="REM — busy",
                     message="The database is busy: a dream or an import is writing it right now. Reload this page in a "
                             "few seconds; nothing you did was lost.")
        r.headers["Retry-After"] = "5"
        return r

    app = Starlette(routes=routes, middleware=[Middleware(Guard, state=st)], lifespan=lifespan,
                    exception_handlers={DatabaseBusyError: busy})
    app.state.rem = st
    return app


def _lifespan_of(inner: Any) -> Any:
    import contextlib

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> Any:
        async with inner.router.lifespan_context(inner):
            yield

    return lifespan


class Guard:
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

            kept = unquote(cookie(scope, "rem_token"))
            if not any(same(x, token) for x in (given, bearer, kept) if x):
                await send({"type": "http.response.start", "status": 401, "headers": [(b"content-type", b"text/plain")]})
                await send({"type": "http.response.body", "body": b"REM: open this server's address with ?token=... once"})
                return
            if given:
                set_cookies.append(f"rem_token={quote(token, safe='')}; HttpOnly; SameSite=Strict; Path=/".encode())
        session = cookie(scope, SESSION_COOKIE)
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
