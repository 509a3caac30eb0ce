"""Validate tells the truth about the library, and ``python -m nnlib.presubmit`` sums it up.

A copy of the reference library with one bug (``softmax_loss_grad`` without its 1/N) sits
first on the path, and notebook 01 has every answer cell answered: ``nbgrader validate`` (run
by the pre-submission command, as the Validate button runs it) must not say Success, and must
name the function and the mistake.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nnlib.tasks import NOTEBOOKS, TASKS

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = "01_linear_classifiers"


def _broken_bundle(tmp_path: Path) -> Path:
    root = tmp_path / "bundle"
    shutil.copytree(
        ROOT / "src" / "nnlib", root / "src" / "nnlib", ignore=shutil.ignore_patterns("__pycache__")
    )
    losses = root / "src" / "nnlib" / "losses.py"
    text = losses.read_text()
    assert "    G /= Z.shape[0]" in text
    losses.write_text(text.replace("    G /= Z.shape[0]", "    pass", 1))
    target = root / "notebooks" / NOTEBOOK
    target.mkdir(parents=True)
    shutil.copyfile(
        ROOT / "solutions" / NOTEBOOK / f"{NOTEBOOK}.ipynb", target / f"{NOTEBOOK}.ipynb"
    )
    return root


def test_presubmit_and_validate_name_a_broken_library_function(tmp_path):
    root = _broken_bundle(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(
        PYTHONPATH=str(root / "src"),
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        OPENBLAS_NUM_THREADS="1",
        NNLIB_QUICK="1",  # the notebook's experiments at their reduced size: its checks in full
    )
    run = subprocess.run(
        [sys.executable, "-m", "nnlib.presubmit", "--notebooks", "01"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    out = run.stdout + run.stderr
    assert run.returncode == 1, out
    summary = out.split("=" * 72, 1)[1]
    assert "softmax_loss_grad: dZ is N = 7 times too large" in summary, summary
    assert f"✗ {NOTEBOOK}: 1 cell(s) fail Validate (one is the library check" in summary, summary
    assert "Success" not in out

    # nbgrader validate itself, as the Validate button runs it: names the function and why
    validate = subprocess.run(
        [sys.executable, "-m", "nbgrader", "validate", f"{NOTEBOOK}.ipynb"],
        cwd=root / "notebooks" / NOTEBOOK,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    said = validate.stdout + validate.stderr
    assert "Success! Your notebook passes all the tests." not in said
    assert "VALIDATION FAILED ON 1 CELL(S)" in said, said[-3000:]
    assert "LibraryCheckFailed" in said and "- softmax_loss_grad: dZ is N = 7 times too" in said
    # every line of the message fits nbgrader's width: nothing is cut to "..."
    block = said.split("LibraryCheckFailed", 1)[1].split("=" * 20, 1)[0]
    cut = [line for line in block.splitlines() if line.rstrip().endswith("...")]
    assert not cut, f"Validate cut these lines of the library check's message: {cut}"


def _readme_command(readme: str, starts: str) -> list[str]:
    import shlex

    in_code = False
    for line in readme.splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
        elif in_code and line.strip().startswith(starts):
            return shlex.split(line, comments=True)
    raise AssertionError(f"the bundle's README gives no `{starts} ...` command")


@pytest.mark.slow
def test_the_readme_presubmit_command_on_the_fresh_bundle(tmp_path):
    """As a student types it, on the bundle as handed out: nothing passes yet, and it says so."""
    from autograder.bundle import build_bundle

    bundle = build_bundle(tmp_path / "student")
    words = _readme_command((bundle / "README.md").read_text(), "python -m nnlib.presubmit")
    assert words[:3] == ["python", "-m", "nnlib.presubmit"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(
        PYTHONPATH=str(bundle / "src"),
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        OPENBLAS_NUM_THREADS="1",
        NNLIB_QUICK="1",
    )
    run = subprocess.run(
        [sys.executable, *words[1:]],
        cwd=bundle,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    out = run.stdout + run.stderr
    assert run.returncode == 1, out
    summary = out.split("=" * 72, 1)[1]
    assert f"0 of {len(TASKS)} functions pass their visible checks" in summary, summary
    total = sum(t.points for t in TASKS)
    assert f"not implemented yet ({total} points)" in summary, summary
    for name in NOTEBOOKS:
        assert f"✗ {name}: " in summary, summary


def test_presubmit_says_how_to_install_nbgrader_when_it_is_missing(tmp_path, monkeypatch):
    from nnlib import presubmit

    notebook = tmp_path / "01_x.ipynb"
    notebook.write_text("{}")
    # -S: a Python without site-packages, where nbgrader cannot be imported
    monkeypatch.setattr(presubmit, "NBGRADER", [sys.executable, "-S", *presubmit.NBGRADER[1:]])
    passed, said = presubmit.validate(notebook, timeout=60)
    assert not passed and said == 'nbgrader is not installed: pip install -e ".[notebooks]"', said


def test_validate_gives_each_cell_the_graders_time(tmp_path, monkeypatch):
    from _grading_config import grader_cell_timeout

    from nnlib import presubmit

    assert presubmit.CELL_TIMEOUT == grader_cell_timeout(), (
        "a cell the grader lets run must not time out in the student's presubmit"
    )
    seen = []

    def fake_run(command, **kwargs):
        seen.append(command)
        return subprocess.CompletedProcess(
            command, 0, "Success! Your notebook passes all the tests.", ""
        )

    monkeypatch.setattr(presubmit.subprocess, "run", fake_run)
    assert presubmit.validate(tmp_path / "01_x.ipynb", timeout=60) == (True, "passes Validate")
    assert f"--Execute.timeout={grader_cell_timeout()}" in seen[0], seen[0]


# Each of the kit's processes that imports nbformat or nbgrader, and that import; the check
# after it is that jsonschema's optional IRI grammar (seconds of CPU) was not loaded.
_IRI_GRAMMAR_SKIPPERS = {
    "release_notebooks": "import release_notebooks, nbformat",
    "build_book": "import build_book, nbclient",
    "self_study": "import self_study, nbformat",
    "notebook_grading": "import autograder.notebook_grading, nbgrader.api",
    "NBGRADER": None,  # nnlib.presubmit's nbgrader command, up to its main()
}


@pytest.mark.parametrize("name", sorted(_IRI_GRAMMAR_SKIPPERS))
def test_the_kit_skips_jsonschemas_optional_iri_grammar(name):
    from nnlib.presubmit import NBGRADER

    probe = "assert sys.modules.get('rfc3987_syntax', 0) is None, 'the IRI grammar was imported'"
    code = _IRI_GRAMMAR_SKIPPERS[name]
    if code is None:
        assert NBGRADER[2].endswith("; main()"), NBGRADER
        code = NBGRADER[2].removesuffix("main()") + "import nbformat"
    command = [sys.executable, "-c", f"{code}; import sys; {probe}"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "scripts"), str(ROOT)])}
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, f"{name}: {run.stdout}{run.stderr}"
