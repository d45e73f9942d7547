"""Hardening, round 3 (issue 21): each test is named after the row of the issue's table it covers and
failed on c4c4143's code."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rem.config import resolve_llm
from rem.dream.run import DreamOptions, dream
from support import WEEK, free_port, q, rem_cli

NONE = resolve_llm(model="none", file_cfg={}, env={})
TOKEN = "a-long-enough-token-for-tests"


@pytest.fixture
def dreamed(demo_store):
    dream(demo_store, NONE, DreamOptions(start=WEEK[0], end=WEEK[1], lookback_hours=None, progress=False))
    return demo_store


def _free_port() -> int:
    return free_port()


def _serve(db: Path, tmp: Path, *args: str) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    env = {**os.environ, "REM_CONFIG": str(tmp / "none.toml")}
    p = subprocess.Popen([sys.executable, "-m", "rem", "--db", str(db), *args, "--port", str(port)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return p, port
        if p.poll() is not None:
            raise AssertionError(p.stderr.read() if p.stderr else "the server stopped")
        time.sleep(0.2)
    p.terminate()
    raise AssertionError("the server did not start")


def _stop(p: subprocess.Popen) -> None:
    p.terminate()
    p.wait(timeout=30)


def test_row01_a_page_whose_dns_rebinds_to_loopback_is_refused_and_csrf_is_bound_to_a_session(dreamed, tmp_path):
    """A rebinding page reaches 127.0.0.1 with its own name in Host: nothing is read, nothing written; a
    form token from one browser session does not work in another."""
    import httpx

    mid, name = q(dreamed, "select id, name from moments order by start_time limit 1")[0]
    p, port = _serve(dreamed.path, tmp_path, "serve")
    try:
        evil = {"Host": f"attacker.example:{port}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
            assert c.get(f"/moment/{mid}", headers=evil).status_code == 421
            assert c.get("/runs", headers={"Host": "attacker.example"}).status_code == 421
            page = c.get(f"/moment/{mid}")
            assert page.status_code == 200
            token = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text).group(1)
            r = c.post(f"/moment/{mid}/edit", data={"csrf": token, "action": "edit", "name": "Renamed by a stranger"},
                       headers=evil)
            assert r.status_code == 421
            assert c.get(f"/moment/{mid}", headers={"Host": f"localhost:{port}"}).status_code == 200
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as other:  # another browser, same token
            r = other.post(f"/moment/{mid}/edit", data={"csrf": token, "action": "edit", "name": "Renamed by a stranger"})
            assert r.status_code == 403
        assert q(dreamed, f"select name from moments where id = '{mid}'")[0][0] == name
        assert "rem_session=" in page.headers.get("set-cookie", "") and "SameSite=Strict" in page.headers["set-cookie"]
    finally:
        _stop(p)


def test_row01_allowed_host_names_are_answered(dreamed, tmp_path):
    import httpx

    p, port = _serve(dreamed.path, tmp_path, "serve", "--allowed-host", "rem.lan")
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
            assert c.get("/runs", headers={"Host": f"rem.lan:{port}"}).status_code == 200
            assert c.get("/runs", headers={"Host": "other.lan"}).status_code == 421
    finally:
        _stop(p)


def test_row09_mcp_and_serve_off_loopback_with_a_token_answer_remote_clients(dreamed, tmp_path):
    """`--host 0.0.0.0 --token T`, the documented way off loopback, answers a client that uses the
    machine's name (it used to get 421 from the MCP transport); without the token, 401."""
    import httpx

    p, port = _serve(dreamed.path, tmp_path, "mcp", "--http", "--host", "0.0.0.0", "--token", TOKEN)
    try:
        body = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
        hdr = {"Host": f"workstation.lan:{port}", "Accept": "application/json, text/event-stream"}
        r = httpx.post(f"http://127.0.0.1:{port}/mcp", json=body, headers={**hdr, "Authorization": f"Bearer {TOKEN}"},
                       timeout=30)
        assert r.status_code == 200, r.text
        assert httpx.post(f"http://127.0.0.1:{port}/mcp", json=body, headers=hdr, timeout=30).status_code == 401
    finally:
        _stop(p)
    p, port = _serve(dreamed.path, tmp_path, "serve", "--host", "0.0.0.0", "--token", TOKEN)
    try:
        r = httpx.get(f"http://127.0.0.1:{port}/runs?token={TOKEN}", headers={"Host": f"workstation.lan:{port}"}, timeout=30)
        assert r.status_code == 200
    finally:
        _stop(p)


