"""The ``rem`` command line.

One module per family — :mod:`.data` (init, config, ingest, query, export,
import, demo-data), :mod:`.dreaming` (dream, moments, report, runs, review),
:mod:`.corrections` (moment edits), :mod:`.search` (search, ask),
:mod:`.graph`, :mod:`.quality` (eval), :mod:`.ops` (schedule, daemon, doctor,
compact), :mod:`.agents` (mcp, serve: what agents and browsers use), :mod:`.fleet` — with the
options they share in :mod:`.common`. Commands hold no SQL (except the user's
own in ``rem query``): they call the modules that own the tables.
"""

from __future__ import annotations

import contextlib
import os
import sys

import click

from ..exceptions import InterruptedRun, RemError
from ..output import protected_terminal
from . import agents, corrections, data, dreaming, fleet, graph, ops, quality, search
from .common import Ctx


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
    from ..logs import configure

    configure(verbose)
    ctx.obj = Ctx(db, verbose)


for _family in (data, search, dreaming, corrections, graph, ops, quality, agents, fleet):
    for _command in _family.COMMANDS:
        cli.add_command(_command)


def main(argv: list[str] | None = None) -> None:
    """Run ``rem``: expected failures print one message and exit non-zero; an
    unexpected one prints one line (what failed, where the traceback went)
    and exits 1. Everything printed for people goes through the terminal
    filter (:func:`rem.output.safe`)."""
    with protected_terminal():
        _main(sys.argv[1:] if argv is None else list(argv))


def _main(argv: list[str]) -> None:
    bad = next((a for a in argv if "\x00" in a), None)
    if bad is not None:  # a shell cannot pass one; a program calling rem can, and no path or value holds it
        click.echo(f"Error: the argument {bad!r} contains a NUL byte (\\0), which no file name or value can hold",
                   err=True)
        sys.exit(2)
    try:
        cli.main(args=argv, prog_name="rem", standalone_mode=False)
    except BrokenPipeError:
        # the reader went away (`rem query … | head`): not an error
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(0)
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
    except _db_errors() as e:
        if _interrupted(e):
            click.echo("interrupted", err=True)
            sys.exit(130)
        from ..store import explain_db_error

        click.echo(f"Error: {explain_db_error(e)}", err=True)  # type: ignore[arg-type]
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except OSError as e:  # a path the user gave that the system refuses (too long, a directory, no permission, disk full)
        what = f"{os.fsdecode(e.filename)[:200]}: " if e.filename else ""
        click.echo(f"Error: {what}{e.strerror or e}", err=True)
        sys.exit(1)
    except Exception as e:  # noqa: BLE001 - anything else is a bug: one line here, the traceback in the log
        if _interrupted(e):
            click.echo("interrupted", err=True)
            sys.exit(130)
        from ..logs import record_crash

        where = record_crash(argv, e)
        command = next((a for a in argv if not a.startswith("-") and a in cli.commands), "rem")
        click.echo(f"Error: `rem {command}` failed unexpectedly ({type(e).__name__}: "
                   f"{(str(e).splitlines() or [''])[0][:300]}). Nothing was half-written (REM writes in transactions). "
                   f"This is a bug in REM: the traceback is in {where}"
                   + ("" if _verbose(argv) else "; rerun with --verbose to print it") + ".", err=True)
        if _verbose(argv):
            import traceback

            traceback.print_exception(e, file=sys.stderr)
        sys.exit(1)


def _db_errors() -> tuple[type[BaseException], ...]:
    """DuckDB's errors, once a command has loaded DuckDB (`rem --help` never does)."""
    duck = sys.modules.get("duckdb")
    return (duck.Error,) if duck is not None else ()


def _interrupted(e: BaseException) -> bool:
    """Ctrl-C while DuckDB ran a statement: it stops the statement and raises its own error instead of
    KeyboardInterrupt (``InterruptException``, or a ``RuntimeError`` "Query interrupted" from a COMMIT)."""
    duck = sys.modules.get("duckdb")
    if duck is not None and isinstance(e, getattr(duck, "InterruptException", ())):
        return True
    return isinstance(e, RuntimeError) and str(e).strip() == "Query interrupted"


def _verbose(argv: list[str]) -> bool:
    return "-v" in argv or "--verbose" in argv or os.environ.get("REM_LOG_LEVEL", "").upper() == "DEBUG"


__all__ = ["cli", "main"]
