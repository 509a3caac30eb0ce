"""Run the child that executes student code: its own interpreter, limits, no reference code.

Three modes, chosen once per grader: ``mode="auto"`` takes ``namespace`` when a probe child
starts in it, else ``uid`` as root, else ``plain`` (never ``plain`` as root: student code
would run as root). Every child is started by ``launcher.py``, which reports set-up on a pipe
the child cannot write, and runs with resource limits (address space, CPU time, file size,
open files, core dumps; processes in the root modes) and a seccomp filter that refuses to
create any socket (so it has no network in any mode), System V IPC objects, POSIX message
queues and memory files (which would outlive it or escape the limits).

``namespace`` (root with CAP_SYS_ADMIN: a grading server, CI)
    The child gets fresh mount, PID, network and IPC namespaces. Its root file system holds only
    the system directories (their site-packages folders covered by empty ones), the Python
    installation, numpy alone (not the folder it is installed in, which may name the
    checkout) and its own working folder at ``/sandbox``: a tmpfs the parent mounts for the
    attempt, limited in size and number of files, and unmounts afterwards (a grader killed
    with SIGKILL leaves it mounted). It runs as an unprivileged user id of its own. The
    reference code, the grader, the output folder and other submissions do not exist for
    it; killing the namespace's init kills every process it started.
``uid`` (root without namespaces: Gradescope's Docker container)
    The child runs as an unprivileged user id of its own, without supplementary groups, in
    a folder only that user (and root) can enter; the submission's folders on the way are
    open to that user's group only. Numpy is copied into the grader's working folder.
    Everything else is protected only by file permissions: the grader refuses this mode
    while the reference package, the grader, the kit it belongs to (solutions, grades,
    builds) or a folder it is told to keep private (the submissions, the output) is open to
    other users (readable or, for a folder, passable: a known name opens without listing;
    Gradescope's ``run_autograder`` makes them private first). Other processes stay
    visible (no PID namespace). Every process of the user is killed after each child, the
    parent polls the child's scratch space, and what the user left in the folders every
    user may write (``/tmp``, ``/var/tmp``, ``/dev/shm``, ``/run/lock``, ``/var/crash`` and
    the world-writable folders in them) is counted while it runs and removed after it.
``plain`` (not root; or asked for explicitly)
    A separate isolated interpreter (``-I -S``: numpy is its only third-party package) with
    the limits and the filter. It runs as the grading user and can read and write what that
    user can, and a process that leaves its session can outlive it: use root for real
    grading. The child's own folder is bounded by polling.

User ids are claimed with a lock per grader, so parallel graders never share one. In every
mode the child's stdout and stderr go to capped files that are shown to the student, never
parsed, after host paths in them have been replaced by neutral names; its results are
``.npy`` files the parent reads with :mod:`autograder.grader.child_output`. The status lines
the child writes (``start``/``done`` per task) are accepted only in plan order, and a
wall-clock cap per submission holds whatever the child writes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import shutil
import signal
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import launcher as _launcher
from .hostfs import others_can_reach, remove_tree, scratch_usage

HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parent.parent
LAUNCHER = HERE / "launcher.py"
RUNNER = HERE / "runner.py"
REPLACEMENTS = HERE / "replacements.py"
SITE_INSIDE = "/opt/nnlib-grader-site"
UID_BASE = int(os.environ.get("NNLIB_GRADER_UID_BASE", "61000"))
# The folders every user may write (FHS): what a uid child leaves there is counted and removed.
SHARED_TMP = tuple(
    dict.fromkeys(
        os.path.realpath(p)
        for p in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock", "/var/crash")
        if os.path.isdir(p)
    )
)
MS_NOSUID, MS_NODEV, MS_NOEXEC, MNT_DETACH = 2, 4, 8, 2
POLL_SECONDS = 0.1


class SandboxError(RuntimeError):
    """The sandbox could not be set up or started: a grader problem, not the student's."""


