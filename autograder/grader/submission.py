"""Find the student's ``nnlib`` inside a submission (a folder or a zip) and copy it safely.

A submission is the student bundle as the student returns it: normally ``src/nnlib/`` inside
a folder or a zip (possibly under one top-level folder, possibly next to a ``.venv``). Only the
student's own regular files are graded:

- symbolic links, devices, FIFOs and sockets are never followed or opened (a FIFO is opened
  without blocking and refused by its type), and hard links (a file that shares its contents
  with another path, possibly outside the submission) are ignored; each is named in a note;
- virtual environments (``.venv``, ``venv``, any folder holding ``pyvenv.cfg``), caches,
  ``site-packages``, build folders and hidden folders are skipped, never refused;
- the search for ``nnlib`` is bounded in depth and in entries, and only ``.py`` files whose
  path is made of Python identifiers are taken from it, with caps on their number and size.

A zip is read from its central directory, once its size is known to be bounded (the whole
directory is parsed into memory): only the chosen package's members are decompressed,
into memory, so the names of the other members (very long, very deep, clashing, absolute,
``..``) are never used as paths.
"""

from __future__ import annotations

import hashlib
import os
import stat
import zipfile
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

MAX_FILES = 200
MAX_FILE_BYTES = 1024 * 1024
MAX_PACKAGE_BYTES = 8 * 1024 * 1024
MAX_ZIP_MEMBERS = 200_000
# zipfile reads a zip's whole table of contents (its central directory) into memory and
# makes an object of about 1 KB per entry before anyone can count them. The kit's own
# .venv zipped (about 47,000 files) has a directory of about 6 MiB: 16 MiB leaves room.
MAX_ZIP_DIRECTORY_BYTES = 16 * 1024 * 1024
MAX_SEARCH_DEPTH = 8  # folders between the submission's root and nnlib/
MAX_PACKAGE_DEPTH = 3  # folders inside nnlib/
MAX_SEARCH_ENTRIES = 100_000
MAX_NOTES = 8
MAX_ID_BYTES = 100
# Files the grader writes next to the students' folders: no student id may take their name.
RESERVED_IDS = frozenset({"grades.csv"})

SKIPPED_DIRS = frozenset(
    {
        "venv",
        "env",
        "__pycache__",
        "__MACOSX",
        "node_modules",
        "site-packages",
        "dist-packages",
        "build",
        "dist",
    }
)


class SubmissionError(ValueError):
    """The submission cannot be graded as it is (no nnlib package, a broken zip, ...)."""


@dataclass
class Package:
    """The student's package as read from a submission.

    Attributes
    ----------
    files : dict of str to bytes
        Path inside ``nnlib/`` (``"losses.py"``, ``"sub/x.py"``) to contents.
    where : str
        Where the package was found, relative to the submission (``"src/nnlib"``).
    notes : list of str
        What was ignored and why (links, special files, other copies of nnlib).
    """

    files: dict
    where: str
    notes: list = field(default_factory=list)

    def digest(self) -> str:
        """A SHA-256 of every file's path and contents: the fingerprint of the student's code."""
        digest = hashlib.sha256()
        for rel in sorted(self.files):
            digest.update(rel.encode() + b"\0" + self.files[rel] + b"\0")
        return digest.hexdigest()


# ------------------------------------------------------------------------ the class folder


def student_id(path: Path) -> str:
    """The id of a submission: its folder name, or its zip file name without ``.zip``."""
    path = Path(path)
    return path.name[: -len(".zip")] if path.name.lower().endswith(".zip") else path.name


def id_problem(sid: str) -> str | None:
    """Why ``sid`` cannot name a student's records, or ``None`` if it can."""
    if not sid:
        return "the id is empty"
    if len(sid.encode("utf-8", "surrogatepass")) > MAX_ID_BYTES:
        return f"the id is longer than {MAX_ID_BYTES} bytes"
    try:
        sid.encode("utf-8")
    except UnicodeEncodeError:
        return "the id is not valid UTF-8"
    if any(ord(c) < 32 or ord(c) == 127 for c in sid):
        return "the id holds control characters"
    if sid in RESERVED_IDS:
        return f"the id {sid!r} is the name of a file the grader writes for the class"
    return None


@dataclass
class Listing:
    """A folder of submissions, sorted out.

    Attributes
    ----------
    submissions : list of Path
        The entries to grade, one per id, sorted by id.
    refused : list of (str, str)
        ``(id, reason)`` of students who handed something in that cannot be graded as it is
        (two entries with the same id, a link instead of a folder, an id that cannot name
        files): they get a record saying why.
    skipped : list of (str, str)
        ``(entry name, reason)`` of entries that are not submissions (hidden files, files
        other than ``.zip``): listed, never graded.
    """

    submissions: list = field(default_factory=list)
    refused: list = field(default_factory=list)
    skipped: list = field(default_factory=list)


