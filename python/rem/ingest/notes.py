"""A folder of Markdown/text notes → ``note`` resources.

Time comes from front matter (``date``, ``created``, ``created_at``), else the
file's modification time. The title is front matter ``title``, else the first
``# heading``, else the file name. Other front matter lands in ``metadata``.
A note's id derives from its resolved path, so re-ingesting the folder adds
nothing and an edited note updates its row. Notes are separate inputs: a
malformed one is refused and named, the others are written.
"""

from __future__ import annotations

import os
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
    place = str(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise IngestError(f"cannot read: {e.strerror}", source=place) from e
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise IngestError(f"not valid UTF-8 at byte {e.start}", source=place) from e
    text = text.replace("\r\n", "\n").lstrip("\ufeff")
    meta, body = _front_matter(text, place)
    stat = path.stat()
    mtime = datetime.fromtimestamp(stat.st_mtime, tz=UTC)
    when_raw = next((meta[k] for k in ("date", "created", "created_at") if meta.get(k) is not None), None)
    created = parse_time(when_raw, source=place, field="front matter date") if when_raw is not None else mtime
    title = meta.get("title")
    if not isinstance(title, str) or not title.strip():
        title = next((ln.lstrip("#").strip() for ln in body.split("\n") if ln.startswith("# ")), "") or path.stem
    resolved = path.resolve()
    extra = {k: v for k, v in meta.items() if k not in ("title", "date", "created", "created_at")}
    extra["path"] = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
    return {
        "_source": place,
        "id": stable_id("note", str(resolved)),
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
    if batch.resources:
        write(store, batch, report)
    return report