@pytest.mark.parametrize("value", ["tökén", "\u2603" * 20, "é", "x" * 5000])
def test_row10_non_ascii_tokens_cookies_bearers_and_csrf_are_refused_not_a_crash(dreamed, value):
    from starlette.testclient import TestClient

    from rem.mcp_tools import http_app
    from rem.serve import create_app

    mid = q(dreamed, "select id from moments order by start_time limit 1")[0][0]
    with TestClient(create_app(dreamed, token=TOKEN), base_url="http://127.0.0.1") as c:
        raw = value.encode("utf-8")  # a client's bytes, as they come in a header
        assert c.get("/runs", params={"token": value}).status_code == 401
        assert c.get("/runs", headers={"Authorization": b"Bearer " + raw}).status_code == 401
        assert c.get("/runs", headers={"Cookie": b"rem_token=" + raw}).status_code == 401
        assert c.get(f"/runs?token={TOKEN}").status_code == 200
        r = c.post(f"/moment/{mid}/edit", data={"csrf": value, "action": "pin"})
        assert r.status_code == 403 and "CSRF" in r.text
    with TestClient(http_app(dreamed, TOKEN), base_url="http://127.0.0.1") as m:
        assert m.post("/mcp", json={}, headers={"Authorization": b"Bearer " + value.encode("utf-8")}).status_code == 401


def test_row26_a_short_token_is_refused(dreamed, tmp_path):
    env = {**os.environ, "REM_CONFIG": str(tmp_path / "none.toml")}
    for cmd in (["serve", "--host", "0.0.0.0", "--token", "x"], ["mcp", "--http", "--host", "0.0.0.0", "--token", "abc"]):
        try:  # a server that starts anyway would run until stopped
            p = subprocess.run([sys.executable, "-m", "rem", "--db", str(dreamed.path), *cmd, "--port", str(_free_port())],
                               env=env, capture_output=True, text=True, timeout=60)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"rem {' '.join(cmd)} started with a one-word token") from None
        assert p.returncode == 1 and "at least 12" in p.stderr, p.stderr


# -- row 3: day windows on DST days --------------------------------------------------------------------------
@pytest.mark.parametrize(("zone", "day", "hours"), [("America/New_York", "2026-11-01", 25), ("America/New_York", "2026-03-08", 23),
                                                    ("Europe/Berlin", "2026-10-25", 25), ("Europe/Berlin", "2026-03-29", 23),
                                                    ("Europe/Berlin", "2026-06-01", 24)])
def test_row03_a_local_day_is_midnight_to_midnight_in_its_zone(zone, day, hours):
    from datetime import date
    from zoneinfo import ZoneInfo

    from rem.days import day_window

    s, e = day_window(date.fromisoformat(day), tz=ZoneInfo(zone))
    assert (e - s).total_seconds() == hours * 3600


@pytest.mark.parametrize(("zone", "fall_back", "late", "spring", "early"), [
    ("America/New_York", "2026-11-01", "2026-11-01T23:30:00-05:00", "2026-03-08", "2026-03-09T00:30:00-04:00"),
    ("Europe/Berlin", "2026-10-25", "2026-10-25T23:30:00+01:00", "2026-03-29", "2026-03-30T00:30:00+02:00"),
])
@pytest.mark.slow
def test_row03_the_last_hour_of_a_fall_back_day_is_dreamed_and_shown_once(tmp_path, zone, fall_back, late, spring, early):
    import json

    from support import write_jsonl

    rows = [{"session": "late-night", "role": "user", "content": "Finished the tax forms and filed them online.",
             "created_at": late},
            {"session": "early-morning", "role": "user", "content": "Could not sleep, so I sorted the photo archive.",
             "created_at": early}]
    chat = write_jsonl(tmp_path / "c.jsonl", rows)
    db = tmp_path / "rem.duckdb"
    env = {**os.environ, "TZ": zone, "REM_CONFIG": str(tmp_path / "none.toml"), "REM_REPORTS_DIR": str(tmp_path / "r")}

    def rem(*args: str) -> str:
        p = subprocess.run([sys.executable, "-m", "rem", "--db", str(db), *args], env=env, capture_output=True, text=True,
                           timeout=120)
        assert p.returncode == 0, p.stderr
        return p.stdout

    rem("ingest", "chat", str(chat))
    out = json.loads(rem("dream", "--start", fall_back, "--end", fall_back, "--json"))
    assert out["status"] == "ok" and out["moments_created"] == 1  # the 23:30 message is in its day's window
    assert "tax forms" in rem("moments", "--day", fall_back).lower()
    rem("dream", "--start", spring, "--end", "2026-12-31")
    day_after = spring[:8] + f"{int(spring[8:]) + 1:02d}"
    shown = [int("photo archive" in rem("moments", "--day", d).lower()) for d in (spring, day_after)]
    assert shown == [0, 1]  # just after midnight after spring-forward: on its own day only


# -- row 11: the calendar's edges in the web view and MCP ------------------------------------------------------
@pytest.mark.parametrize("path", ["/day/0001-01-01", "/day/9999-12-31", "/week/0001-01-01", "/week/9999-12-31",
                                  "/month/0001-01", "/month/9999-12", "/day/0000-00-00", "/month/2026-13"])
def test_row11_dates_at_the_calendars_edges_are_a_page_not_a_500(dreamed, path):
    from starlette.testclient import TestClient

    from rem.serve import create_app

    with TestClient(create_app(dreamed, mcp=False), base_url="http://127.0.0.1", raise_server_exceptions=False) as c:
        r = c.get(path)
        assert r.status_code in (200, 404), (path, r.status_code, r.text[:300])
        assert "Internal Server Error" not in r.text


