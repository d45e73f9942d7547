"""Decay: the half-life of every edge type, and the SQL helpers built from it.

An edge's effective weight now is ``weight · 0.5^(age_hours / half_life_hours)``
with age measured from ``reinforced_at`` (never negative: an edge reinforced
"in the future" does not grow). Structural edge types have no half-life and
never decay. The Rust engine computes the same formula when it scores; in
SQL, two temporary macros installed on every connection REM opens give it
at DuckDB's native speed (also in ``rem query``):

- ``rem_decay(weight, reinforced_at, edge_type)``: the effective weight;
- ``rem_half_life_hours(edge_type)``: the table below (NULL = no decay).

Half-lives are overridable per type in the config file (hours, or
``"never"``)::

    [graph.half_life_hours]
    related_to = 168
    about = "never"
"""

from __future__ import annotations

import math
from typing import Any

from .exceptions import ConfigError

# Default half-lives in hours; None = structural, never decays.
DEFAULT_HALF_LIVES: dict[str, float | None] = {
    "contains": None,
    "captured_in": None,
    "authored_by": None,
    "summarizes": None,
    "derived_from": None,
    "related_to": 14 * 24.0,
    "similar_to": 14 * 24.0,
    "follows": 30 * 24.0,
    "about": 30 * 24.0,
    "involves": 30 * 24.0,
}
DEFAULT_OTHER_HALF_LIFE = 30 * 24.0
STRUCTURAL = tuple(t for t, h in DEFAULT_HALF_LIVES.items() if h is None)
_NEVER = ("never", "none")


def _hours(edge_type: str, v: Any) -> float | None:
    if v is None or (isinstance(v, str) and v.strip().lower() in _NEVER):
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
        raise ConfigError(f"[graph.half_life_hours] {edge_type} = {v!r}: use a number of hours > 0, "
                          "or \"never\" for an edge type that does not decay")
    return None if v == 0 else float(v)


def half_lives(cfg: dict[str, Any]) -> tuple[dict[str, float | None], float | None]:
    """(half-life per edge type, half-life of types not listed): the defaults
    with ``[graph.half_life_hours]`` of the settings ``cfg`` applied (the config
    file's: :func:`rem.config.half_lives`). A value that is not a positive
    number or ``"never"`` is a :class:`ConfigError`."""
    graph = cfg.get("graph", {})
    over = graph.get("half_life_hours", {}) if isinstance(graph, dict) else None
    if not isinstance(over, dict):
        raise ConfigError("[graph.half_life_hours] must be a table of edge type = hours")
    hl = dict(DEFAULT_HALF_LIVES)
    for k, v in over.items():
        hl[str(k)] = _hours(str(k), v)
    return hl, DEFAULT_OTHER_HALF_LIFE


def _case(half_lives: dict[str, float | None], other: float | None) -> str:
    arms = []
    for edge_type, hl in sorted(half_lives.items()):
        lit = "NULL" if hl is None or hl <= 0 else repr(float(hl))
        arms.append(f"WHEN '{edge_type.replace(chr(39), chr(39) * 2)}' THEN CAST({lit} AS DOUBLE)")
    other_lit = "NULL" if other is None or other <= 0 else repr(float(other))
    return f"CASE edge_type {' '.join(arms)} ELSE CAST({other_lit} AS DOUBLE) END"


def macro_statements(half_lives: dict[str, float | None], other: float | None = DEFAULT_OTHER_HALF_LIFE) -> list[str]:
    """The ``CREATE TEMP MACRO`` statements for ``rem_half_life_hours`` and ``rem_decay``."""
    return [
        f"CREATE OR REPLACE TEMP MACRO rem_half_life_hours(edge_type) AS {_case(half_lives, other)}",
        """CREATE OR REPLACE TEMP MACRO rem_decay(weight, reinforced_at, edge_type) AS
           CASE WHEN reinforced_at IS NULL OR rem_half_life_hours(edge_type) IS NULL
                THEN weight
                ELSE weight * pow(0.5, greatest(epoch(now()) - epoch(reinforced_at), 0)
                                        / 3600.0 / rem_half_life_hours(edge_type))
           END""",
    ]
