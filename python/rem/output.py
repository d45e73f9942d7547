"""What REM prints: result formats, tables and progress bars.

Rows are printed as ``--table`` (default on a terminal), ``--json`` (the
default when stdout is not a terminal), ``--nl`` (newline-delimited JSON)
or ``--csv``. A table is plain aligned text, one line per row, fitted to the
terminal's width (or ``$COLUMNS`` off a terminal; no limit otherwise), its
header bold on a terminal; progress bars are drawn by ``rich`` on a terminal
only. The JSON, NL and CSV formats are the same everywhere, and every format
is printed from plain rows (:class:`Result`), so a DuckDB cursor prints
without pyarrow.

Terminal safety: text from activity (a commit message, an author, a file
name, a model's answer) may hold control characters — ESC sequences that
retitle the window, clear the screen or plant OSC-8 links, bidirectional
overrides that reorder what is shown. Everything the ``rem`` command prints
for people goes through :func:`safe` (``rem.cli.main`` wraps stdout and
stderr with :class:`SafeStream`), which shows each such character as a
visible escape (``\\x1b``, ``\\u202e``). Data stays exact: ``--json`` and
``--nl`` write those characters as JSON ``\\u`` escapes (the same string when
parsed), ``--csv`` writes them as they are. CSV cells are not altered for
spreadsheets either: a cell starting with ``=``, ``+``, ``-`` or ``@`` is
written as stored (REM's CSV is data, and ``-3`` must stay a number); open an
untrusted export in a spreadsheet with its formula evaluation off, or import
it as text.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

import click

if TYPE_CHECKING:
    import pyarrow as pa

T = TypeVar("T")

# C0 controls (but tab and newline), DEL, C1 controls, and the invisible
# characters that reorder or hide text (bidi embeddings/overrides/isolates,
# line/paragraph separators)
_UNSAFE = ([c for c in range(0x20) if c not in (0x09, 0x0A)] + list(range(0x7F, 0xA0))
           + [0x2028, 0x2029] + list(range(0x202A, 0x202F)) + list(range(0x2066, 0x206A)))
_SHOW = {c: (f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}") for c in _UNSAFE}
# json escapes C0 itself; lone surrogates (undecodable file-name bytes) become \\udcXX escapes
_JSON_ESCAPE = {c: f"\\u{c:04x}" for c in [*(c for c in _UNSAFE if c >= 0x7F), *range(0xD800, 0xE000)]}


_SURROGATE = re.compile("[\ud800-\udfff]")


def _show_surrogate(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"\\x{c - 0xDC00:02x}" if 0xDC80 <= c <= 0xDCFF else f"\\u{c:04x}"  # a byte of a non-UTF-8 name, or a lone half


# any character :func:`safe` changes: most text holds none, and looking costs a tenth of translating
_NEEDS_SHOWING = re.compile("[" + "".join(f"\\u{c:04x}" for c in _UNSAFE) + "\ud800-\udfff]")


def safe(text: str) -> str:
    """``text`` with every control character shown as a visible escape (for
    terminals, Markdown, HTML), and the undecodable bytes of a file name
    (``\\xe9``) too, so printing never fails on them."""
    if not _NEEDS_SHOWING.search(text):
        return text
    text = text.translate(_SHOW)
    return _SURROGATE.sub(_show_surrogate, text) if _SURROGATE.search(text) else text


def dumps(value: Any, **kw: Any) -> str:
    """JSON with non-ASCII kept readable but every control character escaped
    (``\\u009b``, ``\\u202e``): the same data, safe on a terminal."""
    return json.dumps(value, ensure_ascii=False, default=str, **kw).translate(_JSON_ESCAPE)


class SafeStream(io.TextIOBase):
    """A text stream that passes everything through :func:`safe`."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def write(self, s: str) -> int:  # type: ignore[override]
        if not isinstance(s, str):
            raise TypeError("SafeStream takes text")
        self.raw.write(safe(s))
        return len(s)

    def flush(self) -> None:
        self.raw.flush()

    def isatty(self) -> bool:
        return bool(self.raw.isatty())

    def fileno(self) -> int:
        return int(self.raw.fileno())

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return str(getattr(self.raw, "encoding", "utf-8"))

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self.raw, "errors", None)


