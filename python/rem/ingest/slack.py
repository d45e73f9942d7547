"""A Slack workspace export (the folder, or the .zip Slack sends) → one
session per channel, its messages with who said them.

Layout of an export: ``users.json`` (id → name), ``channels.json`` (and for
private exports ``groups.json``, ``mpims.json``, ``dms.json``), and one folder
per channel holding one ``YYYY-MM-DD.json`` file per day, a JSON array of
messages (``user``, ``text``, ``ts``, optional ``subtype``, ``thread_ts``,
``user_profile``, ``bot_id``, ``files``).

- A channel becomes a session named ``#channel`` (id from the channel id,
  so a newer export of the same workspace only adds what is new).
- A message becomes a ``user`` message (a bot's an ``assistant`` one) with
  its author's name as ``speaker`` (real name, else display name, else the
  user id); speakers become person entities linked to the channel.
- Mentions are made readable: ``<@U123>`` → ``@Alice Chen``, ``<#C1|general>``
  → ``#general``, ``<https://x|label>`` → ``label (https://x)``; attached
  files are listed by name. Joins, leaves, topic and purpose changes are skipped.
- Each day file is one input: a malformed one is refused and named, the
  others are written (the summary line counts the refused ones).
"""

from __future__ import annotations

import re
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..exceptions import IngestError
from ..ids import stable_id
from ..output import track
from ..store import Store
from ..values import clean_text, load_json
from .common import Batch, IngestReport, write

SKIPPED_SUBTYPES = {"channel_join", "channel_leave", "channel_topic", "channel_purpose", "channel_name",
                    "channel_archive", "channel_unarchive", "group_join", "group_leave", "group_topic",
                    "group_purpose", "group_name", "pinned_item", "unpinned_item", "reminder_add"}
CHANNEL_FILES = ("channels.json", "groups.json", "mpims.json", "dms.json")
MAX_FILE_BYTES = 256 * 1024 * 1024
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}\.json$")


def _load(path: Path, what: str) -> Any:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise IngestError(f"is {path.stat().st_size:,} bytes; a {what} file over {MAX_FILE_BYTES:,} is not read",
                              source=str(path))
        raw = path.read_bytes()
    except OSError as e:
        raise IngestError(f"cannot read: {e.strerror}", source=str(path)) from e
    return load_json(raw, source=str(path))


def _users(root: Path) -> dict[str, str]:
    f = root / "users.json"
    if not f.exists():
        return {}
    data = _load(f, "users")
    if not isinstance(data, list):
        raise IngestError("expected a JSON array of users", source=str(f))
    out: dict[str, str] = {}
    for u in data:
        if not isinstance(u, dict) or not isinstance(u.get("id"), str):
            continue
        prof: dict[str, Any] = u["profile"] if isinstance(u.get("profile"), dict) else {}
        for name in (prof.get("real_name"), u.get("real_name"), prof.get("display_name"), u.get("name")):
            if isinstance(name, str) and name.strip():
                out[u["id"]] = " ".join(name.split())
                break
    return out


def _channels(root: Path) -> dict[str, tuple[str, str]]:
    """Folder name → (channel id, display name)."""
    out: dict[str, tuple[str, str]] = {}
    for fname in CHANNEL_FILES:
        f = root / fname
        if not f.exists():
            continue
        data = _load(f, "channels")
        if not isinstance(data, list):
            raise IngestError("expected a JSON array of channels", source=str(f))
        for c in data:
            if not isinstance(c, dict):
                continue
            cid, name = c.get("id"), c.get("name")
            if isinstance(cid, str) and isinstance(name, str) and name:
                out[name] = (cid, f"#{name}" if fname in ("channels.json", "groups.json") else name)
    return out


