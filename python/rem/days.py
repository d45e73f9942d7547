"""Local days: the one rule every front end and the dream use for "a day".

A local day runs from its midnight to the next day's midnight, each found in
the machine's time zone for that date (``zoneinfo``): 23 hours on the day
clocks spring forward, 25 on the day they fall back. Adding 24 hours to an
aware midnight is wrong on both (it loses the last hour of a fall-back day,
and a moment just after midnight after spring-forward lands on two days).

The zone is ``$TZ`` when it names a zone, else the one ``/etc/localtime``
points to, else the fixed offset the system reports now.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["day_window", "local_date", "local_zone", "midnight", "parse_day", "parse_quiet"]


@cache
def _zone(tz_env: str | None) -> tzinfo:
    names = []
    if tz_env:
        names.append(tz_env.lstrip(":"))
    try:
        target = os.readlink("/etc/localtime")
        if "zoneinfo/" in target:
            names.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    tzfile = Path("/etc/timezone")
    try:
        names.append(tzfile.read_text(encoding="utf-8").strip())
    except OSError:
        pass
    for n in names:
        if not n:
            continue
        try:
            return ZoneInfo(n)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            continue
    return datetime.now().astimezone().tzinfo or ZoneInfo("UTC")


def local_zone() -> tzinfo:
    """The machine's time zone (see the module docs)."""
    return _zone(os.environ.get("TZ"))


def midnight(d: date, tz: tzinfo | None = None) -> datetime:
    """The local midnight that starts ``d`` (aware)."""
    return datetime(d.year, d.month, d.day, tzinfo=tz or local_zone())


def day_window(d: date, days: int = 1, tz: tzinfo | None = None) -> tuple[datetime, datetime]:
    """[start, end) of ``days`` local days from ``d``: midnight to the midnight ``days`` later, each in the zone,
    as UTC instants (two datetimes of one ``ZoneInfo`` subtract as wall-clock times, 24 h on any day).
    Raises ValueError past the calendar's edge (after 9999-12-31)."""
    try:
        end = d + timedelta(days=days)
        return midnight(d, tz).astimezone(UTC), midnight(end, tz).astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{d.isoformat()}: the day after it is past the calendar's end") from None


def local_date(t: datetime, tz: tzinfo | None = None) -> date:
    """The local day an instant falls on."""
    return t.astimezone(tz or local_zone()).date()


def parse_day(value: str, *, today: date | None = None) -> date:
    """``today``, ``yesterday`` or ``YYYY-MM-DD`` as a date; ValueError otherwise."""
    now = today or datetime.now(local_zone()).date()
    v = value.strip().lower()
    if v == "today":
        return now
    if v == "yesterday":
        return now - timedelta(days=1)
    return date.fromisoformat(value.strip())


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_quiet(text: str) -> tuple[set[int], int, int]:
    """A quiet-hours rule (``"Mon-Fri 09:00-18:00"``, ``"22:00-23:30"``): (weekdays 0–6, start and end minute).
    Raises ConfigError naming what is wrong."""
    from .exceptions import ConfigError

    m = re.fullmatch(r"\s*(?:([A-Za-z]{3})(?:-([A-Za-z]{3}))?\s+)?(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})\s*", text)
    if not m:
        raise ConfigError(f"quiet hours {text!r}: use e.g. \"Mon-Fri 09:00-18:00\" or \"22:00-23:30\"")
    d1, d2 = (m.group(1) or "mon").lower(), (m.group(2) or m.group(1) or "sun").lower()
    if d1 not in WEEKDAYS or d2 not in WEEKDAYS:
        raise ConfigError(f"quiet hours {text!r}: days are Mon, Tue, Wed, Thu, Fri, Sat, Sun")
    a, b = WEEKDAYS.index(d1), WEEKDAYS.index(d2)
    days = set(range(a, b + 1)) if a <= b else set(range(a, 7)) | set(range(0, b + 1))
    if not m.group(1):
        days = set(range(7))
    start = int(m.group(3)) * 60 + int(m.group(4))
    end = int(m.group(5)) * 60 + int(m.group(6))
    return days, start, end
