"""The gold file: what really happened on the days you label.

A JSON file (the demo generator writes one as ``ground_truth.json``)::

    {
      "owner": "Sam Rivera",                         # optional: your name (never one of "people")
      "moments": [                                    # or "blocks"
        {
          "start": "2026-11-12T08:33:00+00:00",       # required, ISO 8601 (an offset, or your local time)
          "end":   "2026-11-12T10:36:00+00:00",       # required
          "title": "Debugging HNSW recall regression",
          "kind":  "debugging",                       # optional: a moment type
          "topics":   ["hnsw", "recall", "vector search"],
          "people":   ["Alice Chen"],
          "emotions": ["frustrated"],                 # optional: scored only where given
          "sessions":  ["<session id>"],              # optional: the sessions and resources that belong to it,
          "resources": ["<resource id>"]              #   when time alone cannot tell (two things at once)
        }
      ]
    }

Every activity item inside a moment's time span belongs to it, unless
``sessions``/``resources`` say otherwise; where spans overlap, the shorter
moment wins. Items outside every span are unlabelled activity.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from ..exceptions import GoldError, IngestError
from ..values import parse_time


@dataclass
class GoldEvent:
    """Something that happened in a gold moment: what, who did it, and the day(s) it happened (None: no date)."""

    text: str
    actor: str = ""
    date: tuple[str, str] | None = None


@dataclass
class GoldMoment:
    start: datetime
    end: datetime
    title: str = ""
    kind: str = ""
    topics: list[str] = field(default_factory=list)
    people: list[str] = field(default_factory=list)
    emotions: list[str] = field(default_factory=list)
    sessions: set[str] = field(default_factory=set)
    resources: set[str] = field(default_factory=set)
    scenario: str = ""
    events: list[GoldEvent] = field(default_factory=list)

    def holds(self, kind: str, item_id: str, session_id: str | None, ts: datetime) -> bool:
        """Does the item belong to this moment?"""
        slack = timedelta(minutes=1)
        if self.sessions or self.resources:
            if kind == "resource":
                return item_id in self.resources
            return session_id in self.sessions and self.start - slack <= ts <= self.end + slack
        return self.start - slack <= ts <= self.end + slack


@dataclass
class Gold:
    moments: list[GoldMoment]
    owner: str | None = None
    path: str = ""

    def days(self) -> list[tuple[datetime, datetime]]:
        """The UTC days the gold covers, each as [start, end)."""
        out = []
        for m in self.moments:
            d0 = m.start.replace(hour=0, minute=0, second=0, microsecond=0)
            while d0 <= m.end:
                if (d0, d0 + timedelta(days=1)) not in out:
                    out.append((d0, d0 + timedelta(days=1)))
                d0 += timedelta(days=1)
        return sorted(out)


def _strings(v: Any, where: str, name: str) -> list[str]:
    if v is None:
        return []
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise GoldError(f"{where}: '{name}' must be a list of strings")
    return [x for x in v if x.strip()]


def _events(v: Any, where: str) -> list[GoldEvent]:
    """``events``: a list of {"text", "actor", "date"}; a date is "YYYY-MM-DD", [first, last] or null."""
    if v is None:
        return []
    if not isinstance(v, list):
        raise GoldError(f"{where}: 'events' must be a list of objects with a text")
    out = []
    for k, e in enumerate(v, start=1):
        if not isinstance(e, dict) or not isinstance(e.get("text"), str) or not e["text"].strip():
            raise GoldError(f"{where}: event {k} needs a 'text'")
        d = e.get("date")
        try:
            if d is None:
                span = None
            elif isinstance(d, str):
                span = (date.fromisoformat(d).isoformat(),) * 2
            elif isinstance(d, list) and len(d) == 2 and all(isinstance(x, str) for x in d):
                span = (date.fromisoformat(d[0]).isoformat(), date.fromisoformat(d[1]).isoformat())
            else:
                raise ValueError
        except ValueError:
            raise GoldError(f"{where}: event {k}: 'date' must be YYYY-MM-DD, [first, last] or null") from None
        out.append(GoldEvent(e["text"], str(e.get("actor") or ""), span))  # type: ignore[arg-type]
    return out


def load(path: str | Path) -> Gold:
    """Read and check a gold file; a :class:`GoldError` names what is wrong and where."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except OSError as e:
        raise GoldError(f"{p}: cannot read: {e.strerror}") from e
    except UnicodeDecodeError as e:
        raise GoldError(f"{p}: not valid UTF-8 at byte {e.start}") from e
    except json.JSONDecodeError as e:
        raise GoldError(f"{p}: invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from e
    if isinstance(doc, list):
        doc = {"moments": doc}
    if not isinstance(doc, dict):
        raise GoldError(f"{p}: expected an object with a 'moments' list")
    raw = doc.get("moments", doc.get("blocks"))
    if not isinstance(raw, list) or not raw:
        raise GoldError(f"{p}: 'moments' must be a non-empty list (see `rem eval --help` for the format)")
    moments = []
    for i, m in enumerate(raw):
        where = f"{p}: moment {i + 1}"
        if not isinstance(m, dict):
            raise GoldError(f"{where}: expected an object")
        try:
            start = parse_time(m.get("start"), source=where, field="start")
            end = parse_time(m.get("end"), source=where, field="end")
        except IngestError as e:
            raise GoldError(str(e)) from None
        if end < start:
            raise GoldError(f"{where}: 'end' ({end.isoformat()}) is before 'start' ({start.isoformat()})")
        moments.append(GoldMoment(
            start, end, str(m.get("title") or ""), str(m.get("kind") or ""),
            _strings(m.get("topics"), where, "topics"), _strings(m.get("people"), where, "people"),
            _strings(m.get("emotions"), where, "emotions"), set(_strings(m.get("sessions"), where, "sessions")),
            set(_strings(m.get("resources"), where, "resources")), str(m.get("scenario") or ""),
            _events(m.get("events"), where)))
    owner = doc.get("owner")
    return Gold(sorted(moments, key=lambda g: g.start), owner if isinstance(owner, str) else None, str(p))
