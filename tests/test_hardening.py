"""Hardening, round 3 (issue 21): each test is named after the row of the issue's table it covers and
failed on c4c4143's code."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rem.config import resolve_llm
from rem.dream.run import DreamOptions, dream
from support import WEEK, q, rem_cli

NONE = resolve_llm(model="none", file_cfg={}, env={})
TOKEN = "a-long-enough-token-for-tests"


@pytest.fixture
def dreamed(demo_store):
    dream(demo_store, NONE, DreamOptions(start=WEEK[0], end=WEEK[1], lookback_hours=None, progress=False))
    return demo_store


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def test_row26_a_short_token_is_refused(dreamed):
    for cmd in (["serve", "--host", "0.0.0.0", "--token", "x"], ["mcp", "--http", "--host", "0.0.0.0", "--token", "abc"]):
        r = rem_cli(dreamed.path, cmd)
        assert r.exit_code == 1 and "at least 12" in r.output
