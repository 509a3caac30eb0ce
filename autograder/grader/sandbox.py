"""Run the child that executes student code: its own interpreter, limits, no reference code.

Three strengths, chosen once per grading run (``mode="auto"`` takes the strongest available):

``namespace`` (root, e.g. CI or a grading server)
    ``launcher.py`` gives the child a fresh mount and PID namespace whose root file system
    holds only the system directories, the Python installation, numpy and the child's own
    working folder; the child runs as an unprivileged user id (one per parallel slot, so
    process limits do not interfere). The reference code, the grader, the output folder and
    other submissions do not exist for it.
``uid`` (root, namespaces unavailable, e.g. a locked-down container)
    The child runs as the slot's unprivileged user id in a private folder; files the grader
    keeps private (its working folders) are not readable to it. Reference files must not be
    world-readable (the Gradescope ``setup.sh`` makes them so).
``plain`` (not root)
    A separate isolated interpreter (``-I -S``: no site-packages other than numpy's folder,
    so the installed ``nnlib`` is not importable) with resource limits in a fresh folder.
    Files readable by the grading user remain readable to it: use root for real grading.

In every mode the child's stdout and stderr go to capped files that are shown to the
student, never parsed; its results are ``.npy`` files the parent parses itself.
"""

from __future__ import annotations

import json
import os
import resource
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
LAUNCHER = HERE / "launcher.py"
RUNNER = HERE / "runner.py"
NO_NAMESPACE = 97
SITE_INSIDE = "/opt/nnlib-grader-site"
UID_BASE = int(os.environ.get("NNLIB_GRADER_UID_BASE", "61000"))


@dataclass
class Limits:
    """Resource limits of one child (seconds, bytes, processes)."""

    task_seconds: float = 5.0
    startup_seconds: float = 20.0
    task_cpu_seconds: int = 5
    cpu_seconds: int = 120
    address_space: int = 1024**3
    file_size: int = 16 * 1024**2
    processes: int = 64


@dataclass
class Attempt:
    """What happened in one child: the tasks it finished and, if it died, where and why."""

    done: list = field(default_factory=list)
    failed: str | None = None
    failed_import: str | None = None
    reason: str = ""
    stdout: str = ""
    stderr: str = ""


def _python() -> Path:
    """The real interpreter behind the venv (its prefix is what the sandbox must expose)."""
    return Path(getattr(sys, "_base_executable", sys.executable)).resolve()


def numpy_site_dir() -> Path:
    """The folder holding the numpy package (appended to the child's ``sys.path``)."""
    return Path(np.__file__).resolve().parent.parent


def _child_env(home: str) -> dict:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": home,
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
    }


def _tail(path: Path, limit: int = 2000) -> str:
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError:
        return ""
    text = data[:limit].decode("utf-8", "replace")
    return text + ("\n[... output truncated]" if len(data) > limit else "")


