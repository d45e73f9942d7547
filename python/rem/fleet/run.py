"""The fleet's client side: which owners are due, fanning their dreams out on
Dask, the journal of what happened, and the fleet-wide status, doctor and
query.

The journal (``<manifest>.fleet.jsonl`` beside the manifest, one JSON
object per owner and attempt) keeps what an owner's own database cannot: a
dream that failed before it could write a ledger row (a damaged file, a
missing one) is still on record for ``rem fleet status``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa

from ..exceptions import ConfigError, QueryError, RemError
from .manifest import Manifest, Owner

log = logging.getLogger("rem.fleet")


def journal_path(m: Manifest) -> Path:
    return m.path.with_name(m.path.name + ".fleet.jsonl")


def read_journal(m: Manifest) -> dict[str, dict[str, Any]]:
    """Each owner's latest journal record."""
    last: dict[str, dict[str, Any]] = {}
    p = journal_path(m)
    if not p.exists():
        return last
    try:
        with p.open(encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue  # a line cut short by a crash
                if isinstance(rec, dict) and isinstance(rec.get("owner"), str):
                    last[rec["owner"]] = rec
    except OSError as e:
        raise _journal_error(m, e) from None
    return last


def _journal_error(m: Manifest, e: OSError) -> ConfigError:
    return ConfigError(f"cannot use the fleet's journal {journal_path(m)} ({e.strerror or e}): it must be a file "
                       "the fleet can write, in the manifest's folder (copy the manifest somewhere writable)")


def _append(m: Manifest, rec: dict[str, Any]) -> None:
    with journal_path(m).open("a", encoding="utf-8") as f:
        f.write(json.dumps(rec, default=str, ensure_ascii=False) + "\n")


def _last_scheduled(owner: Owner) -> dict[str, Any] | None:
    """The owner's latest scheduled run from their own ledger (None: none, or unreadable)."""
    from .. import ledger
    from ..store import Store

    store = Store(owner.db)
    if not store.path.exists():
        return None
    try:
        with store.read(macros=False) as con:
            return ledger.last_scheduled(con)
    except RemError:
        return None


def due(m: Manifest, owners: list[Owner], now: datetime | None = None) -> list[Owner]:
    """The owners whose schedule fired since their last scheduled dream (or who never had one)."""
    from croniter import croniter

    at = now or datetime.now().astimezone()
    journal = read_journal(m)

    def is_due(o: Owner) -> bool:
        fired = croniter(o.schedule, at).get_prev(datetime)
        times = []
        row = _last_scheduled(o)
        if row and isinstance(row.get("started_at"), datetime):
            times.append(row["started_at"])
        j = journal.get(o.id)
        if j and j.get("started_at"):
            with contextlib.suppress(ValueError):
                times.append(datetime.fromisoformat(j["started_at"]))
        last = max((t if t.tzinfo else t.replace(tzinfo=UTC) for t in times), default=None)
        return last is None or last < fired

    with ThreadPoolExecutor(max_workers=8) as pool:  # one ledger read per owner
        flags = list(pool.map(is_due, owners))
    return [o for o, f in zip(owners, flags, strict=True) if f]


@contextlib.contextmanager
def dask_client(scheduler: str | None, workers: int, threads: int) -> Iterator[Any]:
    """A client on ``scheduler``, or on a LocalCluster of ``workers`` processes."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ConfigError("rem fleet needs Dask: pip install 'rem[fleet]' (dask[distributed])") from None
    logging.getLogger("distributed").setLevel(logging.WARNING)  # the engine's own chatter stays out of REM's log
    if scheduler:
        try:
            client = Client(scheduler, timeout="10s")
        except (OSError, TimeoutError) as e:
            raise ConfigError(f"cannot reach the Dask scheduler {scheduler}: {e}. Start one with "
                              "`dask scheduler` and workers with `dask worker {scheduler}` (see SCALING.md)") from None
        with client:
            yield client
        return
    with LocalCluster(n_workers=workers, threads_per_worker=threads, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        yield client


@dataclass
class FleetRun:
    results: list[dict[str, Any]]
    skipped: list[str]  # owners not due
    duration_s: float
    limiter_grants: list[tuple[str, float, int]]


def dream(m: Manifest, owners: list[Owner], *, scheduler: str | None = None, workers: int = 2, threads: int = 1,
          force: bool = False, every_owner: bool = False, run_timeout_s: float = 7200.0,
          on_result: Callable[[dict[str, Any], int, int], None] | None = None,
          window_s: float = 60.0, client: Any = None) -> FleetRun:
    """Dream every due owner on Dask (on ``client`` when given, else see
    :func:`dask_client`); one record per owner, journaled as it arrives.
    ``window_s`` is the rate limit's window (a minute; shorter in tests)."""
    from distributed import as_completed

    t0 = time.monotonic()
    todo = owners if every_owner else due(m, owners)
    skipped = [o.id for o in owners if o not in todo]
    results: list[dict[str, Any]] = []
    grants: list[tuple[str, float, int]] = []
    if not todo:
        return FleetRun(results, skipped, time.monotonic() - t0, grants)
    try:  # the journal must take every owner's outcome: find out now, not after the first dream
        journal_path(m).open("a", encoding="utf-8").close()
    except OSError as e:
        raise _journal_error(m, e) from None
    limits = [{"endpoint": r.endpoint, "requests_per_minute": r.requests_per_minute,
               "tokens_per_minute": r.tokens_per_minute} for r in m.rate_limits]
    with contextlib.nullcontext(client) if client is not None else dask_client(scheduler, workers, threads) as client:
        limiter = None
        if limits:
            from .ratelimit import FleetLimiter

            limiter = client.submit(FleetLimiter, limits, window_s, actor=True).result()
        from .worker import dream_owner

        started = datetime.now(UTC).isoformat()
        futures = {client.submit(dream_owner, o.spec(), limiter, limits, m.retries, m.backoff_s, force, run_timeout_s,
                                 key=f"rem-dream-{o.id}-{time.time_ns()}", pure=False): o for o in todo}
        for fut in as_completed(futures):
            o = futures[fut]
            try:
                rec = fut.result()
            except Exception as e:  # noqa: BLE001 - the worker died too often (KilledWorker) or the task could not run
                rec = {"owner": o.id, "db": str(o.db), "status": "failed",
                       "error": f"{type(e).__name__}: {str(e).splitlines()[0][:400] if str(e) else ''}".rstrip(": ")}
            rec["started_at"] = started
            rec["finished_at"] = datetime.now(UTC).isoformat()
            _append(m, rec)
            results.append(rec)
            if on_result:
                on_result(rec, len(results), len(todo))
        if limiter is not None:
            grants = limiter.grants().result()
    order = {o.id: i for i, o in enumerate(todo)}
    results.sort(key=lambda r: order.get(r["owner"], 0))
    return FleetRun(results, skipped, time.monotonic() - t0, grants)


STATUS_FIELDS = ("owner", "status", "when", "trigger", "moments", "cost_usd", "note", "db")


def status(m: Manifest, owners: list[Owner]) -> list[dict[str, Any]]:
    """Every owner's latest scheduled outcome: from their own ledger, or from the
    journal when that is newer or the database cannot say (missing, damaged)."""
    journal = read_journal(m)

    def one(o: Owner) -> dict[str, Any]:
        from .. import ledger
        from ..store import Store

        row: dict[str, Any] = {"owner": o.id, "status": "never", "when": None, "trigger": None, "moments": None,
                               "cost_usd": None, "note": None, "db": str(o.db)}
        store = Store(o.db)
        readable_error = None
        if not store.path.exists():
            readable_error = f"{o.db} does not exist"
        else:
            try:
                with store.read(macros=False) as con:
                    r = ledger.last_scheduled(con, with_late=True)
                if r:
                    row.update(status=r["status"], when=r["started_at"], trigger=r["trigger"], note=r["note"],
                               moments=r["moments_created"], cost_usd=r["estimated_cost_usd"])
            except RemError as e:
                readable_error = str(e).splitlines()[0]
        j = journal.get(o.id)
        if j is not None:
            jt = None
            with contextlib.suppress(ValueError, TypeError):
                jt = datetime.fromisoformat(str(j.get("finished_at") or j.get("started_at")))
            mine = row["when"]
            if mine is not None and mine.tzinfo is None:
                mine = mine.replace(tzinfo=UTC)
            if mine is None or (jt is not None and jt > mine and j.get("status") == "failed"):
                # the dream failed before (or without) writing its ledger row
                row.update(status=j.get("status", "failed"), when=jt, trigger="fleet", note=j.get("error"),
                           moments=j.get("moments"), cost_usd=j.get("cost_usd"))
        if readable_error:
            row.update(status="failed", note=f"cannot read the database: {readable_error}"
                       + (f" (last fleet error: {j.get('error')})" if j and j.get("error") else ""))
        return row

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, owners))


