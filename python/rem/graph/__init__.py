"""The living graph: decay (:mod:`rem.decay`, re-exported here) and the engine that loads edges
into the Rust core to score, traverse and export them (:mod:`.engine`)."""

from ..decay import DEFAULT_HALF_LIVES, DEFAULT_OTHER_HALF_LIFE, STRUCTURAL, half_lives
from .engine import (
    HOT_HALF_LIFE_HOURS,
    LoadedGraph,
    NodeInfo,
    decayed_edges,
    export,
    frontier_traverse,
    keys_of,
    load,
    map_dot,
    neighbourhood_dot,
    node_info,
    prune,
    ranked,
    resolve_start,
    stats,
    traverse,
    traverse_loaded,
    traverse_loaded_rows,
)

__all__ = [
    "DEFAULT_HALF_LIVES", "DEFAULT_OTHER_HALF_LIFE", "STRUCTURAL", "HOT_HALF_LIFE_HOURS", "LoadedGraph", "NodeInfo",
    "decayed_edges", "export", "frontier_traverse", "half_lives", "keys_of", "load", "map_dot", "neighbourhood_dot", "node_info", "prune", "ranked",
    "resolve_start", "stats", "traverse", "traverse_loaded", "traverse_loaded_rows",
]