def raw_stream(stream: Any) -> Any:
    """The stream under a :class:`SafeStream` (for exact data and for rich's own styling)."""
    return stream.raw if isinstance(stream, SafeStream) else stream


@contextlib.contextmanager
def protected_terminal() -> Iterator[None]:
    """stdout and stderr wrapped in :class:`SafeStream` for the block."""
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = SafeStream(out), SafeStream(err)
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        sys.stdout, sys.stderr = out, err


_MARKED = re.compile("«(.*?)»")


def echo_marked(text: str, *, bold: bool = False, err: bool = False) -> None:
    """Print ``text`` (activity's text: every control character made visible
    first) with its «…» matches in the terminal's bold, and all of it in bold
    with ``bold``; where the output is not a terminal, the «» stay and no
    styling is added."""
    stream = raw_stream(sys.stderr if err else sys.stdout)
    shown = safe(text)
    if stream.isatty():
        shown = _MARKED.sub("\x1b[1m\\1\x1b[22m", shown)
        if bold:
            shown = f"\x1b[1m{shown}\x1b[22m"
    stream.write(shown + "\n")
    stream.flush()


def echo_json(value: Any, **kw: Any) -> None:
    """Print ``value`` as JSON (exact data; see :func:`dumps`)."""
    out = raw_stream(sys.stdout)
    out.write(dumps(value, **kw) + "\n")
    out.flush()


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
    if isinstance(v, UUID):
        return str(v)
    return v


def rows_of(t: pa.Table) -> list[dict[str, Any]]:
    """A table's rows as JSON-ready dicts (times as ISO 8601 strings)."""
    names = t.column_names
    cols = [t.column(i).to_pylist() for i in range(t.num_columns)]
    return [{names[i]: _plain(cols[i][r]) for i in range(len(names))} for r in range(t.num_rows)]


def _shown(v: Any) -> Any:
    """A value as a table shows it to a person: a time in the local zone, to the second (one clock across the
    journal, runs, search and queries; the data formats keep the exact value and its offset)."""
    if isinstance(v, datetime):
        return (v.astimezone() if v.tzinfo else v).strftime("%Y-%m-%d %H:%M:%S")
    return _plain(v)


class Result:
    """A result to print, as plain Python rows: its column names and its rows in batches (lists of tuples). Made
    from Arrow (:meth:`of_table`, :meth:`of_reader`) or straight from a DuckDB cursor (:meth:`of_cursor`: `rem
    query` prints without loading pyarrow)."""

    def __init__(self, names: list[str], batches: Iterable[list[tuple[Any, ...]]]) -> None:
        self.names = names
        self.batches = batches

    @classmethod
    def of_table(cls, t: pa.Table) -> Result:
        cols = [t.column(i).to_pylist() for i in range(t.num_columns)]
        return cls(list(t.column_names), [list(zip(*cols, strict=True)) if cols else []])

    @classmethod
    def of_reader(cls, reader: pa.RecordBatchReader) -> Result:
        def batches() -> Iterator[list[tuple[Any, ...]]]:
            for b in reader:
                cols = [c.to_pylist() for c in b.columns]
                yield list(zip(*cols, strict=True)) if cols else []

        return cls(list(reader.schema.names), batches())

    @classmethod
    def of_cursor(cls, cur: Any, batch_rows: int = 10_000) -> Result:
        """A DuckDB cursor that ran a statement with a result set (``cur.description`` is not None)."""
        return cls([d[0] for d in cur.description], iter(lambda: cur.fetchmany(batch_rows), []))