def readable(text: str, users: dict[str, str]) -> str:
    """Slack's markup made readable (mentions, channel links, URLs with labels)."""
    def user(m: re.Match[str]) -> str:
        return "@" + (users.get(m.group(1)) or m.group(2) or m.group(1))

    text = re.sub(r"<@([A-Z0-9]+)(?:\|([^>]*))?>", user, text)
    text = re.sub(r"<#[A-Z0-9]+\|([^>]*)>", r"#\1", text)
    text = re.sub(r"<!(here|channel|everyone)[^>]*>", r"@\1", text)
    text = re.sub(r"<(https?://[^|>]+)\|([^>]+)>", r"\2 (\1)", text)
    text = re.sub(r"<(https?://[^>]+)>", r"\1", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _ts(value: Any, place: str) -> datetime:
    try:
        return datetime.fromtimestamp(float(value), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise IngestError(f"not a Slack timestamp: {str(value)[:40]!r}", source=place, field="ts") from None


def parse_day(path: Path, channel_id: str, channel_name: str, users: dict[str, str], batch: Batch) -> None:
    """One channel-day file into ``batch`` (a session row per channel, messages, speakers)."""
    data = _load(path, "day")
    if not isinstance(data, list):
        raise IngestError("expected a JSON array of messages", source=str(path))
    sid = stable_id("slack-channel", channel_id)
    first: datetime | None = None
    rows = []
    for i, m in enumerate(data):
        place = f"{path}: message {i + 1}"
        if not isinstance(m, dict) or m.get("type", "message") != "message" or m.get("subtype") in SKIPPED_SUBTYPES:
            continue
        ts = m.get("ts")
        when = _ts(ts, place)
        text: str = m["text"] if isinstance(m.get("text"), str) else ""
        files = [f.get("name") or f.get("title") for f in m.get("files") or [] if isinstance(f, dict)]
        if files:
            text = (text + "\n" if text else "") + "[files: " + ", ".join(str(f) for f in files if f) + "]"
        text = clean_text(readable(text, users), source=place, field="text") or ""
        if not text.strip():
            continue
        uid = m.get("user") if isinstance(m.get("user"), str) else None
        prof: dict[str, Any] = m["user_profile"] if isinstance(m.get("user_profile"), dict) else {}
        bot = bool(m.get("bot_id")) or m.get("subtype") == "bot_message"
        speaker = (users.get(uid or "") or prof.get("real_name") or prof.get("display_name") or m.get("username")
                   or uid or ("a bot" if bot else "someone"))
        speaker = " ".join(str(speaker).split())[:200]
        if not bot:
            batch.speaker(sid, speaker, when)
        first = when if first is None else min(first, when)
        rows.append({"_source": place, "id": stable_id("slack-message", channel_id, str(ts)), "session_id": sid,
                     "role": "assistant" if bot else "user", "speaker": speaker, "content": text,
                     "created_at": when, "tool_calls": None,
                     "trace_id": m.get("thread_ts") if isinstance(m.get("thread_ts"), str) else None})
    if rows and first is not None:
        batch.sessions.append({"_source": str(path), "id": sid, "name": channel_name, "created_at": first,
                               "metadata": {"source": "slack", "channel_id": channel_id}})
        batch.messages.extend(rows)


@contextmanager
def _export_root(path: Path) -> Iterator[Path]:
    """The export folder (a .zip is unpacked to a temporary folder, safely)."""
    if path.is_dir():
        yield path
        return
    if not zipfile.is_zipfile(path):
        raise IngestError("is neither a Slack export folder nor its .zip", source=str(path))
    with tempfile.TemporaryDirectory(prefix="rem-slack-") as tmp, zipfile.ZipFile(path) as z:
        total = 0
        for info in z.infolist():
            name = Path(info.filename)
            if name.is_absolute() or ".." in name.parts or info.is_dir() or name.suffix != ".json":
                continue  # nothing outside the folder, nothing but JSON
            total += info.file_size
            if total > 4 * MAX_FILE_BYTES:
                raise IngestError("unpacks to more than 1 GiB of JSON; unzip it yourself and ingest the folder",
                                  source=str(path))
            target = Path(tmp) / name
            target.parent.mkdir(parents=True, exist_ok=True)
            with z.open(info) as src, open(target, "wb") as dst:
                dst.write(src.read(MAX_FILE_BYTES + 1))
        roots = [p.parent for p in Path(tmp).rglob("users.json")] or [Path(tmp)]
        yield roots[0]


def ingest_slack(store: Store, path: str | Path, *, show_progress: bool | None = None) -> IngestReport:
    """Ingest a Slack export; each channel-day file is one input (see the module docs)."""
    p = Path(path)
    report = IngestReport()
    with _export_root(p) as root:
        users = _users(root)
        channels = _channels(root)
        days = sorted(f for f in root.glob("*/*.json") if _DAY.match(f.name) and f.is_file() and not f.is_symlink())
        if not days:
            raise IngestError("holds no channel folders with YYYY-MM-DD.json files: is it a Slack export?", source=str(p))
        batch = Batch()
        for f in track(days, "reading Slack days", enabled=show_progress):
            cid, cname = channels.get(f.parent.name, (f"folder:{f.parent.name}", f"#{f.parent.name}"))
            one = Batch()
            try:
                parse_day(f, cid, cname, users, one)
            except IngestError as e:
                report.errors.append(str(e))
                continue
            for name in ("sessions", "messages", "entities", "edges"):
                getattr(batch, name).extend(getattr(one, name))
        # one session row per channel: the earliest day's
        first: dict[str, dict[str, Any]] = {}
        for s in batch.sessions:
            if s["id"] not in first or s["created_at"] < first[s["id"]]["created_at"]:
                first[s["id"]] = s
        batch.sessions = list(first.values())
        if len(batch):
            write(store, batch, report)
    return report
