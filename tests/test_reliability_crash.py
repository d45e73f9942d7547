"""Crash consistency: the dreaming process is SIGKILLed at every SQL
statement it runs (a failpoint in rem.store) and at random times during the
persist step; afterwards the database opens, nothing half-written is
visible, and the next dream covers the lost work."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rem import store as store_mod
from rem.store import Store
from scripted_llm import ScriptedLLM
from support import DAY, FULL, WEEK, check_consistent, copy_store, dream_window, scale

REM = [sys.executable, "-m", "rem"]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def base_db(demo_week, tmp_path_factory):
    """The demo week, with one day already dreamed (so a week dream supersedes,
    merges and reinforces)."""
    st = copy_store(demo_week, tmp_path_factory.mktemp("crashbase"))
    with ScriptedLLM() as srv:
        r = dream_window(st, srv, DAY)
    assert r.status == "ok"
    return st.path


def _counts(st: Store) -> dict[str, int]:
    with st.read() as con:
        return {t: con.execute(f"select count(*) from {t}").fetchall()[0][0] for t in ("resources", "sessions", "messages")}


def _kill_run(db: Path, url: str, env_extra: dict[str, str], kill_after: float | None = None, srv=None) -> int:
    env = {**os.environ, "REM_CONFIG": str(db.parent / "none.toml"), **env_extra}
    for v in ("REM_LLM_MODEL", "REM_LLM_BASE_URL", "OPENAI_API_KEY", "REM_LLM_API_KEY", "REM_DB"):
        env.pop(v, None)
    p = subprocess.Popen([*REM, "--db", str(db), "dream", "--start", WEEK[0], "--end", WEEK[1], "--llm", "scripted",
                          "--llm-base-url", url], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if kill_after is not None:
        # wait until the model has answered every chunk, then kill somewhere in resolve/persist
        deadline = time.monotonic() + 60
        while p.poll() is None and time.monotonic() < deadline and not srv.all_answered.is_set():
            time.sleep(0.005)
        time.sleep(kill_after)
        if p.poll() is None:
            p.kill()
    return p.wait(timeout=120)


def _recover_and_check(db: Path, srv, ingested: dict[str, int]) -> tuple[bool, int]:
    st = Store(db)
    bad = check_consistent(st)
    lost = sum(max(0, ingested[t] - c) for t, c in _counts(st).items())
    r = dream_window(st, srv, WEEK)
    bad += [f"after the next dream: {b}" for b in check_consistent(st)]
    with st.read() as con:
        uncovered = con.execute("""select count(*) from messages where created_at >= '2026-11-09' and created_at < '2026-11-16'
                                   and id not in (select unnest(message_ids) from moments)""").fetchall()[0][0]
        running = con.execute("select count(*) from dream_runs where status = 'running'").fetchall()[0][0]
    if r.status != "ok" or uncovered or running:
        bad.append(f"next dream {r.status}, {uncovered} messages uncovered, {running} runs left running")
    return not bad, lost + (1 if bad else 0)


def test_sigkill_at_every_statement_and_random_times(base_db, tmp_path, tally):
    ingested = _counts(Store(base_db))
    # how many statements a whole week dream runs (measured in-process on a copy)
    probe = tmp_path / "probe.duckdb"
    shutil.copy(base_db, probe)
    with ScriptedLLM() as srv:
        before = store_mod.statements_run()
        dream_window(Store(probe), srv, WEEK)
        total = store_mod.statements_run() - before
        n_chunks = len(srv.requests)
    assert total > 20
    rng = random.Random(7)
    points = list(range(1, total + 8)) if FULL else sorted(rng.sample(range(1, total + 8), 10))
    survived = lost = tried = killed = 0
    failures = []
    with ScriptedLLM() as srv:
        for k in points:
            db = tmp_path / f"k{k}.duckdb"
            shutil.copy(base_db, db)
            rc = _kill_run(db, srv.base_url, {"REM_FAILPOINT_KILL_AT": str(k)})
            tried += 1
            killed += rc == -9
            assert rc == -9 or k > total - 5, f"statement {k} of {total}: exit {rc}"
            ok, n_lost = _recover_and_check(db, srv, ingested)
            survived += ok
            lost += n_lost
            if not ok:
                failures.append((k, rc))
            db.unlink()
    tally("crash: SIGKILL at every SQL statement of a dream" if FULL else "crash: SIGKILL at sampled SQL statements", tried, survived, lost)
    assert not failures, failures
    # kills at random times once the model has answered (resolve + persist + digest)
    timed = scale(4, 60)
    survived_t = lost_t = 0
    failures = []
    for i in range(timed):
        db = tmp_path / f"t{i}.duckdb"
        shutil.copy(base_db, db)
        with ScriptedLLM() as srv:
            srv.all_answered = _AnsweredAfter(srv, n_chunks)
            _kill_run(db, srv.base_url, {}, kill_after=rng.uniform(0.0, 0.6), srv=srv)
            ok, n_lost = _recover_and_check(db, srv, ingested)
        survived_t += ok
        lost_t += n_lost
        if not ok:
            failures.append(i)
        db.unlink()
    tally("crash: SIGKILL at random times after the model answered", timed, survived_t, lost_t)
    assert not failures, failures


class _AnsweredAfter:
    """is_set() once the server has answered ``n`` requests."""

    def __init__(self, srv, n: int) -> None:
        self.srv, self.n = srv, n

    def is_set(self) -> bool:
        return len(self.srv.requests) >= self.n
