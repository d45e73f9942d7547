"""Benchmark: the offline understanding stage (topics, people, emotions,
type, outcome, summary, name) on two windows, no model:

- the demo week's busiest day (what `make demo` dreams): the time the stage
  adds to a dream (goal: at most 1 s);
- a backfill: a day of 20,000 messages in 1,000 sessions written like real
  work chat (sentences of the demo's topics, people and moods, 300–600
  characters): messages understood per second (goal: at least 1,000/s);
- public dialogue (DialogSum, SuperDialseg, TIAGE, read from ../shared/data):
  a month of 100,000 chat turns (the speed issue's measure: the sets' ~29,000
  turns cycled, so most sentences come back three or four times) and the same
  dialogues once each, no sentence repeated; the whole dream of the 100,000,
  written and indexed; each stage's share.

Compared side by side with what the same dream spends collecting and
packing (the Rust core) and with the whole no-model dream. Writes
bench/results/understand.json.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa

HERE = Path(__file__).resolve().parent
from rem.config import NO_MODEL, Settings, resolve_llm  # noqa: E402
from rem.demo import BLOCKS, MOODS, PEOPLE, generate  # noqa: E402
from rem.dream.run import DreamOptions, preview  # noqa: E402
from rem.ingest import ingest_demo  # noqa: E402
from rem.store import Store, arrow_rows, registered, transaction  # noqa: E402
from rem.understand import worker_count  # noqa: E402

DAY = datetime(2026, 3, 2, tzinfo=UTC)


def build_backfill(path: Path, n: int, per_session: int = 20) -> None:
    if path.exists():
        return
    rng = random.Random(11)
    store = Store(path)
    store.init()
    sessions, messages = [], []
    for s in range(n // per_session):
        block = rng.choice(BLOCKS)
        start = DAY + timedelta(seconds=rng.randint(0, 80_000))
        sessions.append({"id": f"s{s}", "name": f"{block['title']} #{s}", "created_at": start})
        for k in range(per_session):
            facts = rng.sample(block["facts"], k=min(3, len(block["facts"])))
            text = " ".join(f[0].upper() + f[1:] + "." for f in facts)
            if k % 4 == 0:
                text += f" {rng.choice(PEOPLE)} suggested looking at {rng.choice(block['topics'])}. "
                text += rng.choice(MOODS[rng.choice(block["emotion"])])
            messages.append({"id": f"s{s}m{k}", "session_id": f"s{s}", "role": "user" if k % 2 == 0 else "assistant",
                             "content": text[:600], "created_at": start + timedelta(minutes=2 * k)})
    with store.connect() as con, transaction(con):
        for name, rows in (("sessions", sessions), ("messages", messages)):
            with registered(con, "_b", arrow_rows(name, rows)):
                con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM _b")


def build_public_backfill(path: Path, n: int | None, days: int = 30) -> int:
    """A month of chat turns nobody here wrote: the dialogues of DialogSum (dev, test), SuperDialseg (validation)
    and TIAGE (dev, test), read from ``../shared/data`` at run time (never copied here), each a chat session
    (the first speaker the owner, a turn a minute), cycled until there are ``n`` turns (``None``: each dialogue
    once, 31,055 turns), spread over ``days`` days. The sets hold about a third of 100,000 turns: cycled to
    100,000, most sentences come back three or four times, and what is kept per sentence (the entity model's
    reading) is reused — which the distinct window measures without. Returns the turns' mean length in
    characters (0 when the sets are not on this machine)."""
    sys.path.insert(0, str(HERE / "quality"))
    from dialogues import DATA, dialogsum, superdialseg, tiage

    if not DATA.is_dir():
        return 0
    dialogues = [d["turns"] for d in [*dialogsum("dev", None), *dialogsum("test", None), *superdialseg(None),
                                      *tiage("dev", None), *tiage("test", None)] if d["turns"]]
    lengths = [len(t) for d in dialogues for _, t in d]
    if path.exists():
        return round(sum(lengths) / len(lengths))
    rng = random.Random(5)
    store = Store(path)
    store.init()
    sessions, messages, k = [], [], 0
    while len(messages) < (n if n is not None else sum(map(len, dialogues))):
        turns = dialogues[k % len(dialogues)]
        start = DAY + timedelta(days=rng.randrange(days), seconds=rng.randint(6 * 3600, 23 * 3600))
        sid = f"p{k}"
        sessions.append({"id": sid, "name": f"chat {k}", "created_at": start})
        first = turns[0][0]
        for i, (who, text) in enumerate(turns if n is None else turns[: n - len(messages)]):
            messages.append({"id": f"{sid}m{i}", "session_id": sid, "role": "user" if who == first else "assistant",
                             "content": text, "created_at": start + timedelta(minutes=i)})
        k += 1
    with store.connect() as con, transaction(con):
        for name, rows in (("sessions", sessions), ("messages", messages)):
            with registered(con, "_b", arrow_rows(name, rows)):
                con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM _b")
    return round(sum(lengths) / len(lengths))


def timed(store: Store, start: str, end: str, repeat: int) -> dict[str, float]:
    runs = []
    for _ in range(repeat):
        r = preview(store, resolve_llm(model=NO_MODEL, file_cfg={}, env={}),
                    DreamOptions(lookback_hours=None, start=start, end=end, progress=False))
        runs.append({**r.timings, "total": r.duration_s, "messages": r.plan.activity.messages.num_rows if r.plan else 0,
                     "segments": r.plan.packed.segments.num_rows if r.plan else 0})
    return {k: statistics.median(x[k] for x in runs) for k in runs[0]}


def public_run(db: Path, workers: int, start: str, end: str) -> dict[str, float]:
    """One no-model dream (not written) of the public dialogues' window in ``workers`` processes, with its rates."""
    t = timed(Store(db, settings=Settings({"dream": {"workers": workers}})), start, end, 1)
    t["messages_per_s_understanding"] = t["messages"] / (t["understand"] + t.get("digest", 0.0) + t["resolve"])
    t["messages_per_s_dream_no_model"] = t["messages"] / t["total"]
    t["workers"] = workers
    return t


