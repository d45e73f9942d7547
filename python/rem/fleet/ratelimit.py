"""One rate limit for the whole fleet: requests and tokens per minute, per
model endpoint, shared by every Dask worker.

The limit lives in a Dask **actor** (:class:`FleetLimiter`): one object on
one worker that every task asks, through the scheduler's own connections,
before each model request ("may I send a request of ~N tokens to this
endpoint?"). The actor answers with how long to wait; it books the request
at that moment, so the answers of all workers together never put more than
the limit into any sliding window. A worker waits on its side and sends
(:func:`worker_gate`, installed as :mod:`rem.llm.gate`'s hook).

Grants are handed out in order (first come, first served) with a small
margin, so network jitter between the grant and the provider's clock does
not push two windows' worth into one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any

log = logging.getLogger("rem.fleet")


class SlidingWindow:
    """At most ``requests`` requests and ``tokens`` tokens in any ``window_s``
    seconds (either may be None: not limited). Not thread-safe: the actor
    calls it from one thread."""

    def __init__(self, requests: int | None, tokens: int | None, window_s: float = 60.0, margin_s: float = 0.25):
        self.requests = requests
        self.tokens = tokens
        self.window_s = window_s + margin_s
        self._grants: deque[tuple[float, int]] = deque()  # (time, tokens), in time order
        self._last = 0.0

    def reserve(self, tokens: int, now: float) -> float:
        """Book a request of ``tokens`` at the earliest moment the limit allows; return that moment."""
        w = self.window_s
        while self._grants and self._grants[0][0] + w <= now:
            self._grants.popleft()
        t = max(now, self._last)
        while True:
            # (written as g + w > t, the same sum as the move below: no rounding can keep a grant inside)
            inside = [g for g in self._grants if g[0] + w > t]
            over_requests = self.requests is not None and len(inside) >= self.requests
            # a request larger than the whole token budget goes alone, in an empty window
            over_tokens = (self.tokens is not None and inside
                           and sum(k for _, k in inside) + tokens > self.tokens)
            if not (over_requests or over_tokens):
                break
            t = inside[0][0] + w  # when the oldest grant in the window leaves it
        self._grants.append((t, tokens))
        self._last = t
        return t


class FleetLimiter:
    """The actor: one :class:`SlidingWindow` per limited endpoint."""

    def __init__(self, limits: list[dict[str, Any]], window_s: float = 60.0, margin_s: float = 0.25):
        self._windows = {lim["endpoint"]: SlidingWindow(lim.get("requests_per_minute"), lim.get("tokens_per_minute"),
                                                        window_s, margin_s) for lim in limits}
        self._log: list[tuple[str, float, int]] = []  # every grant: endpoint, time, tokens
        self._lock = threading.Lock()

    def reserve(self, endpoint: str, tokens: int) -> float:
        """Seconds the caller must wait before sending (0 = now)."""
        with self._lock:
            now = time.time()
            win = self._windows.get(endpoint)
            if win is None:
                return 0.0
            at = win.reserve(tokens, now)
            self._log.append((endpoint, at, tokens))
            return max(0.0, at - now)

    def grants(self) -> list[tuple[str, float, int]]:
        """Every grant so far (for the simulation's check that the limit held)."""
        with self._lock:
            return list(self._log)


def max_in_window(times: list[float], window_s: float) -> int:
    """The most events inside any half-open window of ``window_s`` seconds."""
    ts = sorted(times)
    best = 0
    j = 0
    for i, t in enumerate(ts):
        while ts[j] + window_s <= t:
            j += 1
        best = max(best, i - j + 1)
    return best


def worker_gate(limiter: Any, limits: list[dict[str, Any]]) -> Any:
    """The :mod:`rem.llm.gate` hook for a worker: requests to a limited endpoint
    wait for the actor's grant; others go at once (no round trip)."""
    eps = sorted((lim["endpoint"] for lim in limits), key=lambda e: (e == "*", -len(e)))

    def endpoint_of(url: str) -> str | None:
        for ep in eps:
            if ep == "*" or url.startswith(ep.rstrip("/")):
                return ep
        return None

    def gate(url: str, tokens: int) -> None:
        ep = endpoint_of(url)
        if ep is None:
            return
        try:
            wait = float(limiter.reserve(ep, tokens).result())
        except Exception as e:
            log.error("the fleet's rate limiter did not answer (%s: %s); the request is not sent",
                      type(e).__name__, e)
            raise
        if wait > 0:
            time.sleep(wait)

    return gate
