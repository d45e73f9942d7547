"""The ``rem`` command line.

One module per family — :mod:`.data` (init, config, ingest, query,
demo-data), :mod:`.dreaming` (dream, moments, report, runs), :mod:`.graph`, :mod:`.quality` (eval),
:mod:`.ops` (schedule, daemon, doctor, compact) — with the options they share
in :mod:`.common`. Commands hold no SQL (except the user's own in ``rem
query``): they call the modules that own the tables.
"""

from __future__ import annotations

import os
import sys

import click
import duckdb

from ..exceptions import InterruptedRun, RemError
from . import data, dreaming, graph, ops, quality
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


for _family in (data, dreaming, graph, ops, quality):
    for _command in _family.COMMANDS:
        cli.add_command(_command)


def main(argv: list[str] | None = None) -> None:
    """Run ``rem``: expected failures print one message and exit non-zero."""
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
        from ..store import explain_db_error

        click.echo(f"Error: {explain_db_error(e)}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)


__all__ = ["cli", "main"]
