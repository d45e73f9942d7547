"""A scripted OpenAI-compatible server on 127.0.0.1 for fault-injection tests.

Real sockets, real HTTP: REM's openai + instructor stack talks to it exactly
as to a provider. ``script(request_json, n)`` decides each answer to
``/v1/chat/completions`` (``n`` counts calls from 0) and returns a
:class:`Reply`; the default script answers like a competent model: one
moment per segment, with tags and emotions chosen from keywords.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict → JSON; bytes → raw
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    cut: bool = False  # send the headers and half the body, then drop the connection


KEYWORDS = {
    "diskann": (["diskann", "vector search", "rust"], ["focused", "productive"]),
    "vamana": (["diskann", "vamana", "graph construction"], ["focused", "productive"]),
    "hnsw": (["hnsw", "debugging", "recall"], ["frustrated"]),
    "bm25": (["bm25", "hybrid search", "ranking"], ["excited"]),
    "ci pipeline": (["ci", "infrastructure"], ["frustrated", "relieved"]),
    "sprint": (["sprint planning", "roadmap"], ["collaborative"]),
    "documentation": (["documentation", "api design"], ["satisfied"]),
}


def tool_name(req: dict[str, Any]) -> str:
    tools = req.get("tools") or []
    if tools:
        return tools[0]["function"]["name"]
    return "ChunkAnswer"


def completion(req: dict[str, Any], args: Any, *, raw_args: str | None = None, finish: str = "tool_calls",
               prompt_tokens: int = 1000, completion_tokens: int = 200) -> dict[str, Any]:
    return {
        "id": "chatcmpl-scripted", "object": "chat.completion", "created": int(time.time()), "model": req.get("model", "scripted"),
        "choices": [{"index": 0, "finish_reason": finish, "message": {
            "role": "assistant", "content": None,
            "tool_calls": [{"id": "call_1", "type": "function",
                            "function": {"name": tool_name(req), "arguments": raw_args if raw_args is not None else json.dumps(args)}}]}}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens},
    }


def user_text(req: dict[str, Any]) -> str:
    return "\n".join(m.get("content") or "" for m in req.get("messages", []) if m.get("role") == "user")


def segments_in(text: str) -> dict[str, str]:
    """Segment ref → its text, from a packed chunk."""
    out: dict[str, str] = {}
    cur = None
    for line in text.splitlines():
        m = re.match(r"^## (G\d+)", line)
        if m:
            cur = m.group(1)
            out.setdefault(cur, "")
        elif cur:
            out[cur] += line + "\n"
    return out


def good_answer(req: dict[str, Any]) -> dict[str, Any]:
    if tool_name(req) == "PeriodSummary":
        return {"summary": "A productive period of vector search work and some debugging."}
    text = user_text(req)
    moments = []
    for g, body in segments_in(text).items():
        low = body.lower()
        tags: list[str] = []
        emo: list[str] = []
        for kw, (t, e) in KEYWORDS.items():
            if kw in low:
                tags += [x for x in t if x not in tags]
                emo += [x for x in e if x not in emo]
        people = [p for p in ("Alice Chen", "Bob Okafor", "Priya Raman", "Diego Santos") if p in body]
        moments.append({"name": f"Work on {tags[0] if tags else 'various things'}", "summary": f"Segment {g}.",
                        "moment_type": "debugging" if "hnsw" in tags else "work_session", "tags": tags or ["misc"],
                        "emotion_tags": emo or ["neutral"], "people": people, "outcome": "progress", "refs": [g]})
    items = re.findall(r"^\s*(R\d+) ", text, re.M)
    edges = [{"source": items[0], "target": items[1], "edge_type": "related_to", "reason": "same topic"}] if len(items) >= 2 else []
    return {"moments": moments, "edges": edges, "summary": "A day of focused work."}


Script = Callable[[dict[str, Any], int], Reply]


def default_script(req: dict[str, Any], n: int) -> Reply:
    return Reply(body=completion(req, good_answer(req)))


class ScriptedLLM:
    """Context manager running the server in a thread."""

    def __init__(self, script: Script = default_script) -> None:
        self.script = script
        self.requests: list[dict[str, Any]] = []
        self.raw_requests: list[bytes] = []
        self.times: list[float] = []  # when each request arrived (time.time())
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # the headers and the body go out in two writes: with Nagle's algorithm on a kept-alive connection the
            # body waited for the client's delayed ACK, 40 ms a request (real endpoints set TCP_NODELAY too)
            disable_nagle_algorithm = True

            def log_message(self, *a: Any) -> None:
                pass

            def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_GET(self) -> None:  # noqa: N802
                if self.path.rstrip("/").endswith("/models"):
                    self._send(200, json.dumps({"object": "list", "data": [{"id": "scripted", "object": "model", "owned_by": "tests"}]}).encode())
                else:
                    self._send(404, b'{"error": {"message": "not found"}}')

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                with outer._lock:
                    outer.times.append(time.time())
                    outer.raw_requests.append(raw + json.dumps(dict(self.headers)).encode())
                    n = len(outer.requests)
                    try:
                        req = json.loads(raw)
                    except ValueError:
                        req = {}
                    outer.requests.append(req)
                reply = outer.script(req, n)
                if reply.delay:
                    time.sleep(reply.delay)
                body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body or {"error": {"message": "scripted error"}}).encode()
                if reply.cut:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self._send(reply.status, body, {"retry-after-ms": "10", **reply.headers})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> ScriptedLLM:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
