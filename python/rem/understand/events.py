"""What happened: events — short third-person statements of who did what,
and when — from the sentences of a segment, offline and deterministic.

A candidate is a sentence that states something a person did, decided,
plans or needs: a subject (``I``, ``we``, ``X and I``, a person's name) with
an action in the past (``went``, ``signed up``, ``adopted``, ``fixed``), a plan
or decision (``will``, ``going to``, ``decided to``) or a need (``I need``,
``I'd like to``). Questions, opinions (``I think``, ``I love``) and the
assistant's explanations are not events.

Each event is rewritten from its speaker's perspective to the third person
(``I`` → the speaker's name, ``you`` → the other speaker of a two-person
conversation, ``we`` → both), its time expressions are resolved against the
message's own time (:mod:`.when`: "yesterday" said on 8 May 2023 becomes
7 May 2023, kept beside the words), and it keeps the id of the message or
note it came from. Events are ranked — an action over a plan over a need,
a date, a named person or place, words new to the owner — and a moment keeps
its best few, in time order.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from .text import STOPWORDS, fold, read_sentences, tokens
from .when import When, find, is_future

__all__ = ["Event", "Utterance", "extract", "third_person"]

MAX_EVENTS = 6  # a moment keeps its best few
MAX_WORDS = 40  # a longer sentence is cut at a clause boundary
_PER_ITEM = 12  # sentences read per item (the head says what happened)

_IRREGULAR_PAST = frozenset("""
went came got took made gave found bought brought caught taught thought told sold sent spent lost left met paid
built began drove flew ran won wrote ate drank swam sang rode saw fell felt kept slept held heard knew read grew
threw chose broke spoke stole woke wore forgot became did had was were said sat stood understood
""".split())
_NOT_EVENTS = frozenset("""think thought guess know knew mean meant feel felt like liked love loved hope wish see agree
believe suppose bet wonder wondered remember imagine doubt understand understood was were am is had have has did do
does can could would should might must""".split())
_STATIVE_PAST = frozenset({"was", "were", "had", "did", "thought", "felt", "knew", "meant", "liked", "loved", "said",
                           "wondered", "understood", "seemed", "looked", "wanted", "needed", "used"})
_PLAN = re.compile(r"^(?:will|'ll|am going to|'m going to|m going to|am gonna|'m gonna|plan to|am planning to|"
                   r"'m planning to|decided to|have decided to|'ve decided to|am about to|'m about to|intend to|"
                   r"signed up|just signed up|have signed up|'ve signed up|am thinking of|'m thinking of)\b", re.I)
_NEED = re.compile(r"^(?:need|want|'d like|would like|am looking for|'m looking for|am trying to|'m trying to|"
                   r"have to|'ve got to|must)\b", re.I)
_PERFECT = re.compile(r"^(?:have|'ve|has|had|'d)\s+(?:just\s+|finally\s+|already\s+|recently\s+)?(\w+)", re.I)
_LEAD = re.compile(r"^(?:(?:yeah|yes|yep|oh|ah|well|so|and|but|also|actually|anyway|btw|by the way|hey|wow|haha|ha|"
                   r"lol|um|uh|hmm|ok|okay|right|honestly|guess what|you know what|sure|no|nope|great|cool|"
                   r"thanks|thank you|hi|hello|next|then|now|finally|first|afterwards|meanwhile|still)\b[\s,!.:;-]*)+", re.I)
_CUT = re.compile(r"[,;:]\s+(?:but|and|because|so|which|though|although|while)\b|\s+[-–—]\s+|;\s+")
# A sentence of two statements ("I lost my keys on Wednesday, so I need a copy made tomorrow"): cut before a
# connective that starts a clause of its own subject, so each statement is a candidate with its own time.
_SPLIT = re.compile(r",\s+(?:and\s+then|so|and|but|then)\s+(?=(?:i|i'm|i'll|i've|i'd|we|we're|we'll|we've)\b)", re.I)
_SUBJECT_I = re.compile(r"^(?:i|i'm|i've|i'd|i'll|im|ive)\b", re.I)
_SUBJECT_WE = re.compile(r"^(?:we|we're|we've|we'd|we'll|my \w+ and i|\w+ and i)\b", re.I)


@dataclass
class Utterance:
    """One text of a segment, with who wrote it."""

    id: str
    ts: int  # µs since the epoch, UTC
    text: str
    speaker: str | None  # who wrote it (None: the owner, when ``owner_name`` is unknown)
    others: Sequence[str] = ()  # the other participants (for "you" and "we")
    human: bool = True  # False for an assistant's or a tool's text


@dataclass
class Event:
    """One thing that happened."""

    text: str
    actors: list[str]
    source_id: str
    at: datetime
    date: str | None = None
    date_end: str | None = None
    when: str | None = None
    score: float = field(default=0.0, compare=False)
    kind: str = "action"  # action | plan | need | state: what the sentence states

    def public(self) -> dict[str, Any]:
        return {"text": self.text, "actors": list(self.actors), "date": self.date, "date_end": self.date_end,
                "when": self.when, "source_id": self.source_id, "at": self.at.isoformat()}


# -- perspective ------------------------------------------------------------------------------------------
_THIRD = {"am": "is", "have": "has", "do": "does", "don't": "doesn't", "go": "goes", "'m": "is", "'ve": "has",
          "was": "was", "wasn't": "wasn't", "haven't": "hasn't", "can": "can", "can't": "can't"}
_BASE_VERBS = frozenset("""want need like love hope plan think feel work live try start finish get make take know
enjoy miss play paint run write read teach study volunteer practice cook bake visit travel use own keep stay spend
""".split())


# "I" is always a subject: the verb after it (past an adverb or two) is the one to agree with its new subject
_I_VERB = re.compile(r"\bI((?:\s+[a-z][a-z'’]*){1,4})")
_ADVERBS = frozenset("""also really just still never always only often even already sometimes kinda too usually
actually""".split())
# what follows "I" and keeps its form after a third person: modals, pasts, negatives of both, and words that are
# no verb ("I myself", "I too"); a past the same as its present ("put", "read") reads as the past
_KEEPS_FORM = frozenset("""can could will would shall should may might must ought was were had did said went got saw
made took came knew thought found gave told felt left kept met ran bought brought sat stood lost paid sent spent
built heard held read put cut set let quit hurt hit cost shut spread bet began wrote drove ate drank forgot became
chose broke fell won understood taught caught fought sold slept woke wore hid meant sang swam threw grew drew flew
rode rang spoke stole stuck struck swore tore shook led fed fled bent lent dealt dug hung lay laid lit slid spun
sought sank shot bit forgave froze knelt overcame rose sprang withdrew mistook upset
didn't can't won't wouldn't couldn't shouldn't wasn't weren't hadn't mustn't mightn't ain't cannot
myself too alone both and or but who that as the a an to in on at of with for than if so""".split())
# "you" is a subject where a clause opens; "you guys", "you all" are more than the one other speaker
_YOU_VERB = re.compile(r"(^|[,;:]\s+|\b(?i:and|but|so|because|if|when|that|since|while|though|now|then|until|unless|"
                       r"once|before|after|as|what|how|where|why)\s+)[Yy]ou((?:\s+[a-z][a-z'’]*){1,4})")
_PLURAL_YOU = frozenset("guys all both two three people folks yourselves".split())
_NOT_ADVERBS = frozenset("apply reply supply comply multiply imply rely fly ally bully rally tally".split())


def _agreeing(subject: str, tail: str) -> str:
    """``subject`` and the words that followed "I" (or "you"), the first verb made to agree with it ("really mean"
    → "Ana really means")."""
    words = tail.split()
    k = 0
    while k < len(words) - 1 and (words[k] in _ADVERBS or words[k] == "myself" or words[k] in ("kind", "sort")
                                  and words[k + 1] == "of" or words[k] == "of" and k and words[k - 1] in ("kind", "sort")
                                  or words[k].endswith("ly") and len(words[k]) > 4 and words[k] not in _NOT_ADVERBS):
        k += 1
    out = [w for w in words[:k] if w != "myself"] + [_agree(words[k])] + words[k + 1:]
    return f"{subject} " + " ".join(out)


def _agree(verb: str) -> str:
    """The verb after "I" as it agrees with a third person singular: "mean" → "means", "haven't" → "hasn't", "went",
    "can", "didn't" as they are."""
    v = verb.lower().replace("’", "'")
    if v in _THIRD:
        return _THIRD[v] if "’" not in verb else _THIRD[v].replace("'", "’")
    if v in _KEEPS_FORM or (v.endswith("ed") and not v.endswith("eed")) or v.endswith("n't"):
        return verb
    return _s_form(verb)


def _s_form(verb: str) -> str:
    v = verb.lower()
    if v in _THIRD:
        return _THIRD[v]
    if v.endswith(("s", "sh", "ch", "x", "z", "o")):
        return verb + "es"
    if v.endswith("y") and len(v) > 2 and v[-2] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def _possessive(name: str) -> str:
    return name + ("'" if name.endswith("s") else "'s")


def _join(names: Sequence[str]) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def third_person(sentence: str, actor: str, others: Sequence[str] = ()) -> str:
    """``sentence`` as said about ``actor`` (who said it) to ``others``:
    ``I went`` → ``Ana went``, ``my class`` → ``Ana's class``, ``you`` → the
    other speaker of a two-person conversation, ``we`` → both."""
    other = others[0] if len(others) == 1 else None
    both = _join([actor, *others]) if others else f"{actor} and others"
    s = sentence

    def sub(rx: str | re.Pattern[str], repl: Any) -> None:
        nonlocal s
        s = re.sub(rx, repl, s)

    sub(r"\bI'm\b|\bI am\b|\bIm\b", f"{actor} is")
    sub(r"\bI've\b|\bI have\b|\bIve\b", f"{actor} has")
    sub(r"\bI'll\b", f"{actor} will")
    sub(r"\bI'd\s+(been|gone|done|had|seen|\w+ed)\b", lambda m: f"{actor} had {m.group(1)}")
    sub(r"\bI'd\b", f"{actor} would")
    sub(_I_VERB, lambda m: _agreeing(actor, m.group(1)))
    sub(r"\b[Mm]y \w+ and I\b|\b(?<![A-Z])[Mm]y\s+(\w+)\s+and\s+I\b", lambda m: m.group(0).replace(" and I", f" and {actor}"))
    sub(r"\bI\b", actor)
    # a reflexive after its subject reads "themselves" ("Ana can manage it themselves", not "… it Ana")
    sub(r"\b[Mm]yself\b", lambda m: "themselves" if actor in s[: m.start()] else actor)
    sub(r"\b[Mm]ine\b", _possessive(actor))
    sub(r"\b[Mm]y\b", _possessive(actor))
    sub(r"(?<=\s)me\b|^me\b", actor)
    sub(r"\b[Ww]e're\b|\b[Ww]e are\b", f"{both} are")
    sub(r"\b[Ww]e've\b|\b[Ww]e have\b", f"{both} have")
    sub(r"\b[Ww]e'll\b", f"{both} will")
    sub(r"\b[Ww]e'd\b", f"{both} would")
    sub(r"\b[Oo]urselves\b", "themselves")
    sub(r"\b[Ww]e\b", both)
    sub(r"\b[Oo]ur\b", "their")
    sub(r"\b[Oo]urs\b", "theirs")
    sub(r"(?<=\s)us\b", "them")
    if other:
        sub(r"\b[Yy]ou're\b|\b[Yy]ou are\b", f"{other} is")
        sub(r"\b[Yy]ou've\b|\b[Yy]ou have\b", f"{other} has")
        sub(r"\b[Yy]ou'll\b", f"{other} will")
        sub(_YOU_VERB, lambda m: m.group(0) if m.group(2).split()[0] in _PLURAL_YOU  # "you guys are"
            else m.group(1) + _agreeing(other, m.group(2)))
        sub(r"\b[Yy]our\b", _possessive(other))
        sub(r"\b[Yy]ourself\b", lambda m: "themselves" if other in s[: m.start()] else other)
        sub(r"\b[Yy]ou\b", other)
    s = _later_mentions(s.strip(), actor)
    return s[:1].upper() + s[1:]


def _later_mentions(s: str, actor: str) -> str:
    """After the first mention of ``actor``, its possessive reads as "their" ("Tomás lost Tomás' keys" → "their keys")."""
    first = s.find(actor)
    if first < 0:
        return s
    head, tail = s[: first + len(actor)], s[first + len(actor):]
    tail = tail.replace(f" {_possessive(actor)} ", " their ")
    return head + tail


# -- candidates -------------------------------------------------------------------------------------------
def _clause(s: str) -> str:
    """The sentence cut to its first clause when it runs long; no trailing punctuation."""
    words = s.split()
    if len(words) > MAX_WORDS:
        m = _CUT.search(s)
        s = s[: m.start()] if m and len(s[: m.start()].split()) >= 5 else " ".join(words[:MAX_WORDS])
    return s.strip().rstrip(".!…,;:")


def _kind(rest: str) -> tuple[str, float] | None:
    """What the words after the subject state: ('action'|'plan'|'need'|'state', weight), or None."""
    r = rest.strip()
    low = r.lower()
    if _PLAN.match(low):
        return "plan", 1.6
    m = _PERFECT.match(low)
    if m:
        v = m.group(1)
        if v in _IRREGULAR_PAST or v.endswith(("ed", "en", "un", "ne", "ht", "ost", "ept", "elt")) and v not in ("been",):
            return "action", 2.0
        if v == "been":
            return "state", 0.8
    head = re.match(r"(?:just |finally |recently |already |also |actually |really |never |then |both )?([a-z']+)", low)
    if not head:
        return None
    v = head.group(1)
    if v in _STATIVE_PAST:
        return ("state", 0.7) if v in ("was", "were") else None
    if v in _IRREGULAR_PAST or (v.endswith("ed") and len(v) > 4 and v not in ("need", "feed", "seed", "indeed")):
        return "action", 2.0
    if _NEED.match(low):
        return "need", 1.0
    if v in ("am", "'m", "m", "is", "are", "'re"):
        nxt = low.split()[1:2]
        if nxt and (nxt[0].endswith("ing") or nxt[0] in ("going", "starting", "moving", "getting")):
            return "plan" if is_future(low) else "state", 1.2
        return "state", 0.5
    if v in _NOT_EVENTS:
        return None
    if v in _BASE_VERBS or v.endswith(("s",)):
        return "state", 0.4
    return None


_THING_SUBJECT = re.compile(
    r"^((?:the|a|an|our|their|his|her|this|that|[A-Z0-9][\w-]*)(?:\s+[\w'’.-]+){0,4}?)\s+"
    r"((?:was|were)\s+(?:\w+ed|done|finished|shipped|fixed|merged|released|cancel+ed|approved|postponed|moved)|"
    r"(?:is|are)\s+(?:done|finished|up|out|live|fixed|merged|released|over|ready)|has been\s+\w+|have been\s+\w+|"
    r"will\s+\w+|starts?\s+(?:next|on|in|tomorrow|today)|begins?\s+(?:next|on|in|tomorrow|today)|"
    r"went|broke|fell|came|got|began|ran|won|lost|finished|shipped|merged|released|launched|started|failed|crashed|"
    r"filled|happened|ended|opened|closed|arrived|passed|died|left)\b", re.I)
_NOT_THINGS = re.compile(r"^(?:it|this|that|there|which|what|who|he|she|they|you|one|everything|nothing|something|"
                         r"anything|all|both|each|some|any)\b", re.I)
# a "thing" subject holding the speakers themselves is none ("Look like you got some sun": a person did that)
_SPEAKERS_IN = re.compile(r"\b(?:I|you|we|me|us)\b", re.I)
_LABEL = re.compile(r"^(decided|decision|agreed|done|action(?: item)?|next step|todo|outcome|result)\s*:\s*", re.I)
_LET_US = re.compile(r"^(?:let's|let us)\s+", re.I)
_NAME_SUBJECT = re.compile(r"^((?:[A-Z][\w'’-]+)(?:\s+(?:and|&)\s+[A-Z][\w'’-]+|\s+[A-Z][\w'’-]+){0,3})\s+(.+)$")


def _content(text: str) -> list[str]:
    return [f for t in tokens(text) if (f := fold(t)) not in STOPWORDS and len(f) > 2 and f.isalpha()]


def _local_date(ts: int) -> date | None:
    try:
        return datetime.fromtimestamp(ts / 1e6, UTC).astimezone().date()
    except (OverflowError, OSError, ValueError):
        return None


_Candidate = tuple[Event, set[str], tuple[str, tuple[str, ...], bool, "When | None"]]


def _candidates(u: Utterance, owner: str, people: Sequence[str], position: int,
                known: dict[str, str] | None = None) -> list[_Candidate]:
    """The events an utterance may tell. ``known``: each of ``people`` by their first name and by their name (made
    here when not given)."""
    actor = u.speaker or owner
    out: list[_Candidate] = []
    dated, at, ref = False, datetime.min, None  # the utterance's time and local day, made once a statement needs them
    if known is None:
        known = _known(people)
    for k, (raw, context) in enumerate(_statements(read_sentences(u.text)[:_PER_ITEM])):
        if raw.rstrip().endswith("?") or len(raw) < 12:
            continue
        s = _LEAD.sub("", raw).strip()
        if not s:
            continue
        label = _LABEL.match(s)
        if label:
            s = s[label.end():]
        if not s:
            continue
        s = s[:1].upper() + s[1:]
        low = s.lower()
        actors: list[str]
        thing = False
        if _LET_US.match(low):
            rest, s = "will " + s[_LET_US.match(low).end():], "We will " + s[_LET_US.match(low).end():]  # type: ignore[union-attr]
            low = s.lower()
            actors = [actor, *u.others] if u.others else [actor]
        elif _SUBJECT_WE.match(low):
            rest = re.sub(r"^(?:we|my \w+ and i|\w+ and i)\b", "", s, flags=re.I)
            actors = [actor, *u.others] if u.others else [actor]
            rest = re.sub(r"^'(re|ve|d|ll)\b", lambda m: {"re": "are", "ve": "have", "d": "would", "ll": "will"}[m.group(1)], rest)
        elif _SUBJECT_I.match(low):
            rest = re.sub(r"^(?:i'm|im)\b", "am", re.sub(r"^(?:i've|ive)\b", "have", re.sub(r"^i'll\b", "will",
                          re.sub(r"^i'd\b", "'d", re.sub(r"^i\b", "", s, flags=re.I), flags=re.I), flags=re.I), flags=re.I), flags=re.I)
            actors = [actor]
        elif u.human and (m := _NAME_SUBJECT.match(s)) and all(w.split()[0] in known or w in known for w in re.split(r"\s+(?:and|&)\s+", m.group(1))):
            rest = m.group(2)
            actors = [known.get(w, known.get(w.split()[0], w)) for w in re.split(r"\s+(?:and|&)\s+", m.group(1))]
        elif u.human and (m := _THING_SUBJECT.match(s)) and not _NOT_THINGS.match(m.group(1)) \
                and not _SPEAKERS_IN.search(m.group(1)):
            # something happened to a thing ("The outage started at 02:10", "Greek translations start next week"):
            # said by the speaker, who is the one who knows
            rest, actors, thing = m.group(2), [actor], True
        else:
            continue
        if not u.human and actors == [actor]:
            continue  # an assistant's "I" is not the owner's life
        kind = ("plan", 1.2) if thing and re.match(r"(?i)(?:will|starts?|begins?)\b", rest) else (
            ("action", 1.5) if thing else _kind(rest))
        if kind is None:
            continue
        what, weight = kind
        if label and what in ("state", "need"):
            what, weight = "plan", 1.6  # "Decided: …" states a decision
        text = _clause(s)
        if len(text.split()) < 4:
            continue
        if not dated:
            dated, at, ref = True, datetime.fromtimestamp(u.ts / 1e6, UTC), _local_date(u.ts)
        whens: list[When] = find(text, ref) if ref is not None else []
        if not whens and context and ref is not None:  # "… visiting in December, so I will cook": the time said before
            whens = [w for w in find(context, ref) if w.words.lower() not in text.lower()][:1]
        words = _content(text)
        score = weight + (1.2 if whens else 0.0) + min(1.0, 0.15 * len(words))
        score += 0.4 * sum(1 for p in people if p.split()[0] in text and p not in actors)
        score += 0.3 if position < 3 else 0.0
        score -= 0.05 * k
        iso, iso_end = whens[0].iso() if whens else (None, None)
        if iso is None and what == "action" and ref is not None:
            iso = ref.isoformat()  # no time in the words: the day it was told (an action told of is done by then)
        e = Event(text, list(dict.fromkeys(actors)), u.id, at, iso, iso_end, whens[0].words if whens else None, score, what)
        # the wording is made only for the events a moment keeps (see extract): it is the costly part
        out.append((e, set(words), (actor, tuple(u.others), u.human or actor in actors, whens[0] if whens else None)))
    return out


def _known(people: Sequence[str]) -> dict[str, str]:
    """Each person by their first name and by their name (the name wins where the two meet)."""
    return {p.split()[0]: p for p in people} | {p: p for p in people}


def _statements(sents: Sequence[str]) -> list[tuple[str, str]]:
    """Each sentence's statements (cut at :data:`_SPLIT`), with the text of the sentence before the statement
    (the time a later statement inherits when it names none)."""
    out: list[tuple[str, str]] = []
    for sent in sents:
        start = 0
        for m in _SPLIT.finditer(sent):
            out.append((sent[start:m.start()], sent[:start]))
            start = m.end()
        out.append((sent[start:], sent[:start]))
    return out


def _word(e: Event, how: tuple[str, tuple[str, ...], bool, When | None]) -> Event:
    """The event in the third person, its relative time as the date it means ("yesterday" → "on 7 May 2023")."""
    actor, others, personal, w = how
    stated = third_person(e.text, actor, others) if personal else e.text
    if w is not None and not any(ch.isdigit() for ch in w.words):
        stated = _dated(stated, w)
    e.text = stated[:1].upper() + stated[1:]
    return e


_PART_OF_DAY = {"this morning": "morning", "this afternoon": "afternoon", "this evening": "evening", "tonight": "night",
                "last night": "night"}
_PREPOSITIONS = r"on|in|at|until|till|by|since|before|after|from|for|through|during"


def _dated(text: str, w: When) -> str:
    """``text`` with the relative time ``w`` said in it as the date it means: "yesterday" → "on 7 May 2023", "until
    this evening" → "until the evening of 8 May 2023", "for tomorrow's exam" → "for the 9 May 2023 exam"."""
    m = re.search(rf"(?:\b(?P<prep>{_PREPOSITIONS})\s+)?\b{re.escape(w.words)}\b(?P<pos>['’]s\b)?", text, re.I)
    if m is None:
        return text
    prep = (m.group("prep") or "").lower()
    kept = f"{m.group('prep')} " if prep and prep not in ("on", "in") else ""  # "until", "by", "for" stay
    part = _PART_OF_DAY.get(w.words.lower())
    if m.group("pos"):  # "tomorrow's exam": the day's
        new = f"{kept}the {w.show()}"
    elif part:
        new = f"{kept or 'on '}the {part} of {w.show()}"
    elif kept and not w.one_day and w.show()[:1].isdigit():  # "by next week": "by next week (5–11 February 2024)"
        new = f"{text[m.start():m.end()]} ({w.show()})"
    elif kept:
        new = f"{kept}{w.show()}"
    else:
        new = w.phrase()
    return text[:m.start()] + new + text[m.end():]


def extract(utterances: Sequence[Utterance], *, owner: str = "the owner", people: Sequence[str] = (),
            limit: int = MAX_EVENTS) -> list[Event]:
    """The best ``limit`` events of a segment's texts, in time order.
    ``owner``: the name ``I`` becomes in the owner's own texts;
    ``people``: the segment's people (their names in a sentence make it count more)."""
    found: list[_Candidate] = []
    known = _known(people)
    for pos, u in enumerate(utterances):
        found += _candidates(u, owner, people, pos, known)
    best: list[Event] = []
    seen: list[set[str]] = []
    for e, words, how in sorted(found, key=lambda c: -c[0].score):
        if not words or any(len(words & s) > 0.6 * min(len(words), len(s)) for s in seen):
            continue  # the same thing said twice
        best.append(_word(e, how))
        seen.append(words)
        if len(best) >= limit:
            break
    return sorted(best, key=lambda e: e.at)
