"""The command line through click's CliRunner (and one real subprocess)."""

from __future__ import annotations

import json

import click
import pytest

from rem.cli import cli
from rem.store import Store, fetch_rows
from support import count, rem_cli, write_jsonl


def _all_commands(group, prefix=()):
    for name, cmd in group.commands.items():
        yield (*prefix, name)
        if isinstance(cmd, click.Group):
            yield from _all_commands(cmd, (*prefix, name))


@pytest.mark.parametrize("path", list(_all_commands(cli)))
def test_every_command_has_help(path, db_path):
    r = rem_cli(db_path, [*path, "--help"])
    assert r.exit_code == 0, r.output
    assert "Usage:" in r.output
    cmd = cli
    for p in path:
        cmd = cmd.commands[p]
    assert cmd.help and len(cmd.help.strip()) > 20


def test_init_creates_tables(db_path):
    r = rem_cli(db_path, ["init"])
    assert r.exit_code == 0 and "created" in r.output
    assert "exists" in rem_cli(db_path, ["init"]).output
    with Store(db_path).read() as con:
        tables = {t[0] for t in fetch_rows(con, "show tables")}
    assert {"resources", "sessions", "messages", "moments", "entities", "edges", "dream_runs", "rem_meta"} <= tables


def _seed(db_path, tmp_path):
    f = write_jsonl(tmp_path / "r.jsonl", [{"id": f"r{i}", "name": f"n{i}", "content": "x", "resource_type": "note",
                                            "created_at": f"2026-11-16T1{i}:00:00Z"} for i in range(3)])
    assert rem_cli(db_path, ["ingest", "jsonl", str(f), "--kind", "resources"]).exit_code == 0


@pytest.mark.parametrize("fmt", ["--json", "--nl", "--csv", "--table"])
def test_query_formats(db_path, tmp_path, fmt):
    _seed(db_path, tmp_path)
    r = rem_cli(db_path, ["query", "select id, created_at from resources order by id", fmt])
    assert r.exit_code == 0, r.output
    out = r.output
    if fmt == "--json":
        assert [x["id"] for x in json.loads(out)] == ["r0", "r1", "r2"]
    elif fmt == "--nl":
        assert [json.loads(x)["id"] for x in out.strip().splitlines()] == ["r0", "r1", "r2"]
    elif fmt == "--csv":
        assert out.splitlines()[0] == "id,created_at" and len(out.splitlines()) == 4
    else:
        assert "(3 rows)" in out


def test_a_table_shows_times_on_the_local_clock_and_the_data_formats_keep_them_exact(db_path, tmp_path, monkeypatch):
    import time

    _seed(db_path, tmp_path)
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        table = rem_cli(db_path, ["query", "select id, created_at from resources order by id limit 1", "--table"]).output
        data = rem_cli(db_path, ["query", "select id, created_at from resources order by id limit 1", "--json"]).output
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert "2026-11-16 05:00:00" in table and "+00:00" not in table  # 10:00 UTC is 05:00 in New York
    assert json.loads(data)[0]["created_at"].endswith(("10:00:00+00:00", "05:00:00-05:00"))


def test_a_table_fits_an_80_column_terminal_one_line_per_row(db_path, tmp_path, monkeypatch):
    _seed(db_path, tmp_path)
    monkeypatch.setenv("COLUMNS", "80")
    out = rem_cli(db_path, ["query", "select * from resources order by id", "--table"]).output
    lines = out.rstrip("\n").split("\n")
    table, foot = lines[:-1], lines[-1]
    assert all(len(line) <= 80 for line in table), "\n".join(table)
    assert len(table) == 2 + 3  # a header, its rule, one line per row (never a row broken over lines)
    assert "…" in out and foot.startswith("(3 rows)") and "not shown" in foot and "--json shows all" in foot
    # the whole row is still there for programs, and without COLUMNS off a terminal nothing is cut
    monkeypatch.delenv("COLUMNS")
    wide = rem_cli(db_path, ["query", "select * from resources order by id", "--table"]).output
    assert "not shown" not in wide and max(len(x) for x in wide.split("\n")) > 80


@pytest.mark.parametrize("sql", ["delete from resources", "insert into resources (id, resource_type, created_at) values ('z','note',now())",
                                 "drop table resources", "update resources set name='x'"])
def test_query_refuses_writes_and_changes_nothing(db_path, tmp_path, sql):
    _seed(db_path, tmp_path)
    r = rem_cli(db_path, ["query", sql])
    assert r.exit_code != 0
    assert "read-only" in r.output
    assert count(Store(db_path), "select count(*) from resources where name like 'n%'") == 3


@pytest.mark.parametrize("sql,needle", [
    ("copy resources to '{tmp}/out.csv'", "disabled by configuration"),
    ("select * from read_text('/etc/passwd')", "disabled by configuration"),
    ("attach '{tmp}/other.duckdb' as o", "disabled by configuration"),
    ("install fts", ""),
    ("load fts", ""),
    ("set enable_external_access = true", "locked"),
])
def test_query_sandbox(db_path, tmp_path, sql, needle):
    _seed(db_path, tmp_path)
    r = rem_cli(db_path, ["query", sql.format(tmp=tmp_path)])
    assert r.exit_code != 0
    assert needle in r.output
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "other.duckdb").exists()


