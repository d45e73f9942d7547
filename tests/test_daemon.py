"""`rem daemon`: next-run computation across a daylight-saving change, the
daemon driven by a short cron against the scripted model until it has
dreamed twice, SIGTERM, and the threshold rule."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

from rem.ops.daemon import Daemon, new_activity_since_last_dream, next_run
from rem.store import Store
from scripted_llm import ScriptedLLM
from support import rem_cli

BERLIN = ZoneInfo("Europe/Berlin")


def test_next_run_across_daylight_saving_changes():
    # spring forward: 2026-03-29 02:00 CET → 03:00 CEST
    before = datetime(2026, 3, 28, 4, 0, tzinfo=BERLIN)
    n = next_run("0 3 * * *", before)
    assert (n.year, n.month, n.day, n.hour, n.minute) == (2026, 3, 29, 3, 0)
    assert n.utcoffset() == timedelta(hours=2)
    assert n.astimezone(ZoneInfo("UTC")) - before.astimezone(ZoneInfo("UTC")) == timedelta(hours=22)  # a shorter night
    # fall back: 2026-10-25 03:00 CEST → 02:00 CET
    n2 = next_run("0 3 * * *", datetime(2026, 10, 24, 4, 0, tzinfo=BERLIN))
    assert (n2.day, n2.hour) == (25, 3) and n2.utcoffset() == timedelta(hours=1)
    # every answer agrees with croniter itself over a week spanning the change
    t = datetime(2026, 3, 26, 0, 0, tzinfo=BERLIN)
    it = croniter("15 */6 * * *", t)
    for _ in range(28):
        expect = it.get_next(datetime)
        assert next_run("15 */6 * * *", t) == expect
        t = expect


def test_invalid_cron_is_refused(tmp_path):
    r = rem_cli(tmp_path / "db.duckdb", ["daemon", "--cron", "every night"])
    assert r.exit_code == 1 and "not a valid cron" in r.output


def _env(tmp_path):
    # a busy CI machine must not make the scheduled dreams skip, nor step aside for the other tests' load
    cfg = tmp_path / "config.toml"
    cfg.write_text("[schedule]\nmax_load_per_core = 1000\nmin_available_mb = 0\nyield_other_load = 1000\n")
    return {**os.environ, "REM_CONFIG": str(cfg), "PYTHONUNBUFFERED": "1"}


def _seed(db, tmp_path, n=1):
    f = tmp_path / "r.jsonl"
    now = datetime.now().astimezone()
    f.write_text("".join(json.dumps({"name": f"note {i}", "content": "DiskANN notes", "resource_type": "note",
                                     "created_at": (now - timedelta(minutes=10 + i)).isoformat()}) + "\n" for i in range(n)))
    assert rem_cli(db, ["ingest", "jsonl", str(f), "--kind", "resources"]).exit_code == 0


def test_daemon_dreams_twice_then_stops_on_sigterm(tmp_path):
    db = tmp_path / "rem.duckdb"
    _seed(db, tmp_path)
    with ScriptedLLM() as srv:
        p = subprocess.Popen([sys.executable, "-m", "rem", "--db", str(db), "daemon", "--cron", "* * * * * */2",
                              "--llm", "scripted", "--llm-base-url", srv.base_url], env=_env(tmp_path),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        store = Store(db)
        deadline = time.time() + 60
        n = 0
        while time.time() < deadline:
            time.sleep(0.5)
            try:
                with store.read() as con:
                    n = con.execute("select count(*) from dream_runs where trigger = 'daemon' and status in ('ok', 'nothing_to_do')").fetchall()[0][0]
            except Exception:  # the daemon may hold the file for a moment
                continue
            if n >= 2:
                break
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
    assert n >= 2, out + err
    assert p.returncode == 0, err
    assert "stopped after" in out
    with store.read() as con:
        statuses = [r[0] for r in con.execute("select status from dream_runs order by started_at").fetchall()]
    assert statuses[0] == "ok" and all(s in ("ok", "nothing_to_do", "interrupted") for s in statuses)


def test_threshold_rule(tmp_path):
    db = tmp_path / "rem.duckdb"
    store = Store(db)
    store.init()
    assert new_activity_since_last_dream(store) == 0
    _seed(db, tmp_path, n=3)
    assert new_activity_since_last_dream(store) == 3
    reasons = []
    d = Daemon(store, "0 3 1 1 *", reasons.append, threshold=3, check_every=0.05, max_runs=1)
    t = time.monotonic()
    assert d.run() == 1 and time.monotonic() - t < 10
    assert reasons and reasons[0].startswith("threshold (3 new items")
    d2 = Daemon(store, "0 3 1 1 *", reasons.append, threshold=4, check_every=0.05, max_runs=1)
    import threading

    threading.Timer(1.0, d2.stop.set).start()
    assert d2.run() == 0  # below the threshold: nothing


def test_dream_if_new_skips_and_records_why(tmp_path):
    db = tmp_path / "rem.duckdb"
    _seed(db, tmp_path, n=2)
    r = rem_cli(db, ["dream", "--if-new", "5", "--llm", "x", "--llm-base-url", "http://127.0.0.1:9/v1"])
    assert r.exit_code == 0 and "skipped: only 2 new" in r.output
    with Store(db).read() as con:
        assert con.execute("select status, reason from dream_runs").fetchall()[0][0] == "skipped"


def test_sigterm_while_the_daemons_dream_waits_on_the_model(tmp_path):
    """The acceptance case: kill -TERM during the second dream → that run is
    `interrupted`, the daemon exits promptly, the data stays consistent."""
    from scripted_llm import Reply, completion, good_answer
    from support import check_consistent

    db = tmp_path / "rem.duckdb"
    _seed(db, tmp_path)
    slow = {"on": False}
    with ScriptedLLM(lambda req, n: Reply(delay=120 if slow["on"] else 0, body=completion(req, good_answer(req)))) as srv:
        p = subprocess.Popen([sys.executable, "-m", "rem", "--db", str(db), "daemon", "--cron", "* * * * * */2",
                              "--llm", "scripted", "--llm-base-url", srv.base_url], env=_env(tmp_path),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        store = Store(db)
        deadline = time.time() + 60
        while time.time() < deadline and not srv.requests:
            time.sleep(0.2)
        time.sleep(1.0)
        slow["on"] = True
        fresh = tmp_path / "fresh.jsonl"  # new activity, after the first dream's window, for the next one
        fresh.write_text(json.dumps({"id": "fresh", "name": "fresh note", "content": "DiskANN recall", "resource_type": "note",
                                     "created_at": datetime.now(UTC).isoformat()}) + "\n")
        assert rem_cli(db, ["ingest", "jsonl", str(fresh), "--kind", "resources"]).exit_code == 0
        n0 = len(srv.requests)
        while time.time() < deadline and len(srv.requests) == n0:
            time.sleep(0.2)
        assert len(srv.requests) > n0, "the second dream never called the model"
        t = time.time()
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
        stopped_in = time.time() - t
    assert p.returncode == 0, err
    assert stopped_in < 20, f"the daemon took {stopped_in:.0f}s to stop"
    with store.read() as con:
        rows = con.execute("select status, reason from dream_runs where trigger = 'daemon' order by started_at").fetchall()
    assert rows[0][0] == "ok" and rows[-1][0] == "interrupted" and "SIGTERM" in rows[-1][1], rows
    assert not check_consistent(store)
