"""Running unattended and keeping the house: schedule, daemon, doctor, compact."""

from __future__ import annotations

import os
import shutil
import sys
from datetime import datetime
from pathlib import Path

import click

from .. import config as cfg
from ..output import echo_json
from .common import Ctx, json_option, llm_options, parse_duration, pass_ctx


@click.group()
def schedule() -> None:
    """Dream every night with a systemd timer (03:00 by default, Persistent=true
    so a missed night runs at the next boot), or print the crontab line."""


def unit_options(f):  # type: ignore[no-untyped-def]
    f = click.option("--unit-dir", type=click.Path(file_okay=False), help="Where the units are (for packaging or testing).")(f)
    return click.option("--user/--system", "user", default=True, show_default=True,
                        help="A user unit (~/.config/systemd/user) or a system one (/etc/systemd/system, needs root).")(f)


@schedule.command("install")
@unit_options
@click.option("--at", "at", help="Time of day, HH:MM (default 03:00).")
@click.option("--cron", "cron", help="A 5-field cron expression instead of --at.")
@click.option("--enable", is_flag=True, help="Also run the systemctl commands that enable the timer.")
@pass_ctx
def schedule_install(c: Ctx, user: bool, unit_dir: str | None, at: str | None, cron: str | None, enable: bool) -> None:
    """Write rem-dreaming.service and .timer with this rem and this database."""
    from ..ops import schedule as sch

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
@unit_options
@json_option
@pass_ctx
def schedule_status(c: Ctx, user: bool, unit_dir: str | None, as_json: bool) -> None:
    """Installed? enabled? next run; and the last scheduled dream and its result."""
    from .. import ledger
    from ..ops import schedule as sch

    info = sch.status(user=user, directory=Path(unit_dir) if unit_dir else None)
    with c.store.read() as con:
        last = ledger.last_scheduled(con)
    info["last_run"] = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in last.items()} if last else None
    if as_json:
        echo_json(info, indent=2)
        return
    for k, v in info.items():
        click.echo(f"{k:<12} {v}")


@schedule.command("uninstall")
@unit_options
def schedule_uninstall(user: bool, unit_dir: str | None) -> None:
    """Disable the timer and remove the units."""
    from ..ops import schedule as sch

    removed = sch.uninstall(user=user, directory=Path(unit_dir) if unit_dir else None)
    click.echo("\n".join(f"removed {p}" for p in removed) or "nothing to remove")


@click.command()
@click.option("--cron", "expr", default="0 3 * * *", show_default=True, help="When to dream (cron, local time zone; a 6th field adds seconds).")
@click.option("--threshold", type=click.IntRange(1), help="Also dream as soon as N new resources or sessions arrived since the last dream.")
@click.option("--min-interval", default="1h", show_default=True, help="Never dream for the threshold more often than this.")
@click.option("--check-every", default="5m", show_default=True, help="How often the threshold is checked.")
@click.option("--max-runs", type=click.IntRange(1), help="Stop after this many dreams (for testing).")
@click.option("--yield-to-user/--no-yield-to-user", default=True, show_default=True,
              help="Stop a dream between model calls while other programs keep the CPU busy (retried next time).")
@llm_options
@pass_ctx
def daemon(c: Ctx, expr: str, threshold: int | None, min_interval: str, check_every: str, max_runs: int | None,
           yield_to_user: bool, model: str | None, base_url: str | None, local_model: str | None) -> None:
    """Dream on a cron schedule without systemd (containers, macOS).
    SIGTERM or Ctrl-C stop it cleanly."""
    from ..dream.run import DreamOptions, chunk_budget
    from ..dream.run import dream as run_dream
    from ..ops.daemon import Daemon
    from .dreaming import dream_guards

    d = cfg.dream_defaults(c.settings.file)
    settings = cfg.resolve_llm(model=model, base_url=base_url, local_model=local_model, file_cfg=c.settings.file)
    min_interval_s = parse_duration(min_interval, "--min-interval")
    check_every_s = parse_duration(check_every, "--check-every")

    def once(reason: str) -> None:
        r = run_dream(c.store, settings, DreamOptions(
            lookback_hours=d["lookback_hours"], scheduled=True, trigger="daemon", gap_minutes=d["gap_minutes"],
            max_input_tokens=chunk_budget(settings, None, d["max_input_tokens"]), concurrency=d["concurrency"],
            progress=False, **dream_guards(c.settings.file, scheduled=True, force=False, yield_to_user=yield_to_user)))
        click.echo(f"{datetime.now().astimezone():%Y-%m-%d %H:%M:%S} dream {r.run_id[:8]} {r.status} ({reason})"
                   + (f": {r.stats.moments_created} new moments" if r.stats else f": {r.message}"))

    dm = Daemon(c.store, expr, once, threshold=threshold, min_interval=min_interval_s, check_every=check_every_s,
                max_runs=max_runs)
    click.echo(f"rem daemon: dreaming on '{expr}' for {c.store.path}" + (f", or after {threshold} new items" if threshold else ""))
    n = dm.run()
    click.echo(f"stopped after {n} dream(s)")
    if dm.stop.is_set():
        # stopped by a signal, maybe during a dream: its ledger row says `interrupted`; do not wait
        # for model requests still in flight
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


@click.command()
@llm_options
@pass_ctx
def doctor(c: Ctx, model: str | None, base_url: str | None, local_model: str | None) -> None:
    """Check the database, the model endpoint, the schedule and recent runs.
    Exits non-zero and says what to do when something is wrong."""
    from ..ops.doctor import run_checks

    problems = 0
    for level, name, msg in run_checks(c.store, model=model, base_url=base_url, local_model=local_model):
        mark = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}[level]
        click.echo(f"[{mark}] {name}: {msg}")
        problems += level == "fail"
    if problems:
        click.echo(f"{problems} problem(s) found")
        sys.exit(1)


@click.command()
@pass_ctx
def compact(c: Ctx) -> None:
    """Rewrite the activity tables in time order and the edges in source-key
    order (keeps window scans and `rem graph traverse` fast)."""
    from ..ops.maintenance import compact as do_compact

    for name, n, secs in do_compact(c.store):
        click.echo(f"{name}: {n} rows re-sorted in {secs:.2f}s")


COMMANDS = (schedule, daemon, doctor, compact)
