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
