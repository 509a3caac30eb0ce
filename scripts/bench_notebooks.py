"""Seconds per student of the class's notebook autograde (``make grade-notebooks``), 1 and 2 jobs.

``make bench-notebooks`` runs ``python scripts/bench_notebooks.py``. A class of ``--students``
complete students (every solution notebook, or those of ``--notebooks``: the longest runs a class
can have) is autograded by :func:`autograder.notebook_grading.grade` into a fresh course folder
per run, once with each number of jobs; the script prints the mode, seconds per student, the CPU
seconds per student (nbgrader and its kernels: what the class costs, which other work on the
machine changes less than the wall time), the speed-up over one job and the load average before
and after (other work on the machine slows every run), and writes ``build/bench/notebooks.json``.

The notebooks run in quick mode (``NNLIB_QUICK=1``), as ``make grade-notebooks`` runs them;
``--full`` (``make bench-notebooks QUICK=0``) times them at the students' size.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import release_notebooks  # noqa: E402

from autograder import notebook_grading  # noqa: E402
from nnlib.tasks import NOTEBOOKS  # noqa: E402


def _children_cpu() -> float:
    """CPU seconds (user + system) of the finished child processes: nbgrader and its kernels."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def make_course(
    base: Path, gradebook: Path, students: int, notebooks: tuple[str, ...] = NOTEBOOKS
) -> Path:
    course = base / "course"
    course.mkdir(parents=True)
    shutil.copyfile(gradebook, course / "gradebook.db")
    for n in range(students):
        for name in notebooks:
            target = course / "submitted" / f"student{n:02d}" / name
            target.mkdir(parents=True)
            shutil.copyfile(ROOT / "solutions" / name / f"{name}.ipynb", target / f"{name}.ipynb")
    return course


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=4, help="class size (default 4)")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="jobs to compare")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench" / "notebooks.json")
    parser.add_argument(
        "--full", action="store_true", help="full-size experiments (default: quick mode)"
    )
    parser.add_argument(
        "--notebooks",
        nargs="+",
        metavar="NN",
        help="grade only these notebooks, by number (for example 01 02 03 04 05); default: all",
    )
    args = parser.parse_args(argv)
    quick = not args.full
    notebooks = NOTEBOOKS
    if args.notebooks:
        unknown = [n for n in args.notebooks if not any(nb[:2] == n for nb in NOTEBOOKS)]
        if unknown:
            parser.error(f"no notebook numbered {', '.join(unknown)}; the notebooks: {NOTEBOOKS}")
        notebooks = tuple(nb for nb in NOTEBOOKS if nb[:2] in args.notebooks)
    mode = "quick mode (NNLIB_QUICK=1, as make grade-notebooks)" if quick else "full size"
    results = {
        "students": args.students,
        "cores": notebook_grading.cores(),
        "quick": quick,
        "notebooks": list(notebooks),
        "runs": [],
    }
    print(
        f"notebook grading of {args.students} complete students, {len(notebooks)} notebooks "
        f"({notebooks[0][:2]}..{notebooks[-1][:2]}), {mode}, {results['cores']} cores",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="bench-notebooks-") as tmp:
        tmp = Path(tmp)
        gradebook = tmp / "gradebook.db"
        release_notebooks.generate(tmp / "release", gradebook=gradebook)
        for jobs in args.jobs:
            course = make_course(tmp / f"jobs{jobs}", gradebook, args.students, notebooks)
            load_before = os.getloadavg()[0]
            cpu_before = _children_cpu()
            start = time.perf_counter()
            statuses = notebook_grading.grade(course, jobs=jobs, out=io.StringIO(), quick=quick)
            seconds = time.perf_counter() - start
            cpu = _children_cpu() - cpu_before
            failed = [
                (s, n) for s, per in statuses.items() for n, v in per.items() if v != "graded"
            ]
            if failed:
                print(f"error: not graded: {failed}", file=sys.stderr)
                return 1
            run = {
                "jobs": jobs,
                "seconds": round(seconds, 1),
                "seconds_per_student": round(seconds / args.students, 1),
                "cpu_seconds_per_student": round(cpu / args.students, 1),
                "load_before": round(load_before, 2),
                "load_after": round(os.getloadavg()[0], 2),
            }
            results["runs"].append(run)
            print(
                f"jobs={jobs}: {seconds:6.1f} s for {args.students} students, "
                f"{run['seconds_per_student']:5.1f} s per student, "
                f"{run['cpu_seconds_per_student']:5.1f} CPU seconds per student "
                f"(load average {run['load_before']} -> {run['load_after']})",
                flush=True,
            )
    first = results["runs"][0]
    for run in results["runs"][1:]:
        run["speedup"] = round(first["seconds"] / run["seconds"], 2)
        print(f"jobs={run['jobs']} is {run['speedup']}x faster than jobs={first['jobs']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
