"""A whole dream: plan → model calls (database closed) → resolve → persist.

Every attempt leaves a ledger row (:mod:`rem.ledger`): written as
``running`` when the dream starts and finished as ``ok``,
``nothing_to_do``, ``skipped``, ``failed`` or ``interrupted``. A row left
``running`` by a process that died is marked ``interrupted`` by the next
dream.

The dream is handed what it must consult rather than finding it itself
(:class:`DreamOptions`): the readiness check of scheduled dreams, the
watcher behind ``--yield-to-user``, the redactor for text sent to the
model. The command line builds them from the config file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import duckdb

from .. import agentlet, ledger, schema
from ..config import LLMSettings
from ..exceptions import DatabaseBusyError, DreamError, InterruptedRun, LLMError, RemError
from ..heap import few_full_collections
from ..ledger import RunStatus
from ..llm.client import LLM, Reply, Usage
from ..llm.spool import AnswerSpool, spool_dir
from ..logs import run_context
from ..output import Progress
from ..redact import Redactor, mask_literals, scrub, secret_values
from ..report import SectionAhead, write_run_digest
from ..store import Store, explain_db_error, fetch_arrow
from ..understand import Understanding, worker_count
from ..understand.ner import import_ahead
from ..understand.ner import imported as ner_imported
from . import agent as prompts
from .lock import DreamLock
from .models import ChunkAnswer, MomentDraft, PeriodSummary, SegmentNote
from .persist import PersistStats, persist
from .plan import Plan, plan
from .resolve import Resolution, content_words, fallback_summary, resolve, sound_summary

log = logging.getLogger("rem.dream")

EMBEDDED_CTX = 8192  # context of the embedded llama.cpp server
EMBEDDED_MAX_INPUT_TOKENS = 3000  # default chunk budget for the embedded model
EMBEDDED_REQUEST_TIMEOUT_S = 900.0  # per request to the embedded server


def chunk_budget(settings: LLMSettings, explicit: int | None, default: int) -> int:
    """Token budget of one chunk: ``--max-input-tokens`` if given, else the
    configured default — capped for the embedded model's 8k context."""
    if explicit:
        return explicit
    return min(default, EMBEDDED_MAX_INPUT_TOKENS) if settings.embedded else default


class ReadinessCheck(Protocol):
    """Why a scheduled dream should not start now (None = go): :class:`rem.ops.readiness.Readiness`."""

    def reason_to_skip(self, now: datetime) -> str | None: ...


class YieldSource(Protocol):
    """While entered, says why to stop between model calls: :class:`rem.ops.readiness.YieldWatcher`."""

    def reason(self) -> str | None: ...
    def __enter__(self) -> Any: ...
    def __exit__(self, *exc: object) -> Any: ...


@dataclass
class DreamOptions:
    lookback_hours: float | None = 24.0
    start: str | None = None
    end: str | None = None
    gap_minutes: float = 30.0
    max_input_tokens: int = 6000
    concurrency: int = 4
    max_cost: float | None = None
    moment_types: list[str] | None = None
    min_duration_minutes: float | None = None
    summary_only: bool = False
    scheduled: bool = False
    max_catchup_days: float = 7.0
    # after the window: dream the days holding activity no dream has seen (late arrivals), newest first;
    # at most this many days per run (the rest next time). Default: scheduled dreams only.
    late_days: int | None = None
    trigger: str = "manual"
    timeout_s: float = 120.0  # one model request (then retried)
    run_timeout_s: float | None = 7200.0  # the whole run (--timeout); stops between model calls
    force: bool = False  # skip the readiness check of a scheduled dream
    readiness: ReadinessCheck | None = None  # consulted by scheduled dreams (none: always ready)
    yield_watcher: YieldSource | None = None  # --yield-to-user: stop between model calls when it says so
    redactor: Redactor | None = None  # for text sent to the model (none: the config file's rule for the endpoint)
    debug: Callable[[str], None] | None = None
    progress: bool | None = None
    review: bool = False  # the moments wait in the review inbox (rem review) before they feed the graph


