"""A folder of Markdown/text notes → ``note`` resources.

Time comes from front matter (``date``, ``created``, ``created_at``), else the
file's modification time. The title is front matter ``title``, else the first
``# heading``, else the file name. Other front matter lands in ``metadata``.
A note's id derives from its resolved path, so re-ingesting the folder adds
nothing and an edited note updates its row. Notes are separate inputs: a
malformed one is refused and named, the others are written.

Only regular files inside the folder are read: a symlink whose target leaves
the folder (``key.md -> ~/.ssh/id_rsa``), a FIFO, a device or socket, and a
file larger than ``MAX_NOTE_BYTES`` are passed over and named in the report,
so nothing outside the folder reaches a model and nothing hangs or fills
memory.
"""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from ..exceptions import IngestError
from ..ids import stable_id
from ..output import track
from ..store import Store
from ..values import clean_text, parse_time
from .common import Batch, IngestReport, write

SUFFIXES = {".md", ".markdown", ".txt", ".text", ".mdx", ".org", ".rst"}
MAX_NOTE_BYTES = 4 * 1024 * 1024  # a note larger than this is passed over (notes are text)


def shown(path: Path) -> str:
    """A path as text even when its bytes are not UTF-8 (invalid bytes as ``\\xNN``)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


class PassOver(Exception):
    """A file that is deliberately not read (not an error in the file)."""


def _read_inside(path: Path, root: Path) -> tuple[bytes, os.stat_result]:
    """The bytes of ``path`` if it is a regular file inside ``root`` (after
    following links) of at most MAX_NOTE_BYTES; PassOver otherwise. Opened
    non-blocking and checked on the open descriptor, so a FIFO swapped in
    after the check cannot hang the read."""
    real = Path(os.path.realpath(path))  # Path.resolve raises on a link loop
    if not real.is_relative_to(Path(os.path.realpath(root))):
        raise PassOver(f"{shown(path)}: a link to {shown(real)}, outside {shown(root)}")
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise IngestError(f"cannot read: {e.strerror}", source=shown(path)) from e
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = "a FIFO" if stat.S_ISFIFO(st.st_mode) else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) \
                else "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file"
            raise PassOver(f"{shown(path)}: {kind}")
        if st.st_size > MAX_NOTE_BYTES:
            raise PassOver(f"{shown(path)}: {st.st_size:,} bytes, more than the {MAX_NOTE_BYTES:,} a note may have")
        chunks, total = [], 0
        while total <= MAX_NOTE_BYTES:
            b = os.read(fd, 1 << 20)
            if not b:
                break
            chunks.append(b)
            total += len(b)
        if total > MAX_NOTE_BYTES:  # grew while read
            raise PassOver(f"{shown(path)}: more than the {MAX_NOTE_BYTES:,} bytes a note may have")
        return b"".join(chunks), st
    except OSError as e:
        raise IngestError(f"cannot read: {e.strerror}", source=shown(path)) from e
    finally:
        os.close(fd)


def _front_matter(text: str, place: str) -> tuple[dict[str, Any], str]:
    if not text.startswith("---"):
        return {}, text
    lines = text.split("\n")
    if lines[0].strip() != "---":
        return {}, text
    for i in range(1, len(lines)):
        if lines[i].strip() in ("---", "..."):
            block = "\n".join(lines[1:i])
            try:
                meta = yaml.safe_load(block) or {}
            except yaml.YAMLError as e:
                mark = getattr(e, "problem_mark", None)
                where = f" (line {mark.line + 2})" if mark is not None else ""
                raise IngestError(f"invalid YAML front matter{where}: {getattr(e, 'problem', e)}", source=place, field="front matter") from e
            if not isinstance(meta, dict):
                raise IngestError("front matter must be a mapping of keys to values", source=place, field="front matter")
            return meta, "\n".join(lines[i + 1 :])
    return {}, text


def parse_note(path: Path, root: Path) -> dict[str, Any]:
    place = shown(path)
    raw, stat_ = _read_inside(path, root)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise IngestError(f"not valid UTF-8 at byte {e.start}", source=place) from e
    text = text.replace("\r\n", "\n").lstrip("\ufeff")
    meta, body = _front_matter(text, place)
    mtime = datetime.fromtimestamp(stat_.st_mtime, tz=UTC)
    when_raw = next((meta[k] for k in ("date", "created", "created_at") if meta.get(k) is not None), None)
    created = parse_time(when_raw, source=place, field="front matter date") if when_raw is not None else mtime
    title = meta.get("title")
    if not isinstance(title, str) or not title.strip():
        title = next((ln.lstrip("#").strip() for ln in body.split("\n") if ln.startswith("# ")), "") or path.stem
    resolved = Path(os.path.realpath(path))
    extra = {k: v for k, v in meta.items() if k not in ("title", "date", "created", "created_at")}
    extra["path"] = shown(path.relative_to(root) if path.is_relative_to(root) else path)
    return {
        "_source": place,
        "id": stable_id("note", shown(resolved)),
        "name": clean_text(title, source=place, field="title"),
        "uri": resolved.as_uri(),
        "content": clean_text(body.strip(), source=place, field="content"),
        "resource_type": "note",
        "created_at": created,
        "updated_at": max(mtime, created),
        "metadata": extra,
    }


def find_notes(root: Path) -> list[Path]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in sorted(filenames):
            if not f.startswith(".") and Path(f).suffix.lower() in SUFFIXES:
                out.append(Path(dirpath) / f)
    return out


def ingest_notes(store: Store, directory: str | Path, *, show_progress: bool | None = None) -> IngestReport:
    root = Path(directory)
    if not root.is_dir():
        raise IngestError("is not a directory", source=str(root))
    files = find_notes(root)
    batch = Batch()
    report = IngestReport()
    for f in track(files, "reading notes", enabled=show_progress):
        try:
            batch.resources.append(parse_note(f, root))
        except IngestError as e:
            report.errors.append(str(e))
        except PassOver as e:
            report.passed_over.append(str(e))
    if batch.resources:
        _keep_ids_of_moved_notes(store, batch.resources)
        write(store, batch, report)
    return report


def _keep_ids_of_moved_notes(store: Store, notes: list[dict[str, Any]]) -> None:
    """A note's id comes from its absolute path. When the notes folder moved (or was renamed), a note that
    is new by that id but has the relative path of a stored note whose file is gone keeps the stored note's
    id (and gets its new place), so moving the folder re-adds nothing; a copy (the old file still there) is
    new notes."""
    from urllib.parse import unquote, urlparse

    from ..store import fetch_arrow, id_table, registered

    if not store.path.exists():
        return
    with store.read(sandbox=False) as con:
        with registered(con, "_rem_ids", id_table([n["id"] for n in notes])):
            stored_ids = set(fetch_arrow(con, "SELECT r.id FROM resources r SEMI JOIN _rem_ids x ON r.id = x.id").column("id").to_pylist())
        fresh = [n for n in notes if n["id"] not in stored_ids]
        if not fresh:
            return
        rows = fetch_arrow(con, """SELECT id, uri, json_extract_string(metadata, '$.path') AS rel FROM resources
                                   WHERE resource_type = 'note' AND list_contains($rels, json_extract_string(metadata, '$.path'))""",
                           {"rels": sorted({n["metadata"]["path"] for n in fresh})}).to_pylist()
    taken = {n["id"] for n in notes}
    gone: dict[str, list[str]] = {}
    for r in rows:
        path = unquote(urlparse(r["uri"] or "").path)
        if r["id"] not in taken and path and not os.path.lexists(path):
            gone.setdefault(r["rel"], []).append(r["id"])
    for n in fresh:
        old = gone.get(n["metadata"]["path"], [])
        if len(old) == 1:  # one stored note of that relative path, its file gone: this is it, moved
            n["id"] = old[0]