@dataclass
class Limits:
    """Resource limits of one child (seconds, bytes, processes, files).

    ``submission_seconds`` caps the wall-clock time of all children of one submission;
    ``None`` allows the start-up time plus one and a half times the task limit per task.
    ``scratch_bytes`` and ``scratch_files`` bound what a child may keep in its folders.
    """

    task_seconds: float = 5.0
    startup_seconds: float = 20.0
    task_cpu_seconds: int = 5
    cpu_seconds: int = 120
    address_space: int = 1024**3
    file_size: int = 16 * 1024**2
    processes: int = 64
    submission_seconds: float | None = None
    scratch_bytes: int = 64 * 1024**2
    scratch_files: int = 4096

    def submission_cap(self, tasks: int) -> float:
        """The wall-clock seconds all children of a submission with ``tasks`` tasks may use."""
        if self.submission_seconds is not None:
            return float(self.submission_seconds)
        return self.startup_seconds + 1.5 * self.task_seconds * tasks


@dataclass
class Attempt:
    """What happened in one child: the tasks it finished and, if it died, where and why.

    ``out_of_time`` is set when the submission's wall-clock cap ended it.
    """

    done: list = field(default_factory=list)
    failed: str | None = None
    failed_import: str | None = None
    reason: str = ""
    stdout: str = ""
    stderr: str = ""
    out_of_time: bool = False


def _python() -> Path:
    """The real interpreter behind the venv (its prefix is what the sandbox must expose)."""
    return Path(getattr(sys, "_base_executable", sys.executable)).resolve()


def numpy_dirs() -> list:
    """numpy's package folder and, when the wheel has one, its ``numpy.libs`` folder."""
    package = Path(np.__file__).resolve().parent
    libs = package.parent / "numpy.libs"
    return [package] + ([libs] if libs.is_dir() else [])


def _site_package_dirs() -> list:
    """Folders of installed packages visible through the system directories or the Python
    installation: the namespace sandbox covers them with empty folders."""
    base = sys.base_prefix
    found = {
        sysconfig.get_path(k, vars={"base": base, "platbase": base}) for k in ("purelib", "platlib")
    }
    for top in ("/usr/lib", "/usr/local/lib"):
        for name in ("python3", f"python{sys.version_info.major}.{sys.version_info.minor}"):
            for sub in ("dist-packages", "site-packages"):
                found.add(os.path.join(top, name, sub))
    return sorted(p for p in found if p and os.path.isdir(p))


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


def _tail(f, limit: int = 2000) -> str:
    """The first ``limit`` bytes of a capture file the parent holds open (the child cannot
    swap it for something else: the parent never opens it by name again)."""
    try:
        data = os.pread(f.fileno(), limit + 1, 0)
    except OSError:
        return ""
    text = data[:limit].decode("utf-8", "replace")
    return text + ("\n[... output truncated]" if len(data) > limit else "")


