"""Autograde a class's notebooks with nbgrader, many students at once, and export the grades.

    make grade-notebooks [JOBS=n] [FORCE=1]   # python -m autograder.notebook_grading grade
    make export                               # python -m autograder.notebook_grading export

The course folder (``grading/`` in the kit) holds nbgrader's ``gradebook.db`` (written by
``make release``) and ``submitted/<student>/<NN_name>/`` (written by ``make collect``).

**Grading.** nbgrader's gradebook is one SQLite file, and ``nbgrader autograde`` writes to it
all along a notebook's run, so two autogrades on one gradebook can collide. Here every student
is autograded by plain ``nbgrader autograde --student <id>`` (hidden tests, checksums, the
per-cell timeout of ``nbgrader_config.py``, written answers left for the formgrader) in a
scratch course folder of its own, on a consistent copy of the gradebook, ``jobs`` students at a
time. This process alone writes the course's gradebook (after copying it to ``backups/``, where
the last ``BACKUPS_KEPT`` copies are kept): when a student is done, it copies that
student's automatic scores and comments, submission time and late penalty into it, and moves
the autograded notebooks to ``autograded/<student>/``. A manual score given in the formgrader
is kept (the cell is flagged for review again, as nbgrader does when it regrades).

A student is graded again only when a notebook of theirs, its submission time or the source
notebook changed since they were graded (``notebook_grading.json`` keeps a fingerprint of
each), so a resubmission is regraded by the same command and an interrupted run resumes;
``--force`` regrades everyone. A notebook that nbgrader cannot grade gets the status
``error: ...`` (its log is ``logs/<student>.log``), is tried again on the next run, and its
status reaches the export and the class CSV.

**Quick mode.** The kernels run with ``NNLIB_QUICK=1`` (see :mod:`nnlib.quick`): every
notebook runs its experiments (seed, size, epoch sweeps) at a reduced size, while every answer
cell, visible check and hidden test runs as it is, so the scores are those of a full run; the
autograded notebooks that the formgrader shows then hold the quick outputs. ``--full`` (``make
grade-notebooks QUICK=0``) runs them at the students' size. The variable is set for every kernel
nbgrader starts, so a new notebook that asks ``nnlib.quick_mode()`` needs nothing here.
``notebook_grading.json`` records the mode each notebook was graded in (``"quick"``), which
says what the formgrader's copy shows; a change of mode alone does not regrade anyone (it
changes no score); ``--force`` does.

**Grading kernels.** Each student's kernels read the IPython settings of
``autograder/grading_kernel`` (through a scratch ``IPYTHONDIR`` and ``PYTHONPATH``): figures are
drawn once (not again to trim their margins), titles sit at a fixed height, no history is
written, and the notebooks' ``%autoreload 3`` reloads nothing; nbgrader stops each kernel at
once when its notebook is done (``autograder/nbgrader_config.py``). None of it changes a score;
each saves seconds per notebook (``make bench-notebooks`` measures the whole).

**Export.** One row per (assignment, student): nbgrader's export columns (``nbgrader export``
writes the same ones, without quoting names that hold a comma) and a ``status``: ``graded``,
``needs manual grading`` (written answers not scored yet), ``not submitted`` or the error.
It refuses to write a file without a single graded submission.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import csv
import hashlib
import io
import json
import os
import shutil
import sqlite3
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from autograder.process_tree import run_with_limit
from nnlib.presubmit import NBGRADER, skip_iri_grammar  # nbgrader's command line (see there)
from nnlib.quick import QUICK_ENV
from nnlib.tasks import NOTEBOOKS

skip_iri_grammar()  # before this module's first import of nbgrader: seconds off every command

KIT = Path(__file__).resolve().parent.parent
CONFIG = KIT / "nbgrader_config.py"
SOURCE = KIT / "solutions"
GRADING_KERNEL = KIT / "autograder" / "grading_kernel"  # IPython settings of the grading kernels
COURSE_ID = "manual-neural-networks"
STATE = "notebook_grading.json"
GRADEBOOK = "gradebook.db"
EXPORT_COLUMNS = [
    "assignment",
    "duedate",
    "timestamp",
    "student_id",
    "last_name",
    "first_name",
    "email",
    "raw_score",
    "late_submission_penalty",
    "score",
    "max_score",
    "status",
]
BACKUPS_KEPT = 10  # copies of the gradebook from before each grading run, newest kept
STUDENT_TIMEOUT = 3600  # seconds for one student's notebooks (each cell has its own limit)


class GradingError(RuntimeError):
    """The course folder cannot be graded or exported as it is."""


def cores() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _db_url(path: Path) -> str:
    return f"sqlite:///{Path(path).resolve()}"


def _gradebook(course: Path) -> Path:
    path = (Path(course) / GRADEBOOK).absolute()
    if not path.is_file():
        raise GradingError(
            f"no gradebook at {path}: run `make release` from the kit root first (it records "
            f"the assignments there), or name the course folder that holds it"
        )
    return path


def _sha256(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "little") + part)
    return digest.hexdigest()


def fingerprint(course: Path, student: str, assignment: str, source: Path = SOURCE) -> str:
    """What a notebook's grade depends on: the submission, its time and the source notebook."""
    folder = Path(course) / "submitted" / student / assignment
    stamp = folder / "timestamp.txt"
    source_nb = Path(source) / assignment / f"{assignment}.ipynb"
    return _sha256(
        (folder / f"{assignment}.ipynb").read_bytes(),
        stamp.read_bytes() if stamp.is_file() else b"",
        source_nb.read_bytes() if source_nb.is_file() else b"",
    )


