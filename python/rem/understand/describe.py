"""What a segment was: its type, its outcome, a summary of its most central
sentences, and a specific name built from the type and the key phrases."""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

from .._rem import CueCounter
from .keyphrases import phrase_reader
from .text import fold, is_content, stem, tokens

TYPES = ("work_session", "deep_work", "learning", "meeting", "conversation", "support", "debugging", "writing",
         "planning", "review", "communication", "research", "break", "other")

_CUES: dict[str, re.Pattern[str]] = {
    "debugging": re.compile(r"\b(debug\w*|bug|bugs|crash\w*|regression|traceback|stack trace|exception|error|errors|"
                            r"fail\w*|broken|off-by-one|segfault|repro\w*|root cause|flaky|incident|outage|lag|"
                            r"problem|wrong|investigat\w*|doesn't work|does not work)\b", re.I),
    "learning": re.compile(r"\b(paper|papers|reading|read about|learn\w*|tutorial|course|what is|how does|explain\w*|"
                           r"understand\w*|lecture|book)\b", re.I),
    "research": re.compile(r"\b(research|survey|benchmark\w* against|compare\w*|comparison|literature|study|studies)\b", re.I),
    "meeting": re.compile(r"\b(meeting|sync|standup|stand-up|attendees|agenda|minutes|retro\w*|review meeting|"
                          r"call with|1:1|one-on-one|postmortem|architecture review)\b", re.I),
    "writing": re.compile(r"\b(docs?|documentation|readme|write-?up|draft\w*|blog|article|section|chapter|"
                          r"examples|guide|writing)\b", re.I),
    "planning": re.compile(r"\b(plan\w*|roadmap|sprint|priorit\w*|checklist|release|milestone|schedule|estimate\w*|"
                           r"backlog|okrs?)\b", re.I),
    "review": re.compile(r"\b(code review|review\w*|pull request|PR #?\d+|approve\w*|lgtm|feedback)\b", re.I),
    "support": re.compile(r"\b(i need help|need help|can you help|could you help|help me|how do i|how can i|"
                          r"apply for|my account|refund|eligib\w*|benefits?|customer|order number|reservation|"
                          r"appointment|complain\w*|i'd like to (?:book|order|return|cancel|check)|"
                          r"what (?:are|is) the (?:requirements|fee|price|cost))\b", re.I),
    "conversation": re.compile(r"\b(family|friends?|kids|children|mom|mum|dad|sister|brother|wife|husband|"
                               r"boyfriend|girlfriend|weekend|vacation|holiday|trip|birthday|party|dinner|movie|"
                               r"gym|hobby|cat|dog|pets?|school|church|wedding|love|miss you|how are you|"
                               r"how have you been|good to see you|congrat\w*)\b", re.I),
}
_OUTCOME = re.compile(r"\b(fix(?:ed|es)?|merged|shipped|released|decided|agreed|resolved|done|finished|landed|"
                      r"restores?|works now|passes|passing|green|completed|signed off|cut .* from|improved)\b", re.I)

_VERB = {
    "debugging": "Debugging", "deep_work": "Deep work on", "learning": "Reading about", "meeting": "Meeting on",
    "writing": "Writing about", "planning": "Planning", "review": "Reviewing", "communication": "Discussing",
    "research": "Researching", "work_session": "Working on", "break": "Break", "other": "Working on",
    "conversation": "Talking about", "support": "Getting help with",
}


@dataclass
class Shape:
    """What a segment is made of, counted."""

    minutes: float = 0.0
    commits: int = 0
    notes: int = 0
    documents: int = 0
    chats: int = 0  # sessions with an assistant
    conversations: int = 0  # ChatGPT-style conversations
    group_chats: int = 0  # sessions with named speakers
    meetings: int = 0  # meeting transcripts
    people: int = 0  # the segment's people: who took part and who was named
    speakers: int = 0  # who took part in its chats (the owner counted): a chat's people present
    items: int = 0
    resource_types: Counter[str] = field(default_factory=Counter)


# The cues matched against lower-cased text without IGNORECASE: the same matches, ~2× faster (Python's regex
# engine loses its literal-prefix scan under IGNORECASE; the cue patterns are lower case but for "PR #")
_CUES_LOWER = {t: re.compile(rx.pattern.replace("PR #", "pr #")) for t, rx in _CUES.items()}


