"""Dream windows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from ..exceptions import ConfigError, IngestError
from ..values import parse_time

MAX_LOOKBACK_HOURS = 876_000  # a century


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600

    def __str__(self) -> str:
        return f"{self.start.isoformat(timespec='minutes')} → {self.end.isoformat(timespec='minutes')}"


def _parse(value: str, flag: str) -> datetime:
    try:
        return parse_time(value, source=flag, field="value")
    except IngestError as e:
        raise ConfigError(f"{flag}: {value!r} is not a date or time (use e.g. 2026-11-16 or 2026-11-16T14:00)") from e


def resolve_window(
    *, lookback_hours: float | None, start: str | None, end: str | None, now: datetime | None = None
) -> Window:
    """``--start``/``--end`` (dates or times, local unless an offset is given;
    a bare ``--end`` date means the end of that day) or the last
    ``--lookback-hours`` up to now."""
    now = now or datetime.now(UTC)
    if start or end:
        s = _parse(start, "--start") if start else None
        e = _parse(end, "--end") if end else now
        if end and len(end.strip()) == 10:  # a date: the whole day, to the next local midnight (25 h on a DST fall-back day)
            try:
                e = _parse((date.fromisoformat(end.strip()) + timedelta(days=1)).isoformat(), "--end")
            except (OverflowError, ValueError):
                raise ConfigError(f"--end {end!r}: the day after it is past the calendar's end") from None
        if s is None:
            try:
                s = e - timedelta(hours=lookback_hours or 24)
            except (OverflowError, ValueError):
                raise ConfigError(f"--lookback-hours {lookback_hours} before --end falls off the calendar") from None
        if s >= e:
            raise ConfigError(f"--start ({s.isoformat()}) must be before --end ({e.isoformat()})")
        return Window(s, e)
    hours = 24.0 if lookback_hours is None else float(lookback_hours)
    if not 0 < hours <= MAX_LOOKBACK_HOURS:
        raise ConfigError(f"--lookback-hours must be a positive number of hours, at most {MAX_LOOKBACK_HOURS:,} (a century)")
    try:
        return Window(now - timedelta(hours=hours), now)
    except OverflowError:
        raise ConfigError(f"--lookback-hours {hours:g} reaches before year 1") from None
