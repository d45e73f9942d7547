"""The same segmentation and packing as rem-core's `pack`, in plain Python.

The baseline of ``bench_pack.py``: what a user would write without the Rust
core, over rows fetched from DuckDB. ``tests/test_pack.py`` checks that it
produces the same bytes as the Rust packer, so the benchmark compares equal
work.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any


def estimate(s: str) -> int:
    ascii_n = 0
    other = 0
    for ch in s:
        if ord(ch) < 0x80:
            ascii_n += 1
        else:
            other += 1
    return (ascii_n + 3) // 4 + other


def squash(text: str) -> str:
    return " ".join(text.replace("\0", " ").split())


def cut(text: str, cap: int) -> str:
    n = len(text)
    if n <= cap:
        return text
    head_n = cap * 2 // 3
    tail_n = cap - head_n
    head = text[:head_n]
    tail = text[n - tail_n :] if tail_n else ""
    s = head.rstrip() + f" [… {n - head_n - tail_n} chars cut …] " + tail.lstrip()
    return s.strip()


def quote(name: str) -> str:
    return cut(squash(name).replace('"', "'"), 120)


def strip_title(content: str, name: str) -> str:
    if not name:
        return content
    body = content[2:] if content.startswith("# ") else content
    if body.startswith(name):
        rest = body[len(name):]
        if not rest or rest[0] in " :.-\u2014":
            return rest.lstrip(" :.-\u2014")
    return content


def tool_calls_text(raw: str | None, cap: int) -> str:
    raw = (raw or "").strip()
    if not raw or raw in ("null", "[]"):
        return ""
    try:
        v = json.loads(raw)
    except ValueError:
        v = None
    if isinstance(v, list):
        calls = []
        for c in v:
            f = c.get("function", c) if isinstance(c, dict) else c
            f = f if isinstance(f, dict) else {}
            name = f.get("name") if isinstance(f.get("name"), str) else "call"
            args = f.get("arguments")
            args = args if isinstance(args, str) else ("" if args is None else json.dumps(args, separators=(",", ":")))
            calls.append(f"{squash(name)}({cut(squash(args), cap)})")
        return f" [calls: {', '.join(calls)}]" if calls else ""
    return f" [calls: {cut(squash(raw), cap)}]"


def _dt(us: int) -> datetime:
    return datetime.fromtimestamp(us // 1_000_000, UTC)


def hm(us: int) -> str:
    return _dt(us).strftime("%H:%M")


def date(us: int) -> str:
    return _dt(us).strftime("%Y-%m-%d")


def segment(resources: list[dict], messages: list[dict], session_keys: list[str], msg_session: list[int], gap_us: int) -> list[dict]:
    per: list[list[int]] = [[] for _ in session_keys]
    for j, s in enumerate(msg_session):
        per[s].append(j)
    units = []
    for s, msgs in enumerate(per):
        if not msgs:
            continue
        msgs.sort(key=lambda j: (messages[j]["ts"], messages[j]["id"]))
        run: list[int] = []
        last = None
        for j in msgs:
            ts = messages[j]["ts"]
            if run and ts - last > gap_us:
                units.append((messages[run[0]]["ts"], 0, session_keys[s], last, ("run", s, run)))
                run = []
            run.append(j)
            last = ts
        if run:
            units.append((messages[run[0]]["ts"], 0, session_keys[s], last, ("run", s, run)))
    for i, r in enumerate(resources):
        units.append((r["ts"], 1, r["id"], r["ts"], ("res", i)))
    units.sort(key=lambda u: (u[0], u[1], u[2], u[3]))
    segs: list[dict] = []
    runs_end = None
    for start, _o, _k, end, unit in units:
        is_run = unit[0] == "run"
        join = False
        if segs:
            idle = start - segs[-1]["end"] > gap_us
            boundary = is_run and runs_end is not None and start >= runs_end
            join = not idle and not boundary
        if join:
            segs[-1]["end"] = max(segs[-1]["end"], end)
            segs[-1]["units"].append(unit)
            if is_run:
                runs_end = end if runs_end is None else max(runs_end, end)
        else:
            runs_end = end if is_run else None
            segs.append({"start": start, "end": end, "units": [unit]})
    return segs


def pack(resources: list[dict], sessions: list[dict], messages: list[dict], *, gap_minutes: float = 30.0,  # noqa: C901 (a reference implementation, kept as one function)
         max_input_tokens: int = 6000, max_item_chars: int = 1200, tool_max_chars: int = 60) -> dict[str, Any]:
    """Rows as dicts (``ts`` in epoch µs). Returns chunks / items / segments as lists of dicts."""
    gap_us = int(gap_minutes * 60_000_000)
    index: dict[str, int] = {}
    s_key: list[str] = []
    s_name: list[str] = []
    for s in sessions:
        if s["id"] in index:
            continue
        index[s["id"]] = len(s_key)
        s_key.append(s["id"])
        s_name.append(s.get("name") or "")
    msg_session = []
    for m in messages:
        sid = m.get("session_id") or ""
        if sid not in index:
            index[sid] = len(s_key)
            s_key.append(sid)
            s_name.append("")
        msg_session.append(index[sid])
    segs = segment(resources, messages, s_key, msg_session, gap_us)

    nr = ns = nm = 0
    sref: list[str | None] = [None] * len(s_key)
    listed = [False] * len(s_key)
    shown_in: list[int | None] = [None] * len(s_key)
    items: list[dict] = []
    seg_rows: list[dict] = []
    chunks: list[dict] = []
    cur = {"text": [], "tokens": 0, "items": 0, "segments": [], "seg": None, "session": None}

    def flush() -> None:
        if not cur["text"]:
            return
        chunks.append({"chunk": len(chunks), "text": "".join(cur["text"]), "est_tokens": cur["tokens"],
                       "n_items": cur["items"], "segments": " ".join(cur["segments"])})
        cur.update({"text": [], "tokens": 0, "items": 0, "segments": [], "seg": None, "session": None})

    for gi, seg in enumerate(segs):
        gref = f"G{gi + 1}"
        if date(seg["start"]) == date(seg["end"]):
            span = f"{date(seg['start'])} {hm(seg['start'])}-{hm(seg['end'])}"
        else:
            span = f"{date(seg['start'])} {hm(seg['start'])}-{date(seg['end'])} {hm(seg['end'])}"
        seg_started = False
        first_chunk = None
        n_items = 0
        lines = []
        for u in seg["units"]:
            if u[0] == "res":
                lines.append(("res", u[1], None))
            else:
                lines.extend(("msg", j, u[1]) for j in u[2])
        for kind, idx, sess in lines:
            if kind == "res":
                nr += 1
                iref, ikind, iid, ts, sr = f"R{nr}", "resource", resources[idx]["id"], resources[idx]["ts"], None
            else:
                nm += 1
                s = msg_session[idx]
                if sref[s] is None:
                    ns += 1
                    sref[s] = f"S{ns}"
                iref, ikind, iid, ts, sr = f"M{nm}", "message", messages[idx]["id"], messages[idx]["ts"], sref[s]

            def render(cap: int, tool_cap: int, kind: str = kind, idx: int = idx, iref: str = iref) -> str:
                if kind == "res":
                    r = resources[idx]
                    s = f"{iref} {hm(r['ts'])}"
                    if r.get("resource_type"):
                        s += " " + squash(r["resource_type"])
                    if r.get("name"):
                        s += f' "{quote(r["name"])}"'
                    body = squash(r.get("content") or "")
                    if r.get("name"):
                        body = strip_title(body, squash(r["name"]))
                    return s + ": " + cut(body, cap) + "\n"
                m = messages[idx]
                role = m.get("role") or ""
                c = min(cap, tool_cap) if role == "tool" else cap
                role = squash(role) if role else "unknown"
                return (f" {iref} {hm(m['ts'])} {role}: {cut(squash(m.get('content') or ''), c)}"
                        f"{tool_calls_text(m.get('tool_calls'), min(tool_cap, cap))}\n")

            def headers() -> tuple[str | None, str | None]:
                new_seg = cur["seg"] != gi
                sh = (f"## {gref} (continued) {span} UTC\n" if seg_started else f"## {gref} {span} UTC\n") if new_seg else None
                ssh = None
                if sess is not None and (new_seg or cur["session"] != sess):
                    h = f"{sref[sess]} session"
                    if s_name[sess]:
                        h += f' "{quote(s_name[sess])}"'
                    if shown_in[sess] == gi:
                        h += " (continued)"
                    ssh = h + ":\n"
                return sh, ssh

            def htok(h: tuple[str | None, str | None]) -> int:
                return (estimate(h[0]) if h[0] else 0) + (estimate(h[1]) if h[1] else 0)

            text = render(max_item_chars, tool_max_chars)
            tok = estimate(text)
            hd = headers()
            if cur["tokens"] + tok + htok(hd) > max_input_tokens and cur["items"] > 0:
                flush()
                hd = headers()
            avail = max(0, max_input_tokens - (cur["tokens"] + htok(hd)))
            if tok > avail:
                cap = min(avail, max_item_chars)
                while True:
                    text = render(cap, min(tool_max_chars, cap))
                    tok = estimate(text)
                    if tok <= avail:
                        break
                    if cap == 0:
                        raise ValueError("max_input_tokens too small")
                    cap = cap * 3 // 4
            sh, ssh = hd
            if sh:
                cur["text"].append(sh)
                cur["tokens"] += estimate(sh)
                cur["seg"] = gi
                cur["session"] = None
                cur["segments"].append(gref)
                seg_started = True
            if ssh:
                cur["text"].append(ssh)
                cur["tokens"] += estimate(ssh)
                cur["session"] = sess
            if sess is not None:
                shown_in[sess] = gi
            else:
                cur["session"] = None
            cur["text"].append(text)
            cur["tokens"] += tok
            cur["items"] += 1
            n_items += 1
            ci = len(chunks)
            if first_chunk is None:
                first_chunk = ci
            if sess is not None and not listed[sess]:
                listed[sess] = True
                items.append({"ref": sr, "kind": "session", "id": s_key[sess], "segment": gref, "chunk": ci,
                              "ts": ts, "session_ref": None})
            items.append({"ref": iref, "kind": ikind, "id": iid, "segment": gref, "chunk": ci, "ts": ts, "session_ref": sr})
        seg_rows.append({"ref": gref, "start": seg["start"], "end": seg["end"], "n_items": n_items,
                         "first_chunk": first_chunk if first_chunk is not None else len(chunks), "last_chunk": len(chunks)})
    flush()
    return {"chunks": chunks, "items": items, "segments": seg_rows}
