"""Stubs of REM's native module (Rust, via pyo3). Checked by mypy.stubtest."""

from typing import final

import pyarrow as pa

__all__ = ["pack_activity", "estimate_tokens", "topic_shifts", "rank_phrases", "Graph", "VectorIndex", "StaticEmbedder", "CueCounter", "LiteralSet", "PhraseReader", "Valence", "RuleSet", "EntityParser", "merge_edges", "to_dot", "__version__"]

__version__: str

def pack_activity(
    resources: pa.RecordBatch,
    sessions: pa.RecordBatch,
    messages: pa.RecordBatch,
    *,
    gap_minutes: float = 30.0,
    max_input_tokens: int = 6000,
    max_item_chars: int = 1200,
    tool_max_chars: int = 60,
    topic_segments: bool = True,
    topic_window: int = 5,
    topic_min_depth: float = 0.55,
    conversation: tuple[int, float, int, float, int, int] | None = None,
) -> tuple[pa.RecordBatch, pa.RecordBatch, pa.RecordBatch]: ...
def estimate_tokens(text: str) -> int: ...
def topic_shifts(
    texts: list[str], *, window: int = 5, min_depth: float = 0.55, min_items: int = 4, cue_weight: float = 0.25,
    cue_back: int = 2,
) -> list[int]: ...
def rank_phrases(
    keys: list[str],
    support: list[float],
    known: list[bool],
    key_df: list[int],
    word_df: list[int],
    n: int,
    limit: int,
    floor: float,
) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]: ...
def merge_edges(
    batch: pa.RecordBatch,
    stored: pa.RecordBatch,
    half_lives: dict[str, float | None],
    default_half_life: float | None,
    now_us: int,
) -> tuple[pa.RecordBatch, pa.RecordBatch]: ...
def to_dot(nodes: pa.RecordBatch, edges: pa.RecordBatch, top_n: int | None = None, name: str = "rem") -> str: ...

@final
class Graph:
    def __new__(
        cls,
        edges: pa.RecordBatch | pa.Table,
        half_lives: dict[str, float | None],
        default_half_life: float | None,
        now_us: int,
        hot_half_life: float = 24.0,
    ) -> Graph: ...
    @property
    def node_count(self) -> int: ...
    @property
    def edge_count(self) -> int: ...
    def scores(self, damping: float = 0.85, tol: float = 1e-06, max_iter: int = 100) -> tuple[pa.RecordBatch, int]: ...
    def traverse(
        self,
        starts: list[int],
        depth: int = 2,
        edge_types: list[str] = ...,
        direction: str = "both",
        min_weight: float = 0.0,
    ) -> pa.RecordBatch: ...
    def pagerank(self, damping: float = 0.85, tol: float = 1e-06, max_iter: int = 100) -> tuple[pa.Array, int]: ...
    def clustering(self) -> pa.Array: ...
    def components(self) -> int: ...
    def effective_weights(self) -> pa.Array: ...
    def keys(self) -> pa.Array: ...

@final
class VectorIndex:
    def __new__(cls, dim: int) -> VectorIndex: ...
    def add(self, batch: pa.RecordBatch, column: str = "vector") -> int: ...
    def add_quantized(self, batch: pa.RecordBatch, codes: str = "vector", scale: str = "scale") -> int: ...
    def search(self, query: list[float], k: int, allowed: list[bool] | None = None) -> tuple[list[int], list[float]]: ...
    def __len__(self) -> int: ...
    @property
    def memory(self) -> int: ...
    @property
    def dim(self) -> int: ...

@final
class StaticEmbedder:
    def __new__(cls, tokenizer: bytes, table: bytes, dim: int) -> StaticEmbedder: ...
    def embed(self, texts: list[str]) -> bytes: ...
    @property
    def dim(self) -> int: ...

@final
class CueCounter:
    def __new__(cls, patterns: list[str]) -> CueCounter: ...
    def count(self, text: str) -> list[int] | None: ...

@final
class LiteralSet:
    def __new__(cls, words: list[str]) -> LiteralSet: ...
    def holds(self, texts: list[str]) -> list[bool]: ...

@final
class RuleSet:
    def __new__(cls, patterns: list[str]) -> RuleSet: ...
    def may_match(self, texts: list[str]) -> list[int]: ...

@final
class EntityParser:
    def __new__(
        cls,
        hidden: int,
        pieces: int,
        pad: list[float],
        bias: list[float],
        upper_w: list[float],
        upper_b: list[float],
        seen: list[bool],
        moves: list[tuple[str, int]],
    ) -> EntityParser: ...
    def parse(self, features: pa.Array, lengths: pa.Array, space: pa.Array) -> list[tuple[int, int, int, int]]: ...

@final
class Valence:
    def __new__(
        cls,
        lexicon: list[tuple[str, float]],
        boosters: list[tuple[str, float]],
        negate: list[str],
        special: list[tuple[str, float]],
        c_incr: float,
        n_scalar: float,
    ) -> Valence: ...
    def compound(self, texts: list[str]) -> list[float | None]: ...

@final
class PhraseReader:
    def __new__(cls, stopwords: list[str]) -> PhraseReader: ...
    def candidates(
        self, texts: list[str], weights: list[float]
    ) -> tuple[list[str], list[float], list[str], list[tuple[str, str]]] | None: ...
    def keys(self, text: str) -> list[str] | None: ...
    def vocabulary(self, texts: list[str]) -> list[str] | None: ...
    def central(self, sentences: list[str], key_words: list[str], limit: int) -> list[int] | None: ...
