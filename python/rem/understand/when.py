"""When something happened: time expressions resolved against the time of
the message or note that says them.

"I went to a support group yesterday", sent on 8 May 2023, happened on
7 May 2023; "last week" is the ISO week (Monday–Sunday) before the one the
message was sent in; "on Friday" is the Friday before it in a sentence about
the past and the one after it in a sentence about the future; "in June" is
June of the year that makes the sentence true (the last June for the past,
the next one for plans); "two days ago", "three weeks ago", "next month",
"last year", "this weekend", "8 May", "May 8th, 2023", "in 2022", a part
of a month or a year ("in late August" its last ten or eleven days, "in
mid-May", "in early 2023" its first four months) and a season of a year
("summer 2022") are understood too. A resolved time is a date or a range of dates
(:class:`When`), kept beside the words that said it.

Rules, not a general date parser: dateparser and parsedatetime were looked
at; both parse a whole string as one date rather than finding expressions in
a sentence, and neither resolves "last Friday" against a reference date
with the tense of the sentence. Dates outside the calendar (the day before
1 January of year 1) resolve to nothing rather than failing.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

__all__ = ["MAY_SAY", "When", "clause_of", "find", "is_future"]

_NUM = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
        "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a couple of": 2, "couple of": 2, "a few": 3, "few": 3,
        "several": 3}
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december")
_MON_ABBR = {m[:3]: i + 1 for i, m in enumerate(_MONTHS)} | {"sept": 9}
_MONTH_RX = "|".join([*_MONTHS, *sorted((k for k in _MON_ABBR if k != "may"), key=len, reverse=True)])
_WD_RX = "|".join(_WEEKDAYS)
_NUM_RX = r"\d{1,3}|a couple of|couple of|a few|few|several|an|a|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve"

# a part of a month or a year before it: "in late August", "in mid-May", "at the end of March", "in early 2023"
_PART_RX = (r"(?:(?P<part>early|mid|late)(?:\s+|-)|the\s+(?P<whole>start|beginning|middle|end)\s+of\s+)?")
_PARTS = {"early": 0, "start": 0, "beginning": 0, "mid": 1, "middle": 1, "late": 2, "end": 2}

_FUTURE = re.compile(r"\b(will|'ll|going to|gonna|plan(?:s|ning)? to|intend|about to|shall|tomorrow|next|upcoming|"
                     r"can't wait|looking forward|hope to|want to|would like to|'m meeting|am meeting|"
                     r"is coming|are coming)\b", re.I)

# Order matters: the longer expressions first; each match is claimed once.
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [(k, re.compile(p, re.I)) for k, p in [
    ("day_before_yesterday", r"\bthe day before yesterday\b"),
    ("day_after_tomorrow", r"\bthe day after tomorrow\b"),
    ("ago", rf"\b(?P<n>{_NUM_RX})\s+(?P<unit>day|days|weekend|weekends|week|weeks|month|months|year|years)\s+ago\b"),
    ("before_last", r"\bthe\s+(?P<unit>week|weekend|month|year)\s+before\s+last\b"),
    ("the_weekend", r"\b(?:over|on|at|during)\s+the\s+weekend\b"),
    ("in_n", rf"\bin\s+(?P<n>{_NUM_RX})\s+(?P<unit>day|days|week|weeks|month|months|year|years)\b"),
    ("rel_unit", r"\b(?P<which>last|this|next|past|coming)\s+(?P<unit>week|weekend|month|year|summer|winter|spring|fall|autumn)\b"),
    ("rel_weekday", rf"\b(?P<which>last|this|next|this past|this coming|on)\s+(?P<wd>{_WD_RX})\b"),
    ("date_dmy", rf"\b(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<m>{_MONTH_RX})\.?(?:,?\s+(?P<y>\d{{4}}))?\b"),
    ("date_mdy", rf"\b(?P<m>{_MONTH_RX})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(?P<y>\d{{4}}))?"),
    ("in_month", rf"\b(?:in|during|since|by|last|next|this|at|around)\s+{_PART_RX}(?P<m>{_MONTH_RX})\b(?:,?\s+(?P<y>\d{{4}}))?"),
    ("season_year", r"\b(?P<s>spring|summer|fall|autumn|winter)\s+(?:of\s+)?(?P<y>(?:19|20)\d{2})\b"),
    ("in_year", rf"\b(?:in|during|since|back in|at|around)\s+{_PART_RX}(?P<y>(?:19|20)\d{{2}})\b"),
    ("last_night", r"\blast night\b"),
    ("yesterday", r"\byesterday\b"),
    ("today", r"\b(?:today|tonight|this morning|this afternoon|this evening|earlier today)\b"),
    ("tomorrow", r"\btomorrow\b"),
    ("weekday", rf"\b(?P<wd>{_WD_RX})\b"),
]]


@dataclass(frozen=True)
class When:
    """A resolved time: the words as written, the first and last day (equal for one day)."""

    words: str
    start: date
    end: date
    at: tuple[int, int]  # where the words are in the text

    @property
    def one_day(self) -> bool:
        return self.start == self.end

    def iso(self) -> tuple[str, str | None]:
        """(date, date_end or None for one day), ISO 8601."""
        return self.start.isoformat(), None if self.one_day else self.end.isoformat()

    def phrase(self) -> str:
        """The time as words that can stand in a sentence: ``on 7 May 2023``, ``in May 2023``, ``in 2022``,
        ``between 1 and 7 May 2023``."""
        shown = self.show()
        if self.one_day:
            return f"on {shown}"
        if " " not in shown or (shown.split()[0].isalpha()):  # a year, or a whole month
            return f"in {shown}"
        a, _, b = shown.partition("–")
        if not b:
            return f"in {shown}"
        if a.strip().isdigit():  # 1–7 May 2023
            return f"between {a.strip()} and {b.strip()}"
        return f"between {a.strip()} and {b.strip()}"

    def show(self) -> str:
        """``7 May 2023``, ``1–7 May 2023``, ``28 April – 4 May 2023``, ``May 2023``, ``2022``."""
        s, e = self.start, self.end
        if self.one_day:
            return f"{s.day} {_MONTHS[s.month - 1].title()} {s.year}"
        if s.month == 1 and s.day == 1 and e.month == 12 and e.day == 31 and s.year == e.year:
            return str(s.year)
        if s.day == 1 and e == _month_end(s.year, s.month):
            return f"{_MONTHS[s.month - 1].title()} {s.year}"
        if s.year == e.year and s.month == e.month:
            return f"{s.day}–{e.day} {_MONTHS[s.month - 1].title()} {s.year}"
        if s.year == e.year:
            return f"{s.day} {_MONTHS[s.month - 1].title()} – {e.day} {_MONTHS[e.month - 1].title()} {s.year}"
        return f"{s.day} {_MONTHS[s.month - 1].title()} {s.year} – {e.day} {_MONTHS[e.month - 1].title()} {e.year}"


def is_future(sentence: str) -> bool:
    """Does the sentence speak of something still to come?"""
    return bool(_FUTURE.search(sentence))


# The futurate progressive: "my mom is visiting in December", "we're flying on Friday" — a present
# progressive beside a time expression names an arrangement still to come, unless the clause is past.
_ING_ADJECTIVES = ("being", "amazing", "interesting", "boring", "exciting", "annoying", "frustrating", "confusing",
                   "surprising", "stunning", "charming", "tiring", "exhausting", "worrying", "disappointing", "missing",
                   "thriving", "willing", "fitting", "outstanding", "ongoing")
_PROGRESSIVE = re.compile(r"\b(?:am|is|are|'m|'re)\s+(?:not\s+|also\s+|still\s+|just\s+)?"
                          rf"(?!(?:{'|'.join(_ING_ADJECTIVES)})\b)[a-z]{{2,}}ing\b", re.I)
_PAST_MARK = re.compile(r"\b(?:was|were|had|did|yesterday|ago|last)\b", re.I)


def _clause_future(clause: str) -> bool:
    """The tense a time expression's own clause gives it: future words, or the futurate progressive."""
    return is_future(clause) or (bool(_PROGRESSIVE.search(clause)) and not _PAST_MARK.search(clause))


