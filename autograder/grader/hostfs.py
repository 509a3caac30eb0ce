"""The host's file system around a child: who can read a path, how much a child stored,
and removing what it left, all without following links or opening what it created.

A child's folders are untrusted: they may hold links, FIFOs, devices and trees nested far
deeper than a recursive walk can go. Nothing here opens a file the child made, follows a
link, or recurses.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path


def others_can_reach(path: Path) -> bool:
    """Whether a user with no relation to ``path``'s owners can read it (mode bits only).

    A path that does not exist yet counts as readable when its existing ancestors can be
    passed through: it will be created with the usual permissions. A folder that can be
    passed through counts as readable even when it cannot be listed: what it holds opens by
    name.
    """
    path = Path(path).resolve()
    for parent in list(path.parents)[::-1]:
        if not parent.exists():
            return True
        if not os.stat(parent).st_mode & stat.S_IXOTH:
            return False
    if not path.exists():
        return True
    mode = os.stat(path).st_mode
    return bool(mode & (stat.S_IROTH | (stat.S_IXOTH if stat.S_ISDIR(mode) else 0)))


def scratch_usage(tops, uid: int | None = None, cap: int = 100_000) -> tuple[int, int]:
    """Files and bytes under ``tops`` (only those owned by ``uid`` when given, in its own
    folders and in folders every user may write), counted without following links and
    without opening anything; stops after ``cap`` entries."""
    files = size = 0
    stack = [(Path(t), uid is None) for t in tops]
    while stack and files < cap:
        top, counted = stack.pop()
        try:
            entries = os.scandir(top)
        except OSError:
            continue
        with entries:
            for entry in entries:
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                mine = counted or info.st_uid == uid
                if mine:
                    files += 1
                    size += info.st_blocks * 512
                shared = info.st_mode & stat.S_IWOTH  # e.g. /tmp/.X11-unix: the user's too
                if stat.S_ISDIR(info.st_mode) and (mine or uid is None or shared):
                    stack.append((Path(entry.path), mine))
                if files >= cap:
                    break
    return files, size


def remove_tree(top: Path, max_steps: int = 10_000_000) -> None:
    """Remove a folder tree a child may have built: of any depth, without following links
    and without recursion (a subfolder deeper than 32 levels is moved up to ``top`` first,
    so neither the stack nor the open descriptors grow with the depth).

    What cannot be removed stays (a mount point, say), and the rest goes: a folder that
    stays after it was emptied is not entered again.
    """
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        top_fd = os.open(top, flags)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(top)
        return
    stack, names, moved = [top_fd], [None], 0
    stuck = set()  # (device, inode) of the folders that stayed
    try:
        for _ in range(max_steps):
            fd, child = stack[-1], None
            with os.scandir(fd) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        info = entry.stat(follow_symlinks=False)
                        if (info.st_dev, info.st_ino) not in stuck:
                            child = entry.name
                            break
                        continue
                    with contextlib.suppress(OSError):
                        os.unlink(entry.name, dir_fd=fd)
            if child is None:
                if len(stack) == 1:
                    break
                done = stack.pop()
                info = os.fstat(done)
                os.close(done)
                try:
                    os.rmdir(names.pop(), dir_fd=stack[-1])
                except OSError:
                    stuck.add((info.st_dev, info.st_ino))
            elif len(stack) >= 32:
                moved += 1
                os.rename(child, f".deep-{moved}", src_dir_fd=fd, dst_dir_fd=top_fd)
            else:
                stack.append(os.open(child, flags, dir_fd=fd))
                names.append(child)
    except OSError:
        pass
    finally:
        for fd in stack:
            os.close(fd)
    with contextlib.suppress(OSError):
        os.rmdir(top)
