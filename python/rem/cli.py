"""The ``rem`` command line."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import duckdb

from . import config as cfg
from .exceptions import InterruptedRun, QueryError, RemError
from .output import echo_table, output_options, rows_of
from .store import Store, arrow, run

log = logging.getLogger("rem")


class Ctx:
    def __init__(self, db: str | None, verbose: bool) -> None:
        self.db = db
        self.verbose = verbose

    @property
    def store(self) -> Store:
        return Store(self.db)


pass_ctx = click.make_pass_decorator(Ctx)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--db", envvar="REM_DB", type=click.Path(dir_okay=False),
              help="Database file. Default: $REM_DB, else $XDG_DATA_HOME/rem/rem.duckdb "
                   "(~/.local/share/rem/rem.duckdb).")
@click.option("-v", "--verbose", is_flag=True, help="More detail (also REM_LOG_LEVEL=DEBUG).")
@click.version_option(package_name="rem", message="rem %(version)s")
@click.pass_context
def cli(ctx: click.Context, db: str | None, verbose: bool) -> None:
    """REM: an embedded DuckDB that dreams.

    Ingest your activity (notes, commits, chats), then `rem dream` turns a
    window of it into moments, summaries and graph edges you can query with
    SQL. Every command creates the database on first use.

    \b
    Quick start:
      rem demo-data               # a realistic demo week, ingested
      rem dream --dry-run --lookback-hours 168
      rem query "select name, created_at from resources limit 5"
    """
    from .logs import configure

    configure(verbose)
    ctx.obj = Ctx(db, verbose)


# -- init / config ----------------------------------------------------------
@cli.command()
@pass_ctx
def init(c: Ctx) -> None:
    """Create the database file and its tables (idempotent)."""
    created = c.store.init()
    click.echo(f"{'created' if created else 'exists:'} {c.store.path}")


@cli.command("config")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.option("--llm", "model", help="Model name, as `rem dream --llm` would take it.")
@click.option("--llm-base-url", "base_url", help="OpenAI-compatible endpoint URL.")
@pass_ctx
def config_cmd(c: Ctx, as_json: bool, model: str | None, base_url: str | None) -> None:
    """Show the effective settings and where each comes from (keys masked).

    Precedence: command-line flag > environment (REM_LLM_MODEL, REM_LLM_BASE_URL,
    OPENAI_API_KEY, REM_LLM_MODE, REM_LOCAL_MODEL) > config file > embedded default.
    """
    s = cfg.resolve_llm(model=model, base_url=base_url)
    info: dict[str, Any] = {
        "database": str(c.store.path),
        "config_file": str(cfg.config_path()) + ("" if cfg.config_path().exists() else " (absent)"),
        "llm": s.public(),
        "llm_sources": s.sources,
        "dream": cfg.dream_defaults(),
    }
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"database     {info['database']}")
    click.echo(f"config file  {info['config_file']}")
    for k, v in s.public().items():
        src = s.sources.get(k)
        click.echo(f"llm.{k:<18} {v}" + (f"   [{src}]" if src else ""))
    for k, v in info["dream"].items():
        click.echo(f"dream.{k:<16} {v}")


# -- ingest -------------------------------------------------------------------
@cli.group()
def ingest() -> None:
    """Load activity: JSONL records, notes, git history, chat exports.

    Every source is idempotent (ingesting the same thing twice adds nothing; a
    changed item updates its row) and transactional per input (a malformed
    input writes nothing and the error names the file, line and field).
    """


def _report(rep: Any) -> None:
    for e in rep.errors:
        click.echo(f"refused: {e}", err=True)
    click.echo(rep.line())
    if rep.errors:
        sys.exit(1)


@ingest.command("jsonl")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--kind", type=click.Choice(["resources", "sessions", "messages"]), required=True,
              help="Which table the records are for (fields as in schema/core/<kind>.json).")
@pass_ctx
def ingest_jsonl_cmd(c: Ctx, file: str, kind: str) -> None:
    """Records from a JSONL file (or a JSON array), validated against the schema."""
    from .ingest import ingest_jsonl

    _report(ingest_jsonl(c.store, file, kind))


@ingest.command("notes")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@pass_ctx
def ingest_notes_cmd(c: Ctx, directory: str) -> None:
    """A folder of Markdown/text notes (time from front matter, else mtime)."""
    from .ingest import ingest_notes

    _report(ingest_notes(c.store, directory))


@ingest.command("git")
@click.argument("path", type=click.Path(exists=True))
@click.option("--since", help="Only commits after this date (git's --since syntax).")
@click.option("--until", help="Only commits before this date.")
@click.option("--max-count", type=click.IntRange(min=0), help="At most this many commits.")
@click.option("--rev", default="HEAD", show_default=True, help="Revision to walk.")
@click.option("--all", "all_refs", is_flag=True, help="Walk every ref instead of --rev.")
@pass_ctx
def ingest_git_cmd(c: Ctx, path: str, since: str | None, until: str | None, max_count: int | None,
                   rev: str, all_refs: bool) -> None:
    """One `commit` resource per commit of a repository (bare ones too);
    authors become people."""
    from .ingest import ingest_git

    _report(ingest_git(c.store, path, since=since, until=until, max_count=max_count, rev=rev, all_refs=all_refs))


@ingest.command("chatgpt")
@click.argument("file", type=click.Path(exists=True))
@pass_ctx
def ingest_chatgpt_cmd(c: Ctx, file: str) -> None:
    """A ChatGPT data export (conversations.json, or the folder holding it)."""
    from .ingest import ingest_chatgpt

    _report(ingest_chatgpt(c.store, file))


@ingest.command("chat")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@pass_ctx
def ingest_chat_cmd(c: Ctx, file: str) -> None:
    """The plain chat format: JSONL, one message per line.

    \b
    {"session": "standup", "role": "user", "content": "…", "created_at": "2026-11-16T09:30:00Z"}
    Optional: session_name, id, tool_calls, trace_id, span_id.
    """
    from .ingest import ingest_chat

    _report(ingest_chat(c.store, file))


# -- query ----------------------------------------------------------------------
@cli.command()
@click.argument("sql")
@output_options
@pass_ctx
def query(c: Ctx, sql: str, fmt: str | None) -> None:
    """Run read-only SQL against the database ("-" reads SQL from stdin).

    The connection is read-only and sandboxed: no writes, no COPY … TO, ATTACH,
    INSTALL/LOAD, file readers or configuration changes. rem_decay(weight,
    reinforced_at, edge_type) gives an edge's decayed weight.

    \b
    rem query "SELECT * FROM moments WHERE 'diskann' = ANY(tags)"
    """
    if sql == "-":
        sql = sys.stdin.read()
    with c.store.read() as con:
        try:
            t = arrow(con, sql)
        except duckdb.Error as e:
            msg = str(e)
            if "read-only mode" in msg:
                raise QueryError(
                    f"rem query is read-only: {msg}\nNothing was changed. Use `rem ingest …` to add data."
                ) from e
            raise QueryError(msg) from e
    echo_table(t, fmt)


# -- dream ------------------------------------------------------------------------
@cli.command()
@click.option("--lookback-hours", type=float, help="Window: the last N hours (default 24).")
@click.option("--start", help="Window start (date or time; local unless an offset is given).")
@click.option("--end", help="Window end (a bare date includes that whole day).")
@click.option("--dry-run", is_flag=True, help="Collect, segment and pack; print the plan; call no model.")
@click.option("--now", "now_flag", is_flag=True, help="A manual, on-demand dream (the default when not --scheduled).")
@click.option("--scheduled", is_flag=True, help="Start where the last successful dream ended (at most 7 days back); used by the timer and daemon. Skipped when the machine is busy or in quiet hours.")
@click.option("--force", is_flag=True, help="Run a scheduled dream even if the machine is busy or in quiet hours.")
@click.option("--gap-minutes", type=click.FloatRange(min=0), help="Idle gap that starts a new segment (default 30).")
@click.option("--max-input-tokens", type=click.IntRange(min=64), help="Token budget per chunk (estimate; default 6000).")
@click.option("--concurrency", type=click.IntRange(1, 64), help="Chunks sent to the model at once (default 4).")
@click.option("--max-cost", type=click.FloatRange(min=0), help="Refuse the run if its estimated cost (USD) exceeds this.")
@click.option("--moment-types", help="Keep only these moment types (comma-separated, e.g. work_session,learning).")
@click.option("--min-duration-minutes", type=click.FloatRange(min=0), help="Drop moments shorter than this.")
@click.option("--summary-only", is_flag=True, help="Write the period summary only, no moments.")
@click.option("--output", type=click.Path(dir_okay=False, writable=True), help="Save the moments (or, with --dry-run, the packed chunks and refs) as JSON.")
@click.option("--verbose", "verbose_out", is_flag=True, help="Print every moment in detail.")
@click.option("--debug", is_flag=True, help="Print the packed chunks, prompts and raw answers (secrets masked).")
@click.option("--llm", "model", help="Model name (OpenAI-compatible).")
@click.option("--llm-base-url", "base_url", help="OpenAI-compatible endpoint URL.")
@click.option("--local-model", type=click.Path(dir_okay=False), help="A local .gguf served by llama.cpp instead of SmolLM2.")
@click.option("--if-new", "if_new", type=click.IntRange(1), help="Dream only if at least N new resources or sessions arrived since the last dream.")
@click.option("--yield-to-user", is_flag=True,
              help="Stop between model calls (writing nothing; the run is `interrupted`) when other programs keep "
                   "the CPU busy for a minute — see [schedule] yield_other_load / yield_after_s.")
@click.option("--timeout", "run_timeout", default="2h", show_default=True,
              help="Stop the run (between model calls, writing nothing) after this long: 90s, 30m, 2h.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def dream(c: Ctx, lookback_hours: float | None, start: str | None, end: str | None, dry_run: bool, now_flag: bool,
          scheduled: bool, force: bool, gap_minutes: float | None, max_input_tokens: int | None, concurrency: int | None,
          max_cost: float | None, moment_types: str | None, min_duration_minutes: float | None, summary_only: bool,
          output: str | None, verbose_out: bool, debug: bool, model: str | None, base_url: str | None,
          local_model: str | None, if_new: int | None, yield_to_user: bool, run_timeout: str, as_json: bool) -> None:
    """Turn a window of activity into moments, summaries and graph edges.

    Collects the window, packs it (Rust), sends the chunks to the model
    (database closed meanwhile), resolves the answers against the ref table and
    writes moments, entities, edges, a summary resource and the run's ledger
    row in one transaction. Nothing to dream is not an error (exit 0).

    With --dry-run: print the window, segment and chunk counts, the estimated
    input tokens (an offline estimate) and the estimated cost; call no model.
    """
    from .dream.plan import plan

    if now_flag and scheduled:
        raise click.UsageError("--now and --scheduled exclude each other")
    d = cfg.dream_defaults()
    settings = cfg.resolve_llm(model=model, base_url=base_url, local_model=local_model)
    lookback = lookback_hours if lookback_hours is not None else (None if (start or end) else d["lookback_hours"])
    gap = gap_minutes if gap_minutes is not None else d["gap_minutes"]
    budget = max_input_tokens or d["max_input_tokens"]
    if settings.embedded and not max_input_tokens:
        from .dream.run import EMBEDDED_MAX_INPUT_TOKENS

        budget = min(budget, EMBEDDED_MAX_INPUT_TOKENS)  # the small local model has an 8k context
    if dry_run:
        p = plan(c.store, settings, lookback_hours=lookback, start=start, end=end, gap_minutes=gap, max_input_tokens=budget)
        if output:
            Path(output).write_text(json.dumps(p.to_json(include_chunks=True), indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
        if as_json:
            click.echo(json.dumps(p.to_json(include_chunks=debug), indent=2, ensure_ascii=False, default=str))
            return
        click.echo(p.describe())
        if debug:
            for ch in p.packed.chunks.to_pylist():
                click.echo(f"\n===== chunk {ch['chunk']} ({ch['est_tokens']} est. tokens, {ch['n_items']} items) =====")
                click.echo(ch["text"], nl=False)
        if output:
            click.echo(f"wrote {output}")
        return
    from .dream.run import DreamOptions, record_skip
    from .dream.run import dream as run_dream

    if if_new is not None:
        from .daemon import new_activity_since_last_dream

        n_new = new_activity_since_last_dream(c.store)
        if n_new < if_new:
            reason = f"only {n_new} new resources/sessions since the last dream (--if-new {if_new})"
            rid = record_skip(c.store, reason, "threshold")
            click.echo(f"skipped: {reason} (run {rid[:8]})")
            return
    opts = DreamOptions(
        lookback_hours=lookback, start=start, end=end, gap_minutes=gap, max_input_tokens=budget,
        concurrency=concurrency or d["concurrency"], max_cost=max_cost,
        moment_types=[t.strip() for t in moment_types.split(",") if t.strip()] if moment_types else None,
        min_duration_minutes=min_duration_minutes, summary_only=summary_only, scheduled=scheduled,
        trigger="scheduled" if scheduled else "manual", force=force, run_timeout_s=parse_duration(run_timeout, "--timeout"),
        yield_to_user=yield_to_user,
        debug=(lambda text: click.echo(text, err=True)) if debug else None,
    )
    result = run_dream(c.store, settings, opts)
    if output and result.resolution is not None:
        Path(output).write_text(json.dumps([m.public() for m in result.resolution.moments], indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if as_json:
        click.echo(json.dumps(result.public(), indent=2, ensure_ascii=False, default=str))
    else:
        click.echo(_describe_result(result, verbose_out))
    if result.status == "skipped" and result.plan is not None:
        sys.exit(1)  # refused by --max-cost


def parse_duration(text: str, flag: str) -> float:
    """Seconds from ``90``, ``90s``, ``30m``, ``2h``, ``1d``."""
    t = text.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        if t and t[-1] in units:
            v = float(t[:-1]) * units[t[-1]]
        else:
            v = float(t)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a duration (use e.g. 90s, 30m, 2h)", param_hint=flag) from None
    if v <= 0:
        raise click.BadParameter("must be positive", param_hint=flag)
    return v


def _describe_result(r: Any, verbose: bool) -> str:
    if r.status in ("nothing_to_do", "skipped") or r.stats is None:
        return f"{r.status}: {r.message} (run {r.run_id[:8]})"
    st, rs = r.stats, r.resolution
    cost = f"${r.cost:.4f}" if r.cost is not None else "unknown"
    lines = [
        f"dream {r.run_id[:8]} ok in {r.duration_s:.1f}s — window {r.plan.window}",
        f"moments     {st.moments_created} new, {st.moments_merged} merged, {st.moments_superseded} superseded"
        f" ({rs.fallback_moments} named from their sources, not by the model)",
        f"entities    {st.entities_created} new",
        f"edges       {st.edges_added} added, {st.edges_reinforced} reinforced",
        f"model       {r.plan.settings.model}: {r.usage.tokens_in:,} tokens in, {r.usage.tokens_out:,} out, cost {cost}",
    ]
    if rs.dropped_refs or rs.dropped_moments:
        lines.append(f"dropped     {rs.dropped_refs} unknown refs, {rs.dropped_moments} moments without a valid ref")
    lines.append("")
    for m in rs.moments:
        lines.append(f"  {m.start.astimezone():%a %H:%M}–{m.end.astimezone():%H:%M}  {m.name}"
                     + ("" if m.generated_by == "model" else "  [from sources]"))
        if verbose:
            for label, val in (("summary", m.summary), ("type", m.moment_type), ("topics", ", ".join(m.tags)),
                               ("emotions", ", ".join(m.emotion_tags)), ("people", ", ".join(m.people)),
                               ("outcome", m.outcome)):
                if val:
                    lines.append(f"      {label:<9} {val}")
    if r.summary:
        lines += ["", "summary: " + r.summary]
    return "\n".join(lines)


# -- moments / runs -----------------------------------------------------------------
def _day_bounds(day: str) -> tuple[datetime, datetime]:
    today = datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
    if day == "today":
        d0 = today
    elif day == "yesterday":
        d0 = today - timedelta(days=1)
    else:
        try:
            d0 = datetime.fromisoformat(day).astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
        except ValueError as e:
            raise click.BadParameter(f"{day!r}: use today, yesterday or YYYY-MM-DD") from e
    return d0, d0 + timedelta(days=1)


@cli.command()
@click.option("--day", help="today, yesterday or YYYY-MM-DD (local time).")
@click.option("--since", help="Moments starting at or after this date/time.")
@click.option("--tag", "tags", multiple=True, help="Only moments with this topic tag (repeatable).")
@click.option("--type", "mtype", help="Only this moment type.")
@click.option("--limit", type=int, default=200, show_default=True, help="At most this many moments.")
@output_options
@pass_ctx
def moments(c: Ctx, day: str | None, since: str | None, tags: tuple[str, ...], mtype: str | None, limit: int,
            fmt: str | None) -> None:
    """A readable journal of moments (default: the last 7 days).

    \b
    rem moments --day yesterday
    rem moments --tag diskann --json
    """
    where: list[str] = ["TRUE"]
    params: dict[str, Any] = {}
    if day:
        d0, d1 = _day_bounds(day)
        where.append("start_time >= $d0 AND start_time < $d1")
        params.update(d0=d0, d1=d1)
    elif since:
        from .ingest.common import parse_time

        params["since"] = parse_time(since, source="--since", field="value")
        where.append("start_time >= $since")
    else:
        params["since"] = datetime.now(UTC) - timedelta(days=7)
        where.append("start_time >= $since")
    for i, t in enumerate(tags):
        params[f"t{i}"] = t.lower()
        where.append(f"list_contains(tags, $t{i})")
    if mtype:
        params["mtype"] = mtype
        where.append("moment_type = $mtype")
    sql = f"""SELECT name, start_time, end_time, moment_type, tags, emotion_tags, people, outcome, summary,
                     generated_by, id FROM moments WHERE {' AND '.join(where)} ORDER BY start_time LIMIT {int(limit)}"""
    with c.store.read() as con:
        t = arrow(con, sql, params)
    if fmt:
        echo_table(t, fmt)
        return
    rows = t.to_pylist()
    if not rows:
        click.echo("no moments in that range — run `rem dream` first, or widen --since")
        return
    last_day = None
    for m in rows:
        st, en = m["start_time"].astimezone(), m["end_time"].astimezone()
        if st.date() != last_day:
            click.echo(f"\n{st:%A %d %B %Y}")
            last_day = st.date()
        click.echo(f"\nMoment: {m['name']} ({st:%H:%M} - {en:%H:%M})" + ("" if m["generated_by"] == "model" else "  [named from its sources]"))
        for label, val in (("Topics", ", ".join(m["tags"] or [])), ("People", ", ".join(m["people"] or [])),
                           ("Outcome", m["outcome"]), ("Emotion", ", ".join(m["emotion_tags"] or [])),
                           ("Summary", m["summary"])):
            if val:
                click.echo(f"- {label}: {val}")


@cli.command()
@click.option("--day", help="today, yesterday or YYYY-MM-DD (local time). The default.")
@click.option("--week", is_flag=True, help="The seven days ending with --day (default: ending yesterday).")
@click.option("--run", "run_id", help="The digest one dream run wrote (its id or 8-character prefix).")
@click.option("--output", type=click.Path(dir_okay=False, writable=True), help="Write the Markdown here instead of printing it.")
@pass_ctx
def report(c: Ctx, day: str | None, week: bool, run_id: str | None, output: str | None) -> None:
    """A Markdown digest of your moments: a day, a week, or one dream run.

    Every successful dream also writes its own digest into the reports
    folder (beside the database, or $REM_REPORTS_DIR / [reports] dir),
    keeping the newest 30 ([reports] keep).

    \b
    rem report --day yesterday
    rem report --week
    rem report --run 1a2b3c4d
    """
    from . import report as rp

    if run_id and (day or week):
        raise click.UsageError("--run excludes --day and --week")
    if run_id:
        from .revert import find_run

        with c.store.read() as con:
            rid = find_run(con, run_id)
        f = rp.find_run_digest(c.store, rid)
        text = f.read_text(encoding="utf-8") if f else rp.run_digest(c.store, rid)
    else:
        d0, d1 = _day_bounds(day or "yesterday")
        if week:
            d0 = d0 - timedelta(days=6)
            text = rp.period_digest(c.store, d0, d1, "REM week")
        else:
            text = rp.period_digest(c.store, d0, d1, f"REM day — {d0:%A %d %B %Y}")
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)


@cli.group(invoke_without_command=True)
@click.option("--limit", type=int, default=20, show_default=True, help="Most recent runs to show.")
@output_options
@click.pass_context
def runs(ctx: click.Context, limit: int, fmt: str | None) -> None:
    """The dream ledger: one row per run with its status, counts and cost.

    \b
    rem runs                 # the latest runs
    rem runs show RUN_ID     # what one run made
    rem runs revert RUN_ID   # take it all back
    """
    if ctx.invoked_subcommand is not None:
        return
    c: Ctx = ctx.obj
    with c.store.read() as con:
        t = arrow(con, f"""SELECT substr(id, 1, 8) AS run, started_at, status, trigger,
                                  strftime(window_start, '%Y-%m-%d %H:%M') || ' → ' || strftime(window_end, '%Y-%m-%d %H:%M') AS window,
                                  model, moments_created AS moments, fallback_moments AS fallback, edges_added AS edges,
                                  tokens_in, tokens_out, round(estimated_cost_usd, 4) AS cost_usd,
                                  round(duration_s, 1) AS secs, coalesce(error, reason) AS note
                           FROM dream_runs ORDER BY started_at DESC LIMIT {int(limit)}""")
    echo_table(t, fmt)


@runs.command("show")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_ctx
def runs_show(c: Ctx, run_id: str, as_json: bool) -> None:
    """What a run made: its ledger row, moments, edges added and reinforced, summary.
    RUN_ID may be the 8-character prefix `rem runs` shows."""
    with c.store.read() as con:
        ids = [r[0] for r in run(con, "SELECT id FROM dream_runs WHERE starts_with(id, $p)", {"p": run_id})]
        if len(ids) != 1:
            raise QueryError(f"{'no' if not ids else 'more than one'} run matches {run_id!r}; see `rem runs`")
        rid = ids[0]
        row = rows_of(arrow(con, "SELECT * EXCLUDE (metadata) FROM dream_runs WHERE id = $id", {"id": rid}))[0]
        moments_made = rows_of(arrow(con, """SELECT name, start_time, end_time, moment_type, tags, generated_by
                                             FROM moments WHERE dream_run_id = $id ORDER BY start_time""", {"id": rid}))
        edges = rows_of(arrow(con, """SELECT action, edge_type, count(*) AS n FROM dream_edge_log WHERE dream_run_id = $id
                                      GROUP BY ALL ORDER BY action, n DESC""", {"id": rid}))
        summary = rows_of(arrow(con, """SELECT name, content FROM resources WHERE resource_type = 'summary'
                                        AND metadata->>'dream_run_id' = $id""", {"id": rid}))
    info = {"run": row, "moments": moments_made, "edges": edges, "summary": summary[0] if summary else None}
    if as_json:
        click.echo(json.dumps(info, indent=2, ensure_ascii=False, default=str))
        return
    click.echo(f"run {rid}: {row['status']} ({row['trigger']}), window {row['window_start']} → {row['window_end']}")
    for k in ("model", "tokens_in", "tokens_out", "estimated_cost_usd", "moments_created", "moments_merged",
              "moments_superseded", "fallback_moments", "entities_created", "edges_added", "edges_reinforced",
              "dropped_refs", "duration_s", "error", "reason"):
        if row.get(k) not in (None, 0, ""):
            click.echo(f"  {k:<20} {row[k]}")
    if moments_made:
        click.echo("moments:")
        for m in moments_made:
            click.echo(f"  {m['start_time'][:16]}–{m['end_time'][11:16]}  {m['name']}  [{m['moment_type']}; {', '.join(m['tags'] or [])}]")
    if edges:
        click.echo("edges: " + ", ".join(f"{e['action']} {e['n']} {e['edge_type']}" for e in edges))
    if summary:
        click.echo(f"summary: {summary[0]['content']}")


@runs.command("revert")
@click.argument("run_id")
@click.option("--dry-run", is_flag=True, help="Say what would be taken back; change nothing.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
def runs_revert(c: Ctx, run_id: str, dry_run: bool, yes: bool) -> None:
    """Take back everything a dream wrote, in one transaction.

    Its moments and summary are deleted (moments it superseded or merged
    come back as they were), the edges it added are deleted and the ones it
    reinforced get back their weight, time and count. The run becomes
    `reverted` and the next scheduled dream covers its window again.
    Refused while a later run changed the same moments or edges (revert
    that one first). RUN_ID may be the 8-character prefix `rem runs` shows.

    \b
    rem runs revert 1a2b3c4d --dry-run
    rem runs revert 1a2b3c4d --yes
    """
    from .revert import revert

    p = revert(c.store, run_id, dry_run=True)
    click.echo(p.describe(done=False))
    if dry_run:
        return
    if not yes and not click.confirm("revert this run?", default=False, err=True):
        click.echo("nothing changed")
        return
    p = revert(c.store, run_id)
    click.echo(p.describe(done=True))


# -- graph ----------------------------------------------------------------------------
@cli.group()
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
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_ctx
def graph_stats(c: Ctx, as_json: bool) -> None:
    """Nodes by kind, edges by type, components and mean entanglement."""
    from . import graph as g

    st = g.stats(c.store)
    if as_json:
        click.echo(json.dumps(st, indent=2))
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


@graph.command("hot")
@click.option("--limit", type=click.IntRange(1), default=10, show_default=True, help="How many nodes.")
@click.option("--kind", help="Only these node kinds (comma-separated: topic,person,moment,resource,session).")
@output_options
@pass_ctx
def graph_hot(c: Ctx, limit: int, kind: str | None, fmt: str | None) -> None:
    """What is hot right now: recently reinforced nodes (24-hour half-life)."""
    from . import graph as g

    echo_table(g.ranked(c.store, g.load(c.store), "hot", limit, _kinds(kind)), fmt)


@graph.command("entangled")
@click.option("--limit", type=click.IntRange(1), default=10, show_default=True, help="How many nodes.")
@click.option("--kind", help="Only these node kinds (comma-separated).")
@output_options
@pass_ctx
def graph_entangled(c: Ctx, limit: int, kind: str | None, fmt: str | None) -> None:
    """The most entangled nodes: PageRank over decayed weights × (1 + clustering)."""
    from . import graph as g

    echo_table(g.ranked(c.store, g.load(c.store), "entanglement", limit, _kinds(kind)), fmt)


@graph.command("traverse")
@click.option("--start-entity", "start", required=True, help="Entity name or alias (case-insensitive), or any node id.")
@click.option("--edge-type", "edge_types", multiple=True, help="Follow only this edge type (repeatable).")
@click.option("--depth", type=click.IntRange(0, 20), default=2, show_default=True, help="Maximum hops.")
@click.option("--direction", type=click.Choice(["out", "in", "both"]), default="both", show_default=True)
@click.option("--min-weight", type=float, default=0.0, show_default=True, help="Follow only edges at least this heavy (decayed).")
@output_options
@pass_ctx
def graph_traverse(c: Ctx, start: str, edge_types: tuple[str, ...], depth: int, direction: str, min_weight: float,
                   fmt: str | None) -> None:
    """Breadth-first from an entity: every reached node with its depth and one shortest path.

    \b
    rem graph traverse --start-entity "diskann" --edge-type related_to --depth 2
    """
    from . import graph as g

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
    from . import graph as g

    t = g.traverse(c.store, g.resolve_start(c.store, node), depth=1, edge_types=list(edge_types), direction="both", min_weight=0.0)
    if t.num_rows:
        import pyarrow.compute as pc

        t = t.filter(pc.greater(t.column("depth"), 0))
    echo_table(t, fmt)


@graph.command("export")
@click.option("--format", "fmt_", type=click.Choice(["dot", "json"]), default="dot", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, writable=True), help="File to write (default: stdout).")
@click.option("--since", help="Only edges reinforced since this date.")
@click.option("--edge-type", "edge_types", multiple=True, help="Only this edge type (repeatable).")
@click.option("--min-weight", type=float, default=0.0, show_default=True, help="Only edges at least this heavy (decayed).")
@click.option("--top", type=click.IntRange(1), help="Keep the N most entangled nodes (readable big graphs).")
@pass_ctx
def graph_export(c: Ctx, fmt_: str, output: str | None, since: str | None, edge_types: tuple[str, ...],
                 min_weight: float, top: int | None) -> None:
    """Export the graph as Graphviz DOT or JSON.

    \b
    rem graph export --format dot --output ontology.dot && dot -Tpng ontology.dot -o ontology.png
    """
    from . import graph as g

    text = g.export(c.store, fmt_, since=since, edge_types=list(edge_types) or None, min_weight=min_weight, top=top)
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {output} ({len(text):,} bytes)", err=True)
    else:
        click.echo(text, nl=False)


@graph.command("decay")
@click.option("--limit", type=int, default=20, show_default=True, help="Rows to show (weakest first).")
@click.option("--edge-type", help="Only this edge type.")
@output_options
@pass_ctx
def graph_decay(c: Ctx, limit: int, edge_type: str | None, fmt: str | None) -> None:
    """Show edges with their decayed (effective) weights. Writes nothing."""
    where = "WHERE edge_type = $t" if edge_type else ""
    with c.store.read() as con:
        t = arrow(con, f"""SELECT edge_type, source_id, target_id, round(weight, 4) AS weight,
                                  round(rem_decay(weight, reinforced_at, edge_type), 4) AS effective,
                                  rem_half_life_hours(edge_type) AS half_life_h, reinforcement_count AS count,
                                  reinforced_at
                           FROM edges {where} ORDER BY effective ASC, source_id LIMIT {int(limit)}""",
                  {"t": edge_type} if edge_type else None)
    echo_table(t, fmt)


@graph.command("prune")
@click.option("--threshold", type=float, default=0.05, show_default=True, help="Delete edges whose decayed weight is below this.")
@click.option("--dry-run", is_flag=True, help="Say what would be deleted; delete nothing.")
@pass_ctx
def graph_prune(c: Ctx, threshold: float, dry_run: bool) -> None:
    """Delete edges that decayed below a threshold (structural edges never go)."""
    from . import graph as g

    n, by_type = g.prune(c.store, threshold, dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    detail = ", ".join(f"{k}: {v}" for k, v in by_type.items())
    click.echo(f"{verb} {n} edge(s) under {threshold}" + (f" ({detail})" if detail else ""))


# -- schedule / doctor -----------------------------------------------------------------
@cli.group()
def schedule() -> None:
    """Dream every night with a systemd timer (03:00 by default, Persistent=true
    so a missed night runs at the next boot), or print the crontab line."""


@schedule.command("install")
@click.option("--user/--system", "user", default=True, show_default=True, help="A user unit (~/.config/systemd/user) or a system one (/etc/systemd/system, needs root).")
@click.option("--at", "at", help="Time of day, HH:MM (default 03:00).")
@click.option("--cron", "cron", help="A 5-field cron expression instead of --at.")
@click.option("--enable", is_flag=True, help="Also run the systemctl commands that enable the timer.")
@click.option("--unit-dir", type=click.Path(file_okay=False), help="Write the units here instead (for packaging or testing).")
@pass_ctx
def schedule_install(c: Ctx, user: bool, at: str | None, cron: str | None, enable: bool, unit_dir: str | None) -> None:
    """Write rem-dreaming.service and .timer with this rem and this database."""
    from . import schedule as sch

    res = sch.install(c.store.path, user=user, at=at, cron=cron, directory=Path(unit_dir) if unit_dir else None, enable=enable)
    for f in res.files:
        click.echo(f"wrote {f}")
    click.echo(f"verified with systemd-analyze: {'ok' if res.verified else 'FAILED'}" if shutil.which("systemd-analyze") else "systemd-analyze not found: units not verified")
    if enable:
        click.echo("enabled: rem-dreaming.timer")
    elif sch.has_systemd():
        click.echo("enable it with:")
        for cmd in res.commands:
            click.echo(f"  {cmd}")
    else:
        click.echo("systemd is not running here. Use cron instead (crontab -e):")
        click.echo(f"  {res.crontab}")
        click.echo("or keep a scheduler running yourself: rem daemon --cron \"0 3 * * *\"")


@schedule.command("status")
@click.option("--user/--system", "user", default=True, show_default=True)
@click.option("--unit-dir", type=click.Path(file_okay=False), help="Where the units were written.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_ctx
def schedule_status(c: Ctx, user: bool, unit_dir: str | None, as_json: bool) -> None:
    """Installed? enabled? next run; and the last scheduled dream and its result."""
    from . import schedule as sch

    info = sch.status(user=user, directory=Path(unit_dir) if unit_dir else None)
    with c.store.read() as con:
        last = arrow(con, """SELECT started_at, status, coalesce(error, reason) AS note FROM dream_runs
                             WHERE trigger IN ('scheduled', 'daemon') ORDER BY started_at DESC LIMIT 1""").to_pylist()
    info["last_run"] = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in last[0].items()} if last else None
    if as_json:
        click.echo(json.dumps(info, indent=2, default=str))
        return
    for k, v in info.items():
        click.echo(f"{k:<12} {v}")


@schedule.command("uninstall")
@click.option("--user/--system", "user", default=True, show_default=True)
@click.option("--unit-dir", type=click.Path(file_okay=False), help="Where the units were written.")
def schedule_uninstall(user: bool, unit_dir: str | None) -> None:
    """Disable the timer and remove the units."""
    from . import schedule as sch

    removed = sch.uninstall(user=user, directory=Path(unit_dir) if unit_dir else None)
    click.echo("\n".join(f"removed {p}" for p in removed) or "nothing to remove")


@cli.command()
@click.option("--cron", "expr", default="0 3 * * *", show_default=True, help="When to dream (cron, local time zone; a 6th field adds seconds).")
@click.option("--threshold", type=click.IntRange(1), help="Also dream as soon as N new resources or sessions arrived since the last dream.")
@click.option("--min-interval", default="1h", show_default=True, help="Never dream for the threshold more often than this.")
@click.option("--check-every", default="5m", show_default=True, help="How often the threshold is checked.")
@click.option("--max-runs", type=click.IntRange(1), help="Stop after this many dreams (for testing).")
@click.option("--yield-to-user/--no-yield-to-user", default=True, show_default=True,
              help="Stop a dream between model calls while other programs keep the CPU busy (retried next time).")
@click.option("--llm", "model", help="Model name (OpenAI-compatible).")
@click.option("--llm-base-url", "base_url", help="OpenAI-compatible endpoint URL.")
@pass_ctx
def daemon(c: Ctx, expr: str, threshold: int | None, min_interval: str, check_every: str, max_runs: int | None,
           yield_to_user: bool, model: str | None, base_url: str | None) -> None:
    """Dream on a cron schedule without systemd (containers, macOS).
    SIGTERM or Ctrl-C stop it cleanly."""
    from .daemon import Daemon
    from .dream.run import DreamOptions
    from .dream.run import dream as run_dream

    d = cfg.dream_defaults()
    settings = cfg.resolve_llm(model=model, base_url=base_url)

    def once(reason: str) -> None:
        r = run_dream(c.store, settings, DreamOptions(lookback_hours=d["lookback_hours"], scheduled=True, trigger="daemon",
                                                      gap_minutes=d["gap_minutes"], max_input_tokens=d["max_input_tokens"],
                                                      concurrency=d["concurrency"], progress=False,
                                                      yield_to_user=yield_to_user))
        click.echo(f"{datetime.now().astimezone():%Y-%m-%d %H:%M:%S} dream {r.run_id[:8]} {r.status} ({reason})"
                   + (f": {r.stats.moments_created} new moments" if r.stats else f": {r.message}"))

    dm = Daemon(c.store, expr, once, threshold=threshold, min_interval=parse_duration(min_interval, "--min-interval"),
                check_every=parse_duration(check_every, "--check-every"), max_runs=max_runs)
    click.echo(f"rem daemon: dreaming on '{expr}' for {c.store.path}" + (f", or after {threshold} new items" if threshold else ""))
    n = dm.run()
    click.echo(f"stopped after {n} dream(s)")
    if dm.stop.is_set():
        # stopped by a signal, maybe during a dream: its ledger row says `interrupted`; do not wait
        # for model requests still in flight
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


@cli.command()
@click.option("--llm", "model", help="Check this model instead of the configured one.")
@click.option("--llm-base-url", "base_url", help="Check this endpoint instead of the configured one.")
@pass_ctx
def doctor(c: Ctx, model: str | None, base_url: str | None) -> None:
    """Check the database, the model endpoint, the schedule and recent runs.
    Exits non-zero and says what to do when something is wrong."""
    from .doctor import run_checks

    problems = 0
    for level, name, msg in run_checks(c.store, model=model, base_url=base_url):
        mark = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}[level]
        click.echo(f"[{mark}] {name}: {msg}")
        problems += level == "fail"
    if problems:
        click.echo(f"{problems} problem(s) found")
        sys.exit(1)


# -- demo / maintenance ----------------------------------------------------------
@cli.command("demo-data")
@click.option("--out", type=click.Path(file_okay=False), help="Where to write the source files (default: a folder beside the database).")
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed (same seed, same week).")
@click.option("--days", type=click.IntRange(1, 60), default=7, show_default=True, help="Days of activity.")
@click.option("--end", "end_date", help="Last day of the week (YYYY-MM-DD; default yesterday).")
@click.option("--no-ingest", is_flag=True, help="Only write the files.")
@pass_ctx
def demo_data(c: Ctx, out: str | None, seed: int, days: int, end_date: str | None, no_ingest: bool) -> None:
    """Write and ingest a realistic, seeded week of activity: notes, a git
    repository, chat sessions with tool calls, a ChatGPT export and documents,
    with known ground-truth work blocks (ground_truth.json)."""
    from .demo import generate, ingest_all

    folder = Path(out) if out else c.store.path.parent / "rem-demo"
    info = generate(folder, seed=seed, days=days, end_date=end_date)
    click.echo(f"wrote demo activity to {folder} ({info['blocks']} work blocks over {days} days, "
               f"{info['messages']} messages, {info['commits']} commits, {info['notes']} notes)")
    if not no_ingest:
        for line in ingest_all(c.store, folder):
            click.echo(line)


@cli.command()
@pass_ctx
def compact(c: Ctx) -> None:
    """Rewrite the activity tables in time order and the edges in source-key
    order (keeps window scans and `rem graph traverse` fast)."""
    from .maintenance import compact as do_compact

    for name, n, secs in do_compact(c.store):
        click.echo(f"{name}: {n} rows re-sorted in {secs:.2f}s")


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="rem", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except InterruptedRun as e:
        # the ledger already says `interrupted`; do not wait for model requests still in flight
        click.echo(f"Error: {e}", err=True)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)
    except RemError as e:
        click.echo(f"Error: {e}", err=True)
        sys.exit(1)
    except duckdb.Error as e:
        from .store import explain_db_error

        click.echo(f"Error: {explain_db_error(e)}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
