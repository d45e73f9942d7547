"""The owners manifest of ``rem fleet``: who dreams, where their database
is, with which model, on which schedule, and how fast the fleet may call
each model endpoint.

TOML (the full form)::

    allow_query = false             # rem fleet query: refused unless true
    schedule = "0 3 * * *"          # the owners' default schedule (cron, local time)
    retries = 3                     # transient failures (endpoint down, file busy) retried with backoff
    backoff_s = 30                  # first wait; doubles each retry

    [llm]                           # every owner's model settings unless the owner says otherwise
    base_url = "https://api.openai.com/v1"
    model = "gpt-4o-mini"
    api_key_env = "OPENAI_API_KEY"  # the NAME of the variable holding the key, never the key

    [[rate_limits]]                 # shared by all workers; "*" = all other endpoints, together
    endpoint = "https://api.openai.com/v1"
    requests_per_minute = 500
    tokens_per_minute = 200000

    [[owners]]
    id = "alice"
    db = "alice/rem.duckdb"         # relative to the manifest's folder
    schedule = "30 2 * * *"         # optional, and so are model, base_url, local_model,
    quiet_hours = ["Sat-Sun 00:00-23:59"]  # api_key_env, quiet_hours

CSV (owners only; every other setting takes its default): a header row with
``id,db`` and any of ``model,base_url,local_model,api_key_env,schedule``.
"""

from __future__ import annotations

import csv
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import did_you_mean
from ..exceptions import ConfigError

DEFAULT_SCHEDULE = "0 3 * * *"
OWNER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,127}")
LLM_KEYS = ("model", "base_url", "local_model", "api_key_env")
OWNER_KEYS = ("id", "db", "schedule", "quiet_hours", *LLM_KEYS)
TOP_KEYS = ("allow_query", "schedule", "retries", "backoff_s", "llm", "rate_limits", "owners")
LIMIT_KEYS = ("endpoint", "requests_per_minute", "tokens_per_minute")


@dataclass(frozen=True)
class RateLimit:
    endpoint: str  # a URL prefix, or "*"
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None

    def matches(self, url: str) -> bool:
        return self.endpoint == "*" or url.startswith(self.endpoint.rstrip("/"))


@dataclass(frozen=True)
class Owner:
    id: str
    db: Path
    schedule: str = DEFAULT_SCHEDULE
    quiet_hours: tuple[str, ...] = ()
    model: str | None = None
    base_url: str | None = None
    local_model: str | None = None
    api_key_env: str | None = None

    def spec(self) -> dict[str, Any]:
        """What a worker needs (plain data, so it travels to any worker)."""
        return {"id": self.id, "db": str(self.db), "quiet_hours": list(self.quiet_hours), "model": self.model,
                "base_url": self.base_url, "local_model": self.local_model, "api_key_env": self.api_key_env}


@dataclass
class Manifest:
    path: Path
    owners: list[Owner]
    allow_query: bool = False
    retries: int = 3
    backoff_s: float = 30.0
    rate_limits: list[RateLimit] = field(default_factory=list)

    def limit_for(self, url: str) -> RateLimit | None:
        """The limit that paces requests to ``url``: the longest matching prefix, else "*"."""
        best = None
        for lim in self.rate_limits:
            if lim.endpoint != "*" and lim.matches(url) and (best is None or len(lim.endpoint) > len(best.endpoint)):
                best = lim
        return best or next((lim for lim in self.rate_limits if lim.endpoint == "*"), None)

    def select(self, ids: list[str] | None) -> list[Owner]:
        """The owners named by ``ids`` (all when empty); an unknown id is an error."""
        if not ids:
            return list(self.owners)
        by_id = {o.id: o for o in self.owners}
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise ConfigError(f"no owner {missing[0]!r} in {self.path}{did_you_mean(missing[0], by_id)}")
        return [by_id[i] for i in ids]