# the understanding's parts, as the profiler finds them (function name, file suffix): cumulative time of each
STAGES = {
    "people (rules)": ("begin|finish", "understand/people.py"),
    "named entities (spaCy)": ("read", "understand/people.py"),
    "key phrases": ("rank|candidates", "understand/keyphrases.py"),
    "events and dates": ("extract", "understand/events.py"),
    "emotions": ("emotions", "understand/emotions.py"),
    "type": ("moment_type", "understand/describe.py"),
    "summary sentences": ("central_sentences", "understand/describe.py"),
    "reading the items": ("_message", "understand/__init__.py"),
}


def stages(store: Store, start: str, end: str) -> dict[str, float]:
    """Each part's share of the understanding (understand + resolve) of one dream, from a profiled run (the
    profiler slows Python down alike everywhere; the shares are what is compared). The entity model reads many
    segments' sentences at once: its time is "named entities", not part of "people (rules)"."""
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    r = preview(store, resolve_llm(model=NO_MODEL, file_cfg={}, env={}),
                DreamOptions(lookback_hours=None, start=start, end=end, progress=False))
    prof.disable()
    total = r.timings.get("understand", 0.0) + r.timings.get("digest", 0.0) + r.timings.get("resolve", 0.0)
    cum = {(f[2], f[0]): v[3] for f, v in pstats.Stats(prof).stats.items()}  # type: ignore[attr-defined]
    out = {}
    for label, (fn, suffix) in STAGES.items():
        out[label] = round(sum(t for (name, file), t in cum.items() if name in fn.split("|") and file.endswith(suffix)) / total, 3)
    return out


def whole_dream(db: Path, start: str, end: str) -> dict[str, float]:
    """A real dream of the window (no model, every core), written to a copy of the database, then its search
    index built as ``rem dream`` builds it: the time of each stage, from collecting to searchable."""
    import shutil
    import time

    from rem.dream.run import dream
    from rem.search import index as ix
    from rem.search.embed import configured

    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "copy.duckdb"
        shutil.copy(db, copy)
        store = Store(copy)
        t = time.perf_counter()
        r = dream(store, resolve_llm(model=NO_MODEL, file_cfg={}, env={}),
                  DreamOptions(lookback_hours=None, start=start, end=end, progress=False))
        out = {k: round(v, 3) for k, v in r.timings.items()}
        out["dream"] = round(time.perf_counter() - t, 3)
        t = time.perf_counter()
        rep = ix.sync(store, configured({}))
        out["index"] = round(time.perf_counter() - t, 3)
        out["indexed"] = rep.indexed
        out["moments"] = len(r.resolution.moments) if r.resolution else 0
    return out


