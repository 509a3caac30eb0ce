"""Make the student copy of nnlib: every solution block replaced by a stub that names its task.

A solution block is the region between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (the
markers nbgrader uses in notebooks, so one convention covers both). The block must sit inside
a function declared in :data:`nnlib.tasks.TASKS`; it becomes one line,
``raise NotImplementedError("...")``, whose message names the function, the file to edit and
the notebook that explains it. Docstrings, signatures and argument validation are kept.
"""

from __future__ import annotations

import argparse
import ast
import re
import shutil
import sys
from pathlib import Path

from nnlib.tasks import TASKS_BY_FUNCTION

BEGIN = "### BEGIN SOLUTION"
# Instructor-only parts of the reference package, never copied: the tuned epochs of
# nnlib.fast are not a student task (their code would also hand out every epoch's answer).
INSTRUCTOR_ONLY = ("fast",)
END = "### END SOLUTION"
_MARKER = re.compile(r"^(\s*)### (BEGIN|END) SOLUTION\s*$")


class SolutionMarkerError(ValueError):
    """A solution block is malformed or sits outside a declared student task."""


def stub_message(function: str) -> str:
    """The message of the stub that replaces ``function``'s solution block."""
    task = TASKS_BY_FUNCTION[function]
    return (
        f"{function} is not implemented yet: write its body in {task.path} "
        f"(notebook {task.notebook} explains it)"
    )


def _enclosing_function(tree: ast.Module, lineno: int) -> str | None:
    """Name of the innermost function whose body contains line ``lineno`` (1-based)."""
    best = None
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if node.lineno <= lineno <= node.end_lineno:
                if best is None or node.lineno > best.lineno:
                    best = node
    return None if best is None else best.name


def strip_solutions(source: str, filename: str = "<source>") -> tuple[str, list[str]]:
    """Replace each solution block of a Python source by its stub.

    Parameters
    ----------
    source : str
        The reference module's text.
    filename : str
        For error messages.

    Returns
    -------
    student_source : str
    functions : list of str
        The task functions that were stubbed, in file order.

    Raises
    ------
    SolutionMarkerError
        On an unclosed or nested block, or a block outside a declared task function.
    """
    tree = ast.parse(source, filename)
    out, functions = [], []
    begin_line = None
    for lineno, line in enumerate(source.splitlines(keepends=True), start=1):
        match = _MARKER.match(line)
        if match and match.group(2) == "BEGIN":
            if begin_line is not None:
                raise SolutionMarkerError(f"{filename}:{lineno}: nested {BEGIN}")
            function = _enclosing_function(tree, lineno)
            if function not in TASKS_BY_FUNCTION:
                raise SolutionMarkerError(
                    f"{filename}:{lineno}: solution block in {function or 'module level'}, "
                    "which is not a task declared in nnlib/tasks.py"
                )
            begin_line = lineno
            functions.append(function)
            indent = match.group(1)
            out.append(f"{indent}raise NotImplementedError(\n")
            out.append(f"{indent}    {stub_message(function)!r}\n")
            out.append(f"{indent})\n")
        elif match:
            if begin_line is None:
                raise SolutionMarkerError(f"{filename}:{lineno}: {END} without {BEGIN}")
            begin_line = None
        elif begin_line is None:
            out.append(line)
    if begin_line is not None:
        raise SolutionMarkerError(f"{filename}:{begin_line}: {BEGIN} is never closed")
    return "".join(out), functions


def solution_lines(source: str) -> list[str]:
    """The stripped lines inside solution blocks (what must never reach a student)."""
    lines, inside = [], False
    for line in source.splitlines():
        match = _MARKER.match(line)
        if match:
            inside = match.group(2) == "BEGIN"
        elif inside:
            lines.append(line.strip())
    return lines


def make_student_copy(package_dir: Path, dest: Path) -> list[str]:
    """Copy a package directory to ``dest`` with every solution block stubbed, leaving out
    the :data:`INSTRUCTOR_ONLY` parts.

    Parameters
    ----------
    package_dir : Path
        The reference package, e.g. ``src/nnlib``.
    dest : Path
        Created (replaced if it exists).

    Returns
    -------
    functions : list of str
        Every stubbed task function.
    """
    package_dir, dest = Path(package_dir), Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    functions = []
    for path in sorted(package_dir.rglob("*")):
        if "__pycache__" in path.parts or path.is_dir():
            continue
        if path.relative_to(package_dir).parts[0] in INSTRUCTOR_ONLY:
            continue
        target = dest / path.relative_to(package_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".py":
            text, stubbed = strip_solutions(path.read_text(), str(path))
            functions += stubbed
            target.write_text(text)
        else:
            shutil.copyfile(path, target)
    missing = sorted(set(TASKS_BY_FUNCTION) - set(functions))
    if missing:
        raise SolutionMarkerError(f"declared tasks without a solution block: {missing}")
    return functions


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Write the student copy of nnlib: solution blocks replaced by stubs."
    )
    parser.add_argument("dest", type=Path, help="folder to write (replaced if it exists)")
    parser.add_argument(
        "--source",
        type=Path,
        default=Path(__file__).resolve().parent.parent / "src" / "nnlib",
        help="reference package folder (default: src/nnlib of this checkout)",
    )
    args = parser.parse_args(argv)
    try:
        functions = make_student_copy(args.source, args.dest)
    except (SolutionMarkerError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.dest} with {len(functions)} stubbed functions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