@dataclass
class DreamResult:
    run_id: str
    status: str
    plan: Plan | None
    resolution: Resolution | None = None
    stats: PersistStats | None = None
    summary: str = ""
    usage: Usage = field(default_factory=Usage)
    cost: float | None = None
    duration_s: float = 0.0
    message: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    digest: Path | None = None
    redactions: dict[str, int] = field(default_factory=dict)
    spool: AnswerSpool | None = None  # the model's answers, kept until this run has persisted
    late: list[DreamResult] = field(default_factory=list)  # the runs that dreamed late-arriving activity
    late_days_left: int = 0  # days of late activity left for the next run
    late_error: str = ""  # why dreaming a late day failed (that run is in the ledger as failed)

    def public(self) -> dict[str, Any]:
        out: dict[str, Any] = {"run_id": self.run_id, "status": self.status, "message": self.message,
                               "tokens_in": self.usage.tokens_in, "tokens_out": self.usage.tokens_out,
                               "estimated_cost_usd": self.cost, "duration_s": round(self.duration_s, 3)}
        if self.plan:
            out["window"] = {"start": self.plan.window.start.isoformat(), "end": self.plan.window.end.isoformat()}
            out["chunks"] = self.plan.n_chunks
        if self.stats:
            out.update(self.stats.__dict__)
        if self.resolution:
            out.update({"dropped_refs": self.resolution.dropped_refs, "dropped_moments": self.resolution.dropped_moments,
                        "fallback_moments": self.resolution.fallback_moments,
                        "moments": [m.public() for m in self.resolution.moments]})
        out["summary"] = self.summary
        if self.digest is not None:
            out["digest"] = str(self.digest)
        if self.late or self.late_days_left:
            out["late"] = [x.public() for x in self.late]
            out["late_days_left"] = self.late_days_left
        return out


def scheduled_window(store: Store, opts: DreamOptions, now: datetime) -> tuple[str | None, str | None, float | None]:
    """A scheduled dream starts where the last successful one ended (at most
    ``max_catchup_days`` back); the first one uses ``lookback_hours``."""
    with store.read(sandbox=False) as con:
        last = ledger.last_window_end(con)
    if last is None:
        return None, None, opts.lookback_hours
    start = max(last, now - timedelta(days=opts.max_catchup_days))
    return start.isoformat(), now.isoformat(), None


def known_names(store: Store, limit: int = 60) -> tuple[list[str], list[str]]:
    with store.read(sandbox=False) as con:
        rows = fetch_arrow(con, f"""SELECT kind, name FROM entities WHERE kind IN ('topic', 'person')
                              ORDER BY updated_at DESC NULLS LAST LIMIT {int(limit) * 2}""").to_pylist()
    return [r["name"] for r in rows if r["kind"] == "topic"][:limit], [r["name"] for r in rows if r["kind"] == "person"][:limit]


