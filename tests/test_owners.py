"""The tables' owners (issue 19): each is the one module that writes its table, and does what its
callers rely on — tested here on its own, against a real DuckDB file."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from rem import edges, entities, moments, resources
from rem.links import Link, edge_row, entity_row
from rem.store import Store, arrow_rows, fetch_rows, transaction

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HALF_LIVES = ({"about": 24.0 * 14}, 24.0 * 30)


@pytest.fixture
def st(tmp_path):
    s = Store(tmp_path / "rem.duckdb")
    s.init()
    return s


def _q(st, sql):
    with st.read(sandbox=False) as con:
        return fetch_rows(con, sql)


def _moment(mid, name="A moment", start=NOW, **kw):
    return {"id": mid, "name": name, "start_time": start, "end_time": start + timedelta(hours=1), **kw}


# -- moments ---------------------------------------------------------------------------------------------------
def test_moments_put_replaces_a_row_exactly_and_delete_takes_its_edges(st):
    with st.connect() as con, transaction(con):
        moments.put(con, [_moment("m1", tags=["a"]), _moment("m2")])
        moments.put(con, [_moment("m1", name="Renamed", tags=["b"])])  # the whole row, as given
        edges.insert_missing(con, [edge_row(Link("m1", "t1", "about"), NOW, generated_by="test"),
                                   edge_row(Link("t2", "m2", "about"), NOW, generated_by="test")])
        moments.delete(con, ["m1"])
    assert _q(st, "select id, name, tags from moments order by id") == [("m2", "A moment", None)]
    assert _q(st, "select source_id, target_id from edges") == [("t2", "m2")]  # only m1's edges went


def test_moments_add_items_widens_a_corrected_moment_and_names_the_late_items(st):
    with st.connect() as con, transaction(con):
        moments.put(con, [_moment("m1", message_ids=["x"], metadata={"fixed": True})])
        moments.add_items(con, "m1", resource_ids=["r9"], message_ids=["y"], session_ids=["s"],
                          start=NOW - timedelta(minutes=5), end=NOW + timedelta(hours=2), late=["r9", "y"])
    (mids, rids, start, end, late, fixed), = _q(st, """select message_ids, resource_ids, start_time, end_time,
        json_extract(metadata, '$.added_after_correction'), json_extract(metadata, '$.fixed') from moments""")
    assert sorted(mids) == ["x", "y"] and rids == ["r9"] and fixed == "true"
    assert start == NOW - timedelta(minutes=5) and end == NOW + timedelta(hours=2)
    assert sorted(re.findall(r'"(\w+)"', late)) == ["r9", "y"]


def test_moments_accept_clears_only_the_pending_mark(st):
    with st.connect() as con, transaction(con):
        moments.upsert(con, arrow_rows("moments", [_moment("m1", metadata={"pending": True, "segments": ["G1"]})]))
        moments.accept(con, ["m1"])
    assert _q(st, "select metadata from moments") == [('{"segments":["G1"]}',)]


# -- entities --------------------------------------------------------------------------------------------------
def test_entities_keep_their_first_name_and_gather_other_spellings_as_aliases(st):
    with st.connect() as con, transaction(con):
        first = entities.upsert(con, [entity_row("person", "Tomás", NOW)])
        again = entities.upsert(con, [entity_row("person", "tomás", NOW + timedelta(days=1)),
                                      entity_row("person", "TOMÁS", NOW + timedelta(days=2))])
    assert (first.added, again.added, again.updated) == (1, 0, 1)
    assert _q(st, "select name, aliases, created_at from entities") == [("Tomás", ["tomás", "TOMÁS"], NOW)]


def test_entities_delete_unused_keeps_one_an_edge_still_uses(st):
    with st.connect() as con, transaction(con):
        rows = [entity_row("topic", n, NOW) for n in ("kept", "gone")]
        entities.upsert(con, rows)
        edges.insert_missing(con, [edge_row(Link("m1", rows[0]["id"], "about"), NOW, generated_by="test")])
        for r in rows:
            entities.delete_unused(con, r["id"])
    assert _q(st, "select name from entities") == [("kept",)]


# -- edges -----------------------------------------------------------------------------------------------------
def _batch(*triples, weight=1.0):
    return [{"source_id": s, "target_id": t, "edge_type": y, "weight": weight, "reinforce": True, "metadata": None,
             "generated_by": "test"} for s, t, y in triples]


def test_edges_merge_adds_reinforces_logs_and_revert_run_takes_it_back(st):
    with st.connect() as con, transaction(con):  # one batch naming an edge twice adds it once, both increments
        assert edges.merge(con, _batch(("m1", "t1", "about"), ("m1", "t1", "about")), "run1", HALF_LIVES) == (1, 0)
    assert _q(st, "select weight, reinforcement_count from edges") == [(2.0, 1)]
    with st.connect() as con, transaction(con):
        assert edges.merge(con, _batch(("m1", "t1", "about"), ("m2", "t1", "about")), "run2", HALF_LIVES) == (1, 1)
    (w, n), = _q(st, "select weight, reinforcement_count from edges where source_id = 'm1'")
    assert n == 2 and w > 2.0
    assert _q(st, "select action, count(*) from dream_edge_log where dream_run_id = 'run2' group by 1 order by 1") == [
        ("added", 1), ("reinforced", 1)]
    # every endpoint has its dense key
    assert _q(st, "select count(*) from edges where source_key is null or target_key is null") == [(0,)]
    with st.connect() as con, transaction(con):
        edges.revert_run(con, "run2")
    assert _q(st, "select source_id, weight, reinforcement_count from edges") == [("m1", 2.0, 1)]


def test_edges_delete_touching_logs_for_the_run_and_revert_restores(st):
    with st.connect() as con, transaction(con):
        edges.merge(con, _batch(("m1", "t1", "about"), ("t2", "m1", "related_to"), ("m2", "t1", "about")), "run1",
                    HALF_LIVES)
        con.register("_gone", pa.table({"id": ["m1"]}))
        assert edges.delete_touching(con, "_gone", log_run="run2") == 2
    assert _q(st, "select source_id from edges") == [("m2",)]
    with st.connect() as con, transaction(con):
        edges.revert_run(con, "run2")
    assert sorted(_q(st, "select source_id, target_id from edges")) == [("m1", "t1"), ("m2", "t1"), ("t2", "m1")]


def test_edges_insert_missing_keeps_stored_ones_and_delete_keys_removes_exactly_those(st):
    with st.connect() as con, transaction(con):
        assert edges.insert_missing(con, [edge_row(Link("a", "b", "about", None, 2.0), NOW, generated_by="x")]) == 1
        assert edges.insert_missing(con, [edge_row(Link("a", "b", "about", None, 9.0), NOW, generated_by="y"),
                                          edge_row(Link("a", "c", "about"), NOW, generated_by="y")]) == 1
        assert edges.missing_keys(con, [("a", "b", "about"), ("a", "d", "about")]) == [("a", "d", "about")]
        edges.delete_keys(con, [("a", "c", "about")])
    assert _q(st, "select target_id, weight, generated_by from edges") == [("b", 2.0, "x")]


def test_edges_prune_deletes_decayed_edges_never_structural_ones(st):
    old = NOW - timedelta(days=3650)
    with st.connect() as con, transaction(con):
        edges.insert_rows(con, [
            {**edge_row(Link("m1", "t1", "about"), old, generated_by="x")},
            {**edge_row(Link("m1", "r1", "contains"), old, generated_by="x")},
            {**edge_row(Link("m2", "t1", "about"), datetime.now(UTC), generated_by="x")}])
        by_type = edges.prune(con, 0.05)
    assert by_type == {"about": 1}
    assert sorted(_q(st, "select source_id, edge_type from edges")) == [("m1", "contains"), ("m2", "about")]


# -- resources -------------------------------------------------------------------------------------------------
def test_resources_upsert_and_put_rows(st):
    row = {"id": "r1", "name": "Note", "content": "v1", "resource_type": "note", "created_at": NOW}
    with st.connect() as con, transaction(con):
        assert resources.upsert(con, arrow_rows("resources", [row])).added == 1
        assert resources.upsert(con, arrow_rows("resources", [{**row, "content": "v2"}])).updated == 1
        resources.put_rows(con, arrow_rows("resources", [{**row, "content": "v0", "ingested_at": NOW}]))
    assert _q(st, "select content, ingested_at from resources") == [("v0", NOW)]


# -- one writer per table ---------------------------------------------------------------------------------------
WRITERS = {  # table -> the one module whose SQL writes it (store/ only supplies the generic upsert and rewrite)
    "moments": "moments.py", "entities": "entities.py", "edges": "edges.py", "nodes": "edges.py",
    "dream_edge_log": "edges.py", "resources": "resources.py", "dream_runs": "ledger.py",
    "moment_edits": "corrections.py", "dream_undo": "dream/persist.py", "search_index": "search/index.py",
    "rem_meta": "store/migrate.py", "messages": "ingest/common.py",
}


def test_every_table_is_written_by_one_module():
    root = Path(__file__).resolve().parents[1] / "python" / "rem"
    found: dict[str, set[str]] = {}
    for p in root.rglob("*.py"):
        text = p.read_text(encoding="utf-8").replace("{META_TABLE}", "rem_meta")
        for m in re.finditer(r"(?:INSERT INTO|UPDATE|DELETE FROM)\s+\"?(\w+)\"?", text):
            found.setdefault(m.group(1), set()).add(str(p.relative_to(root)))
    for table, module in WRITERS.items():
        assert found.get(table) == {module}, (table, found.get(table))
    # and dream_runs is read only through the ledger
    readers = {str(p.relative_to(root)) for p in root.rglob("*.py") if re.search(r"FROM dream_runs", p.read_text(encoding="utf-8"))}
    assert readers == {"ledger.py"}
