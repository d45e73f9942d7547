"""`rem daemon`: a scheduler for machines without systemd (containers, macOS).

Computes the next run from a cron expression with ``croniter`` in the local
time zone (aware datetimes, so daylight-saving changes are handled), sleeps
in short steps (so SIGTERM and Ctrl-C stop it promptly), dreams with
``--scheduled`` semantics, logs and repeats. With a threshold it also dreams
as soon as N new resources or sessions arrived since the last successful
dream (checked every few minutes), never more often than ``min_interval``.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from croniter import croniter

from .. import ledger
from ..exceptions import ConfigError, InterruptedRun, RemError
from ..store import Store

log = logging.getLogger("rem.daemon")


def next_run(expr: str, after: datetime) -> datetime:
    """The next time ``expr`` fires after ``after`` (an aware datetime; the
    result is in the same zone, DST transitions included)."""
    if after.tzinfo is None:
        raise ValueError("after must be time-zone aware")
    if not croniter.is_valid(expr):
        raise ConfigError(f"--cron {expr!r} is not a valid cron expression (e.g. \"0 3 * * *\")")
    return croniter(expr, after).get_next(datetime)


def new_activity_since_last_dream(store: Store) -> int:
    """Resources and sessions REM stored since the last successful dream
    (by when they arrived, not by their timestamps: see :func:`rem.ledger.new_since_last_dream`)."""
    with store.read(sandbox=False) as con:
        return ledger.new_since_last_dream(con)


class Daemon:
    def __init__(self, store: Store, expr: str, dream_once: Callable[[str], None], *, threshold: int | None = None,
                 min_interval: float = 3600.0, check_every: float = 300.0, max_runs: int | None = None) -> None:
        self.store = store
        self.expr = expr
        self.dream_once = dream_once
        self.threshold = threshold
        self.min_interval = min_interval
        self.check_every = check_every
        self.max_runs = max_runs
        self.stop = threading.Event()
        self.runs = 0
        self.last_dream: float | None = None
        next_run(expr, datetime.now().astimezone())  # validate now

    def _handle(self, signum: int, frame: object) -> None:
        log.info("received %s: stopping after the current step", signal.Signals(signum).name)
        self.stop.set()

    def run(self) -> int:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._handle)
            signal.signal(signal.SIGINT, self._handle)
        nxt = next_run(self.expr, datetime.now().astimezone())
        last_check = 0.0
        log.info("rem daemon: next dream at %s", nxt.isoformat())
        while not self.stop.is_set():
            now = datetime.now().astimezone()
            due = now >= nxt
            reason = "cron"
            if not due and self.threshold and time.monotonic() - last_check >= self.check_every:
                last_check = time.monotonic()
                try:
                    n = new_activity_since_last_dream(self.store)
                except RemError as e:
                    log.warning("cannot check for new activity: %s", e)
                    n = 0
                recent = self.last_dream is not None and time.monotonic() - self.last_dream < self.min_interval
                if n >= self.threshold and not recent:
                    due, reason = True, f"threshold ({n} new items >= {self.threshold})"
            if due:
                log.info("dreaming (%s)", reason)
                try:
                    self.dream_once(reason)
                except InterruptedRun as e:
                    log.warning("%s", e)
                    if e.by_signal:  # SIGTERM/Ctrl-C arrived during the dream: the daemon was asked to stop
                        self.stop.set()
                except RemError as e:
                    log.error("dream failed: %s", e)
                self.runs += 1
                self.last_dream = time.monotonic()
                if self.max_runs is not None and self.runs >= self.max_runs:
                    break
                nxt = next_run(self.expr, max(datetime.now().astimezone(), nxt) + timedelta(seconds=0))
                log.info("next dream at %s", nxt.isoformat())
            self.stop.wait(min(1.0, max(0.05, (nxt - datetime.now().astimezone()).total_seconds())))
        log.info("rem daemon stopped after %d dream(s)", self.runs)
        return self.runs

