"""The inbox: the moments a dream run with review left waiting, to accept or reject."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ... import review as inbox
from ...exceptions import RemError
from ..web import Web


def view(web: Web, request: Request) -> Response:
    return web.page(request, "review.html", title="REM — review", rows=inbox.pending(web.store, limit=500),
                    done=request.query_params.get("done", "")[:200])


async def decide(web: Web, request: Request) -> Response:
    try:
        f = await web.form(request)
        action, every = f.get("action", ""), f.get("all") == "yes"
        refs = [f["id"]] if f.get("id") else []
        if action not in ("accept", "reject"):
            return web.error(request, f"unknown action {action!r}: accept or reject")
        r = (inbox.accept if action == "accept" else inbox.reject)(web.store, refs, every=every)
    except PermissionError as ex:
        return web.error(request, str(ex), 403)
    except RemError as ex:
        return web.error(request, str(ex))
    return RedirectResponse(f"/review?done={quote(r.line())}", status_code=303)