@cache
def _cue_counter() -> CueCounter:
    """The type cues, counted in ASCII text by the Rust core: Python's engine tries every pattern at every
    position of a segment's text; the core's skips to where a pattern's words are."""
    return CueCounter([rx.pattern for rx in _CUES_LOWER.values()])


def moment_type(shape: Shape, text: str) -> str:
    """The moment type, from the shape of the activity and its words."""
    score: dict[str, float] = defaultdict(float)
    per = max(1.0, len(text.split()) / 100)  # cue words per hundred words
    lower = text.lower()
    counts = _cue_counter().count(lower)  # ASCII text by the Rust core (the same counts), other scripts here
    if counts is None:
        counts = [len(rx.findall(lower)) for rx in _CUES_LOWER.values()]
    for t, n in zip(_CUES_LOWER, counts, strict=True):
        score[t] += n / per
    if shape.meetings:  # a transcript is a meeting's
        score["meeting"] += 3.0
    # three people or more together: a meeting. In a chat they are who speaks, not who is talked about (two friends
    # talking about a third are not in a meeting); a note's people are the people it lists
    if (shape.speakers if shape.group_chats else shape.people) >= 3:
        score["meeting"] += 1.5
    elif shape.group_chats:  # two people talking (a chat, a call): a conversation unless it says it is a meeting
        score["conversation"] += 1.5
    if shape.notes and shape.people >= 2:
        score["meeting"] += 1.0
    if shape.conversations:
        score["learning"] += 1.0
    if shape.documents:
        score["writing"] += 1.5
    if shape.commits >= 2:
        score["deep_work"] += 1.0 + 0.2 * min(shape.commits, 5)
    if shape.minutes >= 90 and shape.commits:
        score["deep_work"] += 0.5
    best, value = max(score.items(), key=lambda kv: (kv[1], kv[0]), default=("work_session", 0.0))
    return best if value >= 1.0 else ("deep_work" if shape.commits >= 2 else "work_session")


@lru_cache(maxsize=1 << 16)
def _content_stem(token: str) -> str | None:
    """A token's stem when it is a content word, else None: one lookup per token where there were three."""
    f = fold(token)
    return stem(f) if is_content(f) else None


def _vector(toks: Sequence[str]) -> Counter[str]:
    """A sentence's content stems, counted, from its tokens (counted in C, the other words' None dropped after)."""
    v = Counter(map(_content_stem, toks))
    v.pop(None, None)
    return v  # type: ignore[return-value]


_LABEL = re.compile(r"^\s*(?:#+\s*)?[^.:!?]{1,40}:\s+(?=\S)")


_OPENER = re.compile(r"^(?:(?:well|oh|ah|yes|yeah|no|ok|okay|so|um|uh|hmm|sure|right|great|wow|now|oh dear|"
                     r"of course|you know|i see|honey|dear|darling|sweetie|sweetheart|"
                     r"dad|daddy|mom|mommy|mum|sir|madam|ma'am|buddy|guys|dude|mate|babe|baby|son|everyone|"
                     r"everybody|folks)\s*[,!.]+\s*)+(?=\S)", re.I)  # and who is spoken to: "Honey, …", "Dad, …"


def _strip_label(s: str) -> str:
    """``Diskann graph construction: the Vamana builder …`` → ``The Vamana builder …``; ``Well, fruits are
    healthy.`` → ``Fruits are healthy.`` (what opens a spoken turn is not part of what was said)."""
    m = _LABEL.match(s)
    if m and len(m.group(0).split()) <= 5:
        s = s[m.end():]
    m = _OPENER.match(s)
    if m and len(s) > m.end() + 10:
        s = s[m.end():]
    return s[:1].upper() + s[1:]


_HEADING = re.compile(r"\s*#{1,6}(?:\s|$)")  # a Markdown heading ("# Plan"), not "#Person1# said …"