def _month_end(y: int, m: int) -> date:
    return date(y, m, calendar.monthrange(y, m)[1])


def _add_months(d: date, n: int) -> date:
    k = d.year * 12 + d.month - 1 + n
    y, m = divmod(k, 12)
    return date(y, m + 1, min(d.day, calendar.monthrange(y, m + 1)[1]))


def _num(text: str) -> int | None:
    t = text.lower()
    if t.isdigit():
        return int(t)
    return _NUM.get(t)


def _month(text: str) -> int:
    t = text.lower().rstrip(".")
    return _MONTHS.index(t) + 1 if t in _MONTHS else _MON_ABBR[t[:4] if t.startswith("sept") else t[:3]]


def _week_of(d: date) -> tuple[date, date]:
    monday = d - timedelta(days=d.weekday())
    return monday, monday + timedelta(days=6)


_SEASONS = {"spring": (3, 5), "summer": (6, 8), "fall": (9, 11), "autumn": (9, 11), "winter": (12, 2)}


_DAYS_FROM_REF = {"yesterday": -1, "last_night": -1, "today": 0, "tomorrow": 1, "day_before_yesterday": -2,
                  "day_after_tomorrow": 2}


def _resolve(kind: str, m: re.Match[str], ref: date, future: bool) -> tuple[date, date] | None:
    """The first and last day an expression of ``kind`` (matched as ``m``) names, said on ``ref`` in the
    past (or, with ``future``, the future) tense; None when it names no real day."""
    if kind in _DAYS_FROM_REF:
        d = ref + timedelta(days=_DAYS_FROM_REF[kind])
        return d, d
    how = _RESOLVERS.get(kind)
    return how(m.groupdict(), m, ref, future) if how else None


