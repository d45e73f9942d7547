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


def _jsonl(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def test_claude_code_records_the_person_did_not_type_are_not_their_words(db_path, isolated, tmp_path):
    """Shapes of Claude Code 2.x files: a snapshot record, the caveat before a local command (isMeta), a slash
    command's wrapper, a streamed answer written as one record per part, a tool result with ``toolUseResult``,
    and a subagent's transcript in ``<session>/subagents/``."""
    root = tmp_path / "projects"
    sid = "0a0a0a0a-1111-4222-8333-444444444444"
    base = {"isSidechain": False, "userType": "external", "cwd": "/home/ana/src/atlas", "sessionId": sid,
            "version": "2.1.40", "gitBranch": "main"}
    _jsonl(root / "-home-ana-src-atlas" / f"{sid}.jsonl", [
        {"type": "file-history-snapshot", "messageId": "m0", "snapshot": {"messageId": "m0", "trackedFileBackups": {}}},
        {**base, "type": "user", "uuid": "c1", "parentUuid": None, "isMeta": True, "timestamp": "2026-11-20T09:00:00Z",
         "message": {"role": "user", "content": "Caveat: The messages below were generated by the user while running local commands."}},
        {**base, "type": "user", "uuid": "c2", "parentUuid": "c1", "timestamp": "2026-11-20T09:00:01Z",
         "message": {"role": "user", "content": "<command-name>/clear</command-name>\n<command-message>clear</command-message>"}},
        {**base, "type": "user", "uuid": "c3", "parentUuid": "c2", "timestamp": "2026-11-20T09:00:05Z",
         "message": {"role": "user", "content": "Why does the tile cache miss on every zoom change?"}},
        {**base, "type": "assistant", "uuid": "c3b", "parentUuid": "c3", "timestamp": "2026-11-20T09:00:08Z",
         "message": {"id": "msg_1", "role": "assistant", "content": [{"type": "text", "text": "\n\n"}]}},
        {**base, "type": "assistant", "uuid": "c4", "parentUuid": "c3b", "timestamp": "2026-11-20T09:00:09Z",
         "message": {"id": "msg_1", "role": "assistant", "content": [{"type": "thinking", "thinking": "Check the key."}]}},
        {**base, "type": "progress", "uuid": "c4b", "parentUuid": "c4", "timestamp": "2026-11-20T09:00:09Z",
         "data": {"type": "hook_progress", "hookEvent": "PreToolUse", "hookName": "PreToolUse:Grep"}},
        {**base, "type": "assistant", "uuid": "c5", "parentUuid": "c4", "timestamp": "2026-11-20T09:00:10Z",
         "message": {"id": "msg_1", "role": "assistant", "content": [{"type": "tool_use", "id": "toolu_9", "name": "Grep",
                                                                        "input": {"pattern": "cache_key"},
                                                                        "caller": {"type": "direct"}}]}},
        {**base, "type": "user", "uuid": "c6", "parentUuid": "c5", "timestamp": "2026-11-20T09:00:11Z",
         "toolUseResult": {"stdout": "src/tiles.rs:40"},
         "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_9",
                                                  "content": [{"type": "text", "text": "src/tiles.rs:40: cache_key(zoom_f64)"}],
                                                  "is_error": False}]}},
        {**base, "type": "assistant", "uuid": "c7", "parentUuid": "c6", "timestamp": "2026-11-20T09:00:20Z",
         "message": {"id": "msg_2", "role": "assistant", "content": [{"type": "text", "text": "The key hashes the float zoom."}]}},
    ])
    _jsonl(root / "-home-ana-src-atlas" / sid / "subagents" / "agent-a1b2.jsonl", [
        {**base, "isSidechain": True, "agentId": "a1b2", "type": "user", "uuid": "s1", "timestamp": "2026-11-20T09:00:12Z",
         "message": {"role": "user", "content": "Find every caller of cache_key."}},
        {**base, "isSidechain": True, "agentId": "a1b2", "type": "assistant", "uuid": "s2", "timestamp": "2026-11-20T09:00:15Z",
         "message": {"role": "assistant", "content": [{"type": "text", "text": "Two callers: render and prefetch."}]}},
    ])
    r = rem_cli(db_path, ["ingest", "claude-code", str(root)])
    assert r.exit_code == 0 and "sessions: 2 added" in r.output, r.output
    assert "meta 1" in r.output and "file-history-snapshot 1" in r.output and "progress 1" in r.output
    from rem.store import Store

    st = Store(db_path)
    sessions = q(st, "select name, metadata->>'project_folder', metadata->>'parent_session', metadata->>'session_id' "
                     "from sessions order by created_at")
    assert sessions[0] == ("Why does the tile cache miss on every zoom change?", "-home-ana-src-atlas", None, sid)
    assert sessions[1][:3] == ("Find every caller of cache_key.", "-home-ana-src-atlas", sid)
    contents = [c for (c,) in q(st, "select content from messages order by created_at")]
    assert not any(c.startswith("Caveat") for c in contents)  # the caveat is not the person's
    assert all(c.strip() for c in contents)  # a streamed part of blank lines is no message
    assert "src/tiles.rs:40: cache_key(zoom_f64)" in contents and "The key hashes the float zoom." in contents