def _claim_uid(start: int) -> tuple[int, int]:
    """A user id from ``UID_BASE`` on that no other live grader holds, and its lock's fd."""
    folder = Path("/run/nnlib-grader-uids")
    if not Path("/run").is_dir():
        folder = Path(tempfile.gettempdir()) / "nnlib-grader-uids"
    folder.mkdir(mode=0o700, exist_ok=True)
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0 or info.st_mode & 0o077:
        raise SandboxError(f"{folder} must be a folder private to root")
    for n in [*range(start, 1024), *range(start)]:
        fd = os.open(folder / f"{UID_BASE + n}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        return UID_BASE + n, fd
    raise SandboxError(f"all 1024 sandbox user ids from {UID_BASE} are in use")


class Sandbox:
    """Starts children in the chosen sandbox and watches them.

    Parameters
    ----------
    mode : {"auto", "namespace", "uid", "plain"}
    limits : Limits
    private : sequence of Path
        Paths the child must not read; in ``uid`` mode, the grader refuses to start while
        one is readable by other users. The reference package and the grader always are.

    Raises
    ------
    SandboxError
        If the mode asked for cannot work here (with the reason).
    """

    def __init__(self, mode: str = "auto", limits: Limits | None = None, private=()):
        import nnlib

        self.limits = limits or Limits()
        root = os.geteuid() == 0
        if mode in ("namespace", "uid") and not root:
            raise SandboxError(f"sandbox mode {mode!r} needs root; use 'plain'")
        self.python = _python()
        # The whole kit: besides the reference and the grader it may hold the solution
        # notebooks, grading/ (the gradebook, every student's notebooks) and build/.
        reference = Path(nnlib.__file__).resolve().parent
        self.private = [reference, HERE, CHECKOUT, *map(Path, private)]
        self._site = None
        self._uid = self._uid_lock = None
        self.note = ""
        if mode == "auto":
            mode = "plain"
            if root:
                problem = self._probe_namespace()
                mode = "namespace" if problem is None else "uid"
                if problem:
                    self.note = f"namespaces unavailable ({problem}): sandbox mode 'uid'"
        self.mode = mode
        if mode == "uid":
            self._check_uid_mode()

    # ------------------------------------------------------------------ set-up

    def uid(self, slot: int) -> int:
        """The unprivileged user id of this grader's children (root modes).

        Claimed once with a lock that lives as long as this process, so two graders on one
        machine (parallel workers, or two grading runs) never share one: every process of
        that user is killed after each child. ``slot`` is where the search starts.
        """
        if self._uid is None:
            self._uid, self._uid_lock = _claim_uid(slot)
        return self._uid

    def _probe_namespace(self) -> str | None:
        """Start a namespace child that runs an empty program; ``None`` if it worked, else
        the launcher's reason."""
        with tempfile.TemporaryDirectory(prefix="nnlib-probe-") as tmp:
            attempt = Path(tmp)
            (attempt / "sandbox").mkdir()
            saved, self.mode = getattr(self, "mode", None), "namespace"
            try:
                self._launch(attempt, attempt / "sandbox", 0, argv_tail=["-c", ""]).close()
            except SandboxError as exc:
                return str(exc)
            finally:
                self.mode = saved
        return None

    def _check_uid_mode(self) -> None:
        exposed = [str(p) for p in self.private if others_can_reach(p)]
        if exposed:
            raise SandboxError(
                "sandbox mode 'uid' keeps files from the child by permissions only, and "
                f"every user can read {', '.join(exposed)}: make them private "
                "(chmod -R go-rwx) or grade where namespaces are available"
            )
        if not others_can_reach(self.python):
            version = f"python{sys.version_info.major}.{sys.version_info.minor}"
            for candidate in (f"/usr/bin/{version}", f"/usr/local/bin/{version}"):
                if os.path.exists(candidate) and others_can_reach(Path(candidate)):
                    self.python = Path(candidate).resolve()
                    break
            else:
                raise SandboxError(
                    f"sandbox mode 'uid': the child's user cannot run {self.python}, and "
                    f"there is no {version} every user can run; install Python where "
                    "every user can read it"
                )

    def site_dir(self, work: Path) -> str:
        """The folder the child appends to ``sys.path``: it holds numpy alone.

        ``namespace``: numpy is mounted there. ``uid``: numpy is copied once into ``work``
        (its own folder may be private, or name the checkout). ``plain``: links to it.
        """
        if self.mode == "namespace":
            return SITE_INSIDE
        if self._site is None or not self._site.exists():
            site = Path(work) / "site"
            site.mkdir(mode=0o755)
            for folder in numpy_dirs():
                if self.mode == "uid":
                    shutil.copytree(folder, site / folder.name, symlinks=True)
                else:
                    (site / folder.name).symlink_to(folder)
            if self.mode == "uid":
                for dirpath, dirs, files in os.walk(site):
                    for name in dirs:
                        os.chmod(os.path.join(dirpath, name), 0o755)
                    for name in files:
                        path = os.path.join(dirpath, name)
                        if not os.path.islink(path):
                            os.chmod(path, 0o755 if os.access(path, os.X_OK) else 0o644)
            self._site = site
        return str(self._site)

    @contextlib.contextmanager
    def attempt(self, attempt_dir: Path, slot: int):
        """Create ``attempt_dir`` and the child's empty folder ``attempt_dir/sandbox`` in it;
        remove both afterwards. Yields the child's folder.

        ``namespace``: the folder is a tmpfs limited to twice the scratch limits (a hard
        bound; the poll reports the flood before it). ``uid``: the folders on the way are
        entered by the slot's group only; in the other modes both folders keep mode 700.
        """
        attempt_dir = Path(attempt_dir)
        attempt_dir.mkdir(mode=0o700)
        sandbox_dir = attempt_dir / "sandbox"
        sandbox_dir.mkdir(mode=0o700)
        mounted = False
        try:
            if self.mode == "uid":
                gid = self.uid(slot)
                for folder in (attempt_dir.parent, attempt_dir):
                    os.chown(folder, 0, gid)
                    os.chmod(folder, 0o710)
            if self.mode == "namespace":
                lim = self.limits
                options = f"size={2 * lim.scratch_bytes},nr_inodes={2 * lim.scratch_files},mode=700"
                flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
                try:
                    _launcher._mount("tmpfs", str(sandbox_dir), "tmpfs", flags, options)
                except _launcher.SetupError as exc:
                    raise SandboxError(f"sandbox mode 'namespace': {exc}") from exc
                mounted = True
            yield sandbox_dir
        finally:
            if mounted:  # whatever the child left there goes with the tmpfs
                _launcher.libc.umount2(str(sandbox_dir).encode(), MNT_DETACH)
            remove_tree(attempt_dir)

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

    def scrubber(self, sandbox_dir: Path):
        """A function that replaces host paths in a text from the child by neutral names."""
        names = {
            str(sandbox_dir): "/sandbox",
            str(CHECKOUT): "<grader>",
            str(Path(sys.prefix).resolve()): "<python>",
            str(Path(sys.prefix)): "<python>",
            str(sandbox_dir.parent.parent.parent): "<grader-work>",
        }
        for folder in numpy_dirs():
            names[str(folder.parent)] = SITE_INSIDE
        if self._site is not None:
            names[str(self._site)] = SITE_INSIDE
        order = sorted((k for k in names if len(k) > 1), key=len, reverse=True)

        def scrub(text: str) -> str:
            for key in order:
                text = text.replace(key, names[key])
            return text

        return scrub

    # ------------------------------------------------------------------ running

    def _binds(self, sandbox_dir: Path) -> list:
        """Read-only mounts ``[host, inside]`` for the namespace mode."""
        prefix = str(Path(sys.base_prefix).resolve())
        binds = [[prefix, prefix]]
        binds += [[str(d), f"{SITE_INSIDE}/{d.name}"] for d in numpy_dirs()]
        return binds

    def _launch(self, attempt_dir: Path, sandbox_dir: Path, slot: int, status_fd=None,
                out=None, err=None, argv_tail=None):  # fmt: skip
        """Start the launcher; return it once it reported ``ready`` (the runner is running).

        Raises
        ------
        SandboxError
            With the launcher's own report when set-up failed.
        """
        inside = self.mode == "namespace"
        home = "/sandbox" if inside else str(sandbox_dir)
        if argv_tail is None:
            site = self.site_dir(attempt_dir.parent.parent) if not inside else SITE_INSIDE
            argv_tail = [f"{home}/.grader/runner.py", site, str(status_fd)]
        setup_read, setup_write = os.pipe()
        lim = self.limits
        config = {
            "mode": self.mode,
            "setup_fd": setup_write,
            "uid": self.uid(slot) if self.mode != "plain" else None,
            "cwd": home,
            "limits": {
                "address_space": lim.address_space,
                "cpu_seconds": lim.cpu_seconds,
                "file_size": lim.file_size,
                "processes": lim.processes,
            },
            "argv": [str(self.python), "-I", "-S", "-B", *argv_tail],
            "env": _child_env(home),
        }
        if inside:
            root_dir = attempt_dir / "root"
            root_dir.mkdir(mode=0o700)
            config.update(
                root_dir=str(root_dir),
                root_tmpfs="size=16m,nr_inodes=4096,mode=755",
                sandbox_dir=str(sandbox_dir),
                binds=self._binds(sandbox_dir),
                hide=_site_package_dirs(),
            )
        path = attempt_dir / "launcher.json"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(config, f)
        argv = [sys.executable, "-I", "-S", "-B", str(LAUNCHER), str(path)]
        fds = (setup_write,) if status_fd is None else (setup_write, status_fd)
        try:
            proc = subprocess.Popen(
                argv,
                env=_child_env("/"),
                stdin=subprocess.DEVNULL,
                stdout=out if out is not None else subprocess.DEVNULL,
                stderr=err if err is not None else subprocess.DEVNULL,
                pass_fds=fds,
                start_new_session=True,
                close_fds=True,
            )
        finally:
            os.close(setup_write)
        report = b""
        deadline = time.monotonic() + lim.startup_seconds
        try:
            while len(report) < 4096:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([setup_read], [], [], left)[0]:
                    self._kill(proc, slot)
                    raise SandboxError(f"sandbox mode {self.mode!r}: set-up did not finish in time")
                chunk = os.read(setup_read, 4096)
                if not chunk:
                    break
                report += chunk
        finally:
            os.close(setup_read)
        if report.rstrip().endswith(b"ready") and report.count(b"\n") == 1:
            return _Child(proc, self, slot)
        self._kill(proc, slot)
        text = report.decode("utf-8", "replace").strip() or "the launcher exited without a word"
        raise SandboxError(f"sandbox mode {self.mode!r} could not be set up: {text}")

    def run(
        self, attempt_dir: Path, sandbox_dir: Path, slot: int, tasks=None, deadline=None
    ) -> Attempt:
        """Run the plan prepared in ``sandbox_dir``; kill the child on a timeout.

        Parameters
        ----------
        tasks : list of str, optional
            The plan's tasks in order: a ``start`` line is accepted only for the next one.
        deadline : float, optional
            ``time.monotonic()`` value at which the submission's time is up.

        Raises
        ------
        SandboxError
            If the sandbox itself could not start (not the student's fault).
        """
        outcome = Attempt()
        read_fd, write_fd = os.pipe()
        deadline = deadline if deadline is not None else float("inf")
        out = open(attempt_dir / "stdout.txt", "w+b")
        err = open(attempt_dir / "stderr.txt", "w+b")
        try:
            try:
                child = self._launch(attempt_dir, sandbox_dir, slot, write_fd, out, err)
            finally:
                os.close(write_fd)
            with child:
                started = self._watch(child, read_fd, outcome, tasks, deadline, sandbox_dir, slot)
            scrub = self.scrubber(sandbox_dir)
            outcome.stdout, outcome.stderr = scrub(_tail(out)), scrub(_tail(err))
            outcome.reason = scrub(outcome.reason)
            if not started:
                raise SandboxError(
                    f"the grading child failed before its first task: {outcome.reason}; "
                    f"its error output: {outcome.stderr.strip() or '(none)'}"
                )
        finally:
            os.close(read_fd)
            out.close()
            err.close()
        return outcome

    def _scratch_problem(self, sandbox_dir: Path, slot: int) -> str:
        lim = self.limits
        files, size = scratch_usage([sandbox_dir], cap=lim.scratch_files + 1)
        if self.mode == "uid":
            more = scratch_usage(SHARED_TMP, uid=self.uid(slot), cap=lim.scratch_files + 1)
            files, size = files + more[0], size + more[1]
        if files > lim.scratch_files or size > lim.scratch_bytes:
            return (
                f"output too large: the program's files grew past the scratch limit "
                f"({lim.scratch_files} files, {lim.scratch_bytes // 1024**2} MiB)"
            )
        return ""

    def _watch(self, child, read_fd, outcome, tasks, deadline, sandbox_dir, slot) -> bool:
        """Follow the status lines until the child ends, dies or runs out of time; fill
        ``outcome``. Return whether the child got as far as its first task."""
        lim = self.limits
        current, importing, buffer, ended = None, None, b"", False
        position = 0  # index of the next task in the plan
        task_deadline = time.monotonic() + lim.startup_seconds
        next_poll = 0.0
        while True:
            now = time.monotonic()
            if now >= next_poll:
                next_poll = now + POLL_SECONDS
                problem = self._scratch_problem(sandbox_dir, slot)
                if problem:
                    outcome.failed = current or (
                        tasks[position] if tasks and position < len(tasks) else None
                    )
                    outcome.reason = problem
                    break
            if now >= min(task_deadline, deadline):
                if ended:
                    break
                outcome.failed = current or (
                    tasks[position] if tasks and position < len(tasks) else None
                )
                if now >= deadline:
                    outcome.out_of_time = True
                    outcome.reason = "timed out: the submission used up its whole time"
                elif current:
                    outcome.reason = (
                        f"timed out: still running after {lim.task_seconds:g} s "
                        "(an infinite loop, or far too slow)"
                    )
                else:
                    outcome.reason = "the child did not start in time"
                break
            wait = min(task_deadline, deadline, next_poll) - now
            if not select.select([read_fd], [], [], max(wait, 0))[0]:
                continue
            chunk = os.read(read_fd, 65536)
            if not chunk:
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                word, _, name = line.decode("ascii", "replace").partition(" ")
                expected = tasks[position] if tasks and position < len(tasks) else None
                if word == "start" and current is None and (tasks is None or name == expected):
                    current, importing = name, None
                    task_deadline = time.monotonic() + lim.task_seconds
                elif word == "import" and current and name.isidentifier():
                    importing = name
                elif word == "imported":
                    importing = None
                elif word == "done" and current is not None and name == current:
                    outcome.done.append(name)
                    current = None
                    position += 1
                    task_deadline = time.monotonic() + lim.task_seconds
                elif (
                    word == "end" and current is None and (tasks is None or position == len(tasks))
                ):
                    ended = True
                    # The runner exits right after; give it a moment, never more.
                    task_deadline = min(task_deadline, time.monotonic() + 2.0)
            if len(buffer) > 4096:
                buffer = b""
        child.stop()
        code = child.proc.returncode
        if not ended and not outcome.reason:  # the child died on its own
            # Between two tasks, a thread or process of an earlier task's code killed it:
            # the task it kept from running is the one that fails.
            outcome.failed = current or (
                tasks[position] if tasks and position < len(tasks) else None
            )
            if code is not None and code > 128:
                signame = signal.Signals(code - 128).name if code - 128 < 65 else str(code)
                outcome.reason = f"the process was killed by {signame}"
                if code - 128 == signal.SIGXCPU:
                    outcome.reason += " (CPU time limit)"
            else:
                outcome.reason = f"the process exited with status {code} (sys.exit or os._exit?)"
        if outcome.failed is not None:
            outcome.failed_import = importing
        # Before its first "start" line the child has run no student code: if it stopped
        # there, for whatever reason but the submission's time, the sandbox failed.
        return ended or outcome.out_of_time or current is not None or bool(outcome.done)

    # ------------------------------------------------------------------ cleaning up

    def _reap_user(self, uid: int) -> None:
        """Kill every process of the slot's user and wait until none is left: a process
        running as that user sends ``kill(-1)``, which the kernel applies to all of them at
        once, so a fork bomb cannot outrun it."""
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            pid = os.fork()
            if pid == 0:
                try:
                    os.setgroups([])
                    os.setgid(uid)
                    os.setuid(uid)
                    os.kill(-1, signal.SIGKILL)
                finally:
                    os._exit(0)
            os.waitpid(pid, 0)
            if not self._processes_of(uid):
                return
            time.sleep(0.01)

    def _processes_of(self, uid: int) -> list:
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if os.stat(f"/proc/{pid}").st_uid == uid:
                    found.append(int(pid))
            except FileNotFoundError:
                continue
        return found

    def _sweep_shared(self, uid: int) -> None:
        """Remove what the user left in the shared temporary folders (``uid`` mode), at their
        top or in a folder of theirs every user may write (``/tmp/.X11-unix``), so nothing of
        one submission reaches the next one in the same slot."""
        stack = list(SHARED_TMP)
        while stack:
            try:
                entries = list(os.scandir(stack.pop()))
            except OSError:
                continue
            for entry in entries:
                try:
                    info = entry.stat(follow_symlinks=False)
                    if info.st_uid == uid:
                        remove_tree(Path(entry.path))
                    elif stat.S_ISDIR(info.st_mode) and info.st_mode & stat.S_IWOTH:
                        stack.append(entry.path)
                except OSError:
                    continue

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
        if self.mode == "uid":
            self._sweep_shared(self.uid(slot))


class _Child:
    """A started child; ``stop()`` (or leaving the ``with`` block) kills what is left of it."""

    def __init__(self, proc, sandbox, slot):
        self.proc, self.sandbox, self.slot = proc, sandbox, slot
        self.stopped = False

    def stop(self):
        if not self.stopped:
            self.stopped = True
            self.sandbox._kill(self.proc, self.slot)

    def close(self):
        self.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