def central_sentences(candidates: Sequence[str], key_terms: Sequence[str], limit: int = 3) -> list[str]:
    """The ``limit`` sentences most similar to the rest (and to the key
    phrases), in their original order; headings, fragments and near-duplicates
    (more than half their words shared with a kept one) left out. Sentences the Rust core reads (ASCII, and
    chat's punctuation and emoji) are scored there (``PhraseReader.central``: the same choice, tested), others
    by :func:`_central`."""
    said = [s for raw in candidates if not _HEADING.match(raw)
            for s in (_strip_label(raw),) if len(s) <= 300 and len(s.split()) >= 5]
    if not said:
        return []
    picked = phrase_reader().central(said, sorted({w for k in key_terms for w in k.split()}), limit)
    return [said[i] for i in picked] if picked is not None else _central(said, key_terms, limit)


def _central(said: Sequence[str], key_terms: Sequence[str], limit: int) -> list[str]:
    """:func:`central_sentences` of sentences already stripped and of a summary's length, in Python (any script)."""
    uniq: list[str] = []
    kept_words: list[set[str]] = []
    kept_tokens: list[list[str]] = []
    for s in said:
        toks = tokens(s)
        words = {w.lower() for w in toks}
        if any(len(words & k) > 0.5 * min(len(words), len(k)) for k in kept_words):
            continue
        kept_words.append(words)
        kept_tokens.append(toks)
        uniq.append(s)
    if not uniq:
        return []
    vecs = [_vector(t) for t in kept_tokens]
    centroid: Counter[str] = Counter()
    for v in vecs:
        centroid.update(set(v))
    keys = Counter(w for k in key_terms for w in k.split())
    scored = []
    for i, v in enumerate(vecs):
        if not v:
            continue
        norm = math.sqrt(sum(x * x for x in v.values()))
        sim = sum(v[w] * (centroid[w] - 1) for w in v) / (norm * len(uniq) ** 0.5)
        scored.append((sim + 1.5 * sum(1 for w in v if w in keys), i))
    top = sorted(sorted(scored, reverse=True)[:limit], key=lambda x: x[1])
    return [uniq[i] for _, i in top]


def outcome(commit_subjects: Sequence[str], own_sentences: Sequence[str], key_terms: Sequence[str]) -> str:
    """What came of it: the commits' subjects, else the central sentence saying something was fixed, merged, decided …"""
    if commit_subjects:
        subjects = list(dict.fromkeys(s.strip() for s in commit_subjects if s.strip()))
        if len(subjects) == 1:
            return _period(subjects[0])
        shown = "; ".join(subjects[:3]) + (f"; and {len(subjects) - 3} more" if len(subjects) > 3 else "")
        return _period(f"{len(subjects)} commits: {shown}")
    # most moments say none of it: asked once of all their sentences (split sentences hold no line break, and
    # no match of the pattern crosses one), then of each
    done = [s for s in own_sentences if _OUTCOME.search(s)] if _OUTCOME.search("\n".join(own_sentences)) else []
    best = central_sentences(done, key_terms, limit=1)
    return best[0] if best else ""


def _period(s: str) -> str:
    s = " ".join(s.split())
    return s if s.endswith((".", "!", "?")) else s + "."


# words a name cannot end on: a verb waiting for its complement, an article, a preposition, a conjunction
_DANGLING = frozenset("""is was are were am be been being gets got get feels felt seems seemed looks looked becomes
became has have had do does did will would can could should may might must the a an to of and or but so very really
for with at in on by from as than that if""".split())


def event_name(events: Sequence[Any], limit_chars: int = 110) -> str:
    """A name that says what happened: the best one or two events, shortened
    ("Tomás moved into the new flat; Nadia went to the climbing gym")."""
    best = sorted(sorted(events, key=lambda e: -e.score)[:2], key=lambda e: e.at)
    parts = []
    for e in best:
        text = re.sub(r"\s+(?:on|in|between) \d.*?\d{4}\b", "", e.text)  # the date is the moment's own time
        first = re.split(r",\s|;\s|\s(?:because|but|so|and it|which)\s", text)[0].strip().rstrip(".")
        if text != e.text:  # a relative clause its date was taken from says nothing more ("a course that starts")
            first = re.sub(r"\s+(?:that|who)\s+\w+$", "", first)
        # a clause cut off its predicate ("Caroline was" of "Caroline was so happy …") says nothing: kept whole
        tail = first.split()[-1].lower() if first.split() else ""
        text = first if len(first.split()) >= 3 and tail not in _DANGLING else text.strip().rstrip(".")
        words = text.split()
        if len(words) > 12:
            text = " ".join(words[:12]) + "…"
        parts.append(text)
    out = "; ".join(parts)
    if len(out) > limit_chars:
        out = parts[0]
    return out[:1].upper() + out[1:]


