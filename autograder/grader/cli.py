"""``nnlib-grade``: grade every submission in a folder, in parallel, resumably.

    nnlib-grade SUBMISSIONS --out build/grades --jobs 2

Each submission (a folder or a ``.zip``) gets ``<out>/<student>/result.json`` and
``feedback.md``; ``<out>/grades.csv`` is rewritten at the end from every record present.
Students that already have a record of their current code are skipped unless ``--force``,
so an interrupted run resumes where it stopped and a resubmission is graded again.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing.util import Finalize
from pathlib import Path

from .grade import GRADER_VERSION, Grader
from .report import load_record, write_csv, write_record
from .sandbox import Limits
from .submission import SubmissionError, copy_package, list_submissions, student_id

_worker: Grader | None = None


def _init_worker(slots, mode: str, task_seconds: float, private=()) -> None:
    global _worker
    _worker = Grader(mode, Limits(task_seconds=task_seconds), slot=slots.get(), private=private)
    # Pool workers skip atexit handlers; multiprocessing's own finalizers do run.
    Finalize(_worker, _worker.close, exitpriority=10)


def _grade_in_worker(path: str) -> dict:
    return _worker.grade(Path(path))


def _fingerprint(path: Path) -> str | None:
    with tempfile.TemporaryDirectory() as tmp:
        try:
            return copy_package(path, Path(tmp) / "nnlib", Path(tmp) / "unpacked")
        except SubmissionError:
            return None


def pending(submissions: list[Path], out: Path, force: bool) -> list[Path]:
    """The submissions to grade: all with ``force``; otherwise those without a record of this
    grader version, or whose code changed since their record was written."""
    if force:
        return list(submissions)
    todo = []
    for path in submissions:
        record = load_record(out, student_id(path))
        if (
            record is None
            or record.get("grader_version") != GRADER_VERSION
            or record.get("fingerprint") != _fingerprint(path)
        ):
            todo.append(path)
    return todo


def grade_folder(
    folder: Path,
    out: Path,
    jobs: int = 1,
    force: bool = False,
    mode: str = "auto",
    task_seconds: float = 5.0,
    echo=print,
) -> tuple[int, int]:
    """Grade a folder of submissions into ``out``; return (graded, failed to grade).

    Raises
    ------
    SubmissionError
        If ``folder`` is missing or ``out`` lies inside it.
    """
    folder, out = Path(folder).resolve(), Path(out).resolve()
    submissions = list_submissions(folder)
    if out.is_relative_to(folder):
        raise SubmissionError(f"the output folder {out} must not lie inside {folder}")
    todo = pending(submissions, out, force)
    echo(f"{len(submissions)} submissions, {len(todo)} to grade, {jobs} job(s)")
    done = failed = 0
    started = time.monotonic()

    def finish(path: Path, record: dict | None, error: Exception | None):
        nonlocal done, failed
        if record is None:
            failed += 1
            echo(f"  ! {student_id(path)}: not graded, grader problem: {error}")
            return
        write_record(out, record)
        done += 1
        echo(
            f"  {student_id(path)}: {record['score']:g} / {record['max_score']:g}"
            + (f" ({record['error']})" if record.get("error") else "")
        )

    if jobs <= 1:
        grader = Grader(mode, Limits(task_seconds=task_seconds), private=(folder, out))
        try:
            for path in todo:
                try:
                    finish(path, grader.grade(path), None)
                except RuntimeError as exc:
                    finish(path, None, exc)
        finally:
            grader.close()
    elif todo:
        context = multiprocessing.get_context("forkserver")
        slots = context.Queue()
        for slot in range(jobs):
            slots.put(slot)
        with ProcessPoolExecutor(
            jobs,
            mp_context=context,
            initializer=_init_worker,
            initargs=(slots, mode, task_seconds, (folder, out)),
        ) as pool:
            futures = {pool.submit(_grade_in_worker, str(p)): p for p in todo}
            for future in as_completed(futures):
                try:
                    finish(futures[future], future.result(), None)
                except Exception as exc:  # a worker's grader problem must not stop the others
                    finish(futures[future], None, exc)
    path = write_csv(out)
    seconds = time.monotonic() - started
    echo(f"graded {done} in {seconds:.1f} s; wrote {path}")
    return done, failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="nnlib-grade",
        description="Grade the nnlib library tasks of every submission (folder or .zip) in a "
        "folder, each in a sandboxed child process; write a JSON record and Markdown feedback "
        "per student and a class grades.csv.",
    )
    parser.add_argument("submissions", type=Path, help="folder holding one entry per student")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("build/grades"),
        help="output folder (default: build/grades)",
    )
    parser.add_argument("--jobs", "-j", type=int, default=1, help="submissions graded at once")
    parser.add_argument(
        "--force", action="store_true", help="regrade students that already have a record"
    )
    parser.add_argument(
        "--sandbox",
        choices=["auto", "namespace", "uid", "plain"],
        default="auto",
        help="sandbox strength (default: strongest available)",
    )
    parser.add_argument(
        "--task-seconds", type=float, default=5.0, help="wall-clock limit per task (default: 5)"
    )
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    try:
        _, failed = grade_folder(
            args.submissions, args.out, args.jobs, args.force, args.sandbox, args.task_seconds
        )
    except (SubmissionError, PermissionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
