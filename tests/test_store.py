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
