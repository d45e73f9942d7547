"""The dream runs with `rem doctor`'s checks, a run's digest, and revert after a confirmation page."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ... import ledger
from ...exceptions import RemError
from ..web import Web


def listing(web: Web, request: Request) -> Response:
    from ...ops.doctor import run_checks

    with web.store.read() as con:
        runs = ledger.recent(con, 50, full_id=True).to_pylist()
    checks = [{"level": lv, "name": n, "message": m} for lv, n, m in run_checks(web.store)]
    return web.page(request, "runs.html", title="REM — runs", runs=runs, checks=checks)


def one(web: Web, request: Request) -> Response:
    from markdown_it import MarkdownIt

    from ...report import run_digest

    rid = request.path_params["id"]
    try:
        with web.store.read() as con:
            full = ledger.find(con, rid)
        digest = run_digest(web.store, full)
    except RemError as e:
        return web.error(request, str(e), 404)
    html = MarkdownIt("commonmark", {"html": False}).render(digest)  # raw HTML off: activity text stays text
    return web.page(request, "run.html", title=f"REM — run {full[:8]}", run_id=full, digest_html=html)


async def revert(web: Web, request: Request) -> Response:
    from ...dream.revert import revert as run_revert

    rid = request.path_params["id"]
    try:
        f = await web.form(request)
        if f.get("confirm") != "yes":
            plan = run_revert(web.store, rid, dry_run=True)
            return web.page(request, "confirm.html", title="REM — revert?", run_id=rid, plan=plan)
        run_revert(web.store, rid)
    except PermissionError as ex:
        return web.error(request, str(ex), 403)
    except RemError as ex:
        return web.error(request, str(ex))
    return RedirectResponse("/runs", status_code=303)
