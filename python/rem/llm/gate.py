"""A gate every model request passes through before it is sent.

One process-wide hook, installed by whoever must pace requests (`rem fleet`
installs its shared rate limit on each Dask worker): it is called on the
HTTP level, so transport retries and validation retries are paced too. The
hook gets the request's URL and an estimate of its tokens (the body's
length / 4 plus the answer's ``max_tokens``) and blocks until the request
may go. Without a hook, nothing changes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

Gate = Callable[[str, int], None]

_lock = threading.Lock()
_gate: Gate | None = None


def install(gate: Gate | None) -> None:
    """Set (or, with None, remove) the process's gate."""
    global _gate
    with _lock:
        _gate = gate


def estimate_tokens(body: bytes) -> int:
    """A request's tokens, estimated offline: ~4 bytes a token in, plus the answer's cap."""
    out = 0
    try:
        req = json.loads(body) if body else {}
        if isinstance(req, dict):
            cap = req.get("max_tokens") or req.get("max_completion_tokens") or 0
            out = int(cap) if isinstance(cap, int | float) else 0
    except (ValueError, TypeError):
        pass
    return len(body) // 4 + max(out, 0)


def _on_request(request: Any) -> None:
    gate = _gate
    if gate is None:
        return
    try:
        body = request.content
    except Exception:  # noqa: BLE001 - a streamed body: count only the answer's cap
        body = b""
    gate(str(request.url), estimate_tokens(body))


def http_client() -> Any:
    """An httpx client for the openai SDK that passes every request through the gate,
    or None when no gate is installed (the SDK's own client is used)."""
    if _gate is None:
        return None
    import openai

    return openai.DefaultHttpxClient(event_hooks={"request": [_on_request]})
