"""The first half of a dream: window → collect → segment + pack → estimate.

``rem dream --dry-run`` prints this plan; a real dream sends its chunks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from .. import _rem, agentlet
from ..config import LLMSettings
from ..store import Store
from .collect import Activity, Packed, collect, pack
from .window import Window, resolve_window

PROMPT_OVERHEAD_TOKENS = 150  # instructions around each chunk besides the system prompt


@dataclass
class Plan:
    window: Window
    activity: Activity
    packed: Packed
    settings: LLMSettings
    est_input_tokens: int
    max_output_tokens: int
    timings: dict[str, float]

    @property
    def n_chunks(self) -> int:
        return self.packed.chunks.num_rows

    @property
    def est_cost(self) -> float | None:
        return self.settings.estimate_cost(self.est_input_tokens, self.n_chunks * self.max_output_tokens)

    def to_json(self, include_chunks: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "window": {"start": self.window.start.isoformat(), "end": self.window.end.isoformat()},
            "resources": self.activity.resources.num_rows,
            "sessions": self.activity.sessions.num_rows,
            "messages": self.activity.messages.num_rows,
            "segments": self.packed.segments.num_rows,
            "chunks": self.n_chunks,
            "estimated_input_tokens": self.est_input_tokens,
            "token_estimate": "offline estimate: 1 token per 4 ASCII bytes + 1 per non-ASCII character",
            "max_output_tokens_per_chunk": self.max_output_tokens,
            "model": self.settings.model,
            "provider": self.settings.provider,
            "estimated_cost_usd": self.est_cost,
            "timings_ms": {k: round(v * 1000, 2) for k, v in self.timings.items()},
        }
        if include_chunks:
            out["packed"] = self.packed.to_json()
        return out

    def describe(self) -> str:
        a, p = self.activity, self.packed
        cost = self.est_cost
        cost_s = (
            f"${cost:.4f} (upper bound: {self.max_output_tokens} output tokens per chunk)"
            if cost is not None
            else f"unknown — no price for model {self.settings.model!r}; set [llm] price_in_per_mtok/price_out_per_mtok"
        )
        lines = [
            f"window      {self.window}  ({self.window.hours:.1f} h)",
            f"activity    {a.resources.num_rows} resources, {a.sessions.num_rows} sessions, {a.messages.num_rows} messages",
            f"segments    {p.segments.num_rows}",
            f"chunks      {self.n_chunks}",
            f"input       ~{self.est_input_tokens:,} tokens (estimate, incl. prompt; packed activity ~{p.est_tokens:,})",
            f"model       {self.settings.model} ({self.settings.provider})",
            f"est. cost   {cost_s}",
        ]
        if a.empty:
            lines.append("nothing to dream about in this window")
        if p.segments.num_rows:
            lines.append("")
            lines.append("segments:")
            for s in p.segments.to_pylist():
                from datetime import UTC, datetime

                st = datetime.fromtimestamp(s["start"] / 1e6, UTC)
                en = datetime.fromtimestamp(s["end"] / 1e6, UTC)
                lines.append(
                    f"  {s['ref']:<5} {st:%a %Y-%m-%d %H:%M}–{en:%H:%M} UTC  {s['n_items']:>4} items"
                    f"  chunk {s['first_chunk']}" + (f"–{s['last_chunk']}" if s["last_chunk"] != s["first_chunk"] else "")
                )
        return "\n".join(lines)


def plan(
    store: Store,
    settings: LLMSettings,
    *,
    lookback_hours: float | None,
    start: str | None,
    end: str | None,
    gap_minutes: float = 30.0,
    max_input_tokens: int = 6000,
) -> Plan:
    window = resolve_window(lookback_hours=lookback_hours, start=start, end=end)
    t0 = time.perf_counter()
    activity = collect(store, window)
    t1 = time.perf_counter()
    packed = pack(activity, gap_minutes=gap_minutes, max_input_tokens=max_input_tokens)
    t2 = time.perf_counter()
    agent = agentlet.load()
    sys_tokens = _rem.estimate_tokens(agent["system_prompt"])
    n = packed.chunks.num_rows
    est_in = packed.est_tokens + n * (sys_tokens + PROMPT_OVERHEAD_TOKENS)
    max_out = int(settings.max_output_tokens or agent["defaults"]["max_output_tokens"])
    return Plan(window, activity, packed, settings, est_in, max_out, {"collect": t1 - t0, "pack": t2 - t1})