def test_row11_mcp_moments_on_the_last_day_says_what_is_wrong(dreamed):
    import asyncio

    from rem.mcp_tools import build

    server = build(dreamed)

    async def call(args):
        return await server.call_tool("moments", args)

    for day in ("9999-12-31", "0001-01-01"):
        try:
            out = asyncio.run(call({"day": day}))
            text = str(out)
            assert "unexpected" not in text.lower()
        except Exception as e:  # the SDK raises a tool error: it must say what is wrong
            assert "day" in str(e) and "unexpected" not in str(e).lower(), str(e)


# -- row 21: split at a clock time ----------------------------------------------------------------------------
def test_row21_split_at_a_clock_time_means_that_time_on_the_moments_day(dreamed):
    from datetime import timedelta

    rows = q(dreamed, """select id, start_time, end_time from moments
                         where end_time - start_time > interval 40 minute order by start_time limit 1""")
    mid, start, end = rows[0]
    at = (start + (end - start) / 2).astimezone()
    at = at.replace(second=0, microsecond=0)
    if not start < at < end:
        at = at + timedelta(minutes=1)
    r = rem_cli(dreamed.path, ["moments", "split", mid[:8], "--at", f"{at:%H:%M}"])
    assert r.exit_code == 0, r.output
    assert q(dreamed, f"select count(*) from moments where id = '{mid}' or name like '%(cont.)%'")[0][0] >= 2
    bad = rem_cli(dreamed.path, ["moments", "split", mid[:8], "--at", "25:99"])
    assert bad.exit_code != 0 and "Traceback" not in bad.output


# -- row 24: retiming to the calendar's edges ---------------------------------------------------------------------
def test_row24_an_edit_cannot_stretch_a_moment_over_centuries(dreamed):
    mid = q(dreamed, "select id from moments order by start_time limit 1")[0][0]
    for args in (["--start", "0001-01-01"], ["--end", "9999-12-31"]):
        r = rem_cli(dreamed.path, ["moments", "edit", mid[:8], *args])
        assert r.exit_code != 0 and "Traceback" not in r.output, r.output
    hours = q(dreamed, "select max(epoch(end_time) - epoch(start_time)) / 3600 from moments")[0][0]
    assert hours < 24 * 7


# -- row 25: traverse sideways -----------------------------------------------------------------------------------
def test_row25_mcp_traverse_with_an_unknown_direction_says_so(dreamed):
    import asyncio

    from rem.mcp_tools import build

    server = build(dreamed)
    try:
        out = str(asyncio.run(server.call_tool("traverse", {"start": "diskann", "direction": "sideways"})))
        assert "direction" in out and "Parameters were given" not in out
    except Exception as e:
        assert "direction" in str(e) and "Parameters were given" not in str(e), str(e)


# -- row 17: invalid UTF-8 in argv ----------------------------------------------------------------------------------
def test_row17_a_search_with_invalid_utf8_is_a_clear_error(dreamed, tmp_path):
    env = {**os.environ, "REM_CONFIG": str(tmp_path / "none.toml")}
    p = subprocess.run([sys.executable.encode(), b"-m", b"rem", b"--db", str(dreamed.path).encode(), b"search", b"hnsw\xff"],
                       env=env, capture_output=True, timeout=120)
    err = p.stderr.decode("utf-8", "replace")
    assert p.returncode != 0 and "unexpectedly" not in err and "Traceback" not in err, err
    assert "UTF-8" in err or "utf-8" in err.lower()


# -- rows 2 and 4: a late item inside an already-dreamed segment ----------------------------------------------------
def _chat_day(tmp_path, store, extra=()):
    from datetime import UTC, datetime, timedelta

    from rem.ingest import ingest_chat
    from support import write_jsonl

    t0 = datetime(2026, 11, 18, 10, 0, tzinfo=UTC)
    lines = ["The migration script failed on the orders table.", "It timed out on the orders index.",
             "Raising the lock timeout fixed the orders migration.", "The migration finished in four minutes."]
    rows = [{"session": "migration", "role": "user", "content": t, "id": f"mig-{i}",
             "created_at": (t0 + timedelta(minutes=4 * i)).isoformat()} for i, t in enumerate(lines)]
    rows += [{"session": "migration", "role": "user", "content": t, "id": i,
              "created_at": (t0 + timedelta(minutes=m)).isoformat()} for i, t, m in extra]
    ingest_chat(store, write_jsonl(tmp_path / f"c{len(rows)}.jsonl", rows))


def _day(store):
    return dream(store, NONE, DreamOptions(start="2026-11-18", end="2026-11-18", lookback_hours=None, progress=False))


def _owners(store):
    """message id -> the moments holding it."""
    out: dict[str, list[str]] = {}
    for mid, msgs in q(store, "select id, message_ids from moments"):
        for m in msgs or []:
            out.setdefault(m, []).append(mid)
    return out


def test_row02_a_late_item_inside_a_dreamed_segment_replaces_the_moment_not_duplicates_it(store, isolated, tmp_path):
    _chat_day(tmp_path, store)
    _day(store)
    assert q(store, "select count(*) from moments")[0][0] == 1
    _chat_day(tmp_path, store, extra=[("mig-late", "Note: the orders table has 40 million rows.", 6)])
    _day(store)
    owners = _owners(store)
    assert q(store, "select count(*) from moments")[0][0] == 1
    assert all(len(v) == 1 for v in owners.values()) and len(owners) == 5


