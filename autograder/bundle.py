"""Build the student bundle: notebooks, the stubbed ``nnlib``, visible tests, README, install,
and ``submit.py``, which zips exactly what is graded.

    python -m autograder.bundle build/student        # also writes build/student.zip

The bundle holds nothing of the instructor's: ``nnlib`` goes through
:func:`autograder.student_copy.make_student_copy`, the notebooks are the nbgrader release in
``notebooks/`` as it is, and :func:`leaked_lines` refuses a bundle in which any non-trivial
line of a solution block (library or notebook) or of a hidden test appears.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import zipfile
from pathlib import Path

from autograder.student_copy import (
    INSTRUCTOR_ONLY,
    make_student_copy,
    solution_lines,
    strip_solutions,
)

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = Path(__file__).resolve().parent / "student_bundle"
STUDENT_TESTS = Path(__file__).resolve().parent / "student_tests"
MIN_SECRET_CHARS = 16
_NB_MARKERS = (
    ("### BEGIN SOLUTION", "### END SOLUTION"),
    ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"),
)


class BundleError(RuntimeError):
    """The bundle cannot be built, or would leak solution code."""


def _notebook_lines(path: Path) -> tuple[set, set]:
    """``(inside, outside)``: stripped lines inside solution / hidden-test regions, and the
    lines of every cell outside them (the latter reach students anyway)."""
    try:
        cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    except (OSError, ValueError) as exc:
        raise BundleError(f"cannot read notebook {path}: {exc}") from exc
    inside_lines, outside_lines = set(), set()
    for cell in cells:
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        inside = False
        for line in source.splitlines():
            stripped = line.strip()
            if any(stripped.startswith(b) for b, _ in _NB_MARKERS):
                inside = True
            elif any(stripped.startswith(e) for _, e in _NB_MARKERS):
                inside = False
            elif inside:
                inside_lines.add(stripped)
            else:
                outside_lines.add(stripped)
    return inside_lines, outside_lines


def secret_lines(package: Path, solutions: Path | None) -> set[str]:
    """Non-trivial lines of every solution block (library and notebooks) and hidden test.

    A line counts when it has at least ``MIN_SECRET_CHARS`` characters and does not also occur
    outside the solution blocks of the reference modules or notebooks (such lines are public
    anyway). Every line of the instructor-only parts (``INSTRUCTOR_ONLY``) counts as secret.
    """
    secret, public = set(), set()
    for path in sorted(Path(package).rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if path.relative_to(package).parts[0] in INSTRUCTOR_ONLY:
            secret |= {line.strip() for line in text.splitlines()}
            continue
        secret |= set(solution_lines(text))
        # Public: the lines of the student's copy of the module. A line that a given function
        # shares with a solution block (``L = len(weights)``) is public, not secret.
        stubbed, _ = strip_solutions(text, str(path))
        public |= {line.strip() for line in stubbed.splitlines()}
    if solutions is not None and Path(solutions).is_dir():
        for path in sorted(Path(solutions).rglob("*.ipynb")):
            if ".ipynb_checkpoints" not in path.parts:
                inside, outside = _notebook_lines(path)
                secret |= inside
                public |= outside
    return {line for line in secret - public if len(line) >= MIN_SECRET_CHARS}


def leaked_lines(bundle: Path, secrets: set[str]) -> list[tuple[str, str]]:
    """``(file, line)`` for every secret line found in any text file of the bundle."""
    found = []
    for path in sorted(Path(bundle).rglob("*")):
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if path.suffix == ".ipynb":  # compare cell lines, not JSON-escaped text
            try:
                cells = json.loads(text).get("cells", [])
                text = "\n".join(
                    "".join(c.get("source", ""))
                    if isinstance(c.get("source"), list)
                    else c.get("source", "")
                    for c in cells
                )
            except ValueError:
                pass
        lines = {line.strip() for line in text.splitlines()}
        for line in sorted(secrets & lines):
            found.append((str(path.relative_to(bundle)), line))
    return found


def build_bundle(
    dest: Path,
    package: Path = ROOT / "src" / "nnlib",
    notebooks: Path = ROOT / "notebooks",
    solutions: Path = ROOT / "solutions",
    zip_path: Path | None = None,
) -> Path:
    """Write the student bundle to ``dest`` (replaced) and, optionally, its zip.

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    BundleError
        If the reference package is missing or a secret line would reach the bundle.
    """
    dest, package = Path(dest), Path(package)
    if not (package / "tasks.py").is_file():
        raise BundleError(f"reference package not found: {package} (expected nnlib with tasks.py)")
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    make_student_copy(package, dest / "src" / "nnlib")
    ignore = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "*.pyc")
    if Path(notebooks).is_dir():
        shutil.copytree(notebooks, dest / "notebooks", ignore=ignore)
    else:
        (dest / "notebooks").mkdir()
    shutil.copytree(STUDENT_TESTS, dest / "tests", ignore=ignore)
    for name in ("README.md", "pyproject.toml", "submit.py"):
        shutil.copyfile(TEMPLATE / name, dest / name)
    # JupyterLab settings the install applies (pyproject's data-files): a student's menus
    shutil.copytree(TEMPLATE / "jupyter-config", dest / "jupyter-config", ignore=ignore)
    leaks = leaked_lines(dest, secret_lines(package, solutions))
    if leaks:
        shown = "\n".join(f"  {f}: {line}" for f, line in leaks[:10])
        shutil.rmtree(dest)
        raise BundleError(f"refusing to build: solution lines would reach the bundle:\n{shown}")
    if zip_path is not None:
        write_zip(dest, Path(zip_path))
    return dest


def write_zip(folder: Path, zip_path: Path) -> Path:
    """Zip ``folder`` under a top-level folder of the same name, deterministically."""
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = zip_path.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(Path(folder).rglob("*")):
            if path.is_file():
                info = zipfile.ZipInfo(
                    str(Path(folder.name) / path.relative_to(folder)),
                    date_time=(2020, 1, 1, 0, 0, 0),
                )
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())
    tmp.replace(zip_path)
    return zip_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the student bundle and its zip.")
    parser.add_argument(
        "dest",
        type=Path,
        nargs="?",
        default=ROOT / "build" / "student",
        help="bundle folder (replaced; default build/student)",
    )
    parser.add_argument("--no-zip", action="store_true", help="do not write <dest>.zip")
    args = parser.parse_args(argv)
    zip_path = None if args.no_zip else args.dest.with_suffix(".zip")
    try:
        build_bundle(args.dest, zip_path=zip_path)
    except (BundleError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.dest}" + (f" and {zip_path}" if zip_path else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
