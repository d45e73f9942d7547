"""Helpers the tests share: the command line as users see it, files to
ingest, the demo week, scripted-model settings and the invariants a user
relies on after any fault. Fixtures live in ``conftest.py``."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
from click.testing import CliRunner, Result

from rem.config import LLMSettings, resolve_llm
from rem.store import Store

ROOT = Path(__file__).resolve().parents[1]

# the demo week every dream test works on (seeded, so the same week every run)
DEMO_SEED, DEMO_DAYS, DEMO_END = 3, 7, "2026-11-15"
DAY = ("2026-11-12", "2026-11-12")  # a Thursday of that week
WEEK = ("2026-11-09", "2026-11-15")

# -- sizes of the reliability suite ----------------------------------------------------
# `make test` runs every test_reliability_* file at a small size; `make reliability` sets
# REM_RELIABILITY=full for the full counts and REM_RELIABILITY_OUT=FILE to record
# tried / survived / lost per category (rendered into RELIABILITY.md).
FULL = os.environ.get("REM_RELIABILITY") == "full"


def scale(fast: int, full: int) -> int:
    return full if FULL else fast


# -- the command line -------------------------------------------------------------------
def rem_cli(db: Path | str, args: list[str], input: str | None = None) -> Result:
    """Run ``rem --db DB ARGS`` through :func:`rem.cli.main`, so errors are
    handled as users see them (CliRunner: stdout is not a terminal)."""
    import rem.cli as remcli

    @click.command(context_settings={"ignore_unknown_options": True})
    @click.argument("argv", nargs=-1, type=click.UNPROCESSED)
    def entry(argv: tuple[str, ...]) -> None:
        remcli.main(list(argv))

    return CliRunner().invoke(entry, ["--db", str(db), *args], input=input)


# -- inputs -------------------------------------------------------------------------------
def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def chatgpt_node(nid: str, parent: str, children: list[str], role: str, text: str, t: float) -> dict[str, Any]:
    """A message node of a ChatGPT export's conversation tree (``mapping``), written at ``t`` (epoch seconds)."""
    return {"id": nid, "parent": parent, "children": children,
            "message": {"id": nid, "author": {"role": role}, "create_time": t,
                        "content": {"content_type": "text", "parts": [text]}}}


def chatgpt_export(path: Path, current: str, mapping: dict[str, Any], *, title: str = "Rent",
                   created: float = 1.79e9) -> Path:
    """A ChatGPT export (``conversations.json``'s shape) of one conversation, "c1", whose current branch ends at
    ``current``: what an export holds after its owner edited a message (the old branch stays in ``mapping``)."""
    path.write_text(json.dumps([{"id": "c1", "conversation_id": "c1", "title": title, "create_time": created,
                                 "current_node": current, "mapping": mapping}]))
    return path


def count(store: Store, sql: str) -> int:
    with store.read() as con:
        return con.execute(sql).fetchall()[0][0]


def q(store: Store, sql: str) -> list[tuple[Any, ...]]:
    with store.read() as con:
        return con.execute(sql).fetchall()


def build_demo_week(folder: Path) -> Path:
    """Generate and ingest the demo week into ``folder/rem.duckdb`` (sources in ``folder/activity``)."""
    from rem.demo import generate
    from rem.ingest import ingest_demo

    store = Store(folder / "rem.duckdb")
    info = generate(folder / "activity", seed=DEMO_SEED, days=DEMO_DAYS, end_date=DEMO_END)
    (folder / "demo-info.json").write_text(json.dumps(info))
    ingest_demo(store, folder / "activity")
    with store.connect() as con:
        con.execute("CHECKPOINT")
    return store.path


def copy_store(src: Path, dest_dir: Path) -> Store:
    dest = dest_dir / "rem.duckdb"
    shutil.copy(src, dest)
    return Store(dest)


# -- the model ---------------------------------------------------------------------------
def scripted_settings(srv: Any, **kw: Any) -> LLMSettings:
    """Settings for the scripted OpenAI-compatible server (no config file, no environment)."""
    return resolve_llm(model="scripted", base_url=srv.base_url, file_cfg={}, env={}, **kw)


def dream_window(store: Store, srv: Any, window: tuple[str, str] = DAY, **kw: Any) -> Any:
    """A manual dream of ``window`` against the scripted server."""
    from rem.dream.run import DreamOptions, dream

    opts = DreamOptions(lookback_hours=None, start=window[0], end=window[1], progress=False, **kw)
    return dream(store, scripted_settings(srv), opts)


