"""WhatsApp chat exports: the ``.txt`` (or the ``.zip`` holding it) that
"Export chat" writes.

Each message starts a line with its date and time, then who wrote it:

- Android: ``12/31/23, 21:41 - Nadia: text`` (``9:41 PM`` on 12-hour phones);
- iPhone: ``[31/12/2023, 21:41:05] Nadia: text`` (``9:41:05 PM``);
- phones set to Chinese, Japanese or Korean: the morning/afternoon word before
  the time (``2023/12/31 下午9:41 - 小明: …``, ``[2023. 12. 31. 오후 9:41:05] 민준: …``);

dates day-first (``31/12/23``, most locales), month-first (``12/31/23``, the
US) or year-first (``2023-12-31``), with ``/``, ``.`` or ``-``. The order is
read from the file itself: a first number above 12 means day-first, a second
one above 12 month-first; when every date fits both, day-first is assumed
unless ``date_order="mdy"`` (``--date-order mdy``). Times are the phone's
local time, taken in REM's zone. A line that does not start a message
continues the one before it (a message of several lines). Media placeholders
(``<Media omitted>``, ``image omitted``) stay as text; lines from WhatsApp
itself (encryption notices, joins, leaves, changed subjects: a date and time
with no ``Name:``) are skipped and counted. Each speaker is a person of the
chat; the owner is recognised by ``[owner] names``.

One chat is one session, named after the export (``WhatsApp Chat with
Nadia``). Ids come from the chat's name, each message's time as written, its
speaker and its place among identical ones, so importing a later export of
the same chat adds only the new messages.
"""

from __future__ import annotations

import io
import re
import zipfile
from datetime import datetime
from pathlib import Path

from ..days import local_zone
from ..exceptions import IngestError
from ..ids import stable_id
from ..store import Store
from ..values import clean_text
from .common import Batch, IngestReport, write

MAX_BYTES = 256 * 1024 * 1024
_HEAD = re.compile(
    r"^\u200e?\[?(?P<date>\d{1,4}[./-] ?\d{1,2}[./-] ?\d{1,4})\.?,?\s+(?P<pre>上午|下午|午前|午後|오전|오후)?\s*"
    r"(?P<time>\d{1,2}[:.]\d{2}(?:[:.]\d{2})?)"
    r"(?:\s*(?P<ampm>[AaPp]\.?\s?[Mm]\.?))?\]?\s*(?:-\s+|:\s+|\s+)(?P<rest>.*)$")
# the morning/afternoon word phones set to Chinese, Japanese or Korean write before the time
_PRE = {"上午": "AM", "午前": "AM", "오전": "AM", "下午": "PM", "午後": "PM", "오후": "PM"}
_SAID = re.compile(r"^(?P<who>[^:\n]{1,80}?):\s(?P<text>.*)$", re.S)


def _order(dates: list[tuple[int, int, int]], hint: str | None) -> str:
    if any(len(str(a)) == 4 for a, _, _ in dates):
        return "ymd"
    if any(a > 12 for a, _, _ in dates):
        return "dmy"
    if any(b > 12 for _, b, _ in dates):
        return "mdy"
    return hint or "dmy"


def _parts(date: str) -> tuple[int, int, int]:
    a, b, c = (int(x) for x in re.split(r"[./-]", date))
    return a, b, c


def _to_datetime(date: str, time: str, ampm: str | None, order: str) -> datetime:
    a, b, c = _parts(date)
    y, m, d = (a, b, c) if order == "ymd" else (c, b, a) if order == "dmy" else (c, a, b)
    if y < 100:
        y += 2000
    hms = [int(x) for x in re.split(r"[:.]", time)]
    h, mi, s = hms[0], hms[1], hms[2] if len(hms) > 2 else 0
    if ampm:
        pm = ampm.strip().lower().startswith("p")
        if not 1 <= h <= 12:
            raise ValueError(f"hour {h} with {ampm.strip()}")
        h = (h % 12) + (12 if pm else 0)
    return datetime(y, m, d, h, mi, s, tzinfo=local_zone())


