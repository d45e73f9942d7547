"""Retrieval evaluation and search latency (part of `make bench`).

Evaluation: the demo week (seed 7, ending 2026-11-15) ingested and dreamed
with the default path, then every question of questions.json asked of:
REM hybrid, REM lexical only, REM dense only, and what a user would pick
instead — `rem query` with ILIKE (items holding the query's words, most
words first), bm25s alone over the same texts, and DuckDB's
array_cosine_similarity over the same vectors. Metrics over the questions:
recall@5 (relevant items in the top 5 over min(5, relevant items)), MRR@10
and nDCG@10 (binary gain).

Latency: synthetic corpora of 10k and 100k messages (and 1M on request; demo
facts mixed with filler; each session a moment holding its messages, as a dream leaves them), embedded with the default model; index build throughput; one query's p50/p95 in a warm process
(hybrid, lexical, dense, and hybrid kept to a time) and of the CLI from a cold start; peak memory.

    python bench/search/run.py [--sizes 10000,100000] [--skip-latency]
Writes bench/results/search.json and prints the tables for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))

from rem.config import resolve_llm  # noqa: E402
from rem.demo import BLOCKS, generate  # noqa: E402
from rem.dream.run import DreamOptions, dream  # noqa: E402
from rem.ingest import ingest_demo  # noqa: E402
from rem.search import SearchOptions, fuse, rank, search  # noqa: E402
from rem.search import index as ix  # noqa: E402
from rem.search.embed import Embedder, WordLlamaEmbedder, configured  # noqa: E402
from rem.store import Store, fetch_arrow  # noqa: E402
from rem.understand.text import STOPWORDS, fold, stem  # noqa: E402

QUESTIONS = json.loads((Path(__file__).parent / "questions.json").read_text())["questions"]


def content_words(text: str) -> set[str]:
    return {stem(fold(w)) for w in re.findall(r"\w+", text.lower()) if w not in STOPWORDS and len(w) > 1}


# -- the evaluation corpus -------------------------------------------------------------------------------------
def build_demo(folder: Path) -> tuple[Store, dict]:
    store = Store(folder / "rem.duckdb")
    generate(folder / "activity", seed=7, days=7, end_date="2026-11-15")
    for _ in ingest_demo(store, folder / "activity"):
        pass
    dream(store, resolve_llm(model="none", file_cfg={}, env={}),
          DreamOptions(start="2026-11-09", end="2026-11-15", lookback_hours=None, progress=False))
    gold = json.loads((folder / "activity" / "ground_truth.json").read_text())
    return store, gold


def relevant(store: Store, gold: dict, q: dict) -> set[str]:
    rel: set[str] = set()
    with store.read(sandbox=False) as con:
        items = " UNION ALL ".join(f"({ix.items_sql(k)})" for k in ix.KINDS)
        for f in q.get("facts", []):
            rel |= set(fetch_arrow(con, f"""SELECT id FROM ({items}) c WHERE strpos(lower(coalesce(title, '') || ' ' ||
                                             coalesce(body, '')), $f) > 0""", {"f": f.lower()}).column("id").to_pylist())
        for title in q.get("blocks", []):
            for b in gold["moments"]:
                if b["title"] != title:
                    continue
                rel |= set(fetch_arrow(con, """SELECT 'moment:' || id AS id FROM moments
                                             WHERE start_time < CAST($e AS TIMESTAMPTZ) AND end_time > CAST($s AS TIMESTAMPTZ)""",
                                       {"s": b["start"], "e": b["end"]}).column("id").to_pylist())
    return rel


def metrics(ranked: list[str], rel: set[str]) -> dict[str, float]:
    r5 = len([i for i in ranked[:5] if i in rel]) / min(5, len(rel))
    mrr = next((1.0 / (k + 1) for k, i in enumerate(ranked[:10]) if i in rel), 0.0)
    dcg = sum(1.0 / math.log2(k + 2) for k, i in enumerate(ranked[:10]) if i in rel)
    idcg = sum(1.0 / math.log2(k + 2) for k in range(min(10, len(rel))))
    return {"recall@5": r5, "mrr@10": mrr, "ndcg@10": dcg / idcg if idcg else 0.0}


# -- the systems -----------------------------------------------------------------------------------------------
class Systems:
    def __init__(self, store: Store, emb: Embedder) -> None:
        import bm25s

        self.store, self.emb = store, emb
        with store.read(sandbox=False) as con:
            t = fetch_arrow(con, " UNION ALL ".join(f"({ix.items_sql(k)})" for k in ix.KINDS))
        self.ids = t.column("id").to_pylist()
        self.texts = [f"{a or ''}\n{c or ''}\n{b or ''}" for a, b, c in zip(t.column("title").to_pylist(), t.column("body").to_pylist(),
                                                                       t.column("topics").to_pylist(), strict=True)]
        self.bm25 = bm25s.BM25()
        self.bm25.index(bm25s.tokenize(self.texts, stopwords="en", show_progress=False), show_progress=False)
        self._bm25s = bm25s

    def rem(self, q: str, mode: str) -> list[str]:
        opts = SearchOptions(limit=10, lexical=mode != "dense", dense=mode != "lexical", sync=False)
        return [i for i, _ in fuse(rank(self.store, q, opts, self.emb))][:10]

    def ilike(self, q: str) -> list[str]:
        words = [w for w in re.findall(r"\w+", q.lower()) if w not in STOPWORDS and len(w) > 1]
        if not words:
            return []
        hits = " + ".join(f"CAST(lower(concat_ws(' ', title, topics, body)) ILIKE '%' || $w{i} || '%' AS INT)"
                          for i in range(len(words)))
        items = " UNION ALL ".join(f"({ix.items_sql(k)})" for k in ix.KINDS)
        with self.store.read(sandbox=False) as con:
            t = fetch_arrow(con, f"SELECT id, {hits} AS n FROM ({items}) c WHERE n > 0 ORDER BY n DESC, ts DESC LIMIT 10",
                            {f"w{i}": w for i, w in enumerate(words)})
        return t.column("id").to_pylist()

    def bm25s(self, q: str) -> list[str]:
        tok = self._bm25s.tokenize([q], stopwords="en", show_progress=False)
        if not tok.vocab:
            return []
        docs, scores = self.bm25.retrieve(tok, k=10, show_progress=False)
        return [self.ids[d] for d, s in zip(docs[0], scores[0], strict=True) if s > 0]

    def duckdb_cosine(self, q: str) -> list[str]:
        v = [float(x) for x in self.emb.embed([q])[0]]
        with self.store.read(sandbox=False) as con:
            t = fetch_arrow(con, f"""SELECT id FROM search_index WHERE vector IS NOT NULL ORDER BY
                                    array_cosine_similarity(CAST(list_transform(vector, lambda x: x * scale) AS FLOAT[{len(v)}]),
                                                            CAST($q AS FLOAT[{len(v)}])) DESC
                                    LIMIT 10""", {"q": v})
        return t.column("id").to_pylist()


def evaluate() -> dict:
    with tempfile.TemporaryDirectory() as d:
        store, gold = build_demo(Path(d))
        rels = [relevant(store, gold, q) for q in QUESTIONS]
        for q, rel in zip(QUESTIONS, rels, strict=True):
            if not rel:
                raise SystemExit(f"no relevant item for {q['q']!r}: fix questions.json")
            if q["style"] == "paraphrase":
                shared = content_words(q["q"]) & set().union(*(content_words(f) for f in q.get("facts", [])))
                if shared:
                    raise SystemExit(f"paraphrase {q['q']!r} shares {sorted(shared)} with its answer")
        per: dict[str, dict[str, list[float]]] = {}
        by_style: dict[str, dict[str, dict[str, list[float]]]] = {}

        def ask(names: dict) -> None:
            for q, rel in zip(QUESTIONS, rels, strict=True):
                for n, f in names.items():
                    for k, v in metrics(f(q["q"]), rel).items():
                        per.setdefault(n, {}).setdefault(k, []).append(v)
                        by_style.setdefault(q["style"], {}).setdefault(n, {}).setdefault(k, []).append(v)

        emb = configured({})  # the default: all-MiniLM-L6-v2 (WordLlama when its package is missing)
        assert emb is not None
        label = "all-MiniLM-L6-v2" if emb.name.startswith("all-minilm") else "WordLlama"
        rep = ix.sync(store, emb)
        sysm = Systems(store, emb)
        ask({"REM hybrid": lambda q: sysm.rem(q, "hybrid"), "REM lexical (tantivy BM25)": lambda q: sysm.rem(q, "lexical"),
             f"REM dense ({label})": lambda q: sysm.rem(q, "dense"), "rem query ILIKE": sysm.ilike,
             "bm25s alone": sysm.bm25s, "DuckDB array_cosine_similarity": sysm.duckdb_cosine})
        other_s = None
        if label != "WordLlama":  # the same store re-embedded with WordLlama, the static model
            wl = WordLlamaEmbedder()
            t = time.perf_counter()
            ix.sync(store, wl)
            other_s = time.perf_counter() - t
            sysm_w = Systems(store, wl)
            ask({"REM hybrid with WordLlama": lambda q: sysm_w.rem(q, "hybrid"),
                 "REM dense (WordLlama)": lambda q: sysm_w.rem(q, "dense")})
        with store.read(sandbox=False) as con:
            n_items = fetch_arrow(con, "SELECT count(*) AS n FROM search_index").column("n")[0].as_py()
        return {"items": n_items, "questions": len(QUESTIONS), "model": emb.name, "sync_s": rep.seconds, "wordllama_embed_s": other_s,
                "overall": {n: {k: statistics.mean(v) for k, v in m.items()} for n, m in per.items()},
                "by_style": {s: {n: {k: statistics.mean(v) for k, v in m.items()} for n, m in d_.items()}
                             for s, d_ in by_style.items()},
                "counts": {s: sum(1 for q in QUESTIONS if q["style"] == s) for s in by_style}}


# -- latency ---------------------------------------------------------------------------------------------------
FILLER = ["let me check that again", "ok, trying the next idea", "here is the output of the last run",
          "that did not work either", "the numbers look better now", "I will write this down for later",
          "what about the edge cases", "compiling and running the tests", "reading the docs for this part"]


def synthetic(store: Store, n: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    facts = [f for b in BLOCKS for f in b["facts"]]
    words = sorted({w for f in facts for w in f.split()})
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    store.init()
    sessions = max(1, n // 50)
    with store.connect() as con:
        con.register("_s", pa.table({"id": [f"s{i}" for i in range(sessions)], "name": [f"session {i} " + rng.choice(facts)[:30] for i in range(sessions)],
                                     "created_at": [t0 + timedelta(minutes=50 * i) for i in range(sessions)]}))
        con.execute("INSERT INTO sessions (id, name, created_at, ingested_at) SELECT id, name, created_at, now() FROM _s")
        con.unregister("_s")
        step = 200_000
        for a in range(0, n, step):
            m = min(step, n - a)
            content = []
            for _ in range(m):
                r = rng.random()
                content.append(rng.choice(facts) if r < 0.3 else " ".join(rng.choices(words, k=12)) if r < 0.6 else rng.choice(FILLER))
            con.register("_m", pa.table({"id": [f"m{a + i}" for i in range(m)], "session_id": [f"s{(a + i) // 50}" for i in range(m)],
                                         "content": content, "created_at": [t0 + timedelta(minutes=a + i) for i in range(m)]}))
            con.execute("INSERT INTO messages (id, session_id, role, content, created_at, ingested_at) "
                        "SELECT id, session_id, 'user', content, created_at, now() FROM _m")
            con.unregister("_m")
        # what a dream leaves: each session a moment holding its messages (a search shows beside each hit the moment
        # it belongs to; without moments that lookup costs nothing and the bench would not see it)
        con.execute("""INSERT INTO moments (id, name, summary, start_time, end_time, message_ids, session_ids, created_at, updated_at)
                       SELECT 'mo-' || session_id, 'moment of ' || any_value(s.name), 'a stretch of work', min(m.created_at),
                              max(m.created_at), list(m.id ORDER BY m.created_at), [session_id], now(), now()
                       FROM messages m JOIN sessions s ON s.id = m.session_id GROUP BY session_id""")


def latency(n: int) -> dict:
    with tempfile.TemporaryDirectory() as d:
        store = Store(Path(d) / "rem.duckdb")
        t = time.perf_counter()
        synthetic(store, n)
        gen_s = time.perf_counter() - t
        emb = configured({})
        assert emb is not None
        rep = ix.sync(store, emb)
        qs = [q["q"] for q in QUESTIONS]
        out: dict = {"items": n, "model": emb.name, "generate_s": round(gen_s, 1), "index_s": round(rep.seconds, 1),
                     "index_items_per_s": round((n + 2 * max(1, n // 50)) / rep.seconds)}
        for mode in ("hybrid", "lexical", "dense"):
            # what a warm process (rem serve, an agent through the API) pays per query: rank, fuse,
            # titles, snippets and moments (the freshness check included: nothing changed, no sync)
            opts = SearchOptions(limit=10, lexical=mode != "dense", dense=mode != "lexical")
            search(store, qs[0], opts, embedder=emb)  # warm: vectors loaded, index open
            times = []
            for q in qs * 3:
                t = time.perf_counter()
                search(store, q, opts, embedder=emb)
                times.append((time.perf_counter() - t) * 1000)
            out[f"{mode}_p50_ms"] = round(statistics.median(times), 1)
            out[f"{mode}_p95_ms"] = round(sorted(times)[int(len(times) * 0.95) - 1], 1)
        # kept to a time (a question naming one, `--since`/`--until`): the first tenth of the corpus's minutes
        opts = SearchOptions(limit=10, since=datetime(2025, 1, 1, tzinfo=UTC).isoformat(),
                             until=(datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=n // 10)).isoformat())
        search(store, qs[0], opts, embedder=emb)
        times = []
        for q in qs * 3:
            t = time.perf_counter()
            search(store, q, opts, embedder=emb)
            times.append((time.perf_counter() - t) * 1000)
        out["windowed_p50_ms"] = round(statistics.median(times), 1)
        out["windowed_p95_ms"] = round(sorted(times)[int(len(times) * 0.95) - 1], 1)
        # a question asking who: the entity model reads the candidates a lift can reach (rem.search._answer_boost),
        # each read afresh (what a process remembers of a turn's reading is forgotten before each query)
        from rem import search as search_mod

        whos = [f"Who talked about {q.rstrip('?')}?" for q in qs]
        search(store, whos[0], SearchOptions(limit=10), embedder=emb)  # the entity model loaded
        times = []
        for q in whos * 3:
            search_mod._held.clear()
            t = time.perf_counter()
            search(store, q, SearchOptions(limit=10), embedder=emb)
            times.append((time.perf_counter() - t) * 1000)
        out["asking_who_p50_ms"] = round(statistics.median(times), 1)
        out["asking_who_p95_ms"] = round(sorted(times)[int(len(times) * 0.95) - 1], 1)
        with store.read(sandbox=False) as con:
            vec = ix.vectors(store, con, emb.name, emb.dim)
        out["vector_index_mb"] = round(vec.index.memory / 1e6, 1)
        # freshness: a day's new activity (300 messages) and a dream's moments, indexed by the next search
        import rem as rem_api

        db = rem_api.connect(store.path)
        sid = db.add_session(name="a new day", created_at="2025-06-01T08:00:00Z")
        for i in range(300):
            db.add_message(sid, role="user", content=f"new day message {i} about the kafka consumer lag", created_at=f"2025-06-01T{8 + i // 60:02d}:{i % 60:02d}:00Z")
        t = time.perf_counter()
        fresh = ix.sync(store, emb)
        out["day_indexed_ms"] = round((time.perf_counter() - t) * 1000)
        out["day_indexed_items"] = fresh.indexed
        cold = []
        for q in qs[:5]:
            t = time.perf_counter()
            p = subprocess.run([sys.executable, "-m", "rem", "--db", str(store.path), "search", q, "--json"],
                               capture_output=True, text=True)
            cold.append((time.perf_counter() - t) * 1000)
            if p.returncode != 0:
                raise SystemExit(p.stderr)
        out["cli_cold_p50_ms"] = round(statistics.median(cold), 0)
        # VmHWM: the peak of this process's own memory (ru_maxrss would carry the parent's over exec)
        peak = subprocess.run([sys.executable, "-c", f"""
