"""How fast `rem` starts, beside sqlite-utils (part of `make bench`; BENCHMARKS.md §9).

Two commands a user types, each timed against what a user of sqlite-utils
types for the same thing, in turn (A B A B …) so a drifting machine moves
both: ``rem --help`` against ``sqlite-utils --help``, and a one-row query
(``rem query "select 1"`` on a DuckDB file against ``sqlite-utils query
db.sqlite "select 1"``). Wall time of the whole process, median of the
pair-by-pair ratios.

    python bench/bench_cli.py [--runs 15]
Writes bench/results/cli.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _wall(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t


def pair(a: list[str], b: list[str], runs: int) -> dict[str, float]:
    _wall(a), _wall(b)  # warm the file cache
    ta, tb, ratios = [], [], []
    for _ in range(runs):
        x, y = _wall(a), _wall(b)
        ta.append(x)
        tb.append(y)
        ratios.append(x / y)
    return {"rem_s": round(statistics.median(ta), 3), "sqlite_utils_s": round(statistics.median(tb), 3),
            "ratio": round(statistics.median(ratios), 3)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    a = ap.parse_args()
    rem, su = str(BIN / "rem"), shutil.which("sqlite-utils", path=str(BIN)) or "sqlite-utils"
    with tempfile.TemporaryDirectory() as d:
        db, lite = Path(d) / "x.duckdb", Path(d) / "x.sqlite"
        subprocess.run([rem, "--db", str(db), "init"], check=True, capture_output=True)
        subprocess.run([su, "query", str(lite), "select 1"], check=True, capture_output=True)
        out = {"help": pair([rem, "--help"], [su, "--help"], a.runs),
               "one_row_query": pair([rem, "--db", str(db), "query", "select 1 as one"], [su, "query", str(lite), "select 1 as one"],
                                     a.runs)}
    for k, v in out.items():
        print(f"{k}: rem {v['rem_s']} s, sqlite-utils {v['sqlite_utils_s']} s, ratio {v['ratio']}")
    (ROOT / "bench" / "results" / "cli.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