def _ago(g: dict[str, Any], m: re.Match[str], ref: date, future: bool) -> tuple[date, date] | None:
    """"three days ago"."""
    return _units_away(g, ref, -1)


def _in_n(g: dict[str, Any], m: re.Match[str], ref: date, future: bool) -> tuple[date, date] | None:
    """"in two weeks"."""
    return _units_away(g, ref, 1)


def _units_away(g: dict[str, Any], ref: date, sign: int) -> tuple[date, date] | None:
    """The day, week, month or year that many units before (``sign`` -1) or after ``ref``."""
    n = _num(g["n"])
    if n is None or n > 400:
        return None
    unit = g["unit"].lower().rstrip("s")
    if unit == "weekend" and sign < 0:  # "two weekends ago": the weekend before last
        sat, sun = _last_weekend(ref - timedelta(days=1) if ref.weekday() >= 5 else ref)
        return sat - timedelta(weeks=n - 1), sun - timedelta(weeks=n - 1)
    if unit == "weekend":
        return None
    if unit == "day":
        d = ref + timedelta(days=sign * n)
        return d, d
    if unit == "week":
        return _week_of(ref + timedelta(weeks=sign * n))
    if unit == "month":
        d = _add_months(ref, sign * n)
        return date(d.year, d.month, 1), _month_end(d.year, d.month)
    y = ref.year + sign * n
    return date(y, 1, 1), date(y, 12, 31)


def _last_weekend(ref: date) -> tuple[date, date]:
    """The weekend just past (the one under way, said on a Saturday or a Sunday)."""
    saturday = ref - timedelta(days=(ref.weekday() - 5) % 7)
    return saturday, saturday + timedelta(days=1)


def _before_last(g: dict[str, Any], m: re.Match[str], ref: date, future: bool) -> tuple[date, date] | None:
    """"the week before last": two weeks back; the weekend, month or year likewise."""
    unit = g["unit"].lower()
    if unit == "week":
        return _week_of(ref - timedelta(weeks=2))
    if unit == "weekend":
        sat, sun = _last_weekend(ref - timedelta(days=1) if ref.weekday() >= 5 else ref)
        return sat - timedelta(weeks=1), sun - timedelta(weeks=1)
    if unit == "month":
        d = _add_months(date(ref.year, ref.month, 1), -2)
        return d, _month_end(d.year, d.month)
    return date(ref.year - 2, 1, 1), date(ref.year - 2, 12, 31)


def _the_weekend(g: dict[str, Any], m: re.Match[str], ref: date, future: bool) -> tuple[date, date] | None:
    """"over the weekend": the one just past, or in a plan the one to come."""
    sat, sun = _last_weekend(ref)
    if future and ref.weekday() < 5:
        sat, sun = sat + timedelta(weeks=1), sun + timedelta(weeks=1)
    return sat, sun


