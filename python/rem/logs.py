"""Logging: every line of a dream carries its run id.

``rem`` logs to stderr at WARNING by default; ``--verbose`` (or
``REM_LOG_LEVEL=DEBUG|INFO|…``) shows more. While a dream runs, every record
— from any thread, including the model-call workers — is tagged with the
first 8 characters of its run id, the same prefix ``rem runs`` shows, so a
journal line can be matched with its ledger row.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator

_current_run: str | None = None  # one dream per process at a time (the dream lock)

FORMAT = "%(asctime)s %(levelname)s %(name)s [run %(run_id)s]: %(message)s"


class RunIdFilter(logging.Filter):
    """Adds ``record.run_id`` ("-" outside a dream)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "run_id"):
            record.run_id = _current_run[:8] if _current_run else "-"
        return True


@contextlib.contextmanager
def run_context(run_id: str) -> Iterator[None]:
    """Tag log records with ``run_id`` while the block runs."""
    global _current_run
    prev, _current_run = _current_run, run_id
    try:
        yield
    finally:
        _current_run = prev


def level_from(verbose: bool) -> int:
    name = os.environ.get("REM_LOG_LEVEL", "").strip().upper() or ("DEBUG" if verbose else "WARNING")
    level = logging.getLevelName(name)
    return level if isinstance(level, int) else logging.WARNING


def configure(verbose: bool = False) -> None:
    """Configure the ``rem`` logger (idempotent): stderr, run ids on every line."""
    logger = logging.getLogger("rem")
    logger.setLevel(level_from(verbose))
    for h in list(logger.handlers):
        if getattr(h, "_rem", False):
            logger.removeHandler(h)
    h = logging.StreamHandler(sys.stderr)
    h.setFormatter(logging.Formatter(FORMAT))
    h.addFilter(RunIdFilter())
    h._rem = True  # type: ignore[attr-defined]
    logger.addHandler(h)
    logger.propagate = False
