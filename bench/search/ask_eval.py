"""`rem ask` measured (part of `make bench`; BENCHMARKS.md §7).

- **"When" questions, no model.** Every labelled event with a date in the
  hand-written personal chat (bench/quality/personal) and in the demo
  generator's hard days becomes a question mechanically: "When was it that
  <event>?". The memory (the chat, or the demo week with its hard days) is
  ingested and dreamed without a model, then asked. An answer is right when
  the date it gives first (the date of the evidence it cites first) holds the
  labelled day, or overlaps a labelled range, and spans at most a week (or
  the labelled range). Baseline: the date of the best search hit itself (what
  a user of `rem search` reads off a result).
- **"When" questions on DialogSum test, no model** (held out): the "when"
  questions of bench/search/heldout.py (summary sentences that state a time,
  asked for it; their evidence the turns saying it), asked of the dreamed
  DialogSum test memory (the sentences of all three summaries of a
  dialogue). The right date is read from the summary's own time
  words by this file's calendar (:func:`said_span`: "tomorrow" is the day after
  the dialogue's, "next week" the ISO week after its week …), not by REM; a
  weekday or a month named alone depends on the sentence's tense and is left
  out. Right as above; baseline the top search hit's date.
- **"Who" questions, no model.** The labelled events of the personal chat whose text opens with their actor
  ("Tomás lost his keys") asked for the actor ("Who lost his keys?"), and, held out, DialogSum's "who" sentences
  of bench/search/heldout.py ("#Person2# wants to rent a flat near the university" → "Who wants to rent a flat
  near the university?"). Right when the first person the answer names is the actor (for DialogSum: the tag,
  and the evidence cited is of that dialogue, read off its day: every speaker of DialogSum is ``#Person1#`` or
  ``#Person2#``).
- **Evidence recall, no model**: the DialogSum test questions of
  bench/search/heldout.py (summary sentences; their evidence is their
  dialogue) asked through ``ask``; found when a piece of its evidence comes from
  the right dialogue.
- **Answered from the right place, no model** (held out): DialogSum test's summary sentences asked as a person asks
  (``dialogsum-asked`` and ``dialogsum-did`` of bench/search/heldout.py); right when the evidence the answer cites
  first is of the sentence's dialogue (a turn of it, an event read from one, or a moment of its day) and is not a
  turn that only asks something (:func:`only_asks`, this file's reading: its last sentence is a question and any
  before it are of four words at most): a question does not answer one.
- **Citations with a model**: a scripted OpenAI-compatible endpoint on
  127.0.0.1 (an oracle) answers each "when" question citing the evidence that
  holds the labelled date, plus one ref it was not given; the share of kept
  citations that point at evidence REM retrieved (must be 1.0: an invented ref
  is dropped) and the share of answers that kept a citation.
- **Latency**: ``ask`` without a model, warm, p50 over the questions.

    python bench/search/ask_eval.py
Writes bench/results/ask.json (of the held-out sets, each question by its number and what came of it: none of
their text).
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))
sys.path.insert(0, str(ROOT / "bench" / "search"))
sys.path.insert(0, str(ROOT / "bench" / "quality"))
sys.path.insert(0, str(ROOT / "tests"))

import heldout  # noqa: E402

from rem.ask import ask  # noqa: E402
from rem.config import NO_MODEL, resolve_llm  # noqa: E402
from rem.demo import generate  # noqa: E402
from rem.dream.run import DreamOptions, dream  # noqa: E402
from rem.ingest import ingest_chat, ingest_demo  # noqa: E402
from rem.search import SearchOptions, search  # noqa: E402
from rem.store import Store  # noqa: E402
from scripted_llm import Reply, ScriptedLLM, completion, user_text  # noqa: E402

NONE = resolve_llm(model=NO_MODEL, file_cfg={}, env={})


def _span(d: Any) -> tuple[date, date]:
    if isinstance(d, list):
        return date.fromisoformat(d[0]), date.fromisoformat(d[1])
    return date.fromisoformat(d), date.fromisoformat(d)


def right(got: tuple[date, date] | None, gold: tuple[date, date]) -> bool:
    if got is None:
        return False
    overlap = got[0] <= gold[1] and gold[0] <= got[1]
    return overlap and (got[1] - got[0]) <= max(timedelta(days=6), gold[1] - gold[0])


def personal(tmp: Path) -> tuple[Store, list[dict[str, Any]], date]:
    store = Store(tmp / "personal.duckdb")
    ingest_chat(store, ROOT / "bench" / "quality" / "personal" / "chat.jsonl")
    dream(store, NONE, DreamOptions(start="2026-11-20T00:00:00+00:00", end="2026-11-21T00:00:00+00:00", lookback_hours=None,
                                    progress=False))
    gold = json.loads((ROOT / "bench" / "quality" / "personal" / "gold.json").read_text())["events"]
    return store, [{"q": f"When was it that {e['text']}?", "date": _span(e["date"]), "set": "personal chat"} for e in gold if e["date"]], \
        date(2026, 11, 21)


def demo_hard(tmp: Path) -> tuple[Store, list[dict[str, Any]], date]:
    generate(tmp / "activity", seed=3, days=7, end_date="2026-11-15", hard_days=True)
    store = Store(tmp / "demo.duckdb")
    for _ in ingest_demo(store, tmp / "activity"):
        pass
    dream(store, NONE, DreamOptions(start="2026-10-01", end="2026-11-16", lookback_hours=None, progress=False))
    truth = json.loads((tmp / "activity" / "ground_truth.json").read_text())
    qs = [{"q": f"When was it that {e['text']}?", "date": _span(e["date"]), "set": "demo hard days"}
          for m in truth["moments"] for e in m.get("events") or [] if e.get("date")]
    return store, qs, date(2026, 11, 16)


_CLOCK = re.compile(r"^\d{1,2}(?::\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.|o'clock)$")
_AGO = re.compile(r"^(\d+) years ago$")


def said_span(key: str, day: date) -> tuple[date, date] | None:
    """The days a time said on ``day`` in these words means, by the calendar alone; None when it depends on the
    sentence (a weekday or a month named alone)."""
    monday = day - timedelta(days=day.weekday())
    month = day.replace(day=1)
    shift = {"this": 0, "last": -1, "next": 1}
    if key in ("today", "tonight", "this morning", "this afternoon", "this evening") or _CLOCK.match(key):
        return day, day
    if key == "tomorrow":
        return day + timedelta(days=1), day + timedelta(days=1)
    if key in ("yesterday", "last night"):
        return day - timedelta(days=1), day - timedelta(days=1)
    which, _, unit = key.partition(" ")
    if which in shift and unit == "week":
        a = monday + timedelta(weeks=shift[which])
        return a, a + timedelta(days=6)
    if which in shift and unit == "weekend":
        a = monday + timedelta(weeks=shift[which], days=5)
        return a, a + timedelta(days=1)
    if which in shift and unit == "month":
        y, m = divmod(month.year * 12 + month.month - 1 + shift[which], 12)
        a = date(y, m + 1, 1)
        return a, date(y + (m + 1) // 12, (m + 1) % 12 + 1, 1) - timedelta(days=1)
    if which in shift and unit == "year":
        y = day.year + shift[which]
        return date(y, 1, 1), date(y, 12, 31)
    if m := _AGO.match(key):
        y = day.year - int(m.group(1))
        return date(y, 1, 1), date(y, 12, 31)
    return None


_TAG = re.compile(r"#Person\d+#")


def personal_who() -> list[dict[str, Any]]:
    """The personal chat's labelled events that open with their actor, asked for the actor."""
    gold = json.loads((ROOT / "bench" / "quality" / "personal" / "gold.json").read_text())["events"]
    return [{"q": f"Who {e['text'][len(e['actor']):].strip()}?", "who": e["actor"], "set": "personal chat"}
            for e in gold if e["actor"] and e["text"].startswith(e["actor"] + " ")]


