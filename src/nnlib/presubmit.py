"""Before you submit: what will and will not grade, in one summary.

    python -m nnlib.presubmit                 # from the bundle's folder
    python -m nnlib.presubmit --notebooks 01  # only the notebooks whose name starts with 01

Two parts, graded separately:

1. **The library** (``src/nnlib``), graded function by function by the library grader: runs
   the visible check of every function (the checks ``pytest`` runs from ``tests/``) and says
   which pass, which are not implemented yet, and which fail, with the check's message.
2. **The notebooks**, graded with nbgrader: runs ``nbgrader validate`` on each notebook in
   ``notebooks/`` (what JupyterLab's Validate button does: the notebook runs from top to bottom
   in a fresh kernel) and says which pass and which cells fail.

The exit status is 0 when everything passes, 1 otherwise. The grader runs more cases than the
visible checks, so passing here is necessary, not sufficient, for full marks.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

from .checks import library_report
from .tasks import TASKS

# Seconds each cell may run, as when the notebooks are graded (c.Execute.timeout in the kit's
# autograder/nbgrader_config.py; a test keeps the two equal). nbgrader's own default, 30 s,
# would fail here a cell that a slow laptop runs in 40 s and the grader accepts.
CELL_TIMEOUT = 120

_FAILED = re.compile(r"VALIDATION FAILED ON (\d+) CELL")
_NO_NBGRADER = re.compile(r"No module named '?nbgrader\b")

# ``python -m nbgrader``, minus one optional import. nbformat imports jsonschema, and jsonschema
# imports rfc3987_syntax when it is installed (jupyter-events asks for jsonschema[format-nongpl]);
# that module compiles an IRI grammar with lark as it is imported, seconds of CPU in every
# process that imports nbformat or nbgrader, for the "iri" string formats, which nothing nbgrader
# or the kit runs checks (nbformat validates notebooks without a format checker). Marking it absent
# in sys.modules makes jsonschema proceed as if it were not installed; everything else is
# nbgrader's own command line. The kit's release and grading scripts start nbgrader with this
# command too, and skip the import in their own processes (skip_iri_grammar).
_SKIP_IRI_GRAMMAR = "import sys; sys.modules.setdefault('rfc3987_syntax', None)"
NBGRADER = [
    sys.executable,
    "-c",
    f"{_SKIP_IRI_GRAMMAR}; from nbgrader.apps.nbgraderapp import main; main()",
]


def skip_iri_grammar() -> None:
    """Skip jsonschema's optional IRI grammar in this process, as :data:`NBGRADER` does.

    Call it before nbformat, nbclient or nbgrader is first imported; afterwards it changes
    nothing. jsonschema then treats ``rfc3987_syntax`` as not installed.
    """
    sys.modules.setdefault("rfc3987_syntax", None)


def library_summary() -> tuple[bool, list[str]]:
    """``(all pass, lines)`` for every library task."""
    report = library_report([t.function for t in TASKS])
    points = {t.function: t.points for t in TASKS}
    passing = [f for f, why in report.items() if why is None]
    todo = [f for f, why in report.items() if why is not None and why.startswith("not impl")]
    failing = {f: why for f, why in report.items() if why is not None and f not in todo}
    total = sum(points.values())
    lines = [
        f"Library (graded by the library grader, {total} points): {len(passing)} of "
        f"{len(report)} functions pass their visible checks "
        f"({sum(points[f] for f in passing)} points' worth)."
    ]
    if todo:
        lines.append(f"  not implemented yet ({sum(points[f] for f in todo)} points):")
        lines += [f"    - {f}" for f in todo]
    if failing:
        lines.append(f"  failing their checks ({sum(points[f] for f in failing)} points):")
        lines += [f"    - {f}: {why}" for f, why in failing.items()]
    return not todo and not failing, lines


def validate(notebook: Path, timeout: float) -> tuple[bool, str]:
    """Run ``nbgrader validate`` on one notebook: ``(passed, what it said, in short)``."""
    # Once the last cell has run, stop the kernel at once (nbclient's graceful shutdown can wait
    # 2.5 s for a kernel that will not exit).
    command = [
        *NBGRADER,
        "validate",
        notebook.name,
        "--Execute.shutdown_kernel=immediate",
        f"--Execute.timeout={CELL_TIMEOUT}",
    ]
    try:
        run = subprocess.run(
            command,
            cwd=notebook.parent,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return False, f"validation did not finish in {timeout:.0f} s"
    output = run.stdout + run.stderr
    if _NO_NBGRADER.search(output):
        return False, 'nbgrader is not installed: pip install -e ".[notebooks]"'
    if "Success! Your notebook passes all the tests." in output:
        return True, "passes Validate"
    failed = _FAILED.search(output)
    if failed:
        library = "check_notebook_library" in output.split("VALIDATION FAILED", 1)[1]
        extra = " (one is the library check: see the library part above)" if library else ""
        return False, f"{failed.group(1)} cell(s) fail Validate{extra}"
    if "NOTEBOOK PASSED ON" in output or "did not provide a response" in output:
        return False, "answer cells without a response"
    last = [line for line in output.splitlines() if line.strip()][-1:] or ["no output"]
    return False, f"Validate did not pass: {last[0]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run the visible checks and nbgrader's Validate; print what will grade."
    )
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the bundle's folder")
    parser.add_argument(
        "--notebooks",
        nargs="*",
        default=None,
        help="only notebooks whose name starts with one of these (default: all)",
    )
    parser.add_argument("--no-notebooks", action="store_true", help="check the library only")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per notebook")
    args = parser.parse_args(argv)

    print("Checking the library (src/nnlib) ...", flush=True)
    library_ok, lines = library_summary()
    notebooks_ok, nb_lines = True, []
    if not args.no_notebooks:
        paths = sorted((args.root / "notebooks").glob("*/*.ipynb"))
        paths = [p for p in paths if ".ipynb_checkpoints" not in p.parts]
        if args.notebooks:
            paths = [p for p in paths if p.stem.startswith(tuple(args.notebooks))]
        if not paths:
            notebooks_ok = False
            nb_lines.append(f"  no notebooks found under {args.root / 'notebooks'}")
        for path in paths:
            print(f"Validating {path.stem} (runs the whole notebook) ...", flush=True)
            ok, said = validate(path, args.timeout)
            notebooks_ok &= ok
            nb_lines.append(f"  {'✓' if ok else '✗'} {path.stem}: {said}")
    print()
    print("=" * 72)
    print("\n".join(lines))
    if not args.no_notebooks:
        print("Notebooks (graded with nbgrader; written answers are graded by hand):")
        print("\n".join(nb_lines))
    ok = library_ok and notebooks_ok
    print(
        "Everything that is checked before submission passes."
        if ok
        else "Not everything passes yet: what is listed above will lose points."
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