@contextlib.contextmanager
def endpoint(settings: LLMSettings) -> Iterator[tuple[str, str]]:
    """(base_url, model) of the configured endpoint, starting the embedded
    server for the default model (and stopping it afterwards)."""
    if settings.embedded:
        from ..llm.server import EmbeddedServer

        with EmbeddedServer(settings.local_model) as srv:
            yield srv.base_url, srv.model_name
    else:
        assert settings.base_url is not None
        yield settings.base_url, settings.model


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """SIGTERM (and SIGHUP) become :class:`InterruptedRun` in the main thread,
    so a dream stops between model calls and records itself as interrupted."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise InterruptedRun(f"stopped by {signal.Signals(signum).name}", by_signal=True)

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)


def dream(store: Store, settings: LLMSettings, opts: DreamOptions) -> DreamResult:
    """One dream under the database's dream lock (a second one is refused
    with the holder's pid), stopping cleanly on SIGTERM, Ctrl-C or the run
    timeout."""
    run_id = str(uuid.uuid4())
    store.path.parent.mkdir(parents=True, exist_ok=True)
    if opts.scheduled and not opts.force and opts.readiness is not None:
        why = opts.readiness.reason_to_skip(datetime.now().astimezone())
        if why:
            rid = ledger.record_skip(store, why, opts.trigger)
            with run_context(rid):
                log.warning("scheduled dream skipped: %s", why)
            return DreamResult(rid, RunStatus.SKIPPED, None, message=f"skipped: {why}")
    with run_context(run_id), DreamLock(store.path, run_id) as lock, _stop_on_signals():
        if lock.took_over:
            log.warning("the previous dream (run %s) died holding the lock; its run is marked interrupted",
                        str(lock.took_over.get("run_id", "?"))[:8])
        log.info("dream started (%s) on %s", opts.trigger, store.path)
        res = _dream(store, settings, opts, run_id)
        log.info("dream finished: %s in %.1fs", res.status, res.duration_s)
        late_days = opts.late_days if opts.late_days is not None else (LATE_DAYS if opts.scheduled else 0)
        if late_days > 0 and res.status in ledger.SUCCESSFUL:
            _dream_late(store, settings, opts, res, late_days)
        return res


LATE_DAYS = 31  # days of late-arriving activity a scheduled dream takes on per run


def _dream_late(store: Store, settings: LLMSettings, opts: DreamOptions, res: DreamResult, limit: int) -> None:
    """Dream, one local day per run, the days before ``res``'s window that hold
    activity no successful dream has seen (an export or a pull with old
    timestamps). Re-dreaming a day is idempotent: its moments are replaced."""
    before = res.plan.window.start if res.plan is not None else datetime.now(UTC)
    with store.read(sandbox=False) as con:
        days = ledger.undreamed_days(con, before)
    if not days:
        return
    log.info("late activity on %d day(s): %s", len(days), ", ".join(f"{d} ({n})" for d, n in days[:10]))
    for day, _n in days[:limit]:
        sub = dataclasses.replace(opts, start=day.isoformat(), end=day.isoformat(), lookback_hours=None,
                                  scheduled=False, trigger="late", late_days=0)
        sub_id = str(uuid.uuid4())
        with run_context(sub_id):
            try:
                r = _dream(store, settings, sub, sub_id)
            except InterruptedRun:
                raise
            except RemError as e:  # recorded in the ledger; the remaining days wait for the next run
                log.warning("dreaming the late activity of %s failed: %s", day, e)
                res.late_error = f"dreaming the late activity of {day} failed: {e}"
                res.late_days_left = len(days) - len(res.late)
                return
        res.late.append(r)
    res.late_days_left = max(0, len(days) - limit)


def _dream(store: Store, settings: LLMSettings, opts: DreamOptions, run_id: str) -> DreamResult:
    try:
        return _dream_window(store, settings, opts, run_id)
    finally:
        ner_imported()  # (the import begun ahead is over before the dream returns, whatever happened)


def _dream_window(store: Store, settings: LLMSettings, opts: DreamOptions, run_id: str) -> DreamResult:
    t0 = time.perf_counter()
    now = datetime.now(UTC)
    store.init()
    ledger.mark_stale(store)
    start, end, lookback = opts.start, opts.end, opts.lookback_hours
    if str(store.settings.section("dream").get("entities", "spacy")).lower() == "spacy":
        import_ahead()  # the entity model's import, while the window is read
    if opts.scheduled and not (opts.start or opts.end):
        start, end, lookback = scheduled_window(store, opts, now)
    p = plan(store, settings, lookback_hours=lookback, start=start, end=end,
             gap_minutes=opts.gap_minutes, max_input_tokens=opts.max_input_tokens)
    base: dict[str, Any] = {"id": run_id, "started_at": now, "window_start": p.window.start, "window_end": p.window.end,
            "trigger": opts.trigger, "provider": settings.provider, "model": settings.model,
            "base_url": settings.base_url or "embedded", "chunks": p.n_chunks,
            "estimated_input_tokens": p.est_input_tokens, "estimated_cost_usd": p.est_cost,
            "metadata": {"pid": os.getpid(), "segments": p.packed.segments.num_rows}}
    res = DreamResult(run_id, RunStatus.RUNNING, p, spool=AnswerSpool(store.path))

    def finish(status: RunStatus, **extra: Any) -> DreamResult:
        res.status = status
        res.duration_s = time.perf_counter() - t0
        try:
            ledger.write(store, {**base, "status": status, "finished_at": datetime.now(UTC),
                                  "duration_s": res.duration_s, "tokens_in": res.usage.tokens_in,
                                  "tokens_out": res.usage.tokens_out, **extra})
        except (duckdb.Error, RemError) as e:
            # e.g. a full disk: the run stays `running` in the ledger and the next dream marks it interrupted
            log.error("could not record the run as %s: %s", status, explain_db_error(e))
        return res

    if p.activity.empty:
        res.message = f"nothing to dream: no activity between {p.window.start:%Y-%m-%d %H:%M} and {p.window.end:%Y-%m-%d %H:%M} UTC"
        return finish(RunStatus.NOTHING_TO_DO, reason=res.message)
    if opts.max_cost is not None and (p.est_cost is None or p.est_cost > opts.max_cost):
        est = "unknown (no price for this model)" if p.est_cost is None else f"${p.est_cost:.4f}"
        res.message = f"estimated cost {est} exceeds --max-cost ${opts.max_cost:.4f}; nothing was sent"
        return finish(RunStatus.SKIPPED, reason=res.message)
    ledger.write(store, {**base, "status": RunStatus.RUNNING})
    log.info("window %s: %d segments in %d chunks, ~%d input tokens, model %s",
             p.window, p.packed.segments.num_rows, p.n_chunks, p.est_input_tokens, settings.model)
    res.timings.update(p.timings)
    with few_full_collections():  # everything made is kept until written: a full collection would free nothing
        return _think_and_write(store, settings, opts, p, res, t0, run_id, base, finish)


def _think_and_write(store: Store, settings: LLMSettings, opts: DreamOptions, p: Plan, res: DreamResult, t0: float,
                     run_id: str, base: dict[str, Any], finish: Callable[..., DreamResult]) -> DreamResult:
    try:
        think(store, settings, opts, p, res, t0)
        resolution = res.resolution
        assert resolution is not None
        res.duration_s = time.perf_counter() - t0
        if res.redactions:
            base["metadata"] = {**base["metadata"], "redacted": dict(res.redactions)}
        row = {**base, "tokens_in": res.usage.tokens_in, "tokens_out": res.usage.tokens_out,
                  "estimated_cost_usd": res.cost if res.cost is not None else p.est_cost,
                  "fallback_moments": resolution.fallback_moments, "dropped_refs": resolution.dropped_refs,
                  "dropped_moments": resolution.dropped_moments + resolution.filtered_moments,
                  "duration_s": res.duration_s, "finished_at": datetime.now(UTC)}
        t_persist = time.perf_counter()
        ahead = SectionAhead()  # the digest's moments, rendered while the rest is written
        try:
            try:
                res.stats = persist(store, run_id=run_id, window=p.window, moments=resolution.moments,
                                    model_edges=resolution.edges, summary=res.summary, ledger_row=row,
                                    review=opts.review, on_moment_rows=ahead.start)
            except BaseException:
                ahead.discard()
                raise
        except DatabaseBusyError as e:
            kept = res.spool.pending() if res.spool else 0
            res.message = (f"{e} The model's {kept} answer(s) are kept in {spool_dir(store.path)}: the next dream of this "
                           "window uses them instead of asking (and paying) again.") if kept else str(e)
            finish(RunStatus.FAILED, error=res.message)
            raise DreamError(f"dream {run_id[:8]} could not write its results: {res.message}") from None
        if res.spool is not None:
            res.spool.settle()
        res.timings["persist"] = time.perf_counter() - t_persist
        res.status = RunStatus.OK
        try:
            res.digest = write_run_digest(store, run_id, section=ahead.result())
        except (OSError, RemError) as e:  # the dream itself is safely written
            log.warning("could not write the run's Markdown digest: %s", e)
        res.duration_s = time.perf_counter() - t0
        return res
    except (LLMError, DreamError) as e:
        res.message = scrub(str(e), settings.api_key)
        log.error("dream failed: %s", res.message)
        finish(RunStatus.FAILED, error=res.message)
        raise DreamError(f"dream {run_id[:8]} failed: {res.message}\nNothing was written; the run is recorded as failed.") from None
    except (KeyboardInterrupt, InterruptedRun) as e:
        res.message = str(e) if isinstance(e, InterruptedRun) else "interrupted by the user (Ctrl-C)"
        log.warning("dream interrupted: %s", res.message)
        finish(RunStatus.INTERRUPTED, reason=res.message + "; nothing was written, the next dream covers this window again")
        raise InterruptedRun(f"dream {run_id[:8]} {res.message}: nothing was written; "
                             "the next dream covers the same activity again",
                             by_signal=not isinstance(e, InterruptedRun) or e.by_signal) from None
    except duckdb.Error as e:
        res.message = scrub(explain_db_error(e), settings.api_key)
        finish(RunStatus.FAILED, error=res.message)
        raise DreamError(f"dream {run_id[:8]} failed: {res.message}") from None
    except Exception as e:
        res.message = scrub(f"{type(e).__name__}: {e}", settings.api_key)
        finish(RunStatus.FAILED, error=res.message)
        raise


def think(store: Store, settings: LLMSettings, opts: DreamOptions, p: Plan, res: DreamResult, t0: float) -> None:
    """The dream's thinking, with the database closed: understand every
    segment (:mod:`rem.understand`), ask the model (unless there is none),
    resolve its answers against the extraction. Fills ``res`` (resolution,
    period summary, usage, cost, timings)."""
    t = time.perf_counter()
    dream_cfg = store.settings.section("dream")
    und = Understanding(p.activity, p.packed, ner=str(dream_cfg.get("entities", "spacy")).lower(),
                        workers=worker_count(dream_cfg.get("workers")),
                        vocabulary=not settings.no_model)  # (what a model's answers are checked against)
    res.timings["understand"] = time.perf_counter() - t
    # every segment is digested (a moment of its own, or the model's candidates): on a large window, several at once
    t = time.perf_counter()
    used = und.prefetch([[g] for g in p.packed.segments.column("ref").to_pylist()])
    res.timings["digest"] = time.perf_counter() - t
    if used > 1:
        log.info("understood %d segments in %d processes in %.1fs (the background of key phrases: %.1fs)",
                 p.packed.segments.num_rows, used, res.timings["digest"], res.timings["understand"])
    answers: list[ChunkAnswer] = []
    summary = ""
    if not settings.no_model:
        t = time.perf_counter()
        answers, summary = _call_model(settings, p, opts, res, store, t0, und)
        res.timings["model"] = time.perf_counter() - t
    t = time.perf_counter()
    resolution = resolve(answers, p.packed, p.activity, understanding=und, moment_types=opts.moment_types,
                         min_duration_minutes=opts.min_duration_minutes, summary_only=opts.summary_only)
    res.timings["resolve"] = time.perf_counter() - t
    res.resolution = resolution
    # the model's period summary is kept when it speaks of the moments' words (read only when there is one)
    res.summary = summary if summary and sound_summary(summary, _moment_words(resolution)) else fallback_summary(resolution.moments)
    _mask_secrets(resolution, res, [settings.api_key, *secret_values()])
    res.cost = settings.estimate_cost(res.usage.tokens_in, res.usage.tokens_out)


def _moment_words(resolution: Resolution) -> frozenset[str]:
    """The content words of every moment's name, summary and tags."""
    return frozenset(w for m in resolution.moments for w in content_words(f"{m.name} {m.summary} {' '.join(m.tags)}"))


