"""Review before keep: a dream's moments wait as pending, out of the graph, until accepted or rejected."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rem.config import NO_MODEL, resolve_llm
from rem.dream.run import DreamOptions, dream
from rem.ingest import ingest_chat
from support import q, rem_cli, served

CHAT = Path(__file__).resolve().parents[1] / "bench" / "quality" / "personal" / "chat.jsonl"
WINDOW = ("2026-11-20T00:00:00+00:00", "2026-11-21T00:00:00+00:00")


def _dream(store, review):
    return dream(store, resolve_llm(model=NO_MODEL, file_cfg={}, env={}),
                 DreamOptions(start=WINDOW[0], end=WINDOW[1], lookback_hours=None, progress=False, review=review))


@pytest.fixture
def pending_store(store, isolated):
    ingest_chat(store, CHAT)
    _dream(store, True)
    return store


def _links(store, mid):
    return q(store, f"select count(*) from edges where source_id = '{mid}' or target_id = '{mid}'")[0][0]


def test_pending_moments_are_marked_and_kept_out_of_the_graph_until_accepted(pending_store):
    st = pending_store
    ids = [i for (i,) in q(st, "select id from moments order by start_time")]
    assert len(ids) >= 2
    assert all(p == "true" for (p,) in q(st, "select metadata->>'pending' from moments"))
    assert all(_links(st, i) == 0 for i in ids)  # no topics, people, sources or summary edges yet
    r = rem_cli(st.path, ["review"])
    assert r.exit_code == 0 and f"{len(ids)} moment(s) wait for review" in r.output and ids[0][:8] in r.output
    r = rem_cli(st.path, ["review", "accept", ids[0][:8]])
    assert r.exit_code == 0 and "1 moment(s) accepted" in r.output
    assert q(st, f"select metadata->>'pending' from moments where id = '{ids[0]}'")[0][0] is None
    assert _links(st, ids[0]) > 0 and {t for (t,) in q(st, f"select edge_type from edges where source_id = '{ids[0]}'")} >= {"captured_in"}
    assert rem_cli(st.path, ["review", "accept", ids[0][:8]]).exit_code == 1  # not waiting any more: a clear error


def test_a_rejected_moment_is_not_proposed_again_and_undo_brings_it_back(pending_store):
    st = pending_store
    ids = [i for (i,) in q(st, "select id from moments order by start_time")]
    rejected = ids[-1]
    assert rem_cli(st.path, ["review", "reject", rejected[:8]]).exit_code == 0
    assert rem_cli(st.path, ["review", "accept", "--all"]).exit_code == 0
    _dream(st, False)  # the next dream, without review, over the same day
    now = {i for (i,) in q(st, "select id from moments")}
    assert rejected not in now and set(ids) - {rejected} <= now
    assert q(st, "select count(*) from moments where metadata->>'pending' = 'true'")[0][0] == 0
    assert rem_cli(st.path, ["moments", "undo", rejected]).exit_code == 0
    assert rejected in {i for (i,) in q(st, "select id from moments")}


def test_review_is_a_setting_and_a_flag(store, isolated, tmp_path):
    ingest_chat(store, CHAT)
    cfg = Path(os.environ["REM_CONFIG"])
    cfg.write_text("[dream]\nreview = true\n")
    r = rem_cli(store.path, ["dream", "--start", WINDOW[0], "--end", WINDOW[1]])
    assert r.exit_code == 0 and "wait for your review" in r.output
    assert q(store, "select count(*) from moments where metadata->>'pending' = 'true'")[0][0] > 0
    cfg.write_text("[dream]\nreview = 'yes'\n")
    bad = rem_cli(store.path, ["dream", "--start", WINDOW[0], "--end", WINDOW[1]])
    assert bad.exit_code == 1 and "must be true or false" in bad.output


def test_the_review_inbox_in_chromium(pending_store, browser, tmp_path):
    from selenium.webdriver.common.by import By

    from test_serve import _submit

    st = pending_store
    ids = [i for (i,) in q(st, "select id from moments order by start_time")]
    shots = Path(os.environ.get("REM_SCREENSHOTS", tmp_path / "shots"))
    shots.mkdir(parents=True, exist_ok=True)
    with served(st.path, tmp_path) as base:
        browser.get(f"{base}/day/2026-11-20")
        assert browser.find_elements(By.CSS_SELECTOR, "figure.dayline rect.pending")  # marked where they appear
        assert browser.find_elements(By.CSS_SELECTOR, "li.card a.badge")
        browser.get(f"{base}/review")
        assert len(browser.find_elements(By.CSS_SELECTOR, "li.card.pending")) == len(ids)
        for width in (1400, 430):
            browser.set_window_size(width, 1600)
            browser.save_screenshot(str(shots / f"review-{width}.png"))
        browser.set_window_size(1280, 1600)
        _submit(browser, browser.find_elements(By.CSS_SELECTOR, "button.accept")[0])
        assert "1 moment(s) accepted" in browser.find_element(By.CSS_SELECTOR, "div.notice").text
        _submit(browser, browser.find_elements(By.CSS_SELECTOR, "button.reject")[-1])
        assert "1 rejected" in browser.find_element(By.CSS_SELECTOR, "div.notice").text
        assert q(st, f"select count(*) from moments where id = '{ids[-1]}'")[0][0] == 0
        assert q(st, f"select metadata->>'pending' from moments where id = '{ids[0]}'")[0][0] is None
        assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
    _dream(st, True)  # the next dream does not propose the rejected one again
    assert ids[-1] not in {i for (i,) in q(st, "select id from moments")}


def test_the_dreams_digest_points_at_the_inbox(pending_store):
    run = q(pending_store, "select dream_run_id from moments limit 1")[0][0]
    r = rem_cli(pending_store.path, ["report", "--run", run[:8]])
    assert r.exit_code == 0 and "wait for your review" in r.output and "rem review" in r.output
