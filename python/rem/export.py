"""Taking the memory out, and back in: Parquet (every table, or some), JSON
lines (moments with their events and sources), and REM's own Parquet export
imported into an empty database.

Written by REM itself, outside the query sandbox (``rem query`` cannot write
files, rightly), to a folder the user names; each file is written under a
temporary name and renamed when whole, so a reader never sees half a file
and an interrupted export leaves the previous one in place.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import schema
from .exceptions import RemError
from .store import Store, execute, fetch_arrow, fetch_value, transaction

# the tables that hold what the owner has and what the dreams made; search_index is derived (rebuilt on use)
EXPORTED = tuple(t for t in schema.TABLES if t != "search_index")


@dataclass
class ExportReport:
    folder: Path
    files: dict[str, int] = field(default_factory=dict)  # file name -> rows

    def line(self) -> str:
        rows = sum(self.files.values())
        return f"{len(self.files)} file(s), {rows} row(s) written to {self.folder}"


def _folder(path: str | os.PathLike[str]) -> Path:
    d = Path(path)
    if d.exists() and not d.is_dir():
        raise RemError(f"{d} exists and is not a folder: name a folder to export into")
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RemError(f"cannot create {d}: {e.strerror}") from None
    return d


def _tables(names: Iterable[str]) -> list[str]:
    names = list(names) or list(EXPORTED)
    bad = [n for n in names if n not in EXPORTED]
    if bad:
        raise RemError(f"unknown table(s) {', '.join(bad)}: choose from {', '.join(EXPORTED)}")
    return names


def _sql_path(p: Path) -> str:
    return "'" + str(p).replace("'", "''") + "'"


def export_parquet(store: Store, folder: str | os.PathLike[str], tables: Iterable[str] = ()) -> ExportReport:
    """Each table as ``<folder>/<table>.parquet`` (zstd), in its key order."""
    d = _folder(folder)
    rep = ExportReport(d)
    with store.read(sandbox=False) as con:
        for name in _tables(tables):
            t = schema.table(name)
            order = ", ".join(f'"{c}"' for c in (t.order_by or [t.columns[0].name]))
            tmp, final = d / f".{name}.parquet.tmp", d / f"{name}.parquet"
            try:
                execute(con, f'COPY (SELECT * FROM "{name}" ORDER BY {order}) TO {_sql_path(tmp)} (FORMAT parquet, COMPRESSION zstd)')
                os.replace(tmp, final)
            except OSError as e:
                raise RemError(f"cannot write {final}: {e.strerror}") from None
            rep.files[final.name] = int(fetch_value(con, f'SELECT count(*) FROM "{name}"') or 0)
    return rep


def import_parquet(store: Store, folder: str | os.PathLike[str]) -> ExportReport:
    """REM's own Parquet export into an empty database: every table found, one transaction; nothing lost
    (ids, times, lists, JSON, edges and their weights come back as they were)."""
    d = Path(folder)
    if not d.is_dir():
        raise RemError(f"{d} is not a folder: name the folder `rem export parquet` wrote")
    present = [n for n in EXPORTED if (d / f"{n}.parquet").is_file()]
    if not present:
        raise RemError(f"{d} holds no table of REM's (<table>.parquet, as `rem export parquet` writes them)")
    rep = ExportReport(d)
    store.init()
    with store.connect() as con:
        held = {n: int(fetch_value(con, f'SELECT count(*) FROM "{n}"') or 0) for n in present}
        full = [n for n, k in held.items() if k]
        if full:
            raise RemError(f"the database {store.path} already holds rows ({', '.join(full)}): import into a new, "
                           "empty database (--db new.duckdb), so nothing is overwritten")
        with transaction(con):
            for name in present:
                cols = [c.name for c in schema.table(name).columns]
                have = set(fetch_arrow(con, f"DESCRIBE SELECT * FROM read_parquet({_sql_path(d / f'{name}.parquet')})")
                           .column("column_name").to_pylist())
                missing = [c for c in cols if c not in have]
                pick = ", ".join(f'"{c}"' if c in have else f'NULL AS "{c}"' for c in cols)
                if missing:
                    log_missing = ", ".join(missing)
                    rep.files[f"{name}.parquet (without {log_missing})"] = 0
                execute(con, f'INSERT INTO "{name}" ({", ".join(chr(34) + c + chr(34) for c in cols)}) '
                             f"SELECT {pick} FROM read_parquet({_sql_path(d / f'{name}.parquet')})")
                rep.files[f"{name}.parquet"] = int(fetch_value(con, f'SELECT count(*) FROM "{name}"') or 0)
    return rep


def export_json(store: Store, path: str | os.PathLike[str]) -> ExportReport:
    """Moments, one JSON object a line: their fields, events, and sources (the resources, sessions and messages
    they hold, with their text)."""
    p = Path(path)
    if p.is_dir():
        p = p / "moments.jsonl"
    _folder(p.parent)
    rep = ExportReport(p.parent)
    tmp = p.with_name(f".{p.name}.tmp")
    n = 0
    with store.read(sandbox=False) as con:
        moments = fetch_arrow(con, "SELECT * FROM moments ORDER BY start_time, id").to_pylist()
        try:
            with tmp.open("w", encoding="utf-8") as f:
                for m in moments:
                    f.write(json.dumps(_moment_record(con, m), ensure_ascii=False, default=_plain) + "\n")
                    n += 1
            os.replace(tmp, p)
        except OSError as e:
            raise RemError(f"cannot write {p}: {e.strerror}") from None
    rep.files[p.name] = n
    return rep


def _plain(v: Any) -> Any:
    return v.isoformat() if hasattr(v, "isoformat") else str(v)


def _moment_record(con: Any, m: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in m.items() if k not in ("events", "metadata")}
    out["events"] = json.loads(m["events"]) if isinstance(m.get("events"), str) else (m.get("events") or [])
    out["metadata"] = json.loads(m["metadata"]) if isinstance(m.get("metadata"), str) else m.get("metadata")
    out["sources"] = {
        "resources": fetch_arrow(con, """SELECT id, name, resource_type, uri, created_at, content FROM resources
                                         WHERE list_contains($ids, id) ORDER BY created_at, id""",
                                 {"ids": m.get("resource_ids") or []}).to_pylist(),
        "sessions": fetch_arrow(con, "SELECT id, name, created_at FROM sessions WHERE list_contains($ids, id) ORDER BY created_at, id",
                                {"ids": m.get("session_ids") or []}).to_pylist(),
        "messages": fetch_arrow(con, """SELECT id, session_id, role, speaker, created_at, content FROM messages
                                        WHERE list_contains($ids, id) ORDER BY created_at, id""",
                                {"ids": m.get("message_ids") or []}).to_pylist(),
    }
    return out
