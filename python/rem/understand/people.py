"""Who a segment involves.

From the most to the least certain:

1. speakers of a multi-party conversation (the messages' ``speaker``);
2. commit authors and ``Co-authored-by:`` trailers;
3. people listed in a note's front matter (``attendees``, ``people``,
   ``participants``, ``with``) or on an ``Attendees:`` / ``Participants:`` line;
4. ``@mentions`` and the people the store already knows (names and aliases),
   written anywhere in the segment;
5. a name followed by a verb of speech (``Alice Chen suggested …``) or after
   ``with`` / ``from`` / ``thanks to``.

The owner never counts as a person of their own moments. A first name alone
is resolved to the one full name it can mean (in the segment or the store).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from .._rem import LiteralSet, RuleSet
from ..ids import normalize_key
from .ner import NOT_PERSON
from .ner import may_name as ner_may_name
from .text import RELATIONS

_LIST_KEYS = ("attendees", "people", "participants", "with", "authors", "present")
_LIST_LINE = re.compile(r"(?im)^\s*(?:attendees|participants|present|people|with)\s*:\s*(.+)$")
_TRAILER = re.compile(r"(?im)^\s*co-authored-by:\s*([^<\n]+?)\s*(?:<[^>\n]*>)?\s*$")
_NAME = r"[^\W\d_][\w'’\-]*(?:\s[^\W\d_][\w'’\-]*){0,2}"
_SPEECH_VERBS = ("said", "says", "suggested", "suggests", "asked", "asks", "thinks", "mentioned", "wrote", "proposed",
                 "agreed", "reported", "explained", "replied", "added", "pointed out", "noted", "argued", "shared",
                 "confirmed", "decided")
_SPEECH = re.compile(rf"\b({_NAME})\s+(?:{'|'.join(_SPEECH_VERBS)})\b")
_WITH = re.compile(rf"\b(?:with|from|thanks to|cc|by|ask|asked|told|pinged)\s+({_NAME})")
_MENTION = re.compile(r"@([^\W\d_][\w.\-]*(?:\s[^\W\d_][\w\-]*)?)")
_SPLIT = re.compile(r"\s*(?:,|;|/|\band\b|&|\+)\s*")
_CAP = r"[A-ZÀ-ÖØ-ÞĀ-Ž][a-zß-öø-ÿĀ-ž'’\-]+"  # one capitalized word (Latin script; other scripts come from speakers, lists)
_ABBREVIATED = ("Mr", "Mrs", "Ms", "Mx", "Dr", "Prof")  # written with a full stop or without
_TITLES = (*_ABBREVIATED, "Miss", "Professor", "Doctor", "Uncle", "Aunt", "Auntie", "Grandma", "Grandpa", "Captain",
           "Officer", "Coach", "Judge")
_TITLE = re.compile(rf"\b((?:(?:{'|'.join(_ABBREVIATED)})\.?|{'|'.join(_TITLES[len(_ABBREVIATED):])})"
                    rf"[ \t]+{_CAP}(?:[ \t]+{_CAP})?)")
# words that make a capitalized run the name of a place, an organisation or a thing, not a person
_NOT_PERSON_WORDS = frozenset("""City University College School Airport Mall Company Corporation Inc Ltd Street Road Avenue
Lane Hotel Restaurant Bank Park Center Centre Museum Station Palace Premium Travel International Department Office Club
Hospital Church Studies Airlines Bureau Agency Store Shop Market Square Bridge River Lake Island Mountain Valley Beach
Republic Kingdom States America Europe Asia Africa DC Jersey York Angeles Francisco Island Insurance Service Services
Group Team Festival Day Night Street""".split())
_VOCATIVE_START = re.compile(rf"^(?:(?:hi|hello|hey|dear|thanks|thank you|bye|goodbye|good morning|morning|sorry|"
                             rf"excuse me|welcome|congratulations|oh|yes|no|well|ok|okay)[,!]?\s+)?({_CAP})\s*[,!?]", re.I)
_ADDRESS_NEXT = (r"(?:you|you're|your|you've|you'll|will you|can you|could you|would you|do you|did you|have you|"
                 r"are you|thanks|thank you|please|let's|come here|how|what|i|i'm|i'd|i'll|i've|it's|it|is|are|we|"
                 r"there|here|is|do|did|can|could|would|have|tell|listen|look|sorry|don't|long time)\b")
_VOCATIVE_ADDRESS = re.compile(rf"^(?:(?:so|and|but|oh|well|now|okay|ok|yes|no|sorry|hi|hello|hey|dear)\s*,?\s+)?"
                               rf"({_CAP})\s*,\s+{_ADDRESS_NEXT}", re.I)
_NAME_ALONE = re.compile(rf"^(?:(?:oh|yes|hey|hi|hello|well|so)[,.!]?\s+)?(?:\.\.\.\s*)?({_CAP})\s*[!?]+$")
_GREETED = re.compile(rf"^(?:hi|hello|hey|dear|thanks|thank you|bye|goodbye|good morning|good afternoon|good evening|"
                      rf"morning|sorry|excuse me|welcome|congratulations)\s*,?\s+({_CAP})\b(?!\s+{_CAP})", re.I)
_INTRO = re.compile(rf"\b(?:my name is|[Ii]'m|[Ii] am|this is|call me|meet)\s+({_CAP}(?:\s+{_CAP})?)\b(?!\s+(?:and|or))")
_VOCATIVE_END = re.compile(rf"(?:,|\b(?:hi|hello|hey|thanks|thank you|bye|dear))\s+({_CAP})\s*[.!?]*\s*$")
_AND_I = re.compile(rf"\b({_CAP}(?:\s+{_CAP})?)\s+and\s+(?:I|me)\b|\b(?:me|I)\s+and\s+({_CAP}(?:\s+{_CAP})?)\b")
_RELATION = re.compile(rf"\b(?:my|our|your|his|her)\s+(?:best\s+|old\s+|new\s+|little\s+|older\s+|younger\s+)?"
                       rf"(?:{'|'.join(RELATIONS)})\s*,?\s+({_CAP})\b")
_ACTS = re.compile(rf"(?<![.!?]\s)(?<!^)\b({_CAP}(?:\s+{_CAP})?)(?:'s)?\s+(?:said|says|told|tells|asked|asks|wants|wanted|"
                   r"reported|thinks|thought|called|calls|would|and\s+(?:her|his)|invited|helped|loves|likes|married|"
                   r"needs|knows|suggested|mentioned|introduced|met|visited|decided|agreed|promised|hates|misses|"
                   r"cheated|divorced|fired|hired|texted|emailed|phoned)\b")
_DOES = re.compile(rf"(?<![.!?]\s)(?<!^)\b({_CAP}(?:\s+{_CAP})?)(?:'s)?\s+(?:came|comes|went|goes|got|gets|is|was|has|had|"
                   r"will|lives|works|left|took|gave|sent|bought|broke|moved|can|could)\b")
_WITH_YOU = re.compile(rf"\b(?:[Yy]ou and|and you|with|for|to|tell|ask|call|invite|help|meet|see|thank)\s+({_CAP})\b(?!\s+{_CAP})")
_PLACE_BEFORE = re.compile(r"\b(?:in|at|from|near|visit|visiting|to|across|around)\s+$")
_POSSESSIVE = re.compile(rf"(?<![.!?]\s)(?<!^)\b({_CAP}(?:\s+{_CAP})?)'s\b")
_START_ACTS = re.compile(rf"^({_CAP}(?:\s+{_CAP})?)\s+(?:(?:just|really|also|never|always|still|finally|already|"
                         r"even|actually|usually|often)\s+)?(?:said|says|told|tells|asked|asks|has already|has just|"
                         r"stood|called|texted|invited|promised|wants|wanted|is coming|was coming|came|didn't|doesn't|"
                         r"won't|can't|isn't|wasn't|hates|hated|loves|loved|likes|liked|has got|got|gets|went|goes|took|"
                         r"takes|bought|lost|won|works|worked|lives|lived|moved|met|married|knows|knew|thinks|thought|"
                         r"needs|needed|feels|felt|seems|seemed|studies|studied|left|leaves|comes|gave|gives|sent|"
                         r"sends|wrote|writes|helped|helps|plays|played|broke|found|finds)\b")
_OBJECT = re.compile(rf"\b(?:with|argument with|date with|married|dating|have|had|let|ask|asked|tell|told|call|called|"
                     rf"invite|invited|meet|met|visit|visited|love|loves|hug|kiss|marry|introduce|introducing me to)\s+"
                     rf"({_CAP})\b(?!\s+{_CAP})(?!\s*(?:Street|Road|Avenue|Company|University|Hotel|Restaurant))")
_SENT_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+")
# The rules in running text, with their weights. Those of _INSIDE_ONLY find a capitalized word (_CAP) after the
# sentence's first character, case-sensitively: a sentence with no capital followed by a letter of _CAP past its
# start ("thanks for the help, see you tomorrow") cannot match them, and is not scanned by them (most chat is such
# a sentence; tested).
_RULES = ((_VOCATIVE_START, 1), (_VOCATIVE_ADDRESS, 2), (_NAME_ALONE, 2), (_GREETED, 2), (_INTRO, 2), (_VOCATIVE_END, 2),
          (_AND_I, 2), (_RELATION, 2), (_ACTS, 2), (_START_ACTS, 1), (_DOES, 1), (_POSSESSIVE, 1), (_WITH_YOU, 1),
          (_OBJECT, 1))
_AFTER_A_NAME = re.compile(rf"{_CAP}$")


def _addressed(name: str, sentence: str) -> bool:
    """``name`` is who ``sentence`` speaks to: "Julia, I would like …", "Thanks, Jayden", "What do you think, Vicky?"
    — not a word alone ("Bingo!"), an order ("Corona, please") or a place after a place ("Portland, Oregon")."""
    for rx in (_VOCATIVE_ADDRESS, _GREETED):
        if (m := rx.search(sentence)) and m.group(1) == name:
            return True
    m = _VOCATIVE_END.search(sentence)
    return bool(m and m.group(1) == name and not _AFTER_A_NAME.search(sentence[: m.start()].rstrip(" ,")))


_INSIDE_ONLY = (_INTRO, _VOCATIVE_END, _RELATION, _ACTS, _DOES, _POSSESSIVE, _WITH_YOU, _OBJECT)
_OPENING_RULES = tuple((rx, w) for rx, w in _RULES if rx not in _INSIDE_ONLY)
# The rules that read only a sentence's opening (anchored at its start): one pattern, all of them as alternatives,
# tells whether any can match, so that a sentence none can match (most chat) is not scanned by each (tested)
_ANCHORED = (_VOCATIVE_START, _VOCATIVE_ADDRESS, _NAME_ALONE, _GREETED, _START_ACTS)
_OPENS_A_RULE = re.compile("|".join(f"(?i:{rx.pattern})" if rx.flags & re.I else f"(?:{rx.pattern})" for rx in _ANCHORED))
# the rules for a sentence, by (a capital inside it, an anchored rule can match its opening)
_RULES_FOR = {(inside, opens): tuple((rx, w) for rx, w in (_RULES if inside else _OPENING_RULES) if opens or rx not in _ANCHORED)
              for inside in (False, True) for opens in (False, True)}
_CAP_INSIDE = re.compile(r"[A-ZÀ-ÖØ-ÞĀ-Ž][a-zß-öø-ÿĀ-ž'’\-]")
_NOT_NAMES = frozenset({"the", "this", "that", "it", "we", "he", "she", "they", "i", "you", "someone", "everyone",
                        "team", "here", "channel", "all", "everybody", "nobody", "who", "which", "what"})


_READ_CACHE = 100_000
_LOWER_WORD = re.compile(r"\b[a-z][a-z'’\-]+\b")
_INNER_WORD = re.compile(r"[A-Z](?<=[\s(\"'“][A-Z])[a-z'’\-]+")  # opens with the capital, as ner._INNER_CAP does


def _may_name(sentence: str, lower: set[str]) -> bool:
    """A sentence the entity model is asked about: one with a capitalized word after its first that could be a
    name (never written in lower case in the segment, not a word that opens sentences)."""
    return ner_may_name(sentence) and any(
        (w := m.group().lower().removesuffix("'s").removesuffix("’s")) not in lower and w not in _COMMON for m in _INNER_WORD.finditer(sentence, 1))


def _name_like(name: str, lower: set[str]) -> bool:
    """Not a common word capitalized: its last word is never written in lower case in the segment nor one of the
    words that open sentences, and no word names a kind of place or organisation ("Street", "Hotel")."""
    words = name.split()
    return (bool(words) and words[-1].lower() not in lower and words[-1].lower() not in _COMMON
            and not any(w in _NOT_PERSON_WORDS for w in words))


def _capitalized(word: str) -> bool:
    return word[:1].isupper() or not word[:1].isascii() and word[:1].isalpha() and not word[:1].islower()


@cache
def _speech_verbs() -> LiteralSet:
    """The verbs :data:`_SPEECH` needs after a name, found as substrings (case as written)."""
    return LiteralSet(list(_SPEECH_VERBS))


def _class_end(p: str, i: int) -> int:
    """The index of the "]" closing the character class that opens at ``p[i]``."""
    j = i + 1 + (p[i + 1] == "^")
    j += p[j] == "]"  # a "]" first in a class is a character
    while p[j] != "]":
        j += 2 if p[j] == "\\" else 1
    return j


def _relaxed(rx: re.Pattern[str]) -> str:
    """A rule's pattern as the Rust core's rule set reads it: its lookarounds dropped (each only stops a match
    from counting, so the relaxed pattern matches wherever the rule can), ``$`` allowed the final newline Python's
    allows, ``(?i)`` where the rule ignores case."""
    p, out, i = rx.pattern, [], 0
    while i < len(p):
        c = p[i]
        if c == "\\":
            out.append(p[i:i + 2])
            i += 2
        elif c == "[":
            j = _class_end(p, i)
            out.append(p[i:j + 1])
            i = j + 1
        elif p.startswith(("(?=", "(?!", "(?<=", "(?<!"), i):
            depth, j = 0, i
            while True:  # to the group's closing parenthesis
                if p[j] == "\\":
                    j += 1
                elif p[j] == "[":
                    j = _class_end(p, j)
                elif p[j] == "(":
                    depth += 1
                elif p[j] == ")":
                    depth -= 1
                    if depth == 0:
                        break
                j += 1
            i = j + 1
        elif c == "$":
            out.append("\\n?$")
            i += 1
        else:
            out.append(c)
            i += 1
    return ("(?i)" if rx.flags & re.I else "") + "".join(out)


@cache
def _rule_set() -> RuleSet:
    """The rules of :data:`_RULES`, relaxed, asked of all of a segment's sentences at once by the Rust core: a
    sentence is scanned only by the rules that can match it (most chat sentences: none)."""
    return RuleSet([_relaxed(rx) for rx, _ in _RULES])


_BIT = {rx: 1 << k for k, (rx, _) in enumerate(_RULES)}
_ALL = (1 << len(_RULES)) - 1  # what the core says of a sentence it does not read (beyond ASCII)


@cache
def _title_words() -> LiteralSet:
    """The titles :data:`_TITLE` opens with, found as substrings (case as written)."""
    return LiteralSet(list(_TITLES))


def plausible(name: str) -> bool:
    """A string that can be a person's name: 1–4 words, each starting with a
    capital (or a script without case), no digits, not a pronoun."""
    words = name.split()
    if not 1 <= len(words) <= 4 or len(name) > 60:
        return False
    if any(ch.isdigit() for ch in name) or words[0].lower() in _NOT_NAMES:
        return False
    return all(_capitalized(w) for w in words)


@dataclass
class Found:
    """A segment's people as the rules found them, before the entity model's reading."""

    counts: Counter[str]  # name -> weight
    certain: set[str]  # named where only names stand (speakers, authors, attendee lists)
    hits: list[tuple[str, int, str]]  # the rules' names in running text: (name, weight, its sentence)
    lower: set[str]  # the words the segment writes in lower case
    asks: list[str]  # the sentences the entity model is to read
    tagged: set[str]  # of those, the sentences whose common words are asked too (where the rules found one word)


class PeopleFinder:
    """Finds people in a segment; built once per dream from what the store knows."""

    def __init__(self, known: dict[str, list[str]], owner: Iterable[str] = (), ner: Any = None) -> None:
        self.owner = {normalize_key(o) for o in owner if o}
        # every spelling the store knows → the display name
        self.spelling: dict[str, str] = {}
        for name, aliases in known.items():
            for s in (name, *aliases):
                if s and plausible(s):
                    self.spelling[s] = name
        self._known_rx = (re.compile(r"(?<![\w@])(" + "|".join(sorted(map(re.escape, self.spelling), key=len, reverse=True))
                                     + r")(?![\w])") if self.spelling else None)
        self.ner = ner
        self._read: dict[str, Any] = {}  # what the entity model read in a sentence, for the dream's other segments
        self.first_names = {n.split()[0] for n in known if len(n.split()) >= 2}

    def find(self, *, speakers: Iterable[str], authors: Iterable[str], texts: Iterable[str],
             lists: Iterable[Any]) -> list[str]:
        """People of a segment, most mentioned first. ``lists``: front-matter values naming people."""
        found = self.begin(speakers=speakers, authors=authors, texts=texts, lists=lists)
        self.read(found.asks)
        return self.finish(found)

    def begin(self, *, speakers: Iterable[str], authors: Iterable[str], texts: Iterable[str],
              lists: Iterable[Any]) -> Found:
        """What the rules find in a segment, and the sentences it asks the entity model about (:attr:`Found.asks`):
        :meth:`read` them (for many segments at once: the model reads a batch far faster than it reads each
        segment's few sentences), then :meth:`finish`."""
        found: Counter[str] = Counter()
        certain: set[str] = set()  # names from where only names stand (a speaker, an author, an attendee list)

        def sure(name: str) -> None:
            found[name] += 3
            certain.add(" ".join(name.split()))

        for s in speakers:
            sure(s)
        for a in authors:
            sure(a)
        for v in lists:
            for n in _names_in(v):
                sure(n)
        texts = list(texts)
        # words written in lower case, found in all the texts at once (a match never crosses the line joining two)
        lower = set(_LOWER_WORD.findall("\n".join(texts)))
        hits: list[tuple[str, int, str]] = []  # the rules' names in running text, with their sentences
        # _SPEECH tries a name of up to three words at every word of a text (~10 µs a chat turn) and matches only
        # before one of its verbs: a text without one (as a substring, asked of the core for all at once) is skipped
        speech = _speech_verbs().holds(texts)
        titled = _title_words().holds(texts)  # likewise the title rule ("Ms. Dawson")
        # each text's sentences, split once for the rules and for the entity model's questions
        split = [_SENT_SPLIT.split(t[:RAW_SENTENCE_CHARS]) for t in texts]
        masks = iter(_rule_set().may_match([s.strip() for ss in split for s in ss]))  # the rules that can match each
        for text, sentences, has_verb, has_title in zip(texts, split, speech, titled, strict=True):
            hits += self._from_sentences(text, lower, titled=has_title, sentences=sentences,
                                         rules=[next(masks) for _ in sentences])
            if ":" in text:  # a trailer or a list line has one
                for m in _TRAILER.finditer(text):
                    sure(m.group(1))
                for m in _LIST_LINE.finditer(text):
                    for n in _names_in(m.group(1)):
                        sure(n)
            for m in _MENTION.finditer(text):
                found[self.spelling.get(m.group(1), m.group(1))] += 2
            if self._known_rx is not None:
                for m in self._known_rx.finditer(text):
                    found[self.spelling[m.group(1)]] += 2
            for rx in ((_SPEECH, _WITH) if has_verb else (_WITH,)):
                for m in rx.finditer(text):
                    cand = _trim(m.group(1))
                    if cand and (len(cand.split()) >= 2 or cand in self.spelling or cand in self.first_names):
                        found[self.spelling.get(cand, cand)] += 1
        asks: list[str] = []
        tagged: set[str] = set()
        if self.ner is not None:
            asking = {s: None for ss in split for s in ss if _may_name(s, lower)}
            one_word = [s for n, _, s in hits if " " not in n]  # the sentences of the rules' one-word names
            asking.update(dict.fromkeys(one_word))
            tagged = set(one_word)
            asks = list(asking)
        return Found(found, certain, hits, lower, asks, tagged)

    def read(self, sentences: Iterable[str], tagged: Collection[str] = ()) -> None:
        """Have the entity model read these sentences (those it has not read yet, or not with the common words
        ``tagged`` asks for), all in one batch."""
        if self.ner is None:
            return
        sentences = list(sentences)
        todo = list(dict.fromkeys(s for s in sentences if (r := self._read.get(s)) is None or r[1] is None and s in tagged))
        if not todo:
            return
        if len(self._read) + len(todo) > _READ_CACHE:  # forget what earlier segments asked, never this batch's
            keep = set(sentences)
            self._read = {s: r for s, r in self._read.items() if s in keep}
        self._read.update(zip(todo, self.ner(todo, tagged), strict=True))

    def finish(self, found: Found) -> list[str]:
        """The people of a segment :meth:`begin` read, once the entity model has read its sentences."""
        hits, not_people = found.hits, set[str]()
        if self.ner is not None and found.asks:
            self.read(found.asks, found.tagged)  # when they were not read ahead (or were forgotten since)
            hits, not_people = self._entities(found)
        for name, weight, _ in hits:
            found.counts[name] += weight
        return self._resolve(found.counts, found.certain, not_people)

    def _entities(self, found: Found) -> tuple[list[tuple[str, int, str]], set[str]]:
        """What the entity model adds: its ``PERSON`` names (counted in ``found``), the rules' one-word names that
        it reads as common words in their sentence ("Potatoes?", "Weekdays, I …"; dropped from ``hits``), and the
        names it reads as places, organisations, peoples or works (returned, for ``_resolve`` to leave out)."""
        lower = found.lower
        persons: set[str] = set()
        not_people: set[str] = set()
        common: dict[str, frozenset[str]] = {}
        for sent in found.asks:
            ents, read_commons = self._read[sent]
            # (read for every sentence holding a PERSON and every one :attr:`Found.tagged` names: all that ask it)
            commons = read_commons if read_commons is not None else frozenset()
            common[sent] = commons
            for text, label in ents:
                if label == "PERSON":
                    name = _strip_function_words(_trim(" ".join(text.split()).removesuffix("'s")))
                    if name and _name_like(name, lower) and (" " in name or name not in commons):
                        persons.add(name)
                        # one word opening a line ("# Localization plan") is a weak sign alone
                        opens = " " not in name and sent.lstrip(" #*-•>\t\"'“").startswith(name)
                        found.counts[self.spelling.get(name, name)] += 1 if opens else 2
                elif label in NOT_PERSON:
                    not_people.add(" ".join(text.split()).removeprefix("the ").removesuffix("'s"))
        kept = [(n, w, s) for n, w, s in found.hits if " " in n or n in persons or n not in common.get(s, ())]
        # a name someone is addressed by ("Julia, I would like …", "What do you think, Vicky?") is a person's, whatever
        # the small model reads alone in that place (an ORG, a GPE): places and companies are seldom spoken to
        addressed = {n for n, _, s in kept if " " not in n and _addressed(n, s)}
        return kept, not_people - persons - addressed

    @staticmethod
    def _from_sentences(text: str, lower: set[str], *, titled: bool = True, sentences: list[str] | None = None,
                        rules: list[int] | None = None) -> list[tuple[str, int, str]]:
        """Names in running text: titles (``Ms. Dawson``), who is addressed (``Kate, …``, ``thanks, Brian``),
        ``X and I``, relations (``my sister Lucía``) and a capitalized word that acts (``Masha told me``,
        ``the bug Priya reported``) — never a word the text also writes in lower case (a common word
        capitalized at the start of a sentence). ``sentences``: the text's sentences when the caller split it;
        ``rules``: then, for each, the rules that can match it (bits of :data:`_BIT`, from :func:`_rule_set`)."""
        out: list[tuple[str, int, str]] = []

        sentiment = _sentiment_words()

        if titled:  # ``titled``: False when the text holds none of the titles (then the rule cannot match)
            for m in _TITLE.finditer(text):
                out.append((m.group(1).strip(), 2, ""))
        if sentences is None:
            sentences = _SENT_SPLIT.split(text[:RAW_SENTENCE_CHARS])
        for k, sent in enumerate(sentences):
            sent = sent.strip()
            may = _ALL if rules is None else rules[k]
            if may != _ALL:  # the rules the core says can match, in their order
                run = [(rx, w) for rx, w in _RULES if may & _BIT[rx]] if may else []
            else:  # a sentence the core did not read
                run = [(rx, w) for rx, w in _RULES_FOR[_CAP_INSIDE.search(sent, 1) is not None,
                                                      _OPENS_A_RULE.match(sent) is not None]
                       if rx is not _AND_I or "and" in sent]  # "Tom and I", "me and Tom": no "and", no match
            for rx, weight in run:
                for m in rx.finditer(sent):
                    name = next((g for g in m.groups() if g), "")
                    name = _strip_function_words(name)
                    if not name or not _name_like(name, lower) or (len(name.split()) == 1 and _adverb(name) and rx is not _RELATION):
                        continue
                    if (rx in (_VOCATIVE_START, _VOCATIVE_ADDRESS, _NAME_ALONE, _START_ACTS) and len(name.split()) == 1
                            and name.lower() in sentiment):
                        continue  # "Interesting, I …", "Wonderful!": a word of feeling opens the sentence, not a name
                    if rx in (_DOES, _WITH_YOU, _POSSESSIVE, _OBJECT) and _PLACE_BEFORE.search(sent[: m.start(1)]):
                        continue  # "in Oregon", "to London": a place
                    if rx is _VOCATIVE_START and re.match(r"(?i)(hi|hello|hey|dear|thanks|thank you|bye|goodbye|"
                                                          r"good morning|morning|sorry|excuse me|welcome)\b", sent):
                        weight = 2  # "Hi Kate,": a greeting names who is greeted
                    out.append((name, weight, sent))
        return out

    def _resolve(self, found: Counter[str], certain: set[str], not_people: Collection[str] = ()) -> list[str]:
        clean: Counter[str] = Counter()
        for name, n in found.items():
            name = _strip_function_words(" ".join(str(name).split()).strip(" .,:;'\""))
            name = name.removesuffix("'s").removesuffix("’s")
            if (name not in certain and name not in self.spelling
                    and any(f" {name} " in f" {e} " for e in not_people)):
                continue  # the entity model read it as (part of) a place, an organisation, a people or a work
            if name and plausible(name) and normalize_key(name) not in self.owner:
                clean[name] += n
        full = [n for n in clean if len(n.split()) >= 2]
        known_full = [n for n in set(self.spelling.values()) if len(n.split()) >= 2]
        merged: Counter[str] = Counter()
        for name, n in clean.items():
            if len(name.split()) == 1:
                # a first name alone: the one full name it can mean, else keep it only if the store knows it
                cands = ({f for f in full if f.split()[0] == name} or {f for f in known_full if f.split()[0] == name}
                         or {f for f in full if f.split()[-1] == name})  # a surname alone ("Raman's patch")
                if len(cands) == 1:
                    merged[cands.pop()] += n
                elif name in self.spelling:
                    merged[self.spelling[name]] += n
                elif name in certain or n >= 2:  # given as a name (王伟, a handle), or named in a way only names are
                    merged[name] += n
                continue
            merged[name] += n
        return [name for name, _ in sorted(merged.items(), key=lambda kv: (-kv[1], kv[0]))]


RAW_SENTENCE_CHARS = 20_000
# capitalized words that are not names (sentence openers, interjections, days and months, titles alone)
_COMMON = frozenset(
    """i i'm i've i'll i'd the a an this that these those it he she they we you his her their our my your and but so then
when what why how who where which yes no oh well hi hello hey ok okay sorry thanks thank please sir madam mom mum dad god
monday tuesday wednesday thursday friday saturday sunday january february march april may june july august september
october november december christmas easter english chinese french german japanese spanish american british internet tv
mr mrs ms dr miss mx good great nice sure really wow excuse dear bye goodbye let look here there now today tomorrow
yesterday everyone everybody anyone someone nobody besides listen certainly right actually first anyway mmm hmm
wonderful honey uh um er ha haha seriously fine alright luckily bizarre nothing unfortunately thus however say again
nowadays exactly terrific suddenly waiter waitress good-bye absolutely definitely of course indeed perhaps maybe
anyhow sweetheart darling dude guys man buddy pal sweetie baby boss ve ur ah eh huh wait come go see look listen
ladies gentlemen everyone folks officer doctor professor teacher mister miss ma'am argh phew ugh yay oops whoa damn
gosh yikes meh aha ahh aww ooh hooray bravo cheers whatever taxi passport rusty arabic hindi russian korean portuguese italian dutch greek latin
hebrew turkish polish swedish
you've you're you'll you'd we've we're we'll we'd they've they're they'll they'd he's she's it's that's there's
here's what's who's let's
moreover furthermore correct otherwise meanwhile likewise therefore hence besides nevertheless nonetheless incidentally
whew yecch yuck ow ouch ahem achoo ahhchooo shh psst brr babe love dearie""".split())


@cache
def _sentiment_words() -> frozenset[str]:
    """VADER's lexicon (7,500 English words of feeling, already a dependency): a sentence that opens with one
    ("Interesting, …", "Great!") is not addressing someone."""
    from .emotions import _vader

    v = _vader()
    return frozenset(getattr(v, "lexicon", {}) or ()) if v is not None else frozenset()


_ADVERB_ENDINGS = ("ally", "ily", "ely", "tly", "bly", "ously", "fully", "inly", "kly", "arly", "ntly", "enly", "dly", "rely")


def _adverb(word: str) -> bool:
    """"Luckily", "Certainly", "Honestly" open sentences like a name would; "Sally", "Emily", "Kelly" are names."""
    w = word.lower()
    return len(w) >= 6 and w.endswith(_ADVERB_ENDINGS)


def _strip_function_words(name: str) -> str:
    """``But Sarah`` → ``Sarah``, ``As I`` → ``""``: words that open a sentence are not part of a name."""
    words = name.split()
    while words and (words[0].lower() in _STOP_LEAD or words[0] == "I"):
        words.pop(0)
    return " ".join(words)


_STOP_LEAD = frozenset("""a an the and but or so as if when then also just well oh yes no hi hello hey dear thanks
because since while after before though although maybe perhaps yeah ok okay please sorry like unlike haven't hasn't
didn't don't won't can't isn't aren't wasn't weren't""".split())


def _trim(name: str) -> str:
    """Drop trailing words that are not capitalized and a trailing "I" (``Alice Chen about`` → ``Alice Chen``,
    ``Jon I`` of "Jon I said" → ``Jon``), and the words before the last lower-case one (``tell Jon``)."""
    words = name.split()
    while words and (not _capitalized(words[-1]) or words[-1] == "I"):
        words.pop()
    while words and not all(map(_capitalized, words)):
        words.pop(0)
    while len(words) > 1 and words[0].lower() in _ADDRESSING:
        words.pop(0)  # "Tell Jon": the verb that opens the sentence is no part of the name
    return " ".join(words)


# verbs that open a sentence before a name, capitalized there as any first word is ("Tell Jon I said hi")
_ADDRESSING = frozenset("""tell ask call text email message ping thank invite remind meet help let say give send show
bring take see visit""".split())


def _names_in(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [n for v in value for n in _names_in(v)]
    if not isinstance(value, str):
        return []
    return [p.strip() for p in _SPLIT.split(value) if p.strip() and plausible(p.strip())]


def front_matter_people(meta: dict[str, Any]) -> list[Any]:
    """The values of a note's front-matter keys that list people."""
    return [v for k, v in meta.items() if isinstance(k, str) and k.lower() in _LIST_KEYS]