def _read(p: Path) -> tuple[str, str]:
    """(the chat's text, its name) from a .txt or the .zip holding it."""
    place = str(p)
    try:
        size = p.stat().st_size
    except OSError as e:
        raise IngestError(f"cannot read: {e.strerror}", source=place) from e
    if size > MAX_BYTES:
        raise IngestError(f"is {size / 1e6:.0f} MB, larger than {MAX_BYTES // 2**20} MB: not a chat export", source=place)
    if zipfile.is_zipfile(p):
        with zipfile.ZipFile(p) as z:
            txt = [i for i in z.infolist() if i.filename.lower().endswith(".txt") and not i.is_dir()]
            if not txt:
                raise IngestError("holds no .txt chat (a WhatsApp export has _chat.txt or 'WhatsApp Chat with ….txt')",
                                  source=place)
            info = next((i for i in txt if Path(i.filename).name == "_chat.txt"), txt[0])
            if info.file_size > MAX_BYTES:
                raise IngestError(f"{info.filename} is {info.file_size / 1e6:.0f} MB unpacked: not a chat export", source=place)
            raw = z.read(info)
        name = p.stem if Path(info.filename).name == "_chat.txt" else Path(info.filename).stem
    else:
        raw = p.read_bytes()
        name = p.stem if p.stem != "_chat" else p.parent.name or "WhatsApp chat"
    try:
        return raw.decode("utf-8-sig"), name
    except UnicodeDecodeError as e:
        raise IngestError(f"not valid UTF-8 at byte {e.start}", source=place) from e


def ingest_whatsapp(store: Store, path: str | Path, *, date_order: str | None = None) -> IngestReport:
    """Import one WhatsApp export (see the module's doc)."""
    p = Path(path)
    if date_order not in (None, "dmy", "mdy", "ymd"):
        raise IngestError("--date-order must be dmy, mdy or ymd", source=str(p))
    text, name = _read(p)
    lines = io.StringIO(text).read().replace("\r\n", "\n").replace("\r", "\n").split("\n")
    heads = [(n, m) for n, line in enumerate(lines, start=1) if (m := _HEAD.match(line))]
    if not heads:
        raise IngestError("holds no WhatsApp messages ('31/12/23, 21:41 - Name: text')", source=str(p))
    dates = []
    for _, m in heads:
        try:
            dates.append(_parts(m["date"]))
        except ValueError:
            continue
    order = _order(dates, date_order)
    report = IngestReport()
    sid = stable_id("whatsapp-chat", name)
    batch = Batch()
    seen: dict[tuple[str, ...], int] = {}
    messages: list[dict] = []
    system = 0
    starts = {n for n, _ in heads}
    current: dict | None = None
    for n, line in enumerate(lines, start=1):
        place = f"{p}:{n}"
        if n not in starts:
            if current is not None and line.strip():
                current["content"] += "\n" + line
            continue
        m = _HEAD.match(line)
        assert m is not None
        current = None
        try:
            when = _to_datetime(m["date"], m["time"], m["ampm"] or _PRE.get(m["pre"] or ""), order)
        except ValueError as e:
            report.errors.append(f"{place}: {m['date']} {m['time']} is not a date and time ({e}); the message was skipped")
            continue
        said = _SAID.match(m["rest"])
        if not said:
            system += 1  # WhatsApp's own line: encryption, joins, subject changes
            continue
        who = " ".join(said["who"].replace("\u200e", "").split())
        k = (sid, m["date"], m["time"], m["ampm"] or _PRE.get(m["pre"] or "", ""), who)
        seen[k] = seen.get(k, 0) + 1
        current = {"_source": place, "id": stable_id("whatsapp-message", *k, seen[k]), "session_id": sid, "role": "user",
                   "speaker": clean_text(who, source=place, field="speaker"), "content": said["text"], "created_at": when,
                   "tool_calls": None, "trace_id": None, "span_id": None}
        messages.append(current)
    if not messages:
        raise IngestError("holds no messages from people (only WhatsApp's own lines)", source=str(p))
    for msg in messages:
        msg["content"] = clean_text(msg["content"].replace("\u200e", ""), source=msg["_source"], field="text")
        batch.speaker(sid, msg["speaker"], msg["created_at"])
    batch.sessions.append({"_source": str(p), "id": sid, "name": clean_text(name, source=str(p), field="name"),
                           "created_at": min(x["created_at"] for x in messages),
                           "metadata": {"source": "whatsapp", "chat": name, "date_order": order}})
    batch.messages = messages
    if system:
        report.skipped_records["WhatsApp's own lines"] = system
    return write(store, batch, report)