def first_person(answer: str, people: set[str]) -> str | None:
    """The person ``answer`` names first, of ``people``."""
    at = [(answer.find(p), p) for p in people if p in answer]
    return min(at)[1] if at else None


def dialogsum_who(dl: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """DialogSum's "who" sentences (bench/search/heldout.py) asked for their speaker: "Who <the rest>?", with the tag
    and the dialogue."""
    out = []
    for q in heldout.questions_dialogsum_who(dl):
        m = heldout._OPENS_WITH_TAG.match(q["q"])
        assert m is not None
        rest = q["q"][m.end():].strip().rstrip(".!?")
        out.append({"q": f"Who {rest}?", "who": m.group(), "dialogue": next(iter(q["relevant"])).rsplit("-", 1)[0],
                    "set": "DialogSum test, who"})
    return out


def dialogsum_who_right(a: Any, q: dict[str, Any], dl: list[dict[str, Any]]) -> bool:
    """The first tag the answer names is the question's, and it cites evidence of that dialogue (by its day)."""
    days = {(heldout.DAY0 + timedelta(days=n)).date(): d["id"] for n, d in enumerate(dl)}
    cited = {days.get(e.time.date()) for e in a.evidence if e.ref in a.cited and e.time is not None}
    first = _TAG.search(a.answer)
    return first is not None and first.group() == q["who"] and q["dialogue"] in cited


def dialogsum_when(store: Store, dl: list[dict[str, Any]], today: date) -> list[dict[str, Any]]:
    """The DialogSum "when" questions (of every summary) whose time the calendar reads alone (:func:`said_span`), with
    that span."""
    day_of = {d["id"]: (heldout.DAY0 + timedelta(days=n)).date() for n, d in enumerate(dl)}
    out = []
    for q in heldout.questions_dialogsum_when(dl, every_summary=True):
        dialogue = next(iter(q["relevant"])).rsplit("-", 1)[0]
        span = said_span(q["time"], day_of[dialogue])
        if span is not None:
            out.append({"q": q["q"], "date": span, "set": "DialogSum test, when"})
    return out


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def only_asks(text: str) -> bool:
    """A turn that asks and says nothing else ("That's cool. Did you paint anything lately?")."""
    parts = [p for p in _SENTENCE_END.split(text.strip()) if p]
    return bool(parts) and parts[-1].endswith("?") and all(len(p.split()) <= 4 or p.endswith("?") for p in parts[:-1])


def answered_from(a: Any, dialogue: str, dl: list[dict[str, Any]]) -> bool:
    """The evidence ``a`` cites first is of ``dialogue`` and is not a turn that only asks."""
    first = next((e for e in a.evidence if a.cited and e.ref == a.cited[0]), None)
    if first is None:
        return False
    days = {(heldout.DAY0 + timedelta(days=n)).date(): d["id"] for n, d in enumerate(dl)}
    if first.kind == "message":
        of = first.id.rsplit("-", 1)[0]
    elif first.kind == "event" and first.source:
        of = first.source.rsplit("-", 1)[0]
    else:
        of = days.get(first.time.date()) if first.time is not None else None
    return of == dialogue and not (first.kind == "message" and only_asks(first.text))


def first_date(a: Any) -> tuple[date, date] | None:
    cited = [e for e in a.evidence if e.ref in a.cited]
    for e in cited[:1]:
        if e.date:
            return date.fromisoformat(e.date), date.fromisoformat(e.date_end or e.date)
        if e.time is not None:
            d = e.time.date()
            return d, d
    return None


def search_baseline(store: Store, q: str) -> tuple[date, date] | None:
    t = search(store, q, SearchOptions(limit=1)).to_pylist()
    if not t or t[0]["time"] is None:
        return None
    d = t[0]["time"].date()
    return d, d


def oracle(store: Store, qs: list[dict[str, Any]], today: date) -> dict[str, Any]:
    def script(req: dict[str, Any], n: int) -> Reply:
        text = user_text(req)
        gold = qs_by_text.get(text.split("Question: ", 1)[1].split("\n", 1)[0]) if "Question: " in text else None
        refs = []
        for line in text.splitlines():
            if line.startswith("[E") and gold is not None and any(d in line for d in gold):
                refs.append(line[1:line.index("]")])
        return Reply(body=completion(req, {"found": bool(refs), "answer": " ".join(f"[{r}]" for r in refs[:1]) + " [E77]",
                                           "refs": refs[:1] + ["E77"]}))

    qs_by_text = {}
    for q in qs:
        a, b = q["date"]
        qs_by_text[q["q"]] = [(a + timedelta(days=i)).strftime("%-d %B %Y") for i in range((b - a).days + 1)][:31]
    kept = retrieved = answered = 0
    with ScriptedLLM(script) as llm:
        s = resolve_llm(model="oracle", base_url=llm.base_url, file_cfg={}, env={})
        for q in qs:
            a = ask(store, q["q"], s, today=today)
            refs = {e.ref for e in a.evidence}
            kept += len(a.cited)
            retrieved += sum(1 for r in a.cited if r in refs)
            answered += bool(a.cited)
    return {"questions": len(qs), "citations_kept": kept, "citations_of_retrieved_evidence": retrieved,
            "share_cited_retrieved": round(retrieved / kept, 4) if kept else None, "answered_with_citation": answered}


def main() -> None:
    out: dict[str, Any] = {"when": {}, "who": {}, "oracle": {}}
    latencies: list[float] = []
    with tempfile.TemporaryDirectory() as d:
        for name, build in (("personal chat", personal), ("demo hard days", demo_hard)):
            sub = Path(d) / name.replace(" ", "-")
            sub.mkdir()
            store, qs, today = build(sub)
            ask(store, "warm up", today=today)
            ok = base = 0
            rows = []
            for q in qs:
                t = time.perf_counter()
                a = ask(store, q["q"], today=today)
                latencies.append((time.perf_counter() - t) * 1000)
                got = first_date(a)
                ok += right(got, q["date"])
                base += right(search_baseline(store, q["q"]), q["date"])
                rows.append({"q": q["q"], "gold": [x.isoformat() for x in q["date"]], "got": [x.isoformat() for x in got] if got else None,
                             "right": right(got, q["date"])})
            out["when"][name] = {"questions": len(qs), "right": ok, "share": round(ok / len(qs), 4),
                                 "search_top_hit_date_share": round(base / len(qs), 4), "rows": rows}
            out["oracle"][name] = oracle(store, qs, today)
            if name == "personal chat":
                people = {e["actor"] for e in json.loads((ROOT / "bench" / "quality" / "personal" / "gold.json").read_text())["events"]}
                wq = personal_who()
                rows = []
                for q in wq:
                    a = ask(store, q["q"], today=today)
                    got = first_person(a.answer, people)
                    rows.append({"q": q["q"], "gold": q["who"], "got": got, "answer": a.answer, "right": got == q["who"]})
                ok = sum(r["right"] for r in rows)
                out["who"][name] = {"questions": len(wq), "right": ok, "share": round(ok / len(wq), 4), "rows": rows}
        # evidence recall on DialogSum test (held out)
        dl = heldout.dialogsum("test", None)
        (Path(d) / "dialogsum").mkdir()
        store = heldout.memory(dl, Path(d) / "dialogsum", dream_it=True)
        qs = heldout.questions_dialogsum(dl)
        today = (heldout.DAY0 + timedelta(days=len(dl))).date()
        wq = dialogsum_when(store, dl, today)
        ok = base = 0
        rows = []
        for n, q in enumerate(wq):  # held out: no text of the set is written down, only which question and what came of it
            a = ask(store, q["q"], today=today, dream_missing=False)
            got = first_date(a)
            ok += right(got, q["date"])
            base += right(search_baseline(store, q["q"]), q["date"])
            rows.append({"n": n, "gold": [x.isoformat() for x in q["date"]], "got": [x.isoformat() for x in got] if got else None,
                         "right": right(got, q["date"])})
        out["when"]["DialogSum test"] = {"questions": len(wq), "right": ok, "share": round(ok / len(wq), 4),
                                         "search_top_hit_date_share": round(base / len(wq), 4), "rows": rows}
        rows = []
        for n, q in enumerate(dialogsum_who(dl)):
            a = ask(store, q["q"], today=today, dream_missing=False)
            first = _TAG.search(a.answer)
            rows.append({"n": n, "gold": q["who"], "got": first.group() if first else None, "right": dialogsum_who_right(a, q, dl)})
        ok = sum(r["right"] for r in rows)
        out["who"]["DialogSum test"] = {"questions": len(rows), "right": ok, "share": round(ok / len(rows), 4), "rows": rows}
        found = 0
        for q in qs:
            a = ask(store, q["q"], limit=8, dream_missing=False)
            ids = {e.id for e in a.evidence if e.kind == "message"} | {e.source for e in a.evidence if e.kind == "event" and e.source}
            found += bool(ids & q["relevant"])
        out["evidence_recall_dialogsum_test"] = {"questions": len(qs), "found": found, "recall@8": round(found / len(qs), 4)}
        out["answered"] = {}
        for name, make in (("DialogSum test, asked", heldout.questions_dialogsum_asked), ("DialogSum test, did", heldout.questions_dialogsum_did)):
            rows = []
            for n, q in enumerate(make(dl)):
                a = ask(store, q["q"], today=today, dream_missing=False)
                rows.append({"n": n, "right": answered_from(a, next(iter(q["relevant"])).rsplit("-", 1)[0], dl)})
            ok = sum(r["right"] for r in rows)
            out["answered"][name] = {"questions": len(rows), "right": ok, "share": round(ok / len(rows), 4), "rows": rows}
    out["latency_ms_p50"] = round(statistics.median(latencies), 1)
    out["latency_ms_p95"] = round(sorted(latencies)[int(len(latencies) * 0.95) - 1], 1)
    for name, r in out["when"].items():
        print(f"{name}: 'when' answered with the right date {r['right']}/{r['questions']} = {r['share']:.3f} "
              f"(the top search hit's own date: {r['search_top_hit_date_share']:.3f})")
        o = out["oracle"].get(name)
        if o is None:
            continue
        print(f"  oracle endpoint: {o['citations_of_retrieved_evidence']}/{o['citations_kept']} kept citations point at retrieved "
              f"evidence; {o['answered_with_citation']}/{o['questions']} answers kept a citation")
    for name, r in out["who"].items():
        print(f"{name}: 'who' answered with the right person first {r['right']}/{r['questions']} = {r['share']:.3f}")
    e = out["evidence_recall_dialogsum_test"]
    print(f"DialogSum test: evidence from the right dialogue in ask's evidence {e['found']}/{e['questions']} = {e['recall@8']:.3f}")
    for name, r in out["answered"].items():
        print(f"{name}: answered from the right dialogue, not by a question {r['right']}/{r['questions']} = {r['share']:.3f}")
    print(f"ask without a model, warm: p50 {out['latency_ms_p50']} ms, p95 {out['latency_ms_p95']} ms")
    (ROOT / "bench" / "results" / "ask.json").write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
