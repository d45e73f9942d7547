"""Corrections that later dreams respect: edit, merge, split, delete, pin, undo."""

from __future__ import annotations

import json

import pytest

from rem.config import resolve_llm
from rem.corrections import CorrectionError, delete, edit, history, merge, pin, split, undo
from rem.dream.run import DreamOptions, dream
from support import DAY, WEEK, check_consistent, q, rem_cli

NONE = resolve_llm(model="none", file_cfg={}, env={})


def _dream(store, window=DAY):
    return dream(store, NONE, DreamOptions(start=window[0], end=window[1], lookback_hours=None, progress=False))


@pytest.fixture
def day(demo_store):
    _dream(demo_store)
    return demo_store


def _moments(store):
    return {r[0]: r for r in q(store, "select id, name, tags, people, start_time, end_time, moment_type from moments")}


def test_a_correction_survives_a_redream_of_the_day_and_a_week_dream_over_it(day):
    mid, name = q(day, "select id, name from moments order by start_time limit 1")[0]
    r = rem_cli(day.path, ["moments", "edit", mid[:8], "--name", "Shipping the DiskANN builder", "--tags", "diskann,launch",
                           "--people", "Alice Chen", "--type", "deep_work"])
    assert r.exit_code == 0, r.output
    fixed = _moments(day)[mid]
    assert fixed[1] == "Shipping the DiskANN builder" and fixed[2] == ["diskann", "launch"] and fixed[3] == ["Alice Chen"]
    _dream(day)  # the same window again
    assert _moments(day)[mid] == fixed
    _dream(day, WEEK)  # a week over it
    after = _moments(day)
    assert after[mid] == fixed
    # nothing made again from the corrected moment's activity
    items = q(day, f"select unnest(list_concat(resource_ids, message_ids)) from moments where id = '{mid}'")
    others = q(day, f"""select count(*) from moments where id <> '{mid}' and
                        len(list_intersect(list_concat(resource_ids, message_ids), {[i for (i,) in items]!r})) > 0""")
    assert others[0][0] == 0
    # the graph follows the correction: the new topic and person are entities linked to the moment
    linked = {r[0] for r in q(day, f"""select e.name from edges x join entities e on e.id = x.target_id
                                       where x.source_id = '{mid}' and x.edge_type in ('about', 'involves')""")}
    assert {"launch", "Alice Chen"} <= linked
    assert check_consistent(day) == []


def test_merge_split_delete_pin_and_undo(day):
    ids = [r[0] for r in q(day, "select id from moments order by start_time")]
    assert len(ids) >= 3
    a, b, c = ids[:3]
    e = merge(day, a, b)
    m = _moments(day)
    assert b not in m and m[a][4] <= m[a][5]
    _dream(day)
    assert b not in _moments(day) and a in _moments(day)  # the re-dream does not bring b back
    undo(day, e.id)
    assert b in _moments(day)

    start, end = q(day, f"select start_time, end_time from moments where id = '{c}'")[0]
    mid_t = start + (end - start) / 2
    e = split(day, c, mid_t.isoformat())
    halves = [x for x in e.moment_ids]
    assert len(halves) == 2 and all(h in _moments(day) for h in halves)
    _dream(day)
    assert all(h in _moments(day) for h in halves)
    undo(day, c)
    assert c in _moments(day) and halves[1] not in _moments(day)

    delete(day, c)
    _dream(day)
    assert c not in _moments(day)  # not made again
    undo(day, c)
    assert c in _moments(day)

    pin(day, a)
    before = _moments(day)[a]
    _dream(day)
    assert _moments(day)[a] == before
    kinds = [h["kind"] for h in history(day, a)]
    assert kinds == ["merge", "pin"]
    assert check_consistent(day) == []


def test_a_run_whose_moments_were_corrected_is_not_reverted_silently(day):
    mid, run = q(day, "select id, dream_run_id from moments limit 1")[0]
    edit(day, mid, name="My own name for it")
    r = rem_cli(day.path, ["runs", "revert", run[:8], "--yes"])
    assert r.exit_code == 1 and "corrected or pinned" in r.output
    assert _moments(day)[mid][1] == "My own name for it"


