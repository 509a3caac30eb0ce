"""Export the library grader as a Gradescope autograder, and run it there.

    python -m autograder.gradescope build build/gradescope/autograder.zip

The zip holds ``setup.sh`` and ``run_autograder`` at its root, the reference ``nnlib``
(``src/nnlib``) and the grader (``autograder/``). On Gradescope, ``setup.sh`` installs Python
and, into ``/autograder/venv``, the packages of the zip's ``requirements.txt``
(:data:`REQUIREMENTS`); ``run_autograder`` grades ``/autograder/submission`` (the student
bundle, uploaded as a folder or zip) with ``python -m autograder.gradescope run`` and writes
``/autograder/results/results.json`` in Gradescope's schema: one test per task (``name``,
``score``, ``max_score``, ``status``, ``output``, ``visibility``) and the total.
``GRADESCOPE_ROOT`` and ``GRADESCOPE_PYTHON`` override ``/autograder`` and the interpreter, so
the same script runs in a test.

Gradescope's container has no CAP_SYS_ADMIN, so the grader runs there in its ``uid`` sandbox
(see :mod:`autograder.grader.sandbox`); ``run_autograder`` makes the reference and the results
private to root first. A failure of the grader itself is never written as the student's
score: no ``results.json`` is written, the command exits with status 2 and says why, and
Gradescope reports the autograder as failed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GRADER_FILES = ["__init__.py", "student_copy.py", "gradescope.py", "grader"]

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when the autograder image is built.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q python3 python3-venv python3-pip
PY=python3
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    apt-get install -y -q python3.11 python3.11-venv  # the grader needs Python 3.11 or newer
    PY=python3.11
fi
"$PY" -m venv /autograder/venv
/autograder/venv/bin/pip install --quiet --upgrade pip
/autograder/venv/bin/pip install --quiet -r /autograder/source/requirements.txt
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission: grade it, write results/results.json.
set -uo pipefail
ROOT="${GRADESCOPE_ROOT:-/autograder}"
PY="${GRADESCOPE_PYTHON:-$ROOT/venv/bin/python}"
# The reference code and the results stay private to root; the student's code runs as an
# unprivileged user in a sandbox and can read neither.
chmod -R go-rwx "$ROOT/source" "$ROOT/results" 2>/dev/null || true
mkdir -p "$ROOT/results"
cd "$ROOT/source"
PYTHONPATH="$ROOT/source:$ROOT/source/src" exec "$PY" -m autograder.gradescope run \\
    --submission "$ROOT/submission" --results "$ROOT/results/results.json"
"""

REQUIREMENTS = "numpy>=1.26\nscipy>=1.11\nscikit-learn>=1.4\ntqdm>=4.66\nmatplotlib>=3.8\n"


def build_zip(dest: Path) -> Path:
    """Write the Gradescope autograder zip to ``dest``."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    files: dict[str, bytes] = {
        "setup.sh": SETUP_SH.encode(),
        "run_autograder": RUN_AUTOGRADER.encode(),
        "requirements.txt": REQUIREMENTS.encode(),
    }
    sources = [(ROOT / "src" / "nnlib", "src/nnlib")]
    sources += [(ROOT / "autograder" / name, f"autograder/{name}") for name in GRADER_FILES]
    for src, arc in sources:
        paths = [src] if src.is_file() else sorted(p for p in src.rglob("*") if p.is_file())
        for path in paths:
            if "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            rel = arc if src.is_file() else f"{arc}/{path.relative_to(src).as_posix()}"
            files[rel] = path.read_bytes()
    tmp = dest.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            executable = name in ("setup.sh", "run_autograder")
            info.external_attr = (0o755 if executable else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name])
    tmp.replace(dest)
    return dest


def _task_output(task: dict) -> str:
    lines = []
    for check in task["checks"]:
        mark = "✓" if check["passed"] else "✗"
        message = f": {check['message']}" if check["message"] and not check["passed"] else ""
        lines.append(f"{mark} {check['name']}{message}")
    lines += task["notes"]
    return "\n".join(lines)


def results_json(record: dict) -> dict:
    """Gradescope's results.json for one grading record."""
    from nnlib.tasks import TASKS_BY_FUNCTION

    if record.get("error"):
        return {
            "score": 0.0,
            "output": f"Your submission could not be graded: {record['error']}",
            "visibility": "visible",
            "tests": [
                {
                    "name": "submission",
                    "score": 0.0,
                    "max_score": record["max_score"],
                    "status": "failed",
                    "output": record["error"],
                    "visibility": "visible",
                }
            ],
        }
    tests = []
    for task in record["tasks"]:
        notebook = TASKS_BY_FUNCTION[task["function"]].notebook
        tests.append(
            {
                "name": f"{task['function']} ({notebook})",
                "score": float(task["score"]),
                "max_score": float(task["points"]),
                "status": "passed" if task["score"] >= task["points"] else "failed",
                "output": _task_output(task),
                "visibility": "visible",
            }
        )
    summary = f"Library score: {record['score']:g} / {record['max_score']:g}"
    if record.get("output"):
        summary += "\n\nWhat your code printed:\n" + record["output"][:2000]
    return {
        "score": float(record["score"]),
        "output": summary,
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def run(submission: Path, results: Path, mode: str = "auto") -> dict:
    """Grade one submission folder and write Gradescope's results.json.

    Raises
    ------
    RuntimeError
        If the grader itself failed (the sandbox could not start, ...): nothing is written.
    """
    from autograder.grader.grade import Grader
    from autograder.grader.report import atomic_write

    grader = Grader(mode, private=(Path(results).parent,))
    note = grader.sandbox.note
    print(f"sandbox mode {grader.sandbox.mode!r}" + (f" ({note})" if note else ""), flush=True)
    try:
        record = grader.grade(Path(submission))
    finally:
        grader.close()
    data = results_json(record)
    atomic_write(Path(results), json.dumps(data, indent=1) + "\n")
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Gradescope export of the library grader.")
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="write the autograder zip")
    build.add_argument(
        "zip", type=Path, nargs="?", default=ROOT / "build" / "gradescope" / "autograder.zip"
    )
    go = sub.add_parser("run", help="grade one submission (what run_autograder calls)")
    go.add_argument("--submission", type=Path, required=True)
    go.add_argument("--results", type=Path, required=True)
    go.add_argument("--sandbox", default="auto", choices=["auto", "namespace", "uid", "plain"])
    args = parser.parse_args(argv)
    if args.command == "build":
        print(f"wrote {build_zip(args.zip)}")
        return 0
    submission = args.submission
    if not submission.is_dir():  # Gradescope always makes it: its absence is the autograder's
        args.results.unlink(missing_ok=True)
        print(
            f"GRADER ERROR (not caused by the submission): no folder {submission}", file=sys.stderr
        )
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        # Gradescope unpacks an uploaded zip itself; a zip inside the folder is unpacked here.
        zips = sorted(submission.glob("*.zip"))
        if zips and not any(submission.rglob("losses.py")):
            submission = Path(shutil.copy(zips[0], tmp))
        try:
            data = run(submission, args.results, args.sandbox)
        except Exception as exc:  # the grader's failure (a student's is in the record): no score
            args.results.unlink(missing_ok=True)
            print(f"GRADER ERROR (not caused by the submission): {exc}", file=sys.stderr)
            return 2
    print(f"score {data['score']:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
