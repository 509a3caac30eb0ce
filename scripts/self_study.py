"""A self-study workspace: do the exercises first, then compare with the solutions.

``make self-study`` runs ``python scripts/self_study.py build/self-study`` and writes::

    build/self-study/
        README.md     how to work through the course alone
        workspace/    the student bundle, built by the same code as ``make release``: the student
                      notebooks (notebooks/ as committed), the stubbed nnlib, the visible tests
        solutions/    to read afterwards: the solution notebooks and the reference nnlib, with
                      the nbgrader marker lines removed so they read as plain code

The workspace installs and runs exactly as the student bundle does (its own README says how).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

from autograder.bundle import BundleError, build_bundle
from nnlib.presubmit import skip_iri_grammar
from nnlib.tasks import NOTEBOOKS

skip_iri_grammar()  # seconds of an optional import nbformat would make (see there)
import nbformat  # noqa: E402  (after skip_iri_grammar)

ROOT = Path(__file__).resolve().parent.parent
_MARKER = re.compile(r"^\s*### (BEGIN|END) (SOLUTION|HIDDEN TESTS)\s*$")

README = """\
# Manual Neural Networks — self-study

Two folders:

- `workspace/` is where you work. It is exactly what a student of the course receives: the
  notebooks ({first} → {last}) with empty answer cells, and the library `nnlib` with every
  function you are asked to write replaced by a stub that raises `NotImplementedError`. Follow
  `workspace/README.md` to install it (a virtual environment, one `pip install`) and open the
  notebooks in JupyterLab. The checks in each notebook and `pytest` in `workspace/` tell you
  when a function is right.
- `solutions/` is for afterwards: the same notebooks with model answers (and the tests the
  grader adds), and the reference `nnlib/`. Compare a function or an answer once you have your
  own — reading them first spoils the exercise.

Written questions have no automatic check: compare your answer with the model answer in
`solutions/`. To rebuild this folder from a checkout of the course, run `make self-study`
(your work in `workspace/` would be replaced: copy it elsewhere first).
"""


def strip_marker_lines(text: str) -> str:
    """``text`` without the nbgrader ``### BEGIN/END SOLUTION/HIDDEN TESTS`` lines."""
    return "\n".join(line for line in text.splitlines() if not _MARKER.match(line)) + (
        "\n" if text.endswith("\n") else ""
    )


def build_self_study(
    dest: Path, solutions: Path = ROOT / "solutions", package: Path = ROOT / "src" / "nnlib"
) -> Path:
    """Write the workspace, the readable solutions and the README to ``dest`` (replaced)."""
    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    build_bundle(dest / "workspace", package=package, solutions=solutions)
    readable = dest / "solutions"
    for name in NOTEBOOKS:
        nb = nbformat.read(Path(solutions) / name / f"{name}.ipynb", as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.source = strip_marker_lines(cell.source)
        (readable / name).mkdir(parents=True)
        nbformat.write(nb, readable / name / f"{name}.ipynb")
    (readable / "nnlib").mkdir()
    for path in sorted(Path(package).glob("*.py")):
        (readable / "nnlib" / path.name).write_text(
            strip_marker_lines(path.read_text(encoding="utf-8")), encoding="utf-8"
        )
    first, last = NOTEBOOKS[0][:2], NOTEBOOKS[-1][:2]
    (dest / "README.md").write_text(README.format(first=first, last=last), encoding="utf-8")
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path, nargs="?", default=ROOT / "build" / "self-study")
    args = parser.parse_args(argv)
    try:
        build_self_study(args.dest)
    except (BundleError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(
        f"wrote {args.dest}: work in {args.dest / 'workspace'}, compare with "
        f"{args.dest / 'solutions'} afterwards ({args.dest / 'README.md'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