def name(kind: str, topics: Sequence[str], people: Sequence[str], fallback: str) -> str:
    """A specific name: the type's verb and the strongest key phrase (two when
    the first is a single word), e.g. ``Debugging HNSW recall regression``; a
    meeting also names its people when there are few."""
    verb = _VERB.get(kind, "Working on")
    said = {w.lower() for w in verb.split()} | {"debugging", "debug", "meeting", "writing", "planning", "reading"}
    subjects: list[str] = []
    for t in topics:
        words = [w for w in t.split() if w.lower() not in said]
        low = f" {' '.join(words).lower()} "
        if not words or any(low in f" {s.lower()} " or f" {s.lower()} " in low for s in subjects):
            continue  # nothing left, or it repeats a subject ("HNSW recall" beside "HNSW recall regression")
        subjects.append(" ".join(words))
        if len(subjects) == 2 or (subjects and len(subjects[0].split()) >= 3):
            break
    subject = _join(subjects)
    if not subject:
        return fallback
    text = f"{verb} {subject}"
    if kind in ("meeting", "communication") and 1 <= len(people) <= 3:
        text += " with " + _join([p.split()[0] for p in people])
    if len(text) > 120:
        text = text[:119].rsplit(" ", 1)[0] + "…"
    return text[:1].upper() + text[1:]


def with_people(people: Sequence[str]) -> str:
    """A conversation's name when nothing in it stood out and nobody titled it: who talked
    (``Talking with Tom and Nate``; ``Conversation`` when nobody is known)."""
    if not people:
        return "Conversation"
    first = [p.split()[0] for p in people[:3]]
    return "Talking with " + _join(first if len(people) <= 3 else [*first, "others"])


def _join(parts: Sequence[str]) -> str:
    parts = list(parts)
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def longest(sentences: Sequence[str], min_words: int = 3) -> str:
    """The longest statement of a short moment that has no central sentence (its sentences are all short or
    questions): "" when it has none of ``min_words``."""
    best = max((s for s in sentences if len(s.split()) >= min_words and not _HEADING.match(s)),
               key=lambda s: (not s.rstrip().endswith("?"), len(s)), default="")
    return _period(best[:300]) if best else ""


def what_happened(events: Sequence[Any], central: Sequence[str]) -> str:
    """The summary of a moment with events: its two best events in time order, then the central sentence that
    repeats them least — what happened, then what it was about ("" without an event that is an action; chosen
    on DialogSum dev: events alone, or three, read worse against the human summaries)."""
    ev = event_summary(events, limit=2)
    if not ev:
        return ""
    said = {w.lower() for w in ev.split()}
    about = [c for c in central if len({w.lower() for w in c.split()} & said) < 0.5 * len(c.split())][:1]
    return f"{ev} {summary(about)}".strip()


def summary(central: Sequence[str], limit_chars: int = 600) -> str:
    """The central sentences as one paragraph."""
    out = ""
    for s in central:
        s = _period(s)
        if len(out) + len(s) + 1 > limit_chars:
            break
        out = f"{out} {s}".strip()
    return out


def event_summary(events: Sequence[Any], limit: int = 3, limit_chars: int = 600, *, states: bool = False) -> str:
    """What happened, in the third person: the ``limit`` best events in time order ("" when none says
    that something was done, planned or needed — a state alone, "X is looking at Y", is not a summary,
    unless ``states``: for a moment nothing else describes)."""
    if not events or not states and not any(getattr(e, "kind", "action") != "state" for e in events):
        return ""
    best = sorted(sorted(events, key=lambda e: -e.score)[:limit], key=lambda e: e.at)
    out = ""
    for e in best:
        s = _period(e.text)
        if len(out) + len(s) + 1 > limit_chars:
            break
        out = f"{out} {s}".strip()
    return out

