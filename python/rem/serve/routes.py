"""The one routes table of `rem serve`: path, page, methods."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .pages import days, find, graph, moment, review, runs
from .web import HERE, Web


def favicon(web: Web, request: Any) -> Any:
    from starlette.responses import Response

    return Response((HERE / "static" / "rem.svg").read_bytes(), media_type="image/svg+xml")


ROUTES: list[tuple[str, Callable[..., Any], tuple[str, ...]]] = [
    ("/", days.home, ("GET",)),
    ("/favicon.ico", favicon, ("GET",)),
    ("/day/{day}", days.day, ("GET",)),
    ("/week/{day}", days.week, ("GET",)),
    ("/month/{month}", days.month, ("GET",)),
    ("/moment/{id}", moment.view, ("GET",)),
    ("/moment/{id}/edit", moment.edit, ("POST",)),
    ("/search", find.search, ("GET",)),
    ("/ask", find.ask, ("GET",)),
    ("/topic/{name:path}", find.subject, ("GET",)),
    ("/person/{name:path}", find.subject, ("GET",)),
    ("/review", review.view, ("GET",)),
    ("/review", review.decide, ("POST",)),
    ("/graph", graph.view, ("GET",)),
    ("/graph.svg", graph.svg, ("GET",)),
    ("/api/traverse", graph.traverse, ("GET",)),
    ("/runs", runs.listing, ("GET",)),
    ("/runs/{id}", runs.one, ("GET",)),
    ("/runs/{id}/revert", runs.revert, ("POST",)),
]


def routes(web: Web) -> list[Any]:
    """Starlette routes for :data:`ROUTES`, each page handed ``web``; the static files."""
    from functools import partial

    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    out: list[Any] = [Route(path, partial(view, web), methods=list(methods)) for path, view, methods in ROUTES]
    out.append(Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"))
    return out
