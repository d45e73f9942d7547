"""Scheduling REM's nightly dream with a systemd timer (or cron).

``rem schedule install`` renders the shipped units (``rem/systemd/``) with the
absolute path of the ``rem`` being run and the database path, writes them to
the user's (or the system's) unit directory, checks them with
``systemd-analyze verify`` when it is available, and prints — or with
``--enable`` runs — the ``systemctl`` commands that enable the timer.
Without systemd it prints the crontab line and suggests ``rem daemon``.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..exceptions import ConfigError

UNITS = ("rem-dreaming.service", "rem-dreaming.timer")
DOW = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def rem_executable() -> str:
    """Absolute path of the `rem` command running now."""
    cand = Path(sys.executable).with_name("rem")
    if cand.exists():
        return str(cand.resolve())
    found = shutil.which("rem")
    if found:
        return str(Path(found).resolve())
    argv0 = Path(sys.argv[0])
    if argv0.name == "rem" and argv0.exists():
        return str(argv0.resolve())
    raise ConfigError("cannot find the `rem` executable to schedule; install REM (pip install rem) first")


def unit_dir(user: bool) -> Path:
    if user:
        base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
        return Path(base) / "systemd" / "user"
    return Path("/etc/systemd/system")


def has_systemd() -> bool:
    return shutil.which("systemctl") is not None and Path("/run/systemd/system").is_dir()


def _cron_field(value: str, names: list[str] | None = None, *, width: int = 2) -> str:
    out = []
    for part in value.split(","):
        step = ""
        if "/" in part:
            part, s = part.split("/", 1)
            if not s.isdigit():
                raise ConfigError(f"unsupported cron step {s!r}")
            step = "/" + s
            if part == "*":
                part = "0" if names is None else "*"
        if part == "*":
            out.append("*" + step)
            continue
        if "-" in part:
            a, b = part.split("-", 1)
            if names:
                out.append(f"{names[int(a)]}..{names[int(b)]}")
            else:
                out.append(f"{int(a):0{width}d}..{int(b):0{width}d}{step}")
            continue
        if not part.isdigit():
            raise ConfigError(f"unsupported cron field {value!r} (numbers, lists, ranges and steps only)")
        out.append(names[int(part)] if names else f"{int(part):0{width}d}{step}")
    return ",".join(out)


def cron_to_oncalendar(expr: str) -> str:
    """A 5-field cron expression as a systemd OnCalendar value."""
    fields = expr.split()
    if len(fields) != 5:
        raise ConfigError(f"--cron {expr!r}: expected 5 fields (minute hour day month weekday)")
    minute, hour, dom, month, dow = fields
    cal = f"*-{_cron_field(month) if month != '*' else '*'}-{_cron_field(dom) if dom != '*' else '*'} " \
          f"{_cron_field(hour)}:{_cron_field(minute)}:00"
    if dow != "*":
        cal = f"{_cron_field(dow, DOW)} {cal}"
    return cal


def at_to_oncalendar(at: str) -> str:
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", at.strip())
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise ConfigError(f"--at {at!r}: use HH:MM, e.g. 03:00")
    return f"*-*-* {int(m.group(1)):02d}:{int(m.group(2)):02d}:00"


def _unit_quote(value: str, *, exec_line: bool) -> str:
    """``value`` as one double-quoted word of a unit file (systemd.syntax(7)):
    backslash and quote escaped, ``%`` specifiers doubled, and on ExecStart=
    lines ``$`` doubled so no variable is expanded."""
    if any(c in value for c in "\n\r\0"):
        raise ConfigError(f"the path {value!r} contains a line break or NUL, which a unit file cannot hold; "
                          "move the database (or REM) to a plainer path")
    v = value.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    if exec_line:
        v = v.replace("$", "$$")
    return f'"{v}"'


def _unit_unquote(word: str) -> str:
    """The inverse of :func:`_unit_quote` for an Environment= value."""
    if len(word) >= 2 and word[0] == word[-1] == '"':
        word = word[1:-1]
    return re.sub(r"\\(.)", r"\1", word).replace("%%", "%")


def cron_line(cron_expr: str, db: Path, rem: str) -> str:
    """A crontab line: every path quoted for cron's /bin/sh, and ``%`` (a line
    break to cron) escaped."""
    def word(v: str) -> str:
        if any(c in v for c in "\n\r\0"):
            raise ConfigError(f"the path {v!r} contains a line break or NUL, which a crontab line cannot hold")
        return shlex.quote(v).replace("%", "\\%")

    return f"{cron_expr} REM_DB={word(str(db.resolve()))} {word(rem)} dream --scheduled --yield-to-user"


def render(db: Path, oncalendar: str, rem: str | None = None) -> dict[str, str]:
    base = resources.files("rem").joinpath("systemd")
    rem = rem or rem_executable()
    service = base.joinpath("rem-dreaming.service").read_text(encoding="utf-8")
    timer = base.joinpath("rem-dreaming.timer").read_text(encoding="utf-8")
    if any(c in rem for c in "'\"\\"):
        raise ConfigError(f"REM is installed at {rem!r}: systemd refuses to run an executable whose path holds a quote "
                          "or a backslash. Install REM at a plainer path (e.g. `pipx install rem`), or schedule it "
                          "with the crontab line (`rem schedule install` prints it) or `rem daemon`")
    env_line = "Environment=" + _unit_quote(f"REM_DB={db.resolve()}", exec_line=False)
    exec_line = "ExecStart=" + _unit_quote(rem, exec_line=False)  # $ is not expanded in the executable
    service = re.sub(r"^Environment=REM_DB=.*$", lambda _: env_line, service, flags=re.M)
    service = re.sub(r"^ExecStart=\S+", lambda _: exec_line, service, flags=re.M)
    timer = re.sub(r"^OnCalendar=.*$", lambda _: f"OnCalendar={oncalendar}", timer, flags=re.M)
    return {"rem-dreaming.service": service, "rem-dreaming.timer": timer}


def verify(units: dict[str, str], user: bool) -> tuple[bool, str]:
    """Run the real ``systemd-analyze verify`` on rendered units (None when absent)."""
    tool = shutil.which("systemd-analyze")
    if tool is None:
        return True, "systemd-analyze not available; not verified"
    with tempfile.TemporaryDirectory() as d:
        paths = []
        for name, text in units.items():
            p = Path(d) / name
            p.write_text(text, encoding="utf-8")
            paths.append(str(p))
        env = dict(os.environ)
        cmd = [tool]
        if user:
            cmd.append("--user")
            env.setdefault("XDG_RUNTIME_DIR", tempfile.mkdtemp(prefix="rem-runtime-"))
        proc = subprocess.run([*cmd, "verify", *paths], capture_output=True, text=True, env=env)
    return proc.returncode == 0, (proc.stdout + proc.stderr).strip()


@dataclass
class Installed:
    directory: Path
    files: list[Path]
    commands: list[str]
    verified: bool
    verify_output: str
    crontab: str


def install(db: Path, *, user: bool = True, at: str | None = None, cron: str | None = None,
            directory: Path | None = None, enable: bool = False) -> Installed:
    if at and cron:
        raise ConfigError("give --at or --cron, not both")
    oncal = cron_to_oncalendar(cron) if cron else at_to_oncalendar(at or "03:00")
    units = render(db, oncal)
    ok, out = verify(units, user)
    if not ok:
        raise ConfigError(f"the rendered units do not pass systemd-analyze verify:\n{out}")
    target = directory or unit_dir(user)
    target.mkdir(parents=True, exist_ok=True)
    files = []
    for name, text in units.items():
        p = target / name
        p.write_text(text, encoding="utf-8")
        files.append(p)
    ctl = "systemctl --user" if user else "systemctl"
    commands = [f"{ctl} daemon-reload", f"{ctl} enable --now rem-dreaming.timer"]
    if user:
        commands.append("loginctl enable-linger $USER   # run even when you are not logged in")
    cron_expr = cron or f"{int((at or '03:00').split(':')[1])} {int((at or '03:00').split(':')[0])} * * *"
    crontab = cron_line(cron_expr, db, rem_executable())
    if enable:
        if not has_systemd():
            raise ConfigError("systemd is not running here; use the crontab line or `rem daemon`")
        for c in commands[:2]:
            subprocess.run(c.split(), check=True)
    return Installed(target, files, commands, ok, out, crontab)


def uninstall(*, user: bool = True, directory: Path | None = None) -> list[Path]:
    target = directory or unit_dir(user)
    if has_systemd():
        ctl = ["systemctl", "--user"] if user else ["systemctl"]
        subprocess.run([*ctl, "disable", "--now", "rem-dreaming.timer"], capture_output=True)
    removed = []
    for name in UNITS:
        p = target / name
        if p.exists():
            p.unlink()
            removed.append(p)
    return removed


def next_elapse(oncalendar: str) -> str | None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        return None
    proc = subprocess.run([tool, "calendar", oncalendar], capture_output=True, text=True)
    m = re.search(r"Next elapse:\s*(.+)", proc.stdout)
    return m.group(1).strip() if m else None


def status(*, user: bool = True, directory: Path | None = None) -> dict[str, object]:
    target = directory or unit_dir(user)
    timer = target / "rem-dreaming.timer"
    service = target / "rem-dreaming.service"
    info: dict[str, object] = {"directory": str(target), "installed": timer.exists() and service.exists()}
    if timer.exists():
        m = re.search(r"^OnCalendar=(.+)$", timer.read_text(encoding="utf-8"), re.M)
        if m:
            info["on_calendar"] = m.group(1).strip()
            info["next_run"] = next_elapse(m.group(1).strip())
    if service.exists():
        m = re.search(r"^Environment=(.*)$", service.read_text(encoding="utf-8"), re.M)
        env = _unit_unquote(m.group(1).strip()) if m else ""
        info["database"] = env.split("=", 1)[1] if env.startswith("REM_DB=") else None
    if has_systemd():
        ctl = ["systemctl", "--user"] if user else ["systemctl"]
        p = subprocess.run([*ctl, "is-enabled", "rem-dreaming.timer"], capture_output=True, text=True)
        info["enabled"] = p.stdout.strip() == "enabled"
    else:
        info["enabled"] = None
    return info