def render_rows(names: list[str], rows: list[tuple[Any, ...]], fmt: str, width: int | None = None) -> str:
    """Rows as text in ``fmt``: JSON, NL, CSV, or the table (plain aligned text, one line per row; with
    ``width``, fitted to it: long cells end in "…", columns that do not fit at all are left out and the footer
    says which)."""
    if fmt == "json":
        return dumps([dict(zip(names, map(_plain, r), strict=True)) for r in rows], indent=2)
    if fmt == "nl":
        return "\n".join(dumps(dict(zip(names, map(_plain, r), strict=True))) for r in rows)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(names)
        for r in rows:
            w.writerow([_csv_cell(_plain(v)) for v in r])
        return buf.getvalue().rstrip("\n")
    cells = [[_cell(_shown(v)) for v in r] for r in rows]
    times = [any(isinstance(r[i], datetime) for r in rows[:50]) for i in range(len(names))]
    least = [MIN_TIME_COLUMN if t else MIN_COLUMN for t in times]
    widths = fit([max([len(n)] + [len(c[i]) for c in cells]) for i, n in enumerate(names)], width, least)
    shown = [i for i, w in enumerate(widths) if w]

    def cell(v: str, i: int) -> str:
        if times[i] and len(v) == 19 and widths[i] < 19:  # a local time to the second: to the minute, no "…"
            v = v[:16]
        return _clip(v, widths[i]).ljust(widths[i])

    def line(values: list[str], header: bool = False) -> str:
        return "  ".join((_clip(values[i], widths[i]).ljust(widths[i]) if header else cell(values[i], i)) for i in shown).rstrip()

    out = [safe(line(list(names), header=True)), "  ".join("-" * widths[i] for i in shown), *(line(c) for c in cells)]
    hidden = [n for i, n in enumerate(names) if not widths[i]]
    foot = _footer(len(rows)) + (f"; {len(hidden)} more column{'s' if len(hidden) != 1 else ''} not shown "
                                 f"({', '.join(hidden)}): --json shows all" if hidden else "")
    return "\n".join([*out, foot])


def _csv_cell(v: Any) -> Any:
    return json.dumps(v, ensure_ascii=False) if isinstance(v, list | dict) else ("" if v is None else v)


def _cell(v: Any, width: int = 60) -> str:
    if v is None:
        s = ""
    elif isinstance(v, list | dict):
        s = dumps(v)
    else:
        s = str(v)
    s = safe(" ".join(s.split()))
    return s if len(s) <= width else s[: width - 1] + "…"


def _footer(n: int) -> str:
    return f"({n} row{'s' if n != 1 else ''})"


MIN_COLUMN = 10  # a column shrunk to fit the terminal keeps at least this many characters …
MIN_TIME_COLUMN = 16  # … a time its date, hour and minute


def fit(natural: list[int], width: int | None, least: list[int] | None = None) -> list[int]:
    """Column widths that fit ``width`` characters (two spaces between columns): the widest column shrinks
    first, none below its ``least`` (default :data:`MIN_COLUMN`, or its natural width when narrower); the
    columns that still do not fit get width 0 (left out). No ``width``: the natural widths."""
    w = list(natural)
    if width is None:
        return w
    floor = [min(n, m) for n, m in zip(natural, least or [MIN_COLUMN] * len(natural), strict=True)]
    while sum(w) + 2 * (len(w) - 1) > width:
        i = max(range(len(w)), key=lambda k: (w[k] - floor[k], k))
        if w[i] <= floor[i]:
            break
        w[i] -= 1
    kept, used = 0, 0
    for x in w:  # left to right, as many whole columns as fit
        if used + x + (2 if kept else 0) > width and kept:
            break
        used += x + (2 if kept else 0)
        kept += 1
    return w[:kept] + [0] * (len(w) - kept)


def render(t: pa.Table, fmt: str, width: int | None = None) -> str:
    """``t`` as text in ``fmt`` (see :func:`render_rows`)."""
    r = Result.of_table(t)
    return render_rows(r.names, [row for b in r.batches for row in b], fmt, width)