def test_row04_a_late_item_inside_a_corrected_moment_joins_it(store, isolated, tmp_path):
    _chat_day(tmp_path, store)
    _day(store)
    mid = q(store, "select id from moments")[0][0]
    assert rem_cli(store.path, ["moments", "edit", mid[:8], "--name", "Fixing the orders migration"]).exit_code == 0
    _chat_day(tmp_path, store, extra=[("mig-late", "Note: the orders table has 40 million rows.", 6)])
    _day(store)
    owners = _owners(store)
    assert owners.get("mig-late") == [mid]  # not lost, and in the corrected moment only
    name, meta = q(store, f"select name, CAST(metadata AS VARCHAR) from moments where id = '{mid}'")[0]
    assert name == "Fixing the orders migration" and "added_after_correction" in meta
    assert all(len(v) == 1 for v in owners.values())


# -- row 5: undo is exact ----------------------------------------------------------------------------------------
def _tables(store):
    """moments, edges and entities as sorted rows (the tables an edit and its undo touch)."""
    out = {}
    for t, key in (("moments", "id"), ("edges", "source_id, target_id, edge_type"), ("entities", "id")):
        cols = [r[0] for r in q(store, f"select column_name from information_schema.columns where table_name = '{t}' "
                                       "and column_name not in ('source_key', 'target_key') order by ordinal_position")]
        out[t] = q(store, f"select {', '.join(chr(34) + c + chr(34) for c in cols)} from {t} order by {key}")
    return out


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["edit", "merge", "split", "delete", "pin"])
def test_row05_edit_then_undo_is_the_identity_on_moments_edges_and_entities(dreamed, kind):
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from rem import corrections as c

    ids = [r[0] for r in q(dreamed, "select id from moments order by start_time")]
    before = _tables(dreamed)
    assert any(r[2] == "summarizes" for r in before["edges"])

    @settings(max_examples=3 if kind == "edit" else 1, deadline=None, database=None)
    @given(name=st.text(min_size=1, max_size=30).filter(lambda x: x.strip()),
           tags=st.lists(st.sampled_from(["quantization", "hnsw", "brand new topic", "rust"]), min_size=1, max_size=3),
           people=st.lists(st.sampled_from(["Alice Chen", "Someone New"]), max_size=2))
    def one(name, tags, people):
        mid = ids[0]
        if kind == "edit":
            e = c.edit(dreamed, mid, name=name, tags=",".join(tags), people=",".join(people))
        elif kind == "merge":
            e = c.merge(dreamed, ids[0], ids[1])
        elif kind == "split":
            s, en = q(dreamed, f"select start_time, end_time from moments where id = '{ids[2]}'")[0]
            e = c.split(dreamed, ids[2], s + (en - s) / 2)
        elif kind == "delete":
            e = c.delete(dreamed, mid)
        else:
            e = c.pin(dreamed, mid)
        c.undo(dreamed, e.id)
        after = _tables(dreamed)
        for t in before:
            assert after[t] == before[t], t

    one()


# -- row 6: fleet query cannot write into DuckDB's spill folder -----------------------------------------------------
def test_row06_fleet_query_cannot_copy_into_the_spill_folder(tmp_path, isolated, dreamed, monkeypatch):
    import shutil

    (tmp_path / "alice").mkdir()
    shutil.copy(dreamed.path, tmp_path / "alice" / "rem.duckdb")
    m = tmp_path / "owners.toml"
    m.write_text('allow_query = true\n[[owners]]\nid = "alice"\ndb = "alice/rem.duckdb"\n')
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".tmp").mkdir()
    for sql in ("COPY (SELECT 1 AS x) TO '.tmp/x.csv'", "COPY (SELECT 1 AS x) TO '.tmp/y.parquet' (FORMAT parquet)"):
        r = rem_cli(tmp_path / "x.duckdb", ["fleet", "query", str(m), sql])
        assert r.exit_code != 0 and "Traceback" not in r.output, r.output
    assert list((tmp_path / ".tmp").iterdir()) == []
    ok = rem_cli(tmp_path / "x.duckdb", ["fleet", "query", str(m), "select count(*) as n from moments", "--json"])
    assert ok.exit_code == 0, ok.output


