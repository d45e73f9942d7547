"""The day as a picture: where each moment goes on an hour ruler.

Pure layout (no database, no HTML): the templates draw the result as inline
SVG, which a strict CSP allows (no inline style, no script). A moment is a
block whose top is its start and whose height is its length (a moment of a
few minutes still gets :data:`MIN_BLOCK` pixels so it can be seen and
clicked); moments that overlap in time sit side by side in lanes; the colour
is the moment's type (a CSS class). The week is seven such columns on one
ruler; the month a calendar of days shaded by hours of activity.
"""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

HOUR_PX = 56  # vertical pixels per hour on the day's ruler
MIN_BLOCK = 10
RULER_PX = 44  # the hour labels' column
WIDTH = 640


@dataclass
class Block:
    id: str
    name: str
    kind: str
    start: datetime
    end: datetime
    x: float = 0.0
    y: float = 0.0
    w: float = 0.0
    h: float = 0.0
    label: str = ""  # the name cut to what fits
    pending: bool = False  # waiting for review


@dataclass
class Ruler:
    first_hour: int
    last_hour: int  # exclusive
    height: float
    ticks: list[tuple[float, str]] = field(default_factory=list)  # (y, "09:00")


def _hours(t: datetime, day0: datetime) -> float:
    return (t - day0).total_seconds() / 3600


def ruler(moments: list[dict[str, Any]], day0: datetime, span_hours: float = 24.0) -> Ruler:
    """The hours to draw: from the hour of the first moment to the hour after the last (at least 4 hours; a
    moment running past midnight is cut at the day's end)."""
    if not moments:
        a, b = 8, 18
    else:
        a = max(0, math.floor(min(_hours(m["start_time"], day0) for m in moments)))
        b = min(math.ceil(span_hours), math.ceil(max(_hours(m["end_time"], day0) for m in moments) + 1e-9))
        if b - a < 4:
            b = min(math.ceil(span_hours), a + 4)
            a = max(0, b - 4)
    r = Ruler(a, b, (b - a) * HOUR_PX)
    r.ticks = [((h - a) * HOUR_PX, f"{h % 24:02d}:00") for h in range(a, b + 1)]
    return r


def lanes(blocks: list[Block]) -> int:
    """Give each block a lane (greedy, by start): overlapping blocks side by side. Returns the lanes used."""
    ends: list[datetime] = []
    lane_of: dict[int, int] = {}
    for i, b in sorted(enumerate(blocks), key=lambda ib: (ib[1].start, ib[1].end)):
        free = next((k for k, e in enumerate(ends) if e <= b.start), None)
        if free is None:
            ends.append(b.end)
            free = len(ends) - 1
        else:
            ends[free] = b.end
        lane_of[i] = free
    for i, b in enumerate(blocks):
        b.x = lane_of[i]  # the lane, made a position by the caller
    return max(1, len(ends))


def is_pending(m: dict[str, Any]) -> bool:
    """Is the moment waiting for review (rem.review)?"""
    import json

    meta = m.get("metadata")
    if isinstance(meta, str):
        try:
            meta = json.loads(meta)
        except ValueError:
            return False
    return bool(isinstance(meta, dict) and meta.get("pending"))


def _cut(name: str, width_px: float) -> str:
    room = max(0, int(width_px / 7.2) - 1)
    return name if len(name) <= room else (name[: max(0, room - 1)].rstrip() + "…" if room > 2 else "")


def day_layout(moments: list[dict[str, Any]], day0: datetime, *, x0: float = RULER_PX, width: float = WIDTH - RULER_PX,
               r: Ruler | None = None, day_end: datetime | None = None) -> tuple[Ruler, list[Block]]:
    """The ruler and the blocks of one day's moments (``day0``: the day's local midnight as an instant)."""
    span = _hours(day_end, day0) if day_end is not None else 24.0
    r = r or ruler(moments, day0, span)
    blocks = [Block(m["id"], m.get("name") or "(unnamed)", m.get("moment_type") or "other", m["start_time"], m["end_time"],
                    pending=is_pending(m)) for m in moments]
    n = lanes(blocks)
    lane_w = width / n
    for b in blocks:
        top = max(_hours(b.start, day0), r.first_hour)
        bottom = min(max(_hours(b.end, day0), top), r.last_hour)
        b.y = (top - r.first_hour) * HOUR_PX
        b.h = max(MIN_BLOCK, (bottom - top) * HOUR_PX)
        b.y = min(b.y, max(0.0, r.height - b.h))
        b.x = x0 + b.x * lane_w + 1
        b.w = lane_w - 2
        b.label = _cut(f"{b.start.astimezone(day0.tzinfo):%H:%M} {b.name}", b.w - 8) if b.h >= 14 else ""
    return r, blocks


@dataclass
class Column:
    day: date
    blocks: list[Block]
    x: float
    w: float


def week_layout(by_day: list[tuple[date, datetime, datetime, list[dict[str, Any]]]]) -> tuple[Ruler, list[Column]]:
    """Seven days side by side on one ruler: (day, its midnight, the next midnight, its moments) each."""
    every = [(m, d0) for _d, d0, _e, ms in by_day for m in ms]
    # one ruler for the week: the earliest and latest hour of any day (as hours after that day's midnight)
    if every:
        a = max(0, math.floor(min(_hours(m["start_time"], d0) for m, d0 in every)))
        b = min(24, math.ceil(max(_hours(m["end_time"], d0) for m, d0 in every) + 1e-9))
        b = max(b, a + 4) if b - a < 4 else b
    else:
        a, b = 8, 18
    r = Ruler(a, b, (b - a) * HOUR_PX)
    r.ticks = [((h - a) * HOUR_PX, f"{h % 24:02d}:00") for h in range(a, b + 1)]
    col_w = (WIDTH - RULER_PX) / max(1, len(by_day))
    cols = []
    for i, (d, d0, end, ms) in enumerate(by_day):
        x = RULER_PX + i * col_w
        _r, blocks = day_layout(ms, d0, x0=x, width=col_w, r=r, day_end=end)
        for blk in blocks:
            blk.label = ""  # too narrow for words: the name is the tooltip
        cols.append(Column(d, blocks, x, col_w))
    return r, cols


@dataclass
class Cell:
    day: date
    x: float
    y: float
    hours: float
    level: int  # 0 (none) … 4 (the most)


CELL = 40


def month_layout(first: date, hours_by_day: dict[date, float]) -> tuple[list[Cell], int]:
    """A calendar of the month (Monday first), each day shaded by its hours of activity. Returns (cells, rows)."""
    days = calendar.monthrange(first.year, first.month)[1]
    cells = []
    lead = first.weekday()
    for i in range(days):
        d = first + timedelta(days=i)
        slot = lead + i
        h = hours_by_day.get(d, 0.0)
        level = 0 if h <= 0 else 1 if h < 1 else 2 if h < 3 else 3 if h < 6 else 4
        cells.append(Cell(d, (slot % 7) * (CELL + 4), (slot // 7) * (CELL + 4) + 18, h, level))
    rows = (lead + days + 6) // 7
    return cells, rows


def midnight_pair(d: date, tz: tzinfo | None) -> tuple[datetime, datetime]:
    from ..days import day_window

    a, b = day_window(d, tz=tz)
    return a.astimezone(tz), b.astimezone(tz)
