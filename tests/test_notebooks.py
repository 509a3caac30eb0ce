"""The notebook series: nbgrader sources, their release, and how they run and grade.

Fast tests read the source notebooks. The others share one set of background runs (see
``tests/_notebook_runs.py``): the solution notebooks executed by the book build, ``nbgrader
validate``, ``nbgrader autograde`` of the solutions and of the release, and the released notebooks
executed against the student copy of ``nnlib``.
"""

from __future__ import annotations

import ast
import builtins
import os
import re
import subprocess
from pathlib import Path

import nbformat
import pytest
from _kit_copy import copy_kit, make_env
from _notebook_runs import NOTEBOOKS, ROOT, course_runs, release_notebooks

from autograder.student_copy import stub_message
from nnlib.checks import RELIES_ON
from nnlib.tasks import TASKS

SOURCES = {name: ROOT / "solutions" / name / f"{name}.ipynb" for name in NOTEBOOKS}
RELEASED = {name: ROOT / "notebooks" / name / f"{name}.ipynb" for name in NOTEBOOKS}
ANSWER_STUB = ""  # nbgrader's answer-cell stub: raise NotImplementedError() with no message
LIBRARY_STUBS = {stub_message(task.function): task for task in TASKS}
LIBRARY_CHECK = "library_checks"  # the grade id of each notebook's 0-point library check


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return course_runs(tmp_path_factory)


