"""The student copy of nnlib: it imports, every stub names its task, no solution survives."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from autograder.student_copy import (
    SolutionMarkerError,
    make_student_copy,
    solution_lines,
    strip_solutions,
    stub_message,
)
from nnlib.tasks import TASKS

REFERENCE = Path(__file__).resolve().parent.parent / "src" / "nnlib"


@pytest.fixture(scope="module")
def student_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("student")
    make_student_copy(REFERENCE, root / "nnlib")
    return root


def _run_in_student_copy(root: Path, code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter that imports nnlib from the student copy."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        timeout=120,
    )


def test_student_copy_imports_from_its_own_folder(student_root):
    result = _run_in_student_copy(student_root, "import nnlib; print(nnlib.__file__)")
    assert result.returncode == 0, f"the student copy does not import:\n{result.stderr}"
    assert str(student_root) in result.stdout, "the test imported the reference, not the copy"


def test_every_stub_raises_its_own_message(student_root):
    """Each task's visible check reaches the stub, whose message names the task."""
    code = """
        import json
        from nnlib.checks import CHECKS
        messages = {}
        for name, check in CHECKS.items():
            try:
                check()
                messages[name] = "PASSED"
            except NotImplementedError as exc:
                messages[name] = str(exc)
        print(json.dumps(messages))
    """
    result = _run_in_student_copy(student_root, code)
    assert result.returncode == 0, result.stderr
    import json

    messages = json.loads(result.stdout.splitlines()[-1])
    for task in TASKS:
        got = messages[task.function]
        assert got.startswith(f"{task.function} is not implemented yet"), (
            f"the check of {task.function} should stop at its own stub, got: {got}"
        )
        assert task.path in got and task.notebook in got, (
            f"the stub of {task.function} should name {task.path} and {task.notebook}"
        )


def _nontrivial(line: str) -> bool:
    """A solution line worth protecting: not a bare keyword, bracket or short return."""
    return len(line) >= 20 and not line.startswith("#")


def test_no_solution_line_survives(student_root):
    student_text = "\n".join(p.read_text() for p in (student_root / "nnlib").rglob("*.py"))
    leaked = []
    for path in REFERENCE.rglob("*.py"):
        for line in solution_lines(path.read_text()):
            if _nontrivial(line) and line in student_text:
                leaked.append(f"{path.name}: {line}")
    assert not leaked, "solution lines found in the student copy:\n" + "\n".join(leaked)
    assert "BEGIN SOLUTION" not in student_text and "END SOLUTION" not in student_text


def test_student_copy_keeps_docstrings_and_validation(student_root):
    text = (student_root / "nnlib" / "losses.py").read_text()
    assert "Mean cross-entropy of the logits" in text, "docstrings must reach the student"
    assert 'y = as_labels("y", y, Z.shape[0], Z.shape[1])' in text, "validation must stay"


def test_stub_message_names_file_and_notebook():
    message = stub_message("nn_epoch")
    assert "src/nnlib/two_layer.py" in message and "03_two_layer_network" in message


def _source(body: str) -> str:
    return textwrap.dedent(body)


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        (
            """
            def softmax(Z):
                ### BEGIN SOLUTION
                return Z
            """,
            "never closed",
        ),
        (
            """
            def softmax(Z):
                ### BEGIN SOLUTION
                ### BEGIN SOLUTION
                return Z
                ### END SOLUTION
            """,
            "nested",
        ),
        (
            """
            def helper(Z):
                ### BEGIN SOLUTION
                return Z
                ### END SOLUTION
            """,
            "not a task declared",
        ),
        (
            """
            x = 1
            ### END SOLUTION
            """,
            "without",
        ),
    ],
)
def test_malformed_markers_are_rejected(source, problem):
    with pytest.raises(SolutionMarkerError, match=problem):
        strip_solutions(_source(source), "example.py")


def test_strip_keeps_indentation_and_compiles():
    source = _source(
        '''
        def relu(Z):
            """Doc."""
            if Z is None:
                raise ValueError("Z")
            ### BEGIN SOLUTION
            return Z * (Z > 0)
            ### END SOLUTION
        '''
    )
    stripped, functions = strip_solutions(source)
    assert functions == ["relu"]
    assert "Z * (Z > 0)" not in stripped
    namespace = {}
    exec(compile(stripped, "stub", "exec"), namespace)
    with pytest.raises(NotImplementedError, match="relu is not implemented yet"):
        namespace["relu"](1.0)


def test_declared_task_without_block_is_an_error(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "losses.py").write_text("def softmax(Z):\n    return Z\n")
    with pytest.raises(SolutionMarkerError, match="without a solution block"):
        make_student_copy(package, tmp_path / "out")