def _rel_unit(g: dict[str, Any], m: re.Match[str], ref: date, future: bool) -> tuple[date, date] | None:
    """"last week", "this weekend", "next month", "last summer"."""
    which, unit = g["which"].lower(), g["unit"].lower()
    step = {"last": -1, "past": -1, "this": 0, "next": 1, "coming": 1}[which]
    if unit == "week":
        return _week_of(ref + timedelta(weeks=step))
    if unit == "weekend":
        monday, _ = _week_of(ref + timedelta(weeks=step))
        if step == 0 and ref.weekday() == 0 and not future:  # "this weekend" said on a Monday: the one just past
            monday -= timedelta(weeks=1)
        return monday + timedelta(days=5), monday + timedelta(days=6)
    if unit == "month":
        d = _add_months(date(ref.year, ref.month, 1), step)
        return d, _month_end(d.year, d.month)
    y = ref.year + step
    if unit == "year":
        return date(y, 1, 1), date(y, 12, 31)
    first, last = _SEASONS[unit]
    if first > last:  # winter spans the new year
        return date(y, first, 1), _month_end(y + 1, last)
    return date(y, first, 1), _month_end(y, last)


def _weekday(g: dict[str, Any], m: re.Match[str], ref: date, future: bool) -> tuple[date, date] | None:
    """"on Friday", "last Tuesday", "next Monday"."""
    wd = _WEEKDAYS.index(g["wd"].lower())
    which = (g.get("which") or "").lower()
    if which in ("next", "this coming") or (which in ("on", "", "this") and future):
        delta = (wd - ref.weekday()) % 7 or 7  # "next Friday": the coming one, as people mostly mean it
        d = ref + timedelta(days=delta)
    else:
        delta = (ref.weekday() - wd) % 7 or 7
        d = ref - timedelta(days=delta)
    return d, d


def _date(g: dict[str, Any], m: re.Match[str], ref: date, future: bool) -> tuple[date, date] | None:
    """"12 March", "March 12th, 2025": without a year, the nearest one in the tense's direction."""
    mo, day = _month(g["m"]), int(g["d"])
    if not 1 <= day <= 31:
        return None
    if g.get("y"):
        y = int(g["y"])
    else:
        y = ref.year
        try:
            cand = date(y, mo, day)
        except ValueError:
            return None
        if future and cand < ref:
            y += 1
        elif not future and cand > ref:
            y -= 1
    d = date(y, mo, day)
    return d, d


def _in_month(g: dict[str, Any], m: re.Match[str], ref: date, future: bool) -> tuple[date, date] | None:
    """"in March", "next March", "last December", "in May 2025"."""
    mo = _month(g["m"])
    lead = m.group(0).split()[0].lower()
    if g.get("y"):
        y = int(g["y"])
    elif lead == "next" or (future and lead != "last"):
        y = ref.year if mo > ref.month or (mo == ref.month and lead != "next") else ref.year + 1
    elif lead == "this":
        y = ref.year
    elif lead == "last":
        y = ref.year if mo < ref.month else ref.year - 1
    else:  # the past: the last such month up to now
        y = ref.year if mo <= ref.month else ref.year - 1
    part = _part(g)
    if part is None:
        return date(y, mo, 1), _month_end(y, mo)
    return date(y, mo, 10 * part + 1), date(y, mo, 10 * part + 10) if part < 2 else _month_end(y, mo)


def _in_year(g: dict[str, Any], m: re.Match[str], ref: date, future: bool) -> tuple[date, date] | None:
    """"in 2022"; "in early 2023" its first four months, "mid-" the next four, "late" the last four."""
    y = int(g["y"])
    part = _part(g)
    if part is None:
        return date(y, 1, 1), date(y, 12, 31)
    return date(y, 4 * part + 1, 1), _month_end(y, 4 * part + 4)


def _part(g: dict[str, Any]) -> int | None:
    """Which third of a month or a year "early", "mid", "late" (or "the start/middle/end of") names: 0, 1, 2."""
    word = g.get("part") or g.get("whole")
    return _PARTS[word.lower()] if word else None


def _season_year(g: dict[str, Any], m: re.Match[str], ref: date, future: bool) -> tuple[date, date] | None:
    """"summer 2022", "the spring of 2021" (the northern hemisphere's: June to August; winter 2022 runs from
    December 2022 to February 2023, as "last winter" does)."""
    y = int(g["y"])
    first, last = _SEASONS[g["s"].lower()]
    return date(y, first, 1), _month_end(y + 1 if first > last else y, last)


