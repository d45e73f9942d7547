"""rem ask: questions answered from the memory, with no model and through a scripted OpenAI-compatible endpoint."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from rem.ask import NOT_FOUND, ask, read_question
from rem.config import NO_MODEL, resolve_llm
from rem.dream.run import DreamOptions, dream
from rem.ingest import ingest_chat
from scripted_llm import Reply, ScriptedLLM, completion, user_text
from support import rem_cli, served

CHAT = Path(__file__).resolve().parents[1] / "bench" / "quality" / "personal" / "chat.jsonl"
FRIDAY = date(2026, 11, 21)  # the day after the chat


@pytest.fixture
def memory(store, isolated, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    ingest_chat(store, CHAT)
    dream(store, resolve_llm(model=NO_MODEL, file_cfg={}, env={}),
          DreamOptions(start="2026-11-20T00:00:00+00:00", end="2026-11-21T00:00:00+00:00", lookback_hours=None, progress=False))
    return store


# -- reading the question -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "intent", "window"), [
    ("When did I last go to the support group?", "when", None),
    ("What date did Tomás move?", "when", None),
    ("summarize my week", "summary", ("2026-11-16", "2026-11-22")),
    ("What did I do yesterday?", "summary", ("2026-11-20", "2026-11-20")),
    ("What did Nadia cook last week?", "fact", ("2026-11-09", "2026-11-15")),
    ("what happened in October?", "summary", ("2026-10-01", "2026-10-31")),
    ("Who is Lucía?", "fact", None),
    ("What happened when Tomás lost his keys?", "fact", None),  # about that, not a summary of this week
    ("What happened at the climbing gym last week?", "fact", ("2026-11-09", "2026-11-15")),
    ("What happened to me last week?", "summary", ("2026-11-09", "2026-11-15")),
    ("What have I been doing lately?", "summary", ("2026-11-16", "2026-11-21")),
])
def test_a_question_is_read_for_what_it_wants_and_the_time_it_names(text, intent, window):
    q = read_question(text, FRIDAY)
    assert q.intent == intent
    assert (None if q.window is None else (q.window[0].isoformat(), q.window[1].isoformat())) == window
    assert q.query and "yesterday" not in q.query and "last week" not in q.query


def test_an_empty_question_is_a_clear_error(isolated, db_path):
    r = rem_cli(db_path, ["ask", "   "])
    assert r.exit_code != 0 and "empty" in r.output and "Traceback" not in r.output


# -- no model: the evidence answers -------------------------------------------------------------------------
@pytest.mark.parametrize(("question", "day"), [
    ("When did Tomás lose his keys?", "18 November 2026"),          # "on Wednesday", said on Friday 20
    ("When did Nadia go to the climbing gym?", "19 November 2026"),  # "yesterday"
    ("When did Tomás move into the new flat?", "17 November 2026"),  # "on Tuesday"
])
def test_when_questions_get_the_resolved_date_first(memory, question, day):
    a = ask(memory, question, today=FRIDAY)
    assert a.found and a.answer.startswith(day), a.answer
    cited = [e for e in a.evidence if e.ref in a.cited]
    assert cited and cited[0].date == date(2026, 11, int(day.split()[0])).isoformat()


def test_a_fact_question_answers_with_who_said_what_and_where(memory):
    a = ask(memory, "What is the name of Tomás's cat?", today=FRIDAY)
    assert "Pixel" in a.answer and a.model == "none" and a.tokens_in == 0
    assert all(ref in {e.ref for e in a.evidence} for ref in a.cited)


def test_a_summary_question_lists_the_moments_of_its_time(memory):
    a = ask(memory, "summarize my week", today=FRIDAY)
    with memory.read() as con:
        n = con.execute("select count(*) from moments").fetchone()[0]
    assert a.intent == "summary" and a.answer.startswith(f"{n} moments") and len(a.evidence) == n
    empty = ask(memory, "what did I do last month", today=date(2027, 3, 3))
    assert not empty.found and "February 2027" in empty.answer


def test_a_busy_week_is_summed_up_by_its_most_substantial_moments_and_says_how_many_it_holds(store, isolated, monkeypatch):
    """A summary question showed the first twelve moments of its time and called them all: "12 moments (this
    week …)" of a week holding twenty, Monday's small talk before Friday's launch. It shows the twelve with the
    most in them (a pinned or corrected one first), in time order, and says how many the week holds."""
    import json as json_

    monkeypatch.setenv("TZ", "UTC")
    store.init()
    with store.connect() as con:
        for n in range(20):  # Mon 16 – Fri 20 November, four a day; the Friday afternoon one holds the most
            day, hour = 16 + n // 4, 8 + 2 * (n % 4)
            msgs = [f"m{n}-{i}" for i in range(40 if n == 18 else 1 + n % 3)]
            meta = json_.dumps({"fixed": True, "pinned": True}) if n == 3 else None  # one message, but pinned
            con.execute("""INSERT INTO moments (id, name, summary, start_time, end_time, message_ids, metadata, created_at, updated_at)
                           VALUES ($id, $name, 'what happened', $t, $t, $m, $md, now(), now())""",
                        {"id": f"mo{n:02d}", "name": "Launch of the new site" if n == 18 else f"Moment {n}",
                         "t": f"2026-11-{day}T{hour:02d}:00:00Z", "m": msgs, "md": meta})
    a = ask(store, "summarize my week", today=FRIDAY, dream_missing=False)
    assert a.answer.startswith("20 moments (this week, Mon 16 November 2026 – Sun 22 November 2026); the 12 with the most in them:")
    shown = [e.id for e in a.evidence]
    assert len(shown) == 12 and "mo18" in shown and "mo03" in shown and "mo00" not in shown
    assert [e.time for e in a.evidence] == sorted(e.time for e in a.evidence)
    assert a.answer.splitlines()[-1] == "- … and 8 more (rem moments --since 2026-11-16)" and a.public()["moments"] == 20
    with ScriptedLLM(_answering("A launch week.", ["E1"])) as llm:
        b = ask(store, "summarize my week", _settings(llm), today=FRIDAY, dream_missing=False)
        assert "the 12 with the most in them" in user_text(llm.requests[0])
    assert b.answer == "A launch week." and b.moments == 20


def test_asking_dreams_a_time_that_was_not_dreamed(store, isolated, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    ingest_chat(store, CHAT)
    a = ask(store, "What did I do yesterday?", today=FRIDAY)
    assert a.dreamed and a.found and a.evidence
    with store.read() as con:
        assert con.execute("select trigger from dream_runs where id = $i", {"i": a.dreamed[0]}).fetchone()[0] == "ask"
    again = ask(store, "What did I do yesterday?", today=FRIDAY)
    assert again.dreamed == [] and again.answer == a.answer  # dreamed once


def test_rem_dream_about_a_time_dreams_the_days_of_it_no_dream_has_seen(store, isolated, db_path, monkeypatch):
    """`rem dream --about "…"`: the on-demand dream from the command line, for the time a phrase names."""
    monkeypatch.setenv("TZ", "UTC")
    ingest_chat(store, CHAT)
    about = "the week before 25 November 2026"  # Wed 18 – Tue 24 November; the chat is on Friday 20
    r = rem_cli(db_path, ["dream", "--about", about])
    assert r.exit_code == 0, r.output
    assert "1 day with activity no dream has seen, Fri 20 Nov 2026" in r.output and "3 new" in r.output
    with store.read() as con:
        runs = con.execute("select window_start, window_end from dream_runs where status = 'ok'").fetchall()
        made = con.execute("select count(*) from moments").fetchone()[0]
    assert [(a.isoformat(), b.isoformat()) for a, b in runs] == [("2026-11-20T00:00:00+00:00", "2026-11-21T00:00:00+00:00")]
    r = rem_cli(db_path, ["dream", "--about", about, "--json"])  # dreamed already: said, nothing done
    assert r.exit_code == 0 and json.loads(r.stdout)["days"] == [] and "nothing to dream" in r.stdout
    with store.read() as con:
        assert con.execute("select count(*) from dream_runs").fetchone()[0] == 1
        assert con.execute("select count(*) from moments").fetchone()[0] == made
    for args, said in ((["--about", "my trip to Rome"], "names no time"), (["--about", "???"], "names no time"),
                       (["--about", "last week", "--start", "2026-11-01"], "leave out --start")):
        r = rem_cli(db_path, ["dream", *args])
        assert r.exit_code == 2 and said in r.output and "Traceback" not in r.output


def test_a_turn_s_events_follow_corrections_made_after_they_were_read(memory, tmp_path):
    """A turn's events are read from the moments with an event found in it, known from a per-process cache (the
    view of every moment's events cost ~30 ms a question at 20,000 events): an event corrected after the cache
    was made is what the next answer shows, one deleted with its moment is gone, and a day dreamed since is found."""
    from rem.corrections import edit_events

    a = ask(memory, "When did Tomás lose his keys?", today=FRIDAY)
    ev = [e for e in a.evidence if e.kind == "event" and "keys" in e.text]
    assert ev and ev[0].source
    moment_id, pos = ev[0].id.split("/")
    edit_events(memory, moment_id, texts={int(pos) + 1: "Tomás lost his house keys at the climbing gym"})
    b = ask(memory, "When did Tomás lose his keys?", today=FRIDAY)
    assert any(e.kind == "event" and e.text == "Tomás lost his house keys at the climbing gym" for e in b.evidence)
    assert rem_cli(memory.path, ["moments", "delete", moment_id, "--yes"]).exit_code == 0
    c = ask(memory, "When did Tomás lose his keys?", today=FRIDAY)
    assert not any(e.kind == "event" and e.moment_id == moment_id for e in c.evidence)
    # a day dreamed since: the events of its turns are found in its new moment
    later = tmp_path / "later.jsonl"
    later.write_text(json.dumps({"session": "saturday", "role": "user", "speaker": "Tomás", "id": "q00",
                                 "content": "I lost my wallet on the tram yesterday, a kind driver found it.",
                                 "created_at": "2026-11-22T10:00:00+00:00"}) + "\n", encoding="utf-8")
    ingest_chat(memory, later)
    dream(memory, resolve_llm(model=NO_MODEL, file_cfg={}, env={}),
          DreamOptions(start="2026-11-22T00:00:00+00:00", end="2026-11-23T00:00:00+00:00", lookback_hours=None, progress=False))
    d = ask(memory, "When did Tomás lose his wallet?", today=date(2026, 11, 23))
    assert any(e.kind == "event" and "wallet" in e.text and e.date == "2026-11-21" for e in d.evidence), d.evidence
    from rem.search.index import event_sources

    with memory.read(sandbox=False) as con:
        (h, held), = con.execute("SELECT hash(source_id), list(DISTINCT moment_id) FROM events WHERE source_id = 'q00' GROUP BY 1").fetchall()
        assert event_sources(memory, con).every([h]) == set(held)


def test_the_cli_answers_in_words_and_in_json(memory):
    r = rem_cli(memory.path, ["ask", "When did Tomás lose his keys?"])
    assert r.exit_code == 0 and "18 November 2026" in r.output.splitlines()[0] and "evidence:" in r.output
    j = rem_cli(memory.path, ["ask", "When did Tomás lose his keys?", "--json"])
    data = json.loads(j.output)
    assert set(data) >= {"answer", "evidence", "model", "tokens", "cost", "cited", "found"}
    assert data["model"] == "none" and data["evidence"][0]["ref"] == "E1" and data["evidence"][0]["kind"]


def test_the_api_asks(memory):
    import rem

    out = rem.connect(memory.path).ask("When did Nadia go to the climbing gym?", model="none")
    assert out["found"] and "19 November 2026" in out["answer"]


# -- with a model (a scripted OpenAI-compatible endpoint) ---------------------------------------------------
def _settings(llm, **prices):
    s = resolve_llm(model="scripted", base_url=llm.base_url, file_cfg={"llm": prices}, env={})
    return s


def _answering(answer, refs, found=True):
    def script(req, n):
        return Reply(body=completion(req, {"found": found, "answer": answer, "refs": refs}, prompt_tokens=700, completion_tokens=40))
    return script


def _ref_of(req, needle):
    for line in user_text(req).splitlines():
        if needle in line and line.startswith("[E"):
            return line[1:line.index("]")]
    raise AssertionError(f"{needle!r} not in the evidence sent")


def test_a_model_answers_citing_the_evidence_it_was_given(memory):
    seen = {}

    def script(req, n):
        ref = _ref_of(req, "lost my keys")
        seen["ref"] = ref
        return Reply(body=completion(req, {"found": True, "answer": f"You lost them on Wednesday 18 November [{ref}].",
                                           "refs": [ref]}, prompt_tokens=700, completion_tokens=40))

    with ScriptedLLM(script) as llm:
        a = ask(memory, "When did Tomás lose his keys?", _settings(llm), today=FRIDAY)
        sent = user_text(llm.requests[0])
    assert a.found and a.cited == [seen["ref"]] and a.model == "scripted" and (a.tokens_in, a.tokens_out) == (700, 40)
    assert "Question: When did Tomás lose his keys?" in sent and "happened 18 November 2026" in sent
    assert f"[{seen['ref']}]" in a.answer


def test_refs_the_model_invents_are_dropped_and_only_invented_refs_is_a_refusal(memory):
    with ScriptedLLM(_answering("Pixel, a grey cat [E1] [E99].", ["E1", "E99", "R7"])) as llm:
        a = ask(memory, "What is the name of Tomás's cat?", _settings(llm), today=FRIDAY)
    assert a.cited == ["E1"] and "E99" not in a.answer and a.found
    with ScriptedLLM(_answering("It was Pixel [E99].", ["E99"])) as llm:
        b = ask(memory, "What is the name of Tomás's cat?", _settings(llm), today=FRIDAY)
    assert not b.found and b.answer == NOT_FOUND and b.cited == []


def test_the_model_refuses_when_the_evidence_does_not_hold_the_answer(memory):
    with ScriptedLLM(_answering("", [], found=False)) as llm:
        a = ask(memory, "What is Tomás's favourite football team?", _settings(llm), today=FRIDAY)
    assert not a.found and a.answer == NOT_FOUND and a.evidence  # the evidence is still shown


def test_max_cost_keeps_the_question_from_a_priced_model(memory):
    with ScriptedLLM(_answering("x [E1]", ["E1"])) as llm:
        s = _settings(llm, price_in_per_mtok=1000.0, price_out_per_mtok=1000.0)
        a = ask(memory, "When did Tomás lose his keys?", s, max_cost=0.01, today=FRIDAY)
        assert llm.requests == []  # nothing was sent
    assert "exceeds --max-cost" in a.message and a.answer.startswith("18 November 2026")


def test_an_endpoint_that_fails_falls_back_to_the_evidence(memory):
    with ScriptedLLM(lambda req, n: Reply(status=500)) as llm:
        a = ask(memory, "When did Tomás lose his keys?", _settings(llm), today=FRIDAY)
    assert "could not answer" in a.message and a.answer.startswith("18 November 2026")


def test_the_cli_with_a_model(memory):
    with ScriptedLLM(lambda req, n: Reply(body=completion(req, {"found": True, "answer": f"Pixel [{_ref_of(req, 'Pixel')}].",
                                                                  "refs": [_ref_of(req, "Pixel")]}))) as llm:
        r = rem_cli(memory.path, ["ask", "What is Tomás's cat called?", "--llm", "scripted", "--llm-base-url", llm.base_url])
    assert r.exit_code == 0 and r.output.startswith("Pixel [E") and "answered by scripted" in r.output


def test_ask_in_the_web_view(memory):
    from starlette.testclient import TestClient

    from rem.serve import create_app

    with TestClient(create_app(memory), base_url="http://127.0.0.1") as c:
        r = c.get("/ask", params={"q": "When did Nadia go to the climbing gym?"})
        assert r.status_code == 200 and "19 November 2026" in r.text and 'class="answer' in r.text
        assert 'action="/ask"' in c.get("/runs").text  # the box is on every page
        hostile = c.get("/ask", params={"q": "<script>alert(1)</script>"})
        assert hostile.status_code == 200 and "<script>alert(1)</script>" not in hostile.text


def test_ask_in_chromium(memory, browser, tmp_path):
    from selenium.webdriver.common.by import By

    from test_serve import _submit

    with served(memory.path, tmp_path) as base:
        browser.get(f"{base}/runs")
        box = browser.find_element(By.CSS_SELECTOR, "form.ask input")
        box.send_keys("When did Tomás lose his keys?")
        _submit(browser, browser.find_element(By.CSS_SELECTOR, "form.ask button"))
        answer = browser.find_element(By.CSS_SELECTOR, "div.answer").text
        assert answer.startswith("18 November 2026"), answer
        assert browser.find_elements(By.CSS_SELECTOR, "ol.evidence li.cited")
        assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []



def test_events_are_search_results_of_their_own_kind_and_leave_with_their_moment(memory):
    from rem.search import SearchOptions, search

    hits = search(memory, "lost keys", SearchOptions(kinds=("event",))).to_pylist()
    top = hits[0]
    assert top["kind"] == "event" and "/" in top["id"] and top["moment_id"] == top["id"].split("/")[0]
    assert "lost" in top["snippet"] and "2026-11-18" in top["snippet"]
    everything = search(memory, "lost keys", SearchOptions(limit=3)).to_pylist()
    assert "event" in {h["kind"] for h in everything}
    assert rem_cli(memory.path, ["moments", "delete", top["moment_id"], "--yes"]).exit_code == 0
    after = search(memory, "lost keys", SearchOptions(kinds=("event",), limit=50)).to_pylist()
    assert all(h["moment_id"] != top["moment_id"] for h in after)


# -- what a question cannot be answered with ----------------------------------------------------------------
@pytest.mark.parametrize("question", ["Who?", "???", "What is it?", "When"])
def test_a_question_that_names_nothing_is_a_clear_error(isolated, db_path, question):
    r = rem_cli(db_path, ["ask", question])
    assert r.exit_code != 0 and "names nothing to look for" in r.output and "Traceback" not in r.output


def test_a_vague_question_that_still_names_something_is_asked():
    assert read_question("Who will take that?", FRIDAY).query == "will take that"


def test_a_time_and_nothing_else_asks_what_that_time_holds():
    q = read_question("anything last week?", FRIDAY)
    assert q.intent == "summary" and q.window == (date(2026, 11, 9), date(2026, 11, 15))


def test_a_time_with_nothing_in_it_is_said_before_an_answer_from_another_time(memory):
    """The chat is of 20 November: asked about a time nothing was written in or said of (the month before), the
    answer says nothing is from then before it gives the closest from another time; asked about its own day, it
    just answers; asked about a week the chat speaks of ("I adopted a cat two weeks ago", "I practiced it last
    weekend"), it answers from what was said of it."""
    a = ask(memory, "What did Nadia cook last month?", today=FRIDAY)
    assert a.found and a.answer.startswith("Nothing from last month (Thu 1 October 2026 – Sat 31 October 2026)")
    assert all(e.time is None or e.time.date() > date(2026, 10, 31) for e in a.evidence)
    b = ask(memory, "What did Nadia cook yesterday?", today=FRIDAY)
    assert b.found and not b.answer.startswith("Nothing from") and b.message == ""
    with ScriptedLLM(_answering("", [], found=False)) as llm:
        c = ask(memory, "What did Nadia cook last month?", _settings(llm), today=FRIDAY)
        sent = user_text(llm.requests[0])
    assert "Nothing from last month" in sent and "the evidence below is of other times" in sent
    assert not c.found and c.message.startswith("Nothing from last month")  # the model refused; the user is told why
    d = ask(memory, "What did Nadia cook before 1 November?", today=FRIDAY)  # a time named from another
    assert d.found and d.answer.startswith("Nothing before 1 November (until Sat 31 October 2026); the closest")
    assert ask(memory, "What did Nadia cook in October?", today=FRIDAY).answer.startswith("Nothing in October (")
    w = ask(memory, "What did Tomás do two weeks ago?", today=FRIDAY)
    assert w.found and w.answer.startswith("Tomás adopted a cat between 2 and 8 November 2026"), w.answer
    n = ask(memory, "What did Nadia cook last week?", today=FRIDAY)
    assert n.found and n.answer.startswith("Nadia practiced it between 14 and 15 November 2026"), n.answer
    e = ask(memory, "What did Nadia cook since Wednesday?", today=FRIDAY)
    assert e.found and not e.answer.startswith("Nothing") and all(x.time is None or x.time.date() >= date(2026, 11, 18) for x in e.evidence)


def _chat(store, tmp_path, day, turns):
    """A chat of ``turns`` (speaker, text) imported into ``store``, a minute apart from 10:00 UTC on ``day``."""
    chat = tmp_path / "chat.jsonl"
    chat.write_text("".join(json.dumps({"session": "s1", "role": "user", "speaker": w, "content": t, "id": f"m{i}",
                                        "created_at": f"{day}T10:0{i}:00+00:00"}) + "\n"
                            for i, (w, t) in enumerate(turns)), encoding="utf-8")
    ingest_chat(store, chat)


def test_a_turn_that_only_asks_is_not_taken_for_the_answer(store, isolated, tmp_path):
    _chat(store, tmp_path, "2023-05-08", [("Caroline", "That's really cool. Did you paint anything lately?"),
                                          ("Melanie", "Yes! I painted a lake sunrise, it is special to me."),
                                          ("Caroline", "Lovely. I have been busy with work and the garden.")])
    a = ask(store, "Did Melanie paint anything lately?", today=date(2023, 5, 9))
    assert a.found and "lake sunrise" in a.answer and "Did you paint" not in a.answer, a.answer
    who = ask(store, "Who wanted to know about anything lately?", today=date(2023, 5, 9))  # asking is what they did
    assert who.answer.startswith("Caroline") and "Did you paint" in who.answer, who.answer


def test_without_a_model_the_best_ranked_piece_that_says_something_answers():
    """Search's ranking, not a count of the question's words, picks the answer: a later turn holding more of them
    ("the", "trip", "Lisbon" …) does not win over the turn ranked first; a turn that only asks is passed over."""
    from rem.ask import Evidence, answer_without_model

    t = datetime(2023, 5, 8, 10, 0, tzinfo=UTC)
    ev = [Evidence("E1", "message", "m1", t, "Did you book anything for Lisbon?", who="Ana"),
          Evidence("E2", "message", "m2", t, "We booked the flights to Lisbon in March.", who="Ben"),
          Evidence("E3", "message", "m3", t, "The Lisbon trip, the Lisbon hotel, the trip to Lisbon: still no plan.",
                   who="Ana")]
    text, cited = answer_without_model(read_question("What did they book for the trip to Lisbon?", FRIDAY), ev)
    assert cited == ["E2"] and "flights" in text


def test_when_someone_said_something_is_the_day_it_was_said_not_a_date_it_mentions(store, isolated, tmp_path):
    _chat(store, tmp_path, "2023-05-10", [("Ana", "How are you holding up?"),
                                          ("Ben", "My sister had a car accident last week, she is fine now."),
                                          ("Ana", "I'm so sorry, give her my love.")])
    told = ask(store, "When did Ben tell Ana about the car accident?", today=date(2023, 5, 20))
    assert told.answer.startswith("Wed 10 May 2023"), told.answer
    happened = ask(store, "When did Ben's sister have the car accident?", today=date(2023, 5, 20))
    assert happened.answer.startswith("1–7 May 2023"), happened.answer
