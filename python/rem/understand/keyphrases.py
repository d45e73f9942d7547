"""Key phrases of a segment, weighed against the owner's own history.

A candidate is a run of up to three content words inside a clause
(:func:`rem.understand.text.phrases`). Its score in a segment is

    Σ over the segment's items that contain it of the item's weight
    × idf(phrase) × (1 + 0.25 · (words − 1))

where an item's weight says how much it speaks for the owner's subject (a
note's front-matter tag or a commit's subject prefix most, a tool's output
least) and ``idf = ln((N + 1) / (df + 1)) + 1`` counts the documents of the
owner's history (a sample of the 90 days around the window) and the
window's other segments that contain the phrase — so "vector search" beats
"today", and a word the owner writes every day fades. Phrases that only
repeat a higher-ranked one (a sub- or super-phrase) are skipped.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache

from .._rem import PhraseReader, rank_phrases
from .text import (
    GENERIC,
    PHRASE_STOPWORDS,
    VERBS,
    fold,
    is_modifier,
    phrases,
    stem,
    tokens,
)


@dataclass(frozen=True)
class Phrase:
    key: str  # folded, plural-folded: what tags are compared by
    surface: str  # as written most often ("DiskANN", "ef_search")
    score: float


class DocumentFrequency:
    """In how many documents of the background each phrase key occurs."""

    def __init__(self, docs: Iterable[str]) -> None:
        self.df: Counter[str] = Counter()
        self.n = 0
        for d in docs:
            self.add(d)

    def add(self, text: str) -> None:
        self.n += 1
        keys = phrase_reader().keys(text)  # ASCII text (and chat's punctuation, emoji) by the Rust core, other scripts here
        self.df.update(keys if keys is not None else {k for k, _ in phrases(text)})

    def add_counts(self, n: int, df: Counter[str]) -> None:
        """``n`` documents whose phrase keys another :class:`DocumentFrequency` counted (``df``)."""
        self.n += n
        self.df.update(df)


@dataclass(frozen=True)
class KeyPhrases:
    tags: list[Phrase]  # reusable concepts, best first ("hnsw", "vector search")
    headline: list[Phrase]  # the most specific phrases, best first ("hnsw recall regression")


@dataclass(frozen=True)
class Candidates:
    """A segment's phrase candidates, read once for every ranking of them: each key's summed item weight, its
    most frequent spelling as written (the first written of the most frequent), and the spelling to show for
    each word."""

    support: dict[str, float]
    top: dict[str, str]
    casing: dict[str, str]


def candidates(weighted_texts: Iterable[tuple[str, float]]) -> Candidates:
    """The candidates of (text, weight) per item: a key's support is the summed weight of the items holding it.
    ASCII text (with the curly quotes, dashes and emoji of chat) is read by the Rust core
    (:class:`rem._rem.PhraseReader`, the same result), text in other scripts here."""
    weighted = list(weighted_texts)
    got = phrase_reader().candidates([t for t, _ in weighted], [float(w) for _, w in weighted])
    if got is not None:
        keys, support, top, casing = got
        return Candidates(dict(zip(keys, support, strict=True)), dict(zip(keys, top, strict=True)), dict(casing))
    return _candidates(weighted)


def _candidates(weighted_texts: Iterable[tuple[str, float]]) -> Candidates:
    """:func:`candidates` in Python, for any script."""
    support: dict[str, float] = defaultdict(float)
    surfaces: dict[str, Counter[str]] = defaultdict(Counter)
    for text, weight in weighted_texts:
        seen: set[str] = set()
        for key, surface in phrases(text):
            surfaces[key][surface] += 1
            if key not in seen:
                seen.add(key)
                support[key] += weight
    return Candidates(support, {k: c.most_common(1)[0][0] for k, c in surfaces.items()}, _casing(surfaces))


def vocabulary(texts: list[str]) -> frozenset[str]:
    """The distinct words of ``texts`` as they are compared (each token folded, its plural removed): read by the
    Rust core when it reads every text (:func:`candidates`), here otherwise (the same words)."""
    got = phrase_reader().vocabulary(texts)
    if got is not None:
        return frozenset(got)
    # the distinct tokens first (a token never spans the space joining two texts), then each folded once
    return frozenset(map(stem, map(fold, set(tokens(" ".join(texts))))))


@cache
def phrase_reader() -> PhraseReader:
    return PhraseReader(sorted(PHRASE_STOPWORDS))


def rank(weighted_texts: Iterable[tuple[str, float]] | Candidates, background: DocumentFrequency, *, limit: int = 7,
         min_support: float = 1.5, exclude: set[str] | frozenset[str] = frozenset(), floor: float = 0.15,
         known: frozenset[str] = frozenset()) -> KeyPhrases:
    """The segment's key phrases. ``weighted_texts``: (text, weight) per item, or their :func:`candidates`; a
    phrase needs a summed weight of ``min_support`` (it occurs in two ordinary
    items, or once in a strong place such as a tag). Tags favour the short,
    recurring concepts (each word's history weight counts, not the phrase's
    rarity); the headline favours the longest specific phrase; a phrase is absorbed into the longer phrase that
    carries most of its occurrences (a collocation), and none repeats a picked one's words. Phrases made
    with an ``exclude`` word (the names of the segment's people, the owner's) are none;
    phrases in ``known`` (the owner's own topics so far) count double."""
    cands = weighted_texts if isinstance(weighted_texts, Candidates) else candidates(weighted_texts)
    top, casing, df = cands.top, cands.casing, background.df
    # the candidates that may be topics, and how the history counts them; scored and picked by the Rust core
    # (:func:`rem._rem.rank_phrases`: idf, collocations, the picks without repeats; the same floats as Python)
    keys: list[str] = []
    support: list[float] = []
    word_df: list[int] = []
    for key, sup in cands.support.items():
        if sup >= min_support and _topical_key(key) and exclude.isdisjoint(words := key.split()):
            keys.append(key)
            support.append(sup)
            word_df += [df.get(w, 0) for w in words]
    tags, headline = rank_phrases(keys, support, [k in known for k in keys], [df.get(k, 0) for k in keys], word_df,
                                  background.n, limit, floor)

    def show(key: str) -> str:
        return " ".join(casing.get(w.lower(), w.lower()) for w in top[key].split())

    return KeyPhrases([Phrase(keys[i], show(keys[i]), sc) for i, sc in tags],
                      [Phrase(keys[i], show(keys[i]), sc) for i, sc in headline])


def _casing(surfaces: dict[str, Counter[str]]) -> dict[str, str]:
    """The spelling to show for each word: a deliberate capitalization
    (DiskANN, HNSW; Kafka written capitalized nearly everywhere) wins over
    the lower case; a sentence-initial capital does not."""
    seen: dict[str, Counter[str]] = defaultdict(Counter)
    for c in surfaces.values():
        for surface, n in c.items():
            for w in surface.split():
                seen[w.lower()][w] += n
    out = {}
    for low, variants in seen.items():
        marked = [v for v in variants if sum(ch.isupper() for ch in v) >= 2 or any(ch.isupper() for ch in v[1:])]
        total = sum(variants.values())
        capital = sum(n for v, n in variants.items() if v[:1].isupper())
        if marked:
            out[low] = max(marked, key=lambda v: (variants[v], v))
        elif total >= 3 and capital >= 0.8 * total:
            out[low] = max(variants, key=lambda v: (variants[v], v))
        else:
            out[low] = low
    return {stem_key(w): v for w, v in out.items()} | out


def stem_key(word: str) -> str:
    return stem(fold(word))


_IDENTIFIER = re.compile(r"^[^\W\d_]+(?:_[^\W_]*)*(?:_\d+)(?:-\d+)*$|^[^\W\d_]+-\d+$|^[^\W\d_]+_[^\W_]+_\d+$|^\d+$")


def identifier(word: str) -> bool:
    """A key, not a subject: ``test_6``, ``superseg-1``, ``run_12``, ``session_a_3``, ``dev_12-0`` (letters, then
    ``_``/``-`` and a number). ``gpt4``, ``ef_search``, ``p99`` and ``db-3`` in running text are not
    caught here unless they end in ``_N``; a session's own key is left out by the caller (:func:`key_name`)."""
    return bool(_IDENTIFIER.match(word)) and ("_" in word or word.count("-") == 1 and len(word.split("-")[0]) > 4)


_UUID = re.compile(r"^[0-9a-f]{8}(?:-?[0-9a-f]{4}){3}-?[0-9a-f]{12}$|^(?=[a-f]*\d)[0-9a-f]{8,}$", re.IGNORECASE)
_NAME_PARTS = re.compile(r"[\s_\-.:/#|]+")
# the words a thread's default name is made of when nobody titled it ("New chat", "Session 12", "conv-26_session_1")
_CONTAINERS = frozenset("""session sessions chat chats thread threads conversation conversations conv convo dialog
dialogue dialogues untitled new channel group call transcript log logs export""".split())


def key_name(name: str) -> bool:
    """A thread's name that is a key, not a title: a UUID or a hex digest, or a name none of whose parts is a word
    of four letters or more other than the words a default name is made of — ``dev_0-0``, ``conv-26_session_1``,
    ``Session 12``, ``New chat``, ``D1``, ``2024-05-08``, ``C024BE91L``, ``test_262-0`` (:func:`identifier`).
    ``general``, ``q3-planning`` and ``Trip to Lisbon`` are titles.
    A key is no topic, and a moment named after one says nothing."""
    s = name.strip()
    if not s or _UUID.match(s) or identifier(s):
        return True
    return not any(len(p) >= 4 and p.isalpha() and p.lower() not in _CONTAINERS for p in _NAME_PARTS.split(s))


# words of talk that are no subject alone, though a phrase may hold them ("big data", "late fee", "French course"):
# its formulas ("of course", "excuse me", "good luck", "sir"), how things are (busy, late, happy), where and when
# (back, away, ago, sometime), who (everybody), and numbers spelled out
NOT_A_SUBJECT = frozenset("""sir madam ma'am sorry excuse pardon guess hope welcome least course luck care mind fact
back late happy big busy far ago pretty sometime together away goodbye good-bye bye ready
glad hard easy early soon enough fine sure great lovely terrible awful wonderful fantastic perfect interesting boring
tired sad serious stupid crazy funny anyway everybody everyone somebody someone anybody anyone nobody yeah honey dear
welcome maybe definitely probably absolutely exactly certainly actually else instead almost already ahead later
eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy
eighty ninety hundred thousand million half dozen""".split())


@lru_cache(maxsize=1 << 16)  # the same keys come back in segment after segment
def _topical_key(key: str) -> bool:
    return _topical(key.split())


def _topical(words: list[str]) -> bool:
    """A phrase that can name a subject: no verb, no adverb, no identifier, not only
    generic words, a participle only in front ("advanced search")."""
    if any(w in VERBS or (w.endswith("ly") and len(w) > 5) or identifier(w) for w in words):
        return False
    if is_modifier(words[-1]):
        return False
    if len(words) == 1:
        return words[0] not in GENERIC and words[0] not in NOT_A_SUBJECT and len(words[0]) > 2
    return not all(w in GENERIC for w in words)


def tag(p: Phrase) -> str:
    """A phrase as a moment tag: lower case, single spaces."""
    return " ".join(p.surface.lower().split())


def key_of(text: str) -> str:
    """The phrase key of a tag or topic written by someone else (for matching)."""
    return " ".join(stem(fold(t)) for t in tokens(text))
