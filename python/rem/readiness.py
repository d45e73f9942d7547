"""Is the machine ready for a scheduled dream?

A scheduled dream (the timer's or the daemon's — never a manual one, never
with ``--force``) is skipped when the 1-minute load average per core is above
``max_load_per_core`` (default 1.5), when available memory is under
``min_available_mb`` (default 400 MB), or during configured quiet hours::

    [schedule]
    max_load_per_core = 1.5
    min_available_mb = 400
    quiet_hours = ["Mon-Fri 09:00-18:00"]

Every skip is recorded in ``dream_runs`` with its reason.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from .exceptions import ConfigError

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


@dataclass
class Readiness:
    max_load_per_core: float = 1.5
    min_available_mb: float = 400.0
    quiet_hours: list[str] = field(default_factory=list)

    @classmethod
    def from_config(cls, cfg: dict[str, object]) -> Readiness:
        sc = cfg.get("schedule", {}) if isinstance(cfg.get("schedule", {}), dict) else {}
        assert isinstance(sc, dict)
        r = cls(float(sc.get("max_load_per_core", 1.5)), float(sc.get("min_available_mb", 400)),
                [str(q) for q in sc.get("quiet_hours", [])])
        for q in r.quiet_hours:
            _parse_quiet(q)  # fail early on a typo
        return r

    def reason_to_skip(self, now: datetime, load_per_core: float | None = None, available_mb: float | None = None) -> str | None:
        """Why a scheduled dream should not start now (None = go)."""
        load = current_load_per_core() if load_per_core is None else load_per_core
        mem = current_available_mb() if available_mb is None else available_mb
        if load is not None and load > self.max_load_per_core:
            return f"machine busy: load {load:.2f} per core > {self.max_load_per_core}"
        if mem is not None and mem < self.min_available_mb:
            return f"low memory: {mem:.0f} MB available < {self.min_available_mb:.0f} MB"
        for q in self.quiet_hours:
            days, start, end = _parse_quiet(q)
            t = now.hour * 60 + now.minute
            if now.weekday() in days and start <= t < end:
                return f"quiet hours ({q})"
        return None


def _parse_quiet(text: str) -> tuple[set[int], int, int]:
    m = re.fullmatch(r"\s*(?:([A-Za-z]{3})(?:-([A-Za-z]{3}))?\s+)?(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})\s*", text)
    if not m:
        raise ConfigError(f"quiet hours {text!r}: use e.g. \"Mon-Fri 09:00-18:00\" or \"22:00-23:30\"")
    d1, d2 = (m.group(1) or "mon").lower(), (m.group(2) or m.group(1) or "sun").lower()
    if d1 not in DAYS or d2 not in DAYS:
        raise ConfigError(f"quiet hours {text!r}: days are Mon, Tue, Wed, Thu, Fri, Sat, Sun")
    a, b = DAYS.index(d1), DAYS.index(d2)
    days = set(range(a, b + 1)) if a <= b else set(range(a, 7)) | set(range(0, b + 1))
    if not m.group(1):
        days = set(range(7))
    start = int(m.group(3)) * 60 + int(m.group(4))
    end = int(m.group(5)) * 60 + int(m.group(6))
    return days, start, end


def current_load_per_core() -> float | None:
    try:
        return os.getloadavg()[0] / max(1, os.cpu_count() or 1)
    except OSError:
        return None


def current_available_mb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None
