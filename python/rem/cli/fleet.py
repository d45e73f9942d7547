"""Many owners: rem fleet dream|status|doctor|query."""

from __future__ import annotations

import sys
from typing import Any

import click

from ..output import echo_table, output_options
from .common import UTF8, Ctx, parse_duration, pass_ctx


@click.group()
def fleet() -> None:
    """Dream for many owners (people or agents, each with their own database)
    on Dask: a LocalCluster on this machine by default, or a cluster with
    --scheduler. Needs the `rem[fleet]` extra.

    \b
    The manifest (TOML; or CSV with columns id,db[,model,base_url,...]):
      allow_query = false          # rem fleet query is refused unless true
      schedule = "0 3 * * *"       # cron, local time; per owner too
      [llm]                        # default model settings
      base_url = "https://api.openai.com/v1"
      model = "gpt-4o-mini"
      api_key_env = "OPENAI_API_KEY"   # the variable's NAME
      [[rate_limits]]              # shared by every worker
      endpoint = "https://api.openai.com/v1"
      requests_per_minute = 500
      tokens_per_minute = 200000
      [[owners]]
      id = "alice"
      db = "alice.duckdb"          # relative to the manifest

    \b
    rem fleet dream owners.toml             # every due owner, LocalCluster of 2
    rem fleet status owners.toml            # exit 1 if any last dream failed
    rem fleet query owners.toml "select owner, count(*) from moments group by owner"
    """


def _manifest(path: str) -> Any:
    from ..fleet.manifest import load

    return load(path)


owner_option = click.option("--owner", "owner_ids", multiple=True, metavar="ID",
                            help="Only this owner (repeatable). Default: every owner in the manifest.")


def _rows_table(rows: list[dict[str, Any]], fields: tuple[str, ...]) -> Any:
    import pyarrow as pa

    return pa.Table.from_pylist([{k: r.get(k) for k in fields} for r in rows]) if rows else \
        pa.table({k: pa.array([], pa.string()) for k in fields})


DREAM_FIELDS = ("owner", "status", "moments", "tokens_in", "tokens_out", "cost_usd", "attempts", "duration_s",
                "error")


@fleet.command("dream")
@click.argument("manifest", type=click.Path(dir_okay=False))
@owner_option
@click.option("--scheduler", metavar="ADDRESS", help="A running Dask scheduler (tcp://host:8786). Default: a "
                                                     "LocalCluster on this machine.")
@click.option("--workers", type=click.IntRange(1, 256), default=2, show_default=True,
              help="LocalCluster worker processes (ignored with --scheduler).")
