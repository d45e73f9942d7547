"""One dream at a time: a lock file beside the database.

``<db>.dream.lock`` holds the owner's pid, host, run id and start time. A
second dream finds it and says who holds it. A lock whose process is gone
(killed, crashed, machine rebooted) is stale: it is taken over, and the
caller is told so.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from ..exceptions import LockedError

log = logging.getLogger("rem.lock")


def lock_path(db: Path) -> Path:
    return db.with_name(db.name + ".dream.lock")


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


class DreamLock:
    """Context manager holding the dream lock of one database."""

    def __init__(self, db: Path, run_id: str) -> None:
        self.path = lock_path(db)
        self.run_id = run_id
        self.took_over: dict[str, object] | None = None

    def _read(self) -> dict[str, object]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        me = {"pid": os.getpid(), "host": socket.gethostname(), "run_id": self.run_id,
              "started_at": datetime.now(UTC).isoformat(timespec="seconds")}
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._read()
                raw_pid = str(holder.get("pid", "0"))
                pid = int(raw_pid) if raw_pid.isdigit() else 0
                same_host = holder.get("host") in (None, socket.gethostname())
                if pid and same_host and _alive(pid) and pid != os.getpid():
                    raise LockedError(
                        f"another dream is running on this database: pid {pid}, run {str(holder.get('run_id', '?'))[:8]}, "
                        f"started {holder.get('started_at', '?')}. Wait for it to finish, or stop it "
                        f"(kill -TERM {pid}); it will record itself as interrupted."
                    ) from None
                # stale: its process is gone
                self.took_over = holder
                log.warning("taking over a stale dream lock left by pid %s (run %s)", pid, holder.get("run_id"))
                try:
                    self.path.unlink()
                except FileNotFoundError:
                    pass
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(me, f)
            return
        raise LockedError(f"could not take the dream lock {self.path}; remove it if no dream is running")

    def release(self) -> None:
        holder = self._read()
        if holder.get("pid") == os.getpid() and holder.get("run_id") == self.run_id:
            try:
                self.path.unlink()
            except FileNotFoundError:
                log.debug("lock already gone")

    def __enter__(self) -> DreamLock:
        self.acquire()
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.release()