# -- row 8: MCP query caps bytes, not only rows ---------------------------------------------------------------------
@pytest.mark.slow
def test_row08_an_mcp_query_answer_is_capped_in_bytes(dreamed, tmp_path):
    """In a process of its own (its memory is what is measured, and this test run's stays small)."""
    import json

    from support import FULL

    rows = 500 if FULL else 60  # 5 GB of answer used to take the server down; 600 MB cost ~3 GB
    script = f"""
import asyncio, json, re, sys
from mcp.server.mcpserver.exceptions import ToolError
from rem.mcp_tools import build
from rem.store import Store
server = build(Store(sys.argv[1]))
def call(sql):
    try:
        return str(asyncio.run(server.call_tool("query", {{"sql": sql}})))
    except ToolError as e:
        return str(e)
big = call("select repeat('x', 10000000) as big from range({rows})")
small = call("select 42 as answer")
hwm = int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1))
print(json.dumps({{"big": big[:500], "small": small[:500], "peak_mb": hwm / 1024}}))
"""
    env = {**os.environ, "REM_CONFIG": str(tmp_path / "none.toml")}
    p = subprocess.run([sys.executable, "-c", script, str(dreamed.path)], env=env, capture_output=True, text=True,
                       timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert "MB" in out["big"] and "LIMIT" in out["big"], out["big"]
    assert "42" in out["small"]
    assert out["peak_mb"] < (6000 if FULL else 1500), out


# -- rows 20 and 22: the web form and the graph page ------------------------------------------------------------------
def test_row20_a_field_emptied_in_the_web_form_is_cleared(dreamed):
    from starlette.testclient import TestClient

    from rem.serve import create_app

    mid = q(dreamed, "select id from moments where outcome is not null and outcome <> '' order by start_time limit 1")[0][0]
    with TestClient(create_app(dreamed, mcp=False), base_url="http://127.0.0.1") as c:
        page = c.get(f"/moment/{mid}")
        token = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text).group(1)
        name = q(dreamed, f"select name from moments where id = '{mid}'")[0][0]
        r = c.post(f"/moment/{mid}/edit", data={"csrf": token, "action": "edit", "name": name, "outcome": "", "tags": ""},
                   follow_redirects=False)
        assert r.status_code == 303
    outcome, tags = q(dreamed, f"select outcome, tags from moments where id = '{mid}'")[0]
    assert not outcome and tags == []


def test_row22_graph_neighbours_that_are_not_entities_link_by_id(dreamed):
    from starlette.testclient import TestClient

    from rem.serve import create_app

    mid = q(dreamed, "select id from moments where len(session_ids) > 0 order by start_time limit 1")[0][0]
    with TestClient(create_app(dreamed, mcp=False), base_url="http://127.0.0.1") as c:
        page = c.get("/graph", params={"node": mid})
        links = re.findall(r'href="(/graph\?node=[^"]+)"', page.text)
        assert links
        for href in links[:25]:
            r = c.get(href.replace("&amp;", "&"))
            assert r.status_code == 200 and "no entity or node matches" not in r.text, href


# -- rows 13–16: the search index beside the database ----------------------------------------------------------------
def _search(db, tmp, words="diskann"):
    env = {**os.environ, "REM_CONFIG": str(tmp / "none.toml")}
    p = subprocess.run([sys.executable, "-m", "rem", "--db", str(db), "search", words, "--json", "--mode", "lexical"],
                       env=env, capture_output=True, text=True, timeout=180)
    return p


@pytest.fixture
def indexed(dreamed, tmp_path):
    p = _search(dreamed.path, tmp_path)
    assert p.returncode == 0 and '"id"' in p.stdout, p.stderr
    return dreamed


@pytest.mark.slow
def test_row13_a_lexical_index_missing_a_segment_file_is_rebuilt(indexed, tmp_path):
    d = indexed.path.with_name(indexed.path.name + ".search")
    victims = [f for f in d.iterdir() if f.suffix in (".store", ".term")]
    assert victims
    victims[0].unlink()
    for _ in range(2):  # and it stays fixed
        p = _search(indexed.path, tmp_path)
        assert p.returncode == 0 and '"id"' in p.stdout, p.stderr


def test_row14_a_fifo_in_the_index_place_is_refused_by_name_not_a_hang(indexed, tmp_path):
    import shutil

    d = indexed.path.with_name(indexed.path.name + ".search")
    shutil.rmtree(d)
    os.mkfifo(d)
    p = _search(indexed.path, tmp_path)
    assert p.returncode != 0 and "FIFO" in p.stderr and "unexpectedly" not in p.stderr, p.stderr


@pytest.mark.slow
def test_row15_an_index_older_than_the_database_is_rebuilt(indexed, tmp_path):
    import shutil

    from rem.ingest import ingest_chat
    from support import write_jsonl

    d = indexed.path.with_name(indexed.path.name + ".search")
    old = tmp_path / "old-index"
    shutil.copytree(d, old)
    ingest_chat(indexed, write_jsonl(tmp_path / "c.jsonl", [{"session": "s", "role": "user",
                "content": "Zanzibarcodec compression notes", "created_at": "2026-11-14T10:00:00Z"}]))
    assert "Zanzibarcodec" in _search(indexed.path, tmp_path, "zanzibarcodec").stdout
    shutil.rmtree(d)
    shutil.copytree(old, d)  # a backup of the index restored: it lacks the new message
    p = _search(indexed.path, tmp_path, "zanzibarcodec")
    assert p.returncode == 0 and "Zanzibarcodec" in p.stdout, (p.stdout, p.stderr)


@pytest.mark.parametrize("what", ["file", "dangling link"])
def test_row16_a_file_or_a_dangling_link_in_the_index_place_is_replaced(indexed, tmp_path, what):
    import shutil

    d = indexed.path.with_name(indexed.path.name + ".search")
    shutil.rmtree(d)
    if what == "file":
        d.write_text("not an index")
    else:
        d.symlink_to(tmp_path / "nowhere")
    p = _search(indexed.path, tmp_path)
    assert p.returncode == 0 and '"id"' in p.stdout, p.stderr
    assert d.is_dir()


