"""SQL helpers installed on every REM connection.

``rem_decay(weight, reinforced_at, edge_type)`` returns an edge's effective
weight now: ``weight · 0.5^(age_hours / half_life_hours)`` with age measured
from ``reinforced_at`` (never negative: an edge reinforced "in the future"
does not grow). Structural edge types have no half-life and never decay.
``rem_half_life_hours(edge_type)`` exposes the table below (NULL = no decay).
Both are DuckDB macros, so they run at DuckDB's native speed in ``rem query``.
"""

from __future__ import annotations

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


def _case(half_lives: dict[str, float | None], other: float | None) -> str:
    arms = []
    for edge_type, hl in sorted(half_lives.items()):
        lit = "NULL" if hl is None or hl <= 0 else repr(float(hl))
        arms.append(f"WHEN '{edge_type.replace(chr(39), chr(39) * 2)}' THEN CAST({lit} AS DOUBLE)")
    other_lit = "NULL" if other is None or other <= 0 else repr(float(other))
    return f"CASE edge_type {' '.join(arms)} ELSE CAST({other_lit} AS DOUBLE) END"


def macro_statements(
    half_lives: dict[str, float | None] | None = None, other: float | None = DEFAULT_OTHER_HALF_LIFE
) -> list[str]:
    hl = dict(DEFAULT_HALF_LIVES)
    if half_lives is None:
        from .config import load_file

        try:
            over = load_file().get("graph", {}).get("half_life_hours", {})
        except Exception:  # a broken config file is reported by the commands that need it
            over = {}
        half_lives = {str(k): (None if v in (None, 0, "none", "never") else float(v)) for k, v in over.items()}
    hl.update(half_lives)
    return [
        f"CREATE OR REPLACE TEMP MACRO rem_half_life_hours(edge_type) AS {_case(hl, other)}",
        """CREATE OR REPLACE TEMP MACRO rem_decay(weight, reinforced_at, edge_type) AS
           CASE WHEN reinforced_at IS NULL OR rem_half_life_hours(edge_type) IS NULL
                THEN weight
                ELSE weight * pow(0.5, greatest(epoch(now()) - epoch(reinforced_at), 0)
                                        / 3600.0 / rem_half_life_hours(edge_type))
           END""",
    ]