@click.option("--threads", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Owners dreamed at once per LocalCluster worker.")
@click.option("--all", "every_owner", is_flag=True, help="Dream every selected owner, due or not (each dream still "
                                                        "starts where that owner's last one ended).")
@click.option("--force", is_flag=True, help="Ignore owners' quiet hours and the memory check.")
@click.option("--timeout", "run_timeout", default="2h", show_default=True, help="Stop one owner's dream after this long.")
@output_options
def fleet_dream(manifest: str, owner_ids: tuple[str, ...], scheduler: str | None, workers: int, threads: int,
                every_owner: bool, force: bool, run_timeout: str, fmt: str | None) -> None:
    """Dream every due owner (their schedule fired since their last scheduled
    dream): the same dream as `rem dream --scheduled`, one Dask task per owner.
    One owner's failure never stops another's; transient failures are retried
    with backoff. Exits 1 if any owner's dream failed."""
    from ..fleet import run as fr

    m = _manifest(manifest)
    owners = m.select(list(owner_ids))
    timeout_s = parse_duration(run_timeout, "--timeout")

    def progress(rec: dict[str, Any], i: int, n: int) -> None:
        note = f": {rec.get('error')}" if rec.get("error") else f": {rec.get('moments', 0)} moments"
        click.echo(f"[{i}/{n}] {rec['owner']} {rec['status']}{note}", err=True)

    click.echo(f"rem fleet: {len(owners)} owner(s) in {m.path}" + (f" on {scheduler}" if scheduler else
               f" on a LocalCluster of {workers} worker(s)"), err=True)
    res = fr.dream(m, owners, scheduler=scheduler, workers=workers, threads=threads, force=force,
                   every_owner=every_owner, run_timeout_s=timeout_s, on_result=progress)
    if res.skipped:
        click.echo(f"not due: {len(res.skipped)} owner(s) ({', '.join(res.skipped[:5])}"
                   + (", …" if len(res.skipped) > 5 else "") + "); --all dreams them anyway", err=True)
    if res.results:
        echo_table(_rows_table(res.results, DREAM_FIELDS), fmt)
    failed = [r for r in res.results if r["status"] == "failed"]
    click.echo(f"{len(res.results)} dreamed in {res.duration_s:.1f}s: "
               + ", ".join(f"{n} {s}" for s, n in _counts(res.results).items()) if res.results else "nothing due",
               err=True)
    if failed:
        sys.exit(1)


def _counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in rows:
        out[r["status"]] = out.get(r["status"], 0) + 1
    return out


@fleet.command("status")
@click.argument("manifest", type=click.Path(dir_okay=False))
@owner_option
@output_options
def fleet_status(manifest: str, owner_ids: tuple[str, ...], fmt: str | None) -> None:
    """Every owner's last scheduled dream (ok, nothing_to_do, skipped, failed,
    interrupted, never) with its error and cost. Exits 1 if any owner's last
    one failed or their database cannot be read."""
    from ..fleet import run as fr

    m = _manifest(manifest)
    rows = fr.status(m, m.select(list(owner_ids)))
    echo_table(_rows_table(rows, fr.STATUS_FIELDS), fmt)
    bad = [r["owner"] for r in rows if r["status"] == "failed"]
    if bad:
        click.echo(f"{len(bad)} owner(s) failed: {', '.join(bad[:10])}" + (", …" if len(bad) > 10 else ""), err=True)
        sys.exit(1)


@fleet.command("doctor")
@click.argument("manifest", type=click.Path(dir_okay=False))
@owner_option
@output_options
def fleet_doctor(manifest: str, owner_ids: tuple[str, ...], fmt: str | None) -> None:
    """`rem doctor` for every owner: their database, their model endpoint,
    their recent runs. Exits 1 if any check fails."""
    from ..fleet import run as fr

    m = _manifest(manifest)
    rows = fr.doctor(m.select(list(owner_ids)))
    echo_table(_rows_table(rows, ("owner", "level", "check", "message")), fmt)
    fails = {r["owner"] for r in rows if r["level"] == "fail"}
    if fails:
        click.echo(f"{len(fails)} owner(s) with problems: {', '.join(sorted(fails)[:10])}", err=True)
        sys.exit(1)


@fleet.command("query")
@click.argument("manifest", type=click.Path(dir_okay=False))
@click.argument("sql", type=UTF8)
@owner_option
@output_options
@click.option("--max-rows", type=click.IntRange(min=0),
              help="Stop after this many rows (0 = all). Default: 10,000 for --table, all for the data formats, which "
                   "stream (memory stays flat).")
@pass_ctx
def fleet_query(c: Ctx, manifest: str, sql: str, owner_ids: tuple[str, ...], fmt: str | None, max_rows: int | None) -> None:
    """One read-only SQL statement over every owner's database ("-" reads it
    from stdin). Each of REM's tables (moments, resources, messages, entities,
    edges, nodes, dream_runs, moment_edits) holds every owner's rows with an
    `owner` column in front. Refused unless the manifest has
    `allow_query = true`; the same sandbox as `rem query`.

    \b
    rem fleet query owners.toml "select owner, count(*) n from moments group by owner"
    """
    from ..fleet import run as fr

    if sql == "-":
        sql = sys.stdin.read()
    from ..output import echo_stream

    m = _manifest(manifest)

    def show(reader):  # type: ignore[no-untyped-def]
        if reader is None:
            click.echo("(no result)")
            return 0
        return echo_stream(reader, fmt, max_rows)

    fr.query(m, m.select(list(owner_ids)), sql, show, half_lives=c.settings.half_lives_or_defaults())


COMMANDS = (fleet,)