def _entry_name(path: Path) -> str:
    return path.name + ("/" if path.is_dir() and not path.is_symlink() else "")


def scan_submissions(folder: Path) -> Listing:
    """Sort the entries of ``folder`` into submissions to grade, refused ids and skipped entries.

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
    listing = Listing()
    by_id: dict[str, list[Path]] = {}
    for path in sorted(folder.iterdir()):
        name = path.name
        if name.startswith((".", "_")):
            listing.skipped.append((name, "names starting with '.' or '_' are not submissions"))
            continue
        is_link = path.is_symlink()
        is_dir = not is_link and path.is_dir()
        is_zip = name.lower().endswith(".zip")
        if not (is_dir or is_zip or is_link):
            listing.skipped.append((name, "neither a folder nor a .zip file"))
            continue
        # Ids that differ only in case would share a folder on a case-insensitive disk.
        by_id.setdefault(student_id(path).casefold(), []).append(path)
    for key in sorted(by_id):
        paths = by_id[key]
        sid = student_id(paths[0])
        names = " and ".join(_entry_name(p) for p in paths)
        if len(paths) > 1:
            for other in sorted({student_id(p) for p in paths}):
                listing.refused.append(
                    (other, f"two entries share the id {sid!r}: {names}; keep one and grade again")
                )
        elif paths[0].is_symlink():
            listing.refused.append(
                (sid, f"{paths[0].name} is a symbolic link; links are not followed")
            )
        elif problem := id_problem(sid):
            listing.refused.append((sid, f"{names}: {problem}"))
        else:
            listing.submissions.append(paths[0])
    return listing


def list_submissions(folder: Path) -> list[Path]:
    """The entries of ``folder`` to grade (see :func:`scan_submissions`), sorted by id."""
    return scan_submissions(folder).submissions


# ------------------------------------------------------------------------ names


def _skipped_dir(name: str) -> bool:
    return name.startswith(".") or name in SKIPPED_DIRS or name.endswith(".egg-info")


def _skipped_in_package(name: str) -> bool:
    return name.startswith(".") or name == "__pycache__"


def _valid_rel(parts: tuple) -> bool:
    """A path inside nnlib/ made of identifiers, ending in a ``.py`` file."""
    if not parts or len(parts) > MAX_PACKAGE_DEPTH + 1:
        return False
    *dirs, last = parts
    return all(d.isidentifier() for d in dirs) and last.endswith(".py") and last[:-3].isidentifier()


def _choose(candidates: list, notes: list) -> str:
    """The package to grade among the ``nnlib`` folders found (relative POSIX paths)."""
    candidates.sort(key=lambda p: (len(PurePosixPath(p).parts), not p.endswith("src/nnlib"), p))
    for other in candidates[1:MAX_NOTES]:
        notes.append(f"also found {other}/ — graded {candidates[0]}/ only")
    return candidates[0]


def _no_package(label: str, notes: list) -> SubmissionError:
    why = f" ({'; '.join(notes[:3])})" if notes else ""
    return SubmissionError(
        f"no nnlib package in {label}: expected src/nnlib/ with losses.py and the other "
        f"modules of the student bundle{why}"
    )


def _add_note(notes: list, text: str) -> None:
    text = text.encode("utf-8", "replace").decode("utf-8")  # a name that is not UTF-8
    if len(notes) < MAX_NOTES and text not in notes:
        notes.append(text)


# ------------------------------------------------------------------------ folders


def _read_regular(path: str, limit: int) -> bytes | str:
    """The bytes of a regular file never reached through a link, or why it was not read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        return f"cannot be opened ({exc.strerror})"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return "not a regular file"
        if info.st_nlink > 1:
            return "a hard link (its contents are shared with another path): copy the file"
        if info.st_size > limit:
            return f"larger than {limit // 1024} KB"
        data = os.read(fd, limit + 1)
        if len(data) > limit:
            return f"larger than {limit // 1024} KB"
        return data
    finally:
        os.close(fd)


def _kind(entry: os.DirEntry) -> str:
    try:
        mode = entry.stat(follow_symlinks=False).st_mode
    except OSError:
        return "unreadable"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a device or special file"


