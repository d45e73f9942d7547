"""Review before keep: a dream's moments wait in an inbox until the owner
accepts or rejects them.

With ``[dream] review = true`` (or ``rem dream --review``) a dream writes its
new moments as *pending* (``metadata.pending``): they are shown — marked —
in the journal, the web view and search, but nothing of theirs feeds the
graph (no topic or person links, no summary edges) until they are accepted.
Accepting links them by the dream's own rule (:func:`rem.links.links_of`);
rejecting deletes them as ``rem moments delete`` does, so the next dream does
not propose them again (and ``rem moments undo`` brings one back).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from . import moments
from .corrections import delete, relink, resolve
from .exceptions import CorrectionError
from .store import Store, fetch_arrow, transaction

PENDING = "json_extract(metadata, '$.pending') = 'true'"


@dataclass
class Reviewed:
    accepted: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)

    def line(self) -> str:
        return f"{len(self.accepted)} moment(s) accepted, {len(self.rejected)} rejected"


def pending(store: Store, limit: int = 1000) -> list[dict[str, Any]]:
    """The moments waiting for review, oldest first."""
    with store.read(sandbox=False) as con:
        return fetch_arrow(con, f"""SELECT id, name, start_time, end_time, moment_type, tags, people, summary, dream_run_id
                                   FROM moments WHERE {PENDING} ORDER BY start_time, id LIMIT {int(limit)}""").to_pylist()


def count(store: Store) -> int:
    if not store.path.exists():
        return 0
    with store.read(sandbox=False) as con:
        return int(fetch_arrow(con, f"SELECT count(*) AS n FROM moments WHERE {PENDING}").column("n")[0].as_py())


def _ids(store: Store, refs: Iterable[str], every: bool) -> list[str]:
    if every:
        return [m["id"] for m in pending(store, limit=1_000_000)]
    out = []
    with store.read(sandbox=False) as con:
        for r in refs:
            mid = resolve(con, r)
            if not fetch_arrow(con, f"SELECT count(*) AS n FROM moments WHERE id = $i AND {PENDING}", {"i": mid}).column("n")[0].as_py():
                raise CorrectionError(f"moment {mid[:8]} is not waiting for review (rem review lists those that are)")
            out.append(mid)
    if not out:
        raise CorrectionError("name the moments to review (their ids or first characters), or --all")
    return out


def accept(store: Store, refs: Iterable[str] = (), *, every: bool = False) -> Reviewed:
    """Keep these pending moments: the mark goes, their links are made."""
    ids = _ids(store, refs, every)
    out = Reviewed()
    if not ids:
        return out
    with store.connect() as con, transaction(con):
        moments.accept(con, ids)
        relink(con, ids)
    out.accepted = ids
    return out


def reject(store: Store, refs: Iterable[str] = (), *, every: bool = False) -> Reviewed:
    """Drop these pending moments; later dreams do not propose them again (``rem moments undo`` restores one)."""
    ids = _ids(store, refs, every)
    out = Reviewed()
    for mid in ids:
        delete(store, mid)
        out.rejected.append(mid)
    return out
