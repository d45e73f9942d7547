"""Shared fixtures. Helpers are in ``support.py``.

- ``store`` / ``db_path``: an empty database in the test's folder;
- ``demo_week``: the seeded demo week, generated and ingested once per test
  session (its database path; never written to);
- ``demo_store``: a private copy of it, with the environment isolated from
  the user's config, model settings and reports folder;
- ``tally``: the reliability suite's tried / survived / lost counter;
- ``browser``: Debian's chromium, headless, through selenium.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from rem.store import Store
from support import FULL, build_demo_week, copy_store

ENV_ISOLATED = ("REM_LLM_MODEL", "REM_LLM_BASE_URL", "OPENAI_API_KEY", "REM_LLM_API_KEY", "REM_LLM_MODE",
                "REM_LOCAL_MODEL", "REM_DB")


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "rem.duckdb")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "rem.duckdb"


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No config file, no model settings from the environment, reports in the test's folder."""
    monkeypatch.setenv("REM_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("REM_REPORTS_DIR", str(tmp_path / "reports"))
    for v in ENV_ISOLATED:
        monkeypatch.delenv(v, raising=False)
    return tmp_path


@pytest.fixture(scope="session")
def demo_week(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo_week(tmp_path_factory.mktemp("demo-week"))


@pytest.fixture
def demo_store(demo_week: Path, isolated: Path) -> Store:
    return copy_store(demo_week, isolated)


_TALLY: dict[str, dict[str, int]] = {}


@pytest.fixture(scope="session")
def tally():
    def add(category: str, tried: int, survived: int, lost: int = 0) -> None:
        t = _TALLY.setdefault(category, {"tried": 0, "survived": 0, "lost": 0})
        t["tried"] += tried
        t["survived"] += survived
        t["lost"] += lost

    return add


def pytest_sessionfinish(session, exitstatus):
    out = os.environ.get("REM_RELIABILITY_OUT")
    if out and _TALLY:
        Path(out).write_text(json.dumps({"mode": "full" if FULL else "fast", "categories": _TALLY}, indent=2, sort_keys=True) + "\n")


# Tests that need a real browser or a real Dask cluster are marked by the fixture they use, so the
# quick loop (`make test-fast`) can leave them out and nothing has to remember to mark them.
_MARK_BY_FIXTURE = {"browser": "browser", "fleet_env": "cluster"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        for fixture, mark in _MARK_BY_FIXTURE.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(getattr(pytest.mark, mark))


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver, "Debian's chromium and chromium-driver are needed (make deps installs them)"
    o = Options()
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1600"):
        o.add_argument(a)
    o.binary_location = chromium
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(driver), options=o)
    try:
        yield d
    finally:
        d.quit()