class Sandbox:
    """Starts children in the strongest sandbox available and watches them.

    Parameters
    ----------
    mode : {"auto", "namespace", "uid", "plain"}
    limits : Limits
    """

    def __init__(self, mode: str = "auto", limits: Limits | None = None):
        self.limits = limits or Limits()
        if mode == "auto":
            mode = "namespace" if os.geteuid() == 0 else "plain"
        if mode in ("namespace", "uid") and os.geteuid() != 0:
            raise PermissionError(f"sandbox mode {mode!r} needs root; use 'plain'")
        self.mode = mode
        self.python = _python()
        self.site_dir = numpy_site_dir()

    # ------------------------------------------------------------------ preparation

    def uid(self, slot: int) -> int:
        """The unprivileged user id of a parallel slot (root modes)."""
        return UID_BASE + slot

    def hand_over(self, sandbox_dir: Path, slot: int, writable: list) -> None:
        """Give the child's user the folders it may write (root modes only)."""
        if self.mode == "plain":
            return
        uid = self.uid(slot)
        for top in writable:
            for root, dirs, files in os.walk(top):
                for name in dirs + files:
                    os.lchown(os.path.join(root, name), uid, uid)
            os.chown(top, uid, uid)
        os.chown(sandbox_dir, uid, uid)
        os.chmod(sandbox_dir, 0o700)

    def _binds(self) -> tuple[list, str]:
        """Read-only mounts ``[host, inside]`` and numpy's folder as the child sees it.

        The Python installation keeps its path (the interpreter finds its standard library
        relative to itself); numpy's folder is mounted at a neutral path, so that not even
        the name of the folder holding the instructor's checkout appears in the sandbox.
        """
        prefix = str(Path(sys.base_prefix).resolve())
        if self.site_dir.is_relative_to(prefix):
            return [[prefix, prefix]], str(self.site_dir)
        return [[prefix, prefix], [str(self.site_dir), SITE_INSIDE]], SITE_INSIDE

    def _limit(self) -> None:
        lim = self.limits
        resource.setrlimit(resource.RLIMIT_AS, (lim.address_space, lim.address_space))
        resource.setrlimit(resource.RLIMIT_CPU, (lim.cpu_seconds, lim.cpu_seconds + 1))
        resource.setrlimit(resource.RLIMIT_FSIZE, (lim.file_size, lim.file_size))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if self.mode == "uid":  # counted per user: each slot has its own user id
            resource.setrlimit(resource.RLIMIT_NPROC, (lim.processes, lim.processes))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    # ------------------------------------------------------------------ running

    def _start(self, attempt_dir: Path, sandbox_dir: Path, slot: int, status_fd: int, out, err):
        common = dict(
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            pass_fds=(status_fd,),
            start_new_session=True,
            close_fds=True,
        )
        if self.mode == "namespace":
            root_dir = attempt_dir / "root"
            root_dir.mkdir(mode=0o700)
            binds, site = self._binds()
            runner = ["/sandbox/.grader/runner.py", site, str(status_fd)]
            config = {
                "root_dir": str(root_dir),
                "sandbox_dir": str(sandbox_dir),
                "binds": binds,
                "uid": self.uid(slot),
                "limits": {
                    "address_space": self.limits.address_space,
                    "cpu_seconds": self.limits.cpu_seconds,
                    "file_size": self.limits.file_size,
                    "processes": self.limits.processes,
                },
                "argv": [str(self.python), "-I", "-S", "-B", *runner],
                "env": _child_env("/sandbox"),
            }
            path = attempt_dir / "launcher.json"
            path.write_text(json.dumps(config))
            argv = [str(self.python), "-I", "-S", "-B", str(LAUNCHER), str(path)]
            return subprocess.Popen(argv, env=_child_env("/"), **common)
        runner = [str(sandbox_dir / ".grader" / "runner.py"), str(self.site_dir), str(status_fd)]
        argv = [str(self.python), "-I", "-S", "-B", *runner]
        extra = {}
        if self.mode == "uid":
            uid = self.uid(slot)
            extra = dict(user=uid, group=uid, extra_groups=[])
        try:
            return subprocess.Popen(
                argv,
                cwd=sandbox_dir,
                env=_child_env(str(sandbox_dir)),
                preexec_fn=self._limit,
                **common,
                **extra,
            )
        except PermissionError as exc:
            raise RuntimeError(
                f"sandbox mode {self.mode!r}: the child's user cannot run {self.python} "
                f"({exc}); install Python where every user can read it, or use another mode"
            ) from exc

    def run(self, attempt_dir: Path, sandbox_dir: Path, slot: int) -> Attempt:
        """Run the plan prepared in ``sandbox_dir``; kill the child on a per-task timeout.

        Raises
        ------
        RuntimeError
            If the sandbox itself could not start (not the student's fault).
        """
        outcome = Attempt()
        read_fd, write_fd = os.pipe()
        out_path, err_path = attempt_dir / "stdout.txt", attempt_dir / "stderr.txt"
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            try:
                proc = self._start(attempt_dir, sandbox_dir, slot, write_fd, out, err)
            finally:
                os.close(write_fd)
        current, importing, buffer, ended = None, None, b"", False
        deadline = time.monotonic() + self.limits.startup_seconds
        try:
            while True:
                timeout = deadline - time.monotonic()
                if timeout <= 0:
                    outcome.failed = current
                    outcome.reason = (
                        f"timed out: still running after {self.limits.task_seconds:g} s "
                        "(an infinite loop, or far too slow)"
                        if current
                        else "the child did not start in time"
                    )
                    break
                ready, _, _ = select.select([read_fd], [], [], timeout)
                if not ready:
                    continue
                chunk = os.read(read_fd, 65536)
                if not chunk:
                    break
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    word, _, name = line.decode("ascii", "replace").partition(" ")
                    if word == "start":
                        current, importing = name, None
                        deadline = time.monotonic() + self.limits.task_seconds
                    elif word == "import" and current:
                        importing = name
                    elif word == "imported":
                        importing = None
                    elif word == "done" and name == current:
                        outcome.done.append(name)
                        current = None
                    elif word == "end":
                        ended = True
                if len(buffer) > 4096:
                    buffer = b""
        finally:
            os.close(read_fd)
            self._kill(proc, slot)
        code = proc.returncode
        if not ended and outcome.failed is None:
            outcome.failed = current
            if code == NO_NAMESPACE and self.mode == "namespace" and not outcome.done:
                # No namespaces here (e.g. a container without CAP_SYS_ADMIN): fall back to
                # an unprivileged user id for the rest of this process, and say so.
                print(
                    f"warning: {_tail(err_path).strip()}; falling back to sandbox mode 'uid'",
                    file=sys.stderr,
                )
                self.mode = "uid"
                return self.run(attempt_dir, sandbox_dir, slot)
            if code is not None and code > 128:
                signame = signal.Signals(code - 128).name if code - 128 < 65 else str(code)
                outcome.reason = f"the process was killed by {signame}"
                if code - 128 == signal.SIGXCPU:
                    outcome.reason += " (CPU time limit)"
            else:
                outcome.reason = f"the process exited with status {code} (sys.exit or os._exit?)"
            if current is None and not outcome.done:
                raise RuntimeError(f"the grading child failed to start: {_tail(err_path)}")
        if outcome.failed is not None:
            outcome.failed_import = importing
        outcome.stdout, outcome.stderr = _tail(out_path), _tail(err_path)
        return outcome

    def _processes_of(self, uid: int) -> list:
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if os.stat(f"/proc/{pid}").st_uid == uid:
                    found.append(int(pid))
            except FileNotFoundError:
                continue
        return found

    def _reap_user(self, uid: int) -> None:
        """Wait until no process of the slot's user is left (the kernel tears a killed
        namespace down asynchronously); kill stragglers, so the next child starts clean."""
        deadline = time.monotonic() + 5.0
        while (left := self._processes_of(uid)) and time.monotonic() < deadline:
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            time.sleep(0.01)

    def _kill(self, proc: subprocess.Popen, slot: int) -> None:
        try:
            proc.wait(timeout=0.5 if proc.poll() is None else 0)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()
        if self.mode != "plain":
            self._reap_user(self.uid(slot))
