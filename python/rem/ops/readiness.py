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

During a run, ``--yield-to-user`` stops between model calls once other
programs have kept more than ``yield_other_load`` of the CPU busy (default
0.5 = half of all cores; REM's own model server does not count) for
``yield_after_s`` seconds (default 60)::

    [schedule]
    yield_other_load = 0.5
    yield_after_s = 60

The run is recorded as ``interrupted`` with the reason, nothing is written,
and the next dream covers the same activity.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ..days import parse_quiet

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
            parse_quiet(q)  # fail early on a typo
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
            days, start, end = parse_quiet(q)
            t = now.hour * 60 + now.minute
            if now.weekday() in days and start <= t < end:
                return f"quiet hours ({q})"
        return None


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


# -- yielding during a run ---------------------------------------------------------------
def _proc_cpu_jiffies() -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            parts = f.readline().split()
    except OSError:
        return None
    vals = [int(x) for x in parts[1:]]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
    total = sum(vals[:8])
    return total - idle, total


def _own_jiffies(root: int) -> int:
    """CPU jiffies used by ``root`` and all its descendants (e.g. the
    embedded model server), from /proc/<pid>/stat."""
    parents: dict[int, int] = {}
    times: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue
        rest = s[s.rfind(")") + 2:].split()
        parents[int(d)] = int(rest[1])
        times[int(d)] = int(rest[11]) + int(rest[12])
    mine, frontier = {root}, [root]
    while frontier:
        p = frontier.pop()
        for c, pp in parents.items():
            if pp == p and c not in mine:
                mine.add(c)
                frontier.append(c)
    return sum(times.get(p, 0) for p in mine)


class OtherLoad:
    """CPU used by everything except this process and its children, in cores
    per core (0 = idle, 1 = every core busy), between two calls.

    On Linux this is measured from /proc (so the model REM runs does not count
    as the user's load); elsewhere the 1-minute load average per core is used.
    """

    def __init__(self) -> None:
        self._last: tuple[int, int, int] | None = None

    def __call__(self) -> float | None:
        cpu = _proc_cpu_jiffies()
        if cpu is None:
            return current_load_per_core()
        own = _own_jiffies(os.getpid())
        now = (cpu[0], cpu[1], own)
        last, self._last = self._last, now
        if last is None or now[1] <= last[1]:
            return None
        busy, total, mine = now[0] - last[0], now[1] - last[1], now[2] - last[2]
        return max(0.0, (busy - mine) / total)


class YieldWatcher:
    """``--yield-to-user``: samples the load other processes put on the
    machine every ``every_s`` seconds in a background thread; :meth:`reason`
    says why to stop once it has stayed above ``max_other_load`` (fraction of
    all cores, default 0.5) for ``sustain_s`` seconds (default 60). The dream
    asks between model calls, so a call in flight is never cut."""

    def __init__(self, max_other_load: float = 0.5, sustain_s: float = 60.0, every_s: float = 5.0,
                 reader: Callable[[], float | None] | None = None) -> None:
        import threading

        self.max_other_load, self.sustain_s, self.every_s = max_other_load, sustain_s, every_s
        self.reader = reader or OtherLoad()
        self.high_since: float | None = None
        self.last: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="rem-yield-watch", daemon=True)

    @classmethod
    def from_config(cls, cfg: dict[str, object]) -> YieldWatcher:
        sc = cfg.get("schedule", {}) if isinstance(cfg.get("schedule", {}), dict) else {}
        assert isinstance(sc, dict)
        return cls(float(sc.get("yield_other_load", 0.5)), float(sc.get("yield_after_s", 60)))

    def sample(self, now: float | None = None) -> None:
        import time

        t = time.monotonic() if now is None else now
        v = self.reader()
        if v is None:
            return
        self.last = v
        if v > self.max_other_load:
            self.high_since = t if self.high_since is None else self.high_since
        else:
            self.high_since = None

    def reason(self, now: float | None = None) -> str | None:
        import time

        t = time.monotonic() if now is None else now
        if self.high_since is not None and t - self.high_since >= self.sustain_s:
            return (f"yielded to the user: other programs kept {100 * (self.last or 0):.0f}% of the CPU busy "
                    f"(> {100 * self.max_other_load:.0f}%) for {t - self.high_since:.0f}s")
        return None

    def _loop(self) -> None:
        self.sample()
        while not self._stop.wait(self.every_s):
            self.sample()

    def __enter__(self) -> YieldWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
