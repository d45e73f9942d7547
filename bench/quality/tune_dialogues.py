"""Choose the conversation-split parameters (``rem_core::segment::RefineOptions::conversation``) on the
tuning splits only: SuperDialseg validation and TIAGE dev. Every dialogue is ingested and collected as
the dream does; each candidate is applied through ``pack`` (the dream's segmenter: without a model every
segment is one moment) and scored with Pk (nltk, k = half the mean reference segment length).
Prints the candidates, best first. TIAGE test and DialogSum are not read."""

from __future__ import annotations

import itertools
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from statistics import mean

from nltk.metrics.segmentation import pk

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dialogues as D  # noqa: E402

from rem.dream.collect import collect, pack  # noqa: E402
from rem.dream.window import Window  # noqa: E402
from rem.ingest import ingest_chat  # noqa: E402
from rem.store import Store  # noqa: E402


def prepared(ds: list[dict], tmp: Path):
    path = tmp / "chat.jsonl"
    import json
    with path.open("w", encoding="utf-8") as f:
        for n, d in enumerate(ds):
            start = D.DAY0 + timedelta(days=n)
            d["message_ids"] = [f"{d['id']}-{i:03d}" for i in range(len(d["turns"]))]
            for i, (who, text) in enumerate(d["turns"]):
                f.write(json.dumps({"session": d["id"], "role": "user", "speaker": who, "content": text or "…",
                                    "id": d["message_ids"][i], "created_at": (start + timedelta(minutes=i)).isoformat()}) + "\n")
    store = Store(tmp / "t.duckdb")
    ingest_chat(store, path)
    return collect(store, Window(D.DAY0, D.DAY0 + timedelta(days=len(ds))))


def score(ds: list[dict], act, conv) -> float:
    p = pack(act, conversation=conv)
    seg_of = dict(zip(p.items["id"].to_pylist(), p.items["segment"].to_pylist(), strict=True))
    k = 2
    out = []
    for d in ds:
        segs = [seg_of.get(m) for m in d["message_ids"]]
        hyp = "0" + "".join("1" if segs[i] != segs[i - 1] else "0" for i in range(1, len(segs)))
        ref = "".join(d["labels"])
        if len(ref) > k:
            out.append(pk(ref, hyp, k=k, boundary="1"))
    return mean(out)


def main() -> None:
    with tempfile.TemporaryDirectory() as t1, tempfile.TemporaryDirectory() as t2:
        sd, ti = D.superdialseg(None), D.tiage("dev", None)
        a, b = prepared(sd, Path(t1)), prepared(ti, Path(t2))
        rows = []
        for w, depth, items, cue, split in itertools.product((2, 3, 4), (0.5, 0.6, 0.7, 0.8, 1.0), (2, 3),
                                                              (0.5, 1.0), (6, 8, 10)):
            conv = (w, depth, items, cue, 1, split)
            x, y = score(sd, a, conv), score(ti, b, conv)
            rows.append(((x + y) / 2, x, y, conv))
        for r in sorted(rows)[:15]:
            print(f"mean {r[0]:.4f}  superdialseg {r[1]:.4f}  tiage-dev {r[2]:.4f}  {r[3]}")


if __name__ == "__main__":
    main()
