"""The plain chat format: JSONL, one message per line.

    {"session": "standup-2026-11-16", "role": "user", "content": "…",
     "created_at": "2026-11-16T09:30:00Z"}

Fields: ``session`` (required: any string naming the thread; the same string
in any file is the same session), ``role`` (user|assistant|system|tool),
``content``, ``created_at`` (ISO 8601), and optionally ``session_name``,
``id`` (a message id of your own), ``tool_calls`` (OpenAI-style array),
``trace_id``, ``span_id``, and ``speaker``: who said it, by name, in a
conversation of several people (an export of a group chat, a meeting
transcript). Speakers become person entities, linked to the session. A
session's time is its first message's. Without ``id``, a message's id
derives from its session, time, role, speaker and its position among
identical (session, time, role, speaker) lines.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from ..exceptions import IngestError
from ..ids import stable_id
from ..store import Store
from ..values import check_role, clean_text, load_json, parse_time
from .common import Batch, IngestReport, write

ALLOWED = {"session", "session_name", "role", "content", "created_at", "id", "tool_calls", "trace_id", "span_id",
           "speaker"}


def _naive(value: object) -> bool:
    """A timestamp written without a zone or offset ("2026-11-16T09:30:00")."""
    if not isinstance(value, str):
        return False
    try:
        return datetime.fromisoformat(value.strip().replace("z", "Z")).tzinfo is None
    except ValueError:
        return False


def ingest_chat(store: Store, path: str | Path) -> IngestReport:
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise IngestError(f"cannot read: {e.strerror}", source=str(p)) from e
    sessions: dict[str, dict[str, Any]] = {}
    batch = Batch()
    seen: dict[tuple[str, ...], int] = {}
    for n, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        place = f"{p}:{n}"
        rec = load_json(line, source=place, line=True)
        if not isinstance(rec, dict):
            raise IngestError("expected a JSON object", source=place)
        extra = set(rec) - ALLOWED
        if extra:
            raise IngestError(f"unknown field(s) {sorted(extra)}; allowed: {sorted(ALLOWED)}", source=place, field=sorted(extra)[0])
        skey = rec.get("session")
        if not isinstance(skey, str) or not skey.strip():
            raise IngestError("is required (a string naming the thread)", source=place, field="session")
        role = check_role(rec.get("role"), source=place)
        if "created_at" not in rec:
            raise IngestError("is required", source=place, field="created_at")
        when = parse_time(rec["created_at"], source=place, field="created_at")
        content = clean_text(rec.get("content", ""), source=place, field="content")
        tool_calls = rec.get("tool_calls")
        if tool_calls is not None and not (isinstance(tool_calls, list) and all(isinstance(t, dict) for t in tool_calls)):
            raise IngestError("must be an array of objects", source=place, field="tool_calls")
        sid = stable_id("chat-session", skey)
        s = sessions.setdefault(sid, {"_source": place, "id": sid, "name": skey, "created_at": when,
                                      "metadata": {"source": "chat", "session": skey}})
        if isinstance(rec.get("session_name"), str):
            s["name"] = clean_text(rec["session_name"], source=place, field="session_name")
        s["created_at"] = min(s["created_at"], when)
        speaker = clean_text(rec.get("speaker"), source=place, field="speaker")
        speaker = " ".join(speaker.split()) if speaker else None
        if speaker:
            batch.speaker(sid, speaker, when)
        if rec.get("id") is not None:
            mid = clean_text(rec["id"], source=place, field="id")
        else:
            # lines without a speaker keep the ids they had before speakers existed
            k = (sid, when.isoformat(), role) if speaker is None else (sid, when.isoformat(), role, speaker)
            seen[k] = seen.get(k, 0) + 1
            mid = stable_id("chat-message", *k, seen[k])
            if _naive(rec["created_at"]):
                # a time without a zone means another instant once the machine's zone changes: the id comes from
                # the time as written, so a re-import after a move adds nothing (a row stored under the old,
                # instant-based id keeps it: see Batch.legacy_ids)
                legacy, mid = mid, stable_id("chat-message-local", sid, str(rec["created_at"]).strip(), role,
                                             speaker or "", seen[k])
                batch.legacy_ids[mid] = legacy
        batch.messages.append({"_source": place, "id": mid, "session_id": sid, "role": role, "content": content,
                               "speaker": speaker, "tool_calls": tool_calls, "created_at": when,
                               "trace_id": clean_text(rec.get("trace_id"), source=place, field="trace_id"),
                               "span_id": clean_text(rec.get("span_id"), source=place, field="span_id")})
    batch.sessions = list(sessions.values())
    return write(store, batch)
