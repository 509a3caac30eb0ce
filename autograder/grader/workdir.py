"""The grader's private working folder, and the sweep of folders whose grader was killed.

A grader removes its folder when it closes. A grader killed outright (SIGKILL, the kernel's
out-of-memory killer, a CI job's timeout) cannot. Its folder keeps that run's hidden inputs
and, in namespace mode, a child's tmpfs stays mounted there, holding memory and lengthening
every process's mount table until someone unmounts it.

So each working folder holds a lock file that its grader keeps locked for as long as it
lives; the kernel drops the lock when the process ends, however it ends. Before making its
own folder, a grader removes the folders beside it (same root, same owner) whose lock it can
take: their grader is gone.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import stat
import tempfile
from pathlib import Path

from . import launcher
from .hostfs import remove_tree
from .sandbox import MNT_DETACH

PREFIX = "nnlib-grader-"
LOCK = "owner.lock"


# Docker gives a container 64 MiB of /dev/shm: less than uid mode's copy of numpy alone.
MIN_FREE_SHM_BYTES = 1024**3


def scratch_root() -> str:
    """Where working folders live: ``$NNLIB_GRADER_TMP``; else ``/dev/shm`` when it has
    ``MIN_FREE_SHM_BYTES`` free (thousands of small files per submission are much cheaper
    in memory); else the system's temporary folder."""
    chosen = os.environ.get("NNLIB_GRADER_TMP")
    if chosen:
        return chosen
    shm = Path("/dev/shm")
    try:
        usable = os.access(shm, os.W_OK) and _free_bytes(shm) >= MIN_FREE_SHM_BYTES
    except OSError:
        usable = False
    return str(shm) if usable else tempfile.gettempdir()


def _free_bytes(folder: Path) -> int:
    info = os.statvfs(folder)
    return info.f_bavail * info.f_frsize


def create(root: str | None = None) -> tuple[Path, int]:
    """Sweep ``root``, then make a working folder there (mode 711: children may pass
    through, never list it) that holds its locked ``owner.lock``.

    Returns
    -------
    folder : Path
    lock_fd : int
        Keep it open while the folder is in use; :func:`release` closes it.
    """
    root = root or scratch_root()
    sweep(root)
    folder = Path(tempfile.mkdtemp(prefix=PREFIX, dir=root))
    # Locked under a temporary name, then renamed: a sweep running at the same moment in
    # another grader only considers ``owner.lock``, which is never seen unlocked.
    pending = folder / f".{LOCK}"
    fd = os.open(pending, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.rename(pending, folder / LOCK)
    folder.chmod(0o711)
    return folder, fd


def release(folder: Path, lock_fd: int) -> None:
    """Remove a working folder made by :func:`create`, then drop its lock."""
    remove_tree(Path(folder))
    with contextlib.suppress(OSError):
        os.close(lock_fd)


def sweep(root: str) -> list[Path]:
    """Remove the working folders in ``root`` that this user owns and whose grader is gone
    (their ``owner.lock`` can be locked); detach the mounts left inside them first.

    Folders without a lock file (another program's, or one being made) and folders of
    other users are left alone. Returns the folders removed.
    """
    removed = []
    for folder in sorted(Path(root).glob(PREFIX + "*")):
        try:
            info = folder.lstat()
            if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
                continue
            fd = os.open(folder / LOCK, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # its grader still runs
            os.close(fd)
            continue
        try:
            _detach_mounts_below(folder)
            remove_tree(folder)
            removed.append(folder)
        finally:
            os.close(fd)
    return removed


def mounts_below(folder: Path) -> list[str]:
    """Mount points strictly inside ``folder``, in this process's mount table, deepest first."""
    top = os.fsencode(os.path.realpath(folder)) + b"/"
    found = []
    with contextlib.suppress(OSError), open("/proc/self/mountinfo", "rb") as table:
        for line in table:
            fields = line.split(b" ")
            if len(fields) > 4:
                # Spaces, tabs, newlines and backslashes in a mount point are octal escapes
                # (other bytes, UTF-8 included, are as they are).
                point = re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m[1], 8)]), fields[4])
                if point.startswith(top):
                    found.append(os.fsdecode(point))
    return sorted(found, key=len, reverse=True)


def _detach_mounts_below(folder: Path) -> None:
    for point in mounts_below(folder):  # without the right to unmount, each one stays
        launcher.libc.umount2(os.fsencode(point), MNT_DETACH)
