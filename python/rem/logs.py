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
from pathlib import Path

from .redact import scrub

_current_run: str | None = None  # one dream per process at a time (the dream lock)

FORMAT = "%(asctime)s %(levelname)s %(name)s [run %(run_id)s]: %(message)s"


class SecretFilter(logging.Filter):
    """Masks configured secrets and key-like strings in every record, from
    REM or from a library (the openai client and instructor log the error
    bodies providers send back, which can quote the key)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is logged as is
            return True
        clean = scrub(msg)
        if clean != msg:
            record.msg, record.args = clean, ()
        return True


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
    """Configure logging (idempotent): REM's records and the libraries' go to
    stderr with run ids and secrets masked; libraries stay at WARNING unless
    ``REM_LOG_LEVEL`` asks for more."""
    level = level_from(verbose)
    root = logging.getLogger()
    for lg in (root, logging.getLogger("rem")):
        for h in list(lg.handlers):
            if getattr(h, "_rem", False):
                lg.removeHandler(h)
    h = logging.StreamHandler(sys.stderr)
    h.setFormatter(logging.Formatter(FORMAT))
    h.addFilter(RunIdFilter())
    h.addFilter(SecretFilter())
    h._rem = True  # type: ignore[attr-defined]
    root.addHandler(h)
    root.setLevel(logging.WARNING)
    logging.getLogger("rem").setLevel(level)
    logging.getLogger("rem").propagate = True
    lib_level = level if os.environ.get("REM_LOG_LEVEL") else max(level, logging.WARNING)
    for name in ("openai", "httpx", "httpcore", "instructor"):
        logging.getLogger(name).setLevel(lib_level)


def crash_log_path() -> Path:
    """Where unexpected failures are recorded: ``$XDG_STATE_HOME/rem/crash.log``
    (``~/.local/state/rem/crash.log``)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base).expanduser() / "rem" / "crash.log"


def record_crash(argv: list[str], exc: BaseException) -> str:
    """Append the traceback of an unexpected failure (secrets masked) to the
    crash log; returns where it went (or "stderr" when the log cannot be written)."""
    import traceback
    from datetime import datetime

    text = "".join(traceback.format_exception(exc))
    entry = (f"--- {datetime.now().astimezone().isoformat(timespec='seconds')} rem "
             f"{' '.join(a.encode('utf-8', 'backslashreplace').decode() for a in argv)}\n{text}\n")
    entry = scrub(entry)
    path = crash_log_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8", errors="backslashreplace") as f:
            f.write(entry)
        return str(path)
    except OSError:
        sys.stderr.write(entry)
        return "stderr (above)"