def _walk(root: Path, max_depth: int, notes: list, prune=_skipped_dir):
    """Yield ``(relative parts, kind)`` of everything under ``root``, breadth first, without
    following links, skipping pruned folders and stopping at ``max_depth`` folders down."""
    queue = deque([()])
    seen = 0
    while queue:
        parts = queue.popleft()
        try:
            with os.scandir(root.joinpath(*parts)) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            _add_note(notes, f"could not read {'/'.join(parts) or '.'}: {exc.strerror}")
            continue
        for entry in entries:
            seen += 1
            if seen > MAX_SEARCH_ENTRIES:
                _add_note(notes, f"stopped looking after {MAX_SEARCH_ENTRIES} entries")
                return
            rel = (*parts, entry.name)
            kind = _kind(entry)
            if kind == "dir":
                if prune(entry.name):
                    continue
                try:
                    if (Path(entry.path) / "pyvenv.cfg").exists():
                        continue  # a virtual environment under another name
                except OSError:
                    continue
                yield rel, kind
                if len(rel) < max_depth:
                    queue.append(rel)
            else:
                yield rel, kind


def _read_folder(root: Path) -> Package:
    notes: list = []
    candidates = []
    for rel, kind in _walk(root, MAX_SEARCH_DEPTH, notes):
        path = "/".join(rel)
        if kind == "dir" and rel[-1] == "nnlib":
            if (root / path / "losses.py").is_file() and not (
                root / path / "losses.py"
            ).is_symlink():
                candidates.append(path)
        elif kind not in ("file", "dir"):
            _add_note(notes, f"ignored {path}: {kind} is never followed or read")
    if not candidates:
        raise _no_package(root.name, notes)
    where = _choose(candidates, notes)
    package = root / where
    files, total = {}, 0
    for rel, kind in _walk(package, MAX_PACKAGE_DEPTH, notes, prune=_skipped_in_package):
        name = "/".join(rel)
        if kind not in ("file", "dir"):
            _add_note(notes, f"ignored {where}/{name}: {kind} is never followed or read")
        if kind != "file" or not rel[-1].endswith(".py"):
            continue
        if not _valid_rel(rel):
            _add_note(notes, f"ignored {where}/{name}: not a module name")
            continue
        data = _read_regular(str(package / name), MAX_FILE_BYTES)
        if isinstance(data, str):
            _add_note(notes, f"ignored {where}/{name}: {data}")
            continue
        files[name] = data
        total += len(data)
        _check_size(root.name, files, total)
    return Package(files, where, notes)


def _check_size(label: str, files: dict, total: int) -> None:
    if len(files) > MAX_FILES:
        raise SubmissionError(f"{label}: nnlib holds more than {MAX_FILES} .py files")
    if total > MAX_PACKAGE_BYTES:
        raise SubmissionError(f"{label}: nnlib's .py files exceed {MAX_PACKAGE_BYTES >> 20} MB")


# ------------------------------------------------------------------------ zips


def _member_kind(info: zipfile.ZipInfo) -> str:
    if info.filename.endswith("/"):
        return "dir"
    mode = info.external_attr >> 16
    if info.create_system == 3 and stat.S_IFMT(mode) and not stat.S_ISREG(mode):
        return "a symbolic link" if stat.S_ISLNK(mode) else "a special file"
    return "file"


def _member_parts(name: str) -> tuple | None:
    """The parts of a member's name, or None if it cannot be a path inside the submission."""
    name = name.replace("\\", "/")
    if name.startswith("/") or len(name) > 4096 or "\0" in name:
        return None
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if ".." in parts or len(parts) > MAX_SEARCH_DEPTH + MAX_PACKAGE_DEPTH + 2:
        return None
    return parts


def _in_skipped_dir(parts: tuple, venvs: set) -> bool:
    return any(_skipped_dir(p) for p in parts[:-1]) or any(
        parts[:i] in venvs for i in range(1, len(parts))
    )


def open_zip(path: Path) -> zipfile.ZipFile:
    """Open an untrusted zip file, once its table of contents is known to be small.

    Raises
    ------
    SubmissionError
        If the table of contents is larger than ``MAX_ZIP_DIRECTORY_BYTES`` (read from the
        zip's end record before anything else), or the file is not a zip ``zipfile`` reads.
    """
    label = Path(path).name
    try:
        with open(path, "rb") as f:
            # The very record ZipFile() reads next (a private helper of zipfile, stable since
            # Python 2): a parser of our own could find a different one than zipfile does.
            end = zipfile._EndRecData(f)
        size = end[zipfile._ECD_SIZE] if end else 0
        if size > MAX_ZIP_DIRECTORY_BYTES:
            raise SubmissionError(
                f"{label} has a table of contents of {size >> 20} MiB, more than "
                f"{MAX_ZIP_DIRECTORY_BYTES >> 20} MiB (far too many entries): zip only the "
                "bundle's src/ folder and notebooks"
            )
        return zipfile.ZipFile(path)
    except SubmissionError:
        raise
    except Exception as exc:  # untrusted bytes: any parsing failure is the zip's, not ours
        raise SubmissionError(f"{label} is not a readable zip file: {exc}") from exc


