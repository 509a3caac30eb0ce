"""A fresh copy of the kit for tests that run its ``make`` targets as an instructor would.

Shared by ``tests/test_instructor_workflow.py`` and ``tests/browser/test_browser_formgrader.py``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"


def copy_kit(dest: Path) -> Path:
    """Every file git knows of the kit (modification times kept), and a ``.venv`` of symlinks.

    Committed and new files alike (``git ls-files --cached --others --exclude-standard``), so
    the copy is what a clone of the work in progress would hold. Its ``.venv`` stamp is new, so
    ``make`` does not reinstall; everything else in it points at the project's environment
    (its Python finds the copy's ``pyvenv.cfg`` first, then the project's packages).
    """
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        source = ROOT / os.fsdecode(name)
        if source.is_file():
            target = dest / os.fsdecode(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    venv = dest / ".venv"
    venv.mkdir(parents=True)
    for entry in VENV.iterdir():
        if entry.name not in ("pyvenv.cfg", ".installed"):
            (venv / entry.name).symlink_to(entry)
    shutil.copyfile(VENV / "pyvenv.cfg", venv / "pyvenv.cfg")
    (venv / ".installed").touch()
    return dest


def make_env() -> dict[str, str]:
    """The environment for a ``make`` run inside the copy (no make variables of this run)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "MFLAGS"))}
