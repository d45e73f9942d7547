"""Model answers kept until a dream has written what it made of them.

Every answer a dream receives is written at once to ``<db>.spool/`` (one
small JSON file per request, private to the owner), keyed by a hash of
everything that shaped it: the endpoint, the model, the messages, the answer
schema and the sampling settings. When the dream has persisted, it removes
the entries it wrote or used. When it could not persist — the database was
busy past the retry window, the disk was full, the process was stopped —
the entries stay, and the next dream that asks the same question takes the
answer from the spool instead of paying for it again. Entries older than
``MAX_AGE_DAYS`` are removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("rem.llm")

MAX_AGE_DAYS = 14


def spool_dir(db: Path) -> Path:
    return db.with_name(db.name + ".spool")


class AnswerSpool:
    def __init__(self, db: Path) -> None:
        self.dir = spool_dir(db)
        self._touched: set[str] = set()
        self._lock = threading.Lock()
        self.reused = 0

    @staticmethod
    def key(**parts: Any) -> str:
        blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def _path(self, key: str) -> Path:
        return self.dir / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The spooled answer for ``key`` ({"answer": json text, "tokens_in", "tokens_out"}), or None."""
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("answer"), str):
            return None
        with self._lock:
            self._touched.add(key)
            self.reused += 1
        return data

    def put(self, key: str, answer: str, tokens_in: int, tokens_out: int) -> None:
        """Keep an answer (atomically; a failure to write only loses the chance to reuse it)."""
        try:
            self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            tmp = self.dir / f".{key}.{os.getpid()}.{threading.get_ident()}.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"answer": answer, "tokens_in": tokens_in, "tokens_out": tokens_out,
                           "saved_at": time.time()}, f)
            tmp.replace(self._path(key))
        except OSError as e:
            log.warning("could not keep the model's answer in %s (%s); it is used now but not kept", self.dir, e)
            return
        with self._lock:
            self._touched.add(key)

    def settle(self) -> None:
        """After a successful persist: drop the entries this dream wrote or
        used, and any entry older than MAX_AGE_DAYS."""
        with self._lock:
            keys, self._touched = set(self._touched), set()
        for k in keys:
            with contextlib.suppress(OSError):
                self._path(k).unlink()
        if not self.dir.is_dir():
            return
        cutoff = time.time() - MAX_AGE_DAYS * 86400
        for p in self.dir.iterdir():
            with contextlib.suppress(OSError):
                if p.stat().st_mtime < cutoff:
                    p.unlink()
        with contextlib.suppress(OSError):
            self.dir.rmdir()  # only when empty

    def pending(self) -> int:
        """Answers kept for a dream that has not persisted yet."""
        try:
            return sum(1 for p in self.dir.glob("*.json"))
        except OSError:
            return 0
