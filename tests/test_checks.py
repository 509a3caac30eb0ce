"""The visible checks pass the reference and catch each usual mistake with the right hint.

Each mutant below is a plausible student bug; the check must fail with a message naming it.
"""

import re

import numpy as np
import pytest
from scipy.special import softmax as scipy_softmax

import nnlib
from nnlib import checks
from nnlib.checks import CHECKS, CheckFailed
from nnlib.tasks import TASKS


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


def _softmax_no_shift(Z):
    E = np.exp(Z)
    return E / E.sum(axis=1, keepdims=True)


def _loss_grad(Z, y, *, scale=1.0, sign=1.0, subtract=True):
    S = scipy_softmax(Z, axis=1).astype(Z.dtype)
    if subtract:
        S[np.arange(len(y)), y] -= 1
    return (sign * scale * S / len(y)).astype(Z.dtype)


def _nn_grads_no_mask(X, y, W1, W2):
    A1 = np.maximum(X @ W1, 0)
    G2 = _loss_grad(A1 @ W2, y)
    return X.T @ (G2 @ W2.T), A1.T @ G2


def _epoch_skipping_last(X, y, theta, lr=0.1, batch=100):
    for start in range(0, X.shape[0] - batch + 1, batch):
        Xb, yb = X[start : start + batch], y[start : start + batch]
        theta -= lr * nnlib.softmax_regression_grad(Xb, yb, theta)


def _epoch_rebinding(X, y, theta, lr=0.1, batch=100):
    for start in range(0, X.shape[0], batch):
        Xb, yb = X[start : start + batch], y[start : start + batch]
        theta = theta - lr * nnlib.softmax_regression_grad(Xb, yb, theta)


def _nn_epoch_sequential(X, y, W1, W2, lr=0.1, batch=100):
    for start in range(0, X.shape[0], batch):
        Xb, yb = X[start : start + batch], y[start : start + batch]
        W2 -= lr * nnlib.nn_gradients(Xb, yb, W1, W2)[1]
        W1 -= lr * nnlib.nn_gradients(Xb, yb, W1, W2)[0]


def _mlp_forward_activation_on_logits(X, weights, activation="relu"):
    logits, cache = nnlib.mlp_forward(X, weights, activation)
    return nnlib.get_activation(activation).forward(logits), cache


def _mlp_backward_sigma_at_output(dlogits, cache, weights):
    sigma = nnlib.get_activation(cache.activation)
    grads, G = [None] * len(weights), dlogits
    for i in range(len(weights) - 1, -1, -1):
        grads[i] = cache.inputs[i].T @ G
        if i > 0:
            G = (G @ weights[i].T) * sigma.derivative(cache.inputs[i])  # output, not input
    return grads


MUTANTS = [
    ("softmax", _softmax_no_shift, "subtract the row maximum"),
    ("softmax", lambda Z: np.exp(Z) / np.exp(Z).sum(axis=0, keepdims=True), "axis=1"),
    ("softmax", lambda Z: scipy_softmax(Z.astype(np.float64), axis=1), "upcast float32"),
    ("log_softmax", lambda Z: np.log(_softmax_no_shift(Z)), "do not take log(softmax"),
    ("softmax_loss", lambda Z, y: len(y) * nnlib.softmax_loss(Z, y), "N times the mean"),
    ("softmax_loss", lambda Z, y: nnlib.log_softmax(Z)[np.arange(len(y)), y], "one number"),
    ("softmax_loss_grad", lambda Z, y: _loss_grad(Z, y, scale=len(y)), "summed over the batch"),
    ("softmax_loss_grad", lambda Z, y: _loss_grad(Z, y, sign=-1), "sign is flipped"),
    ("softmax_loss_grad", lambda Z, y: _loss_grad(Z, y, subtract=False), "one-hot labels"),
    ("softmax_loss_grad", lambda Z, y: _loss_grad(Z, y, scale=1 / len(y)), "twice"),
    (
        "softmax_regression_grad",
        lambda X, y, t: nnlib.softmax_regression_grad(X, y, t).T,
        "transposed",
    ),
    (
        "softmax_regression_grad_naive",
        lambda X, y, t: len(y) * nnlib.softmax_regression_grad(X, y, t),
        "divide by N",
    ),
    ("softmax_regression_epoch", _epoch_skipping_last, "last partial batch"),
    ("softmax_regression_epoch", _epoch_rebinding, "in place"),
    ("radial_features", lambda X: np.c_[X, np.hypot(X[:, 0], X[:, 1])], "radius"),
    ("relu", lambda Z: np.maximum(Z, 0, out=Z), "modified its input"),
    ("relu_grad", lambda Z: Z > 0, "boolean mask"),
    ("relu_grad", lambda Z: np.maximum(Z, 0), "relu(Z) itself"),
    ("nn_gradients", _nn_grads_no_mask, "ReLU mask is missing"),
    ("nn_gradients", lambda *a: nnlib.nn_gradients(*a)[::-1], "wrong order"),
    ("nn_epoch", _nn_epoch_sequential, "compute all, then update"),
    ("mlp_forward", _mlp_forward_activation_on_logits, "last layer"),
    ("mlp_backward", _mlp_backward_sigma_at_output, "pre-activation"),
]


@pytest.mark.parametrize(
    ("function", "mutant", "hint"), MUTANTS, ids=[f"{m[0]}-{m[2]}" for m in MUTANTS]
)
def test_check_names_the_mistake(function, mutant, hint):
    with pytest.raises(CheckFailed, match=re.escape(hint)) as info:
        CHECKS[function](mutant)
    assert str(info.value).startswith(f"{function}:"), "the message should start with the task"


def test_a_crash_is_reported_as_a_failed_check():
    def crashes(Z):
        raise IndexError("index 9 is out of bounds")

    with pytest.raises(CheckFailed, match="raised IndexError: index 9"):
        checks.check_softmax(crashes)


def test_checks_hold_no_reference_outputs():
    """The checks compare with scipy and finite differences, never with stored numbers."""
    from pathlib import Path

    source = Path(checks.__file__).read_text()
    assert "np.load" not in source and ".npy" not in source and ".npz" not in source
