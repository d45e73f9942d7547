"""rem ingest whatsapp: chat exports in their locale formats, as sessions with speakers."""

from __future__ import annotations

import zipfile
from pathlib import Path

from support import q, rem_cli

DATA = Path(__file__).parent / "data"
CHAT = DATA / "WhatsApp Chat with Nadia.txt"


def _store(db_path):
    from rem.store import Store

    return Store(db_path)


def test_android_day_first_and_iphone_12_hour_month_first(db_path, isolated, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    r = rem_cli(db_path, ["ingest", "whatsapp", str(CHAT), str(DATA / "whatsapp-us-12h.txt")])
    assert r.exit_code == 0 and "messages: 8 added" in r.output and "WhatsApp's own lines 2" in r.output, r.output
    rows = q(_store(db_path), """select s.name, strftime(m.created_at, '%Y-%m-%d %H:%M'), m.speaker, m.content
                                 from messages m join sessions s on s.id = m.session_id order by m.created_at, m.id""")
    assert ("whatsapp-us-12h", "2026-11-20 18:03", "Nadia", "Did you get the keys copied?") in rows  # 6:03 PM, 11/20
    tomas = next(x for x in rows if x[0] == "WhatsApp Chat with Nadia" and x[2] == "Tomás")
    assert tomas[3] == "Yes! Bring whatever you like.\nLucía is coming too, she helped with the sofa."  # two lines, one message
    assert ("WhatsApp Chat with Nadia", "2026-11-20 18:06", "Nadia", "<Media omitted>") in rows
    people = {n for (n,) in q(_store(db_path), "select name from entities where kind = 'person'")}
    assert {"Nadia", "Tomás", "Lucía"} <= people


def test_a_later_export_adds_only_the_new_messages_and_a_zip_is_read(db_path, isolated, tmp_path):
    assert rem_cli(db_path, ["ingest", "whatsapp", str(CHAT)]).exit_code == 0
    later = tmp_path / "WhatsApp Chat with Nadia.zip"
    with zipfile.ZipFile(later, "w") as z:
        z.writestr("WhatsApp Chat with Nadia.txt", CHAT.read_text() + "22/11/2026, 23:59 - Nadia: What a party!\n")
        z.writestr("IMG-0001.jpg", b"\xff\xd8")
    r = rem_cli(db_path, ["ingest", "whatsapp", str(later)])
    assert r.exit_code == 0 and "messages: 1 added, 0 updated, 5 unchanged" in r.output, r.output


def test_a_date_that_does_not_exist_is_named_and_the_rest_imported(db_path, isolated, tmp_path, tally):
    f = tmp_path / "chat.txt"
    f.write_text("30/01/2026, 10:00 - Ana: Hello\n31/02/2026, 10:01 - Ana: A day that never was\n01/03/2026, 10:02 - Ben: Hi Ana\n")
    r = rem_cli(db_path, ["ingest", "whatsapp", str(f)])
    assert r.exit_code == 1 and f"{f}:2" in r.output and "31/02/2026" in r.output and "Traceback" not in r.output
    assert q(_store(db_path), "select count(*) from messages")[0][0] == 2
    tally("importers: hostile transcripts, coding-agent sessions and WhatsApp exports", 1, 1)


def test_ambiguous_dates_are_day_first_unless_told(db_path, isolated, tmp_path, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    f = tmp_path / "chat.txt"
    f.write_text("03/04/2026, 10:00 - Ana: Which month is this?\n")
    rem_cli(db_path, ["ingest", "whatsapp", str(f)])
    assert str(q(_store(db_path), "select created_at from messages")[0][0].date()) == "2026-04-03"
    other = tmp_path / "other.duckdb"
    rem_cli(other, ["ingest", "whatsapp", str(f), "--date-order", "mdy"])
    assert str(q(_store(other), "select created_at from messages")[0][0].date()) == "2026-03-04"


def test_not_a_chat_is_refused_by_name(db_path, isolated, tmp_path, tally):
    f = tmp_path / "notes.txt"
    f.write_text("just some text\n")
    r = rem_cli(db_path, ["ingest", "whatsapp", str(f)])
    assert r.exit_code == 1 and str(f) in r.output and "holds no WhatsApp messages" in r.output
    tally("importers: hostile transcripts, coding-agent sessions and WhatsApp exports", 1, 1)


def test_the_morning_or_afternoon_word_before_the_time(db_path, isolated, tmp_path, monkeypatch):
    """Phones set to Chinese, Japanese or Korean write 上午/下午, 午前/午後, 오전/오후 before the time: each line is
    its own message at the right hour, not a continuation of the line before."""
    monkeypatch.setenv("TZ", "UTC")
    zh = tmp_path / "zh.txt"
    zh.write_text("2026/11/20 上午9:05 - 小明: 早上好\n2026/11/20 下午9:41 - 小红: 晚上见\n", encoding="utf-8")
    ko = tmp_path / "ko.txt"
    ko.write_text("[2026. 11. 21. 오전 8:15:00] 민준: 안녕\n[2026. 11. 21. 오후 12:30:05] 서연: 점심 먹자\n", encoding="utf-8")
    r = rem_cli(db_path, ["ingest", "whatsapp", str(zh), str(ko)])
    assert r.exit_code == 0 and "messages: 4 added" in r.output, r.output
    rows = q(_store(db_path), "select strftime(created_at, '%Y-%m-%d %H:%M'), speaker, content from messages order by created_at")
    assert rows == [("2026-11-20 09:05", "小明", "早上好"), ("2026-11-20 21:41", "小红", "晚上见"),
                    ("2026-11-21 08:15", "민준", "안녕"), ("2026-11-21 12:30", "서연", "점심 먹자")]
