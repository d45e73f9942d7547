"""Coding-agent sessions: Claude Code and OpenAI's Codex CLI.

**Claude Code** keeps each session as JSONL under
``~/.claude/projects/<project>/<session id>.jsonl``: one record a line, with
``type`` (``user``, ``assistant``; also ``summary``, ``system``,
``file-history-snapshot`` …), ``uuid``, ``sessionId``, ``timestamp``,
``cwd``, ``gitBranch`` and, for the conversation, ``message`` ({``role``,
``content``}: a string, or parts ``text``, ``tool_use`` {id, name, input},
``tool_result`` {tool_use_id, content}, ``thinking``).

**Codex CLI** keeps each session as ``~/.codex/sessions/YYYY/MM/DD/rollout-….jsonl``:
records ``{"timestamp", "type", "payload"}``; ``session_meta`` (id, cwd,
git branch), ``response_item`` payloads ``message`` (role, content parts
``input_text``/``output_text``), ``function_call`` (name, arguments,
call_id), ``function_call_output`` (call_id, output), ``reasoning``;
``event_msg`` and ``turn_context`` records repeat what the others say.

One session per agent session (its project or working directory and git
branch in its metadata); user and assistant text as messages; each tool
call and each tool result as a ``tool`` message (the call's name and
arguments in ``tool_calls``). Ids come from the records' own ids (or the
file and line), so importing a folder again adds only what is new — a
session file that grew adds its new lines. Record types REM does not use
(thinking, summaries, snapshots, reasoning) are skipped and counted; a line
that is not JSON, or a record without a time, is named by file and line
and skipped, never failing the rest of the folder. A tool output longer
than :data:`MAX_TOOL_CHARS` is kept up to that length, with how much was
left out.

What the products add to a conversation that the person did not say is not
taken for it: Claude Code's ``isMeta`` records (the caveat before a local
command's output) are skipped, and a session is named after Claude Code's
own ``summary`` record when it has one, else its first user text that is not
a command wrapper (``<command-name>``, ``<local-command-stdout>``, a system
reminder, "[Request interrupted …]"); Codex's ``developer`` and ``system``
messages and the context it injects as user turns (``<environment_context>``,
``<user_instructions>``, AGENTS.md instructions) are skipped and counted.
A Claude Code subagent's transcript (``<project>/<session>/subagents/agent-….jsonl``)
is a session of its own, of the same project, with its parent session in its
metadata. Codex's ``custom_tool_call`` (``apply_patch``), ``local_shell_call``
and ``web_search_call`` are tool messages like ``function_call``; a rollout
of the early format (a first line without ``type``, items without
``payload`` or time) takes its items' times from the session's start.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ..exceptions import IngestError
from ..ids import stable_id
from ..output import track
from ..store import Store
from ..values import clean_text, parse_time
from .common import Batch, IngestReport, write

MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_TOOL_CHARS = 20_000  # of one tool result or call's arguments (the packer shortens tool output further)


# text the products put in a user turn that the person did not type: Claude Code's command wrappers, reminders
# and interruptions; Codex's injected context and instructions
_WRAPPER = re.compile(r"\s*(?:<(?:command-(?:name|message|args)|local-command-std(?:out|err)|system-reminder|"
                      r"environment_context|user_instructions|user_shell_command|INSTRUCTIONS|permissions instructions)\b"
                      r"|Caveat: The messages below were generated|\[Request interrupted|# AGENTS\.md instructions)")
# of those, what Codex injects as a user turn of its own (skipped, never a message)
_CODEX_CONTEXT = re.compile(r"\s*(?:<(?:environment_context|user_instructions|INSTRUCTIONS|permissions instructions)\b"
                            r"|# AGENTS\.md instructions)")


def _cut(text: str, limit: int = MAX_TOOL_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + f"\n… [{len(text) - limit:,} more characters not kept]"


def _text_of(content: Any) -> str:
    """The text of a tool result's content (a string, or parts with ``text``)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return "" if content is None else json.dumps(content, ensure_ascii=False)


class _Session:
    def __init__(self, kind: str, key: str, place: str, project: str | None) -> None:
        self.id = stable_id(f"{kind}-session", key)
        self.kind, self.key, self.place = kind, key, place
        self.meta: dict[str, Any] = {"source": kind, "session": key, "project": project, "file": place}
        self.first: datetime | None = None
        self.messages: list[dict[str, Any]] = []
        self.title: str | None = None

    def message(self, mid: str, when: datetime, role: str, content: str, place: str,
                tool_calls: list[dict[str, Any]] | None = None) -> None:
        self.first = when if self.first is None else min(self.first, when)
        text = clean_text(content, source=place, field="content") or ""
        if role == "user" and self.title is None and text.strip() and not _WRAPPER.match(text):
            self.title = " ".join(text.split())[:80]
        self.messages.append({"_source": place, "id": mid, "session_id": self.id, "role": role, "content": text,
                              "speaker": None, "tool_calls": tool_calls, "created_at": when, "trace_id": None, "span_id": None})

    def rows(self) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        if self.first is None:
            return None, []
        name = self.meta.get("summary") or self.title or self.meta.get("project") or self.key
        return ({"_source": self.place, "id": self.id, "name": clean_text(name, source=self.place, field="name"),
                 "created_at": self.first, "metadata": {k: v for k, v in self.meta.items() if v is not None}}, self.messages)


