"""Text handling for the extractors: sentences, tokens, stopwords, phrases.

Tokenization keeps code identifiers whole (``ef_search``, ``max.poll.interval.ms``,
``src/hnsw/search.rs``, ``#123``) and handles any script: a token is a run
of letters, digits and the joiners ``_ . / - # +`` between letters or
digits; CJK text yields one token per run of ideographs.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache

# the words that say how someone stands to a speaker ("my sister Ana", "her boss"): what a name follows (the people
# finder, :mod:`.people`), and what answers "who …?" as well as a name does (:mod:`rem.search` lifts "my mom")
RELATIONS = ("friend", "sister", "brother", "wife", "husband", "son", "daughter", "boss", "colleague", "coworker",
             "co-worker", "neighbor", "neighbour", "mom", "mum", "mother", "dad", "father", "teacher", "roommate",
             "partner", "cousin", "uncle", "aunt", "girlfriend", "boyfriend", "fiancé", "fiancée", "manager",
             "classmate", "grandma", "grandpa", "grandmother", "grandfather", "niece", "nephew", "doctor", "kid", "baby")

# Words that never make a topic on their own: English function words, chat
# filler and the generic vocabulary of work logs.
STOPWORDS = frozenset("""
a about above after again against all almost also am an and any are aren't around as at be because been before being
below between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down during each either
else enough even ever every few for from further get gets getting go goes going gone got had hadn't has hasn't have
haven't having he he'd he'll he's her here here's hers herself him himself his how how's however i i'd i'll i'm i've
if in into is isn't it it's its itself just let let's like ll made make makes making many may me might more most much
must mustn't my myself need needs neither no nor not now of off often on once one only onto or other others otherwise
ought our ours ourselves out over own per perhaps quite rather re really same say says she she'd she'll she's should
shouldn't since so some still such than that that's the their theirs them themselves then there there's these they
they'd they'll they're they've this those though through thus to too toward towards under until up upon us use used
uses using ve very via was wasn't we we'd we'll we're we've well were weren't what what's whatever when when's where
where's whether which while who who's whom whose why why's will with within without won't would wouldn't yes yet you
you'd you'll you're you've your yours yourself yourselves
ok okay hi hello hey thanks thank please sure yeah yep nope oh ah um uh hmm great good nice cool fine right
question questions answer answers help thing things stuff something anything everything nothing way ways lot lots
bit kind sort part parts step steps next first second third last new old today tomorrow yesterday now time times
day days week weeks month months year years morning afternoon evening night minute minutes hour hours second seconds
look looking looked check checking checked see seeing saw seen think thinking thought know knowing known want wants
wanted try trying tried work working worked works done do doing find found found show shows showed give given take
taken put keep keeps kept come came call called start started end ended run runs running ran tell told ask asked
short long answer option options two three four five six seven eight nine ten zero
note notes worth matters matter moving idea ideas point points case cases number numbers example examples
ones best better worse worst lots whole
never always sometimes usually already soon later mostly maybe
january february march april may june july august september october november december jan feb mar apr jun jul aug
sep sept oct nov dec monday tuesday wednesday thursday friday saturday sunday mon tue wed thu fri sat sun
said says saying suggested suggests mentioned agreed wrote writes write
""".split())

# Common English verbs (and their -s, -ed, -ing forms, built below): a phrase that
# ends in one ("fix restores", "section explains") states something, it does not
# name a subject. Words that are also nouns of work ("build", "test", "release",
# "search", "index", "plan") are not listed.
_VERBS = """
accept agree allow appear apply argue arrive avoid become begin believe belong bring buy cause choose come compare
consider contain continue create decide describe die discover enable ensure enter expect explain feel follow forget
gain get give grow happen hear imagine improve include increase involve keep kill know learn leave lend let listen
live lose manage mean meet mention miss notice obtain occur prefer prepare prevent produce promise protect prove
provide pull push raise reach realize receive recognize reduce refer reflect relate remain remember remove replace
reply represent require restore reveal say see seem sell send serve solve speak spend suggest suppose take talk teach
tend thank think throw touch treat try understand want wonder write capped sent took gave went made said told got ran
saw knew thought found brought bought caught taught fought held kept left lost meant met paid spent stood struck
swept tore wore won wrote done gone known seen shown taken written chosen fallen forgotten given grown hidden ridden
risen spoken stolen thrown woken dropped stored uses helps restores explains covers breaks
store trade combine differ dominate ignore fold assume handle affect trigger return returns depend
involve emit skip sends reads writes runs takes makes gets shows needs means fail failing failed fails
waits wait waiting hit beat""".split()


def _inflect(v: str) -> set[str]:
    forms = {v, v + "s", v + "ed", v + "ing"}
    if v.endswith("e"):
        forms |= {v + "d", v[:-1] + "ing"}
    if v.endswith("y"):
        forms |= {v[:-1] + "ies", v[:-1] + "ied"}
    if v.endswith(("s", "sh", "ch", "x", "z")):
        forms.add(v + "es")
    return forms


VERBS = frozenset(f for v in _VERBS for f in _inflect(v))

# Phrases that name an activity rather than a subject.
GENERIC = frozenset({"work", "session", "chat", "meeting", "activity", "moment", "misc", "various", "issue", "issues",
                     "problem", "problems", "task", "tasks", "update", "updates", "change", "changes", "fix", "fixes",
                     "progress", "plan", "discussion", "call", "sync", "result", "results", "file", "files", "code",
                     "test", "tests", "value", "values", "list", "data", "user", "users", "team", "people", "person"})

_TOKEN = re.compile(r"[#@]?[^\W_](?:[\w]|[._/+\-#](?=[^\W_]))*", re.UNICODE)
_CLAUSE_END = r"[,;:()\[\]{}\"“”!?]|\.(?:\s|$)| - | — "
_CLAUSE_OR_TOKEN = re.compile(f"({_CLAUSE_END})|({_TOKEN.pattern})", re.UNICODE)
# a full stop that ends no sentence: after a title ("Mr. Smith"), never; after "a.m.", "e.g.", "U.S." or an initial,
# unless a capital follows ("at 6 p.m. today", "at 6 p.m. Then …")
_NO_END = (r"(?<!\b[Mm]r\.)(?<!\b[Mm]rs\.)(?<!\b[Mm]s\.)(?<!\b[Dd]r\.)(?<!\bSt\.)(?<!\bProf\.)(?<!\bvs\.)"
           r"(?<!\b[Ee]\.g\.)(?<!\b[Ii]\.e\.)")
_LOWER_NEXT = r"(?<!\b[ap]\.m\.)(?<!\b[AP]\.M\.)(?<!\b[A-Z]\.)(?<!\betc\.)(?<!\bapprox\.)"
_SENT_END = re.compile(rf"(?<=[.!?。！？]){_NO_END}{_LOWER_NEXT}\s+|(?<=\.){_NO_END}\s+(?=[A-Z\"“'‘(])|\n{{2,}}|"
                       rf"\n(?=\s*[-*•#]|\s*\d+[.)])")
_URL = re.compile(r"https?://\S+|www\.\S+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


MAX_CHARS = 5000  # of one item's text read for key phrases (the head is what matters)


def clean(text: str, limit: int = MAX_CHARS) -> str:
    """Control and bidi-override characters removed, URLs dropped, whitespace
    collapsed, at most ``limit`` characters (of the head). (Each pattern only where it can match: most chat holds
    neither a control character nor a URL, and a look costs less than a substitution's scan and copy.)"""
    t = text[: limit * 2]
    if CONTROL.search(t):
        t = CONTROL.sub(" ", t)
    if "http" in t or "www." in t:  # where _URL can match
        t = _URL.sub(" ", t)
    return " ".join(t.split())[:limit]


def sentences(text: str, max_len: int = 400) -> list[str]:
    """Sentences (and list items, paragraphs) of a text, each cut to ``max_len`` characters."""
    out = []
    for s in _SENT_END.split(CONTROL.sub(" ", text[: MAX_CHARS * 4])):
        s = " ".join(s.split()).strip(" -*•")
        if s:
            out.append(s if len(s) <= max_len else s[: max_len - 1] + "…")
    return out


@lru_cache(maxsize=1 << 12)  # a batch's items (~2,000) are read before its events are: they are all still here
def read_sentences(text: str) -> tuple[str, ...]:
    """:func:`sentences` of a text, kept for its next reader: a chat turn is read for what the owner wrote, for the
    summary's sentences and for its events (three times the same splitting, before this was kept)."""
    return tuple(sentences(text))


def tokens(text: str) -> list[str]:
    """The tokens of ``text`` as written (case kept)."""
    return _TOKEN.findall(text)


@lru_cache(maxsize=1 << 18)  # bounded: a backfill of a million messages holds a million distinct tokens (ids, numbers)
def fold(token: str) -> str:
    """A token's comparable form: case-folded, accents kept apart from the base letters of Latin script."""
    t = token.casefold().strip("#@.-/+")
    return unicodedata.normalize("NFKC", t)


@lru_cache(maxsize=1 << 18)  # called once per token of every phrase candidate: the same words again and again
def stem(word: str) -> str:
    """A light English plural folding ("vectors" → "vector", "queries" → "query"); other words as they are."""
    if len(word) > 4 and word.isascii() and word.isalpha():
        if word.endswith("ies") and len(word) > 5:
            return word[:-3] + "y"
        if word.endswith(("ches", "shes", "sses", "xes", "zes")):
            return word[:-2]
        if word.endswith("s") and not word.endswith(("ss", "us", "is", "ous")):
            return word[:-1]
    return word


def is_modifier(word: str) -> bool:
    """An adverb, a past participle or a common verb ("silently", "capped", "took"): not a topic alone."""
    if word in VERBS:
        return True
    return word.isascii() and len(word) > 5 and (word.endswith("ly") or (word.endswith("ed") and not word.endswith("eed")))


# what is left of a negative contraction once the tokenizer splits it at its apostrophe ("didn't" → "didn", "t"):
# never a topic ("didn", "haven" were tags of every chat). Not stop words for every use: "Don" is also a name.
CONTRACTION_PARTS = frozenset("""ain aren couldn didn doesn don hadn hasn haven isn mightn mustn needn shan shouldn
wasn weren won wouldn""".split())
PHRASE_STOPWORDS = STOPWORDS | CONTRACTION_PARTS  # the words that end a key phrase's run


@lru_cache(maxsize=1 << 18)
def is_content(word: str) -> bool:
    """A folded token that can be part of a topic."""
    if word in PHRASE_STOPWORDS or not 2 <= len(word) <= 40:
        return False
    if word.replace(".", "").replace(",", "").isdigit():
        return False
    return any(ch.isalpha() for ch in word)


def phrases(text: str, max_words: int = 3) -> Iterator[tuple[str, str]]:
    """Candidate key phrases: runs of up to ``max_words`` content tokens inside
    one sentence clause (stopwords and punctuation end a run), as
    ``(key, surface)`` — the key folded and plural-folded, the surface as written."""
    run: list[str] = []
    keys: list[str] = []  # each token of the run folded and plural-folded, once (not once per phrase holding it)
    # one scan for clause ends and tokens (a token never holds a clause end, so this is the same as splitting
    # the clauses first and tokenizing each: one regex call per text instead of one per clause)
    for sep, tok in _CLAUSE_OR_TOKEN.findall(text):
        if sep or tok[0] == "@" or not is_content(folded := fold(tok)):
            if run:
                yield from _runs(run, keys, max_words)
                run, keys = [], []
        else:
            run.append(tok)
            keys.append(stem(folded))
    if run:
        yield from _runs(run, keys, max_words)


def _runs(run: list[str], keys: list[str], max_words: int) -> Iterator[tuple[str, str]]:
    n = len(run)
    for i in range(n):
        yield keys[i], run[i]
        for j in range(i + 2, min(n, i + max_words) + 1):
            yield " ".join(keys[i:j]), " ".join(run[i:j])