def test_codex_instructions_and_context_are_not_the_persons_turns(db_path, isolated, tmp_path):
    """Shapes of Codex CLI rollouts: developer instructions, the environment context and AGENTS.md injected as user
    turns, ``apply_patch`` as a custom tool call, a local shell call, a compaction; and an early-format rollout
    (a first line without ``type``, items without ``payload`` or time)."""
    day = tmp_path / "sessions" / "2026" / "11" / "21"
    w = lambda t, kind, payload: {"timestamp": f"2026-11-21T08:00:{t:02d}Z", "type": kind, "payload": payload}  # noqa: E731
    msg = lambda role, text, part="input_text": {"type": "message", "role": role, "content": [{"type": part, "text": text}]}  # noqa: E731
    _jsonl(day / "rollout-2026-11-21T08-00-00-0199bb00-4444-7000-8000-dddddddddddd.jsonl", [
        w(0, "session_meta", {"id": "0199bb00-4444-7000-8000-dddddddddddd", "timestamp": "2026-11-21T08:00:00Z",
                              "cwd": "/home/ana/src/atlas", "originator": "codex_cli_rs", "cli_version": "0.63.0",
                              "git": {"branch": "zoom", "commit_hash": "abc"}, "base_instructions": {"text": "You are Codex."}}),
        w(1, "response_item", msg("developer", "<permissions instructions>sandbox: workspace-write</permissions instructions>")),
        w(2, "response_item", msg("user", "# AGENTS.md instructions for /home/ana/src/atlas\n\n<INSTRUCTIONS>run cargo fmt</INSTRUCTIONS>")),
        w(3, "response_item", msg("user", "<environment_context>\n  <cwd>/home/ana/src/atlas</cwd>\n</environment_context>")),
        w(4, "response_item", msg("user", "Round the zoom before hashing the tile key.")),
        w(5, "event_msg", {"type": "user_message", "message": "Round the zoom before hashing the tile key."}),
        w(6, "response_item", {"type": "local_shell_call", "call_id": "sh_1", "status": "completed",
                               "action": {"type": "exec", "command": ["rg", "cache_key"]}}),
        w(7, "response_item", {"type": "function_call_output", "call_id": "sh_1", "output": "src/tiles.rs:40"}),
        w(8, "response_item", {"type": "custom_tool_call", "call_id": "p_1", "name": "apply_patch",
                               "input": "*** Begin Patch\n*** Update File: src/tiles.rs\n-zoom_f64\n+zoom_f64.round()\n*** End Patch"}),
        w(9, "response_item", {"type": "custom_tool_call_output", "call_id": "p_1", "output": "Success. Updated src/tiles.rs"}),
        w(10, "compacted", {"message": "summary of the turns so far"}),
        w(11, "response_item", msg("assistant", "Rounded: the key is stable across zooms.", "output_text")),
    ])
    _jsonl(tmp_path / "sessions" / "2025" / "05" / "02" / "rollout-2025-05-02T10-00-00-early.jsonl", [
        {"id": "early-1", "timestamp": "2025-05-02T10:00:00.000Z", "instructions": ""},
        {"record_type": "state"},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Add a --dry-run flag."}]},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Added --dry-run."}]},
    ])
    r = rem_cli(db_path, ["ingest", "codex", str(tmp_path / "sessions")])
    assert r.exit_code == 0 and "sessions: 2 added" in r.output and "messages: 8 added" in r.output, r.output
    assert "developer 1" in r.output and "context 2" in r.output and "compacted 1" in r.output
    from rem.store import Store

    st = Store(db_path)
    (name, branch), = q(st, "select name, metadata->>'git_branch' from sessions where metadata->>'session_id' = "
                            "'0199bb00-4444-7000-8000-dddddddddddd'")
    assert (name, branch) == ("Round the zoom before hashing the tile key.", "zoom")
    tools = [c for (c,) in q(st, "select content from messages where role = 'tool' order by created_at")]
    assert tools[0].startswith("shell(") and "cache_key" in tools[0] and tools[2].startswith("apply_patch(*** Begin Patch")
    early = q(st, """select m.role, m.content, m.created_at from messages m join sessions s on s.id = m.session_id
                     where s.metadata->>'session_id' = 'early-1' order by m.created_at""")
    assert [(x[0], x[1]) for x in early] == [("user", "Add a --dry-run flag."), ("assistant", "Added --dry-run.")]
    assert early[0][2].year == 2025 and early[0][2] < early[1][2]