def _lines(path: Path, report: IngestReport) -> Iterator[tuple[int, dict[str, Any]]]:
    place = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            report.passed_over.append(f"{place}: {size / 1e6:.0f} MB, larger than {MAX_FILE_BYTES // 2**20} MB")
            return
        raw = path.read_bytes()
    except OSError as e:
        report.errors.append(f"{place}: cannot read ({e.strerror})")
        return
    for n, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as e:
            report.errors.append(f"{place}:{n}: not JSON ({str(e)[:80]}); the line was skipped")
            continue
        if isinstance(rec, dict):
            yield n, rec
        else:
            report.errors.append(f"{place}:{n}: not a JSON object; the line was skipped")


def _when(rec: dict[str, Any], place: str, report: IngestReport) -> datetime | None:
    try:
        return parse_time(rec.get("timestamp"), source=place, field="timestamp")
    except IngestError as e:
        report.errors.append(f"{e}; the line was skipped")
        return None


# -- Claude Code ----------------------------------------------------------------------------------------------
def _claude_file(path: Path, root: Path, report: IngestReport, skipped: Counter[str]) -> _Session:
    parts = path.relative_to(root).parts
    project = parts[0] if len(parts) > 1 else None  # the folder Claude Code names after the directory
    s = _Session("claude-code", path.stem, str(path), project)
    s.meta["project_folder"] = project
    if len(parts) >= 4 and parts[-2] == "subagents":  # <project>/<session>/subagents/agent-….jsonl
        s.meta["parent_session"] = parts[-3]
    for n, rec in _lines(path, report):
        place = f"{path}:{n}"
        kind = rec.get("type")
        msg = rec.get("message")
        if kind == "summary" and isinstance(rec.get("summary"), str) and "summary" not in s.meta:
            s.meta["summary"] = " ".join(rec["summary"].split())[:200] or None  # Claude Code's own title
            continue
        if kind not in ("user", "assistant") or not isinstance(msg, dict):
            skipped[str(kind)] += 1
            continue
        if rec.get("isMeta") is True:  # the caveat Claude Code writes before a local command's output
            skipped["meta"] += 1
            continue
        when = _when(rec, place, report)
        if when is None:
            continue
        for key, meta_key in (("cwd", "cwd"), ("gitBranch", "git_branch"), ("sessionId", "session_id")):
            if key == "sessionId" and "parent_session" in s.meta:  # a subagent's records carry its parent's id
                continue
            if rec.get(key) and meta_key not in s.meta:
                s.meta[meta_key] = str(rec[key])
                if key == "cwd":
                    s.meta["project"] = Path(str(rec[key])).name or s.meta["project"]
        uid = str(rec.get("uuid") or f"{path.name}:{n}")
        role = "assistant" if msg.get("role") == "assistant" or kind == "assistant" else "user"
        content = msg.get("content")
        if isinstance(content, str):
            s.message(stable_id("claude-code", uid, 0), when, role, content, place)
            continue
        if not isinstance(content, list):
            skipped["empty"] += 1
            continue
        text: list[str] = []
        step = timedelta(microseconds=1)  # the parts of one record keep their order
        text_at = when
        for i, part in enumerate(content):
            at = when + step * (i + 1)
            if not isinstance(part, dict):
                continue
            t = part.get("type")
            if t == "text":
                text.append(str(part.get("text") or ""))
                text_at = text_at if len(text) > 1 else at
            elif t == "tool_use":
                args = json.dumps(part.get("input"), ensure_ascii=False)
                name = str(part.get("name") or "tool")
                s.message(stable_id("claude-code", uid, i), at, "tool", f"{name}({_cut(args, 2000)})", place,
                          [{"id": str(part.get("id") or ""), "type": "function",
                            "function": {"name": name, "arguments": _cut(args)}}])
            elif t == "tool_result":
                s.message(stable_id("claude-code", uid, i), at, "tool", _cut(_text_of(part.get("content"))), place,
                          [{"id": str(part.get("tool_use_id") or ""), "type": "function_result"}])
            else:
                skipped[str(t)] += 1
        if any(x.strip() for x in text):
            s.message(stable_id("claude-code", uid, "text"), text_at, role, "\n".join(text), place)
    return s


# -- Codex CLI ------------------------------------------------------------------------------------------------
_CODEX_ITEMS = ("message", "function_call", "function_call_output", "custom_tool_call", "custom_tool_call_output",
                "local_shell_call", "web_search_call", "reasoning")