def submitted(course: Path) -> dict[str, list[str]]:
    """``{student: [assignments]}`` of every notebook under ``course/submitted``."""
    root = Path(course) / "submitted"
    found = {}
    if root.is_dir():
        for student in sorted(p for p in root.iterdir() if p.is_dir()):
            names = [n for n in NOTEBOOKS if (student / n / f"{n}.ipynb").is_file()]
            if names:
                found[student.name] = names
    return found


def load_state(course: Path) -> dict:
    path = Path(course) / STATE
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except ValueError as exc:
        raise GradingError(f"{path} is not readable JSON ({exc}); delete it to regrade") from exc


def save_state(course: Path, state: dict) -> None:
    path = Path(course) / STATE
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)


def _graded_pairs(gradebook: Path) -> set[tuple[str, str]]:
    """``(student, assignment)`` of every submission the gradebook holds."""
    from nbgrader.api import Gradebook

    with Gradebook(_db_url(gradebook), COURSE_ID) as gb:
        return {
            (sub.student.id, assignment.name)
            for assignment in gb.assignments
            for sub in assignment.submissions
        }


def plan(course: Path, force: bool = False, source: Path = SOURCE) -> dict[str, list[str]]:
    """``{student: [assignments to autograde]}``: new, changed, failed or forced notebooks."""
    gradebook = _gradebook(course)
    state = load_state(course)
    in_gradebook = _graded_pairs(gradebook)
    todo = {}
    for student, names in submitted(course).items():
        stale = [
            name
            for name in names
            if force
            or (student, name) not in in_gradebook
            or state.get(student, {}).get(name, {}).get("status") != "graded"
            or state[student][name].get("fingerprint") != fingerprint(course, student, name, source)
        ]
        if stale:
            todo[student] = stale
    return todo


@dataclass
class Result:
    """One student's autograde in its scratch course folder."""

    student: str
    assignments: list[str]
    scratch: Path
    returncode: int = -1
    seconds: float = 0.0
    log: str = ""
    fingerprints: dict = field(default_factory=dict)
    done: list[str] = field(default_factory=list)  # assignments nbgrader autograded

    def graded(self, assignment: str) -> bool:
        return assignment in self.done


def _copy_gradebook(source: Path, dest: Path) -> None:
    """A consistent copy of a SQLite file, even while another connection writes to it."""
    with sqlite3.connect(source) as src, sqlite3.connect(dest) as dst:
        src.backup(dst)
    src.close()
    dst.close()


def backup_gradebook(course: Path, keep: int = BACKUPS_KEPT) -> Path:
    """Copy the course's gradebook to ``backups/gradebook-<UTC time>.db`` (a consistent SQLite
    copy) and remove all but the newest ``keep`` copies; return the new copy's path."""
    folder = Path(course) / "backups"
    folder.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    copy = folder / f"gradebook-{stamp}.db"
    _copy_gradebook(_gradebook(course), copy)
    for old in sorted(folder.glob("gradebook-*.db"))[:-keep]:
        old.unlink()
    return copy


