"""The database under stress: a full disk, damaged files, hostile SQL in
`rem query`, and many readers while a dream writes."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rem.store import Store
from scripted_llm import Reply, ScriptedLLM, completion, good_answer
from support import check_consistent, rem_cli, scale

REM = [sys.executable, "-m", "rem"]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_db(demo_week):
    return demo_week


def _env(tmp: Path) -> dict[str, str]:
    env = {**os.environ, "REM_CONFIG": str(tmp / "none.toml"), "REM_REPORTS_DIR": str(tmp / "reports")}
    for v in ("REM_LLM_MODEL", "REM_LLM_BASE_URL", "OPENAI_API_KEY", "REM_LLM_API_KEY", "REM_DB"):
        env.pop(v, None)
    return env


def _rem(db: Path, tmp: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*REM, "--db", str(db), *args], capture_output=True, text=True, env=_env(tmp), timeout=timeout)


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _counts(db: Path) -> dict[str, int]:
    with Store(db).read() as con:
        return {t: con.execute(f"select count(*) from {t}").fetchall()[0][0]
                for t in ("resources", "sessions", "messages", "moments", "edges", "dream_runs")}


# -- a full disk -----------------------------------------------------------------------
DISK_FULL_SCRIPT = r'''
import json, os, shutil, subprocess, sys
base, work, rem_json = sys.argv[1], sys.argv[2], sys.argv[3]
cmds = json.loads(rem_json)
mnt = os.path.join(work, "mnt")
os.makedirs(mnt, exist_ok=True)
size = os.path.getsize(base) + 3 * 1024 * 1024
subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", mnt], check=True)
db = os.path.join(mnt, "rem.duckdb")
shutil.copy(base, db)
st = os.statvfs(mnt)
free = st.f_bavail * st.f_frsize
with open(os.path.join(mnt, "filler"), "wb") as f:
    f.write(b"\0" * max(0, free - 96 * 1024))
out = []
for args in cmds:
    p = subprocess.run([sys.executable, "-m", "rem", "--db", db, *args], capture_output=True, text=True, timeout=300)
    out.append({"args": args, "rc": p.returncode, "stdout": p.stdout[-2000:], "stderr": p.stderr[-3000:]})
shutil.copy(db, os.path.join(work, "after.duckdb"))
wal = db + ".wal"
if os.path.exists(wal):
    shutil.copy(wal, os.path.join(work, "after.duckdb.wal"))
print(json.dumps(out))
'''


def test_disk_full_fails_clearly_and_keeps_the_data(demo_db, tmp_path, tally):
    if not shutil.which("unshare"):
        pytest.skip("needs unshare (util-linux) to mount a small tmpfs without privileges")
    big = tmp_path / "big.jsonl"
    big.write_text("".join(json.dumps({"id": f"big{i}", "name": "n", "content": f"{i} " + "x" * 800, "resource_type": "note",
                                       "created_at": "2026-11-12T09:00:00Z"}) + "\n" for i in range(20000)))
    script = tmp_path / "diskfull.py"
    script.write_text(DISK_FULL_SCRIPT)
    before = _counts(demo_db)
    with ScriptedLLM() as srv:
        cmds = [["ingest", "jsonl", str(big), "--kind", "resources"],
                ["dream", "--start", "2026-11-09", "--end", "2026-11-15", "--llm", "scripted", "--llm-base-url", srv.base_url]]
        p = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", sys.executable, str(script), str(demo_db),
                            str(tmp_path), json.dumps(cmds)], capture_output=True, text=True, env=_env(tmp_path), timeout=600)
    if p.returncode != 0 and "mount" in p.stderr and "Operation not permitted" in p.stderr:
        pytest.skip(f"cannot mount a tmpfs here: {p.stderr.strip()[-200:]}")
    assert p.returncode == 0, p.stderr[-3000:]
    results = json.loads(p.stdout.strip().splitlines()[-1])
    survived = 0
    for r in results:
        clear = r["rc"] != 0 and "disk full" in r["stderr"] and "Traceback" not in r["stderr"]
        survived += clear
        assert clear, r
    after = _counts(tmp_path / "after.duckdb")
    lost = sum(max(0, before[t] - after[t]) for t in ("resources", "sessions", "messages", "moments", "edges"))
    assert after["resources"] == before["resources"] and lost == 0, (before, after)
    assert not check_consistent(Store(tmp_path / "after.duckdb"))
    tally("disk full: ingest and dream on a full tmpfs", len(results), survived, lost)


# -- damaged files -----------------------------------------------------------------------
def _damage(kind: str, src: Path, dst: Path) -> None:
    data = bytearray(src.read_bytes())
    if kind == "truncated to half":
        data = data[: len(data) // 2]
    elif kind == "truncated to 100 bytes":
        data = data[:100]
    elif kind == "header overwritten":
        data[0:4096] = os.urandom(4096)
    elif kind.startswith("garbage in the middle"):
        off = len(data) // 3 if "1/3" in kind else (2 * len(data)) // 3
        data[off: off + 8192] = os.urandom(8192)
    elif kind == "not a database at all":
        data = bytearray(b"hello, I am a text file\n" * 100)
    dst.write_bytes(bytes(data))


DAMAGE = ["truncated to half", "truncated to 100 bytes", "header overwritten", "garbage in the middle (1/3)",
          "garbage in the middle (2/3)", "not a database at all"]


@pytest.mark.parametrize("kind", DAMAGE)
def test_a_damaged_database_gives_a_clear_error_and_is_not_overwritten(demo_db, tmp_path, kind, tally):
    db = tmp_path / "rem.duckdb"
    _damage(kind, demo_db, db)
    digest = _sha(db)
    (tmp_path / "none.jsonl").write_text("")
    doctor = _rem(db, tmp_path, "doctor")
    reads = [_rem(db, tmp_path, *args) for args in (["query", "select count(*) as n, sum(hash(m)) as h from messages m"],
                                                     ["moments", "--since", "2026-11-01"], ["graph", "stats"], ["runs"])]
    unchanged_by_reads = _sha(db) == digest
    writes = [_rem(db, tmp_path, *args) for args in (["ingest", "jsonl", str(tmp_path / "none.jsonl"), "--kind", "resources"],
                                                      ["dream", "--start", "2026-11-12", "--end", "2026-11-12", "--llm", "x",
                                                       "--llm-base-url", "http://127.0.0.1:9/v1"])]
    every = [doctor, *reads, *writes]
    text = [p.stdout + p.stderr for p in every]
    refused_to_open = "REM did not change the file" in text[1]
    flagged = doctor.returncode != 0 and "[FAIL] database" in doctor.stdout
    checks = {
        "no traceback": all("Traceback" not in t for t in text),
        "reads leave the file alone": unchanged_by_reads,
        # when DuckDB refuses the file, every command says so and nothing (not even a write) touches it
        "refused everywhere": not refused_to_open or (all(p.returncode != 0 for p in every) and _sha(db) == digest),
        # the doctor reads every row: any damage a command ran into, it reports with what to do
        "doctor finds what commands hit": flagged or not any("checksum" in t or "Corrupt" in t for t in text),
        "doctor says what to do": not flagged or "backup" in doctor.stdout,
    }
    ok = all(checks.values())
    tally("damaged database files (truncated, overwritten, not a database)", 1, int(ok), 0 if unchanged_by_reads else 1)
    assert ok, (kind, checks, [t[-400:] for t in text])


# -- hostile SQL ------------------------------------------------------------------------------
HOSTILE_SQL = [
    "copy resources to '{tmp}/out.csv'", "copy (select 1) to '{tmp}/out.parquet' (format parquet)",
    "export database '{tmp}/exp'", "attach '{tmp}/other.duckdb' as o", "attach ':memory:' as m2",
    "select * from read_text('/etc/passwd')", "select * from read_csv('/etc/passwd')", "select * from '/etc/hosts'",
    "select * from read_blob('/etc/hostname')", "select * from glob('/etc/*')", "select * from read_json('/etc/os-release')",
    "select * from read_parquet('{tmp}/x.parquet')", "install httpfs", "load httpfs", "force install fts",
    "set enable_external_access = true", "set lock_configuration = false", "set threads = 64", "set memory_limit = '1TB'",
    "pragma enable_profiling", "set temp_directory = '{tmp}/spill'", "create secret s (type s3, key_id 'a', secret 'b')",
    "insert into resources (id, resource_type, created_at) values ('z', 'note', now())", "delete from moments",
    "update edges set weight = 0", "drop table resources", "create table evil as select 1", "alter table resources add column x int",
    "checkpoint", "vacuum", "create macro evil() as 1", "call pragma_database_size()",
    "select 1; delete from resources", "copy resources from '{tmp}/in.csv'",
]


def test_query_cannot_change_anything_or_touch_files(demo_db, tmp_path, tally):
    db = tmp_path / "rem.duckdb"
    shutil.copy(demo_db, db)
    (tmp_path / "in.csv").write_text("id\nz\n")
    digest = _sha(db)
    before = set(os.listdir(tmp_path))
    refused = 0
    allowed = []
    for sql in HOSTILE_SQL:
        r = rem_cli(db, ["query", sql.format(tmp=tmp_path)])
        if r.exit_code != 0 and "Traceback" not in r.output:
            refused += 1
        else:
            allowed.append((sql, r.exit_code, r.output[-200:]))
    created = set(os.listdir(tmp_path)) - before
    # reading the database's own catalogue is harmless; every other statement must be refused
    harmless = {"call pragma_database_size()", "checkpoint", "vacuum"}  # no-ops on a read-only file (its hash is checked)
    unexpected = [a for a in allowed if a[0] not in harmless]
    ok = not unexpected and not created and _sha(db) == digest
    tally("rem query sandbox: writes, file access, ATTACH, INSTALL/LOAD, settings", len(HOSTILE_SQL),
          refused + len([a for a in allowed if a[0] in harmless]), 0 if ok else 1)
    assert ok, (unexpected, created)


# -- readers while a dream writes ------------------------------------------------------------------
CHECK_SQL = """select (select count(*) from moments m where not exists (select 1 from dream_runs r
                       where r.id = m.dream_run_id and r.status = 'ok'))
                    + (select count(*) from dream_runs r where r.status = 'ok'
                       and coalesce(r.moments_created, 0) + coalesce(r.moments_merged, 0)
                           <> (select count(*) from moments m where m.dream_run_id = r.id)) as violations,
                      (select count(*) from moments) as moments"""


def test_many_queries_while_a_dream_persists(demo_db, tmp_path, tally):
    db = tmp_path / "rem.duckdb"
    shutil.copy(demo_db, db)
    n_queries = scale(12, 50)
    results = []
    with ScriptedLLM(lambda req, n: Reply(delay=0.05, body=completion(req, good_answer(req)))) as srv:
        dream = subprocess.Popen([*REM, "--db", str(db), "dream", "--start", "2026-11-09", "--end", "2026-11-15", "--llm", "scripted",
                                  "--llm-base-url", srv.base_url, "--max-input-tokens", "600", "--json"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(tmp_path))
        started = 0
        running: list[subprocess.Popen] = []
        t0 = time.monotonic()
        while started < n_queries or running:
            while started < n_queries and len(running) < 5:
                running.append(subprocess.Popen([*REM, "--db", str(db), "query", CHECK_SQL, "--json"], stdout=subprocess.PIPE,
                                                stderr=subprocess.PIPE, text=True, env=_env(tmp_path)))
                started += 1
            for q in list(running):
                if q.poll() is not None:
                    out, err = q.communicate()
                    results.append((q.returncode, out, err, time.monotonic() - t0))
                    running.remove(q)
            time.sleep(0.02)
        d_out, d_err = dream.communicate(timeout=300)
    assert dream.returncode == 0, d_err[-2000:]
    good = 0
    seen_moments = set()
    for rc, out, _err, _ in results:
        if rc == 0:
            row = json.loads(out)[0]
            good += row["violations"] == 0
            seen_moments.add(row["moments"])
    tally("readers during a dream: `rem query` processes checking for half-written state", len(results), good,
          len(results) - good)
    assert good == len(results), [r for r in results if r[0] != 0][:3]
    assert not check_consistent(Store(db))
