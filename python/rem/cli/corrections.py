"""One moment in full, and correcting moments: rem moments show|edit|merge|split|delete|pin|unpin|undo|history.

Each edit is kept (with what it replaced) and can be undone; a corrected or
pinned moment is fixed ground for every later dream (see rem.corrections).
"""

from __future__ import annotations

import click

from ..output import echo_table, output_options
from .common import Ctx, pass_ctx
from .dreaming import moments


def _done(e) -> None:  # type: ignore[no-untyped-def]
    from ..search import index as search_index

    click.echo(f"{e.kind} {e.id[:8]}: {e.summary}" + (f" (moment {', '.join(m[:8] for m in e.moment_ids)})" if e.moment_ids else ""))
    search_index._synced.clear()  # the next search re-reads what changed


# one option per editable moment field, as the schema declares it (its ``edit`` and ``option`` roles)
_EDIT_HELP = {"name": "A new name.", "list": "Its {label}, comma-separated (replaces them).",
              "lower_list": "Its {label}, comma-separated (replaces them).",
              "type": "Its type (deep_work, debugging, meeting, learning, writing, planning, …).",
              "text": "A new {label}.", "time": "A new {which} (date and time)."}


def _edit_options(f):  # type: ignore[no-untyped-def]
    from .. import schema

    for fld in reversed(schema.fields("moments", "edit")):
        opt = fld.get("option")
        if not opt:
            continue
        label = str(fld.get("label") or fld.name).lower()
        help_text = _EDIT_HELP.get(fld["edit"], "A new {label}.").format(label=label, which=opt.lstrip("-"))
        f = click.option(opt, fld.name, default=None, help=help_text)(f)
    return f


@moments.command("edit")
@click.argument("moment")
@_edit_options
@click.option("--event", "event_texts", type=(int, str), multiple=True, metavar="N TEXT",
              help="Give event N (1 = the first, as `rem moments` lists them) a new text; repeatable.")
@click.option("--drop-event", "drop_events", type=int, multiple=True, metavar="N",
              help="Delete event N; repeatable.")
@pass_ctx
def edit_cmd(c: Ctx, moment: str, event_texts: tuple[tuple[int, str], ...], drop_events: tuple[int, ...],
             **fields: str | None) -> None:
    """Correct a moment (MOMENT: its id or first characters). Later dreams keep it as you left it.

    \b
    rem moments edit 1a2b3c4d --name "Moving day" --people "Tomás, Lucía"
    rem moments edit 1a2b3c4d --event 2 "Nadia went climbing for the first time since her surgery" --drop-event 4
    """
    from ..corrections import edit, edit_events

    if event_texts or drop_events:
        _done(edit_events(c.store, moment, texts=dict(event_texts), drop=list(drop_events)))
        if not any(v is not None for v in fields.values()):
            return
    _done(edit(c.store, moment, **fields))


@moments.command("merge")
@click.argument("first")
@click.argument("second")
@pass_ctx
def merge_cmd(c: Ctx, first: str, second: str) -> None:
    """Merge SECOND into FIRST: one moment spanning both, with both's sources, topics and people."""
    from ..corrections import merge

    _done(merge(c.store, first, second))


@moments.command("split")
@click.argument("moment")
@click.option("--at", "at", required=True, help="The time to split at (inside the moment).")
@pass_ctx
def split_cmd(c: Ctx, moment: str, at: str) -> None:
    """Split a moment in two at a time: what came before stays, the rest becomes a new moment."""
    from ..corrections import split

    _done(split(c.store, moment, at))


@moments.command("delete")
@click.argument("moment")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
def delete_cmd(c: Ctx, moment: str, yes: bool) -> None:
    """Delete a moment; later dreams do not make it again (undo brings it back)."""
    from ..corrections import delete

    if not yes:
        click.confirm(f"Delete moment {moment}?", abort=True)
    _done(delete(c.store, moment))


@moments.command("pin")
@click.argument("moment")
@pass_ctx
def pin_cmd(c: Ctx, moment: str) -> None:
    """Keep a moment exactly as it is: later dreams leave it alone."""
    from ..corrections import pin

    _done(pin(c.store, moment, True))


@moments.command("unpin")
@click.argument("moment")
@pass_ctx
def unpin_cmd(c: Ctx, moment: str) -> None:
    """Lift a pin (a moment you also corrected stays as you corrected it)."""
    from ..corrections import pin

    _done(pin(c.store, moment, False))


@moments.command("undo")
@click.argument("ref")
@pass_ctx
def undo_cmd(c: Ctx, ref: str) -> None:
    """Take back the latest edit of a moment (REF: the moment, or the edit's id)."""
    from ..corrections import undo

    _done(undo(c.store, ref))


@moments.command("show")
@click.argument("moment")
@click.option("--json", "as_json", is_flag=True, help="One JSON object: its fields, sources, links, run and edits.")
@pass_ctx
def show_cmd(c: Ctx, moment: str, as_json: bool) -> None:
    """One moment in full (MOMENT: its id or first characters): its fields and events, the messages, notes,
    commits and documents it was made from, the topics and people it links to, the run that made it and
    your edits — what the web view's moment page and MCP's `moment` tool show.

    \b
    rem moments show 1a2b3c4d
    """
    from .. import ledger
    from .. import moments as mo
    from ..corrections import history, resolve
    from ..output import echo_json, safe

    with c.store.read() as con:
        mid = resolve(con, moment)
        m = mo.one(con, mid) or {}
        sources = mo.sources(con, m, max_text=400, limit=200)
        links = mo.links(con, mid)
        run = ledger.brief(con, m.get("dream_run_id") or "")
    edits = history(c.store, mid)
    if as_json:
        out = {k: m.get(k) for k in mo.COLUMNS if k != "metadata"}
        out.update(id=mid, events=mo.events_of(m), sources=sources, links=links, run=run, edits=edits)
        echo_json(out)
        return
    for line in mo.as_text(m, with_day=True):
        click.echo(line)
    click.echo(f"- Id: {mid}")
    if run:
        click.echo(f"- Made by: run {run['id'][:8]} ({safe(str(run['model'] or 'no model'))}, {run['started_at']:%Y-%m-%d %H:%M})")
    by_kind: dict[str, list[str]] = {}
    for x in links:
        by_kind.setdefault(x["kind"], []).append(safe(x["name"]))
    for kind, names in sorted(by_kind.items()):
        click.echo(f"- Linked {kind}s: {', '.join(names)}")
    click.echo(f"- Sources ({len(sources)}):")
    for s in sources:
        who = f" {safe(s['who'])}:" if s.get("who") else ""
        title = f" [{safe(s['title'])}]" if s.get("title") and s["kind"] != "message" else ""
        click.echo(f"    {s['time'].astimezone():%H:%M} {s['kind']}{title}{who} {safe(mo.one_line(s['text'])[:200])}")
    for e in edits:
        click.echo(f"- Edit {e['kind']} {e['made_at'].astimezone():%Y-%m-%d %H:%M}: {safe(e['summary'] or '')}"
                   + (" (undone)" if e.get("undone_at") else ""))


@moments.command("history")
@click.argument("moment")
@output_options
@pass_ctx
def history_cmd(c: Ctx, moment: str, fmt: str | None) -> None:
    """The edits of a moment, oldest first (also of one merged or deleted away)."""
    import pyarrow as pa

    from ..corrections import history

    rows = history(c.store, moment)
    echo_table(pa.Table.from_pylist(rows) if rows else pa.table({"id": [], "kind": [], "made_at": [], "summary": [], "undone_at": []}), fmt)


COMMANDS = ()