def _read_zip(path: Path) -> Package:
    label = path.name
    archive = open_zip(path)
    notes: list = []
    with archive:
        members = archive.infolist()
        if len(members) > MAX_ZIP_MEMBERS:
            raise SubmissionError(
                f"{label} holds {len(members)} entries, more than {MAX_ZIP_MEMBERS}: zip only "
                "the bundle's src/ folder and notebooks"
            )
        named = []
        venvs = set()
        for info in members:
            parts = _member_parts(info.filename)
            if parts is None:
                continue
            named.append((parts, info))
            if parts and parts[-1] == "pyvenv.cfg":
                venvs.add(parts[:-1])
        candidates = set()
        for parts, info in named:
            if (
                len(parts) >= 2
                and parts[-2:] == ("nnlib", "losses.py")
                and len(parts) - 2 < MAX_SEARCH_DEPTH
                and _member_kind(info) == "file"
                and not _in_skipped_dir(parts, venvs)
            ):
                candidates.add("/".join(parts[:-1]))
        for parts, info in named:
            kind = _member_kind(info)
            if kind not in ("file", "dir") and not _in_skipped_dir(parts, venvs):
                _add_note(notes, f"ignored {'/'.join(parts)}: {kind} is never followed")
        if not candidates:
            raise _no_package(label, notes)
        where = _choose(sorted(candidates), notes)
        prefix = tuple(where.split("/"))
        chosen = {}
        for parts, info in named:
            if parts[: len(prefix)] != prefix or _member_kind(info) != "file":
                continue
            rel = parts[len(prefix) :]
            if not rel[-1].endswith(".py") or "__pycache__" in rel:
                continue
            name = "/".join(rel)
            if not _valid_rel(rel):
                _add_note(notes, f"ignored {where}/{name}: not a module name")
                continue
            if name in chosen:
                raise SubmissionError(
                    f"{label} holds two entries named {where}/{name}; zip the folder again"
                )
            chosen[name] = info
        files, total = {}, 0
        for name, info in sorted(chosen.items()):
            if info.file_size > MAX_FILE_BYTES:
                _add_note(notes, f"ignored {where}/{name}: larger than {MAX_FILE_BYTES >> 10} KB")
                continue
            try:
                with archive.open(info) as src:
                    data = src.read(MAX_FILE_BYTES + 1)
            except Exception as exc:  # corrupt data, an unknown method, a password, ...
                raise SubmissionError(f"{label}: cannot extract {info.filename}: {exc}") from exc
            if len(data) > MAX_FILE_BYTES:  # the header understated the size
                _add_note(notes, f"ignored {where}/{name}: larger than {MAX_FILE_BYTES >> 10} KB")
                continue
            files[name] = data
            total += len(data)
            _check_size(label, files, total)
    return Package(files, where, notes)


# ------------------------------------------------------------------------ entry point


def read_package(submission: Path) -> Package:
    """Read the student's ``nnlib`` from a submission folder or zip.

    Raises
    ------
    SubmissionError
        No package found, a broken zip, a link or special file instead of the submission,
        too many or too large files.
    """
    submission = Path(submission)
    try:
        info = submission.lstat()
    except OSError as exc:
        raise SubmissionError(f"submission not found: {submission}") from exc
    if stat.S_ISLNK(info.st_mode):
        raise SubmissionError(f"{submission.name} is a symbolic link; links are not followed")
    if stat.S_ISDIR(info.st_mode):
        package = _read_folder(submission)
    elif stat.S_ISREG(info.st_mode):
        package = _read_zip(submission)
    else:
        raise SubmissionError(f"{submission.name} is neither a folder nor a zip file")
    if "losses.py" not in package.files:
        raise _no_package(submission.name, package.notes)
    return package


def write_package(package: Package, dest: Path) -> None:
    """Write a package's files under ``dest`` (created)."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for rel, data in package.files.items():
        target = dest.joinpath(*rel.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def copy_package(submission: Path, dest: Path, scratch: Path | None = None) -> str:
    """Copy the submission's ``nnlib`` (``.py`` files only) to ``dest``; return its digest.

    ``scratch`` is accepted for backward compatibility and unused: zips are read in memory.

    Raises
    ------
    SubmissionError
        See :func:`read_package`.
    """
    package = read_package(submission)
    write_package(package, dest)
    return package.digest()
