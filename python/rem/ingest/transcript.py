"""Meeting transcripts: WebVTT, SRT and plain ``Name: text`` lines.

What Zoom, Teams, Meet, Otter and Whisper write:

- **WebVTT** (``.vtt``): a ``WEBVTT`` header, then cues ``00:01:02.500 -->
  00:01:05.000`` followed by their text; the speaker as a voice tag
  ``<v Alice Chen>text`` or a ``Alice Chen: text`` prefix.
- **SRT** (``.srt``): numbered cues ``00:01:02,500 --> 00:01:05,000`` and
  their text, the speaker as a ``Name:`` prefix (or ``[Name]``).
- **Plain text**: ``Name: text`` lines, optionally with a time first
  (``[00:01:02] Name: text``, ``00:01:02 Name: text``); a line without a name
  continues the turn before it.

One transcript is one session (named after the file), one message per turn:
consecutive cues of one speaker are joined into one turn, each speaker is a
person of the session (``speaker`` on its messages). Cue times are relative:
they are anchored at the meeting's start — ``--start``, else a date and time
in the file's name (``2026-11-16 09-30 standup.vtt``, ``20261116_0930…``),
else the file's modification time minus the transcript's length (a
recording's file is written when the meeting ends). The session's metadata
says ``source: transcript`` (and the transcript's length, from the first
cue's start to the last cue's end), which makes its moment a ``meeting``,
lasting from its first turn to its last.
Ids derive from the file's content, so importing the same transcript again
(from anywhere) adds nothing.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ..exceptions import IngestError
from ..ids import stable_id
from ..store import Store
from ..values import clean_text, parse_time
from .common import Batch, IngestReport, write

MAX_BYTES = 64 * 1024 * 1024  # a day-long meeting's transcript is a few MB
_TS = r"(?:(\d{1,2}):)?(\d{1,2}):(\d{2})(?:[.,](\d{1,3}))?"
_CUE = re.compile(rf"^\s*{_TS}\s*-->\s*{_TS}")
_VOICE = re.compile(r"^<v(?:\.[\w.-]+)?\s+([^>]+)>(.*)$", re.S)
_NAMED = re.compile(r"^\s*(?:\[([^\]\n]{1,60})\]|([^\s:][^:\n]{0,58}?))\s*:\s+(.+)$", re.S)
_PLAIN_TIME = re.compile(rf"^\s*[\[(]?{_TS}[\])]?\s*[-–]?\s*")
_TAGS = re.compile(r"</?(?:c|i|b|u|v|lang|ruby|rt)(?:[.\s][^>]*)?>")
_NAME_DATE = re.compile(r"(?P<y>20\d{2})[-_.]?(?P<m>[01]\d)[-_.]?(?P<d>[0-3]\d)(?:[ T_-]+(?P<H>[0-2]\d)[-_.:h]?(?P<M>[0-5]\d))?")
_NOT_NAMES = frozenset({"note", "notes", "action", "action item", "todo", "http", "https", "warning", "question", "answer"})


@dataclass
class Cue:
    start: float  # seconds from the meeting's start
    end: float
    speaker: str | None
    text: str


def _seconds(h: str | None, m: str, s: str, frac: str | None) -> float:
    return int(h or 0) * 3600 + int(m) * 60 + int(s) + (int(frac.ljust(3, "0")) / 1000 if frac else 0.0)


def _speaker_of(text: str) -> tuple[str | None, str]:
    """(speaker, words) of one cue's text: a voice tag, ``[Name]`` or a ``Name:`` prefix."""
    v = _VOICE.match(text.strip())
    if v:
        return " ".join(v.group(1).split()), _TAGS.sub("", v.group(2)).strip()
    text = _TAGS.sub("", text).strip()
    m = _NAMED.match(text)
    if m:
        name = " ".join((m.group(1) or m.group(2) or "").split())
        if name and name.lower() not in _NOT_NAMES and len(name.split()) <= 4 and not any(c.isdigit() for c in name):
            return name, m.group(3).strip()
    return None, text


