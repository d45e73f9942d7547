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

from importlib.metadata import PackageNotFoundError, version

from .api import Rem, connect
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
from .store import Store, default_db_path

try:
    __version__ = version("rem")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+source"

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
