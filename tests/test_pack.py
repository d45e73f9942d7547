"""Property tests of the Rust packer (via the binding) and its equality with
the plain-Python reference used by the benchmark."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rem import _rem
from rem.exceptions import NativeError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import pypack  # noqa: E402

MIN = 60_000_000
T0 = 1_763_283_600_000_000  # 2025-11-16T09:00Z

words = st.sampled_from(["alpha", "beta", "DiskANN", "naïve", "日本", "x", '"q"', "tab\tsep", "line\nbreak", "  ", "é"])
texts = st.lists(words, min_size=0, max_size=60).map(" ".join)


@st.composite
def activity(draw):
    n_sessions = draw(st.integers(0, 4))
    sessions = [{"id": f"s{i}", "name": draw(st.sampled_from(["", "Design chat", 'He said "hi"']))} for i in range(n_sessions)]
    n_msgs = draw(st.integers(0, 40)) if n_sessions else 0
    messages = []
    for j in range(n_msgs):
        role = draw(st.sampled_from(["user", "assistant", "tool", "system"]))
        tc = None
        if role == "assistant" and draw(st.booleans()):
            tc = '[{"type":"function","function":{"name":"search","arguments":"{\\"q\\": \\"' + draw(st.sampled_from(["a", "b" * 300])) + '\\"}"}}]'
        messages.append({"id": f"m{j:03d}", "session_id": f"s{draw(st.integers(0, n_sessions - 1))}", "role": role,
                         "content": draw(texts), "tool_calls": tc, "ts": T0 + draw(st.integers(0, 600)) * MIN})
    resources = [{"id": f"r{i:03d}", "name": draw(st.sampled_from(["", "notes.md", "Fix: bug"])),
                  "resource_type": draw(st.sampled_from(["note", "commit", "document"])), "content": draw(texts),
                  "ts": T0 + draw(st.integers(0, 600)) * MIN} for i in range(draw(st.integers(0, 25)))]
    return resources, sessions, messages


def batches(resources, sessions, messages):
    r = pa.RecordBatch.from_pylist(resources, schema=pa.schema([("id", pa.string()), ("name", pa.string()), ("resource_type", pa.string()), ("content", pa.string()), ("ts", pa.int64())]))
    s = pa.RecordBatch.from_pylist(sessions, schema=pa.schema([("id", pa.string()), ("name", pa.string())]))
    m = pa.RecordBatch.from_pylist(messages, schema=pa.schema([("id", pa.string()), ("session_id", pa.string()), ("role", pa.string()), ("content", pa.string()), ("tool_calls", pa.string()), ("ts", pa.int64())]))
    return r, s, m


def rust_pack(resources, sessions, messages, **kw):
    c, i, g = _rem.pack_activity(*batches(resources, sessions, messages), **kw)
    return c.to_pylist(), i.to_pylist(), g.to_pylist()


REF = re.compile(r"^\s*([RM]\d+) ", re.M)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(activity(), st.integers(64, 2000), st.floats(0, 120))
def test_packer_properties(act, budget, gap):
    resources, sessions, messages = act
    chunks, items, segs = rust_pack(resources, sessions, messages, max_input_tokens=budget, gap_minutes=gap)
    # budgets hold, by the same estimate the packer documents
    for ch in chunks:
        assert _rem.estimate_tokens(ch["text"]) <= ch["est_tokens"] <= budget
    # every resource and message lands in exactly one chunk, once
    listed = [(it["kind"], it["id"]) for it in items if it["kind"] != "session"]
    assert sorted(listed) == sorted([("resource", r["id"]) for r in resources] + [("message", m["id"]) for m in messages])
    # refs in the text are exactly the item refs, in ref-table order, each in its chunk
    in_text = [(ref, ch["chunk"]) for ch in chunks for ref in REF.findall(ch["text"])]
    assert in_text == [(it["ref"], it["chunk"]) for it in items if it["kind"] != "session"]
    # order: within a session, messages keep time order
    by_session: dict[str, list[int]] = {}
    for it in items:
        if it["kind"] == "message":
            by_session.setdefault(it["session_ref"], []).append(it["ts"])
    for ts in by_session.values():
        assert ts == sorted(ts)
    # segments partition the items and have sane bounds
    assert sum(s["n_items"] for s in segs) == len(listed)
    for s in segs:
        assert s["start"] <= s["end"]
    # session refs resolve to a session row
    srefs = {it["ref"] for it in items if it["kind"] == "session"}
    assert {it["session_ref"] for it in items if it["kind"] == "message"} <= srefs
    # deterministic: same input, same bytes
    assert rust_pack(resources, sessions, messages, max_input_tokens=budget, gap_minutes=gap)[0] == chunks


@settings(max_examples=100, deadline=None)
@given(activity(), st.integers(64, 3000))
def test_python_reference_produces_the_same_bytes(act, budget):
    """The reference implements the time-gap and session segmentation (not the topic refinement)."""
    resources, sessions, messages = act
    chunks, items, segs = rust_pack(resources, sessions, messages, max_input_tokens=budget, topic_segments=False)
    ref = pypack.pack(resources, sessions, messages, max_input_tokens=budget)
    assert ref["chunks"] == chunks
    assert ref["items"] == items
    assert ref["segments"] == segs


def test_long_content_is_cut_with_a_visible_marker():
    msgs = [{"id": "m1", "session_id": "s1", "role": "user", "content": "a" * 5000, "tool_calls": None, "ts": T0},
            {"id": "m2", "session_id": "s1", "role": "tool", "content": "b" * 5000, "tool_calls": None, "ts": T0 + MIN}]
    chunks, _, _ = rust_pack([], [{"id": "s1", "name": "x"}], msgs, max_item_chars=300, tool_max_chars=50)
    text = chunks[0]["text"]
    assert "[… 4700 chars cut …]" in text
    assert "[… 4950 chars cut …]" in text  # tool output compressed harder


def test_segments_split_at_gaps_and_sessions():
    msgs = [{"id": f"m{i}", "session_id": s, "role": "user", "content": "hi", "tool_calls": None, "ts": T0 + t * MIN}
            for i, (s, t) in enumerate([("a", 0), ("a", 20), ("b", 25), ("b", 40), ("a", 200)])]
    _, items, segs = rust_pack([], [{"id": "a", "name": "A"}, {"id": "b", "name": "B"}], msgs)
    assert [s["n_items"] for s in segs] == [2, 2, 1]


def test_bad_input_raises_a_rem_error_not_a_panic():
    bad = pa.RecordBatch.from_pylist([{"id": "r", "ts": "not-an-int"}])
    s = pa.RecordBatch.from_pylist([], schema=pa.schema([("id", pa.string())]))
    m = pa.RecordBatch.from_pylist([], schema=pa.schema([("id", pa.string()), ("session_id", pa.string()), ("ts", pa.int64())]))
    with pytest.raises(NativeError, match="column 'ts'"):
        _rem.pack_activity(bad, s, m)
    with pytest.raises(NativeError, match="max_input_tokens"):
        _rem.pack_activity(pa.RecordBatch.from_pylist([{"id": "r", "ts": 1}]), s, m, max_input_tokens=10)
    null_ts = pa.RecordBatch.from_pylist([{"id": "r", "ts": None}], schema=pa.schema([("id", pa.string()), ("ts", pa.int64())]))
    with pytest.raises(NativeError, match="null at row 0"):
        _rem.pack_activity(null_ts, s, m)