def load(path: str | Path) -> Manifest:
    """Read and check a manifest; every mistake is a :class:`ConfigError` naming the file and the entry."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"no manifest at {p}: write one (see `rem fleet --help` for the format)") from None
    except IsADirectoryError:
        raise ConfigError(f"{p} is a folder; give the manifest file (TOML or CSV)") from None
    except OSError as e:
        raise ConfigError(f"cannot read the manifest {p}: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"the manifest {p} is not UTF-8 text (byte {e.start})") from None
    if p.suffix.lower() == ".csv":
        return _from_csv(p, text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"the manifest {p} is not valid TOML: {e}. A CSV manifest must end in .csv") from None
    return _from_dict(p, data)


def _from_csv(p: Path, text: str) -> Manifest:
    rows = list(csv.DictReader(text.splitlines()))
    head = [h.strip() for h in (csv.reader(text.splitlines()[:1]).__next__() if text.strip() else [])]
    for h in head:
        if h not in OWNER_KEYS or h == "quiet_hours":
            raise ConfigError(f"{p}: unknown column {h!r}{did_you_mean(h, OWNER_KEYS)}; the columns are "
                              "id, db and optionally model, base_url, local_model, api_key_env, schedule")
    owners = [{k.strip(): v.strip() for k, v in r.items() if k is not None and v not in (None, "")} for r in rows]
    return _from_dict(p, {"owners": owners})


def _from_dict(p: Path, data: dict[str, Any]) -> Manifest:
    def fail(msg: str) -> ConfigError:
        return ConfigError(f"{p}: {msg}")

    for k in data:
        if k not in TOP_KEYS:
            raise fail(f"unknown setting {k!r}{did_you_mean(k, TOP_KEYS)}")
    allow = data.get("allow_query", False)
    if not isinstance(allow, bool):
        raise fail("allow_query must be true or false")
    retries = data.get("retries", 3)
    if not isinstance(retries, int) or isinstance(retries, bool) or not 0 <= retries <= 20:
        raise fail("retries must be a whole number from 0 to 20")
    backoff = data.get("backoff_s", 30)
    if not isinstance(backoff, int | float) or isinstance(backoff, bool) or not 0 <= backoff <= 3600:
        raise fail("backoff_s must be a number of seconds from 0 to 3600")
    default_schedule = _schedule(data.get("schedule", DEFAULT_SCHEDULE), fail, "schedule")
    llm = data.get("llm", {})
    if not isinstance(llm, dict):
        raise fail("[llm] must be a table")
    for k, v in llm.items():
        if k not in LLM_KEYS:
            raise fail(f"[llm]: unknown setting {k!r}{did_you_mean(k, LLM_KEYS)}")
        if not isinstance(v, str) or not v.strip():
            raise fail(f"[llm] {k} must be a non-empty string")
    limits = _rate_limits(data.get("rate_limits", []), fail)
    raw_owners = data.get("owners", [])
    if not isinstance(raw_owners, list) or not raw_owners:
        raise fail("no owners: add [[owners]] entries with id and db")
    owners: list[Owner] = []
    seen = _Seen()
    for i, o in enumerate(raw_owners):
        owners.append(_owner(p, i, o, llm, default_schedule, seen, fail))
    return Manifest(p, owners, allow, int(retries), float(backoff), limits)


def _rate_limits(raw: Any, fail: Any) -> list[RateLimit]:
    limits = []
    seen_ep: set[str] = set()
    for i, lim in enumerate(raw if isinstance(raw, list) else [None]):
        where = f"rate_limits entry {i + 1}"
        _check_table(lim, LIMIT_KEYS, f"{where} must be a table ([[rate_limits]])", where, fail)
        ep = lim.get("endpoint")
        if not isinstance(ep, str) or not ep.strip():
            raise fail(f"{where}: endpoint is required (a base URL such as \"http://127.0.0.1:8000/v1\", or \"*\")")
        if ep in seen_ep:
            raise fail(f"{where}: endpoint {ep!r} has two limits")
        seen_ep.add(ep)
        vals_n: dict[str, int | None] = {}
        for k in ("requests_per_minute", "tokens_per_minute"):
            v = lim.get(k)
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
                raise fail(f"{where}: {k} must be a whole number of at least 1")
            vals_n[k] = v
        if vals_n["requests_per_minute"] is None and vals_n["tokens_per_minute"] is None:
            raise fail(f"{where}: give requests_per_minute, tokens_per_minute or both")
        limits.append(RateLimit(ep.strip(), vals_n["requests_per_minute"], vals_n["tokens_per_minute"]))
    return limits


class _Seen:
    """The owners read so far: their ids, database paths and files (two owners never share one)."""

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.dbs: dict[Path, str] = {}
        self.files: dict[tuple[int, int], str] = {}


def _owner(p: Path, i: int, o: Any, llm: dict[str, Any], default_schedule: str, seen: _Seen, fail: Any) -> Owner:
    where = f"owner entry {i + 1}"
    _check_table(o, OWNER_KEYS, f"{where} must be a table ([[owners]])", where, fail)
    oid = o.get("id")
    if not isinstance(oid, str) or not OWNER_ID.fullmatch(oid):
        raise fail(f"{where}: id {oid!r} must be 1-128 letters, digits, '.', '_', '@' or '-' "
                   "(it names the owner in tables and logs)")
    where = f"owner {oid!r}"
    if oid in seen.ids:
        raise fail(f"{where} appears twice")
    seen.ids.add(oid)
    dbp = _owner_db(p, o.get("db"), where, oid, seen, fail)
    quiet = o.get("quiet_hours", [])
    if not isinstance(quiet, list) or not all(isinstance(q, str) for q in quiet):
        raise fail(f"{where}: quiet_hours must be a list of strings like \"Mon-Fri 09:00-18:00\"")
    from ..days import parse_quiet

    for q in quiet:
        try:
            parse_quiet(q)
        except ConfigError as e:
            raise fail(f"{where}: {e}") from None
    vals: dict[str, str | None] = {}
    for k in LLM_KEYS:
        v = o.get(k, llm.get(k))
        if v is not None and (not isinstance(v, str) or not v.strip()):
            raise fail(f"{where}: {k} must be a non-empty string")
        vals[k] = v
    key_env = vals["api_key_env"]
    if key_env is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key_env):
        raise fail(f"{where}: api_key_env names an environment variable (like OPENAI_API_KEY), "
                   "not the key itself")
    return Owner(oid, dbp, _schedule(o.get("schedule", default_schedule), fail, f"{where}: schedule"), tuple(quiet), **vals)


def _owner_db(p: Path, db: Any, where: str, oid: str, seen: _Seen, fail: Any) -> Path:
    """The owner's database file, relative to the manifest's folder; no other owner's (by path or file)."""
    if not isinstance(db, str) or not db.strip():
        raise fail(f"{where}: db (the owner's database file) is required")
    dbp = Path(db).expanduser()
    if not dbp.is_absolute():
        dbp = p.parent / dbp
    dbp = Path(*dbp.resolve(strict=False).parts)
    if dbp in seen.dbs:
        raise fail(f"{where} and owner {seen.dbs[dbp]!r} share the database {dbp}: every owner needs their own")
    seen.dbs[dbp] = oid
    try:  # two names of one file (a hard link): one owner's rows would show under both
        st = dbp.stat()
        same = seen.files.get((st.st_dev, st.st_ino))
        if same is not None:
            raise fail(f"{where} and owner {same!r} share one database file ({dbp} is a hard link to theirs): "
                       "every owner needs their own")
        seen.files[(st.st_dev, st.st_ino)] = oid
    except FileNotFoundError:
        pass
    return dbp


def _check_table(entry: Any, keys: tuple[str, ...], not_a_table: str, where: str, fail: Any) -> None:
    """``entry`` is a TOML table holding only ``keys`` (an unknown one is named, with a did-you-mean)."""
    if not isinstance(entry, dict):
        raise fail(not_a_table)
    for k in entry:
        if k not in keys:
            raise fail(f"{where}: unknown setting {k!r}{did_you_mean(k, keys)}")


def _schedule(expr: Any, fail: Any, where: str) -> str:
    from croniter import croniter

    if not isinstance(expr, str) or not croniter.is_valid(expr):
        raise fail(f"{where} {expr!r} is not a cron expression (e.g. \"0 3 * * *\" = 03:00 every day)")
    return expr