def preview(store: Store, settings: LLMSettings, opts: DreamOptions) -> DreamResult:
    """Everything a dream does except writing: plan, understand, ask the
    model, resolve. No ledger row, no lock, nothing persisted (``rem eval``)."""
    t0 = time.perf_counter()
    p = plan(store, settings, lookback_hours=opts.lookback_hours, start=opts.start, end=opts.end,
             gap_minutes=opts.gap_minutes, max_input_tokens=opts.max_input_tokens)
    res = DreamResult("preview", RunStatus.RUNNING, p)
    if not p.activity.empty:
        res.timings.update(p.timings)
        with few_full_collections():
            think(store, settings, opts, p, res, t0)
    res.status = RunStatus.OK if not p.activity.empty else RunStatus.NOTHING_TO_DO
    res.duration_s = time.perf_counter() - t0
    return res


def _mask_secrets(resolution: Resolution, res: DreamResult, secrets: list[str | None]) -> None:
    """A model can echo a key it saw (or was told) back: configured secrets
    never reach the database, a digest or the terminal through its answer."""
    def mask(text: str) -> str:
        return mask_literals(text, secrets, min_len=6)[0]

    said = [f.name for f in schema.fields("moments", "dream") if f.get("edit") in ("name", "text", "list", "lower_list")]
    for m in resolution.moments:  # every text the moment says (the schema's editable text and list fields)
        for name in said:
            v = getattr(m, name)
            setattr(m, name, [mask(x) for x in v] if isinstance(v, list) else mask(v))
    for e in resolution.edges:
        if e.reason:
            e.reason = mask(e.reason)
    res.summary = mask(res.summary)


