"""Benchmark: `rem fleet` — many owners' nightly dreams on Dask against the
scripted OpenAI-compatible server answering with a fixed latency.

Owners: one generated day each (the demo generator, a different seed per
owner), a few with damaged stores and a few whose model endpoint always
fails. Scenarios, in one run on this machine:

- ``sequential``: `rem dream --scheduled --force` for each owner, one after
  another — what a user would script without the fleet;
- ``fleet-1`` / ``fleet-2``: `rem fleet dream` on a LocalCluster of 1 and 2
  workers (the rate limit set high, so it paces nothing but is asked);
- ``limit``: 2 workers with a binding limit (requests per minute), checked
  from the server's own arrival times.

Reports owners per minute, peak memory per worker, the most requests the
server saw in any 60-second window, and that every healthy owner finished ok
while the broken ones failed alone. Writes bench/results/fleet.json;
SCALING.md holds the table.

    python bench/bench_fleet.py --owners 200
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
from rem.demo import generate  # noqa: E402
from rem.fleet import manifest as mf  # noqa: E402
from rem.fleet import run as fr  # noqa: E402
from rem.fleet.ratelimit import max_in_window  # noqa: E402
from rem.ingest import ingest_demo  # noqa: E402
from rem.store import Store  # noqa: E402
from scripted_llm import Reply, ScriptedLLM, completion, good_answer  # noqa: E402

DAMAGED = 3  # owners whose store is cut short
MODEL_DOWN = 3  # owners whose endpoint answers HTTP 500 to everything


def build(folder: Path, n: int) -> Path:
    """``folder/pristine/o{i}.duckdb``: one generated day per owner."""
    pristine = folder / "pristine"
    pristine.mkdir(parents=True)
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    t0 = time.perf_counter()
    for i in range(n):
        act = folder / f"act-{i}"
        generate(act, seed=1000 + i, days=1, end_date=yesterday)
        ingest_demo(Store(pristine / f"o{i:04d}.duckdb"), act)
        shutil.rmtree(act)
        if (i + 1) % 50 == 0:
            print(f"  built {i + 1}/{n} owners ({time.perf_counter() - t0:.0f}s)", file=sys.stderr)
    return pristine


def stage(pristine: Path, dest: Path, n: int, good_url: str, bad_url: str, rpm: int | None) -> Path:
    """A fresh copy of every owner's store and a manifest over them."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    lines = ["retries = 1", "backoff_s = 0.5", "[llm]", f'base_url = "{good_url}"', 'model = "scripted"']
    if rpm:  # the healthy endpoint's limit (the failing one's retries are not paced: they fail fast)
        lines += ["[[rate_limits]]", f'endpoint = "{good_url}"', f"requests_per_minute = {rpm}"]
    for i in range(n):
        src = pristine / f"o{i:04d}.duckdb"
        db = dest / src.name
        shutil.copy(src, db)
        if i < DAMAGED:
            db.write_bytes(db.read_bytes()[:4096])
        lines += ["[[owners]]", f'id = "o{i:04d}"', f'db = "{db.name}"']
        if DAMAGED <= i < DAMAGED + MODEL_DOWN:
            lines.append(f'base_url = "{bad_url}"')
    m = dest / "owners.toml"
    m.write_text("\n".join(lines) + "\n")
    return m


def summarize(name: str, n: int, wall: float, results: list[dict[str, Any]], arrivals: list[float],
              workers: int | None) -> dict[str, Any]:
    by_status: dict[str, int] = {}
    for r in results:
        by_status[r["status"]] = by_status.get(r["status"], 0) + 1
    broken = {f"o{i:04d}" for i in range(DAMAGED + MODEL_DOWN)}
    healthy_ok = all(r["status"] in ("ok", "nothing_to_do") for r in results if r["owner"] not in broken)
    broken_failed = all(r["status"] == "failed" for r in results if r["owner"] in broken)
    peaks: dict[str, float] = {}
    for r in results:
        if r.get("worker") and r.get("peak_rss_mb"):
            peaks[r["worker"]] = max(peaks.get(r["worker"], 0.0), float(r["peak_rss_mb"]))
    out = {"scenario": name, "owners": n, "workers": workers, "wall_s": round(wall, 1),
           "owners_per_min": round(n / wall * 60, 1), "statuses": by_status,
           "healthy_all_ok": healthy_ok, "broken_failed_alone": broken_failed,
           "requests": len(arrivals), "max_requests_in_60s": max_in_window(arrivals, 60.0) if arrivals else 0,
           "peak_rss_mb_per_worker": round(max(peaks.values()), 1) if peaks else None}
    print(json.dumps(out), file=sys.stderr)
    return out


