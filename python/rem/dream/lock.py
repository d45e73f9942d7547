"""One dream at a time: a kernel lock on a file beside the database.

``<db>.dream.lock`` is locked with ``flock`` (an exclusive, non-blocking
lock the kernel drops when its process ends, however it ends), so whether a
dream is running is never guessed from a pid: a pid reused after a reboot, a
lock file left by a crash or a file nobody can parse cannot refuse a dream,
and a running dream's lock cannot be taken by a second one. While held, the
file says who holds it (pid, host, run id, start time) for the messages and
``rem doctor``; a dream that ends empties it. A file still holding a record
when its lock is free was left by a dream that died: the caller is told (it
marks that run interrupted).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from ..exceptions import LockedError

log = logging.getLogger("rem.lock")


def lock_path(db: Path) -> Path:
    return db.with_name(db.name + ".dream.lock")


def _record(fd: int) -> dict[str, Any]:
    """The holder record in an open lock file ({} when empty or unreadable)."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        raw = os.read(fd, 65536)
        data = json.loads(raw.decode("utf-8")) if raw.strip() else {}
        return data if isinstance(data, dict) else {"unreadable": raw[:80].decode("utf-8", "replace")}
    except (OSError, ValueError):
        return {"unreadable": True}


def _open(path: Path) -> int:
    """The lock file, opened for reading and writing (created when missing). Only a regular file is used: a
    link (it could point at someone else's file, which the holder's record would overwrite), a FIFO (reading
    it would wait for ever), a socket or a device is refused by name."""
    import stat

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise LockedError(f"cannot open the dream lock {path}: {e.strerror or e}. REM needs to write beside the "
                          "database; check the folder's permissions") from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise LockedError(f"the dream lock {path} is a directory, not a file: remove it (rmdir '{path}') "
                          "or point --db elsewhere")
    if st is not None and not stat.S_ISREG(st.st_mode):
        from ..store import file_kind

        kind = "a link" if stat.S_ISLNK(st.st_mode) else file_kind(st.st_mode)
        raise LockedError(f"the dream lock {path} is {kind}, not REM's lock file: remove it (rm '{path}'); "
                          "REM makes a new one")
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o644)
    except OSError as e:
        raise LockedError(f"cannot open the dream lock {path}: {e.strerror or e}. REM needs to write beside the "
                          "database; check the folder's permissions") from None


def _held_message(holder: dict[str, Any], path: Path) -> str:
    pid = holder.get("pid")
    if not isinstance(pid, int):
        return f"another dream is running on this database (it holds {path}). Wait for it to finish."
    return (f"another dream is running on this database: pid {pid}, run {str(holder.get('run_id', '?'))[:8]}, "
            f"started {holder.get('started_at', '?')}. Wait for it to finish, or stop it (kill -TERM {pid}); "
            "it will record itself as interrupted.")


@dataclass(frozen=True)
class LockState:
    """What ``rem doctor`` says about the lock."""

    held: bool
    holder: dict[str, Any]  # the record in the file (the running dream, or a dead one's leftover)


def inspect(db: Path) -> LockState | None:
    """Whether a dream holds the lock now (None when there is no lock file)."""
    path = lock_path(db)
    if not path.is_file():
        return None
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return LockState(True, _record(fd))
            raise
        holder = _record(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return LockState(False, holder)
    finally:
        os.close(fd)


class DreamLock:
    """Context manager holding the dream lock of one database."""

    def __init__(self, db: Path, run_id: str) -> None:
        self.path = lock_path(db)
        self.run_id = run_id
        self.took_over: dict[str, Any] | None = None  # the record a dead dream left, if any
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = _open(self.path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            holder = _record(fd)
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise LockedError(_held_message(holder, self.path)) from None
            raise LockedError(f"cannot lock {self.path}: {e.strerror or e}") from None
        left = _record(fd)
        if left:
            self.took_over = left
            log.warning("the previous dream (run %s, pid %s) ended without releasing its lock; taking it over",
                        str(left.get("run_id", "?"))[:8], left.get("pid", "?"))
        me = {"pid": os.getpid(), "host": socket.gethostname(), "run_id": self.run_id,
              "started_at": datetime.now(UTC).isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps(me).encode("utf-8"))
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)  # empty: nobody holds it, nothing was left behind
        finally:
            os.close(fd)  # drops the flock

    def __enter__(self) -> DreamLock:
        self.acquire()
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.release()
