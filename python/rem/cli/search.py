"""Finding things again: rem search."""

from __future__ import annotations

import click

from ..output import echo_table, output_options
from .common import UTF8, Ctx, pass_ctx

_SCHEMAS = {"moments": "moment", "moment": "moment", "resources": "resource", "resource": "resource",
            "messages": "message", "message": "message", "sessions": "session", "session": "session"}


@click.command("search")
@click.argument("query", type=UTF8)
@click.option("--schema", "schemas", multiple=True,
              type=click.Choice(["moments", "resources", "messages", "sessions", "all"], case_sensitive=False),
              help="What to search (repeatable; default all).")
@click.option("--since", help="Only items at or after this date/time.")
@click.option("--until", help="Only items before this date/time.")
@click.option("--tag", "tags", multiple=True, help="Only moments with this tag, and what they hold (repeatable).")
@click.option("--person", "people", multiple=True, help="Only moments with this person, and what they hold (repeatable).")
@click.option("--type", "types", multiple=True, help="Only moments of this type, and what they hold (repeatable).")
@click.option("--limit", type=click.IntRange(1, 1000), default=10, show_default=True, help="How many results.")
@click.option("--mode", type=click.Choice(["hybrid", "lexical", "dense"]), default="hybrid", show_default=True,
              help="Both rankings fused, or one of them alone.")
@click.option("--explain", is_flag=True, help="Add each ranking's rank and score to every result.")
@output_options
@pass_ctx
def search_cmd(c: Ctx, query: str, schemas: tuple[str, ...], since: str | None, until: str | None, tags: tuple[str, ...],
               people: tuple[str, ...], types: tuple[str, ...], limit: int, mode: str, explain: bool, fmt: str | None) -> None:
    """Find moments, documents, notes, commits, messages and sessions: BM25
    and embeddings, fused. Each result names its kind, id, time, title, a
    snippet with the matches in «», and the moment it belongs to.

    \b
    rem search "DiskANN implementation" --schema moments
    rem search "when did I fix the recall bug?"
    rem search "flaky test" --since 2026-11-01 --person "Alice Chen" --explain
    """
    from ..search import SearchOptions, search

    kinds = tuple(dict.fromkeys(_SCHEMAS[s.lower()] for s in schemas if s.lower() != "all")) if schemas and "all" not in \
        [s.lower() for s in schemas] else SearchOptions.kinds
    opts = SearchOptions(kinds=kinds, since=since, until=until, tags=tags, people=people, types=types, limit=limit,
                         explain=explain, lexical=mode != "dense", dense=mode != "lexical")
    t = search(c.store, query, opts)
    if t.num_rows == 0 and (fmt in (None, "table")):
        click.echo("no results", err=True)
    echo_table(t, fmt)


COMMANDS = (search_cmd,)