def parse(text: str, source: str) -> list[Cue]:
    """The cues of a transcript (WebVTT, SRT or plain lines), in order."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff").split("\n")
    timed = any(_CUE.match(ln) for ln in lines[:200])
    return _timed(lines, source) if timed else _plain(lines, source)


def _timed(lines: list[str], source: str) -> list[Cue]:
    cues: list[Cue] = []
    i = 0
    while i < len(lines):
        m = _CUE.match(lines[i])
        if not m:
            i += 1
            continue
        start, end = _seconds(*m.group(1, 2, 3, 4)), _seconds(*m.group(5, 6, 7, 8))
        if end < start:
            raise IngestError(f"a cue ends ({lines[i].strip()}) before it starts", source=f"{source}:{i + 1}")
        body = []
        i += 1
        while i < len(lines) and lines[i].strip() and not _CUE.match(lines[i]):
            body.append(lines[i].strip())
            i += 1
        if body and body[-1].isdigit() and len(body) > 1:  # an SRT counter glued to the text
            body.pop()
        speaker, words = _speaker_of(" ".join(body))
        if words:
            cues.append(Cue(start, end, speaker, words))
    return cues


def _plain(lines: list[str], source: str) -> list[Cue]:
    cues: list[Cue] = []
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        at = None
        t = _PLAIN_TIME.match(line)
        if t and (t.group(1) or t.group(4) or ":" in t.group(0)):
            at = _seconds(*t.group(1, 2, 3, 4))
            line = line[t.end():]
        speaker, words = _speaker_of(line)
        if speaker is None and cues and at is None:  # a line without a name continues the turn before it
            cues[-1].text += " " + words
            continue
        if speaker is None:
            raise IngestError("a line without a speaker (expected 'Name: text')", source=f"{source}:{n}")
        start = at if at is not None else (cues[-1].end if cues else 0.0)
        cues.append(Cue(start, start, speaker, words))
    # plain lines have no end: a turn lasts until the next one starts (the last one, a minute)
    for a, b in zip(cues, cues[1:], strict=False):
        a.end = max(a.start, b.start)
    if cues:
        cues[-1].end = cues[-1].start + 60.0
    return cues


def turns(cues: list[Cue]) -> list[Cue]:
    """Consecutive cues of one speaker joined into one turn."""
    out: list[Cue] = []
    for c in cues:
        if out and out[-1].speaker == c.speaker:
            out[-1].text += " " + c.text
            out[-1].end = max(out[-1].end, c.end)
        else:
            out.append(Cue(c.start, c.end, c.speaker, c.text))
    return out


def _start_from_name(name: str) -> datetime | None:
    m = _NAME_DATE.search(name)
    if not m:
        return None
    try:
        local = datetime(int(m["y"]), int(m["m"]), int(m["d"]), int(m["H"] or 9), int(m["M"] or 0))
    except ValueError:
        return None
    from ..days import local_zone

    return local.replace(tzinfo=local_zone()).astimezone(UTC)  # a file name says local time (REM's zone)


def ingest_transcript(store: Store, path: str | Path, *, start: str | None = None,
                      report: IngestReport | None = None) -> IngestReport:
    """Import one transcript (see the module's doc); ``start``: when the meeting began (ISO 8601); ``report``:
    add the counts to this one (several files, one line)."""
    p = Path(path)
    place = str(p)
    try:
        st = os.stat(p)
    except OSError as e:
        raise IngestError(f"cannot read: {e.strerror}", source=place) from e
    if not os.path.isfile(p):
        raise IngestError("is not a file", source=place)
    if st.st_size > MAX_BYTES:
        raise IngestError(f"is {st.st_size / 1e6:.0f} MB; a transcript larger than {MAX_BYTES // (1024 * 1024)} MB is "
                          "refused (split it, or import it as a resource)", source=place)
    raw = p.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise IngestError(f"not valid UTF-8 at byte {e.start}", source=place) from e
    said = turns(parse(text, place))
    if not said:
        raise IngestError("holds no cues or 'Name: text' lines", source=place)
    length = max(c.end for c in said) - min(c.start for c in said)
    if start is not None:
        t0 = parse_time(start, source=place, field="--start")
    else:
        t0 = _start_from_name(p.name) or (datetime.fromtimestamp(st.st_mtime, tz=UTC) - timedelta(seconds=length))
    digest = hashlib.sha256(raw).hexdigest()
    sid = stable_id("transcript", digest)
    batch = Batch()
    first = t0 + timedelta(seconds=min(c.start for c in said))
    batch.sessions.append({"_source": place, "id": sid, "name": clean_text(p.stem, source=place, field="name"), "created_at": first,
                           "metadata": {"source": "transcript", "file": p.name, "format": p.suffix.lower().lstrip(".") or "txt",
                                        "length_s": round(length, 3), "ends_at": (t0 + timedelta(seconds=max(c.end for c in said))).isoformat()}})
    for n, c in enumerate(said):
        when = t0 + timedelta(seconds=c.start)
        speaker = clean_text(c.speaker, source=place, field="speaker") if c.speaker else None
        if speaker:
            batch.speaker(sid, speaker, when)
        batch.messages.append({"_source": f"{place} (turn {n + 1})", "id": stable_id("transcript-turn", digest, n), "session_id": sid,
                               "role": "user", "speaker": speaker, "content": clean_text(c.text, source=place, field="text"),
                               "created_at": when, "tool_calls": None, "trace_id": None, "span_id": None})
    return write(store, batch, report)