def worker_env(threads: int, quick: bool = True, ipython_dir: Path | None = None) -> dict:
    """The environment of nbgrader and its kernels.

    ``threads`` BLAS threads each, so that the jobs share the cores, and ``NNLIB_QUICK`` set to
    ``1`` (``quick``) or ``0``, whatever the instructor's shell holds. With ``ipython_dir`` (a
    folder made by :func:`grading_ipython_dir`) the kernels use the grading kernel settings of
    ``autograder/grading_kernel``: figures drawn once, no history, no module reloading.
    """
    env = dict(os.environ)
    env[QUICK_ENV] = "1" if quick else "0"
    # nbgrader runs the gradebook's migrations with the "alembic" command beside this Python
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(threads)
    env.setdefault("MPLBACKEND", "Agg")
    if ipython_dir is not None:
        env["IPYTHONDIR"] = str(ipython_dir)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(GRADING_KERNEL), env.get("PYTHONPATH", "")) if p
        )
    return env


def grading_ipython_dir(folder: Path) -> Path:
    """An IPython folder under ``folder`` whose kernels read the grading kernel configuration."""
    profile = Path(folder) / "ipython" / "profile_default"
    profile.mkdir(parents=True, exist_ok=True)
    config = "ipython_kernel_config.py"
    shutil.copyfile(GRADING_KERNEL / config, profile / config)
    return profile.parent


def autograde_student(
    course: Path,
    student: str,
    assignments: list[str],
    scratch_root: Path,
    threads: int,
    quick: bool = True,
) -> Result:
    """Run ``nbgrader autograde`` for one student in a scratch copy of the course."""
    scratch = Path(tempfile.mkdtemp(prefix=f"{student}-", dir=scratch_root))
    result = Result(student, list(assignments), scratch)
    for name in assignments:
        result.fingerprints[name] = fingerprint(course, student, name)
        shutil.copytree(
            Path(course) / "submitted" / student / name, scratch / "submitted" / student / name
        )
    _copy_gradebook(Path(course) / GRADEBOOK, scratch / GRADEBOOK)
    command = [
        *NBGRADER,
        "autograde",
        "*",
        f"--student={student}",
        "--create",
        "--force",
        f"--NbGrader.config_file={CONFIG.with_suffix('')}",
        f"--CourseDirectory.root={scratch}",
        f"--CourseDirectory.course_id={COURSE_ID}",
        "--log-level=INFO",
    ]
    start = time.perf_counter()
    # After the limit, nbgrader and its kernels are killed: a kernel that ignores interrupts
    # would otherwise outlive nbgrader and keep a core busy.
    code, result.log = run_with_limit(
        command,
        STUDENT_TIMEOUT,
        cwd=scratch,
        env=worker_env(threads, quick, grading_ipython_dir(scratch)),
    )
    if code is None:
        result.log += f"\n[stopped after {STUDENT_TIMEOUT} s]\n"
    else:
        result.returncode = code
    result.seconds = time.perf_counter() - start
    result.done = [
        name
        for name in assignments
        if (scratch / "autograded" / student / name / f"{name}.ipynb").is_file()
    ]
    return result


def merge_result(course: Path, result: Result) -> None:
    """Copy a student's autograde into the course's gradebook and ``autograded/`` folder."""
    from nbgrader.api import Gradebook, MissingEntry
    from sqlalchemy.exc import SAWarning

    graded = [name for name in result.assignments if result.graded(name)]
    if not graded:
        return
    with (
        # nbgrader's add_submission sets off SQLAlchemy autoflush warnings (autograde prints
        # them too); they say nothing about this merge
        warnings.catch_warnings(),
        Gradebook(_db_url(result.scratch / GRADEBOOK), COURSE_ID) as scratch_gb,
        Gradebook(_db_url(Path(course) / GRADEBOOK), COURSE_ID) as gb,
    ):
        warnings.simplefilter("ignore", SAWarning)
        try:
            gb.find_student(result.student)
        except MissingEntry:
            gb.add_student(result.student)
        for name in graded:
            done = scratch_gb.find_submission(name, result.student)
            if done.timestamp is not None:
                gb.update_or_create_submission(name, result.student, timestamp=done.timestamp)
            else:
                gb.update_or_create_submission(name, result.student)
            for done_nb in done.notebooks:
                nb = gb.find_submission_notebook(done_nb.name, name, result.student)
                nb.late_submission_penalty = done_nb.late_submission_penalty
                for done_grade in done_nb.grades:
                    grade = gb.find_grade(done_grade.name, done_nb.name, name, result.student)
                    grade.auto_score = done_grade.auto_score
                    # as nbgrader's SaveAutoGrades: a manual score is kept, and reviewed again
                    grade.needs_manual_grade = (
                        grade.manual_score is not None or grade.auto_score is None
                    )
                for done_comment in done_nb.comments:
                    comment = gb.find_comment(done_comment.name, done_nb.name, name, result.student)
                    comment.auto_comment = done_comment.auto_comment
        gb.db.commit()
    for name in graded:
        target = Path(course) / "autograded" / result.student / name
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(result.scratch / "autograded" / result.student / name, target)


