"""Finding things again: rem search."""

from __future__ import annotations

import click

from ..output import default_format, echo_table, output_options
from .common import UTF8, Ctx, Finite, json_option, llm_options, pass_ctx

_SCHEMAS = {"moments": "moment", "moment": "moment", "events": "event", "event": "event", "resources": "resource", "resource": "resource",
            "messages": "message", "message": "message", "sessions": "session", "session": "session"}


@click.command("search")
@click.argument("query", type=UTF8)
@click.option("--schema", "schemas", multiple=True,
              type=click.Choice(["moments", "events", "resources", "messages", "sessions", "all"], case_sensitive=False),
              help="What to search (repeatable; default all).")
@click.option("--since", help="Only items at or after this date/time.")
@click.option("--until", help="Only items before this date/time.")
@click.option("--tag", "tags", multiple=True, help="Only moments with this tag, and what they hold (repeatable).")
@click.option("--person", "people", multiple=True, help="Only moments with this person, and what they hold (repeatable).")
@click.option("--type", "types", multiple=True, help="Only moments of this type, and what they hold (repeatable).")
@click.option("--limit", type=click.IntRange(1, 1000), default=10, show_default=True, help="How many results.")
@click.option("--mode", type=click.Choice(["hybrid", "lexical", "dense"]), default="hybrid", show_default=True,
              help="Both rankings fused, or one of them alone.")
@click.option("--as-written", is_flag=True, help="Search the words as written: a misspelt word no item holds is otherwise read "
                                                 "as the word a letter away that items do (\"persue\" as \"pursue\").")
@click.option("--explain", is_flag=True, help="Add each ranking's rank and score to every result, and what fusion added beyond them (a moment's boost, a named speaker's, a time said for a question asking when, a person, a place or a number for one asking who, where or how many).")
@output_options
@pass_ctx
def search_cmd(c: Ctx, query: str, schemas: tuple[str, ...], since: str | None, until: str | None, tags: tuple[str, ...],
               people: tuple[str, ...], types: tuple[str, ...], limit: int, mode: str, as_written: bool, explain: bool,
               fmt: str | None) -> None:
    """Find moments, what happened in them (events), documents, notes, commits, messages and sessions: BM25
    and embeddings, fused. Each result names its kind, id, time, title, a
    snippet with the matches in «», and the moment it belongs to. A time the
    query names ("last week", "in May", "yesterday") keeps the results to it
    when something there matches (else everything is searched). A query that
    names someone who speaks in your chats ("what did Priya say") puts their
    messages, and the events and moments they are in, a little higher; a
    question asking when ("when did Priya move?") puts the messages that say a
    time ("yesterday", "last Friday") and the events with a date said higher.
    A misspelt word that no item holds, and that is not an English word, is
    read as the word one letter away that items hold ("persue" as "pursue";
    --as-written searches it as written).

    \b
    rem search "DiskANN implementation" --schema moments
    rem search "what did Priya say last week"
    rem search "when did I fix the recall bug?"
    rem search "flaky test" --since 2026-11-01 --person "Alice Chen" --explain
    """
    from ..search import PENDING_RATE, SearchOptions, pending_of, search, spelling_of, time_of

    kinds = tuple(dict.fromkeys(_SCHEMAS[s.lower()] for s in schemas if s.lower() != "all")) if schemas and "all" not in \
        [s.lower() for s in schemas] else SearchOptions.kinds
    opts = SearchOptions(kinds=kinds, since=since, until=until, tags=tags, people=people, types=types, limit=limit,
                         explain=explain, lexical=mode != "dense", dense=mode != "lexical", spelling=not as_written)
    t = search(c.store, query, opts)
    spelt = spelling_of(t)
    if spelt and fmt in (None, "table"):
        said = ", ".join(f"“{read}” for “{written}”" for written, read in spelt)
        click.echo(f"searched for {said} (no item holds the word as written; --as-written searches it so)", err=True)
    kept = time_of(t)
    if kept and fmt in (None, "table"):
        click.echo(f"{kept['words']}: results {kept['span']} (give --since/--until to choose the time yourself)", err=True)
    waiting = pending_of(t)
    if waiting:
        click.echo(f"note: {waiting:,} items are not embedded yet, so they were found by their words only; "
                   f"`rem index` embeds them ({PENDING_RATE})", err=True)
    if t.num_rows == 0 and (fmt in (None, "table")):
        click.echo("no results", err=True)
    if default_format(fmt) == "table" and not explain:
        _print_hits(t.to_pylist(), kept)
        return
    echo_table(t, fmt)