def _grade(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def _sources():
    return {name: nbformat.read(path, as_version=4) for name, path in SOURCES.items()}


def _is_library_check(cell) -> bool:
    return _grade(cell).get("grade_id") == LIBRARY_CHECK


# --------------------------------------------------------------------------- the sources


def test_every_course_notebook_has_a_source_and_a_release():
    for name in NOTEBOOKS:
        assert SOURCES[name].is_file(), f"missing source notebook {SOURCES[name]}"
        assert RELEASED[name].is_file(), (
            f"missing released notebook {RELEASED[name]}: run make release-notebooks"
        )


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_source_is_a_lesson_with_goals_summary_and_graded_work(name):
    nb = nbformat.read(SOURCES[name], as_version=4)
    nbformat.validate(nb)
    assert nb.cells[0].cell_type == "markdown" and "Learning goals" in nb.cells[0].source, (
        "the first cell states the learning goals"
    )
    lesson = nb.cells[:-2]  # the last two cells check the library (see the test below)
    assert lesson[-1].cell_type == "markdown" and "## Summary" in lesson[-1].source, (
        "the last cell of the lesson is the summary"
    )
    assert any("$$" in c.source for c in nb.cells if c.cell_type == "markdown"), (
        "derivations in LaTeX"
    )
    ids = [c.id for c in nb.cells]
    assert len(ids) == len(set(ids)), (
        "cell ids must be unique (nbgrader and the release rely on it)"
    )

    written = [c for c in nb.cells if c.cell_type == "markdown" and _grade(c).get("grade")]
    assert len(written) >= 2, "at least two manually graded written questions"
    answers = [c for c in nb.cells if c.cell_type == "code" and _grade(c).get("solution")]
    tests = [
        c
        for c in nb.cells
        if c.cell_type == "code" and _grade(c).get("grade") and not _is_library_check(c)
    ]
    assert answers and tests, "at least one autograded answer cell with its tests"
    for cell in written + tests:
        assert _grade(cell).get("points", 0) > 0, f"{_grade(cell)['grade_id']} has no points"
    for cell in answers:
        assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source
    for cell in tests:
        assert "### BEGIN HIDDEN TESTS" in cell.source, (
            f"{_grade(cell)['grade_id']}: every test cell has visible and hidden tests"
        )
        visible = cell.source.split("### BEGIN HIDDEN TESTS")[0]
        assert "assert" in visible, f"{_grade(cell)['grade_id']}: no visible test"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, (
                "source notebooks are committed without outputs"
            )


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_each_notebook_ends_with_a_locked_zero_point_library_check(name):
    """Validate fails while a library function the notebook relies on fails its check; the
    cell is worth 0 points, so autograde (against the reference library) counts nothing twice."""
    nb = nbformat.read(SOURCES[name], as_version=4)
    cell = nb.cells[-1]
    meta = _grade(cell)
    assert cell.cell_type == "code" and meta.get("grade_id") == LIBRARY_CHECK, (
        f"{name}: the last cell should be the library check"
    )
    assert meta.get("grade") and meta.get("locked") and meta.get("points") == 0, meta
    assert not meta.get("solution")
    assert f'check_notebook_library("{name}")' in cell.source
    assert sum(_is_library_check(c) for c in nb.cells) == 1
    assert nb.cells[-2].cell_type == "markdown" and "Validate" in nb.cells[-2].source


def test_every_library_task_is_checked_in_its_notebook():
    sources = _sources()
    for task in TASKS:
        code = "\n".join(c.source for c in sources[task.notebook].cells if c.cell_type == "code")
        text = "\n".join(c.source for c in sources[task.notebook].cells)
        assert f"checks.check_{task.function}()" in code, (
            f"{task.notebook} should run checks.check_{task.function}() after asking for it"
        )
        assert task.path in text and task.function in text, (
            f"{task.notebook} should say that {task.function} goes in {task.path}"
        )


def test_autodiff_notebook_leaves_the_bias_gradient_to_the_student():
    """06 asks for the bias gradient without giving it: no formula in what a student sees."""
    nb = nbformat.read(RELEASED["06_autodiff"], as_version=4)
    text = "\n".join(c.source for c in nb.cells)
    assert "nn_gradients_bias" in text and "Question 1" in text
    for giveaway in (
        ".sum(axis=0)",
        "sum(0)",
        r"\nabla_{b_1}\mathcal{L} =",
        r"\nabla_{b_2}\mathcal{L} =",
    ):
        assert giveaway not in text, f"the released 06 gives the bias gradient away: {giveaway}"


def test_autodiff_notebook_compares_with_torch_only_where_installed(runs):
    import importlib.util

    nb = nbformat.read(runs.book / "notebooks" / "06_autodiff.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code" and "import torch" in c.source)
    printed = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
    if importlib.util.find_spec("torch") is None:
        assert "PyTorch is not installed here" in printed, printed
    else:
        assert printed.count("tape vs torch.autograd") == 3, printed


def test_real_data_switches_by_one_variable():
    for name in ("03_two_layer_network", "04_backprop"):
        nb = nbformat.read(SOURCES[name], as_version=4)
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        assert re.search(r'^DATASET = "digits"', code, re.M), f"{name}: DATASET switch missing"
        assert "nnlib.load_mnist()" in code
        text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        assert "What to expect" in text and "Fashion-MNIST" in text


# --------------------------------------------------------------------------- the release


def test_committed_release_is_clean():
    for name in NOTEBOOKS:
        problems = release_notebooks.leaks(SOURCES[name], RELEASED[name])
        assert not problems, f"{RELEASED[name]} leaks:\n" + "\n".join(problems)


def test_committed_release_is_up_to_date(runs):
    for name in NOTEBOOKS:
        fresh = runs.release / name / f"{name}.ipynb"
        assert release_notebooks.normalized(RELEASED[name]) == release_notebooks.normalized(
            fresh
        ), f"notebooks/{name} is stale: run make release-notebooks"


def test_make_release_notebooks_regenerates_notebooks_as_the_readme_says(tmp_path):
    """``make release-notebooks``, run as the README gives it in a fresh copy of the kit, writes
    every released notebook again from ``solutions/``: one deleted and one emptied come back
    equal to the committed ones."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "`make release-notebooks`" in readme, "the README no longer gives the command"
    kit = copy_kit(tmp_path / "kit")
    first, second = NOTEBOOKS[0], NOTEBOOKS[-1]
    (kit / "notebooks" / first / f"{first}.ipynb").unlink()
    (kit / "notebooks" / second / f"{second}.ipynb").write_text("{}")
    run = subprocess.run(
        ["make", "release-notebooks"],
        cwd=kit,
        env=make_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    for name in NOTEBOOKS:
        written = kit / "notebooks" / name / f"{name}.ipynb"
        assert release_notebooks.normalized(written) == release_notebooks.normalized(
            RELEASED[name]
        ), f"make release-notebooks wrote a notebooks/{name} unlike the committed one"


def test_release_replaces_answers_with_stubs(runs):
    for name in NOTEBOOKS:
        nb = nbformat.read(runs.release / name / f"{name}.ipynb", as_version=4)
        for cell in nb.cells:
            meta = _grade(cell)
            if meta.get("solution") and cell.cell_type == "code":
                assert "raise NotImplementedError()" in cell.source
            if meta.get("solution") and cell.cell_type == "markdown":
                assert cell.source.strip() == "YOUR ANSWER HERE"


def test_release_reports_a_leak(tmp_path):
    nb = nbformat.read(SOURCES["01_linear_classifiers"], as_version=4)
    leaky = tmp_path / "leaky.ipynb"
    nbformat.write(nb, leaky)  # the solution itself, "released" unchanged
    problems = release_notebooks.leaks(SOURCES["01_linear_classifiers"], leaky)
    assert any("BEGIN SOLUTION" in p for p in problems)
    assert any("solution line" in p for p in problems)


def test_release_rejects_a_bad_source_folder(tmp_path):
    with pytest.raises(release_notebooks.ReleaseError, match="source folder not found"):
        release_notebooks.generate(tmp_path / "out", source=tmp_path / "nowhere")
    (tmp_path / "src").mkdir()
    with pytest.raises(release_notebooks.ReleaseError, match="not found"):
        release_notebooks.generate(tmp_path / "out", source=tmp_path / "src")


# --------------------------------------------------------------------------- execution


def test_every_solution_notebook_executes_without_error(runs):
    assert runs.book_run.returncode == 0, runs.book_run.output[-3000:]
    for name in NOTEBOOKS:
        nb = nbformat.read(runs.book / "notebooks" / f"{name}.ipynb", as_version=4)
        errors = [
            (i, o.ename, o.evalue)
            for i, c in enumerate(nb.cells)
            if c.cell_type == "code"
            for o in c.outputs
            if o.output_type == "error"
        ]
        assert not errors, f"{name}: {errors}"


def test_nbgrader_validate_passes_every_solution(runs):
    log = runs.validate_run.output
    assert runs.validate_run.returncode == 0, log[-3000:]
    assert log.count("Success! Your notebook passes all the tests.") == len(NOTEBOOKS), log[-5000:]


def _errors(nb):
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            for output in cell.outputs:
                if output.output_type == "error":
                    yield index, cell, output


def _assigned_names(source: str) -> set[str]:
    """Names a cell binds (assignments, loops, imports, definitions)."""
    code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("%"))
    names = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_student_notebook_fails_only_at_the_students_places(runs, name):
    """Run against the student copy of nnlib, a released notebook may fail in three ways only.

    1. A stub of the student copy raises its own NotImplementedError (a library task);
    2. an answer cell's nbgrader stub raises NotImplementedError() (a notebook task);
    3. a NameError for a name that only an earlier, failed cell would have defined — the
       knock-on effect of 1 or 2, which disappears once the student has done that work.
    """
    nb = runs.student_notebooks[name]
    failures = list(_errors(nb))
    assert failures, "with every stub in place, something must fail"
    assert not any(o.output_type == "error" for o in nb.cells[1].get("outputs", [])), (
        "the setup cell must run"
    )
    undefined_after_failure: set[str] = set()
    for index, cell, output in failures:
        where = f"{name}, cell {index} ({cell.source.splitlines()[0][:50]!r})"
        if output.ename == "NameError":
            missing = re.match(r"name '(\w+)' is not defined", output.evalue).group(1)
            assert missing in undefined_after_failure, (
                f"{where}: {output.evalue}, and no earlier failed cell defines it"
            )
        elif _is_library_check(cell):
            # the notebook's library check names each function it relies on, all stubs here
            assert output.ename == "LibraryCheckFailed", f"{where}: {output.ename}"
            for function in RELIES_ON[name]:
                assert f"  - {function}: not implemented yet" in output.evalue, (
                    f"{where}: {function} is not reported: {output.evalue}"
                )
        else:
            assert output.ename == "NotImplementedError", (
                f"{where}: {output.ename}: {output.evalue} — only the stubs may fail"
            )
            message = output.evalue
            assert message == ANSWER_STUB or message in LIBRARY_STUBS, f"{where}: {message!r}"
            check = re.match(r"checks\.check_(\w+)\(\)", cell.source.strip())
            if check:  # a visible check right after "implement X" fails with X's own stub
                assert message == stub_message(check.group(1)), f"{where}: {message!r}"
                assert LIBRARY_STUBS[message].notebook == name
        undefined_after_failure |= _assigned_names(cell.source)
    # every answer cell's test fails with nbgrader's stub, before any library code is involved
    for index, cell in enumerate(nb.cells):
        if _grade(cell).get("grade") and cell.cell_type == "code" and not _is_library_check(cell):
            errors = [o for o in cell.outputs if o.output_type == "error"]
            assert errors and errors[0].ename == "NotImplementedError", (
                f"{name}, cell {index}: the test of an unanswered cell must fail with the stub"
            )
    print(f"{name}: {len(failures)} cells fail, all at the stubs")


# --------------------------------------------------------------------------- grading


def test_autograde_gives_the_solution_full_marks(runs):
    """Also shows that grading uses the reference nnlib: each submitted folder holds an nnlib
    package that raises on import (see _notebook_runs._grading_course)."""
    run = runs.grade_runs["solution"]
    assert run.returncode == 0, run.output[-3000:]
    for name in NOTEBOOKS:
        graded = runs.base / "grade_solution" / "autograded" / "solution" / name
        assert (graded / f"{name}.ipynb").is_file()
        assert not (graded / "nnlib").exists(), "a submitted nnlib reached the grading folder"
    for name, (score, maximum) in runs.scores("solution").items():
        assert maximum > 0, f"{name} has no autograded points"
        assert score == maximum, f"{name}: the solution scored {score} of {maximum}"


def test_autograde_gives_the_library_check_no_points(runs):
    """The library is graded by the library grader: its check cell is in the gradebook at 0."""
    from nbgrader.api import Gradebook

    db = f"sqlite:///{runs.base / 'grade_solution' / 'gradebook.db'}"
    with Gradebook(db, "manual-neural-networks") as gb:
        for name in NOTEBOOKS:
            grade = gb.find_grade(LIBRARY_CHECK, name, name, "solution")
            assert grade.max_score == 0 and grade.score == 0, (name, grade.max_score, grade.score)


def test_autograde_gives_the_release_zero(runs):
    run = runs.grade_runs["release"]
    assert run.returncode == 0, run.output[-3000:]
    for name, (score, maximum) in runs.scores("release").items():
        assert maximum > 0
        assert score == 0, f"{name}: the unanswered release scored {score} of {maximum}"


def test_grading_config_keeps_student_code_out_of_the_grading_kernel():
    from traitlets.config import Config, PyFileConfigLoader

    loader = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT / "autograder"))
    config: Config = loader.load_config()
    assert Path(config.CourseDirectory.root) == ROOT
    assert config.CourseDirectory.source_directory == "solutions"
    assert config.CourseDirectory.release_directory == "notebooks"
    assert {"nnlib", "*.py"} <= set(config.CourseDirectory.ignore)
    assert 30 <= config.Execute.timeout <= 600


# --------------------------------------------------------------------------- quick mode


def _code_of(cell) -> str:
    return cell.source if cell.cell_type == "code" else ""


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_quick_mode_is_announced_at_the_top_and_used(name):
    """The grader and the tests re-run every notebook with NNLIB_QUICK=1: the student reads at
    the top what that changes, and the notebook asks ``nnlib.quick_mode()`` where it shrinks."""
    nb = nbformat.read(SOURCES[name], as_version=4)
    top = "\n".join(c.source for c in nb.cells[:2])
    assert "NNLIB_QUICK=1" in top, (
        f"{name}: say near the top (first two cells) what quick mode (NNLIB_QUICK=1) is, and that "
        "the student's own run is the full one"
    )
    assert any("nnlib.quick_mode()" in _code_of(c) for c in nb.cells), (
        f"{name}: no experiment shrinks in quick mode (if nnlib.quick_mode(): ...)"
    )


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_quick_mode_never_changes_an_answer_or_a_test(name):
    """Answer cells and graded cells read the same in both modes: quick mode only shrinks the
    experiments, so a grade never depends on it."""
    nb = nbformat.read(SOURCES[name], as_version=4)
    for cell in nb.cells:
        meta = _grade(cell)
        if meta.get("solution") or meta.get("grade"):
            assert not re.search(r"quick_mode|NNLIB_QUICK|\bQUICK\b", _code_of(cell)), (
                f"{name}, {meta.get('grade_id')}: an answer or graded cell depends on quick mode"
            )


def _bound_by(tree, kinds) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and "def" in kinds:
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)) and "import" in kinds:
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and "name" in kinds:
            names.add(node.id)
    return names


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_graded_cells_use_no_experiment_result(name):
    """A test cell may use modules, functions and the answers, never a variable that an
    experiment (or the shared ``rng``, whose state the experiments advance) left behind: quick
    mode changes those, and the grade must not change with it."""
    nb = nbformat.read(SOURCES[name], as_version=4)
    allowed = set(dir(builtins))
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        code = "\n".join(ln for ln in cell.source.splitlines() if not ln.lstrip().startswith("%"))
        tree = ast.parse(code)
        meta = _grade(cell)
        if meta.get("grade") and not _is_library_check(cell):
            own = _bound_by(tree, {"def", "import", "name"})
            used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id not in own}
            outside = sorted(used - allowed)
            assert not outside, (
                f"{name}, {meta['grade_id']}: uses {outside}, which the notebook's experiments "
                "define; give the test its own data (e.g. np.random.default_rng(seed))"
            )
        allowed |= _bound_by(
            tree, {"def", "import", "name"} if meta.get("solution") else {"def", "import"}
        )


def _sweep_sizes(nb) -> int:
    """How many feature counts H notebook 02's sweep printed (8 at full size, 3 quick)."""
    cell = next(c for c in nb.cells if "How many random features does it take?" in c.source)
    text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
    return len(re.findall(r"^H = +\d+: validation error", text, flags=re.M))


def test_the_suite_runs_the_notebooks_quick(runs):
    """The book and the autograde of the solutions ran with NNLIB_QUICK=1 (every kernel nbgrader
    starts gets it); ``make book``, in CI, is the full-size run."""
    name = "02_nonlinear_features"
    book = nbformat.read(runs.book / "notebooks" / f"{name}.ipynb", as_version=4)
    assert _sweep_sizes(book) == 3, "the suite's book should run notebook 02's sweep quick"
    graded = runs.base / "grade_solution" / "autograded" / "solution" / name / f"{name}.ipynb"
    assert _sweep_sizes(nbformat.read(graded, as_version=4)) == 3, (
        "the autograded notebook should show the quick sweep (NNLIB_QUICK=1 in its kernel)"
    )


def test_make_book_runs_the_notebooks_at_full_size():
    """The full-size run of every notebook is ``make book`` (CI runs it): it never inherits a
    quick mode from the shell, and ``.ci/run`` reaches it."""
    dry = subprocess.run(
        ["make", "-n", "book"],
        cwd=ROOT,
        env={**os.environ, "NNLIB_QUICK": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "NNLIB_QUICK=0 " in dry.stdout and "build_book.py" in dry.stdout, dry.stdout
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "make course" in ci or "make book" in ci, ".ci/run should build the book (full size)"
