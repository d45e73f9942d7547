"""Topic shifts inside one conversation, without timestamps: TIAGE.

TIAGE (MIT; ../shared/data/tiage, or --data) labels every turn of 200
PersonaChat dialogues with whether it starts a new topic. We compare, by Pk
and WindowDiff (nltk's implementations; lower is better):

- REM's segmenter (``rem._rem.topic_shifts``: lexical cohesion plus the
  "new question" cue, the one dreams use inside long segments), its
  parameters tuned on dev;
- nltk's TextTiling (its ``w`` and ``k`` tuned on dev, our stopword list, so
  nothing is downloaded);
- the trivial baselines: no shift at all, and a shift at every turn.

k for Pk/WindowDiff is half the mean reference segment length of the
split (one k for all dialogues); scores are averaged over dialogues.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path
from statistics import mean

from nltk.metrics.segmentation import pk, windowdiff

from rem import _rem
from rem.understand.text import STOPWORDS

ROOT = Path(__file__).resolve().parents[2]


def load(path: Path) -> list[tuple[list[str], str]]:
    """(turns, reference boundary string) per dialogue."""
    out = []
    for turns in json.loads(path.read_text(encoding="utf-8")).values():
        texts = [t[0] for t in turns]
        ref = "".join("1" if t[1] == "1" else "0" for t in turns[1:])
        out.append((texts, ref))
    return out


def k_of(data: list[tuple[list[str], str]]) -> int:
    turns = sum(len(t) for t, _ in data)
    segments = sum(r.count("1") + 1 for _, r in data)
    return max(2, round(turns / segments / 2))


def score(data: list[tuple[list[str], str]], predict, k: int) -> tuple[float, float]:
    pks, wds = [], []
    for texts, ref in data:
        hyp = predict(texts)
        if len(ref) <= k:
            continue
        pks.append(pk(ref, hyp, k=k, boundary="1"))
        wds.append(windowdiff(ref, hyp, k, boundary="1"))
    return mean(pks), mean(wds)


def rem_predict(window: int, depth: float, items: int, cue: float = 0.0, back: int = 2):
    def f(texts: list[str]) -> str:
        cuts = set(_rem.topic_shifts(texts, window=window, min_depth=depth, min_items=items, cue_weight=cue, cue_back=back))
        return "".join("1" if i in cuts else "0" for i in range(1, len(texts)))
    return f


def texttiling_predict(w: int, k: int):
    from nltk.tokenize.texttiling import TextTilingTokenizer

    tt = TextTilingTokenizer(w=w, k=k, stopwords=sorted(STOPWORDS))

    def f(texts: list[str]) -> str:
        try:
            parts = tt.tokenize("\n\n".join(texts) + "\n\n")
        except (ValueError, ZeroDivisionError, IndexError):
            return "0" * (len(texts) - 1)
        cuts, seen = set(), 0
        for p in parts[:-1]:
            seen += p.strip("\n").count("\n\n") + 1
            cuts.add(seen)
        return "".join("1" if i in cuts else "0" for i in range(1, len(texts)))
    return f


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "tiage")
    ap.add_argument("--out", type=Path, help="write the results as JSON")
    a = ap.parse_args()
    dev, test = load(a.data / "anno_dev.json"), load(a.data / "anno_test.json")
    kd, kt = k_of(dev), k_of(test)
    lexical = min(((score(dev, rem_predict(w, d, m), kd)[0], (w, d, m)) for w, d, m in
                   itertools.product([1, 2, 3, 4], [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8], [1, 2, 3, 4])))
    best_rem = min(((score(dev, rem_predict(w, d, m, c, b), kd)[0], (w, d, m, c, b)) for w, d, m, c, b in
                    itertools.product([1, 2, 3], [0.3, 0.5, 0.8, 1.2], [1, 2, 3], [0.5, 1.0, 1.5], [1, 2, 3])))
    best_tt = min(((score(dev, texttiling_predict(w, k), kd)[0], (w, k)) for w, k in
                   itertools.product([4, 6, 8, 10, 15, 20], [1, 2, 3, 4, 5])))
    rows = {
        "REM: lexical cohesion + new-question cue (tuned on dev: window {}, min_depth {:.2f}, min_items {}, "
        "cue_weight {:.1f}, cue_back {})".format(*best_rem[1]): score(test, rem_predict(*best_rem[1]), kt),
        "REM: lexical cohesion alone (tuned on dev: window {}, min_depth {:.2f}, min_items {})".format(*lexical[1]):
            score(test, rem_predict(*lexical[1]), kt),
        "nltk TextTiling (tuned on dev: w {}, k {})".format(*best_tt[1]): score(test, texttiling_predict(*best_tt[1]), kt),
        "baseline: no shift": score(test, lambda t: "0" * (len(t) - 1), kt),
        "baseline: a shift at every turn": score(test, lambda t: "1" * (len(t) - 1), kt),
    }
    print(f"TIAGE test: {len(test)} dialogues, k = {kt}")
    print("| segmenter | Pk ↓ | WindowDiff ↓ |\n|---|---:|---:|")
    for name, (p, w) in rows.items():
        print(f"| {name} | {p:.3f} | {w:.3f} |")
    if a.out:
        a.out.write_text(json.dumps({"k": kt, "dialogues": len(test), "rows": {n: {"pk": p, "windowdiff": w}
                                                                               for n, (p, w) in rows.items()}}, indent=2))


if __name__ == "__main__":
    sys.exit(main())