# -- invariants ---------------------------------------------------------------------------
def check_consistent(st: Store) -> list[str]:
    """Every invariant a user relies on after a crash; the list of violations."""
    bad = []
    with st.read() as con:
        def n(sql: str) -> int:
            return con.execute(sql).fetchall()[0][0]

        if n("select count(*) from moments m where not exists (select 1 from dream_runs r where r.id = m.dream_run_id and r.status = 'ok')"):
            bad.append("a moment belongs to a run that is not ok")
        if n("""select count(*) from dream_runs r where status = 'ok' and coalesce(moments_created, 0) + coalesce(moments_merged, 0)
                <> (select count(*) from moments m where m.dream_run_id = r.id)
                and not exists (select 1 from dream_runs later where later.status = 'ok' and later.started_at > r.started_at)"""):
            bad.append("the latest ok run's moments are not all there")
        if n("""select count(*) from edges e where not exists (select 1 from (
                  select id from moments union all select id from entities union all select id from resources
                  union all select id from sessions union all select id from messages) x where x.id = e.source_id)
                or not exists (select 1 from (
                  select id from moments union all select id from entities union all select id from resources
                  union all select id from sessions union all select id from messages) x where x.id = e.target_id)"""):
            bad.append("an edge points at a missing node")
        if n("select count(*) - count(distinct (source_id, target_id, edge_type)) from edges"):
            bad.append("duplicate edges")
        if n("select count(*) from dream_edge_log l where not exists (select 1 from dream_runs r where r.id = l.dream_run_id and r.status = 'ok')"):
            bad.append("an edge log row of a run that is not ok")
    return bad


# A command's own peak memory: `rem` run through this wrapper prints its peak last on stderr — the larger of its
# VmHWM (from /proc) and, sampled every 0.2 s while it runs, its resident memory plus the private memory of its
# child processes (a large window is understood by forked workers: what they share with it is counted once, what
# each wrote is counted for each). getrusage's ru_maxrss is no measure of one command: a child carries its
# parent's peak across fork and exec, and RUSAGE_CHILDREN is the largest of every child this test run ever
# waited for.
PEAK_PROBE = r"""
import os, re, sys, threading
from rem.cli import main

def _kb(path, *keys):
    try:
        text = open(path).read()
    except OSError:
        return 0
    return sum(int(m) for k in keys for m in re.findall(k + r':\s+(\d+) kB', text))

def _children():
    out = []
    for tid in os.listdir('/proc/self/task'):
        try:
            out += open(f'/proc/self/task/{tid}/children').read().split()
        except OSError:
            pass
    return out

peak = [0]
done = threading.Event()

def _sample():
    while not done.wait(0.2):
        now = _kb('/proc/self/status', 'VmRSS') + sum(_kb(f'/proc/{c}/smaps_rollup', 'Private_Clean', 'Private_Dirty')
                                                     for c in _children())
        peak[0] = max(peak[0], now)

threading.Thread(target=_sample, daemon=True).start()
try:
    main(sys.argv[1:])
except SystemExit as e:
    code = e.code
else:
    code = 0
done.set()
hwm = _kb('/proc/self/status', 'VmHWM')
sys.stderr.write(f'\nREM_PEAK_KB {max(hwm, peak[0])}\n')
sys.exit(code)
"""


def rem_with_peak(args: list[str], **kw: Any) -> tuple[Any, float]:
    """Run ``rem ARGS`` in a process of its own: (the completed process, its peak resident memory in MB)."""
    import re
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-c", PEAK_PROBE, *args], **kw)
    err = p.stderr.decode() if isinstance(p.stderr, bytes) else (p.stderr or "")
    m = re.search(r"REM_PEAK_KB (\d+)", err)
    return p, (int(m.group(1)) / 1024 if m else float("inf"))


# -- a real `rem serve` ------------------------------------------------------------------------------------
def free_port() -> int:
    """A free loopback port for a server a test starts. Under pytest-xdist each worker takes its ports
    from a range of its own (the kernel could hand two workers the same just-freed port)."""
    import random
    import socket

    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])
    base = 20_000 + 2_000 * int(worker[2:] or 0)
    for _ in range(200):
        port = base + random.randrange(2_000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in this worker's range")


@contextlib.contextmanager
def served(db: Path | str, tmp_path: Path) -> Iterator[str]:
    """`rem serve` on a free loopback port for the database ``db`` (no config file, UTC): its base URL, the
    server stopped afterwards."""
    import socket
    import subprocess
    import sys

    port = free_port()
    env = {**os.environ, "REM_CONFIG": str(tmp_path / "none.toml"), "TZ": "UTC"}
    p = subprocess.Popen([sys.executable, "-m", "rem", "--db", str(db), "serve", "--port", str(port)],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        p.terminate()
        p.wait(timeout=20)