def sequential(m: Path, n: int, good: ScriptedLLM, bad_url: str) -> tuple[float, list[dict[str, Any]]]:
    man = mf.load(m)
    results = []
    t0 = time.perf_counter()
    rem = str(Path(sys.executable).with_name("rem"))
    for o in man.owners:
        env = dict(os.environ, REM_LLM_BASE_URL=o.base_url or good.base_url, REM_LLM_MODEL="scripted")
        p = subprocess.run([rem, "--db", str(o.db), "dream", "--scheduled", "--force", "--json"],
                           capture_output=True, text=True, env=env)
        status = "failed"
        if p.returncode == 0:
            try:
                rec = json.loads(p.stdout)
                status = rec["status"]
                if rec.get("late"):
                    status = "ok"
            except (ValueError, KeyError):
                status = "failed"
            if "late activity" in p.stderr and "failed" in p.stderr:
                status = "failed"
        results.append({"owner": o.id, "status": status})
    return time.perf_counter() - t0, results


def _round_trips(limiter: Any, n: int) -> list[float]:
    from rem.fleet.worker import _bound

    proxy = _bound(limiter)
    out = []
    for _ in range(n):
        t = time.perf_counter()
        proxy.reserve("*", 1000).result()
        out.append(time.perf_counter() - t)
    return out


def actor_round_trip(n: int = 300) -> dict[str, Any]:
    """What asking the shared limiter costs a worker: a LocalCluster of 2, the actor on one worker,
    the calls from a task (on either worker), a limit that never binds."""
    import statistics

    from distributed import Client, LocalCluster

    from rem.fleet.ratelimit import FleetLimiter

    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, Client(cluster) as c:
        lim = c.submit(FleetLimiter, [{"endpoint": "*", "requests_per_minute": 10**9}], actor=True).result()
        times = [t for ts in c.gather([c.submit(_round_trips, lim, n, pure=False) for _ in range(2)]) for t in ts]
    times.sort()
    out = {"scenario": "actor", "calls": len(times), "p50_ms": round(statistics.median(times) * 1000, 3),
           "p99_ms": round(times[int(len(times) * 0.99)] * 1000, 3)}
    print(json.dumps(out), file=sys.stderr)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--owners", type=int, default=200)
    ap.add_argument("--limit-owners", type=int, default=60, help="owners in the binding rate-limit scenario")
    ap.add_argument("--rpm", type=int, default=30, help="the binding limit (requests per minute)")
    ap.add_argument("--latency", type=float, default=0.2, help="the scripted model's answer time (s)")
    ap.add_argument("--scenarios", default="sequential,fleet-1,fleet-2,limit,actor")
    ap.add_argument("--out", default=str(HERE / "results" / "fleet.json"))
    a = ap.parse_args()
    os.environ.setdefault("REM_CONFIG", "/nonexistent/rem-bench.toml")  # no user config
    scenarios = a.scenarios.split(",")

    def answer(req: dict[str, Any], n: int) -> Reply:
        return Reply(body=completion(req, good_answer(req)), delay=a.latency)

    def fail(req: dict[str, Any], n: int) -> Reply:
        return Reply(status=500, body={"error": {"message": "scripted outage"}})

    rows = []
    with tempfile.TemporaryDirectory(prefix="rem-fleet-bench-") as d:
        folder = Path(d)
        t0 = time.perf_counter()
        pristine = build(folder, max(a.owners, a.limit_owners))
        build_s = time.perf_counter() - t0
        print(f"built {max(a.owners, a.limit_owners)} owners in {build_s:.0f}s", file=sys.stderr)
        with ScriptedLLM(fail) as bad:
            for sc in scenarios:
                if sc == "actor":
                    rows.append(actor_round_trip())
                    continue
                with ScriptedLLM(answer) as good:
                    n = a.limit_owners if sc == "limit" else a.owners
                    rpm = a.rpm if sc == "limit" else 1_000_000
                    m = stage(pristine, folder / sc, n, good.base_url, bad.base_url, rpm if sc != "sequential" else None)
                    print(f"scenario {sc}: {n} owners", file=sys.stderr)
                    if sc == "sequential":
                        wall, results = sequential(m, n, good, bad.base_url)
                        rows.append(summarize(sc, n, wall, results, list(good.times), None))
                        continue
                    workers = 1 if sc == "fleet-1" else 2
                    man = mf.load(m)
                    t1 = time.perf_counter()
                    res = fr.dream(man, man.owners, workers=workers, threads=1)
                    wall = time.perf_counter() - t1
                    row = summarize(sc, n, wall, res.results, list(good.times), workers)
                    if sc == "limit":
                        row["limit_rpm"] = a.rpm
                        row["limit_held"] = row["max_requests_in_60s"] <= a.rpm
                        row["grants"] = len(res.limiter_grants)
                    rows.append(row)
    out = {"owners": a.owners, "latency_s": a.latency, "build_s_per_owner": round(build_s / max(a.owners, a.limit_owners), 3),
           "damaged": DAMAGED, "model_down": MODEL_DOWN, "cores": os.cpu_count(), "scenarios": rows}
    Path(a.out).write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
