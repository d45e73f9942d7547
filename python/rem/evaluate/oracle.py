"""The oracle: an OpenAI-compatible endpoint on 127.0.0.1 that answers a
dream's requests from the gold itself — the pipeline's ceiling.

For each chunk it is asked about, it finds the items of every gold moment
among the chunk's refs and answers with that moment's title, topics,
people, emotions and kind, citing those refs. REM then resolves the answer
as it would any model's: a moment still covers whole segments, so what the
oracle cannot fix is the segmentation. The harness tells it, before each
dream, which item id each ref stands for (:meth:`Oracle.expect`).
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .gold import GoldMoment

_REF_LINE = re.compile(r"^\s*([RM]\d+) ", re.M)


class Oracle:
    """Context manager running the endpoint in a thread."""

    def __init__(self) -> None:
        self.ref_label: dict[str, int] = {}  # ref -> index of its gold moment
        self.gold: list[GoldMoment] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body are two writes: without TCP_NODELAY the body waited ~40 ms a request for the
            # client's delayed ACK on a kept-alive connection
            disable_nagle_algorithm = True

            def log_message(self, *a: Any) -> None:
                pass

            def _send(self, status: int, body: dict[str, Any]) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self) -> None:  # noqa: N802
                self._send(200, {"object": "list", "data": [{"id": "oracle", "object": "model", "owned_by": "rem"}]})

            def do_POST(self) -> None:  # noqa: N802
                req = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                self._send(200, outer.answer(req))

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def expect(self, gold: list[GoldMoment], ref_label: dict[str, int]) -> None:
        """The gold moments of the next dream and the gold moment of each of its refs."""
        with self._lock:
            self.gold, self.ref_label = gold, ref_label

    def answer(self, req: dict[str, Any]) -> dict[str, Any]:
        tools = req.get("tools") or []
        tool = tools[0]["function"]["name"] if tools else "ChunkAnswer"
        text = "\n".join(m.get("content") or "" for m in req.get("messages", []) if m.get("role") == "user")
        with self._lock:
            gold, labels = self.gold, self.ref_label
        if tool == "PeriodSummary":
            args: dict[str, Any] = {"summary": "; ".join(g.title for g in gold if g.title) + "."}
        else:
            refs: dict[int, list[str]] = {}
            for ref in _REF_LINE.findall(text):
                if ref in labels:
                    refs.setdefault(labels[ref], []).append(ref)
            moments = [{"name": gold[i].title or "Untitled", "summary": gold[i].title, "moment_type": gold[i].kind or "work_session",
                        "tags": gold[i].topics, "people": gold[i].people, "emotion_tags": gold[i].emotions,
                        "outcome": "", "refs": r} for i, r in sorted(refs.items())]
            args = {"moments": moments, "edges": [], "summary": "; ".join(str(m["name"]) for m in moments) + "."}
        return {"id": "chatcmpl-oracle", "object": "chat.completion", "created": int(time.time()), "model": "oracle",
                "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                    "role": "assistant", "content": None,
                    "tool_calls": [{"id": "call_1", "type": "function",
                                    "function": {"name": tool, "arguments": json.dumps(args)}}]}}],
                "usage": {"prompt_tokens": len(text) // 4, "completion_tokens": len(json.dumps(args)) // 4,
                          "total_tokens": len(text) // 4 + len(json.dumps(args)) // 4}}

    def __enter__(self) -> Oracle:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
