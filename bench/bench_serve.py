"""rem serve and rem mcp: server time of a day page, an MCP search round
trip, a warm traversal over HTTP (part of `make bench`).

- day page: N moments spread over a year (10k, 100k), the busiest day's
  page rendered through the ASGI app in-process (the server's own time, no
  network), median of 30;
- MCP search: 100k searchable items (bench/search's synthetic corpus), a
  real `rem serve` process, the MCP SDK's client over streamable HTTP at
  /mcp calling `search`; median of 30 round trips after a warm-up;
- traversal: a graph of 1M edges, a real `rem serve` process, GET
  /api/traverse?node=…&depth=2 with httpx, warm (the graph is loaded by the
  first request), median of 50.

Writes bench/results/serve.json.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))
sys.path.insert(0, str(ROOT / "bench" / "search"))

from rem.edges import key_edges  # noqa: E402
from rem.store import Store  # noqa: E402


def moments_store(folder: Path, n: int) -> tuple[Store, str]:
    st = Store(folder / "rem.duckdb")
    st.init()
    rng = random.Random(5)
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    starts = [t0 + timedelta(minutes=rng.randrange(365 * 24 * 60)) for _ in range(n)]
    tags = ["diskann", "hnsw", "bm25", "ci", "rust", "docs", "planning", "recall", "kafka", "postgres"]
    with st.connect() as con:
        con.register("_m", pa.table({
            "id": [f"m{i}" for i in range(n)], "name": [f"Work on {rng.choice(tags)} and {rng.choice(tags)} #{i}" for i in range(n)],
            "summary": ["A summary of the work that happened in this moment." for _ in range(n)],
            "start_time": starts, "end_time": [s + timedelta(minutes=rng.randrange(10, 120)) for s in starts],
            "moment_type": [rng.choice(["deep_work", "debugging", "meeting", "writing"]) for _ in range(n)],
            "tags": [rng.sample(tags, 3) for _ in range(n)], "people": [["Alice Chen"] if i % 3 == 0 else [] for i in range(n)],
            "emotion_tags": [["focused"] for _ in range(n)], "generated_by": ["extractive"] * n}))
        con.execute("INSERT INTO moments BY NAME SELECT * FROM _m")
        con.unregister("_m")
        busiest = con.execute("SELECT CAST(start_time AS DATE) d FROM moments GROUP BY 1 ORDER BY count(*) DESC LIMIT 1").fetchall()[0][0]
    return st, str(busiest)


def day_page(n: int) -> dict:
    from starlette.testclient import TestClient

    from rem.serve import create_app

    with tempfile.TemporaryDirectory() as d:
        st, day = moments_store(Path(d), n)
        with TestClient(create_app(st, mcp=False), base_url="http://127.0.0.1") as c:
            r = c.get(f"/day/{day}")
            assert r.status_code == 200
            cards = r.text.count('class="card')
            times = []
            for _ in range(30):
                t = time.perf_counter()
                c.get(f"/day/{day}")
                times.append((time.perf_counter() - t) * 1000)
    return {"moments": n, "cards_on_the_day": cards, "day_page_p50_ms": round(statistics.median(times), 1),
            "day_page_p95_ms": round(sorted(times)[int(len(times) * 0.95) - 1], 1)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(db: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    p = subprocess.Popen([sys.executable, "-m", "rem", "--db", str(db), "serve", "--port", str(port)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return p, f"http://127.0.0.1:{port}"
        time.sleep(0.2)
    p.kill()
    raise SystemExit(f"rem serve did not start: {p.stderr.read() if p.stderr else ''}")


def mcp_search(n: int) -> dict:
    import run as search_bench  # bench/search/run.py

    from rem.search import index as ix
    from rem.search.embed import WordLlamaEmbedder

    with tempfile.TemporaryDirectory() as d:
        st = Store(Path(d) / "rem.duckdb")
        search_bench.synthetic(st, n)
        ix.sync(st, WordLlamaEmbedder())
        p, base = _serve(st.path)
        try:
            times = asyncio.run(_mcp_rounds(f"{base}/mcp/"))
        finally:
            p.terminate()
            p.wait(timeout=30)
    return {"items": n, "mcp_search_p50_ms": round(statistics.median(times), 1),
            "mcp_search_p95_ms": round(sorted(times)[int(len(times) * 0.95) - 1], 1)}


async def _mcp_rounds(url: str) -> list[float]:
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    qs = ["recall regression", "cargo cache key", "pruning rule", "flaky test", "reciprocal rank fusion"]
    async with streamable_http_client(url) as (r, w), ClientSession(r, w) as s:
        await s.initialize()
        await s.call_tool("search", {"query": "warm up"})
        times = []
        for i in range(30):
            t = time.perf_counter()
            res = await s.call_tool("search", {"query": qs[i % len(qs)]})
            times.append((time.perf_counter() - t) * 1000)
            assert not res.is_error
        return times


def traversal(n_edges: int) -> dict:
    import httpx2 as httpx

    with tempfile.TemporaryDirectory() as d:
        st = Store(Path(d) / "rem.duckdb")
        st.init()
        rng = random.Random(9)
        nodes = n_edges // 10
        with st.connect() as con:
            con.execute(f"""INSERT INTO entities (id, key, name, kind, created_at, updated_at)
                            SELECT 'e' || i, 'topic ' || i, 'topic ' || i, 'topic', now(), now() FROM range({nodes}) t(i)""")
            src = [f"e{rng.randrange(nodes)}" for _ in range(n_edges)]
            dst = [f"e{rng.randrange(nodes)}" for _ in range(n_edges)]
            con.register("_e", pa.table({"source_id": src, "target_id": dst}))
            con.execute("""INSERT INTO edges (source_id, target_id, edge_type, weight, created_at, reinforced_at, reinforcement_count)
                           SELECT DISTINCT ON (source_id, target_id) source_id, target_id, 'related_to', 1.0, now(), now(), 1
                           FROM _e WHERE source_id <> target_id""")
            con.unregister("_e")
            key_edges(con)
            edges = con.execute("SELECT count(*) FROM edges").fetchall()[0][0]
        p, base = _serve(st.path)
        try:
            with httpx.Client(timeout=600) as c:
                t = time.perf_counter()
                first = c.get(f"{base}/api/traverse", params={"node": "topic 1", "depth": 2})
                load_s = time.perf_counter() - t
                assert first.status_code == 200, first.text
                times = []
                for i in range(50):
                    t = time.perf_counter()
                    r = c.get(f"{base}/api/traverse", params={"node": f"topic {1 + i % 20}", "depth": 2})
                    times.append((time.perf_counter() - t) * 1000)
                    assert r.status_code == 200
                reached = len(r.json())
        finally:
            p.terminate()
            p.wait(timeout=30)
    return {"edges": edges, "first_request_s": round(load_s, 1), "traverse_p50_ms": round(statistics.median(times), 1),
            "traverse_p95_ms": round(sorted(times)[int(len(times) * 0.95) - 1], 1), "nodes_reached_depth2": reached}


def main() -> None:
    out = {"measured": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "day_page": [day_page(10_000), day_page(100_000)]}
    print(json.dumps(out["day_page"]))
    out["mcp_search"] = mcp_search(100_000)
    print(json.dumps(out["mcp_search"]))
    out["traversal"] = traversal(1_000_000)
    print(json.dumps(out["traversal"]))
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "serve.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
