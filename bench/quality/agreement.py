"""Does what a moment says about a person read as English? Subject–verb agreement in the dream's summaries and
events of DialogSum's dialogues (read from ``../shared/data`` at run time, never copied here).

The dream retells what each speaker said in the third person ("I mean" → "Jon means", "you look great" →
"Ana looks great"). Here each dialogue's ``#Person1#``/``#Person2#`` are given two of twenty fixed first names
(so a parser reads them as names), the dialogues are dreamed without a model, and spaCy's parser (the pipeline
REM ships for names, ``en_core_web_sm`` 3.8, with its parser) reads every summary and event: a speaker's name
that is the subject (``nsubj``) of a verb in the non-third-person present (``VBP``: "Jon mean", "Ana look") is
counted as an error. A compound subject ("Jon and Ana are") is counted too, though right: the figure is an
upper bound, for comparing versions, not an error rate.

``python bench/quality/agreement.py --split test`` (dev to tune).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dialogues as D  # noqa: E402

NAMES = ["Caroline", "Melanie", "Nadia", "Omar", "Priya", "Tom", "Greta", "Jon", "Gina", "Evan", "Sam", "Joanna",
         "Nate", "Deborah", "Andrew", "Maria", "John", "Tim", "Audrey", "Calvin"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--split", choices=["dev", "test"], default="dev")
    ap.add_argument("--examples", type=int, default=0, help="print this many of the errors")
    a = ap.parse_args()
    import spacy

    from rem.understand.ner import PACKAGE

    ds = D.dialogsum(a.split, None)
    for k, d in enumerate(ds):
        one, two = NAMES[k % 20], NAMES[(k + 7) % 20]
        d["turns"] = [(one if w == "#Person1#" else two, t.replace("#Person1#", one).replace("#Person2#", two))
                      for w, t in d["turns"]]
    with tempfile.TemporaryDirectory(prefix="rem-agreement-") as tmp:
        moments = D.dream_dialogues(ds, Path(tmp))
    ms = [m for d in ds for m in moments[d["id"]]]
    texts = [m.summary for m in ms if m.summary] + [e["text"] if isinstance(e, dict) else e.text
                                                    for m in ms for e in m.events]
    nlp = spacy.load(PACKAGE)
    names, subjects, errors, shown = set(NAMES), 0, 0, []
    for doc in nlp.pipe(texts, batch_size=256):
        for t in doc:
            if t.dep_ == "nsubj" and t.text in names and t.head.pos_ in ("VERB", "AUX"):
                subjects += 1
                if t.head.tag_ == "VBP":
                    errors += 1
                    if len(shown) < a.examples:
                        shown.append(f"{t.text} {t.head.text}: {t.sent.text[:120]}")
    out = {"split": a.split, "texts": len(texts), "name_subjects": subjects, "non_third_person_verbs": errors,
           "share": round(errors / subjects, 4) if subjects else None}
    print(json.dumps(out, indent=2))
    print("\n".join(shown), file=sys.stderr)


if __name__ == "__main__":
    main()
