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


# -- an Obsidian-compatible vault -------------------------------------------------------------------------------
MANIFEST = ".rem-export.json"  # what REM wrote here last time, and each file's digest then
_UNSAFE_NAME = str.maketrans({c: "-" for c in '/\\:*?"<>|#^[].\n\r\t'})  # a dot would read as a file's extension


def _note_name(name: str) -> str:
    """A file name for a person's or topic's note (what a vault's links may hold)."""
    out = " ".join(str(name).translate(_UNSAFE_NAME).split()).strip(". ") or "unnamed"
    return out[:120]


def _link(folder: str, name: str) -> str:
    """``[[people/Alice Chen|Alice Chen]]``: a link that resolves to the note REM writes for ``name``."""
    from .moments import md

    target = f"{folder}/{_note_name(name)}"
    shown = md(name).replace("|", "-")
    return f"[[{target}|{shown}]]"


@dataclass
class VaultReport:
    folder: Path
    written: list[str] = field(default_factory=list)
    unchanged: int = 0
    kept: list[str] = field(default_factory=list)  # files REM would have written, kept because they are the user's
    removed: list[str] = field(default_factory=list)

    def line(self) -> str:
        s = f"{len(self.written)} note(s) written, {self.unchanged} unchanged in {self.folder}"
        if self.removed:
            s += f"; {len(self.removed)} note(s) REM wrote earlier removed (their moments are gone)"
        if self.kept:
            s += f"; kept {len(self.kept)} file(s) that are yours (edited or not REM's): {', '.join(self.kept[:3])}"
        return s


def _digest(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _vault_notes(store: Store) -> dict[str, str]:
    """Relative path -> Markdown: a note per day, per person and per topic."""
    from .days import local_date
    from .moments import as_markdown, md, span

    with store.read(sandbox=False) as con:
        rows = fetch_arrow(con, "SELECT * FROM moments ORDER BY start_time, id").to_pylist()
    days: dict[str, list[dict[str, Any]]] = {}
    people: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    topics: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for m in rows:
        day = local_date(m["start_time"]).isoformat()
        days.setdefault(day, []).append(m)
        for p in m.get("people") or []:
            people.setdefault(p, []).append((day, m))
        for t in m.get("tags") or []:
            topics.setdefault(t, []).append((day, m))
    notes: dict[str, str] = {}

    def front(**kv: Any) -> list[str]:
        return ["---", *(f"{k}: {json.dumps(v, ensure_ascii=False, default=_plain)}" for k, v in kv.items()), "---", ""]

    for day, ms in days.items():
        out = front(date=day, type="rem-day", moments=[m["id"] for m in ms]) + [f"# {day}", ""]
        for m in ms:
            block = as_markdown(m)
            extra = []
            if m.get("people"):
                extra.append("- **With:** " + ", ".join(_link("people", p) for p in m["people"]))
            if m.get("tags"):
                extra.append("- **Topics:** " + ", ".join(_link("topics", t) for t in m["tags"]))
            extra.append(f"- **REM id:** `{m['id']}` · {md(m.get('moment_type') or '')} · "
                         f"{m['start_time'].isoformat()} – {m['end_time'].isoformat()}")
            out += [block[0], "", *extra, *(ln for ln in block[2:] if not ln.startswith(("- **Topics:**", "- **People:**")))]
        notes[f"days/{day}.md"] = "\n".join(out).rstrip() + "\n"
    for folder, index, kind in (("people", people, "rem-person"), ("topics", topics, "rem-topic")):
        by_file: dict[str, list[tuple[str, list[tuple[str, dict[str, Any]]]]]] = {}
        for name, held in index.items():  # two names can share a file name ("a/b", "a-b"): one note holds both
            by_file.setdefault(f"{folder}/{_note_name(name)}.md", []).append((name, held))
        for path, named in by_file.items():
            out = front(names=[n for n, _ in named], type=kind, moments=sum(len(h) for _, h in named))
            for name, held in named:
                out += [f"# {md(name)}", ""] + [f"- [[days/{day}|{day}]] {span(m)} · {md(m['name'])}" for day, m in held] + [""]
            notes[path] = "\n".join(out).rstrip() + "\n"
    return notes


def export_markdown(store: Store, folder: str | os.PathLike[str]) -> VaultReport:
    """An Obsidian-compatible vault in ``folder``: ``days/YYYY-MM-DD.md`` (the day's moments: time, name, fields,
    events, people and topics as links), ``people/<name>.md`` and ``topics/<topic>.md`` (their moments by date, so
    backlinks work), YAML front matter with ids, times and types. A re-export updates REM's notes in place; a file
    REM did not write, or one the user edited since, is never overwritten or removed."""
    d = _folder(folder)
    rep = VaultReport(d)
    manifest_path = d / MANIFEST
    try:
        before: dict[str, str] = json.loads(manifest_path.read_text(encoding="utf-8")).get("files", {})
    except (OSError, ValueError, AttributeError):
        before = {}
    notes = _vault_notes(store)
    after: dict[str, str] = {}
    for rel, text in sorted(notes.items()):
        p = d / rel
        digest = _digest(text)
        if p.exists() or p.is_symlink():
            try:
                current = p.read_text(encoding="utf-8") if p.is_file() and not p.is_symlink() else None
            except (OSError, UnicodeDecodeError):
                current = None
            ours = current is not None and rel in before and _digest(current) == before[rel]
            if current is not None and _digest(current) == digest:
                rep.unchanged += 1
                after[rel] = digest
                continue
            if not ours:  # the user's file (or one they edited): kept as it is
                rep.kept.append(rel)
                if rel in before:
                    after[rel] = before[rel]
                continue
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            tmp = p.with_name(f".{p.name}.tmp")
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, p)
        except OSError as e:
            raise RemError(f"cannot write {p}: {e.strerror}") from None
        rep.written.append(rel)
        after[rel] = digest
    for rel, digest in before.items():  # REM's notes whose moments are gone: removed unless the user changed them
        if rel in notes:
            continue
        p = d / rel
        try:
            if p.is_file() and not p.is_symlink() and _digest(p.read_text(encoding="utf-8")) == digest:
                p.unlink()
                rep.removed.append(rel)
            elif p.exists():
                rep.kept.append(rel)
        except (OSError, UnicodeDecodeError):
            rep.kept.append(rel)
    tmp = manifest_path.with_name(MANIFEST + ".tmp")
    tmp.write_text(json.dumps({"written_by": "rem export markdown", "files": after}, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, manifest_path)
    return rep
