"""Every ingestion source fuzzed with hypothesis: wrong types, missing and
extra fields, huge strings, NUL bytes, invalid UTF-8, timestamps from 1900
and 2200 in every time zone, sessions that do not exist, cyclic and
truncated ChatGPT exports, git commits with empty messages and non-UTF-8
authors. Each input is accepted or refused with a message naming the
place — never another exception, never a partial write."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rem.exceptions import IngestError, RemError
from rem.ingest import ingest_chat, ingest_chatgpt, ingest_git, ingest_jsonl, ingest_notes
from rem.store import Store
from support import scale

pytestmark = pytest.mark.slow

TABLES = ("resources", "sessions", "messages", "entities", "edges")
N = scale(60, 600)
FUZZ = settings(max_examples=N, deadline=None, derandomize=not os.environ.get("REM_RELIABILITY"),
                suppress_health_check=list(HealthCheck))

zones = st.sampled_from(["Z", "+00:00", "+14:00", "-12:00", "+05:45", "-03:30", ""])
timestamps = st.one_of(
    st.builds(lambda y, mo, d, h, z: f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:00:00{z}",
              st.sampled_from([1900, 1969, 1970, 2026, 2038, 2200, 9999]), st.integers(1, 12), st.integers(1, 28),
              st.integers(0, 23), zones),
    st.integers(-10**12, 10**12), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
    st.none(), st.booleans(), st.just("2026-02-30T25:61:00Z"))
texts = st.one_of(st.text(max_size=200), st.text(alphabet=st.characters(codec="utf-8"), max_size=50).map(lambda s: s + "\x00" + s),
                  st.just("x" * 200_000), st.just("\ud800 lone surrogate"), st.integers(), st.none(), st.lists(st.integers(), max_size=3))
json_values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20)),
                           lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(st.text(max_size=8), c, max_size=3)),
                           max_leaves=8)


def record(fields: dict[str, st.SearchStrategy]) -> st.SearchStrategy:
    """A dict with any subset of the real fields (good or hostile values) plus extra ones."""
    return st.fixed_dictionaries({}, optional={**fields, "extra_field": json_values, "id": st.one_of(st.text(max_size=12), st.integers())})


RESOURCE = record({"name": texts, "content": texts, "resource_type": st.sampled_from(["note", "document", "bogus", 3]),
                   "created_at": timestamps, "uri": texts, "metadata": json_values, "tags": st.one_of(st.lists(texts, max_size=3), texts)})
SESSION = record({"name": texts, "created_at": timestamps, "metadata": json_values})
MESSAGE = record({"session_id": st.sampled_from(["s1", "missing", "", 5]), "role": st.sampled_from(["user", "assistant", "robot", None]),
                  "content": texts, "created_at": timestamps, "tool_calls": json_values})
CHAT = record({"session": st.one_of(st.text(max_size=10), st.none(), st.integers()), "role": st.sampled_from(["user", "tool", "x"]),
               "content": texts, "created_at": timestamps, "tool_calls": json_values, "session_name": texts})


def lines(rec: st.SearchStrategy) -> st.SearchStrategy:
    """JSONL bytes: good lines, broken JSON, invalid UTF-8, blank lines."""
    line = st.one_of(rec.map(lambda r: json.dumps(r).encode()), st.just(b"{not json"), st.just(b"\xff\xfe\x00garbage"),
                     st.just(b""), st.just(b"[1, 2, 3]"), st.just(b'"just a string"'))
    return st.lists(line, min_size=1, max_size=6).map(lambda ls: b"\n".join(ls) + b"\n")


def counts(store: Store) -> dict[str, int]:
    with store.read() as con:
        return {t: con.execute(f"select count(*) from {t}").fetchall()[0][0] for t in TABLES}


class Outcome:
    def __init__(self) -> None:
        self.tried = self.survived = self.lost = 0


def _check(outcome: Outcome, store: Store, call) -> None:
    """``call()`` either succeeds or raises IngestError naming the place, writing nothing."""
    before = counts(store)
    outcome.tried += 1
    try:
        call()
    except IngestError as e:
        assert str(e) and ":" in str(e), f"an error without a place: {e}"
        assert counts(store) == before, "a refused input wrote rows"
    except RemError as e:  # any other clear REM error is a refusal too
        assert counts(store) == before, f"a refused input wrote rows ({e})"
    outcome.survived += 1


@pytest.fixture(scope="module")
def fuzz_store(tmp_path_factory):
    s = Store(tmp_path_factory.mktemp("fuzz") / "rem.duckdb")
    s.init()
    return s


@pytest.mark.parametrize("kind,strategy", [("resources", RESOURCE), ("sessions", SESSION), ("messages", MESSAGE)])
def test_fuzz_jsonl(fuzz_store, tally, kind, strategy):
    out = Outcome()
    d = Path(tempfile.mkdtemp())

    @FUZZ
    @given(lines(strategy))
    def prop(data: bytes) -> None:
        f = d / f"{kind}.jsonl"
        f.write_bytes(data)
        _check(out, fuzz_store, lambda: ingest_jsonl(fuzz_store, f, kind))

    prop()
    tally(f"ingest fuzz: JSONL {kind}", out.tried, out.survived)


def test_fuzz_chat(fuzz_store, tally):
    out = Outcome()
    d = Path(tempfile.mkdtemp())

    @FUZZ
    @given(lines(CHAT))
    def prop(data: bytes) -> None:
        f = d / "chat.jsonl"
        f.write_bytes(data)
        _check(out, fuzz_store, lambda: ingest_chat(fuzz_store, f))

    prop()
    tally("ingest fuzz: plain chat JSONL", out.tried, out.survived)


node_ids = st.sampled_from(["a", "b", "c", "d", "missing"])
NODE = st.fixed_dictionaries({}, optional={
    "id": node_ids, "parent": st.one_of(node_ids, st.none(), st.integers()), "children": st.one_of(st.lists(node_ids, max_size=3), texts),
    "message": st.one_of(st.none(), texts, st.fixed_dictionaries({}, optional={
        "author": st.one_of(st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "system", "tool", "?"])}), texts),
        "content": st.one_of(st.fixed_dictionaries({}, optional={"content_type": st.sampled_from(["text", "code", "multimodal_text"]),
                                                                  "parts": st.lists(st.one_of(texts, json_values), max_size=3)}), texts),
        "create_time": timestamps, "id": texts}))})
CONV = st.fixed_dictionaries({}, optional={"title": texts, "create_time": timestamps, "update_time": timestamps,
                                           "mapping": st.one_of(st.dictionaries(node_ids, NODE, max_size=5), texts, st.lists(NODE, max_size=2)),
                                           "current_node": st.one_of(node_ids, st.none()), "id": texts, "conversation_id": texts})


def test_fuzz_chatgpt_export(fuzz_store, tally):
    out = Outcome()
    d = Path(tempfile.mkdtemp())

    @FUZZ
    @given(st.one_of(st.lists(CONV, max_size=3).map(lambda v: json.dumps(v).encode()),
                     st.lists(CONV, min_size=1, max_size=3).map(lambda v: json.dumps(v).encode()[: max(1, len(json.dumps(v)) // 2)]),
                     json_values.map(lambda v: json.dumps(v).encode()), st.binary(max_size=40)))
    def prop(data: bytes) -> None:
        f = d / "conversations.json"
        f.write_bytes(data)
        _check(out, fuzz_store, lambda: ingest_chatgpt(fuzz_store, f, show_progress=False))

    prop()
    tally("ingest fuzz: ChatGPT exports (cyclic, truncated, wrong shapes)", out.tried, out.survived)


def test_fuzz_notes(fuzz_store, tally):
    out = Outcome()

    front = st.one_of(st.just(b""), st.builds(lambda k, v: b"---\n" + k.encode("utf-8", "surrogatepass") + b": " + v + b"\n---\n",
                                               st.sampled_from(["date", "title", "created", "tags", "x"]),
                                               st.one_of(st.sampled_from([b"1900-01-01", b"2200-12-31T23:00:00+14:00", b"[unclosed",
                                                                          b"{a: [b", b"!!python/object:os.system ls", b"2026-11-16"]),
                                                         st.binary(max_size=20))),
                      st.just(b"---\nno closing fence\n"))
    body = st.one_of(st.binary(max_size=200), st.text(max_size=200).map(lambda s: s.encode("utf-8", "surrogatepass")),
                     st.just(b"\x00" * 50), st.just(b"\xff\xfe\xfd invalid utf-8"))

    @FUZZ
    @given(st.lists(st.tuples(front, body), min_size=1, max_size=3))
    def prop(notes) -> None:
        d = Path(tempfile.mkdtemp())
        for i, (fm, b) in enumerate(notes):
            (d / f"n{i}.md").write_bytes(fm + b)

        def call() -> None:
            rep = ingest_notes(fuzz_store, d, show_progress=False)
            assert rep.added + rep.updated + rep.skipped + len(rep.errors) == len(notes), rep
            for err in rep.errors:
                assert ".md" in err, f"an error that does not name the note: {err}"

        _check(out, fuzz_store, call)

    prop()
    tally("ingest fuzz: note folders (front matter, binary, NUL, invalid UTF-8)", out.tried, out.survived)


def _git(repo: Path, *args: str, env: dict[str, str] | None = None) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, env={**os.environ, **(env or {})})


def test_git_hostile_commits(fuzz_store, tmp_path, tally):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    cases = 0
    base = {"GIT_COMMITTER_NAME": "c", "GIT_COMMITTER_EMAIL": "c@example.com"}
    for i, (msg, name, date) in enumerate([
        ("", "Empty Message", "2026-11-16T09:00:00Z"),
        ("subject only", "Zoë Ünicode", "1970-01-01T00:00:01Z"),
        ("x" * 100_000, "Long Message", "2099-12-31T23:59:59+14:00"),
        ("nul \x01 control \x1b[31m chars", "Ctl", "2026-11-16T09:00:00-12:00"),
    ]):
        (repo / f"f{i}").write_text(str(i))
        _git(repo, "add", ".")
        _git(repo, "commit", "-q", "--allow-empty-message", "-m", msg,
             env={**base, "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": "a@example.com", "GIT_AUTHOR_DATE": date,
                  "GIT_COMMITTER_DATE": date})
        cases += 1
    # a non-UTF-8 author and message, as old repositories have (latin-1 bytes)
    (repo / "latin").write_text("l")
    _git(repo, "add", ".")
    subprocess.run([b"git", b"-C", str(repo).encode(), b"-c", b"i18n.commitEncoding=latin1", b"commit", b"-q", b"-m", b"caf\xe9 na\xefve"],
                   check=True, capture_output=True, env={**{k.encode(): v.encode() for k, v in os.environ.items()},
                                                         b"GIT_AUTHOR_NAME": b"Ren\xe9 M\xfcller", b"GIT_AUTHOR_EMAIL": b"r@example.com",
                                                         b"GIT_COMMITTER_NAME": b"c", b"GIT_COMMITTER_EMAIL": b"c@example.com"})
    cases += 1
    rep = ingest_git(fuzz_store, repo)
    assert rep.added == cases, rep
    with fuzz_store.read() as con:
        rows = con.execute("select name, content from resources where resource_type = 'commit'").fetchall()
    assert any("caf" in (c or "") for _, c in rows)
    again = ingest_git(fuzz_store, repo)
    assert again.added == 0
    tally("ingest: git commits with empty/huge/control-character messages, 1970/2099 dates, non-UTF-8 authors", cases, cases)