import sys
sys.path.insert(0, {str(ROOT / 'python')!r})
from rem.search import SearchOptions, search
from rem.store import Store
search(Store({str(store.path)!r}), "recall regression", SearchOptions(sync=False))
print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')))"""], capture_output=True, text=True)
        out["search_process_peak_mb"] = round(int(peak.stdout.strip().splitlines()[-1]) / 1024, 0)
        return out


def main() -> None:
    ap = argparse.ArgumentParser()
    # 1M messages: ~17 min of embedding with all-MiniLM-L6-v2 at ~1,000 texts/s (--sizes 10000,100000,1000000)
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--skip-latency", action="store_true")
    a = ap.parse_args()
    res: dict = {"measured": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "evaluation": evaluate()}
    ev = res["evaluation"]
    print(f"evaluation: {ev['questions']} questions, {ev['items']} items")
    print("| system | recall@5 | MRR@10 | nDCG@10 |\n|---|---:|---:|---:|")
    for n, m in ev["overall"].items():
        print(f"| {n} | {m['recall@5']:.3f} | {m['mrr@10']:.3f} | {m['ndcg@10']:.3f} |")
    for s, d_ in ev["by_style"].items():
        print(f"\n{s} ({ev['counts'][s]} questions): " + "; ".join(f"{n} R@5 {m['recall@5']:.2f}" for n, m in d_.items()))
    if not a.skip_latency:
        res["latency"] = []
        for n in [int(x) for x in a.sizes.split(",") if x]:
            r = latency(n)
            res["latency"].append(r)
            print(json.dumps(r))
    res["peak_rss_mb_bench"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024  # the bench process itself
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "search.json").write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
