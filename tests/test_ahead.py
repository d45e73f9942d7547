"""rem.ahead: work done by a fork of the process while it goes on, with the same answer (or error) as here."""
from __future__ import annotations

import gc
import os

import pytest

from rem.ahead import Ahead


def _pid_and(n: int) -> tuple[int, list[str]]:
    return os.getpid(), [f"row {k} " * 8 for k in range(n)]


def _fails(n: int) -> int:
    if os.getpid() != n:
        raise ValueError(f"not here: {os.getpid()}")
    return n


def test_the_fork_answers_and_the_answer_is_whole():
    """A fork computes it (another process), and an answer far larger than a pipe holds comes back whole; while
    the fork runs this process's objects are frozen (a collection here would copy their pages into it), and
    thawed once it is reaped."""
    me = os.getpid()
    gc.unfreeze()
    work = Ahead(_pid_and, 50_000)
    assert gc.get_freeze_count() > 0
    pid, rows = work.result()
    assert pid != me and len(rows) == 50_000 and rows[-1] == "row 49999 " * 8
    assert gc.get_freeze_count() == 0


def test_without_a_fork_it_is_computed_here_when_asked(monkeypatch):
    me = os.getpid()
    assert Ahead(_pid_and, 3, fork=False).result()[0] == me

    def no_fork():
        raise OSError("Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_fork)
    assert Ahead(_pid_and, 3).result() == (me, [f"row {k} " * 8 for k in range(3)])


def test_a_fork_that_fails_is_done_again_here_with_the_same_error_or_answer():
    """The fork cannot compute it (here: it is not this process): this process does, and its error is the
    caller's as without a fork."""
    assert Ahead(_fails, os.getpid()).result() == os.getpid()
    with pytest.raises(ValueError, match="not here"):
        Ahead(_fails, -1).result()
    work = Ahead(_pid_and, 10)
    work.discard()  # reaped, its answer dropped
    assert gc.get_freeze_count() == 0


def _stuck(seconds: float) -> int:
    import time

    time.sleep(seconds)
    return os.getpid()


def test_a_fork_that_sends_nothing_in_time_is_killed_and_the_work_done_here(monkeypatch):
    """A fork can wait forever (a lock another thread held when it was forked): past the patience, it is killed
    and this process does the work."""
    from rem import ahead

    monkeypatch.setattr(ahead, "PATIENCE_S", 0.5)
    stuck = Ahead(_stuck, 60.0)  # the fork sleeps a minute
    stuck._args = (0.0,)  # (this process would not: only the fork was given the minute)
    assert stuck.result() == os.getpid()  # this process's answer: the fork's would be its own pid, a minute later
    assert gc.get_freeze_count() == 0
