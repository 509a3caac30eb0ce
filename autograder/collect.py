"""Copy the notebooks of returned student bundles into nbgrader's ``submitted/`` layout.

    python -m autograder.collect SUBMISSIONS [--course .]

A submission is a folder or ``.zip`` named by the student's nbgrader id, holding the bundle's
``notebooks/<NN_name>/<NN_name>.ipynb``. Each notebook goes to
``<course>/submitted/<student_id>/<NN_name>/<NN_name>.ipynb``, where ``nbgrader autograde``
expects it. Only notebooks of known assignments are copied (never a ``.py`` file), so the
grading kernel imports the reference ``nnlib``.
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path, PurePosixPath

from autograder.grader.submission import SubmissionError, list_submissions, student_id
from nnlib.tasks import NOTEBOOKS

MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024


def _notebooks_in(submission: Path) -> dict[str, bytes]:
    found = {}
    if submission.is_dir():
        for name in NOTEBOOKS:
            hits = sorted(submission.glob(f"**/{name}.ipynb"), key=lambda p: len(p.parts))
            hits = [p for p in hits if ".ipynb_checkpoints" not in p.parts and p.is_file()]
            if hits and hits[0].stat().st_size <= MAX_NOTEBOOK_BYTES:
                found[name] = hits[0].read_bytes()
        return found
    try:
        with zipfile.ZipFile(submission) as archive:
            for info in sorted(archive.infolist(), key=lambda i: len(i.filename)):
                path = PurePosixPath(info.filename)
                name = path.stem
                if (
                    path.suffix == ".ipynb"
                    and name in NOTEBOOKS
                    and name not in found
                    and ".ipynb_checkpoints" not in path.parts
                    and info.file_size <= MAX_NOTEBOOK_BYTES
                ):
                    found[name] = archive.read(info)
    except (zipfile.BadZipFile, OSError) as exc:
        raise SubmissionError(f"{submission.name} is not a readable zip file: {exc}") from exc
    return found


def collect(submissions: Path, course: Path) -> dict[str, list[str]]:
    """Copy every submission's notebooks under ``course/submitted``; return what was found."""
    report = {}
    for submission in list_submissions(submissions):
        sid = student_id(submission)
        try:
            notebooks = _notebooks_in(submission)
        except SubmissionError as exc:
            print(f"  ! {sid}: {exc}", file=sys.stderr)
            notebooks = {}
        for name, data in notebooks.items():
            target = Path(course) / "submitted" / sid / name / f"{name}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        report[sid] = sorted(notebooks)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Copy student notebooks into nbgrader's submitted/<student>/<assignment>/."
    )
    parser.add_argument("submissions", type=Path, help="folder of returned bundles")
    parser.add_argument("--course", type=Path, default=Path("."), help="nbgrader course root")
    args = parser.parse_args(argv)
    try:
        report = collect(args.submissions, args.course)
    except SubmissionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for sid, names in report.items():
        print(f"  {sid}: {', '.join(names) if names else 'no notebooks'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
