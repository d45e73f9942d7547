"""rem export / rem import: the memory out as Parquet and JSON lines, and back in without loss."""

from __future__ import annotations

import json

import pytest

from rem import schema
from rem.config import resolve_llm
from rem.dream.run import DreamOptions, dream
from rem.export import EXPORTED
from rem.store import Store, fetch_arrow
from support import WEEK, q, rem_cli


@pytest.fixture
def dreamed(demo_store):
    dream(demo_store, resolve_llm(model="none", file_cfg={}, env={}),
          DreamOptions(start=WEEK[0], end=WEEK[1], lookback_hours=None, progress=False))
    return demo_store


def _rows(store: Store, name: str) -> list[dict]:
    t = schema.table(name)
    key = ", ".join(f'"{c}"' for c in (t.key or [c.name for c in t.columns]))
    with store.read() as con:
        return fetch_arrow(con, f'SELECT * FROM "{name}" ORDER BY {key}').to_pylist()


def test_a_parquet_round_trip_into_an_empty_database_loses_nothing(dreamed, tmp_path):
    out = tmp_path / "export"
    r = rem_cli(dreamed.path, ["export", "parquet", str(out)])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{n}.parquet" for n in EXPORTED)
    new = tmp_path / "restored.duckdb"
    r = rem_cli(new, ["import", str(out)])
    assert r.exit_code == 0, r.output
    restored = Store(new)
    for name in EXPORTED:
        assert _rows(restored, name) == _rows(dreamed, name), name  # ids, times, lists, JSON, weights: equal
    assert q(dreamed, "select count(*) from edges")[0][0] > 0 and q(dreamed, "select count(*) from moments")[0][0] > 0
    # the restored memory is searchable and answers
    assert rem_cli(new, ["search", "HNSW recall", "--json"]).exit_code == 0
    again = rem_cli(new, ["import", str(out)])
    assert again.exit_code == 1 and "already holds rows" in again.output and "Traceback" not in again.output


def test_one_table_and_moments_as_json_lines(dreamed, tmp_path):
    r = rem_cli(dreamed.path, ["export", "parquet", str(tmp_path / "x"), "--table", "moments"])
    assert r.exit_code == 0 and [p.name for p in (tmp_path / "x").iterdir()] == ["moments.parquet"]
    bad = rem_cli(dreamed.path, ["export", "parquet", str(tmp_path / "y"), "--table", "nope"])
    assert bad.exit_code == 1 and "unknown table" in bad.output
    r = rem_cli(dreamed.path, ["export", "json", str(tmp_path / "m.jsonl")])
    assert r.exit_code == 0
    lines = [json.loads(x) for x in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert len(lines) == q(dreamed, "select count(*) from moments")[0][0]
    one = next(m for m in lines if m["message_ids"])
    assert one["sources"]["messages"] and one["sources"]["messages"][0]["content"]
    assert isinstance(one["events"], list) and one["start_time"].startswith("2026-11-")
    assert not list(tmp_path.glob(".*.tmp"))  # written whole, then renamed


def test_export_into_a_file_is_a_clear_error(dreamed, tmp_path):
    f = tmp_path / "a-file"
    f.write_text("mine\n")
    r = rem_cli(dreamed.path, ["export", "parquet", str(f)])
    assert r.exit_code != 0 and "Traceback" not in r.output and f.read_text() == "mine\n"


def _links(text: str) -> list[str]:
    import re

    return [m.split("|")[0] for m in re.findall(r"\[\[([^\]]+)\]\]", text)]


def test_the_markdown_export_is_a_vault_whose_links_resolve_and_that_keeps_your_files(dreamed, tmp_path):
    vault = tmp_path / "vault"
    r = rem_cli(dreamed.path, ["export", "markdown", str(vault)])
    assert r.exit_code == 0, r.output
    notes = {p.relative_to(vault).as_posix(): p.read_text() for p in vault.rglob("*.md")}
    days = [n for n in notes if n.startswith("days/")]
    assert days and any(n.startswith("people/") for n in notes) and any(n.startswith("topics/") for n in notes)
    links = [link for text in notes.values() for link in _links(text)]
    assert links and all(f"{link}.md" in notes for link in links), [x for x in links if f"{x}.md" not in notes][:5]
    day = sorted(days)[0]
    assert notes[day].startswith("---\ndate: ") and "type: \"rem-day\"" in notes[day] and "REM id:" in notes[day]
    # the user's own file, and a REM note the user edited, are kept; a corrected moment's day note changes
    (vault / "days" / "my own thoughts.md").write_text("mine\n")
    edited = vault / sorted(n for n in notes if n.startswith("people/"))[0]
    edited.write_text(edited.read_text() + "\nMy note about this person.\n")
    mid, mday = q(dreamed, "select id, strftime(start_time, '%Y-%m-%d') from moments order by start_time limit 1")[0]
    assert rem_cli(dreamed.path, ["moments", "edit", mid, "--name", "Renamed <b>by hand</b> [x](javascript:alert(1))"]).exit_code == 0
    again = rem_cli(dreamed.path, ["export", "markdown", str(vault)])
    assert again.exit_code == 0 and "kept" in again.output
    text = (vault / "days" / f"{mday}.md").read_text()
    assert "Renamed \\<b\\>by hand\\</b\\> \\[x\\](javascript:alert(1))" in text  # escaped: stays text
    assert (vault / "days" / "my own thoughts.md").read_text() == "mine\n"
    assert edited.read_text().endswith("My note about this person.\n")
    third = rem_cli(dreamed.path, ["export", "markdown", str(vault)])
    assert "0 note(s) written" in third.output
