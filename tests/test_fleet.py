"""`rem fleet`: many owners' dreams on a real Dask LocalCluster, against the
scripted OpenAI-compatible server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import threading
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from rem.fleet import manifest as mf
from rem.fleet.ratelimit import SlidingWindow, max_in_window
from rem.store import Store
from scripted_llm import Reply, ScriptedLLM, completion, default_script, good_answer
from support import check_consistent, q, rem_cli

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def one_day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding one generated day (yesterday), to copy for each owner."""
    from rem.demo import generate
    from rem.ingest import ingest_demo

    folder = tmp_path_factory.mktemp("owner-day")
    store = Store(folder / "rem.duckdb")
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    generate(folder / "activity", seed=11, days=1, end_date=yesterday)
    ingest_demo(store, folder / "activity")
    return store.path


def _owners(tmp: Path, one_day: Path, ids: list[str]) -> list[Path]:
    out = []
    for i in ids:
        p = tmp / i / "rem.duckdb"
        p.parent.mkdir()
        shutil.copy(one_day, p)
        out.append(p)
    return out


def _manifest(tmp: Path, base_url: str, ids: list[str], extra: str = "", owner_extra: dict[str, str] | None = None) -> Path:
    lines = ['allow_query = true', 'retries = 2', 'backoff_s = 0.2', extra,
             '[llm]', f'base_url = "{base_url}"', 'model = "scripted"']
    for i in ids:
        lines += ['[[owners]]', f'id = "{i}"', f'db = "{i}/rem.duckdb"', (owner_extra or {}).get(i, "")]
    p = tmp / "owners.toml"
    p.write_text("\n".join(lines) + "\n")
    return p


