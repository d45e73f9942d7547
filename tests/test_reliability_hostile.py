"""Hostile input everywhere a user (or an attacker) can put it: every config
key with values of every kind, every command-line option's value space,
file names that are not UTF-8 and files that are not files, timestamps at
the edges of the calendar, and control characters planted in every text
field then rendered by every human-facing command.

Survived means: no traceback and no "failed unexpectedly" (the top-level
handler's line for a bug), and either a sane result (exit 0) or a clear
error (exit 1/2 with a message); for the terminal, not one control character
reaches the output raw; for the digests, no markup from activity renders.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from pathlib import Path

import click
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rem.config import KEYS
from rem.store import Store
from support import build_demo_week, copy_store, rem_cli, scale

pytestmark = pytest.mark.slow

N = scale(40, 400)
FUZZ = settings(max_examples=N, deadline=None, derandomize=not os.environ.get("REM_RELIABILITY"),
                suppress_health_check=list(HealthCheck))


def clean_outcome(r: click.testing.Result) -> bool:
    """A sane result or a clear error; never a traceback or the bug line."""
    out = r.output
    if "Traceback" in out or "failed unexpectedly" in out:
        return False
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        return False
    if r.exit_code == 0:
        return True
    if r.exit_code == 130 and "aborted" in out:  # a confirmation prompt with nobody to answer it
        return True
    return r.exit_code in (1, 2) and any(w in out for w in ("Error", "error", "refused", "problem(s) found"))


@contextlib.contextmanager
def env(**values: str | None):
    old = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def cwd(path: Path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


@pytest.fixture(scope="module")
def week(tmp_path_factory) -> Path:
    return build_demo_week(tmp_path_factory.mktemp("hostile-week"))


# -- config: every key, every kind of value ------------------------------------------------------------------
def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if v != v else ("inf" if v == float("inf") else "-inf" if v == float("-inf") else repr(v))
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(v)


def to_toml(cfg: dict) -> str:
    out = []
    for section, body in cfg.items():
        out.append(f"[{section}]")
        out += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in body.items()]
    return "\n".join(out) + "\n"


text_ = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
values = st.one_of(
    st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True), st.booleans(), text_,
    st.sampled_from(["remote", "never", "always", "tools", "json", "chunks", "segments", "Mon-Fri 09:00-18:00",
                     "25:00-26:00", "(", "[a-z]+", "never", "0", "-1"]),
    st.lists(text_, max_size=3), st.dictionaries(st.sampled_from(["about", "involves", "x"]),
                                                 st.one_of(st.floats(allow_nan=True), st.integers(-5, 5), text_), max_size=2),
    st.integers(0, 100).map(float))
keys = st.sampled_from([(s, k) for s, ks in KEYS.items() for k in ks] + [("dream", "concurency"), ("dreams", "x"),
                                                                          ("llm", "modle"), ("graph", "half_life")])


@given(st.lists(st.tuples(keys, values), min_size=1, max_size=4))
@FUZZ
def test_config_values_of_every_kind(week, tally, entries):
    cfg: dict[str, dict] = {}
    for (section, key), value in entries:
        if section == "llm" and key in ("base_url", "model", "local_model") and isinstance(value, str):
            value = "http://127.0.0.1:9/v1" if key == "base_url" else value  # never a real network address
        cfg.setdefault(section, {})[key] = value
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "config.toml"
        path.write_text(to_toml(cfg), encoding="utf-8")
        store = copy_store(week, Path(d))
        results = []
        with env(REM_CONFIG=str(path), REM_LLM_MODEL=None, REM_LLM_BASE_URL=None, OPENAI_API_KEY=None, REM_LOCAL_MODEL=None):
            for argv in (["config", "--json"], ["dream", "--dry-run"], ["query", "select count(*) as n from edges", "--json"],
                         ["graph", "hot", "--limit", "3", "--json"]):
                r = rem_cli(store.path, argv)
                results.append(clean_outcome(r) and (r.exit_code == 0 or str(path) in r.output or "config" in r.output))
            # `rem query` keeps working whatever the config file says about the graph
            results.append(rem_cli(store.path, ["query", "select 1 as x", "--json"]).exit_code == 0)
    tally("config: every key with values of every type and range (plus misspelled keys)", 1, int(all(results)))
    assert all(results), (cfg, results)


# -- every command-line option ----------------------------------------------------------------------------
HOSTILE = st.one_of(
    st.sampled_from(["", " ", "-1", "0", "1", "nan", "inf", "-inf", "1e309", "99999999999999999999", "2026-02-30",
                     "0001-01-01", "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00", "yesterday", "today",
                     "--help", "-", "a,b,,c", "x" * 5000, "\x1b]0;pwned\x07", "'; DROP TABLE moments; --", "$(touch PWNED)",
                     "../../etc/passwd", "名前", "25:61", "*/0 * * * *", "60 24 * * *", "1s", "0s", "-5m", "10y"]),
    st.text(max_size=20), st.integers(-10**12, 10**12).map(str), st.floats(allow_nan=True).map(str))

SKIP = {"daemon", "serve", "mcp"}  # servers: they run until stopped (their refusals are tested in test_serve/test_mcp)
NEVER = {"--llm-base-url": "http://127.0.0.1:9/v1", "--local-model": "/nonexistent/model.gguf"}


def _commands() -> list[tuple[list[str], click.Command]]:
    from rem.cli import cli

    out = []

    def walk(cmd, path):
        if isinstance(cmd, click.Group):
            for n, c in sorted(cmd.commands.items()):
                walk(c, [*path, n])
        elif path[0] not in SKIP:
            out.append((path, cmd))

    walk(cli, [])
    return out


COMMANDS = _commands()


def _argv(path: list[str], cmd: click.Command, fuzz_opt: str | None, value: str, files: dict[str, str]) -> list[str]:
    argv = list(path)
    for p in cmd.params:
        if isinstance(p, click.Argument):
            argv.append({"sql": "select count(*) as n from moments", "gold": files["gold"], "node": "Alice Chen",
                         "run_id": "ffffffff", "file": files["chat"], "path": files["repo"] if path[-1] == "git" else files["chat"],
                         "directory": files["notes"]}.get(p.name or "", "x"))
    if path[0] in ("dream", "eval", "doctor", "config"):
        argv += ["--llm", "none"] if fuzz_opt not in ("--llm", "--llm-base-url", "--local-model") else []
    if path == ["dream"]:
        argv.append("--dry-run")
    if path[0] == "schedule" and fuzz_opt != "--unit-dir":
        argv += ["--unit-dir", files["units"]]
    if path[0] in ("demo-data",):
        argv += ["--no-ingest"] + (["--out", files["demo"]] if fuzz_opt != "--out" else [])
    if path[-1] == "jsonl" and fuzz_opt != "--kind":
        argv += ["--kind", "messages"]
    if fuzz_opt is not None:
        argv += [fuzz_opt, NEVER.get(fuzz_opt, value) if value != "" or fuzz_opt not in NEVER else value]
    return argv


OPTIONS = [(path, cmd, o) for path, cmd in COMMANDS
           for o in [None, *(p.opts[0] for p in cmd.params if isinstance(p, click.Option) and not p.is_flag and p.opts[0] != "--help")]]


@given(st.sampled_from(OPTIONS), HOSTILE)
@FUZZ
def test_every_option_of_every_command(week, tally, target, value):
    path, cmd, opt = target
    if opt == "--llm" and value not in ("none", ""):
        value = "some-model"  # a name alone: refused for want of an endpoint, never sent anywhere
    with tempfile.TemporaryDirectory() as d, cwd(Path(d)):
        store = copy_store(week, Path(d))
        act = week.parent / "activity"
        files = {"gold": str(act / "ground_truth.json"), "chat": str(act / "chat.jsonl"), "notes": str(act / "notes"),
                 "repo": str(act / "repo"), "units": str(Path(d) / "units"), "demo": str(Path(d) / "demo")}
        argv = _argv(path, cmd, opt, value, files)
        with env(REM_CONFIG=str(Path(d) / "none.toml"), HOME=d, XDG_CONFIG_HOME=str(Path(d) / "cfg"),
                 XDG_STATE_HOME=str(Path(d) / "state"), REM_LLM_MODEL=None, REM_LLM_BASE_URL=None, OPENAI_API_KEY=None):
            r = rem_cli(store.path, argv)
        ok = clean_outcome(r) and not list(Path(d).rglob("PWNED"))
    tally("command line: every option of every command with hostile values", 1, int(ok))
    assert ok, (argv, r.exit_code, r.output[-2000:])


# -- file names and file kinds --------------------------------------------------------------------------
names = st.binary(min_size=1, max_size=24).filter(lambda b: b"/" not in b and b"\x00" not in b and b not in (b".", b".."))
kinds = st.sampled_from(["regular", "empty", "link-in", "link-out", "fifo", "dev-zero", "dev-null", "directory", "huge",
                         "dangling", "loop"])


@given(st.lists(st.tuples(names, kinds), min_size=1, max_size=6))
@FUZZ
def test_note_folders_with_hostile_names_and_kinds(tally, entries):
    from rem.exceptions import IngestError
    from rem.ingest import ingest_notes
    from rem.ingest.notes import MAX_NOTE_BYTES

    with tempfile.TemporaryDirectory() as d:
        root = Path(d) / "notes"
        root.mkdir()
        secret = Path(d) / "secret"
        secret.write_text("SECRET-OUTSIDE-THE-FOLDER")
        (root / "target.md").write_text("a note that links point to")
        regular = 1
        for raw, kind in entries:
            p = Path(os.fsdecode(os.fsencode(root) + b"/" + raw + b".md"))
            if p.exists() or p.is_symlink():
                continue
            if kind == "regular":
                p.write_bytes(b"# title\n" + raw)
                regular += 1
            elif kind == "empty":
                p.write_bytes(b"")
                regular += 1
            elif kind == "link-in":
                p.symlink_to(root / "target.md")
            elif kind == "link-out":
                p.symlink_to(secret)
            elif kind == "fifo":
                os.mkfifo(p)
            elif kind == "dev-zero":
                p.symlink_to("/dev/zero")
            elif kind == "dev-null":
                p.symlink_to("/dev/null")
            elif kind == "directory":
                p.mkdir()
            elif kind == "huge":
                with open(p, "wb") as f:
                    f.truncate(MAX_NOTE_BYTES + 1)  # sparse: nothing to write, too big to read
            elif kind == "dangling":
                p.symlink_to(root / "missing.md")
            elif kind == "loop":
                p.symlink_to(p)
        store = Store(Path(d) / "rem.duckdb")
        try:
            rep = ingest_notes(store, root)
            ok = True
        except IngestError:
            ok, rep = True, None
        except Exception:  # noqa: BLE001 - anything else is the failure being counted
            ok, rep = False, None
        leaked = False
        if store.path.exists():
            with store.read() as con:
                leaked = bool(con.execute("select count(*) from resources where content like '%SECRET-OUTSIDE%'").fetchall()[0][0])
                n = con.execute("select count(*) from resources").fetchall()[0][0]
            ok = ok and n >= 1  # the note the links point to, at least
        ok = ok and not leaked and (rep is None or len(rep.errors) + len(rep.passed_over) + rep.added >= 1)
    tally("files: note folders with non-UTF-8 names, links in/out, FIFOs, devices, directories, huge, empty, loops",
          1, int(ok), int(leaked))
    assert ok and not leaked, entries


# -- timestamps at the calendar's edges ----------------------------------------------------------------------
edges = st.builds(lambda y, mo, d, h, z: f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:00:00{z}",
                  st.sampled_from([1, 2, 1969, 1970, 2038, 9998, 9999]), st.sampled_from([1, 12]), st.sampled_from([1, 31]),
                  st.sampled_from([0, 23]), st.sampled_from(["Z", "+14:00", "-12:00", "+05:45", "-00:30", ""]))


@given(edges, st.sampled_from(["note", "chat", "start", "end", "moments-since", "report-day"]))
@FUZZ
def test_timestamps_at_the_edges_of_the_calendar(week, tally, when, where):
    with tempfile.TemporaryDirectory() as d:
        store = copy_store(week, Path(d))
        if where == "note":
            (Path(d) / "n").mkdir()
            (Path(d) / "n" / "x.md").write_text(f"---\ndate: {when}\n---\nbody")
            argv = ["ingest", "notes", str(Path(d) / "n")]
        elif where == "chat":
            f = Path(d) / "c.jsonl"
            f.write_text(json.dumps({"session": "s", "role": "user", "content": "hi", "created_at": when}) + "\n")
            argv = ["ingest", "chat", str(f)]
        elif where == "start":
            argv = ["dream", "--llm", "none", "--start", when]
        elif where == "end":
            argv = ["dream", "--llm", "none", "--end", when, "--lookback-hours", "1"]
        elif where == "moments-since":
            argv = ["moments", "--since", when]
        else:
            argv = ["report", "--day", when[:10]]
        with env(REM_CONFIG=str(Path(d) / "none.toml")):
            r = rem_cli(store.path, argv)
        ok = clean_outcome(r)
    tally("timestamps: year 1 and 9999 at every offset, in notes, chat, --start/--end and date options", 1, int(ok))
    assert ok, (argv, r.output[-1500:])


# -- the terminal: control characters in every text field ------------------------------------------------------
PAYLOAD = "\x1b]0;PWNED\x07\x1b[2J\x1b]8;;https://evil.example/\x1b\\link\x1b]8;;\x1b\\\x9b31m\u202eevil\r\x08"
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

FIELDS = {
    "moment name": "UPDATE moments SET name = name || $p",
    "moment summary": "UPDATE moments SET summary = summary || $p",
    "moment tags": "UPDATE moments SET tags = list_append(tags, 'tag' || $p)",
    "moment people": "UPDATE moments SET people = list_append(people, 'Eve' || $p)",
    "moment emotions": "UPDATE moments SET emotion_tags = list_append(emotion_tags, 'glee' || $p)",
    "moment outcome": "UPDATE moments SET outcome = coalesce(outcome, '') || $p",
    "moment type": "UPDATE moments SET moment_type = moment_type || $p",
    "entity name": "UPDATE entities SET name = name || $p",
    "resource name": "UPDATE resources SET name = name || $p",
    "resource content": "UPDATE resources SET content = content || $p",
    "message content": "UPDATE messages SET content = content || $p",
    "session name": "UPDATE sessions SET name = name || $p",
    "run model": "UPDATE dream_runs SET model = model || $p, reason = coalesce(reason, '') || $p, error = coalesce(error, '') || $p",
    "summary resource": "UPDATE resources SET content = content || $p WHERE resource_type = 'summary'",
}


def _human_commands(run_id: str, node: str) -> list[list[str]]:
    return [["query", "select * from moments", "--table"], ["query", "select * from entities", "--table"],
            ["query", "select * from dream_runs", "--table"], ["query", "select name, content from resources", "--table"],
            ["moments", "--since", "2000-01-01"], ["moments", "--since", "2000-01-01", "--table"],
            ["report", "--run", run_id], ["report", "--day", "2026-11-10"], ["report", "--week", "--day", "2026-11-14"], ["runs"],
            ["runs", "show", run_id], ["graph", "stats"], ["graph", "hot", "--table"],
            ["graph", "entangled", "--table"], ["graph", "decay", "--table"], ["graph", "neighbors", node],
            ["graph", "traverse", "--start-entity", node, "--table"], ["graph", "export", "--format", "dot"], ["doctor"],
            ["search", "PWNED evil link", "--table"], ["search", "PWNED", "--explain", "--table"], ["ask", "PWNED evil link"],
            ["ask", "When did PWNED happen?"]]


def test_control_characters_in_every_field_never_reach_the_terminal_raw(week, tally, tmp_path):
    """Each text field gets ESC/OSC/CSI/C1/bidi/CR/BS payloads; every
    human-facing command's output (stdout and stderr) must hold none of them
    raw; the JSON formats must still round-trip the exact text."""
    from rem.config import resolve_llm
    from rem.dream.run import DreamOptions, dream
    from support import WEEK

    store = copy_store(week, tmp_path)
    r = dream(store, resolve_llm(model="none", file_cfg={}, env={}), DreamOptions(start=WEEK[0], end=WEEK[1], lookback_hours=None))
    node = "Alice Chen"
    tried = survived = 0
    with store.connect() as con:
        for sql in FIELDS.values():
            con.execute(sql, {"p": PAYLOAD})
    with env(REM_CONFIG=str(tmp_path / "none.toml")):
        for argv in _human_commands(r.run_id[:8], node + PAYLOAD):
            out = rem_cli(store.path, argv)
            tried += 1
            bad = RAW.findall(out.output.replace("\n", "").replace("\t", ""))
            survived += int(not bad and clean_outcome(out))
            assert not bad, (argv, bad[:5], out.output[:500])
        # data formats stay exact
        js = rem_cli(store.path, ["query", "select name from moments where name like '%PWNED%' limit 1", "--json"])
        tried += 1
        survived += int(json.loads(js.output)[0]["name"].endswith(PAYLOAD) and not RAW.findall(js.output.replace("\n", "")))
        # the dream's own summary, printed by `rem dream --verbose` (moments named from the hostile activity)
        out = rem_cli(store.path, ["dream", "--llm", "none", "--start", WEEK[0], "--end", WEEK[1], "--verbose"])
        tried += 1
        survived += int(not RAW.findall(out.output.replace("\n", "").replace("\t", "")) and out.exit_code == 0)
    tally(f"terminal: control characters in {len(FIELDS)} text fields through every human-facing command", tried, survived)
    assert survived == tried


def test_markup_in_activity_and_answers_never_renders_in_digests(week, tally, tmp_path):
    """Remote images, raw HTML, javascript: links and emphasis in moment
    fields become text in the Markdown digests (rendered by markdown-it, the
    CommonMark engine rich uses)."""
    from markdown_it import MarkdownIt

    from rem.config import resolve_llm
    from rem.dream.run import DreamOptions, dream
    from rem.report import period_digest, run_digest
    from support import WEEK

    store = copy_store(week, tmp_path)
    r = dream(store, resolve_llm(model="none", file_cfg={}, env={}), DreamOptions(start=WEEK[0], end=WEEK[1], lookback_hours=None))
    attacks = ['![x](https://evil.example/pixel.png)', '<img src=x onerror=alert(1)>', '<script>alert(1)</script>',
               '[click](javascript:alert(1))', '<javascript:alert(1)>', '<a href="https://evil.example">a</a>',
               '| a | b |\n|---|---|', '**bold** _it_ `code`', '# heading', '&lt;script&gt;']
    tried = survived = 0
    md = MarkdownIt("commonmark")
    from datetime import datetime, timedelta

    for a in attacks:
        with store.connect() as con:
            con.execute("UPDATE moments SET name = $a, summary = $a, outcome = $a, tags = [$a], people = [$a], "
                        "emotion_tags = [$a]", {"a": a})
            con.execute("UPDATE resources SET content = $a WHERE resource_type = 'summary'", {"a": a})
        start = datetime.fromisoformat(WEEK[0]).astimezone()
        for text in (run_digest(store, r.run_id), period_digest(store, start, start + timedelta(days=8), "Week")):
            html = md.render(text)
            tried += 1
            bad = re.findall(r"<img|<script|<a |href=\"|<strong>bold|<em>it|<code>code|<table|<h1>heading", html, re.I)
            survived += int(not bad)
            assert not bad, (a, bad, text[:400])
    tally("digests: images, raw HTML, javascript: links and markup from activity and answers", tried, survived)


def test_a_nul_byte_in_an_argument_is_a_clear_error(tmp_path: Path) -> None:
    """Found by the option fuzz: `--out '\\0'` reached os.stat and crashed with ValueError."""
    for argv in (["demo-data", "--no-ingest", "--out", "\x00"], ["query", "select 1\x00"], ["ingest", "notes", "a\x00b"]):
        r = rem_cli(tmp_path / "rem.duckdb", argv)
        assert r.exit_code == 2 and "NUL byte" in r.output and "failed unexpectedly" not in r.output, (argv, r.output)
