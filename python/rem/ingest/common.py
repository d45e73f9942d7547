"""Shared ingest machinery: batching, the one transactional write per input,
and the summary line. Values are parsed by :mod:`rem.values`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .. import edges, entities, resources
from .. import moments as moment_table
from ..exceptions import IngestError
from ..ids import normalize_key, stable_id
from ..store import (
    INGESTED_AT,
    Connection,
    Store,
    UpsertCounts,
    arrow_rows,
    execute,
    fetch_rows,
    id_table,
    registered,
    transaction,
    upsert,
)


@dataclass
class Batch:
    """Rows of one input, written in one transaction by :func:`write`."""

    resources: list[dict[str, Any]] = field(default_factory=list)
    sessions: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    entities: list[dict[str, Any]] = field(default_factory=list)
    edges: list[dict[str, Any]] = field(default_factory=list)
    # sessions whose messages this input holds in full (a ChatGPT conversation's current branch): stored
    # messages of theirs that it no longer holds (an edited message's old branch) are removed
    whole_sessions: set[str] = field(default_factory=set)
    # message id -> the id an older REM gave the same message (naive timestamps): when a row is stored under the
    # older id, the message keeps it (no copy of every message after upgrading)
    legacy_ids: dict[str, str] = field(default_factory=dict)

    def person(self, name: str, *, when: datetime, email: str | None = None) -> str:
        """Add (or re-add) a person entity; returns its id."""
        key = normalize_key(name) or normalize_key(email or "") or "unknown"
        eid = stable_id("entity", "person", key)
        meta = {"email": email} if email else None
        self.entities.append(
            {"id": eid, "key": key, "name": name.strip() or (email or "unknown"), "kind": "person",
             "aliases": [], "created_at": when, "updated_at": when, "metadata": meta}
        )
        return eid

    def edge(self, source_id: str, target_id: str, edge_type: str, when: datetime, *, generated_by: str = "ingest") -> None:
        self.edges.append(
            {"source_id": source_id, "target_id": target_id, "edge_type": edge_type, "weight": 1.0,
             "created_at": when, "reinforced_at": when, "reinforcement_count": 1,
             "metadata": None, "generated_by": generated_by, "dream_run_id": None}
        )

    def speaker(self, session_id: str, name: str, when: datetime) -> None:
        """A named speaker of a session: a person entity and a session→person ``involves`` edge."""
        self.edge(session_id, self.person(name, when=when), "involves", when)

    def __len__(self) -> int:
        return len(self.resources) + len(self.sessions) + len(self.messages)


def _forget_removed(con: Connection, ids: list[str], sessions: set[str]) -> int:
    """What REM made of messages just removed from their conversation (``ids``, of ``sessions``), inside the
    caller's transaction. The moments listing them, unless the owner corrected or pinned them: one made of them
    alone goes, with its edges and the entities it named that nothing but other entities links to any more; the
    others no longer list them, and their turns left are stamped (``ingested_at``),
    so a scheduled dream makes their days again and replaces them (their summaries may say what was removed).
    Edges to the removed messages go. Their sessions are stamped: what reads a session's turns together (the search
    index: a turn's neighbours, the reply it was embedded with) reads them again though none of them changed.
    Returns how many moments went."""
    lost = set(ids)
    with registered(con, "_rem_lost_messages", id_table(sorted(lost))) as v, \
            registered(con, "_rem_lost_sessions", id_table(sorted(sessions))):
        edges.delete_touching(con, v)
        execute(con, f'UPDATE sessions SET "{INGESTED_AT}" = now() WHERE id IN (SELECT id FROM _rem_lost_sessions)')
        hit = fetch_rows(con, f"""SELECT id, coalesce(message_ids, []), coalesce(resource_ids, []) FROM moments
                                  WHERE list_has_any(message_ids, (SELECT list(id) FROM {v}))
                                    AND NOT coalesce(CAST(json_extract(metadata, '$.fixed') AS BOOLEAN), FALSE)""")
    alone = [mid for mid, msgs, res in hit if not res and all(i in lost for i in msgs)]
    if alone:
        with registered(con, "_rem_alone", id_table(alone)) as a:
            # the people, places and topics those moments named: gone with them when nothing else names them
            named = [r[0] for r in fetch_rows(con, f"""SELECT e.id FROM entities e WHERE e.id IN (
                SELECT target_id FROM edges WHERE source_id IN (SELECT id FROM {a})
                UNION SELECT source_id FROM edges WHERE target_id IN (SELECT id FROM {a}))""")]
        moment_table.delete(con, alone)
        # one left linked to other entities only (what the removed turns said it was related to) is not grounded in
        # anything REM holds any more: it goes with those links
        ungrounded = [eid for eid in named if not fetch_rows(con, """SELECT 1 FROM edges e
            WHERE (e.source_id = $id AND e.target_id NOT IN (SELECT id FROM entities))
               OR (e.target_id = $id AND e.source_id NOT IN (SELECT id FROM entities)) LIMIT 1""", {"id": eid})]
        if ungrounded:
            with registered(con, "_rem_ungrounded", id_table(ungrounded)) as u:
                edges.delete_touching(con, u)
        for eid in named:
            entities.delete_unused(con, eid)
    left = {mid: [i for i in msgs if i not in lost] for mid, msgs, _res in hit if mid not in set(alone)}
    for mid, msgs in left.items():
        moment_table.drop_messages(con, mid, msgs)
    stamped = sorted({i for msgs in left.values() for i in msgs})
    if stamped:
        with registered(con, "_rem_stamped", id_table(stamped)):
            execute(con, f'UPDATE messages SET "{INGESTED_AT}" = now() WHERE id IN (SELECT id FROM _rem_stamped)')
    # a moment of some notes or commits and removed turns only: its notes are stamped instead
    resources.stamp(con, sorted({r for mid, _msgs, res in hit if mid in left and not left[mid] for r in res}))
    return len(alone)


@dataclass
class IngestReport:
    added: int = 0
    updated: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)  # inputs refused (malformed): named, the rest written
    passed_over: list[str] = field(default_factory=list)  # files deliberately not read (links out, FIFOs, too big)
    per_table: dict[str, UpsertCounts] = field(default_factory=dict)
    removed: int = 0  # messages no longer in their conversation (an edited message's old branch)
    moments_removed: int = 0  # moments made of nothing but such messages
    skipped_records: dict[str, int] = field(default_factory=dict)  # records of kinds REM does not use, by kind

    def add(self, table_name: str, c: UpsertCounts) -> None:
        self.per_table.setdefault(table_name, UpsertCounts())
        self.per_table[table_name] += c
        if table_name in ("resources", "sessions", "messages"):
            self.added += c.added
            self.updated += c.updated
            self.skipped += c.skipped

    def line(self) -> str:
        parts = []
        for name in ("resources", "sessions", "messages", "entities"):
            c = self.per_table.get(name)
            if c and (c.added or c.updated or c.skipped):
                parts.append(f"{name}: {c.added} added, {c.updated} updated, {c.skipped} unchanged")
        s = "; ".join(parts) if parts else "nothing to ingest"
        if self.removed:
            s += f"; {self.removed} message(s) removed (no longer in their conversation: an edited message's old branch)"
        if self.moments_removed:
            s += f", and {self.moments_removed} moment(s) made of them alone"
        if self.errors:
            s += f"; {len(self.errors)} input(s) refused"
        if self.passed_over:
            s += f"; {len(self.passed_over)} file(s) passed over"
        if self.skipped_records:
            kinds = sorted(self.skipped_records.items(), key=lambda kv: (-kv[1], kv[0]))
            s += (f"; {sum(self.skipped_records.values())} record(s) REM does not use skipped ("
                  + ", ".join(f"{k} {v}" for k, v in kinds) + ")")
        return s


def write(store: Store, batch: Batch, report: IngestReport | None = None) -> IngestReport:
    """Write one input's rows in a single transaction (all or nothing).

    Messages must reference a session in the batch or already stored.
    """
    report = report or IngestReport()
    with store.connect() as con:
        if batch.messages:
            known = {s["id"] for s in batch.sessions}
            missing = {m["session_id"] for m in batch.messages} - known
            if missing:
                with registered(con, "_rem_sids", id_table(sorted(missing))):
                    found = {r[0] for r in fetch_rows(con, "SELECT s.id FROM sessions s SEMI JOIN _rem_sids x ON s.id = x.id")}
                for m in batch.messages:
                    if m["session_id"] not in found and m["session_id"] not in known:
                        raise IngestError(
                            f"session {m['session_id']!r} does not exist; ingest its session first "
                            "(rem ingest jsonl FILE --kind sessions) or include it",
                            source=m.get("_source", ""),
                            field="session_id",
                        )
        if batch.legacy_ids:
            with registered(con, "_rem_legacy", id_table(sorted(set(batch.legacy_ids.values())))):
                stored = {r[0] for r in fetch_rows(con, "SELECT m.id FROM messages m SEMI JOIN _rem_legacy x ON m.id = x.id")}
            for m in batch.messages:
                old = batch.legacy_ids.get(m["id"])
                if old in stored:
                    m["id"] = old
        with transaction(con):
            for name, rows in (("sessions", batch.sessions), ("resources", batch.resources),
                               ("messages", batch.messages), ("entities", batch.entities)):
                if rows:
                    clean = [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]
                    if name == "entities":
                        report.add(name, entities.upsert(con, clean))
                    elif name == "resources":
                        report.add(name, resources.upsert(con, arrow_rows(name, clean)))
                    else:  # sessions and messages: this module is their one writer
                        report.add(name, upsert(con, name, arrow_rows(name, clean)))
            if batch.edges:
                edges.insert_missing(con, batch.edges)
            if batch.whole_sessions:
                keep = id_table(sorted({m["id"] for m in batch.messages if m["session_id"] in batch.whole_sessions}))
                with registered(con, "_rem_whole", id_table(sorted(batch.whole_sessions))), \
                        registered(con, "_rem_keep", keep):
                    gone = fetch_rows(con, """DELETE FROM messages WHERE session_id IN (SELECT id FROM _rem_whole)
                                              AND id NOT IN (SELECT id FROM _rem_keep) RETURNING id, session_id""")
                if gone:
                    report.removed += len(gone)
                    report.moments_removed += _forget_removed(con, [i for i, _sid in gone], {sid for _i, sid in gone})
    return report