def _error_lines(log: str, limit: int = 3) -> str:
    lines = [line.strip() for line in log.splitlines() if "[ERROR]" in line or "Error" in line]
    return " | ".join(lines[-limit:])[:300] or "no error message (see the log)"


def grade(
    course: Path = Path("grading"),
    jobs: int | None = None,
    force: bool = False,
    out=sys.stdout,
    quick: bool = True,
) -> dict[str, dict[str, str]]:
    """Autograde every new or changed notebook; return ``{student: {assignment: status}}``.

    ``quick`` runs the notebooks' experiments at their reduced size (``NNLIB_QUICK=1``); the
    scores do not depend on it.
    """
    course = Path(course).resolve()
    gradebook = _gradebook(course)
    if not submitted(course):
        raise GradingError(
            f"nothing to grade in {course / 'submitted'}: run `make collect SUBMISSIONS=folder` "
            "from the kit root first"
        )
    todo = plan(course, force)
    jobs = max(1, jobs or cores())
    threads = max(1, cores() // jobs)
    state = load_state(course)
    statuses: dict[str, dict[str, str]] = {}
    print(
        f"autograding {len(todo)} students ({sum(map(len, todo.values()))} notebooks) "
        f"with {jobs} jobs; {len(submitted(course)) - len(todo)} unchanged since last graded; "
        + (
            f"quick mode ({QUICK_ENV}=1: smaller experiments, the same checks)"
            if quick
            else f"full size ({QUICK_ENV}=0)"
        ),
        file=out,
        flush=True,
    )
    logs = course / "logs"
    logs.mkdir(exist_ok=True)
    if todo:
        print(f"gradebook as it was: {backup_gradebook(course)}", file=out, flush=True)
    with tempfile.TemporaryDirectory(prefix=".autograde-", dir=course) as scratch_root:
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=jobs)
        try:
            futures = {
                pool.submit(
                    autograde_student, course, student, names, Path(scratch_root), threads, quick
                ): (student, names)
                # the students with the most notebooks first, so that no long one starts last
                for student, names in sorted(todo.items(), key=lambda item: -len(item[1]))
            }
            for future in concurrent.futures.as_completed(futures):
                try:
                    result = future.result()
                except Exception as exc:  # the scratch copy failed: a disk or permission error
                    student, names = futures[future]
                    result = Result(student, names, Path(scratch_root) / "-", log=repr(exc))
                    result.fingerprints = {name: "" for name in names}
                (logs / f"{result.student}.log").write_text(result.log, encoding="utf-8")
                try:
                    merge_result(course, result)
                    problem = ""
                except Exception as exc:  # one student's records must not stop the others
                    problem = f"error: its grades could not be recorded: {exc!r}"[:300]
                    result.done = []
                entry = state.setdefault(result.student, {})
                for name in result.assignments:
                    ok = result.graded(name)
                    status = "graded" if ok else problem or "error: " + _error_lines(result.log)
                    entry[name] = {
                        "fingerprint": result.fingerprints[name],
                        "status": status,
                        "quick": quick,
                    }
                    statuses.setdefault(result.student, {})[name] = status
                save_state(course, state)
                shutil.rmtree(result.scratch, ignore_errors=True)
                failed = [n for n in result.assignments if not result.graded(n)]
                note = f"; FAILED {', '.join(failed)} (see {logs / result.student}.log)"
                print(
                    f"  {result.student}: {len(result.assignments) - len(failed)} notebooks "
                    f"in {result.seconds:.1f} s{note if failed else ''}",
                    file=out,
                    flush=True,
                )
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
    print(f"gradebook: {gradebook}", file=out)
    return statuses


