"""A moment's page — its fields, events, sources, links, run and edit history — and the forms that correct
it (the same edits as ``rem moments edit|merge|split|delete|pin|undo``, which later dreams respect)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ... import corrections, ledger, moments, schema
from ...days import local_zone
from ...exceptions import RemError
from ...understand.describe import TYPES
from ...understand.emotions import VOCABULARY
from ..web import Web, bounds, fixed, form_value, web_words


def view(web: Web, request: Request, *, problem: str = "", typed: dict[str, str] | None = None,
         status: int = 200) -> Response:
    """A moment's page; after a correction that could not be made, with ``problem`` said on the form and what
    was ``typed`` still in it."""
    try:
        with web.store.read() as con:
            mid = corrections.resolve(con, request.path_params["id"])
            m = moments.one(con, mid) or {}
            sources = moments.sources(con, m)
            links = moments.links(con, mid)
            run = ledger.brief(con, m.get("dream_run_id") or "")
            previous, following = moments.neighbours(con, m, *bounds(m["start_time"].astimezone(local_zone()).date()))
    except corrections.CorrectionError as e:
        return web.error(request, str(e), 404)
    typed = typed or {}
    form = [{"name": f.name, "label": f["label"], "input": f.get("input", "input"), "suggest": f.get("suggest"),
             "required": f["edit"] == "name", "value": typed.get(f.name, form_value(m, f.name))}
            for f in schema.fields("moments", "form")]
    return web.page(request, "moment.html", status=status, title=f"REM — {m['name']}", m=m, sources=sources, links=links,
                    types=TYPES, emotions=VOCABULARY, problem=problem, typed=typed, form=form,
                    events=moments.events_of(m), previous=previous, following=following, run=run,
                    edits=corrections.history(web.store, mid), fixed=fixed(m))


def _stored_fields(web: Web, ref: str) -> dict[str, str]:
    with web.store.read() as con:
        m = moments.one(con, corrections.resolve(con, ref)) or {}
    return {k: form_value(m, k) for k in schema.field_names("moments", "form")}


async def edit(web: Web, request: Request) -> Response:
    c = corrections
    mid = request.path_params["id"]
    f: dict[str, str] = {}
    action = "edit"
    try:
        f = await web.form(request)
        action = f.get("action", "edit")
        if action == "edit":
            # a field sent empty is cleared (as `--outcome ""` on the command line); a field not sent is left alone
            changes = {k: f[k].strip() for k in schema.field_names("moments", "form") if k in f}
            stored = _stored_fields(web, mid)
            changes = {k: v for k, v in changes.items() if v != stored.get(k)}
            if not changes:
                return RedirectResponse(f"/moment/{quote(mid)}", status_code=303)
            e = c.edit(web.store, mid, **changes)
        elif action in ("pin", "unpin"):
            e = c.pin(web.store, mid, action == "pin")
        elif action == "undo":
            e = c.undo(web.store, mid)
        elif action == "delete":
            return _delete(web, request, mid, f)
        elif action in ("event", "drop_event"):
            try:
                n = int(f.get("n", ""))
            except ValueError:
                return web.error(request, "which event? (the form lost its number: reload the page)")
            e = (c.edit_events(web.store, mid, texts={n: f.get("text", "")}) if action == "event"
                 else c.edit_events(web.store, mid, drop=[n]))
        elif action == "merge":
            e = c.merge(web.store, mid, f.get("other", ""))
        elif action == "split":
            e = c.split(web.store, mid, f.get("at", ""))
        else:
            return web.error(request, f"unknown action {action!r}")
    except PermissionError as ex:
        return web.error(request, str(ex), 403)
    except RemError as ex:
        if action in ("edit", "split", "merge", "event"):  # said on the form, with what was typed still there
            return view(web, request, problem=web_words(str(ex)), typed=f, status=400)
        return web.error(request, web_words(str(ex)))
    return RedirectResponse(f"/moment/{quote(e.moment_ids[0] if e.moment_ids else mid)}", status_code=303)


def _delete(web: Web, request: Request, ref: str, f: dict[str, Any]) -> Response:
    """Delete after a confirmation page; the day it was on then says so, with Undo."""
    with web.store.read() as con:
        full = corrections.resolve(con, ref)
        m = moments.one(con, full) or {}
    when, name = m["start_time"], m.get("name")
    if f.get("confirm") != "yes":
        return web.page(request, "confirm_delete.html", title="REM — delete?", mid=full, moment_name=name, when=when)
    corrections.delete(web.store, full)
    return RedirectResponse(f"/day/{when.astimezone().date().isoformat()}?deleted={quote(full)}&name={quote(name or '')}",
                            status_code=303)
