"""Render the reliability suite's tallies (JSON written by the pytest session)
into the figures table of RELIABILITY.md, between its markers."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

START, END = "<!-- figures:start -->", "<!-- figures:end -->"


def render(data: dict) -> str:
    rows = ["| category | tried | survived | data lost |", "|---|---:|---:|---:|"]
    total = {"tried": 0, "survived": 0, "lost": 0}
    for name, t in sorted(data["categories"].items()):
        rows.append(f"| {name} | {t['tried']:,} | {t['survived']:,} | {t['lost']:,} |")
        for k in total:
            total[k] += t[k]
    rows.append(f"| **all** | **{total['tried']:,}** | **{total['survived']:,}** | **{total['lost']:,}** |")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"Measured {stamp}, `{data['mode']}` size (`make reliability` = full; `make test` runs the small size).\n\n" + "\n".join(rows)


def main() -> None:
    src, dst = Path(sys.argv[1]), Path(sys.argv[2])
    table = render(json.loads(src.read_text()))
    text = dst.read_text(encoding="utf-8")
    a, b = text.index(START) + len(START), text.index(END)
    dst.write_text(text[:a] + "\n" + table + "\n" + text[b:], encoding="utf-8")
    print(table)


if __name__ == "__main__":
    main()
