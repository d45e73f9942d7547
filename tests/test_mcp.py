"""rem mcp through the official MCP SDK's own client, over stdio and over HTTP."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

import pytest

from rem.config import resolve_llm
from rem.dream.run import DreamOptions, dream
from support import WEEK, free_port, q


@pytest.fixture
def dreamed(demo_store):
    dream(demo_store, resolve_llm(model="none", file_cfg={}, env={}),
          DreamOptions(start=WEEK[0], end=WEEK[1], lookback_hours=None, progress=False))
    return demo_store


def _data(res):
    assert not res.is_error, res.content
    sc = res.structured_content
    return sc["result"] if isinstance(sc, dict) and "result" in sc else sc


async def _exercise(session, store):
    await session.initialize()
    names = {t.name for t in (await session.list_tools()).tools}
    assert names == {"ask", "review", "search", "moments", "moment", "traverse", "query", "log_activity", "dream_status"}
    descriptions = {t.name: t.description for t in (await session.list_tools()).tools}
    assert all(len(d or "") > 80 for d in descriptions.values())  # written for an agent
    day = _data(await session.call_tool("moments", {"day": "2026-11-12"}))
    want = [r[0] for r in q(store, """select name from moments where start_time >= '2026-11-12'::timestamptz
                                     and start_time < '2026-11-13'::timestamptz order by start_time, id""")]
    assert [m["name"] for m in day] == want and want
    one = _data(await session.call_tool("moment", {"id": day[0]["id"][:8]}))
    assert one["id"] == day[0]["id"] and one["sources"] and one["links"]
    assert "place" in one and isinstance(one["events"], list)  # every field the journal reads back, events as a list
    found = _data(await session.call_tool("search", {"query": "HNSW recall regression", "schema": "moments"}))
    assert found and "recall" in found[0]["title"].lower()
    answer = _data(await session.call_tool("ask", {"question": "When did we debug the HNSW recall regression?"}))
    assert answer["found"] and answer["model"] == "none" and answer["evidence"]
    assert set(answer["cited"]) <= {e["ref"] for e in answer["evidence"]}
    assert any("regression" in f"{e['text']} {e['moment']}".lower() for e in answer["evidence"] if e["ref"] in answer["cited"])
    assert _data(await session.call_tool("review", {})) == {"pending": []}  # nothing waits: the dream kept its moments
    rows = _data(await session.call_tool("query", {"sql": "select count(*) as n from moments"}))
    assert rows == [{"n": q(store, "select count(*) from moments")[0][0]}]
    refused = await session.call_tool("query", {"sql": "delete from moments"})
    assert refused.is_error and q(store, "select count(*) from moments")[0][0] > 0
    person = q(store, """select e.name from entities e join edges x on x.target_id = e.id
                          where x.edge_type = 'involves' order by e.name limit 1""")[0][0]
    walked = _data(await session.call_tool("traverse", {"start": person, "depth": 1}))
    assert any(n.get("kind") == "moment" for n in walked)
    new = _data(await session.call_tool("log_activity", {"content": "Decided to rename the zorblax module", "session": "agent notes"}))
    assert new["id"]
    again = _data(await session.call_tool("search", {"query": "zorblax", "schema": "messages"}))
    assert again[0]["id"] == new["id"]
    status = _data(await session.call_tool("dream_status", {}))
    assert status["runs"] and status["runs"][0]["status"] == "ok" and status["checks"]


def test_the_sdk_client_over_stdio(dreamed, tmp_path, monkeypatch):
    from mcp import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    env = {"REM_CONFIG": str(tmp_path / "none.toml"), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}

    async def run():
        params = StdioServerParameters(command=sys.executable, args=["-m", "rem", "--db", str(dreamed.path), "mcp"], env=env)
        async with stdio_client(params) as (r, w), ClientSession(r, w) as s:
            await _exercise(s, dreamed)

    asyncio.run(run())


def _free_port() -> int:
    return free_port()


def test_the_sdk_client_over_http_with_a_token(dreamed, tmp_path):
    import httpx2 as httpx
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    port = _free_port()
    env = {"REM_CONFIG": str(tmp_path / "none.toml"), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "REM_MCP_TOKEN": "s3cret-token-42"}
    p = subprocess.Popen([sys.executable, "-m", "rem", "--db", str(dreamed.path), "mcp", "--http", "--port", str(port)],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}/mcp"
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                r = httpx.post(url, json={})
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert r.status_code == 401  # no token, no history

        async def run():
            async with httpx.AsyncClient(headers={"Authorization": "Bearer s3cret-token-42"}, timeout=60) as client, \
                    streamable_http_client(url, http_client=client) as (r_, w_), ClientSession(r_, w_) as s:
                await _exercise(s, dreamed)

        asyncio.run(run())
    finally:
        p.terminate()
        p.wait(timeout=20)


def test_binding_beyond_loopback_needs_a_token(dreamed):
    from support import rem_cli

    r = rem_cli(dreamed.path, ["mcp", "--http", "--host", "0.0.0.0"])
    assert r.exit_code == 1 and "--token" in r.output
    assert json.dumps  # the command refused before serving anything