def _call_model(settings: LLMSettings, p: Plan, opts: DreamOptions, res: DreamResult, store: Store,
                t0: float, und: Understanding) -> tuple[list[ChunkAnswer], str]:
    """Ask the model: per chunk (the moment generator, for capable models) or
    one small question per segment (the moment namer, for small local ones,
    ``[llm] ask``). The extraction's findings go with every question as
    candidates. Returns the answers and the period summary (empty: none)."""
    topics, people = known_names(store)
    watcher = opts.yield_watcher
    redactor = opts.redactor or Redactor.for_endpoint(None if settings.embedded else settings.base_url, store.settings.file,
                                                      [settings.api_key])
    res.redactions = redactor.counts
    with endpoint(settings) as (base_url, model), (watcher or contextlib.nullcontext()):
        # a small model on a busy CPU can need minutes per answer; retrying a local timeout only repeats it
        timeout = max(opts.timeout_s, EMBEDDED_REQUEST_TIMEOUT_S) if settings.embedded else opts.timeout_s
        llm = LLM(settings, base_url, model, timeout_s=timeout, transport_retries=1 if settings.embedded else 3,
                  spool=res.spool)

        def check_yield() -> None:
            why = watcher.reason() if watcher is not None else None
            if why:
                raise InterruptedRun(why)

        def clean(msgs: list[dict[str, str]]) -> list[dict[str, str]]:
            return [{**m, "content": redactor(m["content"])} for m in msgs]

        def debug(what: str, text: str) -> None:
            if opts.debug:
                opts.debug(f"----- {what} -----\n{scrub(text, settings.api_key)}")

        if settings.ask == "segments":
            namer = agentlet.load("moment-namer")
            temperature = float(settings.temperature if settings.temperature is not None else namer["defaults"]["temperature"])
            max_tokens = int(settings.max_output_tokens or namer["defaults"]["max_output_tokens"])
            refs = [s["ref"] for s in p.packed.segments.to_pylist()]

            def one_segment(i: int) -> tuple[int, Any]:
                check_yield()  # between model calls: never cut one in flight
                d = und.digest([refs[i]])
                msgs = clean(prompts.namer_messages(d, p.packed.segments.to_pylist()[i], namer))
                debug(f"prompt, segment {refs[i]}", "\n".join(m["content"] for m in msgs))
                try:
                    reply = llm.constrained(SegmentNote, msgs, temperature=temperature, max_tokens=max_tokens)
                except LLMError as e:  # one unusable answer leaves that segment to the extraction
                    log.warning("segment %s: %s; the extraction describes it", refs[i], e)
                    return i, None
                debug(f"answer, segment {refs[i]}", reply.raw)
                note = reply.value
                draft = MomentDraft(name=note.name, summary=note.summary, moment_type=d.moment_type, refs=[refs[i]])
                return i, Reply(ChunkAnswer(moments=[draft]), reply.usage, reply.raw)

            done = _ask_all(len(refs), one_segment, "dreaming (segments)", opts, res, t0)
            return done, ""
        agent = agentlet.load()
        temperature = float(settings.temperature if settings.temperature is not None else agent["defaults"]["temperature"])
        max_tokens = int(settings.max_output_tokens or agent["defaults"]["max_output_tokens"])
        if settings.embedded:
            # the embedded server has an 8,192-token context: keep prompt + answer inside it
            longest = max((c["est_tokens"] for c in p.packed.chunks.to_pylist()), default=0)
            room = EMBEDDED_CTX - int(longest * 1.3) - 1200
            max_tokens = max(256, min(max_tokens, room))
        chunks = p.packed.chunks.to_pylist()

        def one_chunk(i: int) -> tuple[int, Any]:
            check_yield()  # between model calls: never cut one in flight
            candidates = [und.digest([g]) for g in chunks[i]["segments"].split()]
            msgs = clean(prompts.chunk_messages(chunks[i]["text"], index=i, total=len(chunks), window=p.window,
                                                known_topics=topics, known_people=people, agent=agent,
                                                candidates=candidates))
            debug(f"prompt, chunk {i}", "\n".join(f"[{m['role']}]\n{m['content']}" for m in msgs))
            reply = llm.structured(ChunkAnswer, msgs, temperature=temperature, max_tokens=max_tokens)
            debug(f"answer, chunk {i}", reply.raw)
            return i, reply

        done = _ask_all(len(chunks), one_chunk, "dreaming (chunks)", opts, res, t0)
        summary = done[0].summary if len(done) == 1 else ""
        if len(done) > 1 and not opts.summary_only:
            check_yield()
            # reduce: one summary of the period from the moment summaries
            draft = resolve(done, p.packed, p.activity, understanding=und)
            ms = [{"name": m.name, "summary": m.summary, "start": m.start, "end": m.end} for m in draft.moments]
            try:
                reply = llm.structured(PeriodSummary, clean(prompts.reduce_messages(ms, p.window)),
                                       temperature=temperature, max_tokens=1024)
                res.usage.add(reply.usage)
                summary = reply.value.summary
            except LLMError as e:
                log.warning("the summary step failed (%s); using a summary built from the moments", e)
                summary = ""
        elif opts.summary_only and len(done) > 1:
            summary = " ".join(a.summary for a in done if a.summary)
    return done, summary


