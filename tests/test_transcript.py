"""rem ingest transcript: WebVTT, SRT and plain `Name: text` meetings become a session of turns with speakers."""

from __future__ import annotations

from pathlib import Path

import pytest

from rem.config import NO_MODEL, resolve_llm
from rem.dream.run import DreamOptions, dream
from rem.ingest.transcript import ingest_transcript, parse, turns
from support import q, rem_cli

DATA = Path(__file__).parent / "data"
VTT = DATA / "2026-11-16 10-00 index review.vtt"


def test_the_three_formats_give_turns_with_speakers_and_times():
    vtt = turns(parse(VTT.read_text(), "x.vtt"))
    assert [c.speaker for c in vtt] == ["Alice Chen", "Bob Okafor", "Priya Raman", "Bob Okafor", "Alice Chen", "Priya Raman",
                                        "Alice Chen"]
    assert vtt[0].text.startswith("Morning.") and "First item" in vtt[0].text  # two cues of one speaker, one turn
    assert (vtt[0].start, vtt[-1].end) == (2.0, 1530.0)
    srt = turns(parse((DATA / "call.srt").read_text(), "call.srt"))
    assert [(c.speaker, c.start) for c in srt] == [("Mei Lin", 1.0), ("Kwame Mensah", 4.5), ("Mei Lin", 12.5)]
    txt = turns(parse((DATA / "standup.txt").read_text(), "standup.txt"))
    assert [c.speaker for c in txt] == ["Sam Rivera", "Diego Santos", "Sam Rivera"]
    assert txt[1].text.endswith("it should be done by lunch.")  # a line without a name continues the turn


def test_a_meeting_is_one_moment_of_type_meeting_with_its_speakers_and_its_length(store, isolated, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    rep = ingest_transcript(store, VTT)  # the file's name says 16 November 2026, 10:00 (local time)
    assert rep.per_table["messages"].added == 7
    first, last = q(store, "select min(created_at), max(created_at) from messages")[0]
    assert first.isoformat() == "2026-11-16T10:00:02+00:00" and (last - first).total_seconds() == 1504.0
    dream(store, resolve_llm(model=NO_MODEL, file_cfg={}, env={}),
          DreamOptions(start="2026-11-16T00:00:00+00:00", end="2026-11-17T00:00:00+00:00", lookback_hours=None, progress=False))
    (kind, people, start, end), = q(store, "select moment_type, people, start_time, end_time from moments")
    assert kind == "meeting" and sorted(people) == ["Alice Chen", "Bob Okafor", "Priya Raman"]
    assert (end - start).total_seconds() == 1528.0  # its first cue's start to its last cue's end: 25 min 28 s
    again = ingest_transcript(store, VTT)
    assert again.added == 0 and q(store, "select count(*) from messages")[0][0] == 7


def test_the_cli_anchors_at_start_and_imports_several_files(db_path, isolated):
    r = rem_cli(db_path, ["ingest", "transcript", str(DATA / "call.srt"), str(DATA / "standup.txt"),
                          "--start", "2026-11-17T14:00:00+00:00"])
    assert r.exit_code == 0 and "sessions: 2 added" in r.output and "messages: 6 added" in r.output
    from rem.store import Store

    assert q(Store(db_path), "select min(created_at) from messages")[0][0].isoformat() == "2026-11-17T14:00:01+00:00"


@pytest.mark.parametrize(("content", "says"), [
    ("WEBVTT\n\n00:00:10.000 --> 00:00:05.000\n<v A>backwards\n", "ends"),
    ("just some words\nand more\n", "without a speaker"),
    ("", "holds no cues"),
    (b"\xff\xfe\x00garbage", "UTF-8"),
])
def test_a_bad_transcript_is_refused_by_name_and_nothing_is_written(db_path, isolated, tmp_path, content, says, tally):
    f = tmp_path / "bad.vtt"
    f.write_bytes(content if isinstance(content, bytes) else content.encode())
    r = rem_cli(db_path, ["ingest", "transcript", str(f), str(DATA / "call.srt")])
    assert r.exit_code == 1 and "refused" in r.output and str(f) in r.output and says in r.output, r.output
    assert "Traceback" not in r.output
    from rem.store import Store

    assert q(Store(db_path), "select count(*) from messages")[0][0] == 3  # the good file is still imported
    tally("importers: hostile transcripts, coding-agent sessions and WhatsApp exports", 1, 1)


def test_a_huge_transcript_is_refused_by_size(db_path, isolated, tmp_path, monkeypatch, tally):
    from rem.ingest import transcript

    monkeypatch.setattr(transcript, "MAX_BYTES", 1000)
    f = tmp_path / "long.txt"
    f.write_text("A: " + "word " * 400 + "\n")
    r = rem_cli(db_path, ["ingest", "transcript", str(f)])
    assert r.exit_code == 1 and "refused" in r.output and "MB" in r.output
    tally("importers: hostile transcripts, coding-agent sessions and WhatsApp exports", 1, 1)


@pytest.mark.parametrize(("value", "minutes"), [(45, 45), ("45 min", 45), ("1h", 60), ("1h30m", 90), ("1.5 hours", 90),
                                                ("1:30", 90), ("90", 90), ("", None), ("soon", None), (0, None),
                                                (-5, None), (True, None), ("25 h", None), (None, None)])
def test_a_duration_as_a_note_writes_it(value, minutes):
    from rem.dream.resolve import minutes_of

    assert minutes_of(value) == minutes


def test_a_meeting_from_a_note_lasts_what_the_note_says_or_half_an_hour(store, isolated, monkeypatch, tmp_path):
    from rem.ingest import ingest_notes

    monkeypatch.setenv("TZ", "UTC")
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "sync.md").write_text("---\ndate: 2026-11-18T10:00:00Z\n---\n# Team sync\n\nAttendees: Bob Okafor, Alice Chen\n\n"
                                   "- The release moves to Friday.\n", encoding="utf-8")
    (notes / "review.md").write_text("---\ndate: 2026-11-18T14:00:00Z\nduration: 1h15m\n---\n# Design review\n\n"
                                     "Attendees: Priya Raman\n\n- The schema stays.\n", encoding="utf-8")
    (notes / "standup.md").write_text("---\ndate: 2026-11-18T17:00:00Z\n---\n# Standup\n\nAttendees: Diego Santos\n"
                                      "Duration: 15 min\n\n- Nothing blocks.\n", encoding="utf-8")
    (notes / "idea.md").write_text("---\ndate: 2026-11-18T20:00:00Z\n---\n# An idea\n\nShard the index by tenant.\n",
                                   encoding="utf-8")
    ingest_notes(store, notes)
    dream(store, resolve_llm(model=NO_MODEL, file_cfg={}, env={}),
          DreamOptions(start="2026-11-18", end="2026-11-18", lookback_hours=None, progress=False))
    got = {r[0]: r[1] for r in q(store, """select r.name, round(epoch(m.end_time) - epoch(m.start_time)) / 60
                                            from moments m, unnest(m.resource_ids) u(x) join resources r on r.id = u.x""")}
    assert got == {"Team sync": 30, "Design review": 75, "Standup": 15, "An idea": 0}, got