def _print_hits(rows: list[dict[str, object]], kept: dict[str, str] | None = None) -> None:
    """Results as a person reads them, grouped by the moment they belong to (in the order of each moment's best
    hit): the moment's line (rank, local time, short id, name), then each of its hits (kind, local time, short
    id, title; the snippet with its matches in bold). A hit that belongs to no moment stands alone. The same text
    found twice is shown once. ``kept``: the time the query named (:func:`rem.search.time_of`); a hit written on
    another day, found because it says a time in it ("I went hiking on Saturday", written on Monday), says so."""
    from datetime import datetime

    from ..ask import day_label
    from ..output import echo_marked
    from ..search import said_of

    def elsewhere(r: dict[str, object]) -> str:
        t = r["time"]
        return f"  (said of {kept['words']})" if kept and isinstance(t, datetime) and said_of(t, kept) else ""

    groups: dict[str, list[dict[str, object]]] = {}
    seen: set[tuple[object, ...]] = set()
    for r in rows:
        key = (r["kind"], r["title"], r["snippet"])
        if key in seen:
            continue
        seen.add(key)
        group = str(r["id"] if r["kind"] == "moment" else r["moment_id"] or f"{r['kind']}:{r['id']}")
        groups.setdefault(group, []).append(r)

    def when(r: dict[str, object]) -> str:
        return day_label(r["time"], with_time=True) if r["time"] is not None else ""  # type: ignore[arg-type]

    def short(r: dict[str, object]) -> str:  # an event's id is its moment's and its place in it
        moment, _, pos = str(r["id"]).partition("/")
        return f"{moment[:8]}/{pos}" if r["kind"] == "event" and pos else moment[:8]

    for n, hits in enumerate(groups.values(), start=1):
        head = next((h for h in hits if h["kind"] == "moment"), None)
        first = hits[0]
        if head is not None:
            echo_marked(f"{n:>2}. moment   {when(head):<22} {str(head['id'])[:8]}  {head['title']}", bold=True)
            echo_marked(f"    {head['snippet']}")
        elif first["moment_id"]:  # the moment was not a hit itself: its name heads what was found in it
            echo_marked(f"{n:>2}. in “{first['moment']}” ({str(first['moment_id'])[:8]})", bold=True)
        for r in hits:
            if r is head:
                continue
            title = f"  {r['title']}" if r["title"] and r["kind"] != "message" else ""
            if r["moment_id"]:
                echo_marked(f"    · {r['kind']:<8} {when(r):<22} {short(r)}{title}{elsewhere(r)}")
                echo_marked(f"      {r['snippet']}")
            else:
                echo_marked(f"{n:>2}. {r['kind']:<8} {when(r):<22} {short(r)}{title}{elsewhere(r)}", bold=True)
                echo_marked(f"    {r['snippet']}")


@click.command("ask")
@click.argument("question", type=UTF8)
@click.option("--evidence", "limit", type=click.IntRange(1, 50), default=8, show_default=True,
              help="How many search results to gather evidence from.")
@click.option("--max-cost", type=Finite(min=0), help="Do not send the question to a model whose estimated cost (USD) exceeds this "
                                                     "(the evidence answers instead).")
