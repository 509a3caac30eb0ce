"""The grader's working folder: a grader killed outright leaves its folder (and, in namespace
mode, a child's tmpfs mounted in it); the next grader removes both, and nothing else."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from autograder.grader import workdir

ROOT = Path(__file__).resolve().parent.parent


def _grader_that_stays(root: Path, mount: bool) -> tuple[subprocess.Popen, Path]:
    """A process that makes a working folder in ``root`` (with a tmpfs mounted inside when
    ``mount``), says where, and waits to be killed."""
    code = textwrap.dedent(
        f"""
        import sys, time
        from autograder.grader import launcher, workdir
        folder, _ = workdir.create({str(root)!r})
        if {mount}:
            (folder / "sandbox").mkdir()
            launcher._mount("tmpfs", str(folder / "sandbox"), "tmpfs", 0, "size=1m")
            (folder / "sandbox" / "left.txt").write_text("a child's file")
        print(folder, flush=True)
        time.sleep(600)
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    line = child.stdout.readline().strip()
    assert line, f"the helper process failed (exit {child.wait()})"
    return child, Path(line)


def _can_mount() -> bool:
    if os.geteuid() != 0:
        return False
    probe = subprocess.run(["unshare", "--mount", "true"], capture_output=True)
    return probe.returncode == 0


def test_a_killed_graders_folder_is_removed_by_the_next_grader(tmp_path):
    mount = _can_mount()
    child, folder = _grader_that_stays(tmp_path, mount)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert (folder / workdir.LOCK).exists(), "a SIGKILL leaves the folder behind"
    if mount:
        assert workdir.mounts_below(folder), "and the tmpfs mounted in it"
    try:
        mine, lock = workdir.create(str(tmp_path))
        assert not folder.exists(), "the next grader must remove the folder its killed peer left"
        assert workdir.mounts_below(folder) == [], "and detach the tmpfs mounted in it"
        assert mine.exists() and mine.parent == tmp_path
        workdir.release(mine, lock)
        assert not mine.exists()
    finally:  # whatever happened, leave no mount on this machine
        for point in workdir.mounts_below(tmp_path):
            subprocess.run(["umount", "--lazy", point], check=False)


def test_a_running_graders_folder_is_left_alone(tmp_path):
    child, folder = _grader_that_stays(tmp_path, mount=False)
    try:
        assert workdir.sweep(str(tmp_path)) == []
        assert (folder / workdir.LOCK).exists(), "a folder whose grader still runs was removed"
    finally:
        child.kill()
        child.wait()
    assert workdir.sweep(str(tmp_path)) == [folder]


def test_folders_that_are_not_a_dead_graders_own_are_left_alone(tmp_path):
    unlocked = tmp_path / f"{workdir.PREFIX}without-lock"
    unlocked.mkdir()  # another program's, or a grader's between mkdtemp and its lock
    linked = tmp_path / f"{workdir.PREFIX}link"
    linked.symlink_to(unlocked)
    kept = [unlocked, linked]
    if os.geteuid() == 0:
        theirs = tmp_path / f"{workdir.PREFIX}other-user"
        theirs.mkdir()
        (theirs / workdir.LOCK).touch()
        os.chown(theirs, 65534, 65534)
        kept.append(theirs)
    assert workdir.sweep(str(tmp_path)) == []
    for folder in kept:
        assert folder.exists() or folder.is_symlink(), f"{folder.name} was removed"


def test_a_mount_point_with_a_space_or_accents_is_found(tmp_path):
    if not _can_mount():
        pytest.skip("mounting needs root with CAP_SYS_ADMIN")
    folder = tmp_path / "a folder, déjà"
    (folder / "with space").mkdir(parents=True)
    code = (
        "import sys; from autograder.grader import launcher, workdir; "
        "launcher._mount('tmpfs', sys.argv[1] + '/with space', 'tmpfs', 0, 'size=1m'); "
        "print(workdir.mounts_below(sys.argv[1]))"
    )
    # In its own mount namespace: the mount goes away with the process.
    out = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", sys.executable, "-c", code, folder],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert out.strip() == repr([str(folder / "with space")])


def test_a_small_dev_shm_is_not_used(monkeypatch):
    """Docker's default /dev/shm (64 MiB) cannot hold uid mode's copy of numpy: a grader
    there failed on every submission. /dev/shm is used only with room to spare."""
    import tempfile

    monkeypatch.delenv("NNLIB_GRADER_TMP", raising=False)
    monkeypatch.setattr(workdir, "_free_bytes", lambda folder: 64 * 1024**2)
    assert workdir.scratch_root() == tempfile.gettempdir()
    monkeypatch.setattr(workdir, "_free_bytes", lambda folder: 8 * 1024**3)
    if os.access("/dev/shm", os.W_OK):
        assert workdir.scratch_root() == "/dev/shm"
    monkeypatch.setenv("NNLIB_GRADER_TMP", "/somewhere/chosen")
    assert workdir.scratch_root() == "/somewhere/chosen"
