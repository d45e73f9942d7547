"""DOT export speed: 100,000 edges with labels, REM's Rust writer against a
Python string join (what a user would write) — same nodes, labels, styles.
Writes bench/results/dot.json."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import pyarrow as pa

from rem import _rem

HERE = Path(__file__).resolve().parent


def main(n_nodes: int = 20_000, n_edges: int = 100_000, repeat: int = 7) -> None:
    ids = [f"node-{i}" for i in range(n_nodes)]
    labels = [f'Moment "{i}" \\ on DiskANN\nline two ü' for i in range(n_nodes)]
    kinds = ["moment", "resource", "session", "topic", "person"]
    nodes = pa.RecordBatch.from_pydict({"id": ids, "label": labels, "kind": [kinds[i % 5] for i in range(n_nodes)],
                                        "score": [float(i % 97) for i in range(n_nodes)]})
    src = [ids[(i * 7919) % n_nodes] for i in range(n_edges)]
    dst = [ids[(i * 104729 + 1) % n_nodes] for i in range(n_edges)]
    edges = pa.RecordBatch.from_pydict({"source_id": src, "target_id": dst,
                                        "edge_type": [("related_to", "about", "contains")[i % 3] for i in range(n_edges)],
                                        "weight": [1.0 + (i % 10) / 10 for i in range(n_edges)]})
    rem_t = []
    for _ in range(repeat):
        t = time.perf_counter()
        text = _rem.to_dot(nodes, edges)
        rem_t.append(time.perf_counter() - t)

    def py_dot() -> str:
        def esc(s: str) -> str:
            return "".join("\\\\" if c == "\\" else '\\"' if c == '"' else "\\n" if c == "\n" else c for c in s if c == "\n" or c.isprintable())
        idx = {i: k for k, i in enumerate(ids)}
        out = ["digraph rem {"]
        out += [f'  n{k} [label="{esc(labels[k][:60])}", shape=box];' for k in range(n_nodes)]
        wmax = 2.0
        out += [f'  n{idx[s]} -> n{idx[d]} [label="{esc(t)}", penwidth={0.5 + 3.5 * w / wmax:.2f}];'
                for s, d, t, w in zip(src, dst, edges.column(2).to_pylist(), edges.column(3).to_pylist(), strict=True)]
        out.append("}")
        return "\n".join(out)

    py_t = []
    for _ in range(max(1, repeat // 2)):
        t = time.perf_counter()
        py_dot()
        py_t.append(time.perf_counter() - t)
    out = {"edges": n_edges, "nodes": n_nodes, "rem_ms": round(statistics.median(rem_t) * 1000, 1),
           "python_join_ms": round(statistics.median(py_t) * 1000, 1), "bytes": len(text)}
    out["speedup"] = round(out["python_join_ms"] / out["rem_ms"], 1)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "dot.json").write_text(json.dumps(out, indent=2) + "\n")
    print(f"DOT of {n_edges:,} labelled edges: REM {out['rem_ms']} ms, Python join {out['python_join_ms']} ms ({out['speedup']}x); goal <= 50 ms")


if __name__ == "__main__":
    main()