def spacy_alone(store: Store) -> dict[str, float]:
    """The anchor a user would reach for: spaCy's English model alone (tagger and entities, the components REM
    runs), loaded as a user loads it (spaCy's defaults: BLIS multiplies, where REM's copy uses numpy's BLAS),
    over the same messages, texts per second."""
    import time

    import spacy

    from rem.understand.ner import PACKAGE

    nlp = spacy.load(PACKAGE, exclude=["parser", "attribute_ruler", "lemmatizer", "senter"])
    with store.read(sandbox=False) as con:
        texts = [r[0] for r in con.execute("SELECT content FROM messages").fetchall()]
    t = time.perf_counter()
    for _doc in nlp.pipe(texts, batch_size=256):
        pass
    dt = time.perf_counter() - t
    # the same model as REM reads it (rem.understand.ner: numpy for the vectors, the Rust core for the entities'
    # parse; the tagger only where an entity is a person), over the same messages, in the same process
    from rem.understand.ner import recognizer

    ents = recognizer()
    assert ents is not None
    t = time.perf_counter()
    for k in range(0, len(texts), 2_000):
        ents(texts[k:k + 2_000])
    rem_dt = time.perf_counter() - t
    return {"messages": len(texts), "seconds": round(dt, 2), "messages_per_s": round(len(texts) / dt),
            "rem_seconds": round(rem_dt, 2), "rem_messages_per_s": round(len(texts) / rem_dt)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--messages", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--turns", type=int, default=100_000, help="chat turns of the public dialogue sets (the goal's size)")
    ap.add_argument("--data", type=Path, default=HERE / ".data")
    a = ap.parse_args()
    a.data.mkdir(exist_ok=True)
    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        demo = Store(Path(tmp) / "demo.duckdb")
        generate(Path(tmp) / "activity", seed=7, days=7, end_date="2026-11-15")
        ingest_demo(demo, Path(tmp) / "activity")
        with demo.read() as con:
            day = con.execute("""SELECT CAST(created_at AS DATE) AS d FROM messages GROUP BY 1
                                 ORDER BY count(*) DESC LIMIT 1""").fetchall()[0][0]
        out["busiest_demo_day"] = {"day": str(day), **timed(demo, str(day), str(day), a.repeat)}
    path = a.data / f"understand-{a.messages}.duckdb"
    build_backfill(path, a.messages)
    day = DAY.date().isoformat()
    one = Store(path, settings=Settings({"dream": {"workers": 1}}))
    cores = worker_count()
    # one process, then every core (the default), in turn in the same run
    for key, store in (("backfill_one_process", one), ("backfill", Store(path, settings=Settings({"dream": {"workers": cores}})))):
        t = timed(store, day, day, max(1, a.repeat // 2))
        t["messages_per_s_understanding"] = t["messages"] / (t["understand"] + t.get("digest", 0.0) + t["resolve"])
        t["messages_per_s_dream_no_model"] = t["messages"] / t["total"]
        t["workers"] = 1 if store is one else cores
        out[key] = t
    out["backfill_stages"] = stages(one, day, day)  # the profiler sees one process
    # real chat turns, the goal's measure: a month of a --turns turns, one process and every core
    pub = a.data / f"understand-public-{a.turns}.duckdb"
    mean_chars = build_public_backfill(pub, a.turns)
    if mean_chars:
        last = (DAY + timedelta(days=29)).date().isoformat()
        for key, w in (("public_one_process", 1), ("public", cores)):
            out[key] = {**public_run(pub, w, day, last), "mean_chars": mean_chars}
        # the whole dream, written, then searchable: every stage
        out["public_whole"] = w = whole_dream(pub, day, last)
        w["turns_per_s_dream"] = round(a.turns / w["dream"])
        w["turns_per_s_searchable"] = round(a.turns / (w["dream"] + w["index"]))
        # where real dialogue's time goes (one process; names are everywhere in it, the entity model's share is larger)
        out["public_stages"] = stages(Store(pub, settings=Settings({"dream": {"workers": 1}})), day, last)
        # the same dialogues once each: no sentence comes back (cycled to 100,000 turns, most come back three or
        # four times, and the entity model's reading of a sentence is kept for its next time)
        distinct = a.data / "understand-public-distinct.duckdb"
        build_public_backfill(distinct, None)
        for key, w in (("public_distinct_one_process", 1), ("public_distinct", cores)):
            out[key] = {**public_run(distinct, w, day, last), "mean_chars": mean_chars}
        out["public_distinct_stages"] = stages(Store(distinct, settings=Settings({"dream": {"workers": 1}})), day, last)
    out["spacy_alone"] = spacy_alone(one)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "understand.json").write_text(json.dumps(out, indent=2) + "\n")
    b, f, f1 = out["busiest_demo_day"], out["backfill"], out["backfill_one_process"]
    print(f"{'window':<36} {'msgs':>7} {'segs':>5} | {'collect':>8} {'pack':>7} | {'understand':>10} {'resolve':>8} | {'dream (no model)':>16}")
    for label, r in ((f"busiest demo day {b['day']}", b), (f"backfill day ({a.messages:,} msgs), 1 process", f1),
                     (f"backfill day, {cores} processes", f)):
        print(f"{label:<36} {r['messages']:>7.0f} {r['segments']:>5.0f} | {r['collect'] * 1e3:>6.0f}ms {r['pack'] * 1e3:>5.0f}ms | "
              f"{r['understand'] * 1e3:>8.0f}ms {r['resolve'] * 1e3:>6.0f}ms | {r['total']:>14.2f}s")
    for label, r in (("1 process", f1), (f"{cores} processes", f)):
        print(f"{label}: understanding {r['messages_per_s_understanding']:,.0f} messages/s; the whole dream without a "
              f"model {r['messages_per_s_dream_no_model']:,.0f} messages/s")
    for key, what in (("backfill_stages", "work chat"), ("public_stages", "public dialogue"),
                      ("public_distinct_stages", "public dialogue once each")):
        if key in out:
            shares = out[key]
            assert isinstance(shares, dict)
            print(f"share of the understanding ({what}): " + ", ".join(f"{k} {v:.0%}" for k, v in shares.items()))
    for key, label in (("public_one_process", "1 process"), ("public", f"{cores} processes"),
                       ("public_distinct_one_process", "1 process"), ("public_distinct", f"{cores} processes")):
        if key in out:
            r = out[key]
            assert isinstance(r, dict)
            window = (f"the same dialogues once each ({r['messages']:,.0f} turns, no sentence repeated)" if "distinct" in key
                      else f"{r['messages']:,.0f} chat turns of public dialogue sets (mean {r['mean_chars']} characters)")
            print(f"{window}, {label}: understanding {r['messages_per_s_understanding']:,.0f} turns/s; the whole dream "
                  f"without a model {r['total']:.1f} s, {r['messages_per_s_dream_no_model']:,.0f} turns/s")
    if "public_whole" in out:
        w = out["public_whole"]
        assert isinstance(w, dict)
        print("a whole dream of them (no model, every core), written, then indexed for search: "
              + ", ".join(f"{k} {w[k]:.1f} s" for k in ("collect", "pack", "understand", "digest", "resolve", "persist")
                          if k in w)
              + f"; dream {w['dream']:.1f} s ({w['turns_per_s_dream']:,} turns/s); search index {w['index']:.1f} s "
                f"({w['indexed']:,} rows); searchable {w['turns_per_s_searchable']:,} turns/s")
    sp = out["spacy_alone"]
    print(f"spaCy's English model alone (tagger + entities) over the same {sp['messages']:,} messages: "
          f"{sp['seconds']} s, {sp['messages_per_s']:,} messages/s; the same model as REM reads it: "
          f"{sp['rem_seconds']} s, {sp['rem_messages_per_s']:,} messages/s")
    _ = pa  # pyarrow is what the rows travel in


if __name__ == "__main__":
    sys.exit(main())
