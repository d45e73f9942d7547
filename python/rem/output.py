"""Result formatting shared by every command that prints rows:
``--table`` (default on a terminal), ``--json``, ``--nl`` (newline-delimited
JSON) and ``--csv`` (the default when stdout is not a terminal is JSON)."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import click
import pyarrow as pa

FORMATS = ("table", "json", "nl", "csv")


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


def render(t: pa.Table, fmt: str) -> str:
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
    footer = f"({len(rows)} row{'s' if len(rows) != 1 else ''})"
    return "\n".join([line, sep, *body, footer])


def echo_table(t: pa.Table, fmt: str | None) -> None:
    click.echo(render(t, default_format(fmt)))