def test_query_cannot_write_into_the_spill_folder(db_path, tmp_path):
    """DuckDB lets a sandboxed connection write into its temp directory,
    `<db>.tmp/` by default, beside the user's files: the sandbox uses a private one."""
    _seed(db_path, tmp_path)
    spill = db_path.with_name(db_path.name + ".tmp")
    spill.mkdir()
    r = rem_cli(db_path, ["query", f"copy (select 42 as x) to '{spill}/out.csv'"])
    assert r.exit_code == 1 and "disabled by configuration" in r.output
    assert list(spill.iterdir()) == []


def test_an_unbounded_result_streams_or_stops_with_a_message(db_path, tmp_path):
    _seed(db_path, tmp_path)
    r = rem_cli(db_path, ["query", "select * from range(1000000000)", "--table"])
    assert r.exit_code == 0 and "(10000 rows)" in r.output and "stopped after 10,000 rows" in r.output
    assert "--max-rows" in r.output
    r = rem_cli(db_path, ["query", "select * from range(100000)", "--nl"])
    assert r.exit_code == 0 and len(r.output.splitlines()) == 100_000 and "stopped" not in r.output
    r = rem_cli(db_path, ["query", "select * from range(1000000000)", "--csv", "--max-rows", "5"])
    assert r.output.splitlines()[:6] == ["range", "0", "1", "2", "3", "4"] and "stopped after 5 rows" in r.output


def test_an_unexpected_failure_prints_one_line_and_logs_the_traceback(db_path, tmp_path, monkeypatch):
    import rem.store as store_mod

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))

    def boom(*a, **k):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(store_mod, "stream_rows", boom)  # `rem query` takes it from rem.store when it runs
    r = rem_cli(db_path, ["query", "select 1"])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "`rem query` failed unexpectedly (ZeroDivisionError: a bug)" in r.output and "--verbose" in r.output
    log = (tmp_path / "state" / "rem" / "crash.log").read_text()
    assert "Traceback" in log and "ZeroDivisionError: a bug" in log and "rem --db" in log
    r = rem_cli(db_path, ["-v", "query", "select 1"])
    assert "Traceback" in r.output  # --verbose prints it too


def test_sql_error_exits_nonzero_with_duckdb_message(db_path):
    r = rem_cli(db_path, ["query", "select * from nope"])
    assert r.exit_code == 1
    assert "nope" in r.output and "Traceback" not in r.output


def test_design_note_queries_run_verbatim(db_path):
    store = Store(db_path)
    with store.connect() as con:
        fetch_rows(con, """insert into moments (id, name, start_time, end_time, tags, emotion_tags) values
            ('a', 'DiskANN deep work', '2026-11-16 09:30Z', '2026-11-16 12:45Z', ['diskann','rust'], ['focused','productive']),
            ('b', 'HNSW debugging', '2026-11-16 14:00Z', '2026-11-16 15:00Z', ['hnsw','debugging'], ['frustrated']),
            ('c', 'CI fixes', '2026-11-17 10:00Z', '2026-11-17 11:00Z', ['ci'], ['frustrated'])""")
    q1 = rem_cli(db_path, ["query", "SELECT * FROM moments WHERE 'diskann' = ANY(tags)", "--json"])
    assert [m["id"] for m in json.loads(q1.output)] == ["a"]
    q2 = rem_cli(db_path, ["query", "SELECT tags, COUNT(*) FROM moments WHERE 'frustrated' = ANY(emotion_tags) GROUP BY tags ORDER BY COUNT(*) DESC", "--json"])
    assert sorted(tuple(r["tags"]) for r in json.loads(q2.output)) == [("ci",), ("hnsw", "debugging")]
    q3 = rem_cli(db_path, ["query", "SELECT * FROM moments WHERE 'productive' = ANY(emotion_tags) ORDER BY (end_time - start_time) DESC LIMIT 10", "--json"])
    assert [m["id"] for m in json.loads(q3.output)] == ["a"]
    for sql in ["SELECT * FROM moments WHERE DATE(start_time) = CURRENT_DATE - 1",
                "SELECT * FROM moments WHERE start_time >= CURRENT_DATE - 7 ORDER BY start_time"]:
        assert rem_cli(db_path, ["query", sql]).exit_code == 0


def test_rem_decay_is_available_in_queries(db_path):
    r = rem_cli(db_path, ["query", "select round(rem_decay(1.0, now() - interval 14 day, 'related_to'), 3) as w, rem_decay(1.0, now() - interval 900 day, 'contains') as s", "--json"])
    assert json.loads(r.output) == [{"w": 0.5, "s": 1.0}]


def test_ingest_cli_reports_errors_and_exit_code(db_path, tmp_path):
    f = tmp_path / "bad.jsonl"
    f.write_text('{"id": 1}\n')
    r = rem_cli(db_path, ["ingest", "jsonl", str(f), "--kind", "sessions"])
    assert r.exit_code == 1
    assert "bad.jsonl:1" in r.output and "Traceback" not in r.output


def test_config_masks_keys(db_path, monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-abcdefghijklmnop1234")
    monkeypatch.setenv("REM_CONFIG", str(tmp_path / "none.toml"))
    r = rem_cli(db_path, ["config", "--llm", "gpt-4o-mini"])
    assert r.exit_code == 0, r.output
    assert "abcdefghijklmnop" not in r.output and "sk-…1234" in r.output
    assert "https://api.openai.com/v1" in r.output


def test_unconfigured_model_says_how_to_configure(db_path, monkeypatch, tmp_path):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("REM_CONFIG", str(tmp_path / "none.toml"))
    r = rem_cli(db_path, ["dream", "--dry-run", "--llm", "some-model"])
    assert r.exit_code == 1
    assert "--llm-base-url" in r.output and "OPENAI_API_KEY" in r.output
