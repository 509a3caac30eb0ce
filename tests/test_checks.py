"""The visible checks: the reference passes, failures teach, and the checks hand over no solution.

That every catalogued mistake is named by its check is tested in ``tests/test_mistakes.py``.
"""

import ast
from pathlib import Path

import numpy as np
import pytest

import nnlib
from nnlib import checks, linear
from nnlib.checks import CHECKS, RELIES_ON, CheckFailed, LibraryCheckFailed
from nnlib.tasks import NOTEBOOKS, TASKS


def test_every_task_has_a_check():
    missing = {t.function for t in TASKS} - set(CHECKS)
    assert not missing, f"tasks without a visible check in nnlib.checks: {sorted(missing)}"


@pytest.mark.parametrize("function", sorted(CHECKS))
def test_reference_passes_its_check(function, capsys):
    CHECKS[function]()
    assert capsys.readouterr().out.startswith(f"✓ {function}:"), "a passing check prints one ✓ line"


def test_stub_message_passes_through_unchanged():
    def stub(*args, **kwargs):
        raise NotImplementedError("softmax is not implemented yet")

    with pytest.raises(NotImplementedError, match="not implemented yet"):
        checks.check_softmax(stub)


def test_the_students_own_exception_reaches_them_unchanged_with_a_note():
    def crashes(Z):
        raise IndexError("index 9 is out of bounds")

    with pytest.raises(IndexError, match="index 9") as info:
        checks.check_softmax(crashes)
    notes = getattr(info.value, "__notes__", [])
    assert any("check_softmax" in note for note in notes), notes
    # the student's own frame is in the traceback
    assert any(entry.name == "crashes" for entry in info.traceback)


def test_a_check_failure_renders_as_its_message_alone_in_ipython():
    with pytest.raises(CheckFailed) as info:
        checks.check_softmax(lambda Z: Z)
    lines = info.value._render_traceback_()
    assert " ".join(lines).split() == f"CheckFailed: {info.value}".split()
    assert all(len(line) <= checks.WIDTH for line in lines), "nbgrader's Validate cuts long lines"


def test_epoch_with_a_wrong_gradient_blames_the_gradient(monkeypatch):
    right = linear.softmax_regression_grad

    def summed(X, y, theta):
        return X.shape[0] * right(X, y, theta)

    monkeypatch.setattr(linear, "softmax_regression_grad", summed)
    monkeypatch.setattr(nnlib, "softmax_regression_grad", summed)

    def epoch(X, y, theta, lr=0.1, batch=100):  # a right loop around the wrong gradient
        for start in range(0, X.shape[0], batch):
            rows = slice(start, start + batch)
            theta -= lr * nnlib.softmax_regression_grad(X[rows], y[rows], theta)

    with pytest.raises(CheckFailed, match="fails its own check") as info:
        checks.check_softmax_regression_epoch(epoch)
    assert "softmax_regression_grad" in str(info.value) and "times too large" in str(info.value)


def test_epoch_with_a_wrong_loop_blames_the_loop():
    def two_steps_per_batch(X, y, theta, lr=0.1, batch=100):
        for start in range(0, X.shape[0], batch):
            for _ in range(2):
                theta -= lr * nnlib.softmax_regression_grad(
                    X[start : start + batch], y[start : start + batch], theta
                )

    with pytest.raises(CheckFailed, match="passes its check, so look at the loop"):
        checks.check_softmax_regression_epoch(two_steps_per_batch)


def test_the_spy_is_removed_after_an_epoch_check():
    before = linear.softmax_regression_grad, nnlib.softmax_regression_grad
    checks.check_softmax_regression_epoch()
    assert (linear.softmax_regression_grad, nnlib.softmax_regression_grad) == before


def test_epoch_checks_include_n_a_multiple_of_batch():
    for task in ("softmax_regression_epoch", "nn_epoch", "mlp_epoch"):
        sizes = []
        for case in checks.case_names(task):
            args, kwargs = checks.case_inputs(task, case)
            sizes.append(args[0].shape[0] % kwargs["batch"])
        assert 0 in sizes and any(sizes), f"{task}: want N % batch == 0 and != 0, got {sizes}"


_COMPUTING_CALLS = {"exp", "log", "maximum", "tanh", "dot", "einsum", "matmul"}


@pytest.mark.parametrize("module", ["checks", "mistakes"])
def test_shipped_check_modules_compute_no_network(module):
    """No matrix product or nonlinearity: the ingredients of any forward or backward pass."""
    source = Path(nnlib.__file__).with_name(f"{module}.py").read_text()
    for node in ast.walk(ast.parse(source)):
        assert not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult)), (
            f"nnlib/{module}.py line {node.lineno}: a matrix product in a shipped check module"
        )
        if isinstance(node, ast.Call):
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            assert name not in _COMPUTING_CALLS, (
                f"nnlib/{module}.py line {node.lineno}: {name}() computes what the reference "
                "does; read it from check_data.npz instead"
            )


def test_notebook_library_check_names_each_failing_function(monkeypatch):
    def no_mean(Z, y):
        return Z.shape[0] * nnlib.losses.softmax_loss_grad.__wrapped__(Z, y)

    right = nnlib.losses.softmax_loss_grad
    no_mean.__wrapped__ = right
    monkeypatch.setattr(nnlib.losses, "softmax_loss_grad", lambda Z, y: Z.shape[0] * right(Z, y))
    with pytest.raises(LibraryCheckFailed) as info:
        checks.check_notebook_library("01_linear_classifiers")
    text = str(info.value)
    assert "softmax_loss_grad: dZ is N = 7 times too large" in text, text
    assert "graded by the library grader" in text
    assert "- softmax:" not in text, "a function that passes is not listed"


def test_every_notebook_names_the_functions_it_relies_on():
    assert set(RELIES_ON) == set(NOTEBOOKS)
    for notebook, functions in RELIES_ON.items():
        assert set(functions) <= set(CHECKS), notebook
        own = {t.function for t in TASKS if t.notebook == notebook}
        assert own <= set(functions), f"{notebook} must at least rely on its own tasks"


def test_checks_load_their_data_from_the_package():
    assert checks.DATA == Path(checks.__file__).with_name("check_data.npz")
    args, _ = checks.case_inputs("nn_gradients", "main")
    assert [a.shape for a in args] == [(7, 5), (7,), (5, 6), (6, 4)]
    assert np.issubdtype(args[1].dtype, np.integer)