@pytest.mark.parametrize("args,msg", [
    (["edit", "zz", "--name", "x"], "at least its first 4"),
    (["edit", "ffffffff", "--name", "x"], "no moment"),
    (["edit", "{mid}"], "nothing to change"),
    (["edit", "{mid}", "--name", "   "], "cannot be empty"),
    (["edit", "{mid}", "--type", "nap"], "use one of"),
    (["edit", "{mid}", "--start", "2099-01-01"], "end before it starts"),
    (["split", "{mid}", "--at", "1999-01-01"], "not inside the moment"),
    (["merge", "{mid}", "{mid}"], "two different moments"),
    (["undo", "ffffffff"], "no edit to undo"),
])
def test_bad_corrections_are_clear_errors_and_change_nothing(day, args, msg):
    mid = q(day, "select id from moments limit 1")[0][0]
    before = _moments(day)
    r = rem_cli(day.path, ["moments", *[a.format(mid=mid[:8]) for a in args]])
    assert r.exit_code != 0 and msg in r.output and "Traceback" not in r.output, r.output
    assert _moments(day) == before


def test_corrections_reach_search_at_once(day):
    mid = q(day, "select id from moments limit 1")[0][0]
    edit(day, mid, name="Zanzibar offsite logistics")
    r = rem_cli(day.path, ["search", "Zanzibar offsite", "--schema", "moments", "--json"])
    assert json.loads(r.output)[0]["id"] == mid


def test_history_lists_edits_with_undone_marks(day):
    mid = q(day, "select id from moments limit 1")[0][0]
    edit(day, mid, outcome="It shipped.")
    edit(day, mid, tags="one,two")
    undo(day, mid)
    r = rem_cli(day.path, ["moments", "history", mid[:8], "--json"])
    h = json.loads(r.output)
    assert [x["kind"] for x in h] == ["edit", "edit"] and h[0]["undone_at"] is None and h[1]["undone_at"] is not None
    with pytest.raises(CorrectionError):
        undo(day, "nope-nope")


def test_edits_of_one_moment_from_many_threads_all_land(day):
    """`rem serve` answers requests on threads: eight edits of the same moment at once must all be
    recorded, one after the other, not meet as a DuckDB transaction conflict."""
    import threading

    mid = q(day, "select id from moments order by start_time limit 1")[0][0]
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            start.wait()
            edit(day, mid, name=f"Name from thread {i}", tags=f"thread-{i}")
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(history(day, mid)) == 8
    name, tags = q(day, f"select name, tags from moments where id = '{mid}'")[0]
    assert name.startswith("Name from thread ") and tags == [f"thread-{name.rsplit(' ', 1)[1]}"]
    assert not check_consistent(day)


def test_a_corrected_moment_keeps_the_links_between_its_topics(day):
    """The dream links every two topics of a moment (`related_to`); a correction links them by the same rule."""
    mid = q(day, "select id from moments order by start_time limit 1")[0][0]
    edit(day, mid, tags="quantization,product codes,recall budget")
    pairs = {tuple(sorted(r)) for r in q(day, """select s.name, t.name from edges x join entities s on s.id = x.source_id
                                                join entities t on t.id = x.target_id where x.edge_type = 'related_to'""")}
    assert {("product codes", "quantization"), ("quantization", "recall budget"), ("product codes", "recall budget")} <= pairs
    assert check_consistent(day) == []


def test_the_journal_shows_short_ids_and_corrected_and_an_ambiguous_prefix_lists_its_matches(day):
    from rem.moments import as_text
    from rem.store import fetch_arrow

    def journal_line(mid):
        with day.read() as con:
            m = fetch_arrow(con, "select * from moments where id = $i", {"i": mid}).to_pylist()[0]
        return as_text(m)[0]

    (a, _), (b, _) = q(day, "select id, name from moments order by start_time limit 2")
    assert journal_line(a).endswith(f"· {a[:8]}")  # the id to correct it by, without --json
    assert rem_cli(day.path, ["moments", "edit", a[:8], "--name", "Named by hand"]).exit_code == 0
    line = journal_line(a)
    assert "Named by hand" in line and "[corrected]" in line and "[extractive]" not in line
    with day.connect() as con:  # two moments whose ids share a prefix
        con.execute("update moments set id = 'abcd' || substr(id, 5) where id in ($a, $b)", {"a": a, "b": b})
    r = rem_cli(day.path, ["moments", "edit", "abcd", "--name", "x"])
    assert r.exit_code == 1 and "names more than one moment" in r.output
    assert "Named by hand" in r.output and r.output.count("abcd") >= 3  # both matches listed, with their names
