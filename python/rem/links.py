"""A moment's links: the one rule that turns a moment into entities and edges.

The dream (:mod:`rem.dream.persist`) and the owner's corrections
(:mod:`rem.corrections`) both write what a moment says as graph links, and
both use this module, so a corrected moment is linked exactly as a dreamed
one:

- ``about`` to each topic entity of its tags, ``involves`` to each person,
  weighing how much they took part (:func:`involvement`);
- ``contains`` to each resource it covers, ``captured_in`` to each session;
- ``related_to`` between every two of its topics.

:func:`entity_row` is the one shape of an entity row, :func:`edge_row` the
one shape of a stored edge row.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from functools import cache, lru_cache
from typing import Any, NamedTuple

from . import schema
from .ids import normalize_key, stable_id

MOMENT_EDGE_TYPES = ("about", "involves", "contains", "captured_in")  # edges whose source is the moment
LINK_OF_KIND = {"topic": "about", "person": "involves"}  # a moment field's entity kind (its ``entity`` role) -> the edge
TOPIC_LINK_REASON = "topics of one moment"
# the metadata of every link between two topics of a moment: one dict, shared and never changed (a dream of
# 100,000 chat turns makes tens of thousands of these links), and its JSON made once
TOPIC_LINK_META: dict[str, Any] = {"reason": TOPIC_LINK_REASON}
TOPIC_LINK_JSON = json.dumps(TOPIC_LINK_META, sort_keys=True)


class Link(NamedTuple):
    """One edge a moment implies."""

    source_id: str
    target_id: str
    edge_type: str
    metadata: dict[str, Any] | None = None
    weight: float = 1.0  # the evidence this moment gives the edge


@lru_cache(maxsize=1 << 16)
def _entity_key(kind: str, name: str) -> tuple[str, str] | None:
    """(id, key) of the entity of ``kind`` named ``name``: a dream's moments name the same topics and people
    again and again (100,000 chat turns: 54,369 names, 6,408 distinct), each folded and hashed once."""
    key = normalize_key(name)
    return (stable_id("entity", kind, key), key) if key else None


def entity_row(kind: str, name: str, now: datetime) -> dict[str, Any] | None:
    """An ``entities`` row for a topic or person named ``name`` (None when it has no key)."""
    found = _entity_key(kind, name)
    if found is None:
        return None
    return {"id": found[0], "key": found[1], "name": name, "kind": kind, "aliases": [],
            "created_at": now, "updated_at": now, "metadata": None}


def edge_row(link: Link, now: datetime, *, generated_by: str, dream_run_id: str | None = None) -> dict[str, Any]:
    """A full ``edges`` row for ``link``, created and reinforced ``now``."""
    return {"source_id": link.source_id, "target_id": link.target_id, "edge_type": link.edge_type, "weight": link.weight,
            "created_at": now, "reinforced_at": now, "reinforcement_count": 1,
            "metadata": metadata_json(link.metadata),
            "generated_by": generated_by, "dream_run_id": dream_run_id}


def metadata_json(meta: dict[str, Any] | None) -> str | None:
    """A link's metadata as stored (sorted JSON), None when it has none."""
    if meta is TOPIC_LINK_META:
        return TOPIC_LINK_JSON
    return json.dumps(meta, sort_keys=True) if meta else None


def involvement(share: float | None) -> float:
    """The weight of a moment's ``involves`` edge: 0.25 for a person only mentioned, up to 1.0 for one who
    wrote every item (``share``: their part of the moment's items; None, unknown: 1.0)."""
    return 1.0 if share is None else round(0.25 + 0.75 * min(1.0, max(0.0, share)), 4)


def _field(m: Mapping[str, Any] | Any, name: str) -> list[str]:
    v = m.get(name) if isinstance(m, Mapping) else getattr(m, name, None)
    return list(v or [])


@cache
def _entity_fields() -> tuple[tuple[str, str, str], ...]:
    """(field, entity kind, edge type) of each moment field naming entities (read from the schema once, not per
    moment)."""
    return tuple((f.name, f["entity"], LINK_OF_KIND[f["entity"]]) for f in schema.fields("moments", "entity"))


def links_of(m: Mapping[str, Any] | Any, now: datetime) -> tuple[list[dict[str, Any]], list[Link]]:
    """The entity rows and links of one moment (a stored row or a resolved
    :class:`~rem.dream.resolve.Moment`): entities merged by id (other
    spellings become aliases), links in a stable order."""
    ents, pairs = links_of_all([m], now)
    return ents, [link for _m, link in pairs]


def links_of_all(moments: Iterable[Mapping[str, Any] | Any], now: datetime) -> tuple[list[dict[str, Any]], list[tuple[Any, Link]]]:
    """:func:`links_of` for many moments: entity rows (one per id, in the order first named; a name spelled
    another way later becomes an alias, in the order met) and (moment, link) pairs. One pass over the names:
    a dream of 100,000 chat turns names 54,369, of 6,408 entities."""
    ents: dict[str, dict[str, Any]] = {}
    pairs: list[tuple[Any, Link]] = []
    fields = _entity_fields()
    for m in moments:
        if isinstance(m, Mapping):
            mid, shares = m["id"], m.get("participation") or {}
        else:
            mid, shares = m.id, getattr(m, "participation", None) or {}
        links = [Link(mid, r, "contains") for r in dict.fromkeys(_field(m, "resource_ids"))]
        links += [Link(mid, s, "captured_in") for s in dict.fromkeys(_field(m, "session_ids"))]
        linked: set[str] = set()  # the entities this moment links to already
        topics: list[str] = []
        for name_field, kind, etype in fields:
            for name in _field(m, name_field):
                found = _entity_key(kind, name)
                if found is None:
                    continue
                eid = found[0]
                have = ents.get(eid)
                if have is None:
                    ents[eid] = entity_row(kind, name, now)  # type: ignore[assignment]  # it has a key: found above
                elif name != have["name"] and name not in have["aliases"]:
                    have["aliases"].append(name)
                if eid not in linked:  # the moment's first spelling weighs the link
                    linked.add(eid)
                    weight = involvement(shares.get(name, 0.0) if shares else None) if kind == "person" else 1.0
                    links.append(Link(mid, eid, etype, None, weight))
                    if kind == "topic":
                        topics.append(eid)
        uniq = sorted(set(topics))
        for i, a in enumerate(uniq):
            links += [Link(a, b, "related_to", TOPIC_LINK_META) for b in uniq[i + 1:]]
        pairs += [(m, link) for link in links]
    return list(ents.values()), pairs
