"""Generate the student notebooks from solutions/ into notebooks/ with nbgrader.

``make release-notebooks`` runs ``python scripts/release_notebooks.py``. For every notebook of the
course, nbgrader replaces the solution regions of answer cells with a ``NotImplementedError`` stub,
the model answers of written questions with "YOUR ANSWER HERE", removes hidden tests, clears every
output and records checksums; the configuration is ``autograder/nbgrader_config.py``. No gradebook
is written (``--no-db``) unless ``--gradebook`` names one: then the same run records every
assignment, its notebooks and their grade cells there, which ``nbgrader autograde`` needs (``make
release`` writes ``grading/gradebook.db``; a re-release updates the cells and keeps every
submission and grade). The script then checks each generated notebook for leaks: no nbgrader
marker, no line of a solution or hidden-test region, no output.

Usage::

    python scripts/release_notebooks.py               # regenerate notebooks/
    python scripts/release_notebooks.py --out DIR     # write DIR/<NN_name>/<NN_name>.ipynb instead
    python scripts/release_notebooks.py --check       # exit 1 if notebooks/ is not up to date
    python scripts/release_notebooks.py --gradebook grading/gradebook.db   # and record it there
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from nnlib.presubmit import NBGRADER, skip_iri_grammar  # nbgrader's command line (see there)
from nnlib.tasks import NOTEBOOKS

skip_iri_grammar()  # seconds of an optional import nbformat would make (see there)
import nbformat  # noqa: E402  (after skip_iri_grammar)

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "autograder" / "nbgrader_config.py"
SOURCE = ROOT / "solutions"
RELEASE = ROOT / "notebooks"

_MARKER = re.compile(r"^\s*### (BEGIN|END) (SOLUTION|HIDDEN TESTS)\s*$")
_MARKER_TEXT = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


class ReleaseError(RuntimeError):
    """The release could not be generated, or it leaks what students must not see."""


def _source_paths(source: Path, names) -> dict[str, Path]:
    if not source.is_dir():
        raise ReleaseError(f"source folder not found: {source}")
    paths = {name: source / name / f"{name}.ipynb" for name in names}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise ReleaseError("source notebook(s) not found: " + ", ".join(missing))
    extra = sorted(
        p.name
        for p in source.iterdir()
        if p.is_dir() and not p.name.startswith(".") and p.name not in names
    )
    if extra:
        raise ReleaseError(
            f"{source} holds folders that are not notebooks of the course: {extra}; "
            "add them to NOTEBOOKS in nnlib/tasks.py and here, or move them away"
        )
    return paths


def generate(
    out: Path, source: Path = SOURCE, names=NOTEBOOKS, gradebook: Path | None = None
) -> dict[str, Path]:
    """Run ``nbgrader generate_assignment`` for every notebook; return the written paths.

    ``out`` is replaced by the new release (only the notebook folders inside it are touched).
    ``gradebook``, when given, is the SQLite gradebook that records the assignments (created
    if missing, with its folder).
    """
    source, out = Path(source).resolve(), Path(out).resolve()
    _source_paths(source, names)
    if gradebook is None:
        database = ["--no-db"]
    else:
        gradebook = Path(gradebook).resolve()
        gradebook.parent.mkdir(parents=True, exist_ok=True)
        database = [f"--CourseDirectory.db_url=sqlite:///{gradebook}"]
    with tempfile.TemporaryDirectory() as tmp:
        staging = Path(tmp) / "release"
        # nbgrader reads its configuration from the file named here (without ".py"), and runs
        # in a scratch folder so that it never picks up a stray nbgrader_config.py or database.
        command = [
            *NBGRADER,
            "generate_assignment",
            "*",
            "--force",
            *database,
            f"--NbGrader.config_file={CONFIG.with_suffix('')}",
            # the kit's config puts the course in grading/, which a fresh clone does not have
            f"--CourseDirectory.root={tmp}",
            f"--CourseDirectory.source_directory={source}",
            f"--CourseDirectory.release_directory={staging}",
            "--log-level=WARN",
        ]
        # a new gradebook is set up by the "alembic" command: the one beside this Python
        env = dict(os.environ)
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        result = subprocess.run(command, cwd=tmp, capture_output=True, text=True, env=env)
        if result.returncode != 0:
            raise ReleaseError(
                f"nbgrader generate_assignment failed (exit {result.returncode}):\n"
                f"{result.stdout}{result.stderr}"
            )
        written = {}
        for name in names:
            generated = staging / name / f"{name}.ipynb"
            if not generated.is_file():
                raise ReleaseError(f"nbgrader did not write {name}.ipynb:\n{result.stderr}")
            problems = leaks(source / name / f"{name}.ipynb", generated)
            if problems:
                raise ReleaseError(f"{name}: the release leaks:\n  " + "\n  ".join(problems))
            target = out / name
            if target.exists():
                shutil.rmtree(target)
            target.mkdir(parents=True)
            shutil.copyfile(generated, target / f"{name}.ipynb")
            written[name] = target / f"{name}.ipynb"
    return written


def _regions(nb) -> tuple[set[str], set[str]]:
    """Lines inside solution/hidden-test regions (and written answers), and all other lines."""
    hidden, visible = set(), set()
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        lines = [line.strip() for line in cell.source.splitlines() if line.strip()]
        if cell.cell_type == "markdown" and meta.get("solution"):
            hidden.update(lines)  # a written answer: the whole cell is the model answer
            continue
        inside = False
        for line in cell.source.splitlines():
            match = _MARKER.match(line)
            if match:
                inside = match.group(1) == "BEGIN"
            elif line.strip():
                (hidden if inside else visible).add(line.strip())
    return hidden, visible


def leaks(source_path: Path, release_path: Path) -> list[str]:
    """What ``release_path`` shows that students must not see; empty when it is clean."""
    source = nbformat.read(source_path, as_version=4)
    release = nbformat.read(release_path, as_version=4)
    hidden, visible = _regions(source)
    secret = hidden - visible  # lines that also appear outside the regions give nothing away
    problems = []
    for index, cell in enumerate(release.cells):
        for marker in _MARKER_TEXT:
            if marker in cell.source:
                problems.append(f"cell {index} contains the marker {marker!r}")
        for line in cell.source.splitlines():
            if line.strip() in secret:
                problems.append(f"cell {index} contains a solution line: {line.strip()!r}")
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None):
            problems.append(f"cell {index} has outputs")
    return problems


def normalized(path: Path) -> dict:
    """The parts of a notebook that matter for comparing two releases."""
    nb = nbformat.read(path, as_version=4)
    return {
        "metadata": dict(nb.metadata),
        "cells": [
            (cell.get("id"), cell.cell_type, cell.source, dict(cell.metadata)) for cell in nb.cells
        ],
    }


def stale(release: Path = RELEASE, source: Path = SOURCE, names=NOTEBOOKS) -> list[str]:
    """Names of notebooks whose committed release differs from a fresh one."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(Path(tmp), source, names)
        out = []
        for name, path in fresh.items():
            committed = Path(release) / name / f"{name}.ipynb"
            if not committed.is_file() or normalized(committed) != normalized(path):
                out.append(name)
        return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RELEASE, help="release folder (notebooks/)")
    parser.add_argument("--source", type=Path, default=SOURCE, help="source folder (solutions/)")
    parser.add_argument(
        "--check", action="store_true", help="do not write; exit 1 if --out is out of date"
    )
    parser.add_argument(
        "--gradebook",
        type=Path,
        help="also record the assignments in this nbgrader gradebook (for nbgrader autograde)",
    )
    args = parser.parse_args(argv)
    try:
        if args.check:
            outdated = stale(args.out, args.source)
            if outdated:
                print(
                    f"out of date in {args.out}: {', '.join(outdated)}; run make release-notebooks",
                    file=sys.stderr,
                )
                return 1
            print(f"{args.out} is up to date")
            return 0
        for path in generate(args.out, args.source, gradebook=args.gradebook).values():
            print(f"wrote {path}")
        if args.gradebook:
            print(f"recorded the assignments in {args.gradebook}")
    except ReleaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
