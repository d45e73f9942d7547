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
    DatabaseBusyError,
    DreamError,
    IngestError,
    LLMError,
    LockedError,
    NativeError,
    QueryError,
    ReadOnlyError,
    RemError,
    SchemaVersionError,
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
    "RemError",
    "ConfigError",
    "StoreError",
    "DatabaseBusyError",
    "SchemaVersionError",
    "ReadOnlyError",
    "QueryError",
    "IngestError",
    "NativeError",
    "LLMError",
    "DreamError",
    "LockedError",
    "__version__",
]
