"""Each ingest source: correct rows, idempotent, transactional, clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from rem.exceptions import IngestError
from rem.ingest import ingest_chat, ingest_chatgpt, ingest_git, ingest_jsonl, ingest_notes
from support import count, write_jsonl

# -- JSONL --------------------------------------------------------------------


def test_jsonl_resources_sessions_messages_roundtrip(store, tmp_path):
    s = write_jsonl(tmp_path / "s.jsonl", [{"id": "s1", "name": "Chat", "created_at": "2026-11-16T09:00:00Z"}])
    m = write_jsonl(tmp_path / "m.jsonl", [
        {"id": "m1", "session_id": "s1", "role": "user", "content": "hi", "created_at": "2026-11-16T09:01:00+01:00"},
        {"id": "m2", "session_id": "s1", "role": "assistant", "content": "hello", "created_at": "2026-11-16T09:02:00Z",
         "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "{}"}}]},
    ])
    r = write_jsonl(tmp_path / "r.jsonl", [{"name": "a.md", "content": "x", "resource_type": "note", "created_at": "2026-11-16T10:00:00Z"}])
    assert ingest_jsonl(store, s, "sessions").added == 1
    rep = ingest_jsonl(store, m, "messages")
    assert (rep.added, rep.updated, rep.skipped) == (2, 0, 0)
    assert ingest_jsonl(store, r, "resources").added == 1
    # offsets are honoured
    with store.read() as con:
        assert con.execute("select strftime(created_at AT TIME ZONE 'UTC', '%H:%M') from messages where id='m1'").fetchall() == [("08:01",)]
        assert con.execute("select json_extract_string(tool_calls, '$[0].function.name') from messages where id='m2'").fetchall() == [("f",)]


def test_jsonl_is_idempotent_and_updates_changed_rows(store, tmp_path):
    rows = [{"id": "r1", "name": "a", "content": "one", "resource_type": "note", "created_at": "2026-11-16T10:00:00Z"},
            {"id": "r2", "name": "b", "content": "two", "resource_type": "note", "created_at": "2026-11-16T11:00:00Z"}]
    f = write_jsonl(tmp_path / "r.jsonl", rows)
    assert ingest_jsonl(store, f, "resources").added == 2
    rep = ingest_jsonl(store, f, "resources")
    assert (rep.added, rep.updated, rep.skipped) == (0, 0, 2)
    rows[1]["content"] = "changed"
    write_jsonl(f, rows)
    rep = ingest_jsonl(store, f, "resources")
    assert (rep.added, rep.updated, rep.skipped) == (0, 1, 1)
    assert count(store, "select count(*) from resources where content='changed'") == 1
    assert count(store, "select count(*) from resources") == 2


def test_ids_are_derived_when_missing(store, tmp_path):
    f = write_jsonl(tmp_path / "r.jsonl", [{"name": "a", "content": "x", "resource_type": "note", "created_at": "2026-11-16T10:00:00Z"}])
    ingest_jsonl(store, f, "resources")
    ingest_jsonl(store, f, "resources")
    assert count(store, "select count(*) from resources") == 1


@pytest.mark.parametrize("line,field,needle", [
    ('{"id": "r", "resource_type": "note", "created_at": 5}', "created_at", "not of type 'string'"),
    ('{"id": "r", "resource_type": "note"}', None, "'created_at' is a required property"),
    ('{"id": "r", "resource_type": "note", "created_at": "yesterday"}', "created_at", "not an ISO 8601"),
    ('{"id": "r", "resource_type": "note", "created_at": "2026-11-16T10:00:00Z", "colour": 1}', None, "unknown field"),
    ('{"id": "r", "resource_type": "note", "created_at": "2026-11-16T10:00:00Z", "metadata": [1]}', "metadata", "not of type 'object'"),
    ('{"id": "r", "resource_type": ', None, "invalid JSON"),
    ('[1, 2]', None, "expected a JSON object"),
])
def test_malformed_jsonl_writes_nothing_and_names_line_and_field(store, tmp_path, line, field, needle):
    good = '{"id": "ok", "resource_type": "note", "created_at": "2026-11-16T10:00:00Z"}'
    f = tmp_path / "bad.jsonl"
    f.write_text(good + "\n" + line + "\n")
    with pytest.raises(IngestError) as e:
        ingest_jsonl(store, f, "resources")
    msg = str(e.value)
    assert f"{f}:2" in msg
    assert needle in msg
    if field:
        assert f"field '{field}'" in msg
    assert count(store, "select count(*) from resources") == 0


def test_invalid_utf8_and_nul_bytes(store, tmp_path):
    f = tmp_path / "r.jsonl"
    f.write_bytes(b'{"id": "r", "resource_type": "note", "created_at": "2026-11-16T10:00:00Z", "content": "\xff"}\n')
    with pytest.raises(IngestError, match=r"r.jsonl:1: not valid UTF-8"):
        ingest_jsonl(store, f, "resources")
    f.write_text(json.dumps({"id": "r", "resource_type": "note", "created_at": "2026-11-16T10:00:00Z", "content": "a\u0000b"}) + "\n")
    ingest_jsonl(store, f, "resources")
    assert count(store, "select count(*) from resources where content = 'ab'") == 1


def test_message_with_unknown_session_is_refused(store, tmp_path):
    f = write_jsonl(tmp_path / "m.jsonl", [{"id": "m1", "session_id": "ghost", "role": "user", "content": "x", "created_at": "2026-11-16T10:00:00Z"}])
    with pytest.raises(IngestError, match=r"m.jsonl:1: field 'session_id': session 'ghost' does not exist"):
        ingest_jsonl(store, f, "messages")
    assert count(store, "select count(*) from messages") == 0


def test_bad_role_is_refused(store, tmp_path):
    write_jsonl(tmp_path / "s.jsonl", [{"id": "s1", "created_at": "2026-11-16T09:00:00Z"}])
    ingest_jsonl(store, tmp_path / "s.jsonl", "sessions")
    f = write_jsonl(tmp_path / "m.jsonl", [{"id": "m1", "session_id": "s1", "role": "robot", "created_at": "2026-11-16T10:00:00Z"}])
    with pytest.raises(IngestError, match=r"field 'role'"):
        ingest_jsonl(store, f, "messages")


def test_extreme_timestamps(store, tmp_path):
    f = write_jsonl(tmp_path / "r.jsonl", [
        {"id": "old", "resource_type": "note", "created_at": "1900-01-01T00:00:00-05:00"},
        {"id": "new", "resource_type": "note", "created_at": "2200-12-31T23:59:59+14:00"},
    ])
    ingest_jsonl(store, f, "resources")
    with store.read() as con:
        got = dict(con.execute("select id, year(created_at AT TIME ZONE 'UTC') from resources").fetchall())
    assert got == {"old": 1900, "new": 2200}


# -- notes ---------------------------------------------------------------------


def test_notes_front_matter_mtime_and_updates(store, tmp_path):
    d = tmp_path / "notes"
    (d / "sub").mkdir(parents=True)
    (d / "a.md").write_text("---\ntitle: Alpha\ndate: 2026-11-16T09:30:00Z\ntags: [x]\n---\n# Heading\nbody\n")
    (d / "sub" / "b.txt").write_text("# Bee\nplain")
    (d / ".hidden.md").write_text("skip")
    (d / "image.png").write_bytes(b"\x89PNG")
    old = time.time() - 86400 * 3
    os.utime(d / "sub" / "b.txt", (old, old))
    rep = ingest_notes(store, d)
    assert rep.added == 2 and not rep.errors
    with store.read() as con:
        rows = dict(con.execute("select name, epoch(created_at)::bigint from resources").fetchall())
    assert rows["Alpha"] == 1794821400  # 2026-11-16T09:30Z
    assert abs(rows["Bee"] - int(old)) <= 1
    assert ingest_notes(store, d).added == 0
    (d / "a.md").write_text("---\ntitle: Alpha\ndate: 2026-11-16T09:30:00Z\n---\nnew body\n")
    rep = ingest_notes(store, d)
    assert (rep.added, rep.updated) == (0, 1)


def test_notes_bad_front_matter_is_named_and_others_written(store, tmp_path):
    d = tmp_path / "notes"
    d.mkdir()
    (d / "good.md").write_text("hello")
    (d / "bad.md").write_text("---\ntitle: [unclosed\n---\nbody")
    (d / "latin1.md").write_bytes("caf\xe9".encode("latin-1"))
    rep = ingest_notes(store, d)
    assert rep.added == 1
    assert any("bad.md" in e and "front matter" in e for e in rep.errors)
    assert any("latin1.md" in e and "UTF-8" in e for e in rep.errors)


def test_notes_read_only_regular_files_inside_the_folder(store, tmp_path):
    """A link out of the folder (a key), a FIFO (would hang), a link to
    /dev/zero (would fill memory), a note over the size cap and a dangling
    link are passed over or refused by name; the other notes are written,
    including the note a link inside the folder points to and a non-UTF-8 file name."""
    from rem.ingest import notes

    d = tmp_path / "notes"
    (d / "sub").mkdir(parents=True)
    secret = tmp_path / "id_rsa"
    secret.write_text("-----BEGIN OPENSSH PRIVATE KEY----- not for the model")
    (d / "good.md").write_text("# Good\nhello")
    (d / "sub" / "inner.md").write_text("inside")
    (d / "alias.md").symlink_to(d / "sub" / "inner.md")
    (d / "key.md").symlink_to(secret)
    (d / "escape").symlink_to(tmp_path)  # a directory link out: not walked
    os.mkfifo(d / "pipe.md")
    (d / "zero.md").symlink_to("/dev/zero")
    (d / "dangling.md").symlink_to(d / "gone.md")
    (d / "huge.md").write_bytes(b"x" * (notes.MAX_NOTE_BYTES + 1))
    Path(os.fsdecode(os.fsencode(d) + b"/caf\xe9.md")).write_bytes(b"latin-1 name")
    rep = ingest_notes(store, d)
    names = sorted(r[0] for r in store_rows(store, "select metadata->>'path' from resources"))
    # the link inside the folder is the note it points to (one row, by resolved path)
    assert names[:2] == ["caf\\xe9.md", "good.md"] and names[2] in ("alias.md", "sub/inner.md") and len(names) == 3
    assert not store_rows(store, "select 1 from resources where content like '%PRIVATE KEY%'")
    over = " ".join(rep.passed_over)
    assert "key.md" in over and "outside" in over and "pipe.md: a FIFO" in over and "zero.md" in over
    assert "huge.md" in over and len(rep.passed_over) == 4
    assert len(rep.errors) == 1 and "dangling.md" in rep.errors[0]
    assert "4 file(s) passed over" in rep.line() and "1 input(s) refused" in rep.line()


def store_rows(store, sql):
    from support import q

    return q(store, sql)


# -- git -----------------------------------------------------------------------


def _git(repo: Path, *args: str, env: dict | None = None) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    r = tmp_path / "repo"
    r.mkdir()
    _git(r, "init", "-q", "-b", "main")
    _git(r, "config", "user.name", "Sam")
    _git(r, "config", "user.email", "sam@example.com")
    for i in range(5):
        (r / f"f{i}.txt").write_text("line\n" * (i + 1))
        _git(r, "add", "-A")
        _git(r, "commit", "-q", "-m", f"Commit {i}\n\nBody {i}", env={"GIT_AUTHOR_DATE": f"2026-11-1{i}T10:00:00+00:00", "GIT_COMMITTER_DATE": f"2026-11-1{i}T10:00:00+00:00"})
    _git(r, "commit", "-q", "--allow-empty", "--allow-empty-message", "-m", "",
         env={"GIT_AUTHOR_NAME": "Zoë Ünïcode", "GIT_AUTHOR_EMAIL": "zoe@example.com"})
    return r


def test_git_commits_match_rev_list_and_reingest_adds_nothing(store, repo):
    ingest_git(store, repo)
    n = int(_git(repo, "rev-list", "--count", "HEAD"))
    assert count(store, "select count(*) from resources where resource_type='commit'") == n == 6
    rep = ingest_git(store, repo)
    assert rep.added == 0 and rep.skipped == 6
    # the edges rule (one row per source, target, type) holds without a key
    assert count(store, "select count(*) from edges") == 6
    assert count(store, "select count(*) - count(distinct (source_id, target_id, edge_type)) from edges") == 0
    with store.read() as con:
        row = con.execute("select name, content, metadata->>'insertions', metadata->>'author' from resources where name='Commit 4'").fetchall()[0]
        assert row[0] == "Commit 4" and "Body 4" in row[1] and row[2] == "5" and row[3] == "Sam"
        assert con.execute("select name from resources where metadata->>'author' = 'Zoë Ünïcode'").fetchall() == [("(no commit message)",)]
        people = {r[0] for r in con.execute("select name from entities where kind='person'").fetchall()}
        assert people == {"Sam", "Zoë Ünïcode"}
        assert con.execute("select count(*) from edges where edge_type='authored_by'").fetchall()[0][0] == 6


def test_git_bare_repository_and_limits(store, repo, tmp_path):
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(bare)], check=True)
    ingest_git(store, bare, max_count=2)
    assert count(store, "select count(*) from resources") == 2
    ingest_git(store, bare, since="2026-11-12T00:00:00", until="2026-11-13T23:00:00")
    assert count(store, "select count(*) from resources where name in ('Commit 2', 'Commit 3')") == 2


def test_one_oversized_commit_is_named_and_the_rest_written(store, repo, tmp_path):
    from rem.values import MAX_TEXT

    msg = tmp_path / "msg"
    msg.write_text("Huge\n\n" + "x" * (MAX_TEXT + 1024 * 1024))
    _git(repo, "commit", "-q", "--allow-empty", "-F", str(msg))
    sha = _git(repo, "rev-parse", "HEAD").strip()
    rep = ingest_git(store, repo)
    assert rep.added == 6 and len(rep.errors) == 1 and sha[:12] in rep.errors[0] and "limit" in rep.errors[0]
    assert "1 input(s) refused" in rep.line()


def test_a_rev_cannot_smuggle_an_option_into_git(store, repo, tmp_path):
    """`--rev=--output=FILE` would make git write FILE: refused by name, nothing written."""
    target = tmp_path / "PWNED"
    with pytest.raises(IngestError, match="is not a revision"):
        ingest_git(store, repo, rev=f"--output={target}")
    assert not target.exists()


def test_git_errors_name_the_path(store, tmp_path):
    (tmp_path / "plain").mkdir()
    with pytest.raises(IngestError, match="plain"):
        ingest_git(store, tmp_path / "plain")


# -- ChatGPT export ------------------------------------------------------------


def _conv(cid="c1", cycle=False):
    mapping = {
        "root": {"id": "root", "message": None, "parent": None, "children": ["a"]},
        "a": {"id": "a", "parent": "root", "children": ["b1", "b2"], "message": {"id": "a", "author": {"role": "user"}, "create_time": 1794821400.0, "content": {"content_type": "text", "parts": ["question"]}}},
        "b1": {"id": "b1", "parent": "a", "children": [], "message": {"id": "b1", "author": {"role": "assistant"}, "create_time": 1794821460.0, "content": {"content_type": "text", "parts": ["old branch"]}}},
        "b2": {"id": "b2", "parent": "a", "children": [], "message": {"id": "b2", "author": {"role": "assistant"}, "create_time": 1794821470.0, "content": {"content_type": "text", "parts": ["current answer"]}}},
        "h": {"id": "h", "parent": "root", "children": [], "message": {"id": "h", "author": {"role": "system"}, "create_time": None, "content": {"content_type": "text", "parts": [""]}}},
    }
    if cycle:
        mapping["root"]["parent"] = "b2"
    return {"id": cid, "title": "Ask", "create_time": 1794821400.0, "mapping": mapping, "current_node": "b2"}


def test_chatgpt_current_branch_roles_and_idempotency(store, tmp_path):
    f = tmp_path / "conversations.json"
    f.write_text(json.dumps([_conv()]))
    rep = ingest_chatgpt(store, f)
    assert rep.per_table["sessions"].added == 1 and rep.per_table["messages"].added == 2
    with store.read() as con:
        assert con.execute("select role, content from messages order by created_at").fetchall() == [("user", "question"), ("assistant", "current answer")]
    assert ingest_chatgpt(store, tmp_path).added == 0  # the folder works too


def test_chatgpt_cycle_and_truncation_are_refused(store, tmp_path):
    f = tmp_path / "conversations.json"
    f.write_text(json.dumps([_conv(cycle=True)]))
    with pytest.raises(IngestError, match=r"conversation 1 \(c1\): field 'mapping': the parent links form a cycle"):
        ingest_chatgpt(store, f)
    f.write_text(json.dumps([_conv()])[:-40])
    with pytest.raises(IngestError, match="invalid JSON .* truncated export"):
        ingest_chatgpt(store, f)
    assert count(store, "select count(*) from messages") == 0


# -- plain chat ------------------------------------------------------------------


def test_chat_format(store, tmp_path):
    f = write_jsonl(tmp_path / "chat.jsonl", [
        {"session": "standup", "session_name": "Daily standup", "role": "user", "content": "hi", "created_at": "2026-11-16T09:30:00Z"},
        {"session": "standup", "role": "assistant", "content": "hello", "created_at": "2026-11-16T09:31:00Z",
         "tool_calls": [{"type": "function", "function": {"name": "x", "arguments": "{}"}}]},
        {"session": "other", "role": "user", "content": "yo", "created_at": "2026-11-16T11:00:00Z"},
    ])
    rep = ingest_chat(store, f)
    assert rep.per_table["sessions"].added == 2 and rep.per_table["messages"].added == 3
    assert ingest_chat(store, f).added == 0
    with store.read() as con:
        assert con.execute("select name from sessions order by created_at").fetchall() == [("Daily standup",), ("other",)]


def test_chat_errors(store, tmp_path):
    f = write_jsonl(tmp_path / "chat.jsonl", [{"session": "s", "role": "user", "content": "x", "created_at": "2026-11-16T09:30:00Z"},
                                              {"session": "s", "role": "user", "content": "x", "when": "now"}])
    with pytest.raises(IngestError, match=r"chat.jsonl:2: field 'when': unknown field"):
        ingest_chat(store, f)
    assert count(store, "select count(*) from messages") == 0


def _slack_export(root):
    (root / "general").mkdir(parents=True)
    (root / "users.json").write_text(json.dumps([
        {"id": "U1", "name": "alice", "real_name": "Alice Chen", "profile": {"real_name": "Alice Chen"}},
        {"id": "U2", "name": "dima", "profile": {"real_name": "Дмитрий Иванов"}}]), encoding="utf-8")
    (root / "channels.json").write_text(json.dumps([{"id": "C1", "name": "general"}]), encoding="utf-8")
    (root / "general" / "2026-11-12.json").write_text(json.dumps([
        {"type": "message", "user": "U1", "text": "Deploy at 5? <@U2> can you check <https://ci.example.com/1|the CI>?", "ts": "1763024400.000100"},
        {"type": "message", "subtype": "channel_join", "user": "U2", "text": "<@U2> has joined", "ts": "1763024401.000100"},
        {"type": "message", "user": "U2", "text": "CI is green", "ts": "1763024460.000200", "thread_ts": "1763024400.000100"},
        {"type": "message", "bot_id": "B1", "subtype": "bot_message", "username": "deploybot", "text": "Deployed v2", "ts": "1763024520.000300"},
    ]), encoding="utf-8")
    (root / "general" / "2026-11-13.json").write_text("[{not json", encoding="utf-8")


def test_slack_export_keeps_who_said_what_and_refuses_only_the_bad_day(store, tmp_path):
    from rem.ingest import ingest_slack

    _slack_export(tmp_path / "export")
    rep = ingest_slack(store, tmp_path / "export")
    assert len(rep.errors) == 1 and "2026-11-13.json" in rep.errors[0] and "invalid JSON" in rep.errors[0]
    with store.read() as con:
        rows = con.execute("select role, speaker, content from messages order by created_at").fetchall()
        people = {r[0] for r in con.execute("select name from entities where kind = 'person'").fetchall()}
        sessions = con.execute("select name from sessions").fetchall()
        involves = con.execute("select count(*) from edges where edge_type = 'involves'").fetchall()[0][0]
    assert rows == [("user", "Alice Chen", "Deploy at 5? @Дмитрий Иванов can you check the CI (https://ci.example.com/1)?"),
                    ("user", "Дмитрий Иванов", "CI is green"), ("assistant", "deploybot", "Deployed v2")]
    assert people == {"Alice Chen", "Дмитрий Иванов"} and sessions == [("#general",)] and involves == 2
    # idempotent, and the .zip Slack sends works the same
    assert ingest_slack(store, tmp_path / "export").added == 0
    import shutil

    shutil.make_archive(str(tmp_path / "export"), "zip", tmp_path / "export")
    assert ingest_slack(store, tmp_path / "export.zip").added == 0


def test_chat_speakers_become_people_and_old_ids_stay(store, tmp_path):
    f = write_jsonl(tmp_path / "c.jsonl", [
        {"session": "s", "role": "user", "content": "a", "created_at": "2026-11-12T09:00:00Z"},
        {"session": "s", "role": "user", "content": "b", "created_at": "2026-11-12T09:00:00Z", "speaker": "Mei Lin"},
        {"session": "s", "role": "user", "content": "c", "created_at": "2026-11-12T09:00:00Z", "speaker": "王伟"}])
    rep = ingest_chat(store, f)
    assert rep.added == 4  # the session and three messages: same second, different speakers
    from rem.ids import stable_id

    sid = stable_id("chat-session", "s")
    assert count(store, f"select count(*) from messages where id = '{stable_id('chat-message', sid, '2026-11-12T09:00:00+00:00', 'user', 1)}'") == 1
    assert count(store, "select count(*) from entities where kind = 'person' and name in ('Mei Lin', '王伟')") == 2


def test_jsonl_messages_without_ids_at_the_same_second_do_not_collapse(store, tmp_path):
    ingest_jsonl(store, write_jsonl(tmp_path / "s.jsonl", [{"id": "s1", "created_at": "2026-11-12T09:00:00Z"}]), "sessions")
    rows = [{"session_id": "s1", "role": "user", "content": c, "created_at": "2026-11-12T09:00:00Z"} for c in ("first", "second")]
    f = write_jsonl(tmp_path / "m.jsonl", rows)
    assert ingest_jsonl(store, f, "messages").added == 2
    assert ingest_jsonl(store, f, "messages").added == 0  # and again: nothing new
    assert count(store, "select count(distinct content) from messages") == 2