@pytest.fixture
def fleet_env(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # the workers are new processes: they inherit the environment (no config file, reports in tmp)
    monkeypatch.delenv("REM_DB", raising=False)
    return isolated


# -- the manifest ---------------------------------------------------------------------------
def test_manifest_toml_and_csv(tmp_path: Path) -> None:
    m = _manifest(tmp_path, "http://127.0.0.1:9/v1", ["alice", "bob"],
                  extra='schedule = "30 2 * * *"\n[[rate_limits]]\nendpoint = "*"\nrequests_per_minute = 60',
                  owner_extra={"bob": 'schedule = "0 4 * * *"\nquiet_hours = ["Sat-Sun 00:00-23:59"]'})
    got = mf.load(m)
    assert [o.id for o in got.owners] == ["alice", "bob"]
    assert got.owners[0].db == (tmp_path / "alice" / "rem.duckdb").resolve()
    assert got.owners[0].schedule == "30 2 * * *" and got.owners[1].schedule == "0 4 * * *"
    assert got.owners[1].quiet_hours == ("Sat-Sun 00:00-23:59",)
    assert got.owners[0].base_url == "http://127.0.0.1:9/v1" and got.allow_query
    assert got.limit_for("http://anything/v1/chat/completions").requests_per_minute == 60

    c = tmp_path / "owners.csv"
    c.write_text("id,db,model\nalice,a.duckdb,gpt-4o-mini\nbob,/srv/b.duckdb,\n")
    got = mf.load(c)
    assert [(o.id, o.model) for o in got.owners] == [("alice", "gpt-4o-mini"), ("bob", None)]
    assert got.owners[1].db == Path("/srv/b.duckdb") and not got.allow_query


@pytest.mark.parametrize(("text", "says"), [
    ('[[owners]]\nid = "a"\ndb = "a.duckdb"\nschedul = "0 3 * * *"', "did you mean 'schedule'"),
    ('[[owners]]\nid = "a"\ndb = "a.duckdb"\n[[owners]]\nid = "a"\ndb = "b.duckdb"', "appears twice"),
    ('[[owners]]\nid = "a"\ndb = "x.duckdb"\n[[owners]]\nid = "b"\ndb = "./x.duckdb"', "share the database"),
    ('[[owners]]\nid = "a b"\ndb = "a.duckdb"', "must be 1-128 letters"),
    ('[[owners]]\nid = "a"\ndb = "a.duckdb"\nschedule = "every night"', "not a cron expression"),
    ('[[owners]]\nid = "a"\ndb = "a.duckdb"\napi_key_env = "sk-live-123"', "names an environment variable"),
    ('[[owners]]\nid = "a"\ndb = "a.duckdb"\nquiet_hours = ["lunch"]', "quiet hours"),
    ('[[rate_limits]]\nendpoint = "*"\n[[owners]]\nid = "a"\ndb = "a.duckdb"', "requests_per_minute, tokens_per_minute"),
    ('[[rate_limits]]\nendpoint = "*"\nrequests_per_minute = 0\n[[owners]]\nid = "a"\ndb = "a.duckdb"', "at least 1"),
    ('allow_query = "yes"\n[[owners]]\nid = "a"\ndb = "a.duckdb"', "allow_query must be"),
    ('owners = 3', "no owners"),
    ('[[owners]\nid = "a"', "not valid TOML"),
])
def test_manifest_mistakes_are_clear_errors(tmp_path: Path, text: str, says: str) -> None:
    m = tmp_path / "owners.toml"
    m.write_text(text)
    r = rem_cli(tmp_path / "x.duckdb", ["fleet", "status", str(m)])
    assert r.exit_code == 1, r.output
    assert says in r.output and str(m) in r.output and "Traceback" not in r.output


def test_missing_manifest_and_unknown_owner(tmp_path: Path) -> None:
    r = rem_cli(tmp_path / "x.duckdb", ["fleet", "status", str(tmp_path / "nope.toml")])
    assert r.exit_code == 1 and "no manifest at" in r.output
    m = _manifest(tmp_path, "http://127.0.0.1:9/v1", ["alice"])
    r = rem_cli(tmp_path / "x.duckdb", ["fleet", "status", str(m), "--owner", "alcie"])
    assert r.exit_code == 1 and "did you mean 'alice'" in r.output


# -- the rate limit's arithmetic -----------------------------------------------------------------
def test_sliding_window_never_exceeds_either_limit() -> None:
    rng = random.Random(5)
    for _ in range(50):
        rpm, tpm, w = rng.randint(1, 8), rng.randint(100, 2000), rng.uniform(0.5, 5)
        win = SlidingWindow(rpm, tpm, window_s=w, margin_s=0)
        now, grants = 0.0, []
        for _ in range(60):
            now += rng.expovariate(4.0)
            tok = rng.randint(1, 600)
            at = win.reserve(tok, now)
            assert at >= now
            grants.append((at, tok))
        times = [g[0] for g in grants]
        assert times == sorted(times)  # first come, first served
        assert max_in_window(times, w) <= rpm
        for t0, _ in grants:  # tokens in the window that starts at each grant
            inside = [k for t, k in grants if t0 <= t < t0 + w]
            assert sum(inside) <= tpm or len(inside) == 1


# -- on a LocalCluster -----------------------------------------------------------------------------
def test_fleet_dream_three_ok_one_damaged_fails_alone(tmp_path: Path, one_day: Path, fleet_env: Path) -> None:
    ids = ["alice", "bob", "carol", "dave"]
    paths = _owners(tmp_path, one_day, ids)
    paths[3].write_bytes(paths[3].read_bytes()[:5000])  # dave's file is damaged
    with ScriptedLLM() as srv:
        m = _manifest(tmp_path, srv.base_url, ids)
        r = rem_cli(tmp_path / "x.duckdb", ["fleet", "dream", str(m), "--workers", "2", "--json"])
    assert r.exit_code == 1, r.output  # one owner failed
    rows = {x["owner"]: x for x in json.loads(r.stdout[r.stdout.index("["):r.stdout.rindex("]") + 1])}
    assert {o: rows[o]["status"] for o in ids} == {"alice": "ok", "bob": "ok", "carol": "ok", "dave": "failed"}
    assert "cannot open database" in rows["dave"]["error"] and rows["dave"]["attempts"] == 1  # not transient
    for p in paths[:3]:
        st = Store(p)
        assert check_consistent(st) == []
        assert q(st, "select count(*) from dream_runs where trigger = 'fleet'")[0][0] == 1
        assert q(st, "select count(*) from moments")[0][0] > 0
    # status: one table, dave failed and why, exit 1
    s = rem_cli(tmp_path / "x.duckdb", ["fleet", "status", str(m), "--json"])
    assert s.exit_code == 1
    st_rows = {x["owner"]: x for x in json.loads(s.stdout)}
    assert [st_rows[o]["status"] for o in ids[:3]] == ["ok"] * 3
    assert st_rows["dave"]["status"] == "failed" and "cannot read the database" in st_rows["dave"]["note"]
    assert "1 owner(s) failed: dave" in s.stderr
    # nobody is due again until their schedule fires; --all dreams them (nothing new: nothing_to_do)
    with ScriptedLLM() as srv:
        m = _manifest(tmp_path, srv.base_url, ids[:3])
        r2 = rem_cli(tmp_path / "x.duckdb", ["fleet", "dream", str(m), "--json"])
        assert r2.exit_code == 0 and "nothing due" in r2.stderr and not srv.requests
        r3 = rem_cli(tmp_path / "x.duckdb", ["fleet", "dream", str(m), "--all", "--json"])
    assert r3.exit_code == 0, r3.output
    assert {x["status"] for x in json.loads(r3.stdout[r3.stdout.index("["):])} == {"nothing_to_do"}
    # fleet query: every owner's moments with an owner column; writes refused
    qr = rem_cli(tmp_path / "x.duckdb", ["fleet", "query", str(m), "--json",
                                         "select owner, count(*) as n from moments group by owner order by owner"])
    assert qr.exit_code == 0, qr.output
    got = json.loads(qr.stdout)
    assert [g["owner"] for g in got] == ids[:3] and all(g["n"] > 0 for g in got)
    for sql in ("delete from moments", "create table owner_0.main.x(i int)", "copy moments to '/tmp/x.csv'",
                "attach '/tmp/y.duckdb' as y", "select * from read_csv('/etc/passwd')"):
        bad = rem_cli(tmp_path / "x.duckdb", ["fleet", "query", str(m), sql])
        assert bad.exit_code != 0 and "Traceback" not in bad.output, (sql, bad.output)
    assert all(q(Store(p), "select count(*) from moments")[0][0] > 0 for p in paths[:3])


def test_fleet_query_refused_unless_allowed(tmp_path: Path, one_day: Path, fleet_env: Path) -> None:
    _owners(tmp_path, one_day, ["alice"])
    m = _manifest(tmp_path, "http://127.0.0.1:9/v1", ["alice"])
    m.write_text(m.read_text().replace("allow_query = true", "allow_query = false"))
    r = rem_cli(tmp_path / "x.duckdb", ["fleet", "query", str(m), "select 1"])
    assert r.exit_code == 1 and "allow_query = true" in r.output


def test_model_failing_for_one_owner_and_transient_failures_retried(tmp_path: Path, one_day: Path,
                                                                     fleet_env: Path) -> None:
    ids = ["ok1", "flaky", "down"]
    _owners(tmp_path, one_day, ids)
    calls = {"n": 0}

    def flaky(req: dict[str, Any], n: int) -> Reply:
        calls["n"] += 1
        if calls["n"] <= 4:  # more than the client's own retries: the fleet's backoff takes over
            return Reply(status=503, body={"error": {"message": "overloaded"}})
        return Reply(body=completion(req, good_answer(req)))

    with ScriptedLLM() as good, ScriptedLLM(flaky) as bad:
        m = _manifest(tmp_path, good.base_url, ids, owner_extra={
            "flaky": f'base_url = "{bad.base_url}"',
            "down": 'base_url = "http://127.0.0.1:9/v1"'})  # nothing listens there
        r = rem_cli(tmp_path / "x.duckdb", ["fleet", "dream", str(m), "--json"])
    rows = {x["owner"]: x for x in json.loads(r.stdout[r.stdout.index("["):r.stdout.rindex("]") + 1])}
    assert r.exit_code == 1
    assert rows["ok1"]["status"] == "ok" and rows["ok1"]["attempts"] == 1
    assert rows["flaky"]["status"] == "ok" and rows["flaky"]["attempts"] == 2, rows["flaky"]
    assert rows["down"]["status"] == "failed" and rows["down"]["attempts"] == 3  # retries = 2
    assert "cannot reach the model endpoint" in rows["down"]["error"]
    s = json.loads(rem_cli(tmp_path / "x.duckdb", ["fleet", "status", str(m), "--json"]).stdout)
    assert {x["owner"]: x["status"] for x in s} == {"ok1": "ok", "flaky": "ok", "down": "failed"}


def test_rate_limit_holds_across_workers(tmp_path: Path, one_day: Path, fleet_env: Path) -> None:
    from distributed import Client, LocalCluster

    from rem.fleet import run as fr

    ids = [f"o{i}" for i in range(8)]
    _owners(tmp_path, one_day, ids)
    limit, window = 2, 2.0
    with ScriptedLLM() as srv:
        m = _manifest(tmp_path, srv.base_url, ids,
                      extra=f'[[rate_limits]]\nendpoint = "{srv.base_url}"\nrequests_per_minute = {limit}')
        with LocalCluster(n_workers=2, threads_per_worker=2, processes=True, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            res = fr.dream(mf.load(m), mf.load(m).owners, client=client, window_s=window)
        arrivals = list(srv.times)
    assert [r["status"] for r in res.results] == ["ok"] * len(ids)
    assert len({r["worker"] for r in res.results}) == 2  # both workers dreamed
    assert len(arrivals) > 2 * limit  # enough requests that the limit had to act
    assert max_in_window(arrivals, window) <= limit
    assert len(res.limiter_grants) == len(arrivals)
    assert max(arrivals) - min(arrivals) >= window * (len(arrivals) // limit - 1)


def test_worker_killed_mid_dream_leaves_the_store_consistent(tmp_path: Path, one_day: Path, fleet_env: Path) -> None:
    from distributed import Client, LocalCluster

    from rem.fleet import run as fr

    _owners(tmp_path, one_day, ["alice"])
    started = threading.Event()

    def slow_first(req: dict[str, Any], n: int) -> Reply:
        if n == 0:
            started.set()
            return Reply(body=completion(req, good_answer(req)), delay=30)
        return default_script(req, n)

    with ScriptedLLM(slow_first) as srv:
        m = mf.load(_manifest(tmp_path, srv.base_url, ["alice"]))
        with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            pids = list(client.run(os.getpid).values())
            killer = threading.Thread(target=lambda: started.wait(60) and os.kill(pids[0], signal.SIGKILL))
            killer.start()
            res = fr.dream(m, m.owners, client=client)
            killer.join()
    st = Store(tmp_path / "alice" / "rem.duckdb")
    assert check_consistent(st) == []
    assert res.results[0]["status"] == "ok", res.results  # Dask ran the task again on the restarted worker
    # the killed run (whichever dreamed yesterday: the scheduled window's or, past midnight's 24 hours, the
    # late day's) wrote nothing and was marked interrupted when the retried task took its lock over; a later
    # run wrote the day
    runs = [r[0] for r in q(st, "select status from dream_runs where status <> 'nothing_to_do' order by started_at")]
    assert runs.count("interrupted") == 1 and runs[-1] == "ok", runs
    assert runs.index("interrupted") < len(runs) - 1
    assert q(st, "select count(*) from moments")[0][0] > 0


def test_on_a_real_scheduler_started_from_the_dask_cli(tmp_path: Path, one_day: Path, fleet_env: Path) -> None:
    """`--scheduler`: a cluster the user started with `dask scheduler` and `dask worker`."""
    import subprocess
    import sys
    import time

    dask = str(Path(sys.executable).with_name("dask"))
    sched_file = tmp_path / "scheduler.json"
    procs = [subprocess.Popen([dask, "scheduler", "--scheduler-file", str(sched_file), "--port", "0",
                               "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        deadline = time.monotonic() + 60
        while not sched_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        procs.append(subprocess.Popen([dask, "worker", "--scheduler-file", str(sched_file), "--nthreads", "1",
                                       "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        address = json.loads(sched_file.read_text())["address"]
        _owners(tmp_path, one_day, ["alice", "bob"])
        with ScriptedLLM() as srv:
            m = _manifest(tmp_path, srv.base_url, ["alice", "bob"])
            r = rem_cli(tmp_path / "x.duckdb", ["fleet", "dream", str(m), "--scheduler", address, "--json"])
        assert r.exit_code == 0, r.output
        assert [x["status"] for x in json.loads(r.stdout[r.stdout.index("["):])] == ["ok", "ok"]
        assert f"on {address}" in r.stderr
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait(30)


def test_unreachable_scheduler_is_a_clear_error(tmp_path: Path, one_day: Path, fleet_env: Path) -> None:
    _owners(tmp_path, one_day, ["alice"])
    m = _manifest(tmp_path, "http://127.0.0.1:9/v1", ["alice"])
    r = rem_cli(tmp_path / "x.duckdb", ["fleet", "dream", str(m), "--scheduler", "tcp://127.0.0.1:9"])
    assert r.exit_code == 1 and "cannot reach the Dask scheduler tcp://127.0.0.1:9" in r.output
    assert "Traceback" not in r.output


def test_a_journal_that_cannot_be_written_stops_before_any_dream(tmp_path: Path, one_day: Path,
                                                                 fleet_env: Path) -> None:
    _owners(tmp_path, one_day, ["alice"])
    m = _manifest(tmp_path, "http://127.0.0.1:9/v1", ["alice"])
    (tmp_path / "owners.toml.fleet.jsonl").mkdir()  # in the journal's place
    r = rem_cli(tmp_path / "x.duckdb", ["fleet", "dream", str(m)])
    assert r.exit_code == 1 and "cannot use the fleet's journal" in r.output and "Traceback" not in r.output
    assert q(Store(tmp_path / "alice" / "rem.duckdb"), "select count(*) from dream_runs")[0][0] == 0
