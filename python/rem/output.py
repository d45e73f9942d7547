"""What REM prints: result formats, tables and progress bars.

Rows are printed as ``--table`` (default on a terminal), ``--json`` (the
default when stdout is not a terminal), ``--nl`` (newline-delimited JSON)
or ``--csv``. On a terminal, tables and progress bars are drawn by ``rich``;
elsewhere (pipes, files, tests) tables are plain aligned text and progress
bars are not drawn. The JSON, NL and CSV formats are the same everywhere.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import click
import pyarrow as pa

FORMATS = ("table", "json", "nl", "csv")
T = TypeVar("T")


def output_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Add --table/--json/--nl/--csv (mutually exclusive; last wins)."""
    for name, help_ in reversed([
        ("table", "Aligned text table (default on a terminal)."),
        ("json", "A JSON array of objects (default when piped)."),
        ("nl", "Newline-delimited JSON, one object per line."),
        ("csv", "CSV with a header row."),
    ]):
        f = click.option(f"--{name}", "fmt", flag_value=name, help=help_)(f)
    return f


def default_format(fmt: str | None) -> str:
    if fmt:
        return fmt
    return "table" if sys.stdout.isatty() else "json"


def _plain(v: Any) -> Any:
    if isinstance(v, datetime | date | time):
        return v.isoformat()
    if isinstance(v, timedelta):
        return str(v)
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    return v


def rows_of(t: pa.Table) -> list[dict[str, Any]]:
    """A table's rows as JSON-ready dicts (times as ISO 8601 strings)."""
    names = t.column_names
    cols = [t.column(i).to_pylist() for i in range(t.num_columns)]
    return [{names[i]: _plain(cols[i][r]) for i in range(len(names))} for r in range(t.num_rows)]


def _cell(v: Any, width: int = 60) -> str:
    if v is None:
        s = ""
    elif isinstance(v, list | dict):
        s = json.dumps(v, ensure_ascii=False, default=str)
    else:
        s = str(v)
    s = " ".join(s.split())
    return s if len(s) <= width else s[: width - 1] + "…"


def _footer(n: int) -> str:
    return f"({n} row{'s' if n != 1 else ''})"


def render(t: pa.Table, fmt: str) -> str:
    """``t`` as text in ``fmt`` (the table format as plain aligned text)."""
    rows = rows_of(t)
    names = t.column_names
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False, indent=2, default=str)
    if fmt == "nl":
        return "\n".join(json.dumps(r, ensure_ascii=False, default=str) for r in rows)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(names)
        for r in rows:
            w.writerow([json.dumps(v, ensure_ascii=False) if isinstance(v, list | dict) else ("" if v is None else v) for v in r.values()])
        return buf.getvalue().rstrip("\n")
    cells = [[_cell(r[n]) for n in names] for r in rows]
    widths = [max([len(n)] + [len(c[i]) for c in cells]) for i, n in enumerate(names)]
    line = "  ".join(n.ljust(widths[i]) for i, n in enumerate(names))
    sep = "  ".join("-" * w for w in widths)
    body = ["  ".join(c[i].ljust(widths[i]) for i in range(len(names))) for c in cells]
    return "\n".join([line, sep, *body, _footer(len(rows))])


def _rich_table(t: pa.Table) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for n in t.column_names:
        table.add_column(n, overflow="fold", max_width=60)
    for r in rows_of(t):
        table.add_row(*(_cell(r[n]) for n in t.column_names))
    console = Console(highlight=False, markup=False, emoji=False)
    console.print(table)
    console.print(_footer(t.num_rows), style="dim")


def echo_table(t: pa.Table, fmt: str | None) -> None:
    """Print ``t`` in ``fmt`` (default: a table on a terminal, JSON otherwise)."""
    fmt = default_format(fmt)
    if fmt == "table" and sys.stdout.isatty():
        _rich_table(t)
    else:
        click.echo(render(t, fmt))


class Progress:
    """A progress bar on stderr (drawn by ``rich``, only on a terminal).

    ``with Progress(total, "dreaming", unit="chunks") as bar: bar.advance()``.
    """

    def __init__(self, total: int | None, label: str, *, enabled: bool | None = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.total, self.label = total, label
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress

            self._progress = RichProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                          TimeElapsedColumn(), console=Console(file=sys.stderr), transient=False)
            self._progress.start()
            self._task = self._progress.add_task(self.label, total=self.total)
        return self

    def advance(self, n: int = 1) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()


def track(items: Iterable[T], label: str, *, total: int | None = None, enabled: bool | None = None) -> Iterator[T]:
    """Iterate ``items`` with a progress bar (on a terminal)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with Progress(total, label, enabled=enabled) as bar:
        for x in items:
            yield x
            bar.advance()