def _clip(s: str, width: int) -> str:
    return s if len(s) <= width else s[: max(1, width - 1)] + "…"


def terminal_width() -> int | None:
    """The width tables fit: the terminal's, or ``$COLUMNS`` when output is not a terminal (None: no limit)."""
    import os
    import shutil

    if sys.stdout.isatty():
        return max(20, shutil.get_terminal_size((80, 24)).columns)
    cols = os.environ.get("COLUMNS", "")
    return max(20, int(cols)) if cols.isdigit() else None


def _echo_table_text(text: str) -> None:
    out = raw_stream(sys.stdout)
    if out.isatty():  # the header in bold, the footer dim
        head, rest = text.split("\n", 1)
        body, foot = rest.rsplit("\n", 1)
        text = f"\x1b[1m{head}\x1b[22m\n{body}\n\x1b[2m{foot}\x1b[22m"
    out.write(text + "\n")
    out.flush()


def echo_table(t: pa.Table, fmt: str | None) -> None:
    """Print ``t`` in ``fmt`` (default: a table on a terminal, JSON otherwise)."""
    fmt = default_format(fmt)
    if fmt == "table":
        _echo_table_text(render(t, fmt, terminal_width()))  # every cell already made safe
    else:  # data: exact (JSON escapes control characters itself; CSV is raw)
        out = raw_stream(sys.stdout)
        out.write(render(t, fmt) + "\n")
        out.flush()


TABLE_ROWS = 10_000  # rows a --table shows by default (a table is read by a person)


def echo_stream(source: pa.RecordBatchReader | Result, fmt: str | None, max_rows: int | None = None) -> int:
    """Print a streamed result (Arrow batches, or a :class:`Result` of plain rows): the data formats batch by
    batch (memory stays flat however many rows), a table up to ``max_rows`` (default :data:`TABLE_ROWS`).
    ``max_rows`` caps every format (0 = no cap); when rows are left out, stderr says so and how to get them.
    Returns the rows printed."""
    res = source if isinstance(source, Result) else Result.of_reader(source)
    fmt = default_format(fmt)
    cap = (TABLE_ROWS if fmt == "table" else 0) if max_rows is None else max_rows
    shown, more = 0, False
    names = res.names
    if fmt == "table":
        rows: list[tuple[Any, ...]] = []
        for b in res.batches:
            if cap and shown + len(b) > cap:
                rows += b[: cap - shown]
                shown, more = cap, True
                break
            rows += b
            shown += len(b)
        _echo_table_text(render_rows(names, rows, "table", terminal_width()))
    else:
        out = raw_stream(sys.stdout)
        if fmt == "csv":
            w = csv.writer(out, lineterminator="\n")
            w.writerow(names)
        elif fmt == "json":
            out.write("[")
        for b in res.batches:
            batch = b
            if cap and shown + len(batch) > cap:
                batch, more = batch[: cap - shown], True
            for r in batch:
                if fmt == "json":
                    out.write(("\n  " if shown == 0 else ",\n  ") + dumps(dict(zip(names, map(_plain, r), strict=True))))
                elif fmt == "nl":
                    out.write(dumps(dict(zip(names, map(_plain, r), strict=True))) + "\n")
                else:
                    w.writerow([dumps(v) if isinstance(v, list | dict) else ("" if v is None else v) for v in map(_plain, r)])
                shown += 1
            if more:
                break
        if fmt == "json":
            out.write("\n]\n" if shown else "]\n")
        out.flush()
    if more:
        click.echo(f"(stopped after {shown:,} rows: more remain. Add LIMIT/OFFSET, or --max-rows N for more, "
                   "--max-rows 0 for all; --csv and --nl stream any number of rows)", err=True)
    return shown


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
                                          TimeElapsedColumn(), console=Console(file=raw_stream(sys.stderr)), transient=False)
            self._progress.start()
            self._task = self._progress.add_task(safe(self.label), total=self.total)
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
