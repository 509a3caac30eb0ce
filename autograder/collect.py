"""Copy the notebooks of returned student bundles into nbgrader's ``submitted/`` layout.

    make collect SUBMISSIONS=folder [TIMESTAMPS=times.csv]
    python -m autograder.collect SUBMISSIONS [--course grading] [--timestamps times.csv]

A submission is a folder or ``.zip`` named by the student's nbgrader id, holding the bundle's
``notebooks/<NN_name>/<NN_name>.ipynb`` (at any depth, so a zip with one top folder works).
Each notebook goes to ``<course>/submitted/<student_id>/<NN_name>/<NN_name>.ipynb``, where
``nbgrader autograde`` expects it, beside a ``timestamp.txt`` that nbgrader reads as the
submission time (and applies the assignment's late policy to). Only notebooks of known
assignments are copied (never a ``.py`` file), so the grading kernel imports the reference
``nnlib``. A notebook that is unchanged since the last collect is left as it is.

The submission time is, in this order: the student's row of ``--timestamps`` (a CSV with the
columns ``student_id`` and ``timestamp``, ISO 8601, UTC unless it names a zone; an LMS export
gives the real hand-in times), else the zip file's modification time, else the newest
modification time of a file in the folder.

``<course>/submissions.csv`` records every submission of the last collect: its id, the entry
it came from, the time, where the time came from, the notebooks found and a status
(``collected``, or why nothing could be taken). ``nnlib-merge-grades --submissions`` carries
the time and the status into the class CSV.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from autograder.grader.submission import (
    SubmissionError,
    open_zip,
    scan_submissions,
    student_id,
)
from nnlib.tasks import NOTEBOOKS

MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024
MAX_SCANNED_FILES = 20_000  # files looked at for a folder's time (a .venv holds ~60,000)
MANIFEST = "submissions.csv"
MANIFEST_COLUMNS = ["student_id", "source", "submitted_at", "time_from", "notebooks", "status"]
_SKIPPED_FOLDERS = {".venv", "venv", ".git", "__pycache__", ".ipynb_checkpoints", "node_modules"}


class CollectError(ValueError):
    """The submissions folder or the timestamps CSV cannot be used."""


@dataclass
class Collected:
    """What one submission gave."""

    student: str
    source: str
    submitted_at: datetime | None = None
    time_from: str = ""
    notebooks: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.problems:
            return "error: " + "; ".join(self.problems)
        return "collected" if self.notebooks else "no notebooks"


def _printable(text: str) -> str:
    """``text`` writable as UTF-8: a file name that is not (lone surrogates) gets ``?``."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _is_notebook(data: bytes) -> bool:
    try:
        nb = json.loads(data)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        return False
    return isinstance(nb, dict) and isinstance(nb.get("cells"), list)


def _take(found: dict, problems: list, name: str, data: bytes) -> None:
    if _is_notebook(data):
        found[name] = data
    else:
        problems.append(f"{name}.ipynb is not a readable notebook (not JSON with cells)")


def _notebooks_in(submission: Path) -> tuple[dict[str, bytes], list[str]]:
    """``({notebook name: bytes}, [problems])`` of one submission (folder or zip)."""
    found, problems = {}, []
    if submission.is_dir():
        for name in NOTEBOOKS:
            hits = sorted(submission.glob(f"**/{name}.ipynb"), key=lambda p: len(p.parts))
            # A link (unzip restores them) could point at a classmate's notebook: never followed.
            hits = [
                p
                for p in hits
                if ".ipynb_checkpoints" not in p.parts and not p.is_symlink() and p.is_file()
            ]
            if not hits:
                continue
            if hits[0].stat().st_size > MAX_NOTEBOOK_BYTES:
                problems.append(f"{name}.ipynb is larger than {MAX_NOTEBOOK_BYTES >> 20} MB")
            else:
                _take(found, problems, name, hits[0].read_bytes())
        return found, problems
    try:
        with open_zip(submission) as archive:
            for info in sorted(archive.infolist(), key=lambda i: len(i.filename)):
                path = PurePosixPath(info.filename)
                name = path.stem
                if (
                    path.suffix != ".ipynb"
                    or name not in NOTEBOOKS
                    or name in found
                    or ".ipynb_checkpoints" in path.parts
                    or "__MACOSX" in path.parts
                ):
                    continue
                if info.file_size > MAX_NOTEBOOK_BYTES:
                    problems.append(f"{name}.ipynb is larger than {MAX_NOTEBOOK_BYTES >> 20} MB")
                else:
                    _take(found, problems, name, archive.read(info))
    except SubmissionError:
        raise
    except Exception as exc:  # untrusted bytes: encrypted, unknown method, corrupt data, ...
        raise SubmissionError(f"{submission.name} is not a readable zip file: {exc}") from exc
    return found, problems


def _folder_time(folder: Path) -> float | None:
    """The newest modification time of a regular file in ``folder`` (bounded walk)."""
    newest, seen = None, 0
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if d not in _SKIPPED_FOLDERS]
        for name in filenames:
            seen += 1
            if seen > MAX_SCANNED_FILES:
                return newest
            path = Path(dirpath) / name
            if path.is_symlink() or not path.is_file():
                continue
            mtime = path.stat().st_mtime
            newest = mtime if newest is None else max(newest, mtime)
    return newest


