"""A ChatGPT data export (``conversations.json``) → sessions and messages.

Each conversation becomes a session; the messages on its current branch (from
``current_node`` up through ``parent`` links, cycles detected) become messages
with their roles and times. Hidden or empty messages are skipped. Ids derive
from conversation and node ids, so re-importing a newer export only adds what
is new — and a conversation whose message the user edited since keeps only its
current branch, as a fresh import would (the old branch's messages are removed
and counted).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from ..exceptions import IngestError
from ..ids import stable_id
from ..output import track
from ..store import Store
from ..values import check_role, clean_text, load_json, parse_time, to_json
from .common import Batch, IngestReport, write


def _text(content: Any) -> str:
    if not isinstance(content, dict):
        return ""
    if isinstance(content.get("parts"), list):
        out = []
        for p in content["parts"]:
            if isinstance(p, str):
                out.append(p)
            elif isinstance(p, dict):
                out.append(str(p.get("text") or f"[{p.get('content_type', 'attachment')}]"))
        return "\n".join(x for x in out if x)
    if isinstance(content.get("text"), str):
        return content["text"]
    if isinstance(content.get("result"), str):
        return content["result"]
    return ""


def _branch(mapping: dict[str, Any], current: Any, place: str) -> list[str]:
    if not isinstance(current, str) or current not in mapping:
        # no current node: every node, ordered by time below
        return list(mapping)
    order = []
    seen: set[str] = set()
    node: Any = current
    while isinstance(node, str) and node in mapping:
        if node in seen:
            raise IngestError(f"the parent links form a cycle at node {node!r}", source=place, field="mapping")
        seen.add(node)
        order.append(node)
        entry = mapping[node]
        node = entry.get("parent") if isinstance(entry, dict) else None
    return list(reversed(order))


def parse_conversation(i: int, conv: Any, path: Path, batch: Batch) -> None:
    place = f"{path}: conversation {i + 1}"
    if not isinstance(conv, dict):
        raise IngestError(f"expected an object, got {type(conv).__name__}", source=place)
    conv_id = conv.get("conversation_id") or conv.get("id")
    if not isinstance(conv_id, str) or not conv_id:
        raise IngestError("has no conversation id", source=place, field="id")
    place = f"{path}: conversation {i + 1} ({conv_id})"
    mapping = conv.get("mapping")
    if not isinstance(mapping, dict):
        raise IngestError("is missing or not an object", source=place, field="mapping")
    ctime = conv.get("create_time")
    created = parse_time(ctime, source=place, field="create_time") if ctime is not None else None
    sid = stable_id("chatgpt-conversation", conv_id)
    msgs: list[dict[str, Any]] = []
    times: list[datetime] = []
    for node_id in _branch(mapping, conv.get("current_node"), place):
        entry = mapping.get(node_id)
        if not isinstance(entry, dict) or not isinstance(entry.get("message"), dict):
            continue
        m = entry["message"]
        where = f"{place} node {node_id}"
        author = m.get("author") if isinstance(m.get("author"), dict) else {}
        role = check_role(author.get("role"), source=where, field="author.role")
        text = clean_text(_text(m.get("content")), source=where, field="content") or ""
        meta = m.get("metadata") if isinstance(m.get("metadata"), dict) else {}
        if not text.strip() or meta.get("is_visually_hidden_from_conversation"):
            continue
        mt = m.get("create_time")
        when = parse_time(mt, source=where, field="create_time") if mt is not None else created
        if when is None:
            raise IngestError("has no create_time and neither does its conversation", source=where, field="create_time")
        tool_calls = None
        if role == "tool" and author.get("name"):
            text = f"[{author['name']}] {text}"
        msgs.append({"_source": where, "id": stable_id("chatgpt-message", conv_id, node_id), "session_id": sid,
                     "role": role, "content": text, "tool_calls": tool_calls, "created_at": when})
        times.append(when)
    if not msgs and created is None:
        return
    first = min(times, default=created)
    title = conv.get("title") if isinstance(conv.get("title"), str) else None
    batch.sessions.append({"_source": place, "id": sid, "name": clean_text(title, source=place, field="title"),
                           "created_at": created or first,
                           "metadata": {"source": "chatgpt", "conversation_id": conv_id,
                                        "model": to_json(conv.get("default_model_slug"), source=place, field="model") and conv.get("default_model_slug")}})
    batch.messages.extend(msgs)
    batch.whole_sessions.add(sid)  # the export holds the conversation as it is now: an edited message's old branch goes


def ingest_chatgpt(store: Store, path: str | Path, *, show_progress: bool | None = None) -> IngestReport:
    p = Path(path)
    if p.is_dir():
        p = p / "conversations.json"
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise IngestError(f"cannot read: {e.strerror}", source=str(p)) from e
    data = load_json(raw, source=str(p), hint=" (a truncated export?)")
    if not isinstance(data, list):
        raise IngestError("expected a JSON array of conversations (ChatGPT's conversations.json)", source=str(p))
    batch = Batch()
    for i, conv in track(list(enumerate(data)), "reading conversations", enabled=show_progress):
        parse_conversation(i, conv, p, batch)
    return write(store, batch)
