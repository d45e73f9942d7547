"""The dream's invariant, under any interleaving (issue 21, generalized): after any sequence of ingest, late
ingest, dreams, corrections, undo and revert, in several time zones (DST days included), every message of a
dreamed local day belongs to exactly one moment — unless the owner deleted the moment that held it — and no
message ever belongs to two."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from rem import corrections
from rem.config import resolve_llm
from rem.days import day_window
from rem.dream.revert import revert
from rem.dream.run import DreamOptions, dream
from rem.ingest import ingest_chat
from rem.store import Store
from support import FULL, q

pytestmark = pytest.mark.slow  # a state machine over real dreams: make test runs it, the quick loop does not

NONE = resolve_llm(model="none", file_cfg={}, env={})
# the days around a fall-back night in each zone: the last hour of the long day is the classic loss
ZONES = {"America/New_York": date(2026, 10, 31), "Europe/Berlin": date(2026, 10, 24), "UTC": date(2026, 10, 31)}
TEXTS = ["Fixed the flaky checkout test", "Planned the release notes", "Talked to Ana about the garden",
         "Booked the dentist for Friday", "Reviewed the parser patch", "Went running by the river"]


def _machine(zone: str, tmp: Path) -> type[RuleBasedStateMachine]:
    first = ZONES[zone]
    days = [first + timedelta(days=i) for i in range(3)]

    class Dreams(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.n = 0
            self.dir = tmp / f"m{id(self)}"
            self.dir.mkdir(parents=True, exist_ok=True)
            self.store = Store(self.dir / "rem.duckdb")
            self.store.init()
            self.dreamed: set[date] = set()
            self.runs: list[str] = []

        def _ingest(self, day: date, minute: int, session: int, k: int) -> None:
            start, end = day_window(day)
            at = min(start + timedelta(minutes=minute), end - timedelta(seconds=1))
            self.n += 1
            rows = [{"session": f"s{session}", "role": "user", "id": f"m{self.n}-{i}", "content": TEXTS[(k + i) % len(TEXTS)],
                     "created_at": (at + timedelta(minutes=2 * i)).astimezone(UTC).isoformat()} for i in range(3)]
            path = self.dir / f"in{self.n}.jsonl"
            path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
            ingest_chat(self.store, path)

        @rule(day=st.sampled_from(days), minute=st.sampled_from([0, 90, 600, 1380, 1439, 1470, 1490]),
              session=st.integers(0, 2), k=st.integers(0, 5))
        def ingest(self, day: date, minute: int, session: int, k: int) -> None:
            self._ingest(day, minute, session, k)

        @rule(day=st.sampled_from(days), minute=st.integers(0, 1500), k=st.integers(0, 5))
        def late_ingest_into_a_dreamed_day(self, day: date, minute: int, k: int) -> None:
            self._ingest(day, minute, 0, k)

        @rule(day=st.sampled_from(days))
        def dream_day(self, day: date) -> None:
            r = dream(self.store, NONE, DreamOptions(start=day.isoformat(), end=day.isoformat(), lookback_hours=None,
                                                       progress=False))
            self.dreamed.add(day)
            if r.status == "ok":
                self.runs.append(r.run_id)

        @precondition(lambda self: bool(self.dreamed))
        @rule(pick=st.integers(0, 50), what=st.sampled_from(["edit", "delete", "pin", "split", "undo"]))
        def correct(self, pick: int, what: str) -> None:
            ids = [r[0] for r in q(self.store, "select id from moments order by start_time, id")]
            if not ids:
                return
            mid = ids[pick % len(ids)]
            try:
                if what == "edit":
                    corrections.edit(self.store, mid, name=f"Corrected {pick}", tags="garden,release")
                elif what == "delete":
                    corrections.delete(self.store, mid)
                elif what == "pin":
                    corrections.pin(self.store, mid)
                elif what == "split":
                    s, e = q(self.store, f"select start_time, end_time from moments where id = '{mid}'")[0]
                    corrections.split(self.store, mid, s + (e - s) / 2)
                else:
                    corrections.undo(self.store, mid)
            except corrections.CorrectionError:
                pass  # a split of a zero-length moment, nothing to undo, later edits first: refused, nothing changed

        @precondition(lambda self: bool(self.runs))
        @rule(pick=st.integers(0, 20))
        def revert_a_run(self, pick: int) -> None:
            from rem.exceptions import RemError

            try:
                revert(self.store, self.runs[pick % len(self.runs)])
            except RemError:
                pass  # refused (already reverted, or a later run changed the same moments): nothing changed

        @invariant()
        def every_item_in_exactly_one_moment(self) -> None:
            owners: dict[str, int] = {}
            for (msgs,) in q(self.store, "select message_ids from moments"):
                for m in msgs or []:
                    owners[m] = owners.get(m, 0) + 1
            assert all(n == 1 for n in owners.values()), {m: n for m, n in owners.items() if n > 1}
            deleted: set[str] = set()
            for (before,) in q(self.store, "select before from moment_edits where kind = 'delete' and undone_at is null"):
                for m in json.loads(before or "[]"):
                    deleted.update(m.get("message_ids") or [])
            for day in self.dreamed:
                s, e = day_window(day)
                # dreamed after they arrived: the last dream of the day started after the message was stored
                last = q(self.store, f"""select max(started_at) from dream_runs where status = 'ok'
                                         and window_start <= '{s.isoformat()}' and window_end >= '{e.isoformat()}'""")[0][0]
                if last is None:
                    continue
                msgs = [r[0] for r in q(self.store, f"""select id from messages where created_at >= '{s.isoformat()}'
                                                        and created_at < '{e.isoformat()}' and ingested_at < '{last.isoformat()}'""")]
                lost = [m for m in msgs if m not in owners and m not in deleted]
                assert not lost, (day, lost)

    return Dreams


@pytest.mark.parametrize("zone", sorted(ZONES))
def test_every_item_of_a_dreamed_day_is_in_exactly_one_moment(zone, tmp_path, isolated, monkeypatch, tally):
    from support import scale

    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        machine = _machine(zone, tmp_path)
        machine.TestCase.settings = settings(max_examples=int(os.environ.get("REM_INVARIANT_EXAMPLES") or scale(4, 60)),
                                             stateful_step_count=scale(8, 25), deadline=None,
                                             database=None, suppress_health_check=list(HealthCheck))
        machine.TestCase().runTest()
        tally(f"dream invariant: every item of a dreamed day in exactly one moment ({zone}, ingest, late ingest, "
              "dreams, corrections, undo, revert)", scale(4, 60), scale(4, 60))
    finally:
        monkeypatch.undo()
        time.tzset()


assert FULL in (True, False)
