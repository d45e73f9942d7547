"""Dreaming and what it made: dream, moments, report, runs."""

from __future__ import annotations

import gc
import json
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from .. import config as cfg
from ..output import echo_json, echo_table, output_options, rows_of, safe
from .common import Ctx, Finite, day_bounds, json_option, llm_options, parse_duration, pass_ctx


def _about(c: Ctx, about: str, as_json: bool) -> list[date]:
    """The days of the time ``about`` names that no dream has seen, oldest first; said on stderr (or, when there
    are none, on stdout, as JSON with ``as_json``)."""
    from .. import ask
    from ..days import local_zone
    from ..exceptions import SearchError

    try:
        q: ask.Question | None = ask.read_question(about)
    except SearchError:  # empty, or nothing but question marks
        q = None
    if q is None or q.window is None:
        said = safe(" ".join(about.split())[:60])
        raise click.UsageError(f"--about “{said}” names no time: try “last week”, “yesterday”, "
                               "“in May” or “since Monday”")
    days = ask.undreamed(c.store, q)
    named = safe(ask.time_named(q))
    if days:
        click.echo(f"{named}: {len(days)} day{'s' if len(days) > 1 else ''} with activity no dream has seen, "
                   f"{days[0]:%a %-d %b %Y}" + (f" – {days[-1]:%a %-d %b %Y}" if len(days) > 1 else ""), err=True)
        return days
    if q.window[0] > datetime.now(local_zone()).date():
        said = f"{named}: nothing to dream, that time is still to come"
    else:
        said = (f"{named}: nothing to dream (every day of it with activity was dreamed already; "
                "--start and --end dream it again)")
    if as_json:
        echo_json({"about": about, "window": q.public()["window"], "days": [], "message": said}, indent=2)
    else:
        click.echo(said)
    return []


def dream_guards(file_cfg: dict[str, Any], *, scheduled: bool, force: bool, yield_to_user: bool) -> dict[str, Any]:
    """The readiness check and yield watcher a dream consults, from the config ``file_cfg``."""
    from ..ops.readiness import Readiness, YieldWatcher

    return {"readiness": Readiness.from_config(file_cfg) if scheduled and not force else None,
            "yield_watcher": YieldWatcher.from_config(file_cfg) if yield_to_user else None}


@click.command()
@click.option("--lookback-hours", type=Finite(min=0, min_open=True), help="Window: the last N hours (default 24).")
@click.option("--start", help="Window start (date or time; local unless an offset is given).")
@click.option("--end", help="Window end (a bare date includes that whole day).")
@click.option("--about", help='The time a phrase names ("last week", "yesterday", "in May", "my week"): dream the days of it '
                              "that hold activity no dream has seen yet (--start/--end dream a window again).")
@click.option("--dry-run", is_flag=True, help="Collect, segment and pack; print the plan; call no model.")
@click.option("--now", "now_flag", is_flag=True, help="A manual, on-demand dream (the default when not --scheduled).")
@click.option("--scheduled", is_flag=True, help="Start where the last successful dream ended (at most 7 days back); used by the timer and daemon. Skipped when the machine is busy or in quiet hours.")
@click.option("--force", is_flag=True, help="Run a scheduled dream even if the machine is busy or in quiet hours.")
@click.option("--gap-minutes", type=Finite(min=0), help="Idle gap that starts a new segment (default 30).")
@click.option("--max-input-tokens", type=click.IntRange(64, 10_000_000), help="Token budget per chunk (estimate; default 6000).")
@click.option("--concurrency", type=click.IntRange(1, 64), help="Chunks sent to the model at once (default 4).")
@click.option("--max-cost", type=Finite(min=0), help="Refuse the run if its estimated cost (USD) exceeds this.")
@click.option("--moment-types", help="Keep only these moment types (comma-separated, e.g. work_session,learning).")
@click.option("--min-duration-minutes", type=Finite(min=0), help="Drop moments shorter than this.")
@click.option("--summary-only", is_flag=True, help="Write the period summary only, no moments.")
@click.option("--output", type=click.Path(dir_okay=False, writable=True), help="Save the moments (or, with --dry-run, the packed chunks and refs) as JSON.")
@click.option("--verbose", "verbose_out", is_flag=True, help="Print every moment in detail.")
@click.option("--debug", is_flag=True, help="Print the packed chunks, prompts and raw answers (secrets masked).")
@llm_options
@click.option("--late-days", type=click.IntRange(min=0),
              help="Also dream up to N days before the window that hold activity no dream has seen (an export or "
                   "pull with old timestamps), newest first. Default: 31 for --scheduled, 0 otherwise.")
