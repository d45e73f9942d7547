"""Readiness: scheduled dreams skip a busy machine, low memory and quiet
hours (with injected readings), record why, and --force overrides."""

from __future__ import annotations

from datetime import datetime

import pytest

from rem.config import resolve_llm
from rem.dream.run import DreamOptions, dream
from rem.exceptions import ConfigError
from rem.ops.readiness import Readiness
from rem.store import Store
from scripted_llm import ScriptedLLM

MON_10 = datetime(2026, 11, 16, 10, 0).astimezone()
SAT_10 = datetime(2026, 11, 21, 10, 0).astimezone()


def test_reasons_with_injected_readings():
    r = Readiness(max_load_per_core=1.5, min_available_mb=400, quiet_hours=["Mon-Fri 09:00-18:00"])
    assert "load 3.00 per core" in r.reason_to_skip(SAT_10, load_per_core=3.0, available_mb=8000)
    assert "100 MB available" in r.reason_to_skip(SAT_10, load_per_core=0.1, available_mb=100)
    assert "quiet hours" in r.reason_to_skip(MON_10, load_per_core=0.1, available_mb=8000)
    assert r.reason_to_skip(SAT_10, load_per_core=0.1, available_mb=8000) is None
    assert Readiness(quiet_hours=["22:00-23:30"]).reason_to_skip(datetime(2026, 11, 21, 22, 15).astimezone(), 0.0, 9e9)
    with pytest.raises(ConfigError, match="quiet hours"):
        Readiness.from_config({"schedule": {"quiet_hours": ["weekdays 9-5"]}})


def test_scheduled_dream_skips_and_records_why_and_force_overrides(tmp_path):
    store = Store(tmp_path / "rem.duckdb")
    store.init()
    busy = Readiness(max_load_per_core=-1.0)  # any load is too much
    with ScriptedLLM() as srv:
        s = resolve_llm(model="scripted", base_url=srv.base_url, file_cfg={}, env={})
        r = dream(store, s, DreamOptions(scheduled=True, trigger="scheduled", readiness=busy, progress=False))
        assert r.status == "skipped" and "machine busy" in r.message
        assert len(srv.requests) == 0
        forced = dream(store, s, DreamOptions(scheduled=True, trigger="scheduled", readiness=busy, force=True, progress=False))
        manual = dream(store, s, DreamOptions(readiness=busy, progress=False))
    assert forced.status in ("ok", "nothing_to_do") and manual.status in ("ok", "nothing_to_do")
    with store.read() as con:
        rows = con.execute("select status, reason from dream_runs order by started_at").fetchall()
    assert rows[0][0] == "skipped" and "machine busy" in rows[0][1]
