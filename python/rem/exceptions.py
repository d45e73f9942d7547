"""REM's exception hierarchy.

Every error REM raises on purpose derives from :class:`RemError`; the CLI
turns them into a one-paragraph message and a non-zero exit, never a
traceback.
"""

from __future__ import annotations


class RemError(Exception):
    """Base class of all REM errors."""


class ConfigError(RemError):
    """A setting is missing or invalid (the message says how to fix it)."""


class StoreError(RemError):
    """The database cannot be opened or used."""


class DatabaseBusyError(StoreError):
    """Another process holds the database file for writing."""


class SchemaVersionError(StoreError):
    """The database was written by a newer REM than this one."""


class ReadOnlyError(StoreError):
    """A write was attempted through a read-only (query) connection."""


class QueryError(RemError):
    """An SQL statement given to ``rem query`` failed."""


class SearchError(RemError):
    """A search that cannot run as asked (an empty query, an unknown kind, a bad date)."""


class IngestError(RemError):
    """An input to ingest is malformed. Nothing of that input was written.

    ``source`` names the file (and line or record), ``field`` the offending
    field when there is one.
    """

    def __init__(self, message: str, *, source: str = "", field: str | None = None) -> None:
        self.source = source
        self.field = field
        where = source
        if field:
            where = f"{where}: field '{field}'" if where else f"field '{field}'"
        super().__init__(f"{where}: {message}" if where else message)


class NativeError(RemError):
    """The Rust core refused its input or failed; the subclass says which."""


class NativeOptionError(NativeError, ValueError):
    """An option given to the Rust core cannot work (a budget too small, an unknown direction)."""


class NativeValueError(NativeError, ValueError):
    """A value in the data handed to the Rust core is out of range (a node key, a weight)."""


class NativeDataError(NativeError, TypeError):
    """The Arrow data handed to the Rust core has a missing, mistyped, invalid or null column."""


class NativeInternalError(NativeError):
    """The Rust core failed (a worker thread panicked); the result was discarded."""


class LLMError(RemError):
    """The model endpoint failed or answered something unusable."""


class DreamError(RemError):
    """A dream could not complete; its run row says why."""


class GoldError(RemError):
    """A gold file for ``rem eval`` is missing, malformed or not in the gold format."""


class LockedError(RemError):
    """Another dream holds the lock."""


class InterruptedRun(RemError):
    """A dream was stopped (SIGTERM, Ctrl-C, --timeout) between model calls;
    nothing it produced was written. ``by_signal`` is true when a signal or
    Ctrl-C stopped it (the process is asked to end, e.g. ``rem daemon``)."""

    def __init__(self, message: str, *, by_signal: bool = False) -> None:
        super().__init__(message)
        self.by_signal = by_signal


class CorrectionError(RemError):
    """An edit of a moment that cannot be made as asked (an empty name, a split outside the moment, a retime
    over centuries …)."""


class NotFoundError(QueryError, CorrectionError):
    """Nothing is stored under that reference: ``kind`` says what was looked for (moment, run, edit, node),
    ``ref`` what was given."""

    def __init__(self, kind: str, ref: str, message: str | None = None) -> None:
        super().__init__(message or f"no {kind} {ref!r}")
        self.kind, self.ref = kind, ref


class RevertRefused(QueryError):
    """A dream run that cannot be reverted now (already reverted, not ok, later runs or corrections depend on it)."""


__all__ = [
    "CorrectionError",
    "NotFoundError",
    "RevertRefused",
    "SearchError",
    "RemError",
    "ConfigError",
    "StoreError",
    "DatabaseBusyError",
    "SchemaVersionError",
    "ReadOnlyError",
    "QueryError",
    "IngestError",
    "NativeError",
    "NativeOptionError",
    "NativeValueError",
    "NativeDataError",
    "NativeInternalError",
    "LLMError",
    "DreamError",
    "LockedError",
    "GoldError",
    "InterruptedRun",
]