@click.option("--if-new", "if_new", type=click.IntRange(1), help="Dream only if at least N new resources or sessions arrived since the last dream.")
@click.option("--yield-to-user", is_flag=True,
              help="Stop between model calls (writing nothing; the run is `interrupted`) when other programs keep "
                   "the CPU busy for a minute — see [schedule] yield_other_load / yield_after_s.")
@click.option("--timeout", "run_timeout", default="2h", show_default=True,
              help="Stop the run (between model calls, writing nothing) after this long: 90s, 30m, 2h.")
@click.option("--review/--no-review", "review", default=None,
              help="Keep the moments waiting in the review inbox (rem review, the web view's Review page) until you "
                   "accept them; they feed the graph only then. Default: [dream] review (off).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def dream(c: Ctx, lookback_hours: float | None, start: str | None, end: str | None, about: str | None, dry_run: bool,
          now_flag: bool, scheduled: bool, force: bool, gap_minutes: float | None, max_input_tokens: int | None, concurrency: int | None,
          max_cost: float | None, moment_types: str | None, min_duration_minutes: float | None, summary_only: bool,
          output: str | None, verbose_out: bool, debug: bool, model: str | None, base_url: str | None,
          local_model: str | None, late_days: int | None, if_new: int | None, yield_to_user: bool, run_timeout: str,
          review: bool | None, as_json: bool) -> None:
    """Turn a window of activity into moments, summaries and graph edges.

    Collects the window, packs it (Rust), sends the chunks to the model
    (database closed meanwhile), resolves the answers against the ref table and
    writes moments, entities, edges, a summary resource and the run's ledger
    row in one transaction. Nothing to dream is not an error (exit 0).

    With --dry-run: print the window, segment and chunk counts, the estimated
    input tokens (an offline estimate) and the estimated cost; call no model.
    """
    from .. import ledger
    from ..dream.plan import plan
    from ..dream.run import DreamOptions, chunk_budget
    from ..dream.run import dream as run_dream
    from ..ledger import RunStatus

    if now_flag and scheduled:
        raise click.UsageError("--now and --scheduled exclude each other")
    if about is not None:
        if start or end or lookback_hours is not None or scheduled:
            raise click.UsageError("--about names the window itself: leave out --start, --end, --lookback-hours and --scheduled")
        days = _about(c, about, as_json)
        if not days:
            return
        start, end = days[0].isoformat(), days[-1].isoformat()
    timeout_s = parse_duration(run_timeout, "--timeout")
    d = cfg.dream_defaults(c.settings.file)
    settings = cfg.resolve_llm(model=model, base_url=base_url, local_model=local_model, file_cfg=c.settings.file)
    lookback = lookback_hours if lookback_hours is not None else (None if (start or end) else d["lookback_hours"])
    gap = gap_minutes if gap_minutes is not None else d["gap_minutes"]
    budget = chunk_budget(settings, max_input_tokens, d["max_input_tokens"])
    if dry_run:
        p = plan(c.store, settings, lookback_hours=lookback, start=start, end=end, gap_minutes=gap, max_input_tokens=budget)
        if output:
            Path(output).write_text(json.dumps(p.to_json(include_chunks=True), indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
        if as_json:
            echo_json(p.to_json(include_chunks=debug), indent=2)
            return
        click.echo(p.describe())
        if debug:
            for ch in p.packed.chunks.to_pylist():
                click.echo(f"\n===== chunk {ch['chunk']} ({ch['est_tokens']} est. tokens, {ch['n_items']} items) =====")
                click.echo(ch["text"], nl=False)
        if output:
            click.echo(f"wrote {output}")
        return
    if if_new is not None:
        from ..ops.daemon import new_activity_since_last_dream

        n_new = new_activity_since_last_dream(c.store)
        if n_new < if_new:
            reason = f"only {n_new} new resources/sessions since the last dream (--if-new {if_new})"
            rid = ledger.record_skip(c.store, reason, "threshold")
            click.echo(f"skipped: {reason} (run {rid[:8]})")
            return
    opts = DreamOptions(
        lookback_hours=lookback, start=start, end=end, gap_minutes=gap, max_input_tokens=budget,
        concurrency=concurrency or d["concurrency"], max_cost=max_cost,
        moment_types=[t.strip() for t in moment_types.split(",") if t.strip()] if moment_types else None,
        min_duration_minutes=min_duration_minutes, summary_only=summary_only, scheduled=scheduled,
        trigger="scheduled" if scheduled else "manual", force=force, run_timeout_s=timeout_s, late_days=late_days,
        review=d["review"] if review is None else review,
        debug=(lambda text: click.echo(text, err=True)) if debug else None,
        **dream_guards(c.settings.file, scheduled=scheduled, force=force, yield_to_user=yield_to_user),
    )
    result = run_dream(c.store, settings, opts)
    if output and result.resolution is not None:
        Path(output).write_text(json.dumps([m.public() for m in result.resolution.moments], indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    shown = result.public() if as_json else describe_result(result, verbose_out)
    if opts.review and result.stats is not None and result.stats.moments_created and not as_json:
        click.echo(f"{result.stats.moments_created} moment(s) wait for your review: rem review (or the web view's Review page)",
                   err=True)
    refused = result.status == RunStatus.SKIPPED and result.plan is not None
    index_now, run_id = result.status == RunStatus.OK or bool(result.late), result.run_id
    # the dream's activity, chunks and moments (over a gigabyte on a day of a million messages) are
    # let go before the search index reads the new rows
    del result
    gc.collect()
    _give_back_freed_memory()
    if index_now:
        from ..logs import run_context
        from .data import index_for_search

        with run_context(run_id):
            index_for_search(c.store)  # the new moments are searchable now (measured in BENCHMARKS.md)
    if isinstance(shown, dict):
        echo_json(shown, indent=2)
    else:
        click.echo(shown)
    if refused:
        sys.exit(1)  # refused by --max-cost


def _described_by(extracted: int, total: int, model_tokens: int) -> str:
    if not total or not extracted:
        return ""
    if extracted < total:
        return f" ({extracted} described by REM's extraction, the rest by the model)"
    return " (described by REM's extraction" + ("; the model's answers did not hold up)" if model_tokens else ")")


def describe_result(r: Any, verbose: bool) -> str:
    """What a finished dream prints: counts, the model's cost, its moments
    (and the runs that dreamed late-arriving activity)."""
    from .. import moments as moments_mod
    from ..ledger import RunStatus

    late = [f"late activity: {x.plan.window.start.astimezone():%a %d %b %Y} dreamed again by run {x.run_id[:8]}: {x.status}"
            + (f", {x.stats.moments_created} new moments" if x.stats else "") for x in getattr(r, "late", []) if x.plan]
    if getattr(r, "late_days_left", 0):
        late.append(f"late activity: {r.late_days_left} more day(s) wait for the next dream "
                    "(or run `rem dream --late-days 365` now)")
    if r.status in (RunStatus.NOTHING_TO_DO, RunStatus.SKIPPED) or r.stats is None:
        return "\n".join([f"{r.status}: {r.message} (run {r.run_id[:8]})", *late])
    st, rs = r.stats, r.resolution
    cost = f"${r.cost:.4f}" if r.cost is not None else "unknown"
    lines = [
        f"dream {r.run_id[:8]} ok in {r.duration_s:.1f}s — window {r.plan.window}",
        f"moments     {st.moments_created} new, {st.moments_merged} merged, {st.moments_superseded} superseded"
        + _described_by(rs.fallback_moments, len(rs.moments), r.usage.tokens_out),
        f"entities    {st.entities_created} new",
        f"edges       {st.edges_added} added, {st.edges_reinforced} reinforced",
        f"model       {r.plan.settings.model}: {r.usage.tokens_in:,} tokens in, {r.usage.tokens_out:,} out, cost {cost}",
    ]
    if rs.dropped_refs or rs.dropped_moments:
        lines.append(f"dropped     {rs.dropped_refs} unknown refs, {rs.dropped_moments} moments without a valid ref")
    lines.append("")
    for m in rs.moments:
        lines += ["  " + x for x in moments_mod.as_text(m, detail=verbose, with_day=True)]
    if r.summary:
        lines += ["", "summary: " + r.summary]
    if late:
        lines += ["", *late]
    return "\n".join(lines)


@click.group(invoke_without_command=True)
@click.option("--day", help="today, yesterday or YYYY-MM-DD (local time).")
@click.option("--since", help="Moments starting at or after this date/time.")
@click.option("--tag", "tags", multiple=True, help="Only moments with this topic tag (repeatable).")
@click.option("--type", "mtype", help="Only this moment type.")
@click.option("--limit", type=click.IntRange(min=1), default=200, show_default=True, help="At most this many moments.")
@output_options
@pass_ctx
@click.pass_context
def moments(ctx: click.Context, c: Ctx, day: str | None, since: str | None, tags: tuple[str, ...], mtype: str | None,
            limit: int, fmt: str | None) -> None:
    """A readable journal of moments (default: the last 7 days), and the
    corrections later dreams respect: edit, merge, split, delete, pin, undo.

    \b
    rem moments --day yesterday
    rem moments --tag diskann --json
    rem moments edit 1a2b3c4d --name "Shipping DiskANN behind a flag" --people "Alice Chen,Priya Raman"
    rem moments history 1a2b3c4d
    """
    from .. import moments as moments_mod
    from ..values import parse_time

    if ctx.invoked_subcommand is not None:
        return
    end = None
    if day:
        start, end = day_bounds(day)
    elif since:
        start = parse_time(since, source="--since", field="value")
    else:
        start = datetime.now(UTC) - timedelta(days=7)
    with c.store.read() as con:
        t = moments_mod.between(con, start, end, tags=tags, moment_type=mtype, limit=limit)
    if fmt:
        echo_table(t, fmt)
        return
    rows = t.to_pylist()
    if not rows:
        click.echo("no moments in that range — run `rem dream` first, or widen --since")
        return
    last_day = None
    for m in rows:
        st = m["start_time"].astimezone()
        if st.date() != last_day:
            click.echo(f"\n{st:%A %d %B %Y}" + ("" if last_day else f"  (times in {_zone_label(st)})"))
            last_day = st.date()
        click.echo("\n" + "\n".join(moments_mod.as_text(m)))


def _zone_label(t: datetime) -> str:
    """``CET, UTC+01:00``; ``UTC`` alone."""
    name, off = t.strftime("%Z"), t.strftime("%z")
    shown = f"UTC{off[:3]}:{off[3:]}" if off else ""
    return name if name in ("UTC", shown) or not shown else f"{name}, {shown}"


@click.command()
@click.option("--day", help="today, yesterday or YYYY-MM-DD (local time). The default.")
@click.option("--week", is_flag=True, help="The week (Monday to Sunday, as in the web view) holding --day (default: yesterday's).")
@click.option("--last-7-days", "last7", is_flag=True, help="The seven days ending with --day (default: ending yesterday).")
@click.option("--run", "run_id", help="The digest one dream run wrote (its id or 8-character prefix).")
@click.option("--output", type=click.Path(dir_okay=False, writable=True), help="Write the Markdown here instead of printing it.")
@pass_ctx
def report(c: Ctx, day: str | None, week: bool, last7: bool, run_id: str | None, output: str | None) -> None:
    """A Markdown digest of your moments: a day, a week, or one dream run.

    Every successful dream also writes its own digest into the reports
    folder (beside the database, or $REM_REPORTS_DIR / [reports] dir),
    keeping the newest 30 ([reports] keep).

    \b
    rem report --day yesterday
    rem report --week                 # Monday to Sunday
    rem report --last-7-days
    rem report --run 1a2b3c4d
    """
    from .. import ledger
    from .. import report as rp

    if run_id and (day or week or last7):
        raise click.UsageError("--run excludes --day, --week and --last-7-days")
    if week and last7:
        raise click.UsageError("--week (Monday to Sunday) and --last-7-days exclude each other")
    if run_id:
        with c.store.read() as con:
            rid = ledger.find(con, run_id)
        f = rp.find_run_digest(c.store, rid)
        text = f.read_text(encoding="utf-8") if f else rp.run_digest(c.store, rid)
    else:
        d0, d1 = day_bounds(day or "yesterday")
        if week:
            from ..days import day_window, local_zone

            first = d0.astimezone(local_zone()).date()
            monday = first - timedelta(days=first.weekday())
            d0, d1 = day_window(monday, 7)
            text = rp.period_digest(c.store, d0, d1, f"REM week of {monday:%d %B %Y}")
        elif last7:
            d0 = d0 - timedelta(days=6)
            text = rp.period_digest(c.store, d0, d1, "REM, the last seven days")
        else:
            text = rp.period_digest(c.store, d0, d1, f"REM day — {d0:%A %d %B %Y}")
    if output:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)


@click.group(invoke_without_command=True)
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="Most recent runs to show.")
@output_options
@click.pass_context
def runs(ctx: click.Context, limit: int, fmt: str | None) -> None:
    """The dream ledger: one row per run with its status, counts and cost.

    \b
    rem runs                 # the latest runs
    rem runs show RUN_ID     # what one run made
    rem runs revert RUN_ID   # take it all back
    """
    from .. import ledger

    if ctx.invoked_subcommand is not None:
        return
    c: Ctx = ctx.obj
    with c.store.read() as con:
        t = ledger.recent(con, limit)
    echo_table(t, fmt)


@runs.command("show")
@click.argument("run_id")
@json_option
@pass_ctx
def runs_show(c: Ctx, run_id: str, as_json: bool) -> None:
    """What a run made: its ledger row, moments, edges added and reinforced, summary.
    RUN_ID may be the 8-character prefix `rem runs` shows."""
    from .. import ledger
    from .. import moments as moments_mod

    with c.store.read() as con:
        d = ledger.detail(con, ledger.find(con, run_id))
    row = rows_of_dicts([d.row])[0]
    if as_json:
        info = {"run": row, "moments": rows_of_dicts(d.moments), "edges": d.edges,
                "summary": {"content": d.summary} if d.summary else None}
        echo_json(info, indent=2)
        return
    click.echo(f"run {row['id']}: {row['status']} ({row['trigger']}), window {row['window_start']} → {row['window_end']}")
    for k in ("model", "tokens_in", "tokens_out", "estimated_cost_usd", "moments_created", "moments_merged",
              "moments_superseded", "fallback_moments", "entities_created", "edges_added", "edges_reinforced",
              "dropped_refs", "duration_s", "error", "reason"):
        if row.get(k) not in (None, 0, ""):
            click.echo(f"  {k:<20} {row[k]}")
    if d.moments:
        click.echo("moments:")
        for m in d.moments:
            click.echo("\n".join("  " + x for x in moments_mod.as_text(m, detail=False, with_day=True)))
    if d.edges:
        click.echo("edges: " + ", ".join(f"{e['action']} {e['n']} {e['edge_type']}" for e in d.edges))
    if d.summary:
        click.echo(f"summary: {d.summary}")


def rows_of_dicts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with JSON-ready values (times as ISO 8601)."""
    import pyarrow as pa

    return rows_of(pa.Table.from_pylist(rows)) if rows else []


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
    from ..dream.revert import revert

    p = revert(c.store, run_id, dry_run=True)
    click.echo(p.describe(done=False))
    if dry_run:
        return
    if not yes and not click.confirm("revert this run?", default=False, err=True):
        click.echo("nothing changed")
        return
    p = revert(c.store, run_id)
    click.echo(p.describe(done=True))


@click.group("review", invoke_without_command=True)
@click.pass_context
def review(ctx: click.Context) -> None:
    """The moments a dream made with --review (or [dream] review = true), waiting
    for you: list them, then accept or reject them. Accepted ones feed the graph;
    rejected ones are deleted and not proposed again (rem moments undo restores one).

    \b
    rem review
    rem review accept 1a2b3c4d 5e6f7a8b
    rem review reject 9c0d1e2f
    rem review accept --all
    """
    if ctx.invoked_subcommand is not None:
        return
    from ..moments import span
    from ..review import pending

    c: Ctx = ctx.find_object(Ctx)  # type: ignore[assignment]
    rows = pending(c.store)
    if not rows:
        click.echo("nothing waits for review")
        return
    click.echo(f"{len(rows)} moment(s) wait for review:")
    for m in rows:
        click.echo(f"  {m['id'][:8]}  {span(m, with_day=True)}  {m['name']}  ({m['moment_type']})")
    click.echo("accept or reject them: rem review accept ID… | rem review reject ID… (or --all)")


@review.command("accept")
@click.argument("moments", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Every moment waiting for review.")
@pass_ctx
def review_accept(c: Ctx, moments: tuple[str, ...], every: bool) -> None:
    """Keep these moments: they feed the graph from now on."""
    from ..review import accept

    click.echo(accept(c.store, moments, every=every).line())


@review.command("reject")
@click.argument("moments", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Every moment waiting for review.")
@pass_ctx
def review_reject(c: Ctx, moments: tuple[str, ...], every: bool) -> None:
    """Drop these moments; later dreams do not propose them again."""
    from ..review import reject

    click.echo(reject(c.store, moments, every=every).line())


COMMANDS = (dream, moments, report, runs, review)


def _give_back_freed_memory() -> None:
    """Hand the pages the dream freed back to the system before the search index is built: Arrow's allocator
    and glibc's keep freed pages for the process until told otherwise (on a day of a million messages, ~500 MB)."""
    import ctypes
    import ctypes.util

    if "pyarrow" in sys.modules:
        sys.modules["pyarrow"].default_memory_pool().release_unused()

    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        if libc is not None and hasattr(libc, "malloc_trim"):
            libc.malloc_trim(0)
    except OSError:
        pass
