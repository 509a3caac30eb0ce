"""A time limit that ends the whole tree: nbgrader and the kernels it starts in sessions of
their own, which a kernel that ignores interrupts would otherwise outlive."""

from __future__ import annotations

import os
import sqlite3
import sys
import time

import pytest

from autograder.process_tree import run_with_limit

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc (Linux)")

# Starts a "kernel" in a session of its own that ignores SIGINT and SIGTERM and has a child
# of its own; prints every pid, then waits forever.
HANGING = r"""
import os, signal, sys, time
kernel = os.fork()
if kernel == 0:
    os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if os.fork() == 0:
        time.sleep(600)
        os._exit(0)
    while True:
        pass
print("pids", os.getpid(), kernel, flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(b")") + 2 :][:1] not in (b"Z", b"X")  # a zombie is dead


def _all_gone(pids, seconds=10.0) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        left = [p for p in pids if _alive(p)]
        if not left:
            return []
        time.sleep(0.05)
    return left


def _pids_below(pid: int) -> list[int]:
    from autograder.process_tree import descendants

    return [pid, *descendants(pid)]


def test_a_command_that_ends_in_time_gives_its_code_and_output():
    code, out = run_with_limit([sys.executable, "-c", "print('hi'); raise SystemExit(3)"], 60)
    assert (code, out) == (3, "hi\n")


def test_after_the_limit_nothing_the_command_started_is_left(monkeypatch):
    from autograder import process_tree

    seen, kill_tree = [], process_tree.kill_tree

    def spy(pid):
        seen.extend(_pids_below(pid))
        return kill_tree(pid)

    monkeypatch.setattr(process_tree, "kill_tree", spy)
    code, out = run_with_limit([sys.executable, "-c", HANGING], 3)
    assert code is None
    assert out.startswith("pids "), out
    assert len(seen) == 3, f"the command, its kernel and the kernel's child: {seen}"
    left = _all_gone(seen)
    assert not left, f"still running after the limit: {left} (the kernel ignores SIGTERM)"


def test_a_student_whose_kernel_hangs_leaves_no_process_behind(tmp_path, monkeypatch):
    """autograde_student's limit reaches the kernels nbgrader started (here a stand-in
    for nbgrader that starts a kernel which ignores interrupts)."""
    from autograder import notebook_grading
    from nnlib.tasks import NOTEBOOKS

    course = tmp_path / "course"
    notebook = NOTEBOOKS[0]
    (course / "submitted" / "ann" / notebook).mkdir(parents=True)
    (course / "submitted" / "ann" / notebook / f"{notebook}.ipynb").write_text("{}")
    sqlite3.connect(course / "gradebook.db").close()
    monkeypatch.setattr(notebook_grading, "NBGRADER", [sys.executable, "-c", HANGING])
    monkeypatch.setattr(notebook_grading, "STUDENT_TIMEOUT", 3)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    result = notebook_grading.autograde_student(course, "ann", [notebook], scratch, threads=1)
    assert "[stopped after 3 s]" in result.log
    assert result.done == []
    started = [int(p) for p in result.log.split("\n")[0].split()[1:]]
    assert len(started) == 2, result.log
    left = _all_gone(started)
    assert not left, f"the student's kernel outlived the limit: {left}"