def export_rows(course: Path = Path("grading")) -> list[dict]:
    """The export's rows, one per (assignment, student), sorted by assignment then student."""
    from nbgrader.api import Gradebook, MissingEntry

    gradebook = _gradebook(course)
    state = load_state(course)
    rows = []
    with Gradebook(_db_url(gradebook), COURSE_ID) as gb:
        students = {s.id: s for s in gb.students}
        ids = sorted(set(students) | set(state))
        assignments = sorted(gb.assignments, key=lambda a: a.name)
        if not assignments:
            raise GradingError(f"{gradebook} records no assignment: run `make release` first")
        for assignment in assignments:
            for sid in ids:
                student = students.get(sid)
                row = {
                    "assignment": assignment.name,
                    "duedate": assignment.duedate or "",
                    "student_id": sid,
                    "last_name": (student.last_name if student else "") or "",
                    "first_name": (student.first_name if student else "") or "",
                    "email": (student.email if student else "") or "",
                    "max_score": f"{assignment.max_score:g}",
                }
                noted = state.get(sid, {}).get(assignment.name, {}).get("status", "")
                try:
                    sub = gb.find_submission(assignment.name, sid)
                except MissingEntry:
                    sub = None
                if sub is None:
                    row.update(timestamp="", raw_score="0", late_submission_penalty="0")
                    row.update(score="0", status=noted or "not submitted")
                else:
                    penalty = sub.late_submission_penalty or 0.0
                    row.update(
                        # nbgrader stores times in UTC without a zone
                        timestamp=f"{sub.timestamp.isoformat()}+00:00" if sub.timestamp else "",
                        raw_score=f"{sub.score:g}",
                        late_submission_penalty=f"{penalty:g}",
                        score=f"{max(0.0, sub.score - penalty):g}",
                    )
                    if noted.startswith("error"):
                        row["status"] = noted + " (the score is from an earlier grading)"
                    elif sub.needs_manual_grade:
                        row["status"] = "needs manual grading"
                    else:
                        row["status"] = "graded"
                rows.append(row)
    if not any(row["status"] != "not submitted" for row in rows):
        raise GradingError(
            f"{gradebook} holds no graded submission: run `make collect SUBMISSIONS=folder` and "
            "`make grade-notebooks` from the kit root first"
        )
    return rows


def export(course: Path = Path("grading"), out: Path | None = None) -> Path:
    """Write the export CSV (default ``<course>/nbgrader_grades.csv``); return its path."""
    rows = export_rows(course)
    out = Path(out) if out else Path(course) / "nbgrader_grades.csv"
    text = io.StringIO()
    writer = csv.DictWriter(text, EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text.getvalue(), encoding="utf-8")
    tmp.replace(out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Autograde the class's notebooks with nbgrader in parallel, or export them."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    grade_p = sub.add_parser("grade", help="autograde every new or changed submitted notebook")
    grade_p.add_argument("--course", type=Path, default=Path("grading"), help="course folder")
    grade_p.add_argument(
        "--jobs", type=int, default=0, help="students at a time (default: every core)"
    )
    grade_p.add_argument("--force", action="store_true", help="regrade every student")
    grade_p.add_argument(
        "--full",
        action="store_true",
        help=f"run the notebooks' experiments at full size ({QUICK_ENV}=0); the default is "
        f"quick mode ({QUICK_ENV}=1), which changes no score",
    )
    export_p = sub.add_parser("export", help="write the grades CSV")
    export_p.add_argument("--course", type=Path, default=Path("grading"), help="course folder")
    export_p.add_argument("--out", type=Path, help="CSV to write (<course>/nbgrader_grades.csv)")
    args = parser.parse_args(argv)
    try:
        if args.command == "grade":
            statuses = grade(args.course, args.jobs or None, args.force, quick=not args.full)
            failed = sum(s != "graded" for per in statuses.values() for s in per.values())
            if failed:
                print(f"{failed} notebooks could not be graded (status in the export)")
                return 1
        else:
            path = export(args.course, args.out)
            print(f"wrote {path}")
    except GradingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