# -- row 12: a locked database ------------------------------------------------------------------------------------
def test_row12_pages_say_the_database_is_busy_while_another_process_writes(dreamed, tmp_path):
    from starlette.testclient import TestClient

    from rem.serve import create_app
    from rem.store import Store

    mid = q(dreamed, "select id from moments order by start_time limit 1")[0][0]
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
                               "print('held', flush=True); time.sleep(60)", str(dreamed.path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        store = Store(dreamed.path, busy_timeout_s=1)
        with TestClient(create_app(store, mcp=False), base_url="http://127.0.0.1", raise_server_exceptions=False) as c:
            for path in ("/day/2026-11-12", f"/moment/{mid}", "/runs"):
                r = c.get(path)
                assert r.status_code == 503 and "busy" in r.text and r.headers.get("retry-after"), (path, r.status_code)
                assert "Internal Server Error" not in r.text
    finally:
        holder.kill()
        holder.wait()


# -- row 23: the period summary after corrections ------------------------------------------------------------------
def test_row23_a_redreams_summary_names_moments_as_the_owner_left_them(demo_store):
    from support import DAY

    def day():
        return dream(demo_store, NONE, DreamOptions(start=DAY[0], end=DAY[1], lookback_hours=None, progress=False))

    day()
    (a, a_name), (b, _) = q(demo_store, "select id, name from moments order by start_time limit 2")
    assert rem_cli(demo_store.path, ["moments", "delete", a[:8], "--yes"]).exit_code == 0
    assert rem_cli(demo_store.path, ["moments", "edit", b[:8], "--name", "Renamed by the owner"]).exit_code == 0
    res = day()
    text = q(demo_store, f"select content from resources where resource_type = 'summary' and uri = 'rem:dream/{res.run_id}'")[0][0]
    assert a_name not in text and "Renamed by the owner" in text


# -- row 7: fleet query streams ------------------------------------------------------------------------------------
@pytest.mark.slow
def test_row07_fleet_query_streams_its_result_in_flat_memory(tmp_path, dreamed):
    import shutil

    (tmp_path / "alice").mkdir()
    shutil.copy(dreamed.path, tmp_path / "alice" / "rem.duckdb")
    m = tmp_path / "owners.toml"
    m.write_text('allow_query = true\n[[owners]]\nid = "alice"\ndb = "alice/rem.duckdb"\n')
    env = {**os.environ, "REM_CONFIG": str(tmp_path / "none.toml")}
    sql = "select i, repeat('x', 200) as s from range(2000000) t(i)"  # ~420 MB of rows
    from support import rem_with_peak

    with open(tmp_path / "out.jsonl", "wb") as out:
        p, peak_mb = rem_with_peak(["--db", str(tmp_path / "x.duckdb"), "fleet", "query", str(m), sql, "--nl"], env=env,
                                   stdout=out, stderr=subprocess.PIPE, timeout=600)
    assert p.returncode == 0, p.stderr.decode()[-500:]
    lines = sum(1 for _ in open(tmp_path / "out.jsonl", "rb"))
    assert lines == 2_000_000 and peak_mb < 700, (lines, peak_mb)


# -- row 26: hard-linked owner databases ----------------------------------------------------------------------------
def test_row26_hard_linked_owner_databases_are_refused(tmp_path, dreamed):
    import shutil

    from rem.exceptions import RemError
    from rem.fleet.manifest import load

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    shutil.copy(dreamed.path, tmp_path / "a" / "rem.duckdb")
    os.link(tmp_path / "a" / "rem.duckdb", tmp_path / "b" / "rem.duckdb")
    m = tmp_path / "owners.toml"
    m.write_text('[[owners]]\nid = "a"\ndb = "a/rem.duckdb"\n[[owners]]\nid = "b"\ndb = "b/rem.duckdb"\n')
    with pytest.raises(RemError, match="hard link"):
        load(m)


def test_row26_a_moved_notes_folder_adds_nothing(tmp_path, store):
    from rem.ingest import ingest_notes

    old = tmp_path / "notes"
    (old / "projects").mkdir(parents=True)
    (old / "projects" / "index.md").write_text("# Index work\nSharded the index by tenant.\n")
    (old / "diary.md").write_text("# Friday\nLong walk by the river.\n")
    ingest_notes(store, old)
    before = q(store, "select id, name from resources order by id")
    new = tmp_path / "archive" / "my-notes"
    new.parent.mkdir()
    old.rename(new)
    report = ingest_notes(store, new)
    after = q(store, "select id, name from resources order by id")
    assert after == before and len(after) == 2, (before, after)  # moved: the same notes, not copies
    uris = [u for (u,) in q(store, "select uri from resources order by uri")]
    assert all("/archive/my-notes/" in u for u in uris)  # they know their new place
    assert not report.errors
    # a copy of the folder (the first one still there) is new notes, and nothing is overwritten
    shutil.copytree(new, tmp_path / "copy")
    ingest_notes(store, tmp_path / "copy")
    assert q(store, "select count(*) from resources")[0][0] == 4


# -- generalized: every route of the web view and every MCP tool with hostile input ------------------------------
_HOSTILE_VALUES = ["0001-01-01", "9999-12-31", "0000-00-00", "../../etc/passwd", "%00", "\u202eevil", "<script>x</script>",
                   "'; drop table moments; --", "x" * 5000, "🙂", "-1", "NaN", "1e309", "ffffffff-ffff"]


@pytest.mark.slow
def test_every_route_with_hostile_host_tokens_and_values_answers_without_a_500(dreamed, tally):
    """Each route of rem serve (paths with each hostile value in each parameter, forms with hostile fields and
    tokens, hostile Host and Origin headers): a 2xx, 3xx or 4xx, a page that says what happened, never a 500."""
    from starlette.routing import Mount, Route
    from starlette.testclient import TestClient

    from rem.serve import create_app
    from support import scale

    app = create_app(dreamed, mcp=False)
    routes = [r for r in app.routes if isinstance(r, Route)]
    values = _HOSTILE_VALUES[: scale(6, len(_HOSTILE_VALUES))]
    tried = bad = 0
    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as c:
        token = re.search(r'name="csrf" value="([0-9a-f]+)"', c.get("/runs").text).group(1)
        for r in routes:
            params = list(r.param_convertors)
            fills = [{p: v for p in params} for v in values] if params else [{}]
            for fill in fills:
                path = r.path
                for k, v in fill.items():
                    path = path.replace("{" + k + "}", v.replace("/", "%2F"))
                for method in sorted(r.methods or {"GET"}):
                    if method == "HEAD":
                        continue
                    for headers in ({}, {"Host": "evil.example"}, {"Origin": "http://evil.example"}):
                        for q in ({}, {"node": values[len(path) % len(values)], "q": values[0], "depth": "NaN"}):
                            if method == "POST":
                                resp = c.post(path, headers=headers, data={"csrf": token, "action": values[tried % len(values)],
                                                                           "n": "9" * 30, "text": values[1], "at": values[2],
                                                                           "other": values[3], "confirm": "yes"})
                            else:
                                resp = c.get(path, headers=headers, params=q)
                            tried += 1
                            if resp.status_code >= 500 and resp.status_code != 503 or "Traceback" in resp.text:
                                bad += 1
                            if headers.get("Host"):
                                assert resp.status_code == 421, (method, path)
    assert [m for m in (Mount,)]  # the static mount is served by Starlette itself
    tally("web view: every route with hostile Host, Origin, tokens, ids and dates", tried, tried - bad)
    assert bad == 0


def test_every_mcp_tool_with_hostile_arguments_fails_clearly(dreamed, tally):
    import asyncio

    from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError

    from rem.mcp_tools import build
    from support import scale

    server = build(dreamed)
    tools = asyncio.run(server.list_tools())
    values = _HOSTILE_VALUES[: scale(6, len(_HOSTILE_VALUES))]
    tried = bad = 0
    for t in tools:
        props = (t.input_schema or {}).get("properties", {})
        for v in values:
            for name in props:
                args = {k: (v if k == name else _sane(k, spec)) for k, spec in props.items()
                        if k == name or k in (t.input_schema or {}).get("required", [])}
                tried += 1
                try:
                    asyncio.run(server.call_tool(t.name, args))
                except UnexpectedToolError as e:  # the SDK's word for a crash inside the tool
                    bad += 1
                    print("crash:", t.name, args, str(e)[:200])
                except ToolError as e:
                    if "Traceback" in str(e):
                        bad += 1
                except Exception:  # anything but the SDK's tool errors is a crash of the tool
                    bad += 1
    tally("MCP: every tool with hostile arguments", tried, tried - bad)
    assert bad == 0


def _sane(name: str, spec: dict) -> object:
    kind = spec.get("type") or (spec.get("anyOf") or [{}])[0].get("type")
    return {"integer": 1, "number": 1.0, "boolean": False, "array": []}.get(kind, "diskann")


# -- row 19: a ChatGPT re-export after an edit -------------------------------------------------------------------------
def test_row19_a_chatgpt_reexport_after_an_edit_keeps_only_the_current_branch(store, isolated, tmp_path):
    from rem.ingest import ingest_chatgpt
    from rem.store import Store
    from support import chatgpt_export
    from support import chatgpt_node as node

    def export(current, mapping):
        return chatgpt_export(tmp_path / f"conversations-{current}.json", current, mapping)

    first = {"root": {"id": "root", "parent": None, "children": ["u1"], "message": None},
             "u1": node("u1", "root", ["a1"], "user", "My card number is 4111 1111 1111 1111, pay the rent", 1.79e9),
             "a1": node("a1", "u1", [], "assistant", "Done, the rent is paid.", 1.79e9 + 60)}
    ingest_chatgpt(store, export("a1", first))
    edited = dict(first)
    edited["root"] = {"id": "root", "parent": None, "children": ["u1", "u2"], "message": None}
    edited["u2"] = node("u2", "root", ["a2"], "user", "Pay the rent from the usual account", 1.79e9 + 120)
    edited["a2"] = node("a2", "u2", [], "assistant", "Done, paid from the usual account.", 1.79e9 + 180)
    report = ingest_chatgpt(store, export("a2", edited))
    texts = [r[0] for r in q(store, "select content from messages order by created_at")]
    assert texts == ["Pay the rent from the usual account", "Done, paid from the usual account."]
    assert "removed" in report.line()
    fresh = Store(tmp_path / "fresh.duckdb")
    ingest_chatgpt(fresh, export("a2", edited))
    assert [r[0] for r in q(fresh, "select content from messages order by created_at")] == texts


# -- row 18: naive timestamps re-ingested after the machine's zone changed ------------------------------------------------
def test_row18_a_file_of_naive_times_reingested_in_another_zone_adds_nothing(tmp_path):
    import json as _json

    lines = [{"session": "diary", "role": "user", "content": f"entry {i}", "created_at": f"2026-11-1{i}T09:30:00"}
             for i in range(3)]
    chat = tmp_path / "diary.jsonl"
    chat.write_text("\n".join(_json.dumps(x) for x in lines) + "\n")
    db = tmp_path / "rem.duckdb"

    def ingest(zone):
        env = {**os.environ, "TZ": zone, "REM_CONFIG": str(tmp_path / "none.toml")}
        p = subprocess.run([sys.executable, "-m", "rem", "--db", str(db), "ingest", "chat", str(chat)], env=env,
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr

    ingest("America/New_York")
    ingest("Asia/Tokyo")  # the laptop flew to Tokyo
    from rem.store import Store

    assert q(Store(db), "select count(*) from messages")[0][0] == 3


# -- generalized: every file REM keeps beside the database, replaced --------------------------------------------
def _beside(db: Path) -> dict[str, Path]:
    return {"search index": db.with_name(db.name + ".search"), "answer spool": db.with_name(db.name + ".spool"),
            "dream lock": db.with_name(db.name + ".dream.lock"), "digests": db.parent / "reports"}


def _replace(target: Path, how: str, tmp: Path) -> None:
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    elif target.exists() or target.is_symlink():
        target.unlink()
    if how == "fifo":
        os.mkfifo(target)
    elif how == "file":
        target.write_bytes(b"\x00garbage\xff" * 100)
    elif how == "folder":
        target.mkdir()
        (target / "meta.json").write_text("{not json")
    elif how == "dangling link":
        target.symlink_to(tmp / "nowhere" / "at-all")
    elif how == "link to a file":
        (tmp / "elsewhere.txt").write_text("someone else's file\n")
        target.symlink_to(tmp / "elsewhere.txt")


_BESIDE_WAYS = ("fifo", "file", "folder", "dangling link", "link to a file")


@pytest.mark.slow
@pytest.mark.parametrize("what", ["search index", "answer spool", "dream lock", "digests"])
def test_every_file_beside_the_database_replaced_never_hangs_fails_obscurely_or_loses_data(what, tmp_path, tally):
    """Each file or folder REM keeps beside the database (the search index, the answer spool, the dream lock,
    the digests' folder) replaced by a FIFO, a file of garbage, a folder, a dangling link or a link to someone
    else's file: dreaming, searching and asking either work or stop with one line naming the place, never hang,
    never print a traceback, never touch the other file, and the activity and moments stay whole."""
    from support import scale

    chat = Path(__file__).resolve().parents[1] / "bench" / "quality" / "personal" / "chat.jsonl"
    ways = _BESIDE_WAYS[: scale(3, len(_BESIDE_WAYS))]
    for how in ways:
        d = tmp_path / how.replace(" ", "-")
        d.mkdir()
        db = d / "rem.duckdb"
        env = {**os.environ, "REM_CONFIG": str(d / "none.toml"), "REM_REPORTS_DIR": str(d / "reports"), "TZ": "UTC"}
        subprocess.run([sys.executable, "-m", "rem", "--db", str(db), "ingest", "chat", str(chat)], env=env,
                       check=True, capture_output=True, timeout=120)
        _replace(_beside(db)[what], how, d)
        for argv in (["dream", "--start", "2026-11-20", "--end", "2026-11-21"], ["search", "keys", "--json"],
                     ["ask", "When did Tomás lose his keys?", "--json"]):
            try:
                p = subprocess.run([sys.executable, "-m", "rem", "--db", str(db), *argv], env=env, capture_output=True,
                                   text=True, timeout=120)
            except subprocess.TimeoutExpired:
                pytest.fail(f"{what} as a {how}: rem {argv[0]} hung")
            out = p.stdout + p.stderr
            assert "Traceback" not in out, (what, how, argv, out[-800:])
            assert p.returncode in (0, 1), (what, how, argv, out[-800:])
            if p.returncode == 1:
                assert len(p.stderr.strip().splitlines()) <= 3 and str(db.parent) in p.stderr, (what, how, argv, p.stderr)
        if how == "link to a file":
            assert (d / "elsewhere.txt").read_text() == "someone else's file\n"
        from rem.store import Store

        with Store(db).read() as con:
            assert con.execute("select count(*) from messages").fetchone()[0] == 18
        tally("files beside the database replaced", 1, 1)