def doctor(owners: list[Owner]) -> list[dict[str, Any]]:
    """``rem doctor``'s checks for every owner (the database and the owner's model endpoint)."""
    from ..ops.doctor import run_checks
    from ..store import Store

    def one(o: Owner) -> list[dict[str, Any]]:
        rows = []
        try:
            for level, what, msg in run_checks(Store(o.db), model=o.model, base_url=o.base_url,
                                               local_model=o.local_model):
                rows.append({"owner": o.id, "level": level, "check": what, "message": msg})
        except RemError as e:
            rows.append({"owner": o.id, "level": "fail", "check": "doctor", "message": str(e)})
        return rows

    with ThreadPoolExecutor(max_workers=8) as pool:
        return [r for rows in pool.map(one, owners) for r in rows]


T = TypeVar("T")
TABLES = ("resources", "messages", "moments", "entities", "edges", "nodes", "dream_runs", "moment_edits")


def query(m: Manifest, owners: list[Owner], sql: str, consume: Callable[[pa.RecordBatchReader | None], T],
          half_lives: tuple[dict[str, float | None], float | None] | None = None) -> T:
    """One read-only statement over every owner's store: each table REM keeps is a
    view over all owners' copies with an ``owner`` column in front. The result is
    streamed to ``consume`` (a reader of Arrow batches, None for a statement without
    rows) while the databases are open: memory stays flat however many rows come back."""
    import duckdb

    from ..store import attached_read_only, fetch_rows, install_macros, sandbox, stream_arrow

    if not m.allow_query:
        raise ConfigError(f"the manifest {m.path} does not allow fleet-wide queries; for the owners' own admin, "
                          "add `allow_query = true` at its top")
    if not sql.strip():
        raise QueryError("the SQL is empty: give a statement, e.g. rem fleet query M \"select owner, count(*) "
                         "from moments group by owner\"")
    missing = [o for o in owners if not o.db.exists()]
    if missing:
        raise QueryError(f"owner {missing[0].id!r}'s database {missing[0].db} does not exist"
                         + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
                         + "; leave them out with --owner, or create them")
    aliases = {f"owner_{i}": o for i, o in enumerate(owners)}
    with attached_read_only({a: o.db for a, o in aliases.items()}) as con:
        present: dict[str, list[str]] = {t: [] for t in TABLES}
        for alias, o in aliases.items():
            have = {r[0] for r in fetch_rows(con, "SELECT table_name FROM duckdb_tables() WHERE database_name = $a",
                                             {"a": alias})}
            if "dream_runs" not in have:
                raise QueryError(f"owner {o.id!r}'s database {o.db} is not a REM database")
            for t in TABLES:
                if t in have:
                    present[t].append(f"SELECT '{_sql_str(o.id)}' AS owner, * FROM {alias}.main.{t}")
        for t, parts in present.items():
            if parts:
                fetch_rows(con, f"CREATE TEMP VIEW {t} AS " + " UNION ALL BY NAME ".join(parts))
        install_macros(con, half_lives)  # rem_decay with the admin's half-lives (default: the built-in ones)
        sandbox(con)
        try:
            return consume(stream_arrow(con, sql))
        except duckdb.Error as e:
            msg = str(e)
            if "read-only" in msg.lower() or "read_only" in msg.lower():
                raise QueryError(f"rem fleet query is read-only: {msg}\nNothing was changed.") from None
            raise QueryError(msg) from None


def _sql_str(s: str) -> str:
    return s.replace("'", "''")
