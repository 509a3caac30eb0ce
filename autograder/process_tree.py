"""Run a command with a time limit that also ends every process it started.

``subprocess.run(..., timeout=)`` kills only the process it started. nbgrader starts each
kernel in a session of its own (so no signal to nbgrader's process group reaches it), and a
kernel that ignores interrupts outlives a killed nbgrader, spinning on a core until someone
finds it. Here every process below the command is stopped first (a stopped process can
neither fork nor exit and hand its children to init), then all of them are killed.

A process that left the tree on purpose before the limit (a double fork) is out of reach:
notebook grading has no sandbox (see the README).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess


def run_with_limit(command: list, seconds: float, **popen) -> tuple[int | None, str]:
    """Run ``command`` with its standard output and error captured together, as text.

    Returns
    -------
    returncode : int or None
        None when the command ran out of time (it and every process below it were killed).
    output : str
        What it printed, also when it ran out of time (as much as could be read).
    """
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen
    )
    try:
        out, _ = proc.communicate(timeout=seconds)
        return proc.returncode, out
    except subprocess.TimeoutExpired:
        kill_tree(proc.pid)
        try:  # whatever was printed before the end; nothing left holds the pipe open
            out, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out = ""
        return None, out or ""


def kill_tree(pid: int) -> None:
    """Stop ``pid`` and every process below it, then kill them all (Linux; elsewhere only
    ``pid`` itself is killed)."""
    stopped = [pid]
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGSTOP)
    if os.path.isdir("/proc"):
        for _ in range(1000):  # until no process below is left running
            fresh = [p for p in descendants(pid) if p not in stopped]
            if not fresh:
                break
            for child in fresh:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGSTOP)
            stopped += fresh
    for process in stopped:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process, signal.SIGKILL)


def descendants(pid: int) -> list[int]:
    """The processes below ``pid`` (children, their children, ...), read from ``/proc``."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:  # it ended meanwhile
            continue
        # "pid (command) state ppid ...": the command may hold spaces and parentheses
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found