def _codex_file(path: Path, root: Path, report: IngestReport, skipped: Counter[str]) -> _Session:
    s = _Session("codex", path.stem, str(path), None)
    start: datetime | None = None  # the session's start: the time of the early format's items, which have none
    for n, rec in _lines(path, report):
        place = f"{path}:{n}"
        kind, p = rec.get("type"), rec.get("payload")
        if n == 1 and kind is None and "payload" not in rec and ("instructions" in rec or "id" in rec):
            kind, p = "session_meta", rec  # the early format's first line: the session itself
        elif kind in _CODEX_ITEMS and "payload" not in rec:
            kind, p = "response_item", rec  # the early format: an item a line, no wrapper
        if not isinstance(p, dict):
            skipped[str(kind if kind is not None else rec.get("record_type"))] += 1
            continue
        if kind == "session_meta":
            s.meta["session_id"] = str(p.get("id") or "") or None
            s.meta["cwd"] = p.get("cwd")
            git = p.get("git")
            s.meta["git_branch"] = git.get("branch") if isinstance(git, dict) else None
            s.meta["project"] = Path(str(p["cwd"])).name if p.get("cwd") else None
            parent = p.get("forked_from_id") or p.get("parent_thread_id")
            s.meta["parent_session"] = str(parent) if parent else None
            with contextlib.suppress(IngestError):
                start = parse_time(p.get("timestamp") or rec.get("timestamp"), source=place, field="timestamp")
            continue
        if kind != "response_item":
            skipped[str(kind)] += 1
            continue
        if "timestamp" not in rec and start is not None:
            when: datetime | None = start + timedelta(microseconds=n)  # the early format: in file order
        else:
            when = _when(rec, place, report)
        if when is None:
            continue
        t = p.get("type")
        mid = stable_id("codex", path.name, n)
        if t == "message":
            role = p.get("role")
            content = p.get("content")
            parts = [content] if isinstance(content, str) else content if isinstance(content, list) else []
            text = "\n".join(str(c.get("text") or "") if isinstance(c, dict) else str(c) for c in parts)
            if role not in ("user", "assistant"):  # developer and system messages: Codex's instructions to the model
                skipped[str(role)] += 1
            elif role == "user" and _CODEX_CONTEXT.match(text):  # the context Codex injects as a user turn
                skipped["context"] += 1
            elif text.strip():
                s.message(mid, when, str(role), text, place)
        elif t in ("function_call", "custom_tool_call", "local_shell_call", "web_search_call"):
            raw_action = p.get("action")
            action: dict[str, Any] = raw_action if isinstance(raw_action, dict) else {}
            if t == "local_shell_call":
                name, args = "shell", json.dumps(action, ensure_ascii=False)
            elif t == "web_search_call":
                name, args = "web_search", str(action.get("query") or "")
            else:
                name = str(p.get("name") or "tool")
                raw = p.get("arguments") if t == "function_call" else p.get("input")
                args = raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False)
            s.message(mid, when, "tool", f"{name}({_cut(args, 2000)})", place,
                      [{"id": str(p.get("call_id") or p.get("id") or ""), "type": "function",
                        "function": {"name": name, "arguments": _cut(args)}}])
        elif t in ("function_call_output", "custom_tool_call_output"):
            out = p.get("output")
            s.message(mid, when, "tool", _cut(_text_of(out.get("content") if isinstance(out, dict) else out)), place,
                      [{"id": str(p.get("call_id") or ""), "type": "function_result"}])
        else:
            skipped[str(t)] += 1
    return s


def _ingest(store: Store, directory: str | Path, kind: str, default: str, pattern: str, show_progress: bool | None) -> IngestReport:
    root = Path(os.path.expanduser(str(directory or default)))
    if not root.is_dir():
        raise IngestError(f"is not a folder (the {kind} sessions are in {default})", source=str(root))
    files = sorted(p for p in root.rglob(pattern) if p.is_file() and not p.is_symlink())
    report = IngestReport()
    skipped: Counter[str] = Counter()
    read = _claude_file if kind == "claude-code" else _codex_file
    for f in track(files, f"reading {kind} sessions", enabled=show_progress):
        s = read(f, root, report, skipped)
        session, messages = s.rows()
        if session is None:
            continue
        batch = Batch()
        batch.sessions.append(session)
        batch.messages = messages
        try:
            write(store, batch, report)  # one transaction per session file
        except IngestError as e:
            report.errors.append(str(e))
    report.skipped_records = dict(skipped)
    return report


def ingest_claude_code(store: Store, directory: str | Path | None = None, *, show_progress: bool | None = None) -> IngestReport:
    """Every Claude Code session under ``directory`` (default ``~/.claude/projects``)."""
    return _ingest(store, directory or "", "claude-code", "~/.claude/projects", "*.jsonl", show_progress)


def ingest_codex(store: Store, directory: str | Path | None = None, *, show_progress: bool | None = None) -> IngestReport:
    """Every Codex CLI session under ``directory`` (default ``~/.codex/sessions``)."""
    return _ingest(store, directory or "", "codex", "~/.codex/sessions", "*.jsonl", show_progress)
