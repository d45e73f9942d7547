"""Text as the lexical index sees it, and snippets with the matches marked.

The index's own analyzer (tantivy: split on what is not a letter or digit,
lower case, accents folded, English stemming) handles ordinary words,
``snake_case``, ``src/rem/store.py`` and ``#123`` (its parts are words).
What it cannot see is added here before indexing and querying: the parts of
``CamelCase`` and ``HNSWIndex`` identifiers, and CJK text, which has no
spaces (each character and each pair of neighbours becomes a term).
"""

from __future__ import annotations

import re
import unicodedata

from ..understand.text import STOPWORDS, fold, stem

_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_IDENT = re.compile(r"\b[A-Za-z][A-Za-z0-9]*[a-z][A-Z][A-Za-z0-9]*\b|\b[A-Z]{2,}[a-z]+[A-Za-z]*\b")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+")
_WORD = re.compile(r"\w+", re.UNICODE)

MAX_INDEXED_CHARS = 20_000  # of one item's text (a message is rarely longer; a document's start says what it is)
MAX_QUERY_CHARS = 1_000


def _cjk_terms(run: str) -> str:
    chars = list(run)
    return " ".join(chars + [a + b for a, b in zip(chars, chars[1:], strict=False)])


# What every identifier _IDENT finds holds (a lower-case letter before a capital, or two capitals before a lower-case
# letter): the index asks it of a whole slice of rows at once (RE2 through Arrow, ~20x faster than a scan per text).
MAY_HOLD_IDENTIFIER = r"[a-z][A-Z]|[A-Z][A-Z][a-z]"


def analyze(text: str, limit: int = MAX_INDEXED_CHARS, *, identifiers: bool = True) -> str:
    """``text`` with the parts of CamelCase identifiers and CJK terms added. ``identifiers``: False when ``text``
    is known not to hold :data:`MAY_HOLD_IDENTIFIER` (then it holds no identifier)."""
    text = text[:limit]
    if not text:
        return text
    # the two scans only where they can find something: an upper-case letter, a character beyond ASCII
    extra = [" ".join(_CAMEL.findall(m.group())) for m in _IDENT.finditer(text)] \
        if identifiers and text != text.lower() else []
    if not text.isascii():
        text = _CJK.sub(lambda m: " " + _cjk_terms(m.group()) + " ", text)
    return text + ("\n" + " ".join(extra) if extra else "")


# The words of a question that say it is a question, not what it is about: question words, auxiliaries and the
# asker's pronouns ("When did I last go to the support group?"). The lexical index keeps them (Lucene's stop words
# aside), so in a query each added a match with every turn holding "did" or "you"; and WordLlama's average of a
# query's tokens leaned on them and on its punctuation. Dropped from the lexical query and from what a static
# embedding (WordLlama) embeds (:func:`content_query`; a transformer such as MiniLM reads the question whole):
# DialogSum dev R@5 0.920 → 0.923 as written, 0.865 → 0.913 asked as questions (BENCHMARKS.md §7).
QUERY_STOPWORDS = frozenset("""what when where who whom whose which why how did does do done has have had was were is are
would could should can shall might must ever i me my mine you your yours we our""".split())


# a question asking when: "When did …", "What year …", "In which month …", "How long ago …" (an opening "and",
# "so" or "but" aside). `rem ask` answers it with a date first; `rem search` lifts the items that say when.
ASKS_WHEN = re.compile(r"^\W*(?:(?:and|so|but|then|ok|okay)\W+)?(?:when\b|what\s+(?:date|day|time|year|month)\b|"
                       r"(?:on|in)\s+(?:what|which)\s+(?:date|day|year|month)\b|how\s+long\s+ago\b|since\s+when\b|"
                       r"which\s+(?:day|date|year|month)\b)", re.I)


# what kind of answer a question asks for, read off its first question word ("Who did Caroline meet?", "Where did
# she move from?", "How many children …?", and echoed: "Melanie bought how many tickets?"): a person, a place or a
# number. A question word that is not the first ("What did the friend who moved say?") asks nothing of its own.
_FIRST_ASKING = re.compile(r"\b(?:what|when|which|why|who|whom|whose|where|how\s+(?:many|much|old|long|far|often)|how)\b",
                           re.I)
_ASKS = {"who": "person", "whom": "person", "whose": "person", "where": "place"}
# a question opening with an auxiliary asks yes or no ("Did John tell her where the bank is?"), unless it asks what
# the memory knows ("Do you remember who came?", "Can you tell me where we ate?")
_YES_NO = re.compile(r"^\W*(?:(?:and|so|but|then|ok|okay)\W+)?(?:do|does|did|is|are|was|were|can|could|will|would|"
                     r"should|shall|has|have|had|may|might|must)\b", re.I)