_RESOLVERS = {"ago": _ago, "in_n": _in_n, "before_last": _before_last, "the_weekend": _the_weekend, "rel_unit": _rel_unit, "rel_weekday": _weekday, "weekday": _weekday,
              "date_dmy": _date, "date_mdy": _date, "in_month": _in_month, "season_year": _season_year, "in_year": _in_year}


_MAY_VERB = re.compile(r"\bmay\s+(?:be|have|not|i|we|you|he|she|they|it|need|want|take|get|go|come|help|\w+ly)\b", re.I)


_OF = re.compile(r"\s+of\b", re.I)
_CLAUSE_END = re.compile(r"[,;.!?]\s|\s(?:and|but|so|because|then|while)\s", re.I)


def clause_of(text: str, a: int, b: int) -> str:
    """The clause around ``text[a:b]``: the tense of a time expression is the tense of its own clause
    ("I lost my keys on Wednesday, so I need a copy tomorrow": Wednesday is past)."""
    start = max((m.end() for m in _CLAUSE_END.finditer(text, 0, a)), default=0)
    m = _CLAUSE_END.search(text, b)
    return text[start: m.start() if m else len(text)]


def _re2(pattern: str) -> str:
    """A pattern above as RE2 (pyarrow's engine) reads it, matching wherever Python's does and a little more: its
    word boundaries dropped, ``\\d`` and ``\\s`` as wide as in a Python ``str`` pattern, its groups unnamed."""
    p = pattern.replace(r"\b", "").replace(r"\d", r"\p{Nd}").replace(r"\s", r"[\s\p{Z}\x{0B}\x{1C}-\x{1F}\x{85}]")
    return re.sub(r"\(\?P<\w+>", "(?:", p)


# Every text :func:`find` reads a time in matches this (RE2, case ignored; a column is scanned at once by pyarrow's
# ``match_substring_regex``, ~0.2 µs a turn): about one chat turn in 25 does, and only those need :func:`find`.
# The few characters whose case folds differently in Python and RE2 (dotted and dotless i, long s, the Kelvin
# sign) pass whatever they are in.
MAY_SAY = "|".join(f"(?:{_re2(rx.pattern)})" for _, rx in _PATTERNS) + r"|(?-i:[\x{130}\x{131}\x{17F}\x{212A}])"

# every expression above holds one of these words (or a year): most sentences hold none and are passed over at once
_ANY = re.compile(rf"\b(?:yesterday|today|tonight|tomorrow|morning|afternoon|evening|ago|last|next|this|past|coming|"
                  rf"weekend|week|weeks|month|months|year|years|days?|summer|winter|spring|fall|autumn|{_WD_RX}|"
                  rf"{_MONTH_RX}|may|(?:19|20)\d{{2}})\b", re.I)


def find(text: str, ref: date, *, future: bool | None = None) -> list[When]:
    """The time expressions of ``text`` resolved against ``ref`` (the local
    date the text was written), in the order they appear. ``future``: whether
    the sentence is about what is to come (default: guessed from its words)."""
    if not _ANY.search(text):
        return []
    taken: list[tuple[int, int]] = []
    out: list[When] = []
    for kind, rx in _PATTERNS:
        for m in rx.finditer(text):
            a, b = m.span()
            if any(a < y and x < b for x, y in taken):
                continue
            if "may" in m.group(0).lower() and kind in ("date_dmy", "date_mdy", "in_month") and _MAY_VERB.match(text, m.start("m")):
                continue  # "may be", "may have": the verb, not the month
            if kind == "the_weekend" and _OF.match(text, b):
                continue  # "during the weekend of 20 May": that weekend, read from the date after it (rem.search)
            if kind == "weekday" and not re.search(r"\b(on|this|that|every|by|until|till)\s+$", text[max(0, a - 12):a], re.I):
                continue  # a bare weekday name ("Friday's meeting", "TGIF Friday") says too little alone
            try:
                span = _resolve(kind, m, ref, _clause_future(clause_of(text, a, b)) if future is None else future)
            except (ValueError, OverflowError, KeyError):
                span = None  # outside the calendar (the day before 1 January of year 1), 31 February …
            taken.append((a, b))
            if span is not None:
                out.append(When(m.group(0), span[0], span[1], (a, b)))
    out.sort(key=lambda w: w.at)
    return out
