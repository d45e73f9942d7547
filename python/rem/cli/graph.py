"""The living graph from the command line: rem graph …"""

from __future__ import annotations

from pathlib import Path

import click

from ..output import echo_json, echo_table, output_options
from .common import Ctx, Finite, json_option, pass_ctx


@click.group()
def graph() -> None:
    """The living graph: rank, traverse and export moments, resources,
    sessions, topics and people.

    Edge weights decay with a half-life per edge type (structural edges such
    as contains/captured_in never decay; related_to ~2 weeks; about/involves
    ~1 month) and are reinforced when activity touches them again.
    Entanglement = PageRank × N × (1 + clustering coefficient); hot = sum of
    incident edge weights decayed with a 24-hour half-life.
    """


@graph.command("stats")
@json_option
@pass_ctx
def graph_stats(c: Ctx, as_json: bool) -> None:
    """Nodes by kind, edges by type, components and mean entanglement."""
    from .. import graph as g

    st = g.stats(c.store)
    if as_json:
        echo_json(st, indent=2)
        return
    click.echo(f"nodes        {st['nodes']:,}   components {st['components']:,}")
    for k, v in st.get("nodes_by_kind", {}).items():
        click.echo(f"  {k:<12}{v:>8,}")
    click.echo(f"edges        {st['edges']:,}")
    for k, v in st.get("edges_by_type", {}).items():
        click.echo(f"  {k:<12}{v:>8,}")
    if "mean_entanglement" in st:
        click.echo(f"mean entanglement {st['mean_entanglement']} (1.0 = an average node)")


def _kinds(kind: str | None) -> list[str] | None:
    return [k.strip() for k in kind.split(",")] if kind else None


def ranking_options(f):  # type: ignore[no-untyped-def]
    f = output_options(f)
    f = click.option("--kind", help="Only these node kinds (comma-separated: topic,person,moment,resource,session).")(f)
    return click.option("--limit", type=click.IntRange(1), default=10, show_default=True, help="How many nodes.")(f)


@graph.command("hot")
@ranking_options
@pass_ctx
def graph_hot(c: Ctx, limit: int, kind: str | None, fmt: str | None) -> None:
    """What is hot right now: recently reinforced nodes (24-hour half-life)."""
    from .. import graph as g

    echo_table(g.ranked(c.store, g.load(c.store), "hot", limit, _kinds(kind)), fmt)


@graph.command("entangled")
@ranking_options
@pass_ctx
def graph_entangled(c: Ctx, limit: int, kind: str | None, fmt: str | None) -> None:
    """The most entangled nodes: PageRank over decayed weights × (1 + clustering)."""
    from .. import graph as g

    echo_table(g.ranked(c.store, g.load(c.store), "entanglement", limit, _kinds(kind)), fmt)


@graph.command("traverse")
@click.option("--start-entity", "start", required=True, help="Entity name or alias (case-insensitive), or any node id.")
@click.option("--edge-type", "edge_types", multiple=True, help="Follow only this edge type (repeatable).")
@click.option("--depth", type=click.IntRange(0, 20), default=2, show_default=True, help="Maximum hops.")
@click.option("--direction", type=click.Choice(["out", "in", "both"]), default="both", show_default=True)
@click.option("--min-weight", type=Finite(min=0), default=0.0, show_default=True, help="Follow only edges at least this heavy (decayed).")
@output_options
@pass_ctx
def graph_traverse(c: Ctx, start: str, edge_types: tuple[str, ...], depth: int, direction: str, min_weight: float,
                   fmt: str | None) -> None:
    """Breadth-first from an entity: every reached node with its depth and one shortest path.

    \b
    rem graph traverse --start-entity "diskann" --edge-type related_to --depth 2
    """
    from .. import graph as g

    starts = g.resolve_start(c.store, start)
    echo_table(g.traverse(c.store, starts, depth=depth, edge_types=list(edge_types), direction=direction,
                          min_weight=min_weight), fmt)


@graph.command("neighbors")
@click.argument("node")
@click.option("--edge-type", "edge_types", multiple=True, help="Only this edge type (repeatable).")
@output_options
@pass_ctx
def graph_neighbors(c: Ctx, node: str, edge_types: tuple[str, ...], fmt: str | None) -> None:
    """The direct neighbours of a node (id or entity name), both directions."""
    import pyarrow.compute as pc

    from .. import graph as g

    t = g.traverse(c.store, g.resolve_start(c.store, node), depth=1, edge_types=list(edge_types), direction="both", min_weight=0.0)
    if t.num_rows:
        t = t.filter(pc.greater(t.column("depth"), 0))
    echo_table(t, fmt)


@graph.command("export")
@click.option("--format", "fmt_", type=click.Choice(["dot", "json"]), default="dot", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, writable=True), help="File to write (default: stdout).")
@click.option("--since", help="Only edges reinforced since this date.")
@click.option("--edge-type", "edge_types", multiple=True, help="Only this edge type (repeatable).")
@click.option("--min-weight", type=Finite(min=0), default=0.0, show_default=True, help="Only edges at least this heavy (decayed).")
@click.option("--top", type=click.IntRange(1), help="Keep the N most entangled nodes (readable big graphs).")
@pass_ctx
def graph_export(c: Ctx, fmt_: str, output: str | None, since: str | None, edge_types: tuple[str, ...],
                 min_weight: float, top: int | None) -> None:
    """Export the graph as Graphviz DOT or JSON.

    \b
    rem graph export --format dot --output ontology.dot && dot -Tpng ontology.dot -o ontology.png
    """
    from .. import graph as g

    text = g.export(c.store, fmt_, since=since, edge_types=list(edge_types) or None, min_weight=min_weight, top=top)
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {output} ({len(text):,} bytes)", err=True)
    else:
        click.echo(text, nl=False)


@graph.command("decay")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="Rows to show (weakest first).")
@click.option("--edge-type", help="Only this edge type.")
@output_options
@pass_ctx
def graph_decay(c: Ctx, limit: int, edge_type: str | None, fmt: str | None) -> None:
    """Show edges with their decayed (effective) weights. Writes nothing."""
    from .. import graph as g

    echo_table(g.decayed_edges(c.store, limit=limit, edge_type=edge_type), fmt)


@graph.command("prune")
@click.option("--threshold", type=Finite(min=0), default=0.05, show_default=True, help="Delete edges whose decayed weight is below this.")
@click.option("--dry-run", is_flag=True, help="Say what would be deleted; delete nothing.")
@pass_ctx
def graph_prune(c: Ctx, threshold: float, dry_run: bool) -> None:
    """Delete edges that decayed below a threshold (structural edges never go)."""
    from .. import graph as g

    n, by_type = g.prune(c.store, threshold, dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    detail = ", ".join(f"{k}: {v}" for k, v in by_type.items())
    click.echo(f"{verb} {n} edge(s) under {threshold}" + (f" ({detail})" if detail else ""))


COMMANDS = (graph,)