_INDIRECT = re.compile(r"^\W*(?:(?:and|so|but|then|ok|okay)\W+)?\w+\s+(?:you|i|we)\s+(?:still\s+)?"
                       r"(?:remember|recall|know|tell\s+me|say)\s+(?:who|whom|whose|where|how|what|which)\b", re.I)
_PLACE_ASKED = re.compile(r"\s+(?:city|country|countries|town|state|place|island|village|continent)\b", re.I)


def asks_for(query: str) -> str | None:
    """``"person"``, ``"place"`` or ``"number"``: what the first question word of ``query`` asks for ("who",
    "whom", "whose"; "where", "what city", "which country"; "how many", "how much", "how old", "how long", "how
    far", "how often" — "how long ago" asks when); None for any other question or none."""
    m = _FIRST_ASKING.search(query)
    if m is None:
        return None
    if _YES_NO.match(query) and not _INDIRECT.match(query):
        return None  # "Did John have no idea where it was?" asks yes or no
    word = " ".join(m.group(0).lower().split())
    if word.startswith("how "):
        return None if re.match(r"\s+ago\b", query[m.end():], re.I) else "number"
    if word in ("what", "which"):
        return "place" if _PLACE_ASKED.match(query, m.end()) else None
    return _ASKS.get(word)


def content_query(query: str) -> str:
    """What ``query`` is about: its words less :data:`QUERY_STOPWORDS`, punctuation dropped; the query itself
    when nothing else is left ("what did I do")."""
    words = _WORD.findall(query)
    kept = [w for w in words if w.lower() not in QUERY_STOPWORDS]
    return " ".join(kept) if kept else query


_NAME_WORD = re.compile(r"\w+(?:['’]\w+)*")
_POSSESSIVE = re.compile(r"['’]s$")


def speaker_words(text: str, *, as_written: bool = False) -> set[str]:
    """The words of ``text`` that can name a speaker: folded, lower case, two letters or more, neither a stop
    word nor a question word ("Alice Chen" → {"alice", "chen"}; "#Person1#" → {"person1"}; "Caroline's" →
    {"caroline"}; "me" → none; "don't" is not "Don"). ``as_written`` (a query): only the words written with a
    capital, as a name is, unless the whole text is in lower case ("the agent said" does not name Agent)."""
    words = [_POSSESSIVE.sub("", w) for w in _NAME_WORD.findall(text)]
    if as_written and text != text.lower():
        words = [w for w in words if w[:1].isupper()]
    return {f for w in words if len(f := fold(w.lower())) > 1 and f not in STOPWORDS and f not in QUERY_STOPWORDS}


def query_text(query: str) -> str:
    """A user's query as plain words for the query parser: its syntax
    characters (quotes, colons, brackets, operators) become spaces, so
    ``"recall" AND (bug:1)`` searches the words and never fails to parse."""
    q = analyze(query, MAX_QUERY_CHARS)
    words = _WORD.findall(q)
    return " ".join(w.lower() for w in words if w.lower() not in ("and", "or", "not", "to", "in"))


def terms(query: str) -> set[str]:
    """The stemmed, folded content words of ``query`` (as snippets match them)."""
    return {stem(fold(w)) for w in _WORD.findall(query.lower()) if len(w) > 1 and w not in STOPWORDS}


def snippet(text: str, query: str, width: int = 160) -> str:
    """The ``width`` characters of ``text`` holding the most query terms,
    with each match wrapped in «»; the text's start when nothing matches."""
    flat = " ".join(text.split())
    wanted = terms(query)
    spans = [(m.start(), m.end()) for m in _WORD.finditer(flat) if stem(fold(m.group().lower())) in wanted]
    if not spans:
        return flat[:width] + ("…" if len(flat) > width else "")
    best, best_n = 0, -1
    for s, _ in spans:
        start = max(0, s - width // 4)
        n = sum(1 for a, b in spans if a >= start and b <= start + width)
        if n > best_n:
            best, best_n = start, n
    if best > 0:  # start at a word boundary
        nxt = flat.find(" ", best)
        best = nxt + 1 if 0 <= nxt < best + 20 else best
    end = min(len(flat), best + width)
    out, pos = [], best
    for a, b in spans:
        if a >= best and b <= end:
            out += [flat[pos:a], "«", flat[a:b], "»"]
            pos = b
    out.append(flat[pos:end])
    return ("…" if best > 0 else "") + "".join(out) + ("…" if end < len(flat) else "")


def normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text)
