"""rem serve: pages, corrections through the browser, escaping, security — with
Starlette's test client, then for real in Debian's chromium (selenium)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rem.config import resolve_llm
from rem.dream.run import DreamOptions, dream
from support import DAY, WEEK, free_port, q, served

NONE = resolve_llm(model="none", file_cfg={}, env={})
HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"


def _dream(store, window):
    return dream(store, NONE, DreamOptions(start=window[0], end=window[1], lookback_hours=None, progress=False))


@pytest.fixture
def dreamed(demo_store):
    _dream(demo_store, WEEK)
    return demo_store


@pytest.fixture
def client(dreamed):
    from starlette.testclient import TestClient

    from rem.serve import create_app

    with TestClient(create_app(dreamed), base_url="http://127.0.0.1") as c:
        yield c


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]+)"', html).group(1)


def test_the_pages_show_what_the_database_holds(client, dreamed):
    day = client.get(f"/day/{DAY[0]}")
    assert day.status_code == 200
    names = [r[0] for r in q(dreamed, f"""select name from moments where start_time >= '{DAY[0]}'::timestamptz
                                          and start_time < '{DAY[0]}'::timestamptz + interval 1 day""")]
    assert names and all(n in day.text for n in names)
    assert "idle" in day.text  # the gaps between moments are shown
    week = client.get(f"/week/{DAY[0]}")
    assert week.status_code == 200 and "Time per topic" in week.text and names[0] in week.text
    assert client.get("/month/2026-11").status_code == 200
    mid = q(dreamed, "select id from moments order by start_time limit 1")[0][0]
    m = client.get(f"/moment/{mid}")
    assert m.status_code == 200 and "Sources" in m.text and "History" in m.text
    assert client.get("/search?q=recall").status_code == 200
    misspelt = client.get("/search?q=the+recal+regresion")  # read as the memory's word, and said so with a way back
    assert misspelt.status_code == 200 and "Searched for regression (no item holds “regresion”)" in misspelt.text
    assert "as_written=1" in misspelt.text
    assert "Searched for" not in client.get("/search?q=the+recal+regresion&as_written=1").text
    g = client.get("/graph?node=diskann")
    assert g.status_code == 200 and "Hot now" in g.text
    if shutil.which("dot"):
        svg = client.get("/graph.svg?node=diskann")
        assert svg.status_code == 200 and svg.text.lstrip().startswith(("<?xml", "<svg", "<!DOCTYPE"))
    runs = client.get("/runs")
    assert runs.status_code == 200 and "ok" in runs.text
    assert client.get("/moment/ffffffff").status_code == 404
    assert client.get("/day/not-a-day").status_code == 404


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz draws the map (make deps installs it)")
def test_the_graph_page_is_a_map_of_topics_and_people_whose_nodes_are_links(client, dreamed):
    import html as html_mod

    page = client.get("/graph")
    assert page.status_code == 200 and "<svg" in page.text and "<script" not in page.text
    links = re.findall(r'xlink:href="(/graph\?node=[^"]+)"', page.text)
    assert len(links) >= 10
    labels = [html_mod.unescape(t) for t in re.findall(r"<text[^>]*>([^<]+)</text>", page.text)]
    people = {r[0] for r in q(dreamed, "select name from entities where kind = 'person'")}
    assert people & set(labels)  # people have places of their own among the topics
    assert "Sam Rivera" not in labels  # the owner (the author of most commits) is on every commit: not a node
    around = client.get(html_mod.unescape(links[0]))
    assert around.status_code == 200 and "<svg" in around.text and "xlink:href=" in around.text
    # a hostile name stays text in the map
    topic = q(dreamed, "select id from entities where kind = 'topic' and lower(name) = 'diskann'")[0][0]
    with dreamed.connect() as con:
        con.execute("update entities set name = $h where id = $id", {"h": HOSTILE, "id": topic})
    page = client.get("/graph")
    assert page.status_code == 200 and "<script>alert" not in page.text and "<img src=x" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_an_edit_needs_the_csrf_token_and_survives_redreams(client, dreamed):
    mid = q(dreamed, f"select id from moments where start_time >= '{DAY[0]}'::timestamptz order by start_time limit 1")[0][0]
    page = client.get(f"/moment/{mid}").text
    assert client.post(f"/moment/{mid}/edit", data={"action": "edit", "name": "Forged"}).status_code == 403
    r = client.post(f"/moment/{mid}/edit", data={"csrf": _csrf(page), "action": "edit", "name": "My own name",
                                                 "tags": "alpha, beta"}, follow_redirects=True)
    assert r.status_code == 200 and "My own name" in r.text and "corrected" in r.text
    _dream(dreamed, DAY)
    _dream(dreamed, WEEK)
    again = client.get(f"/moment/{mid}").text
    assert "My own name" in again and "alpha" in again
    assert q(dreamed, f"select name from moments where id = '{mid}'")[0][0] == "My own name"


def test_requests_at_once_all_answer_while_edits_write(dreamed, tmp_path):
    """A browser loads a page, its favicon and the page after a redirect at once; the server answers
    on threads, and DuckDB refuses a writer beside a reader in one process: every request must still
    answer (CI once saw an edit's page say "Something is not right" this way)."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    mid = q(dreamed, f"select id from moments where start_time >= '{DAY[0]}'::timestamptz order by start_time limit 1")[0][0]
    port = _free_port()
    env = {**os.environ, "REM_CONFIG": str(tmp_path / "none.toml")}
    p = subprocess.Popen([sys.executable, "-m", "rem", "--db", str(dreamed.path), "serve", "--port", str(port)],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(port)
        with httpx.Client(base_url=base, timeout=60) as c:
            csrf = _csrf(c.get(f"/moment/{mid}").text)

            def hit(i: int) -> tuple[int, str]:
                if i % 5 == 0:
                    r = c.post(f"/moment/{mid}/edit", data={"csrf": csrf, "action": "edit", "name": f"Name {i}"})
                    return r.status_code, r.text
                path = (f"/day/{DAY[0]}", f"/moment/{mid}", "/search?q=ci", "/runs")[i % 4]
                r = c.get(path)
                return r.status_code, r.text

            with ThreadPoolExecutor(8) as pool:
                answers = list(pool.map(hit, range(40)))
        assert all(code in (200, 303) for code, _ in answers), [t[:300] for code, t in answers if code not in (200, 303)]
        assert not any("Something is not right" in t for _, t in answers)
        assert q(dreamed, f"select name from moments where id = '{mid}'")[0][0].startswith("Name ")
    finally:
        p.terminate()
        p.wait(timeout=30)


def _wait_for(port: int) -> None:
    deadline = time.time() + 30
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)


def test_activity_text_is_escaped_everywhere(client, dreamed):
    mid = q(dreamed, "select id from moments order by start_time limit 1")[0][0]
    with dreamed.connect() as con:
        con.execute("update moments set name = $h, summary = $h, tags = [$h], people = [$h] where id = $id", {"h": HOSTILE, "id": mid})
        con.execute("update messages set content = $h where id in (select unnest(message_ids) from moments where id = $id)",
                    {"h": HOSTILE, "id": mid})
    day = q(dreamed, f"select start_time from moments where id = '{mid}'")[0][0].astimezone().date()
    for url in (f"/day/{day}", f"/moment/{mid}", f"/week/{day}", "/search?q=script+alert"):
        html = client.get(url).text
        assert "<script>alert" not in html and "<img src=x" not in html, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, url


def test_no_request_reaches_the_file_system_and_headers_protect(client):
    for url in ("/static/../../../../etc/passwd", "/static/%2e%2e/%2e%2e/etc/passwd", "/day/..%2f..%2fetc%2fpasswd"):
        r = client.get(url)
        assert r.status_code in (400, 404) and "root:" not in r.text
    r = client.get("/runs")
    csp = r.headers["content-security-policy"]
    assert "script-src 'none'" in csp and r.headers["x-frame-options"] == "DENY"


def test_a_token_guards_a_server_that_is_not_on_loopback(dreamed):
    from starlette.testclient import TestClient

    from rem.serve import create_app

    with TestClient(create_app(dreamed, token="t0ken"), base_url="http://127.0.0.1") as c:
        assert c.get("/runs").status_code == 401
        r = c.get("/runs?token=t0ken")
        assert r.status_code == 200 and "rem_token=t0ken" in r.headers["set-cookie"] and "HttpOnly" in r.headers["set-cookie"]
        assert c.get("/runs").status_code == 200  # the cookie now
    with TestClient(create_app(dreamed, token="t0ken"), base_url="http://127.0.0.1") as stranger:
        assert stranger.get("/runs?token=wrong").status_code == 401
        stranger.cookies.set("rem_token", "nope")
        assert stranger.get("/runs").status_code == 401


def test_serve_refuses_an_open_bind_without_a_token(dreamed):
    from support import rem_cli

    r = rem_cli(dreamed.path, ["serve", "--host", "0.0.0.0"])
    assert r.exit_code == 1 and "--token" in r.output


# -- a real browser ------------------------------------------------------------------------------------------
def _free_port() -> int:
    return free_port()


def test_in_chromium_the_week_a_moment_an_edit_the_graph_and_the_runs(dreamed, browser, tmp_path):
    from selenium.webdriver.common.by import By

    mid = q(dreamed, f"select id from moments where start_time >= '{DAY[0]}'::timestamptz order by start_time limit 1")[0][0]
    shots = Path(os.environ.get("REM_SCREENSHOTS", tmp_path / "shots"))
    shots.mkdir(parents=True, exist_ok=True)
    with served(dreamed.path, tmp_path) as base:
        browser.get(f"{base}/day/{DAY[0]}")
        cards = browser.find_elements(By.CSS_SELECTOR, "li.card h2")
        assert len(cards) >= 2
        browser.save_screenshot(str(shots / "day.png"))
        browser.get(f"{base}/moment/{mid}")
        browser.find_element(By.CSS_SELECTOR, "details.edit summary").click()
        name = browser.find_element(By.NAME, "name")
        name.clear()
        name.send_keys("Named in the browser")
        browser.find_element(By.CSS_SELECTOR, "details.edit form button").click()
        browser.refresh()
        assert browser.find_element(By.TAG_NAME, "h1").text == "Named in the browser", browser.find_element(By.TAG_NAME, "main").text
        browser.save_screenshot(str(shots / "moment.png"))
        _dream(dreamed, DAY)
        _dream(dreamed, WEEK)
        browser.get(f"{base}/moment/{mid}")
        assert browser.find_element(By.TAG_NAME, "h1").text == "Named in the browser"
        browser.get(f"{base}/graph?node=diskann")
        browser.save_screenshot(str(shots / "graph.png"))
        browser.get(f"{base}/week/{DAY[0]}")
        browser.save_screenshot(str(shots / "week.png"))
        browser.get(f"{base}/runs")
        assert "ok" in browser.page_source
        browser.save_screenshot(str(shots / "runs.png"))
        other = q(dreamed, f"select id from moments where id <> '{mid}' order by start_time limit 1")[0][0]
        with dreamed.connect() as con:  # a title no dream would make, planted where a dream's text goes
            con.execute("update moments set name = $h where id = $id", {"h": HOSTILE, "id": other})
        browser.get(f"{base}/moment/{other}")
        assert browser.find_element(By.TAG_NAME, "h1").text == HOSTILE  # shown as text, nothing ran
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == [], errors
        assert all((shots / f).stat().st_size > 10_000 for f in ("day.png", "moment.png", "graph.png", "runs.png"))


def _submit(browser, button) -> None:
    """Click a form's button and wait for the page it leads to."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    old = browser.find_element(By.TAG_NAME, "html")
    button.click()

    def gone(_browser) -> bool:
        # chromedriver answers "stale" once the new page is in, but while the old document is being torn down it can
        # answer "Node with given id does not belong to the document" instead: both mean the old page is gone
        try:
            old.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as e:
            if "does not belong to the document" in str(e):
                return True
            raise
        return False

    wait = WebDriverWait(browser, 20)
    wait.until(gone)
    wait.until(lambda b: b.execute_script("return document.readyState") == "complete" and b.find_elements(By.TAG_NAME, "main"))


def _shot(browser, shots: Path, name: str, width: int) -> None:
    browser.set_window_size(width, 1600)
    browser.save_screenshot(str(shots / f"{name}-{width}.png"))


def test_in_chromium_the_day_is_a_picture_and_corrections_happen_where_you_look(dreamed, browser, tmp_path):
    """The day's timeline (a block per moment on an hour ruler, coloured by type), the week's columns and the
    month's calendar; delete asks first and can be undone from the page; merge with the previous moment; split
    at a source row; a hostile name stays text in the new pages; no console errors (the CSP holds: no script)."""
    from selenium.webdriver.common.by import By

    first = q(dreamed, f"select id from moments where start_time >= '{DAY[0]}'::timestamptz order by start_time limit 1")[0][0]
    n_day = q(dreamed, f"""select count(*) from moments where start_time >= '{DAY[0]}'::timestamptz
                          and start_time < '{DAY[0]}'::timestamptz + interval 1 day""")[0][0]
    shots = Path(os.environ.get("REM_SCREENSHOTS", tmp_path / "shots"))
    shots.mkdir(parents=True, exist_ok=True)
    with served(dreamed.path, tmp_path) as base:
        browser.get(f"{base}/day/{DAY[0]}")
        blocks = browser.find_elements(By.CSS_SELECTOR, "figure.dayline svg rect.block")
        assert len(blocks) == n_day >= 2
        assert {b.get_attribute("class").split()[1] for b in blocks} <= {f"tl-{t}" for t in
                                                                        ("deep_work", "debugging", "learning", "meeting", "conversation", "support", "writing", "planning", "review", "communication", "infrastructure", "work_session", "other")}
        heights = [float(b.get_attribute("height")) for b in blocks]
        assert max(heights) > min(heights)  # a long moment is a taller block than a short one
        for width in (1400, 430):
            _shot(browser, shots, "day", width)
        browser.set_window_size(1280, 1600)
        with dreamed.connect() as con:  # a name no dream would make, where the timeline draws names
            con.execute("update moments set name = $h where id = $id", {"h": HOSTILE, "id": first})
        browser.refresh()
        assert HOSTILE in browser.find_element(By.CSS_SELECTOR, "figure.dayline svg title").get_attribute("textContent")
        assert browser.find_elements(By.TAG_NAME, "script") == []
        for page_, name in ((f"/week/{DAY[0]}", "week"), (f"/month/{DAY[0][:7]}", "month")):
            browser.get(base + page_)
            assert browser.find_elements(By.CSS_SELECTOR, "figure svg rect"), name
            for width in (1400, 430):
                _shot(browser, shots, name, width)
        # the graph: a map of the top topics and people, every node a link to what is around it
        browser.get(f"{base}/graph")
        nodes = browser.find_elements(By.CSS_SELECTOR, "div.graph svg a")
        assert len(nodes) >= 10
        for width in (1400, 430):
            _shot(browser, shots, "graph", width)
        browser.set_window_size(1280, 1600)
        label = nodes[0].get_attribute("textContent").strip()
        browser.get(nodes[0].get_attribute("href") or f"{base}/graph?node={label}")
        assert "/graph?node=" in browser.current_url and browser.find_elements(By.CSS_SELECTOR, "div.graph svg a")
        topic, person = q(dreamed, """select tags[1], (select people[1] from moments where len(people) > 0 limit 1)
                                      from moments where len(tags) > 0 order by start_time limit 1""")[0]
        for kind, name in (("topic", topic), ("person", person)):
            browser.get(f"{base}/{kind}/{name}")
            assert browser.find_element(By.TAG_NAME, "h1").text == name
            assert browser.find_elements(By.CSS_SELECTOR, "svg rect.spark")  # hours per week
            for width in (1400, 430):
                _shot(browser, shots, kind, width)
        browser.set_window_size(1280, 1600)
        # merge with the previous moment, from the later one's page
        second = q(dreamed, f"select id from moments where start_time >= '{DAY[0]}'::timestamptz order by start_time limit 1 offset 1")[0][0]
        browser.get(f"{base}/moment/{second}")
        for width in (1400, 430):
            _shot(browser, shots, "moment", width)
        browser.set_window_size(1280, 1600)
        browser.find_element(By.CSS_SELECTOR, "details.edit summary").click()
        _submit(browser, browser.find_element(By.CSS_SELECTOR, "button.merge-previous"))
        assert q(dreamed, f"select count(*) from moments where id in ('{first}', '{second}')")[0][0] == 1
        merged = q(dreamed, f"select id from moments where start_time >= '{DAY[0]}'::timestamptz order by start_time limit 1")[0][0]
        # split it again at a source row
        browser.get(f"{base}/moment/{merged}")
        before = q(dreamed, "select count(*) from moments")[0][0]
        browser.find_element(By.CSS_SELECTOR, "details.edit summary").click()
        rows = browser.find_elements(By.CSS_SELECTOR, "form.split-here button")
        assert rows
        _submit(browser, rows[len(rows) // 2])
        assert q(dreamed, "select count(*) from moments")[0][0] == before + 1, browser.find_element(By.TAG_NAME, "main").text
        # delete asks first, then offers the undo
        victim = q(dreamed, "select id, name from moments order by start_time desc limit 1")[0]
        browser.get(f"{base}/moment/{victim[0]}")
        browser.find_element(By.CSS_SELECTOR, "details.edit summary").click()
        _submit(browser, browser.find_element(By.CSS_SELECTOR, "div.actions button.danger"))
        assert "Delete this moment?" in browser.find_element(By.TAG_NAME, "main").text, browser.page_source[-1500:]
        assert q(dreamed, f"select count(*) from moments where id = '{victim[0]}'")[0][0] == 1  # nothing yet
        _submit(browser, browser.find_element(By.CSS_SELECTOR, "main form button.danger"))
        assert q(dreamed, f"select count(*) from moments where id = '{victim[0]}'")[0][0] == 0
        notice = browser.find_element(By.CSS_SELECTOR, "div.notice")
        assert "Deleted" in notice.text and victim[1][:20] in notice.text
        _submit(browser, notice.find_element(By.TAG_NAME, "button"))
        assert q(dreamed, f"select count(*) from moments where id = '{victim[0]}'")[0][0] == 1  # undone
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == [], errors



def test_topic_and_person_pages(client, dreamed):
    topic = q(dreamed, "select tags[1] from moments where len(tags) > 0 order by start_time limit 1")[0][0]
    n = q(dreamed, f"select count(*) from moments where list_contains(tags, '{topic}')")[0][0]
    r = client.get(f"/topic/{topic}")
    assert r.status_code == 200 and f"{n} moment(s)" in r.text and "first seen" in r.text and 'class="spark"' in r.text
    day = client.get(f"/day/{DAY[0]}")
    assert 'href="/topic/' in day.text  # the tags on the cards lead there
    person = q(dreamed, "select people[1] from moments where len(people) > 0 limit 1")[0][0]
    assert client.get(f"/person/{person}").status_code == 200
    missing = client.get("/topic/<script>alert(1)</script>")
    assert missing.status_code == 404 and "<script>alert(1)</script>" not in missing.text


def test_the_edit_form_offers_the_types_and_emotions_to_pick(client, dreamed):
    mid, kind = q(dreamed, "select id, moment_type from moments order by start_time limit 1")[0]
    page_ = client.get(f"/moment/{mid}").text
    assert '<select name="moment_type">' in page_ and f'<option value="{kind}" selected>' in page_
    assert 'list="rem-emotions"' in page_ and '<option value="relieved">' in page_
    token = _csrf(page_)
    r = client.post(f"/moment/{mid}/edit", data={"csrf": token, "action": "edit", "moment_type": "planning"}, follow_redirects=False)
    assert r.status_code == 303 and q(dreamed, f"select moment_type from moments where id = '{mid}'")[0][0] == "planning"


def test_a_correction_that_cannot_be_made_is_said_on_the_form_with_what_was_typed(client, dreamed):
    mid = q(dreamed, "select id from moments order by start_time limit 1")[0][0]
    token = _csrf(client.get(f"/moment/{mid}").text)
    r = client.post(f"/moment/{mid}/edit", data={"csrf": token, "action": "split", "at": "25:99"})
    assert r.status_code == 400 and "That could not be done" in r.text and 'value="25:99"' in r.text
    assert '<details class="edit" open>' in r.text and "--at" not in r.text  # the page's words, not the CLI's
    r = client.post(f"/moment/{mid}/edit", data={"csrf": token, "action": "merge", "other": "zzzz-no-such"})
    assert r.status_code == 400 and 'value="zzzz-no-such"' in r.text and "rem moments" not in r.text
    r = client.post(f"/moment/{mid}/edit", data={"csrf": token, "action": "edit", "name": "   ", "tags": "kept, as typed"})
    assert r.status_code == 400 and 'value="kept, as typed"' in r.text