def _ask_all(n: int, ask: Callable[[int], tuple[int, Any]], label: str, opts: DreamOptions, res: DreamResult,
             t0: float) -> list[ChunkAnswer]:
    """Run ``ask(i)`` for ``i < n``, ``opts.concurrency`` at a time, with a
    progress bar; stop between calls on the run timeout. The answers in order
    (a ``None`` reply is left out)."""
    answers: list[ChunkAnswer | None] = [None] * n
    deadline = t0 + opts.run_timeout_s if opts.run_timeout_s else None
    pool = ThreadPoolExecutor(max_workers=max(1, min(opts.concurrency, n)))
    finished = False
    try:
        futures = [pool.submit(ask, i) for i in range(n)]
        with Progress(n, label, enabled=opts.progress) as bar:
            try:
                remaining = None if deadline is None else max(0.0, deadline - time.perf_counter())
                for done_n, fut in enumerate(as_completed(futures, timeout=remaining), start=1):
                    i, reply = fut.result()
                    if reply is not None:
                        answers[i] = reply.value
                        res.usage.add(reply.usage)
                    bar.advance()
                    log.info("%s: %d/%d done", label, done_n, n)
            except FuturesTimeout:
                raise InterruptedRun(f"stopped by --timeout ({opts.run_timeout_s:.0f}s)") from None
        finished = True
    finally:
        # on an interruption, do not wait for requests still in flight
        pool.shutdown(wait=finished, cancel_futures=True)
    if deadline is not None and time.perf_counter() > deadline:
        raise InterruptedRun(f"stopped by --timeout ({opts.run_timeout_s:.0f}s)")
    return [a for a in answers if a is not None]
