"""How the owner felt: an emotion lexicon of work moods, VADER's valence, and
the shape of the activity.

The lexicon below is REM's own (MIT, like the rest of REM): words and
phrases people write when they are frustrated, relieved, curious … at work,
each mapped onto the moment vocabulary. VADER (``vaderSentiment``, MIT)
scores each sentence's valence; strongly negative sentences about a problem
count as frustration, strongly positive ones as satisfaction or excitement.
The shape adds what words rarely say: several people → collaborative, a long
stretch of commits → focused and productive. Only what the owner wrote
(user messages, notes, commit messages, their own lines in a group chat)
speaks for their mood; the assistant's and the tools' text does not.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from functools import cache
from typing import Any

from .._rem import LiteralSet, Valence

VOCABULARY = ("focused", "productive", "frustrated", "determined", "satisfied", "collaborative", "curious",
              "excited", "relieved", "stressed", "confused", "tired")

LEXICON: dict[str, tuple[str, ...]] = {
    "frustrated": ("annoying", "annoyed", "frustrating", "frustrated", "argh", "ugh", "again?!", "same error",
                   "still failing", "still broken", "still fails", "no idea why", "makes no sense", "wtf", "hate",
                   "painful", "nightmare", "stuck", "giving up", "wasted", "flaky", "keeps failing", "why does",
                   "why is", "broken again", "infuriating", "sigh"),
    "determined": ("not giving up", "i will find", "dig deeper", "get to the bottom", "one more try", "let me dig",
                   "until it is fixed", "won't give up", "keep going", "determined"),
    "relieved": ("finally", "phew", "what a relief", "relief", "at last", "finally works", "finally green",
                 "finally passes", "thank god", "relieved"),
    "satisfied": ("happy with", "turned out well", "i like it", "looks good", "works now", "works great", "nice",
                  "clean", "satisfying", "pleased", "proud", "solid", "nailed it", "reads well"),
    "excited": ("awesome", "so excited", "excited", "amazing", "can't wait", "incredible", "wow", "huge win",
                "fantastic", "love this", "look great", "looks great"),
    "curious": ("i wonder", "wonder how", "wonder why", "interesting", "fascinating", "curious", "want to learn",
                "how does", "what if", "learn more", "intrigued"),
    "focused": ("heads down", "deep focus", "focus", "focused", "no meetings", "in the zone", "uninterrupted",
                "concentrate"),
    "productive": ("good progress", "landed", "moving on", "went fast", "shipped", "merged", "done with",
                   "productive", "knocked out", "got a lot done", "crossed off"),
    "collaborative": ("we agreed", "together", "good discussion", "paired", "pairing", "team agreed", "with the team",
                      "brainstorm", "helped me", "reviewed with"),
    "stressed": ("deadline", "urgent", "asap", "stressful", "stressed", "pressure", "behind schedule", "too much to do",
                 "overwhelmed", "panic", "on fire", "hurt two customers", "customers are"),
    "confused": ("confused", "confusing", "don't understand", "do not understand", "unclear", "no clue", "lost"),
    "tired": ("tired", "exhausted", "long day", "sleepy", "burned out", "burnt out"),
}
_PROBLEM = re.compile(r"\b(error|fail\w*|broken|bug|crash\w*|regression|exception|wrong|timeout|outage)\b", re.I)


@cache
def _patterns() -> list[tuple[str, re.Pattern[str]]]:
    """Each emotion's words, matched against lower-cased text (the lexicon is lower case)."""
    out = []
    for emotion, words in LEXICON.items():
        alts = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
        out.append((emotion, re.compile(rf"(?<![\w])(?:{alts})(?![\w])")))
    return out


@cache
def _lexicon_words() -> LiteralSet:
    """Which sentences hold a word of the lexicon, as a substring (one holding none is not matched against each
    emotion), asked of all of a segment's sentences at once by the Rust core: Python's engine tried each of the
    lexicon's ~170 words at every position; the core's skips to them."""
    return LiteralSet([w for ws in LEXICON.values() for w in ws])


@cache
def _vader() -> Any:
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError:  # an install without it still has the lexicon
        return None
    return SentimentIntensityAnalyzer()


@cache
def _valence() -> Valence | None:
    """VADER's rules in the Rust core, over the package's own tables: the same compound score for an ASCII
    sentence, ~15x faster (BENCHMARKS.md §10); None without the package."""
    vader = _vader()
    if vader is None:
        return None
    from vaderSentiment import vaderSentiment as v

    return Valence(list(vader.lexicon.items()), list(v.BOOSTER_DICT.items()), list(v.NEGATE),
                   [(k, float(x)) for k, x in v.SPECIAL_CASES.items()], v.C_INCR, v.N_SCALAR)


def compounds(sentences: list[str]) -> list[float]:
    """VADER's compound score of each sentence (rounded to four places, as ``polarity_scores`` gives it): ASCII
    sentences by the core, others (emojis read as their descriptions) by the package; 0 without it."""
    vader, core = _vader(), _valence()
    if vader is None or core is None:
        return [0.0] * len(sentences)
    return [round(c, 4) if c is not None else vader.polarity_scores(s)["compound"]
            for s, c in zip(sentences, core.compound(sentences), strict=True)]


def emotions(own_sentences: Iterable[str], *, n_people: int = 0, n_commits: int = 0, minutes: float = 0.0,
             limit: int = 3) -> list[str]:
    """Up to ``limit`` emotions, strongest first, from the owner's own sentences and the segment's shape."""
    score: dict[str, float] = defaultdict(float)
    own = list(own_sentences)
    lowers = [s.lower() for s in own]
    felt = [s for s in own if len(s) < 1000]
    valence = dict(zip(felt, compounds(felt), strict=True))
    for s, lower, holds in zip(own, lowers, _lexicon_words().holds(lowers), strict=True):
        if holds:
            for emotion, rx in _patterns():
                hits = len(rx.findall(lower))
                if hits:
                    score[emotion] += 2.0 * hits
        if (c := valence.get(s)) is not None:
            if c <= -0.4 and _PROBLEM.search(s):
                score["frustrated"] += 1.0
            elif c >= 0.6:
                score["excited" if "!" in s else "satisfied"] += 0.75
    if n_people >= 2:
        score["collaborative"] += 1.5
    if n_commits >= 2 and minutes >= 45:
        score["productive"] += 1.0
    if minutes >= 60 and n_people == 0:
        score["focused"] += 0.75
    ranked = [e for e, v in sorted(score.items(), key=lambda kv: (-kv[1], kv[0])) if v >= 1.0]
    return ranked[:limit]
