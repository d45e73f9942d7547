"""A moment field is declared once (issue 19, item 2): its roles live in its JSON Schema, and the
journal, the renderer, corrections, `rem moments edit`, the web form, MCP, the search text and the dream
read them. `place`, added this way, goes from a note's front matter to every one of those."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rem import schema
from rem.config import resolve_llm
from rem.dream.run import DreamOptions, dream
from rem.ingest.notes import ingest_notes
from rem.store import Store
from scripted_llm import Reply, ScriptedLLM, completion, segments_in, tool_name, user_text
from support import q, rem_cli, scripted_settings

NONE = resolve_llm(model="none", file_cfg={}, env={})
WINDOW = ("2026-03-02T00:00:00+00:00", "2026-03-03T00:00:00+00:00")


def _notes(folder: Path) -> Path:
    folder.mkdir()
    (folder / "trip.md").write_text("""---
title: Planning the Lisbon offsite
date: 2026-03-02T09:00:00+00:00
place: Lisbon office
---
We planned the offsite agenda with the team: the venue, the talks and the dinner.
The budget for the dinner was agreed and the talks were assigned to speakers.
""", encoding="utf-8")
    (folder / "trip-2.md").write_text("""---
title: Offsite talks
date: 2026-03-02T09:10:00+00:00
location: Lisbon office
---
Drafted the order of the talks for the offsite and sent it to the speakers for review.
""", encoding="utf-8")
    return folder


@pytest.fixture
def noted(tmp_path):
    st = Store(tmp_path / "rem.duckdb")
    ingest_notes(st, _notes(tmp_path / "notes"))
    return st


def _dream(st, settings=NONE):
    return dream(st, settings, DreamOptions(start=WINDOW[0], end=WINDOW[1], lookback_hours=None, progress=False))


def test_the_roles_are_consistent():
    edit = {f.name: f for f in schema.fields("moments", "edit")}
    assert {"name", "tags", "people", "place", "events"} <= set(edit)
    # every field the web form offers can be edited, every shown one has a label, every searched one a part
    assert set(schema.field_names("moments", "form")) <= set(edit)
    assert all(f.get("label") for f in schema.fields("moments", "show"))
    assert {f["search"] for f in schema.fields("moments", "search")} <= {"title", "topics", "body"}
    # an option of `rem moments edit` for every editable field but the events (they have --event/--drop-event)
    assert {n for n, f in edit.items() if not f.get("option")} == {"events"}
    columns = set(schema.table("moments").column_names)
    for role in ("journal", "show", "edit", "form", "search", "entity", "dream"):
        assert set(schema.field_names("moments", role)) <= columns, role
    # the order a role names is kept: the rendering's order
    assert schema.field_names("moments", "show")[:3] == ("moment_type", "tags", "people")


def test_place_from_front_matter_to_every_front_end(noted, tmp_path):
    _dream(noted)
    (mid, place), = q(noted, "select id, place from moments")
    assert place == "Lisbon office"
    # the journal and the renderer
    out = rem_cli(noted.path, ["moments", "--since", "2026-03-01", "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)[0]["place"] == "Lisbon office"
    shown = rem_cli(noted.path, ["moments", "--since", "2026-03-01"])
    assert "Place: Lisbon office" in shown.output
    # a correction, through the option the schema declares; a later dream keeps it
    r = rem_cli(noted.path, ["moments", "edit", mid[:8], "--place", "Porto"])
    assert r.exit_code == 0, r.output
    assert q(noted, "select place from moments")[0][0] == "Porto"
    _dream(noted)
    assert q(noted, "select place from moments") == [("Porto",)]
    # search finds the moment by its place
    hits = rem_cli(noted.path, ["search", "Porto", "--schema", "moments", "--json"])
    assert hits.exit_code == 0, hits.output
    assert [h["id"] for h in json.loads(hits.output)] == [mid]


def test_place_on_the_web_form_and_in_mcp(noted):
    import asyncio

    from starlette.testclient import TestClient

    from rem.mcp_tools import build
    from rem.serve import create_app

    _dream(noted)
    (mid,), = q(noted, "select id from moments")
    with TestClient(create_app(noted), base_url="http://127.0.0.1") as c:
        page = c.get(f"/moment/{mid}").text
        assert re.search(r'<label>Place <input name="place" value="Lisbon office"', page)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        r = c.post(f"/moment/{mid}/edit", data={"csrf": csrf, "action": "edit", "place": "Sintra"}, follow_redirects=False)
        assert r.status_code == 303
    assert q(noted, "select place from moments")[0][0] == "Sintra"
    got = str(asyncio.run(build(noted).call_tool("moment", {"id": mid[:8]})))
    assert "'place': 'Sintra'" in got or '"place": "Sintra"' in got


def _place_script(place: str):
    def script(req, n):
        if tool_name(req) == "PeriodSummary":
            return Reply(body=completion(req, {"summary": "Offsite planning."}))
        segs = segments_in(user_text(req))
        moments = [{"name": "Planning the Lisbon offsite agenda", "summary": "The team planned the offsite agenda and budget.",
                    "moment_type": "planning", "tags": ["offsite"], "people": [], "outcome": "the talks were assigned",
                    "place": place, "refs": [g]} for g in segs]
        return Reply(body=completion(req, {"moments": moments, "edges": [], "summary": "Offsite planning."}))
    return script


@pytest.mark.parametrize(("said", "kept"), [("Lisbon office", "Lisbon office"), ("Paris", "Lisbon office")])
def test_a_models_place_is_kept_only_when_the_activity_names_it(noted, said, kept):
    with ScriptedLLM(_place_script(said)) as srv:
        _dream(noted, scripted_settings(srv))
    assert {p for (p,) in q(noted, "select place from moments")} == {kept}