@click.option("--no-dream", is_flag=True, help="Never dream first, even when the time a summary question names was not dreamed.")
@llm_options
@json_option
@pass_ctx
def ask_cmd(c: Ctx, question: str, limit: int, max_cost: float | None, no_dream: bool, model: str | None,
            base_url: str | None, local_model: str | None, as_json: bool) -> None:
    """Ask your memory a question. REM searches it (messages, documents,
    events, moments), then answers: with a model configured (as for `rem
    dream`), a short answer citing its evidence by ref, or "I don't find that
    in your memory"; with none, the best evidence itself, its date resolved
    ("yesterday" said on 8 May is 7 May) and for "when" questions the date
    first. A question about a time ("summarize my week", "what did I do
    yesterday?") answers from that time's moments, dreaming it first if it
    was not dreamed.

    \b
    rem ask "When did I last go to the support group?"
    rem ask "What did Alice say about the flaky test?" --llm llama3.1 --llm-base-url http://127.0.0.1:11434/v1
    rem ask "summarize my week"
    rem ask "what did we decide about the index?" --json
    """
    from .. import config as cfg
    from ..ask import ask
    from ..output import echo_json

    settings = cfg.resolve_llm(model=model, base_url=base_url, local_model=local_model, file_cfg=c.settings.file)
    a = ask(c.store, question, settings, limit=limit, max_cost=max_cost, dream_missing=not no_dream)
    if as_json:
        echo_json(a.public(), indent=2)
        return
    _print_answer(a)


def _print_answer(a: object) -> None:
    from ..ask import Answer, day_label

    assert isinstance(a, Answer)
    from ..output import echo_marked

    if a.message:
        click.echo(a.message, err=True)
    if a.dreamed:
        click.echo(f"dreamed first: run {', '.join(r[:8] for r in a.dreamed)}", err=True)
    echo_marked(a.answer, bold=True)
    if a.intent == "summary" and a.model == "none":
        return  # the answer lists the moments
    shown = [e for e in a.evidence if e.ref in a.cited] + [e for e in a.evidence if e.ref not in a.cited][: max(0, 5 - len(a.cited))]
    if not shown:
        return
    echo_marked("")
    echo_marked("evidence:" + ("" if a.model == "none" else f" (answered by {a.model}; * = cited)"))
    for e in shown:
        mark = "*" if e.ref in a.cited else " "
        where = f"  — {e.moment}" if e.moment else (f"  — {e.where}" if e.where else "")
        who = f"{e.who}: " if e.who and e.kind != "event" else ""
        echo_marked(f"{mark}{e.ref:<4} {e.kind:<8} {day_label(e.time, with_time=True):<22} {e.id[:8]}  {who}{e.text[:160]}{where}")


@click.command("index")
@click.option("--rebuild", is_flag=True, help="Build the index again from the tables: every item read and embedded again.")
@json_option
@pass_ctx
def index_cmd(c: Ctx, rebuild: bool, as_json: bool) -> None:
    """Bring the search index up to date: index what is new and embed every
    item that has no vector of the configured model yet (`[search]
    embeddings`). Ingest and dream do this for what they write; a search does
    it for 20,000 items at most and leaves the rest found by their words only,
    as after a large write from outside REM or a change of model. A bar shows
    the progress on a terminal. Stop it any time (Ctrl-C): what was done is
    kept, and the next run goes on from there.

    \b
    rem index
    rem index --rebuild      # start again from the tables
    rem index --json
    """
    from ..output import echo_json
    from ..search.index import index_all

    rep = index_all(c.store, rebuild=rebuild)
    if as_json:
        echo_json(rep, indent=2)
        return
    kinds = ", ".join(f"{n:,} {k}{'s' if n != 1 else ''}" for k, n in rep["by_kind"].items())
    done = f"{rep['indexed']:,} items indexed" + (f" ({kinds})" if kinds else "") + \
        (f", {rep['removed']:,} removed" if rep["removed"] else "") + (" (rebuilt from the tables)" if rep["rebuilt"] else "")
    embedded = f"{rep['embedded']:,} embedded with {rep['model']}" if rep["model"] else "no embedding model configured"
    click.echo(f"{done}; {embedded}, in {rep['seconds']:.1f} s")
    if rep["model"] and rep["pending"]:
        click.echo(f"{rep['pending']:,} items are still not embedded (written meanwhile): run rem index again", err=True)
    elif rep["model"]:
        click.echo("every item is embedded")


COMMANDS = (search_cmd, ask_cmd, index_cmd)
