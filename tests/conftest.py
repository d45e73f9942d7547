from __future__ import annotations

import json
from pathlib import Path

import pytest

from rem.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "rem.duckdb")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "rem.duckdb"


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def count(store: Store, sql: str) -> int:
    with store.read() as con:
        return con.execute(sql).fetchall()[0][0]


# -- the reliability suite ------------------------------------------------------------
# `make test` runs every test_reliability_* file at a small size; `make reliability`
# sets REM_RELIABILITY=full for the full counts and REM_RELIABILITY_OUT=FILE to record
# tried / survived / lost per category (rendered into RELIABILITY.md).
FULL = __import__("os").environ.get("REM_RELIABILITY") == "full"
_TALLY: dict[str, dict[str, int]] = {}


def scale(fast: int, full: int) -> int:
    return full if FULL else fast


@pytest.fixture(scope="session")
def tally():
    def add(category: str, tried: int, survived: int, lost: int = 0) -> None:
        t = _TALLY.setdefault(category, {"tried": 0, "survived": 0, "lost": 0})
        t["tried"] += tried
        t["survived"] += survived
        t["lost"] += lost

    return add


def pytest_sessionfinish(session, exitstatus):
    import os

    out = os.environ.get("REM_RELIABILITY_OUT")
    if out and _TALLY:
        Path(out).write_text(json.dumps({"mode": "full" if FULL else "fast", "categories": _TALLY}, indent=2, sort_keys=True) + "\n")
