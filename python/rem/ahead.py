"""Work done ahead by a fork of this process while this one goes on.

A dream writes its results in one process: DuckDB's statements and the Python between them keep one core busy
and leave the other idle. What the writing needs later and can be computed from what is already here (the
moments' links, the digest's Markdown) is computed meanwhile by a fork of this process, on that core: the fork
reads the data where it is (nothing is copied to it), and its answer comes back pickled through a pipe.

Where a process cannot be forked (no ``fork``, no resources) or the fork fails, the work is done here when its
result is asked for: the same answer, or the same error, as without a fork.
"""

from __future__ import annotations

import gc
import logging
import os
import pickle
import signal
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

# how many moments (or rows) a piece of work must hold for a fork to do it: below, the fork of a large process
# would cost more than the work it takes off this one
WORTH_A_FORK = 1_000
# how long an answer may take before the fork is taken for stuck (a fork of a process whose other threads held a
# lock it then needs can wait forever): it is killed and the work done here. The work takes ~1 s on 15,000 moments.
PATIENCE_S = 300.0

_forks_running = 0  # (while one runs, this process's collector leaves its older objects alone)


def _forked() -> None:
    """A fork started: freeze what this process holds. Its pages are shared with the fork until one of the two
    writes them, and a full collection here writes to every object's header: on the million-message load day
    that copied ~700 MB into the forks (the peak 1.3 → 2.1 GB)."""
    global _forks_running
    if _forks_running == 0:
        gc.freeze()
    _forks_running += 1


def _reaped() -> None:
    global _forks_running
    _forks_running -= 1
    if _forks_running == 0:
        gc.unfreeze()


class Ahead(Generic[T]):
    """``fn(*args)``, computed by a fork started now (unless not ``fork``: then here, when asked);
    :meth:`result` waits for it."""

    def __init__(self, fn: Callable[..., T], *args: Any, fork: bool = True) -> None:
        self._fn, self._args = fn, args
        self._pid: int | None = None
        self._reader: threading.Thread | None = None
        self._chunks: list[bytes] = []
        if fork and hasattr(os, "fork"):
            try:
                self._fork()
            except OSError as e:  # no process to be had: done here when asked
                log.info("%s is computed when asked, not ahead: %s", getattr(fn, "__name__", "work"), e)

    def _fork(self) -> None:
        r, w = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(r)
            os.close(w)
            raise
        if pid == 0:  # the fork: compute, send, leave without running anything of the parent's (no atexit)
            code = 1
            try:
                gc.freeze()  # the parent's objects are read, never collected: their pages stay shared
                os.close(r)
                data = pickle.dumps(self._fn(*self._args), protocol=pickle.HIGHEST_PROTOCOL)
                with os.fdopen(w, "wb") as f:
                    f.write(data)
                code = 0
            finally:
                os._exit(code)
        os.close(w)
        self._pid = pid
        _forked()

        def receive() -> None:  # read as it comes (a pipe holds 64 KiB: the fork would wait for it)
            with os.fdopen(r, "rb") as f:
                while chunk := f.read(1 << 20):
                    self._chunks.append(chunk)

        self._reader = threading.Thread(target=receive, name="rem-ahead", daemon=True)
        self._reader.start()

    def _wait(self) -> bool:
        """Wait for the fork; whether it sent its answer."""
        if self._reader is not None:
            self._reader.join(PATIENCE_S)
            if self._reader.is_alive() and self._pid is not None:  # stuck: killed, the work done here
                log.warning("%s is done here: its fork sent nothing in %.0f s", getattr(self._fn, "__name__", "work"),
                            PATIENCE_S)
                os.kill(self._pid, signal.SIGKILL)
                self._reader.join()
            self._reader = None
        if self._pid is None:
            return False
        pid, self._pid = self._pid, None
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:  # (reaped elsewhere)
            status = 1
        finally:
            _reaped()
        return status == 0 and bool(self._chunks)

    def result(self) -> T:
        """The answer: the fork's, else computed here."""
        if self._wait():
            data, self._chunks = b"".join(self._chunks), []
            try:
                return pickle.loads(data)  # type: ignore[no-any-return]
            except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as e:
                log.warning("%s computed again here: its fork's answer could not be read (%s)",
                            getattr(self._fn, "__name__", "work"), e)
        return self._fn(*self._args)

    def discard(self) -> None:
        """Wait for the fork and drop its answer (it is not needed after all)."""
        self._wait()
        self._chunks = []
