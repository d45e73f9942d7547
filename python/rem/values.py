"""Parsing the values activity carries: timestamps, text, JSON.

Used by every ingestion source, the Python API and the command line's
date options. Errors are :class:`~rem.exceptions.IngestError` naming the
source (file, line, record or option) and the field.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime
from typing import Any

from . import schema
from .exceptions import IngestError

# who can speak in a session (the messages table's enum)
ROLES: tuple[str, ...] = schema.table("messages").column("role").enum or ()
MAX_TEXT = 8 * 1024 * 1024  # characters kept of one text field (longer is refused)
_MAX_EPOCH_S = 32503680000 * 10  # ~ year 12,000: beyond Python's datetime anyway


def parse_time(value: Any, *, source: str, field: str) -> datetime:
    """An aware UTC datetime from an ISO 8601 string, a date, or epoch seconds.

    Naive times are taken in the machine's local time zone (as a person writes
    them in a note); ``Z`` and offsets are honoured. Refuses anything else —
    including instants that fall outside the calendar once converted to UTC
    (year 1 at a positive offset, year 9999 at a negative one) — with an
    :class:`IngestError` naming ``source`` and ``field``.
    """
    if isinstance(value, bool) or value is None:
        raise IngestError(f"expected a timestamp, got {value!r}", source=source, field=field)
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    elif isinstance(value, int | float):
        if not math.isfinite(value) or abs(value) > _MAX_EPOCH_S:
            raise IngestError(f"epoch seconds out of range: {value!r}", source=source, field=field)
        try:
            return datetime.fromtimestamp(float(value), tz=UTC)
        except (OverflowError, OSError, ValueError) as e:
            raise IngestError(f"epoch seconds out of range: {value!r}", source=source, field=field) from e
    elif isinstance(value, str):
        s = value.strip()
        try:
            dt = datetime.fromisoformat(s.replace("z", "Z"))
        except ValueError:
            raise IngestError(
                f"not an ISO 8601 timestamp: {value[:60]!r} (expected e.g. 2026-11-16T09:30:00Z)",
                source=source,
                field=field,
            ) from None
    else:
        raise IngestError(f"expected a timestamp, got {type(value).__name__}", source=source, field=field)
    try:
        if dt.tzinfo is None:
            dt = dt.astimezone()  # local time zone
        return dt.astimezone(UTC)
    except (OverflowError, ValueError, OSError) as e:
        raise IngestError(f"timestamp out of range once converted to UTC: {str(value)[:60]!r}",
                          source=source, field=field) from e


def clean_text(value: Any, *, source: str, field: str, required: bool = False) -> str | None:
    """A string field: NUL bytes and lone surrogates removed; size-checked."""
    if value is None:
        if required:
            raise IngestError("is required", source=source, field=field)
        return None
    if not isinstance(value, str):
        raise IngestError(f"expected a string, got {type(value).__name__}", source=source, field=field)
    if len(value) > MAX_TEXT:
        raise IngestError(
            f"is {len(value):,} characters; the limit is {MAX_TEXT:,}", source=source, field=field
        )
    if "\x00" in value:
        value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def check_role(value: Any, *, source: str, field: str = "role") -> str:
    """A message role, checked against :data:`ROLES`."""
    if value not in ROLES:
        raise IngestError(f"must be one of {', '.join(ROLES)} (got {value!r})", source=source, field=field)
    return str(value)


MAX_JSON_DEPTH = 64  # nesting REM reads (exports nest a few levels; deeper is hostile or broken)


def load_json(raw: bytes | str, *, source: str, line: bool = False, hint: str = "") -> Any:
    """Parse JSON from a file (or one line of one), refusing with an
    :class:`IngestError` what is not UTF-8, not JSON, or nested more than
    ``MAX_JSON_DEPTH`` levels (which would exhaust the parser's stack)."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as e:
        raise IngestError(f"not valid UTF-8 at byte {e.start}" + (" of the line" if line else ""), source=source) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        where = f"column {e.colno}" if line else f"line {e.lineno} column {e.colno}"
        raise IngestError(f"invalid JSON at {where}: {e.msg}{hint}", source=source) from None
    except RecursionError:
        raise IngestError(f"JSON nested too deeply (REM reads at most {MAX_JSON_DEPTH} levels)", source=source) from None
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        v, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise IngestError(f"JSON nested more than {MAX_JSON_DEPTH} levels deep", source=source)
        if isinstance(v, dict):
            stack.extend((x, depth + 1) for x in v.values() if isinstance(x, dict | list))
        elif isinstance(v, list):
            stack.extend((x, depth + 1) for x in v if isinstance(x, dict | list))
    return data


def to_json(value: Any, *, source: str, field: str) -> str | None:
    """``value`` as a JSON string (None stays None)."""
    if value is None:
        return None
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    except (TypeError, ValueError, RecursionError) as e:
        raise IngestError(f"cannot be stored as JSON: {e}", source=source, field=field) from e
