"""What runs on a Dask worker: one owner's scheduled dream.

The same code path as ``rem dream --scheduled`` (the same dream lock, the
same transaction, the same late-activity catch-up, the same search-index
update), with the owner's model settings from the manifest. One owner's
failure is returned, never raised, so it cannot stop another's; transient
failures (the endpoint unreachable or rate-limited, the file busy, another
dream holding the owner's lock) are retried here with exponential backoff.
If the worker process dies mid-dream, nothing of that run was written (one
transaction); Dask runs the task again elsewhere, and that dream takes the
dead run's lock over and marks it ``interrupted``.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import resource
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

TRANSIENT = re.compile(
    r"timed out|cannot reach the model endpoint|answered HTTP (?:408|409|425|429|5\d\d)|rate.?limit|"
    r"database .*busy|is busy|being used by|dream lock|another dream|could not set lock|Conflicting lock",
    re.IGNORECASE)


def transient(message: str) -> bool:
    """Would trying again later likely succeed?"""
    return bool(TRANSIENT.search(message))


def _settings(spec: dict[str, Any], file_cfg: dict[str, Any]) -> Any:
    from .. import config as cfg
    from ..exceptions import ConfigError

    env = dict(os.environ)
    key_env = spec.get("api_key_env")
    if key_env:
        if not os.environ.get(key_env):
            raise ConfigError(f"the manifest names {key_env} as this owner's API key variable, but it is not set "
                              "on the worker: set it in the environment the workers start from")
        env["REM_LLM_API_KEY"] = os.environ[key_env]
    return cfg.resolve_llm(model=spec.get("model"), base_url=spec.get("base_url"),
                           local_model=spec.get("local_model"), env=env, file_cfg=file_cfg)


def dream_owner(spec: dict[str, Any], limiter: Any = None, limits: list[dict[str, Any]] | None = None,
                retries: int = 3, backoff_s: float = 30.0, force: bool = False,
                run_timeout_s: float = 7200.0) -> dict[str, Any]:
    """Dream one owner's due window; returns a plain record (never raises)."""
    t0 = time.monotonic()
    out: dict[str, Any] = {"owner": spec["id"], "db": spec["db"], "status": "failed", "run_id": None,
                           "moments": 0, "tokens_in": 0, "tokens_out": 0, "cost_usd": None, "error": None,
                           "attempts": 0, "worker": f"{socket.gethostname()}:{os.getpid()}"}
    with _paced(limiter, limits):
        _attempts(spec, out, retries, backoff_s, force, run_timeout_s)
    out["duration_s"] = round(time.monotonic() - t0, 3)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


_gate_lock = threading.Lock()
_gate_users = 0


@contextlib.contextmanager
def _paced(limiter: Any, limits: list[dict[str, Any]] | None) -> Iterator[None]:
    """The fleet's rate limit as this process's model-request gate while tasks that
    use it run (removed after the last, so a later run without limits is not held
    back by a limiter that is gone)."""
    global _gate_users
    from ..llm import gate
    from .ratelimit import worker_gate

    if limiter is None or not limits:
        yield
        return
    with _gate_lock:
        gate.install(worker_gate(_bound(limiter), limits))
        _gate_users += 1
    try:
        yield
    finally:
        with _gate_lock:
            _gate_users -= 1
            if _gate_users == 0:
                gate.install(None)


def _attempts(spec: dict[str, Any], out: dict[str, Any], retries: int, backoff_s: float, force: bool,
              run_timeout_s: float) -> None:
    attempt = 0
    while True:
        attempt += 1
        out["attempts"] = attempt
        try:
            _dream_once(spec, out, force, run_timeout_s)
        except Exception as e:  # noqa: BLE001 - an owner's failure is data for `rem fleet status`, not a crash
            msg = str(e).strip() or type(e).__name__
            out.update(status="interrupted" if type(e).__name__ == "InterruptedRun" else "failed",
                       error=msg.splitlines()[0][:500])
        if out["status"] != "failed" or attempt > retries or not transient(out.get("error") or ""):
            break
        time.sleep(backoff_s * 2 ** (attempt - 1))


def _bound(limiter: Any) -> Any:
    """The limiter's proxy bound to this worker, so the dream's own threads can call it
    (a proxy unpickled outside the task's thread has neither worker nor client:
    dask/distributed#6477)."""
    try:
        from distributed import get_worker
        from distributed.actor import Actor

        return Actor(limiter._cls, limiter._address, limiter._key, worker=get_worker())
    except (ImportError, ValueError, AttributeError):
        return limiter  # not on a worker (called directly): the proxy as given


def _dream_once(spec: dict[str, Any], out: dict[str, Any], force: bool, run_timeout_s: float) -> None:
    from .. import config as cfg
    from ..dream.run import DreamOptions, chunk_budget
    from ..dream.run import dream as run_dream
    from ..ledger import RunStatus
    from ..ops.readiness import Readiness
    from ..search import index as search_index
    from ..search.embed import configured
    from ..store import Store

    loaded = cfg.Settings.load()  # this worker's config, read once for the owner's dream
    store = Store(spec["db"], settings=loaded)
    if not store.path.exists():
        from ..exceptions import StoreError

        raise StoreError(f"{store.path} does not exist: create it (`rem --db '{store.path}' init`) or fix the "
                         "manifest's db")
    settings = _settings(spec, loaded.file)
    file_cfg = loaded.file
    d = cfg.dream_defaults(file_cfg)
    # The owner's quiet hours and the machine's free memory; not the load average: on a fleet
    # worker the load is the fleet's own dreams, and skipping on it would skip everyone.
    base = Readiness.from_config(file_cfg)
    readiness = Readiness(max_load_per_core=math.inf, min_available_mb=base.min_available_mb,
                          quiet_hours=[*base.quiet_hours, *spec.get("quiet_hours", [])])
    res = run_dream(store, settings, DreamOptions(
        lookback_hours=d["lookback_hours"], scheduled=True, trigger="fleet", gap_minutes=d["gap_minutes"],
        max_input_tokens=chunk_budget(settings, None, d["max_input_tokens"]), concurrency=d["concurrency"],
        progress=False, force=force, readiness=readiness, run_timeout_s=run_timeout_s))
    runs = [res, *res.late]
    status = str(res.status)
    if res.late_error:
        status = "failed"  # a late day's dream failed (in the owner's ledger); the next dream tries it again
    elif status in (RunStatus.NOTHING_TO_DO, RunStatus.OK) and res.late:
        status = RunStatus.OK
    out.update(status=status, run_id=res.run_id,
               moments=sum(r.stats.moments_created for r in runs if r.stats),
               tokens_in=sum(r.usage.tokens_in for r in runs), tokens_out=sum(r.usage.tokens_out for r in runs),
               cost_usd=(sum(r.cost or 0.0 for r in runs) if any(r.cost is not None for r in runs) else None),
               error=(res.late_error.splitlines()[0] if res.late_error else
                      res.message if res.status in (RunStatus.FAILED, RunStatus.SKIPPED) else None),
               late_runs=len(res.late))
    if res.status == RunStatus.OK or res.late:
        try:
            search_index.try_sync(store, configured(file_cfg))
        except Exception as e:  # noqa: BLE001 - the dream is written; the next search catches up
            out["note"] = f"search index not updated: {e}"
