"""Find the student's ``nnlib`` inside a submission (a folder or a zip) and copy it safely.

A submission is the student bundle as the student returns it: normally ``src/nnlib/`` inside
a folder or a zip (possibly under one top-level folder). Only regular ``.py`` files are taken,
with caps on their number and size; symlinks and paths escaping the archive are ignored.
"""

from __future__ import annotations

import hashlib
import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

MAX_FILES = 200
MAX_FILE_BYTES = 1024 * 1024
MAX_ZIP_BYTES = 200 * 1024 * 1024
MAX_ZIP_MEMBERS = 20_000


class SubmissionError(ValueError):
    """The submission cannot be graded as it is (no nnlib package, a broken zip, ...)."""


def student_id(path: Path) -> str:
    """The id of a submission: its folder name, or its zip file name without ``.zip``."""
    path = Path(path)
    return path.name[: -len(".zip")] if path.name.lower().endswith(".zip") else path.name


def list_submissions(folder: Path) -> list[Path]:
    """Every submission in ``folder``: sub-folders and ``.zip`` files, sorted by id.

    Raises
    ------
    SubmissionError
        If ``folder`` does not exist or is not a folder.
    """
    folder = Path(folder)
    if not folder.exists():
        raise SubmissionError(f"submissions folder not found: {folder}")
    if not folder.is_dir():
        raise SubmissionError(f"not a folder of submissions: {folder}")
    found = [
        p
        for p in folder.iterdir()
        if not p.name.startswith((".", "_")) and (p.is_dir() or p.name.lower().endswith(".zip"))
    ]
    return sorted(found, key=lambda p: student_id(p))


def _extract_zip(path: Path, dest: Path) -> None:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise SubmissionError(f"{path.name} is not a readable zip file: {exc}") from exc
    with archive:
        members = archive.infolist()
        if len(members) > MAX_ZIP_MEMBERS:
            raise SubmissionError(f"{path.name} holds {len(members)} files; too many to grade")
        total = 0
        for info in members:
            name = PurePosixPath(info.filename)
            mode = info.external_attr >> 16
            if info.is_dir() or stat.S_ISLNK(mode) or name.is_absolute() or ".." in name.parts:
                continue
            if name.suffix != ".py" or "__MACOSX" in name.parts:
                continue
            total += info.file_size
            if info.file_size > MAX_FILE_BYTES or total > MAX_ZIP_BYTES:
                raise SubmissionError(f"{path.name}: {info.filename} is too large to grade")
            target = dest.joinpath(*name.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with archive.open(info) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out)
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise SubmissionError(
                    f"{path.name}: cannot extract {info.filename}: {exc}"
                ) from exc


def _find_package(root: Path) -> Path:
    preferred = [root / "src" / "nnlib", root / "nnlib"]
    candidates = [p for p in preferred if (p / "losses.py").is_file() and not p.is_symlink()]
    if not candidates:
        candidates = sorted(
            (
                p.parent
                for p in root.glob("**/nnlib/losses.py")
                if len(p.relative_to(root).parts) <= 6 and "__MACOSX" not in p.parts
            ),
            key=lambda p: (len(p.parts), str(p)),
        )
    if not candidates:
        raise SubmissionError(
            f"no nnlib package in {root.name}: expected src/nnlib/ with losses.py and the "
            "other modules of the student bundle"
        )
    return candidates[0]


def copy_package(submission: Path, dest: Path, scratch: Path) -> str:
    """Copy the submission's ``nnlib`` (``.py`` files only) to ``dest``; return its digest.

    Parameters
    ----------
    submission : Path
        A folder or a ``.zip``.
    dest : Path
        Created; receives the package's ``.py`` files.
    scratch : Path
        An empty private folder to unpack a zip into.

    Raises
    ------
    SubmissionError
        No package found, a broken zip, too many or too large files.
    """
    submission = Path(submission)
    if not submission.exists():
        raise SubmissionError(f"submission not found: {submission}")
    root = submission
    if submission.is_file():
        _extract_zip(submission, scratch)
        root = scratch
    package = _find_package(root)
    digest = hashlib.sha256()
    files = sorted(
        p
        for p in package.rglob("*.py")
        if not p.is_symlink() and p.is_file() and "__pycache__" not in p.parts
    )
    if len(files) > MAX_FILES:
        raise SubmissionError(f"{submission.name}: nnlib holds {len(files)} files, too many")
    dest.mkdir(parents=True, exist_ok=True)
    for path in files:
        rel = path.relative_to(package)
        if path.stat().st_size > MAX_FILE_BYTES:
            raise SubmissionError(f"{submission.name}: {rel} is larger than 1 MB")
        data = path.read_bytes()
        digest.update(str(rel).encode() + b"\0" + data + b"\0")
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return digest.hexdigest()
