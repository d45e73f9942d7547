"""rem ingest claude-code / codex: coding-agent sessions as sessions and messages, incremental and forgiving."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from support import q, rem_cli

DATA = Path(__file__).parent / "data"


def test_claude_code_sessions_of_two_projects(db_path, isolated, tmp_path):
    r = rem_cli(db_path, ["ingest", "claude-code", str(DATA / "claude-code")])
    assert r.exit_code == 0 and "sessions: 2 added" in r.output and "messages: 9 added" in r.output, r.output
    assert "record(s) REM does not use skipped (" in r.output and "thinking 1" in r.output
    from rem.store import Store

    st = Store(db_path)
    rows = q(st, """select s.metadata->>'project', s.metadata->>'git_branch', s.metadata->>'cwd', m.role, m.content, m.tool_calls
                    from messages m join sessions s on s.id = m.session_id order by m.created_at, m.id""")
    assert {(p, b) for p, b, *_ in rows} == {("vecindex", "fix-recall"), ("notes", "main")}
    vec = [x for x in rows if x[0] == "vecindex"]
    assert [x[3] for x in vec] == ["user", "assistant", "tool", "tool", "assistant"]  # a record's parts keep their order
    call, result = vec[2], vec[3]
    assert call[4].startswith("Read(") and json.loads(call[5])[0]["function"]["name"] == "Read"
    assert "fn level" in result[4] and json.loads(result[5])[0]["id"] == "toolu_01"


def test_a_session_that_grew_adds_only_its_new_lines(db_path, isolated, tmp_path):
    folder = tmp_path / "projects"
    shutil.copytree(DATA / "claude-code", folder)
    assert rem_cli(db_path, ["ingest", "claude-code", str(folder)]).exit_code == 0
    f = next(folder.glob("-home-sam-src-notes/*.jsonl"))
    with f.open("a") as out:
        out.write(json.dumps({"type": "user", "uuid": "v5", "sessionId": "7f1e0a4b-2222-4c5d-8e9f-bbbbbbbbbbbb",
                              "timestamp": "2026-11-17T14:02:00Z", "message": {"role": "user", "content": "Thanks, add a fourth."}}) + "\n")
    r = rem_cli(db_path, ["ingest", "claude-code", str(folder)])
    assert r.exit_code == 0 and "messages: 1 added, 0 updated, 9 unchanged" in r.output, r.output


def test_codex_sessions(db_path, isolated):
    r = rem_cli(db_path, ["ingest", "codex", str(DATA / "codex")])
    assert r.exit_code == 0 and "sessions: 1 added" in r.output and "messages: 4 added" in r.output, r.output
    from rem.store import Store

    (branch, project), = q(Store(db_path), "select metadata->>'git_branch', metadata->>'project' from sessions")
    assert (branch, project) == ("shards", "vecindex")
    roles = [r for (r,) in q(Store(db_path), "select role from messages order by created_at")]
    assert roles == ["user", "tool", "tool", "assistant"]


def test_bad_lines_are_named_and_the_rest_is_imported(db_path, isolated, tmp_path, tally):
    folder = tmp_path / "projects" / "-x"
    folder.mkdir(parents=True)
    good = {"type": "user", "uuid": "a", "timestamp": "2026-11-18T08:00:00Z", "message": {"role": "user", "content": "hello"}}
    huge = {"type": "user", "uuid": "b", "timestamp": "2026-11-18T08:00:01Z",
            "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "x" * 5_000_000}]}}
    (folder / "s.jsonl").write_text("\n".join([json.dumps(good), "{not json", json.dumps({"type": "user", "message": {"role": "user"}}),
                                               json.dumps(huge), json.dumps(["a list"])]) + "\n")
    r = rem_cli(db_path, ["ingest", "claude-code", str(tmp_path / "projects")])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "s.jsonl:2: not JSON" in r.output and "s.jsonl:3" in r.output and "s.jsonl:5: not a JSON object" in r.output
    from rem.store import Store

    (n, longest), = q(Store(db_path), "select count(*), max(length(content)) from messages")
    assert n == 2 and longest < 25_000  # the 5 MB tool output kept to its first 20,000 characters, and says so
    assert "more characters not kept" in q(Store(db_path), "select content from messages where role = 'tool'")[0][0]
    tally("importers: hostile transcripts, coding-agent sessions and WhatsApp exports", 1, 1)


def test_a_missing_folder_is_a_clear_error(db_path, isolated, tmp_path, tally):
    r = rem_cli(db_path, ["ingest", "codex", str(tmp_path / "nope")])
    assert r.exit_code != 0 and "Traceback" not in r.output
    tally("importers: hostile transcripts, coding-agent sessions and WhatsApp exports", 1, 1)