def parse_time(text: str, where: str) -> datetime:
    """An ISO 8601 time as an aware UTC datetime (a time without zone is taken as UTC)."""
    try:
        when = datetime.fromisoformat(text.strip().replace(" UTC", "+00:00"))
    except ValueError as exc:
        raise CollectError(
            f"{where}: not a time: {text!r} (expected ISO 8601, e.g. 2026-11-20T23:59:00Z)"
        ) from exc
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def read_timestamps(path: Path) -> dict[str, datetime]:
    """``{student_id: time}`` from a CSV with the columns ``student_id`` and ``timestamp``."""
    path = Path(path)
    if not path.is_file():
        raise CollectError(f"timestamps CSV not found: {path}")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = {"student_id", "timestamp"} - set(reader.fieldnames or [])
        if missing:
            raise CollectError(f"{path}: missing column(s) {sorted(missing)}")
        return {
            row["student_id"].strip(): parse_time(row["timestamp"], f"{path} line {n}")
            for n, row in enumerate(reader, start=2)
            if row["student_id"].strip()
        }


def submission_time(submission: Path) -> tuple[datetime | None, str]:
    """The time of a submission from the file system, and where it came from."""
    if submission.is_dir():
        mtime, source = _folder_time(submission), "newest file in the folder"
    else:
        mtime, source = submission.stat().st_mtime, "zip file time"
    if mtime is None:
        return None, ""
    return datetime.fromtimestamp(mtime, UTC).replace(microsecond=0), source


def _write_if_changed(path: Path, data: bytes) -> None:
    if path.is_file() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def collect(
    submissions: Path, course: Path, timestamps: dict[str, datetime] | None = None
) -> list[Collected]:
    """Copy every submission's notebooks under ``course/submitted`` and write the manifest.

    An id the library grader refuses too (two entries with one id, a link in place of a
    submission, an id that cannot name a file) is collected from nowhere: it gets a manifest
    row whose status says why.

    Raises
    ------
    SubmissionError
        If ``submissions`` is not a folder.
    CollectError
        If it holds no submission at all (nothing would be graded).
    """
    listing = scan_submissions(submissions)
    if not listing.submissions and not listing.refused:
        raise CollectError(
            f"no submissions in {submissions}: expected one folder or .zip per student, "
            "named by the student's id"
        )
    timestamps = timestamps or {}
    report = [
        Collected(_printable(sid), "", problems=[_printable(reason)])
        for sid, reason in listing.refused
    ]
    for submission in listing.submissions:
        sid = student_id(submission)
        item = Collected(sid, submission.name)
        if sid in timestamps:
            item.submitted_at, item.time_from = timestamps[sid], "timestamps CSV"
        else:
            item.submitted_at, item.time_from = submission_time(submission)
        try:
            notebooks, item.problems = _notebooks_in(submission)
        except SubmissionError as exc:
            notebooks, item.problems = {}, [str(exc)]
        stamp = item.submitted_at.isoformat() if item.submitted_at else ""
        for name, data in sorted(notebooks.items()):
            folder = Path(course) / "submitted" / sid / name
            _write_if_changed(folder / f"{name}.ipynb", data)
            if stamp:
                _write_if_changed(folder / "timestamp.txt", (stamp + "\n").encode())
        item.notebooks = sorted(notebooks)
        report.append(item)
    report.sort(key=lambda item: item.student.casefold())  # the order of scan_submissions
    write_manifest(Path(course) / MANIFEST, report)
    return report


def write_manifest(path: Path, report: list[Collected]) -> None:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(MANIFEST_COLUMNS)
    for item in report:
        writer.writerow(
            [
                item.student,
                item.source,
                item.submitted_at.isoformat() if item.submitted_at else "",
                item.time_from,
                " ".join(item.notebooks),
                item.status,
            ]
        )
    _write_if_changed(path, out.getvalue().encode())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Copy student notebooks into nbgrader's submitted/<student>/<assignment>/, "
        "with each submission's time."
    )
    parser.add_argument("submissions", type=Path, help="folder of returned bundles")
    parser.add_argument(
        "--course", type=Path, default=Path("grading"), help="nbgrader course root (grading)"
    )
    parser.add_argument(
        "--timestamps", type=Path, help="CSV with student_id,timestamp (hand-in times)"
    )
    args = parser.parse_args(argv)
    try:
        times = read_timestamps(args.timestamps) if args.timestamps else None
        report = collect(args.submissions, args.course, times)
    except (SubmissionError, CollectError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for item in report:
        when = item.submitted_at.isoformat() if item.submitted_at else "no time"
        found = ", ".join(item.notebooks) if item.notebooks else "no notebooks"
        problems = f"  ! {'; '.join(item.problems)}" if item.problems else ""
        print(f"  {item.student}: {found} ({when}){problems}")
    taken = sum(bool(item.notebooks) for item in report)
    print(
        f"collected the notebooks of {taken} of {len(report)} ids into {args.course / 'submitted'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
