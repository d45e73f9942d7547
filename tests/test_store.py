"""The store: path resolution, DDL from the JSON Schemas, versioning."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rem import schema
from rem.exceptions import SchemaVersionError
from rem.store import default_db_path, fetch_rows


def test_default_path_follows_env_and_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("REM_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_db_path() == tmp_path / "xdg" / "rem" / "rem.duckdb"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_db_path() == tmp_path / "home" / ".local" / "share" / "rem" / "rem.duckdb"
    monkeypatch.setenv("REM_DB", str(tmp_path / "x.duckdb"))
    assert default_db_path() == tmp_path / "x.duckdb"


def test_tables_follow_the_json_schemas(store):
    store.init()
    with store.read() as con:
        for t in schema.load_tables().values():
            cols = [r[0] for r in fetch_rows(con, f"select column_name from information_schema.columns where table_name='{t.name}' order by ordinal_position")]
            doc = json.loads((Path(str(schema.schema_dir())) / f"{t.name}.json").read_text())
            assert cols == list(doc["properties"]), t.name
        assert fetch_rows(con, "select value from rem_meta where key='schema_version'") == [(str(schema.schema_version()),)]


def test_edges_have_no_primary_key_but_others_do(store):
    store.init()
    with store.read() as con:
        keyed = {r[0] for r in fetch_rows(con, "select table_name from duckdb_constraints() where constraint_type='PRIMARY KEY'")}
    assert "edges" not in keyed and {"resources", "sessions", "messages", "moments", "entities", "dream_runs"} <= keyed


def test_newer_schema_version_is_refused(store):
    store.init()
    with store.connect() as con:
        fetch_rows(con, "update rem_meta set value='999' where key='schema_version'")
    with pytest.raises(SchemaVersionError, match="upgrade REM"):
        with store.read():
            pass


def test_missing_columns_are_added_on_open(store):
    store.init()
    with store.connect() as con:
        fetch_rows(con, "alter table resources drop column user_id")
        fetch_rows(con, "update rem_meta set value='0' where key='schema_version'")
    with store.connect() as con:
        assert "user_id" in [r[0] for r in fetch_rows(con, "select column_name from information_schema.columns where table_name='resources'")]


def test_enum_check_constraint(store):
    import duckdb

    store.init()
    with store.connect() as con:
        fetch_rows(con, "insert into sessions (id, created_at) values ('s', now())")
        with pytest.raises(duckdb.ConstraintException):
            fetch_rows(con, "insert into messages (id, session_id, role, created_at) values ('m', 's', 'robot', now())")


def test_a_grown_enum_is_migrated_and_rows_kept(store):
    """A database from an older release (dream_runs without the 'reverted'
    status) is rebuilt on open with the new constraint and every row."""
    import duckdb

    store.init()
    with store.connect() as con:
        ddl = schema.table("dream_runs").ddl().replace(", 'reverted'", "")
        fetch_rows(con, "drop table dream_runs")
        fetch_rows(con, ddl)
        fetch_rows(con, "insert into dream_runs (id, started_at, status, metadata) values ('r1', now(), 'ok', '{\"pid\": 1}')")
        with pytest.raises(duckdb.ConstraintException):
            fetch_rows(con, "insert into dream_runs (id, started_at, status) values ('r0', now(), 'reverted')")
        fetch_rows(con, "update rem_meta set value='2' where key='schema_version'")
    with store.connect() as con:
        fetch_rows(con, "insert into dream_runs (id, started_at, status) values ('r2', now(), 'reverted')")
        rows = fetch_rows(con, "select id, status, metadata->>'pid' from dream_runs order by id")
    assert rows == [("r1", "ok", "1"), ("r2", "reverted", None)]


@pytest.mark.parametrize("first_open", ["write", "graph read"])
def test_edges_of_an_older_store_get_dense_node_keys_on_open(store, first_open):
    """Schema 4 keys every node: a store written before it (no `nodes`
    table, no key columns) is migrated on open, keys dense and shared —
    also when the first command after the upgrade only reads the graph."""
    store.init()
    with store.connect() as con:
        fetch_rows(con, "drop table nodes")
        fetch_rows(con, "alter table edges drop column source_key")
        fetch_rows(con, "alter table edges drop column target_key")
        for s, t in [("m1", "e1"), ("m1", "e2"), ("m2", "e1"), ("e2", "m2")]:
            fetch_rows(con, "insert into edges (source_id, target_id, edge_type, weight, created_at, reinforced_at, reinforcement_count) "
                     "values ($s, $t, 'about', 1.0, now(), now(), 1)", {"s": s, "t": t})
        fetch_rows(con, "update rem_meta set value='3' where key='schema_version'")
    if first_open == "graph read":
        from rem import graph

        assert graph.stats(store)["edges"] == 4
    with store.connect() as con:
        nodes = dict(fetch_rows(con, "select id, key from nodes"))
        edges = fetch_rows(con, "select source_id, target_id, source_key, target_key from edges")
    assert sorted(nodes.values()) == list(range(4))  # dense 0..n-1
    assert all(nodes[s] == sk and nodes[t] == tk for s, t, sk, tk in edges)


@pytest.mark.parametrize("first", ["moments", "query", "search"])
def test_a_file_an_older_rem_wrote_is_upgraded_by_the_first_command_that_only_reads_it(store, first):
    """A moment field added since (place, schema 9) is there for `rem moments`, `rem query` and search on
    a file written before it, though those open it read-only."""
    from support import rem_cli

    store.init()
    with store.connect() as con:
        fetch_rows(con, "insert into moments (id, name, start_time, end_time) values ('m1', 'An old moment', "
                        "'2026-03-02 09:00+00', '2026-03-02 10:00+00')")
        fetch_rows(con, "alter table moments drop column place")
        fetch_rows(con, "update rem_meta set value='8' where key='schema_version'")
    args = {"moments": ["moments", "--since", "2026-03-01", "--json"], "query": ["query", "select place from moments", "--json"],
            "search": ["search", "old moment", "--json"]}[first]
    r = rem_cli(store.path, args)
    assert r.exit_code == 0, r.output
    assert "An old moment" in r.output or '"place": null' in r.output
    with store.read() as con:
        assert fetch_rows(con, "select value from rem_meta where key = 'schema_version'") == [(str(schema.schema_version()),)]
        assert fetch_rows(con, "select place from moments") == [(None,)]


# -- files that are not REM databases ---------------------------------------------------------------------


def _foreign_duckdb(path: Path) -> None:
    import duckdb

    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE resources (id INTEGER PRIMARY KEY, v VARCHAR)")
    con.execute("COMMENT ON TABLE resources IS 'the other application''s'")
    con.execute("CREATE INDEX resources_v ON resources (v)")
    con.execute("INSERT INTO resources VALUES (1, 'theirs')")
    con.close()


def _shape(path: Path) -> list:
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        return [con.execute("SELECT table_name, comment FROM duckdb_tables() ORDER BY 1").fetchall(),
                con.execute("SELECT index_name FROM duckdb_indexes()").fetchall(),
                con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'resources' ORDER BY 1").fetchall(),
                con.execute("SELECT * FROM resources").fetchall()]
    finally:
        con.close()


@pytest.mark.parametrize("command", [["init"], ["query", "select 1 as x"], ["moments"], ["dream", "--llm", "none"],
                                     ["graph", "stats"], ["doctor"]])
def test_a_duckdb_file_of_another_application_is_refused_and_left_unchanged(tmp_path, command):
    from support import rem_cli

    db = tmp_path / "theirs.duckdb"
    _foreign_duckdb(db)
    before = _shape(db)
    r = rem_cli(db, command)
    assert r.exit_code != 0 and "not a REM one" in r.output and "--adopt" in r.output, r.output
    assert "Traceback" not in r.output
    assert _shape(db) == before


def test_adopt_adds_rem_tables_beside_others_but_never_over_them(tmp_path):
    import duckdb

    from support import rem_cli

    db = tmp_path / "theirs.duckdb"
    _foreign_duckdb(db)
    r = rem_cli(db, ["init", "--adopt"])
    assert r.exit_code == 1 and "already has tables named resources" in r.output
    other = tmp_path / "other.duckdb"
    con = duckdb.connect(str(other))
    con.execute("CREATE TABLE their_stuff (x INTEGER)")
    con.close()
    assert rem_cli(other, ["query", "select 1 as x"]).exit_code == 1
    assert rem_cli(other, ["init", "--adopt"]).exit_code == 0
    r = rem_cli(other, ["query", "select count(*) as n from their_stuff", "--json"])
    assert r.exit_code == 0 and json.loads(r.output) == [{"n": 0}]


@pytest.mark.parametrize("kind", ["sqlite", "parquet", "text", "fifo", "non-utf8 name"])
def test_files_that_cannot_be_rem_databases_get_one_clear_line(tmp_path, kind):
    import os
    import sqlite3

    import pyarrow as pa
    import pyarrow.parquet as pq

    from support import rem_cli

    db = tmp_path / "x.db"
    if kind == "sqlite":
        c = sqlite3.connect(db)
        c.execute("create table t (x)")
        c.commit()
        c.close()
        want = "not a REM database (a SQLite database)"
    elif kind == "parquet":
        pq.write_table(pa.table({"x": [1]}), db)
        want = "not a REM database (a Parquet file)"
    elif kind == "text":
        db.write_text("hello, I am a note\n" * 10)
        want = "not a REM database (not a DuckDB file"
    elif kind == "fifo":
        os.mkfifo(db)
        want = "is a FIFO"
    else:
        db = Path(os.fsdecode(os.fsencode(tmp_path) + b"/caf\xe9.duckdb"))
        want = "not valid UTF-8"
    before = db.read_bytes() if kind not in ("fifo", "non-utf8 name") else None
    chat = tmp_path / "chat.jsonl"
    chat.write_text(json.dumps({"session": "s1", "role": "user", "content": "hi", "created_at": "2026-11-10T10:00:00Z"}) + "\n")
    for command in (["query", "select 1"], ["init"], ["ingest", "chat", str(chat)]):
        r = rem_cli(db, command)
        assert r.exit_code == 1 and want in r.output and "Traceback" not in r.output and "extension" not in r.output, r.output
    if before is not None:
        assert db.read_bytes() == before


def _read_only_mount(src: Path, mnt: Path, argv: list[str]):
    """Run ``argv`` with ``src`` bind-mounted read-only at ``mnt`` (a private mount namespace)."""
    import shutil
    import subprocess

    if shutil.which("unshare") is None:
        pytest.skip("needs unshare")
    script = f'mount --bind "{src}" "{mnt}" && mount -o remount,bind,ro "{mnt}" && exec "$@"'
    p = subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", *argv], capture_output=True, text=True)
    if "mount:" in p.stderr and "permission denied" in p.stderr.lower() or "unshare failed" in p.stderr:
        pytest.skip("cannot make a mount namespace here")
    return p


def test_a_read_only_database_reads_and_says_how_to_write(tmp_path):
    import sys

    from rem.store import Store
    from support import write_jsonl

    src, mnt = tmp_path / "data", tmp_path / "ro"
    src.mkdir()
    mnt.mkdir()
    Store(src / "rem.duckdb").init()
    chat = write_jsonl(tmp_path / "chat.jsonl", [{"session": "s1", "role": "user", "content": "hello",
                                                 "created_at": "2026-11-10T10:00:00Z"}])
    rem = [sys.executable, "-m", "rem", "--db", str(mnt / "rem.duckdb")]
    q = _read_only_mount(src, mnt, [*rem, "query", "select count(*) as n from moments", "--json"])
    assert q.returncode == 0 and json.loads(q.stdout) == [{"n": 0}], q.stderr
    w = _read_only_mount(src, mnt, [*rem, "ingest", "chat", str(chat)])
    assert w.returncode == 1 and "cannot be written" in w.stderr and "still work" in w.stderr, w.stderr
    assert "damaged" not in w.stderr and "Traceback" not in w.stderr
    d = _read_only_mount(src, mnt, [*rem, "doctor"])
    assert "cannot be written" in d.stdout


def test_no_connection_draws_a_progress_bar(store):
    """DuckDB draws a progress bar on stdout for a query over 2 s, even into a pipe; it corrupted
    `rem dream --json` on a day of 1M messages (the full load test). Every connection REM opens turns it off."""
    from rem.store import attached_read_only

    store.init()
    for opened in (store.connect(), store.read(), store.reader(), attached_read_only({"a": store.path})):
        with opened as con:
            assert con.execute("select current_setting('enable_progress_bar')").fetchall() == [(False,)]


def test_threads_of_one_process_share_the_file_whatever_kind_of_connection(store):
    """DuckDB refuses a second connection of another configuration in one process (a writer
    beside a reader, two sandboxed readers); `rem serve` answers requests on threads, so they
    take turns instead of failing (CI once saw an edit fail this way in the browser test)."""
    import threading

    from rem.store import execute

    with store.connect() as con:
        execute(con, "CREATE TABLE IF NOT EXISTS probe (n INTEGER)")
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def work(kind: int) -> None:
        try:
            start.wait()
            for i in range(15):
                if kind == 0:
                    with store.connect() as con:
                        execute(con, "INSERT INTO probe VALUES ($n)", {"n": i})
                elif kind == 1:
                    with store.read() as con:
                        fetch_rows(con, "SELECT count(*) FROM probe")
                elif kind == 2:
                    with store.reader() as con:
                        fetch_rows(con, "SELECT count(*) FROM probe")
                else:
                    with store.read(sandbox=False) as con:
                        fetch_rows(con, "SELECT count(*) FROM probe")
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k % 4,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with store.read() as con:
        assert fetch_rows(con, "SELECT count(*) FROM probe")[0][0] == 30  # two writers, 15 rows each


def test_a_thread_holding_a_writer_is_told_at_once_when_it_asks_for_a_sandboxed_reader(store):
    from rem.exceptions import StoreError

    with store.connect(), pytest.raises(StoreError, match="already open in this thread"), store.read():
        pass


def test_typed_columns_are_the_typed_rows_of_the_same_values():
    """A writer with its values column by column (a dream's moments) gets the table the same rows as dicts give:
    every kind of column typed alike (timestamps, JSON, lists, text, absent columns left out), in the schema's
    order — and a dream's moment rows keep arrow_rows' rule for an id given twice (the later wins, where the
    first was)."""
    from datetime import UTC, datetime, timedelta

    from hypothesis import given, settings
    from hypothesis import strategies as st

    from rem.store import arrow_columns, arrow_rows

    t0 = datetime(2026, 11, 12, tzinfo=UTC)
    text = st.text(max_size=12)
    row = st.fixed_dictionaries({
        "id": text, "name": text, "start_time": st.integers(0, 10**6).map(lambda s: t0 + timedelta(seconds=s)),
        "tags": st.lists(text, max_size=3), "events": st.one_of(st.none(), st.lists(st.dictionaries(text, text,
                                                                                                     max_size=2))),
        "metadata": st.dictionaries(text, st.one_of(text, st.integers(), st.lists(text, max_size=2)), max_size=3)})

    @settings(max_examples=200, deadline=None)
    @given(st.lists(row, min_size=1, max_size=8, unique_by=lambda r: r["id"]))
    def same(rows):
        cols = {k: [r[k] for r in rows] for k in rows[0]}
        assert arrow_columns("moments", cols).equals(arrow_rows("moments", rows))

    same()
    from rem.dream import persist

    class M:
        def __init__(self, mid, name):
            self.id, self.name, self.start, self.end, self.segments = mid, name, t0, t0, ["G1"]

        def __getattr__(self, field):
            return None

    from rem.dream.window import Window

    w = Window(t0, t0 + timedelta(days=1))
    got = persist._moment_rows([M("a", "first"), M("b", "b"), M("a", "second")], "run", w, t0, None)
    assert got.column("id").to_pylist() == ["a", "b"] and got.column("name").to_pylist() == ["second", "b"]
