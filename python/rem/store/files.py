"""Where the database lives, and what a path holds before DuckDB opens it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..exceptions import StoreError


def default_db_path() -> Path:
    """``$REM_DB``, else ``$XDG_DATA_HOME/rem/rem.duckdb`` (``~/.local/share`` when unset)."""
    env = os.environ.get("REM_DB")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base).expanduser() / "rem" / "rem.duckdb"


def resolve_db_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The database path: the explicit one if given, else :func:`default_db_path`."""
    return Path(path).expanduser() if path else default_db_path()


def file_signature(path: Path) -> tuple[int, ...]:
    """(size, mtime) of the database file and its WAL: changes whenever anything commits."""
    out: list[int] = []
    for p in (path, path.with_name(path.name + ".wal")):
        try:
            st = p.stat()
            out += [st.st_size, st.st_mtime_ns]
        except OSError:
            out += [-1, -1]
    return tuple(out)


_MAGIC = {b"SQLite format 3\x00": "a SQLite database", b"PAR1": "a Parquet file", b"PK\x03\x04": "a zip archive",
          b"\x89HDF": "an HDF5 file", b"ARROW1": "an Arrow file", b"\x7fELF": "a program", b"%PDF": "a PDF document"}


def file_kind(mode: int) -> str:
    """What a file system entry is, in words: "a directory", "a FIFO", "a socket", "a device" …"""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a regular file" if stat.S_ISREG(mode) else "not a regular file"


def check_file(path: Path) -> None:
    """Refuse, before DuckDB touches it, a ``--db`` that cannot be a REM
    database: a path that is not UTF-8 (DuckDB takes UTF-8 paths), something
    other than a regular file (a FIFO would hang the open), or a file that is
    not DuckDB's (a SQLite or Parquet file would get an extension hint)."""
    try:
        os.fsencode(path).decode("utf-8")
    except UnicodeDecodeError:
        shown = os.fsencode(path).decode("utf-8", "backslashreplace")
        raise StoreError(f"the database path {shown} is not valid UTF-8, which DuckDB cannot open: "
                         "rename the file or folder (or pick another --db)") from None
    try:
        st = path.stat()
    except FileNotFoundError:
        return
    except OSError as e:
        raise StoreError(f"cannot open database {path}: {e.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise StoreError(f"{path} is {file_kind(st.st_mode)}, not a REM database: point --db (or $REM_DB) at a database file")
    if st.st_size == 0:
        return
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError as e:
        raise StoreError(f"cannot open database {path}: {e.strerror}") from None
    if head[8:12] == b"DUCK":
        return
    what = next((name for magic, name in _MAGIC.items() if head.startswith(magic)), None)
    if what is not None:
        raise StoreError(f"{path} is not a REM database ({what}). REM did not change it. Point --db (or $REM_DB) "
                         "at a REM database, or leave it out to use the default.")
    raise StoreError(f"{path} is not a REM database (not a DuckDB file: its header is not DuckDB's). REM did not "
                     "change it. If it is a REM database that was damaged (overwritten, truncated), move it aside "
                     f"(mv '{path}' '{path}.broken') and restore a backup, or start a new one with `rem init`; "
                     "otherwise point --db (or $REM_DB) at your REM database.")
