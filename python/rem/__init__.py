"""REM — an embedded DuckDB that dreams.

Public API::

    import rem
    db = rem.connect("~/my.duckdb")          # or rem.connect() for the default path
    s = db.add_session(name="Design chat")
    db.add_message(s, role="user", content="How should pruning work?")
    db.add_resource(name="notes.md", content="…", resource_type="note")
    db.query("select count(*) from messages")  # -> pyarrow.Table

See ``rem --help`` for the command line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .exceptions import (
    ConfigError,
    CorrectionError,
    DatabaseBusyError,
    DreamError,
    GoldError,
    IngestError,
    InterruptedRun,
    LLMError,
    LockedError,
    NativeDataError,
    NativeError,
    NativeInternalError,
    NativeOptionError,
    NativeValueError,
    NotFoundError,
    QueryError,
    ReadOnlyError,
    RemError,
    RevertRefused,
    SchemaVersionError,
    SearchError,
    StoreError,
)

if TYPE_CHECKING:  # the API itself loads on first use: `rem --help` needs none of DuckDB, pyarrow or the importers
    from .api import Rem, connect
    from .store import Store, default_db_path

_LAZY = {"Rem": "api", "connect": "api", "Store": "store", "default_db_path": "store"}


def __getattr__(name: str) -> Any:
    if name == "__version__":  # read from the installed metadata on first use (importlib.metadata is slow to load)
        from importlib.metadata import PackageNotFoundError, version

        try:
            v = version("rem")
        except PackageNotFoundError:  # running from a source tree without install
            v = "0.0.0+source"
        globals()["__version__"] = v
        return v
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'rem' has no attribute {name!r}")


__all__ = [
    "Rem",
    "connect",
    "Store",
    "default_db_path",
    "__version__",
    "RemError",
    "ConfigError",
    "CorrectionError",
    "StoreError",
    "DatabaseBusyError",
    "SchemaVersionError",
    "ReadOnlyError",
    "QueryError",
    "NotFoundError",
    "RevertRefused",
    "SearchError",
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
