"""Visible checks: run one right after implementing a function, in a notebook or a shell.

Each ``check_<function>(fn=None)`` calls your function (``fn`` defaults to the one in
``nnlib``; pass another callable to check a notebook answer) on small random inputs and checks,
in this order: that it returns arrays of the right type, shape and dtype; then their values,
against an *outside* reference — numerical gradients (``nnlib.gradcheck``) and scipy's
softmax — never against stored answers. When a value is wrong it tries the usual mistakes
(summing instead of averaging, a flipped sign, a missing ReLU mask, ...) and names the one
that matches. A passing check prints one line; a failing one raises :class:`CheckFailed`.
A stub that is not implemented yet raises its own ``NotImplementedError`` unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import pairwise

import numpy as np
from scipy.special import log_softmax as _scipy_log_softmax
from scipy.special import softmax as _scipy_softmax

from . import activations, features, linear, losses, mlp, naive, two_layer
from .gradcheck import numerical_gradient, relative_error

# Small, pairwise different sizes, so that a transposed result has the wrong shape.
N, D, H, C = 7, 5, 6, 4
LR = 0.5
TOL = 1e-6  # float64 inputs: a correct implementation agrees to ~1e-9
_SEED = 20261126


class CheckFailed(AssertionError):
    """A visible check found a mistake; the message says which and what probably caused it."""


def _fail(task: str, message: str):
    raise CheckFailed(f"{task}: {message}")


def _passed(task: str, what: str) -> None:
    print(f"✓ {task}: {what}")


def _call(task: str, fn: Callable, *args, **kwargs):
    """Call the student's function; let a stub's NotImplementedError through unchanged."""
    try:
        return fn(*args, **kwargs)
    except (NotImplementedError, CheckFailed):
        raise
    except Exception as exc:
        _fail(task, f"raised {type(exc).__name__}: {exc}")


def _rng() -> np.random.Generator:
    return np.random.default_rng(_SEED)


def _expect_array(task: str, name: str, got, shape: tuple, dtype) -> np.ndarray:
    """Fail unless ``got`` is a finite ndarray of ``shape`` and ``dtype``."""
    if not isinstance(got, np.ndarray):
        _fail(task, f"{name} should be a numpy ndarray, got {type(got).__name__}")
    if got.shape != shape:
        if got.shape == shape[::-1]:
            _fail(task, f"{name} has shape {got.shape}, expected {shape}: it is transposed")
        _fail(task, f"{name} has shape {got.shape}, expected {shape}")
    if got.dtype != np.dtype(dtype):
        hint = ""
        if got.dtype == np.float64 and np.dtype(dtype) == np.float32:
            hint = (
                ": something upcast float32 to float64 — a float64 array such as np.zeros(...) "
                "without dtype=, or np.float64 constants"
            )
        elif got.dtype == np.bool_:
            hint = ": a boolean mask; convert it with .astype(Z.dtype)"
        _fail(task, f"{name} has dtype {got.dtype}, expected {np.dtype(dtype)}{hint}")
    if not np.all(np.isfinite(got)):
        _fail(task, f"{name} contains NaN or inf")
    return got


def _close(a, b, tol: float = TOL) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and bool(np.all(np.isfinite(a))) and relative_error(a, b) <= tol


def _diagnose(got: np.ndarray, expected: np.ndarray, n: int, extra=()) -> str:
    """Name the usual mistake that turns ``expected`` into ``got``, if one does."""
    variants = [
        *extra,
        (expected * n, f"it is {n} times too large: you summed over the batch — divide by N"),
        (expected / n, f"it is {n} times too small: you divided by the batch size twice"),
        (-expected, "the sign is flipped: the gradient of the loss uses S - I_y, not I_y - S"),
    ]
    for variant, hint in variants:
        if _close(got, variant):
            return hint
    if got.ndim == 2 and got.shape[0] == got.shape[1] and _close(got.T, expected):
        return "it is the transpose of the right answer"
    return "no common mistake matches; re-derive it and compare entries with the numbers above"


def _mismatch(task: str, name: str, got, expected, n: int, extra=()):
    err = relative_error(got, expected)
    _fail(
        task,
        f"{name} differs from the numerical gradient (relative error {err:.1e}); "
        f"likely cause: {_diagnose(got, expected, n, extra)}",
    )


# --------------------------------------------------------------------------- references
# Independent float64 references built from scipy and finite differences only.


def _cross_entropy(Z: np.ndarray, y: np.ndarray) -> float:
    return float(-np.mean(_scipy_log_softmax(Z, axis=1)[np.arange(len(y)), y]))


# The checks' own activations, so a student's unfinished relu cannot break another check.
_SIGMA = {"relu": lambda U: np.maximum(U, 0.0), "tanh": np.tanh}


def _hidden_forward(X, weights, activation="relu"):
    """Logits of an MLP in float64; the last layer is linear."""
    *hidden, last = weights
    Z = X
    for W in hidden:
        Z = _SIGMA[activation](Z @ W)
    return Z @ last


def _problem(rng, hidden: Sequence[int] = ()):
    """Random float64 inputs, labels and weights for the layer widths D, *hidden, C.

    Redrawn until no hidden pre-activation sits within 1e-3 of the ReLU kink at 0, where a
    finite difference would straddle the kink and disagree with any correct gradient.
    """
    X = rng.normal(size=(N, D))
    y = rng.permutation(np.arange(N) % C)  # every class present
    sizes = [D, *hidden, C]
    while True:
        weights = [rng.normal(size=(a, b)) / np.sqrt(a) for a, b in pairwise(sizes)]
        Z, margin = X, np.inf
        for W in weights[: len(sizes) - 2]:
            U = Z @ W
            margin = min(margin, float(np.min(np.abs(U))))
            Z = np.maximum(U, 0)
        if margin > 1e-3:
            return X, y, weights


def _f32(*arrays):
    return [a.astype(np.float32) for a in arrays]


# --------------------------------------------------------------------------- softmax & loss


def check_softmax(fn: Callable | None = None) -> None:
    """Check ``softmax(Z)``: shape, dtype, rows summing to one, values, huge logits."""
    task, fn = "softmax", fn or losses.softmax
    Z = 3 * _rng().normal(size=(N, C))
    S = _expect_array(task, "softmax(Z)", _call(task, fn, Z.astype(np.float32)), (N, C), np.float32)
    S = _expect_array(task, "softmax(Z)", _call(task, fn, Z), (N, C), np.float64)
    if not np.allclose(S.sum(axis=1), 1):
        if np.allclose(S.sum(axis=0), 1):
            _fail(task, "columns sum to one, rows do not: normalize along axis=1")
        _fail(task, "rows do not sum to one: divide each row of exp(Z) by its own sum")
    if not _close(S, _scipy_softmax(Z, axis=1)):
        _fail(task, "rows sum to one but the values are wrong: is it exp(Z) / sum(exp(Z))?")
    with np.errstate(all="ignore"):
        big = _call(task, fn, np.array([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4]]))
    if not np.all(np.isfinite(big)):
        _fail(task, "NaN or inf for logits of ±1e4: subtract the row maximum before exp")
    _passed(task, "float32 stays float32, rows sum to one, agrees with scipy, stable at ±1e4")


def check_log_softmax(fn: Callable | None = None) -> None:
    """Check ``log_softmax(Z)`` against scipy, including logits of ±1e4."""
    task, fn = "log_softmax", fn or losses.log_softmax
    Z = 3 * _rng().normal(size=(N, C))
    _expect_array(task, "log_softmax(Z)", _call(task, fn, Z.astype(np.float32)), (N, C), np.float32)
    got = _expect_array(task, "log_softmax(Z)", _call(task, fn, Z), (N, C), np.float64)
    if not _close(got, _scipy_log_softmax(Z, axis=1)):
        _fail(task, "values differ from scipy.special.log_softmax")
    big = np.array([[1e4, 0.0, -1e4]])
    with np.errstate(all="ignore"):
        got = _call(task, fn, big)
    if not np.all(np.isfinite(got)):
        _fail(
            task,
            "-inf or NaN for logits of ±1e4: do not take log(softmax(Z)); use "
            "Z - max - log(sum(exp(Z - max)))",
        )
    _passed(task, "agrees with scipy, finite at ±1e4")


def check_softmax_loss(fn: Callable | None = None) -> None:
    """Check ``softmax_loss(Z, y)``: a scalar equal to the mean cross-entropy."""
    task, fn = "softmax_loss", fn or losses.softmax_loss
    rng = _rng()
    Z, y = 3 * rng.normal(size=(N, C)), rng.integers(0, C, N)
    got = _call(task, fn, Z, y)
    if isinstance(got, np.ndarray) and got.ndim > 0:
        _fail(task, f"returned an array of shape {got.shape}; return one number, the mean loss")
    if not isinstance(got, (float, np.floating)):
        _fail(task, f"returned {type(got).__name__}; return a float")
    expected = _cross_entropy(Z, y)
    if not np.isclose(got, expected, rtol=1e-6):
        if np.isclose(got, N * expected, rtol=1e-6):
            _fail(task, f"{got:.6g} is N times the mean: divide the summed loss by N")
        if np.isclose(got, -expected, rtol=1e-6):
            _fail(task, "the sign is flipped: the loss is -log of the true class's probability")
        _fail(task, f"returned {got:.6g}, expected the mean cross-entropy {expected:.6g}")
    with np.errstate(all="ignore"):
        big = _call(task, fn, np.array([[1e4, 0.0], [0.0, 1e4]]), np.array([1, 1]))
    if not np.isfinite(big):
        _fail(task, "NaN or inf for logits of ±1e4: use the max-subtracted log-sum-exp")
    _passed(task, "mean cross-entropy agrees with scipy, finite for logits of 1e4")


def _check_logit_gradient(task: str, fn: Callable) -> None:
    rng = _rng()
    Z, y = 2 * rng.normal(size=(N, C)), rng.integers(0, C, N)
    _expect_array(task, "dZ", _call(task, fn, *_f32(Z), y), (N, C), np.float32)
    got = _expect_array(task, "dZ", _call(task, fn, Z, y), (N, C), np.float64)
    expected = numerical_gradient(lambda Zp: _cross_entropy(Zp, y), Z)
    if not _close(got, expected):
        S = _scipy_softmax(Z, axis=1)
        forgot = (S / N, "you forgot to subtract the one-hot labels I_y")
        _mismatch(task, "dZ", got, expected, N, extra=[forgot])
    with np.errstate(all="ignore"):
        big = _call(task, fn, np.array([[1e4, 0.0, -1e4]]), np.array([0]))
    if not np.all(np.isfinite(big)):
        _fail(task, "NaN or inf for logits of ±1e4: subtract the row maximum before exp")
    _passed(task, "dtype, shape and values agree with the numerical gradient")


def check_softmax_loss_grad(fn: Callable | None = None) -> None:
    """Check the logit gradient ``(S - I_y) / N`` against finite differences."""
    _check_logit_gradient("softmax_loss_grad", fn or losses.softmax_loss_grad)


def check_softmax_loss_grad_naive(fn: Callable | None = None) -> None:
    """Check the loop twin of ``softmax_loss_grad`` against finite differences."""
    _check_logit_gradient("softmax_loss_grad_naive", fn or naive.softmax_loss_grad_naive)


# --------------------------------------------------------------------------- softmax regression


def _check_theta_gradient(task: str, fn: Callable) -> None:
    X, y, (theta,) = _problem(_rng())
    _expect_array(task, "dtheta", _call(task, fn, *_f32(X), y, *_f32(theta)), (D, C), np.float32)
    got = _expect_array(task, "dtheta", _call(task, fn, X, y, theta), (D, C), np.float64)
    expected = numerical_gradient(lambda t: _cross_entropy(X @ t, y), theta)
    if not _close(got, expected):
        _mismatch(task, "dtheta", got, expected, N)
    _passed(task, "dtype, shape and values agree with the numerical gradient")


def check_softmax_regression_grad(fn: Callable | None = None) -> None:
    """Check ``softmax_regression_grad`` against finite differences."""
    _check_theta_gradient("softmax_regression_grad", fn or linear.softmax_regression_grad)


def check_softmax_regression_grad_naive(fn: Callable | None = None) -> None:
    """Check the loop twin of ``softmax_regression_grad`` against finite differences."""
    _check_theta_gradient(
        "softmax_regression_grad_naive", fn or naive.softmax_regression_grad_naive
    )


def _simulate_epoch(loss_of, params, n, batch, *, skip_last=False, sign=1.0, sequential=False):
    """Reference SGD epoch from numerical gradients. ``loss_of(params, rows) -> float``.

    ``sequential`` updates each parameter, last layer first as backprop reaches them, before
    differentiating the next one (a classic bug).
    """
    params = [p.copy() for p in params]
    starts = list(range(0, n, batch))
    if skip_last and n % batch:
        starts = starts[:-1]
    for start in starts:
        rows = slice(start, start + batch)
        grads = {}
        for i in reversed(range(len(params))):

            def f(p, i=i, rows=rows):
                return loss_of([*params[:i], p, *params[i + 1 :]], rows)

            grads[i] = numerical_gradient(f, params[i])
            if sequential:
                params[i] -= sign * LR * grads[i]
        if not sequential:
            for i, p in enumerate(params):
                p -= sign * LR * grads[i]
    return params


def _check_epoch(task: str, run: Callable, loss_of: Callable, params: list, names: list) -> None:
    """Run the student's epoch on copies of ``params`` (N rows, batch 3) and compare."""
    batch = 3  # N = 7: batches of 3, 3 and a last partial batch of 1
    got = [p.copy() for p in params]
    returned = _call(task, run, got, batch)
    if returned is not None:
        _fail(
            task, f"returned {type(returned).__name__}; update the weights in place and return None"
        )
    if all(np.array_equal(g, p) for g, p in zip(got, params, strict=True)):
        _fail(
            task,
            "the weights did not change: update them in place (W -= ...), "
            "do not rebind the name (W = W - ...)",
        )
    expected = _simulate_epoch(loss_of, params, N, batch)
    if all(_close(g, e) for g, e in zip(got, expected, strict=True)):
        _passed(task, "in-place updates match SGD with numerical gradients, last batch included")
        return
    variants = [
        (
            dict(skip_last=True),
            "the last partial batch was skipped: range(0, N, batch) "
            "includes it, and X[start:start + batch] handles its size",
        ),
        (dict(sign=-1.0), "the weights moved up the gradient: subtract lr * gradient"),
    ]
    if len(params) > 1:
        variants.append(
            (
                dict(sequential=True),
                "a weight was updated before the other "
                "gradients of the same step were computed: compute all, then update",
            )
        )
    for kwargs, hint in variants:
        wrong = _simulate_epoch(loss_of, params, N, batch, **kwargs)
        if all(_close(g, w) for g, w in zip(got, wrong, strict=True)):
            _fail(task, hint)
    worst = max(range(len(got)), key=lambda i: relative_error(got[i], expected[i]))
    _fail(
        task,
        f"{names[worst]} after one epoch differs from SGD with numerical gradients "
        f"(relative error {relative_error(got[worst], expected[worst]):.1e}); check the "
        "gradient of one batch first, then the batching",
    )


def check_softmax_regression_epoch(fn: Callable | None = None) -> None:
    """Check one epoch of softmax regression against SGD with numerical gradients."""
    task, fn = "softmax_regression_epoch", fn or linear.softmax_regression_epoch
    X, y, (theta,) = _problem(_rng())
    theta32 = theta.astype(np.float32)
    _call(task, fn, *_f32(X), y, theta32, lr=LR, batch=3)
    _expect_array(task, "theta after a float32 epoch", theta32, (D, C), np.float32)

    def run(params, batch):
        return fn(X, y, params[0], lr=LR, batch=batch)

    def loss_of(params, rows):
        return _cross_entropy(X[rows] @ params[0], y[rows])

    _check_epoch(task, run, loss_of, [theta], ["theta"])


# --------------------------------------------------------------------------- features


def check_radial_features(fn: Callable | None = None) -> None:
    """Check ``radial_features(X)``: the columns x, y and x^2 + y^2."""
    task, fn = "radial_features", fn or features.radial_features
    X = _rng().normal(size=(N, 2))
    _expect_array(task, "Phi", _call(task, fn, X.astype(np.float32)), (N, 3), np.float32)
    Phi = _expect_array(task, "Phi", _call(task, fn, X), (N, 3), np.float64)
    if not np.allclose(Phi[:, :2], X):
        _fail(task, "the first two columns must be the original x and y")
    if not np.allclose(Phi[:, 2], np.hypot(X[:, 0], X[:, 1]) ** 2):
        if np.allclose(Phi[:, 2], np.hypot(X[:, 0], X[:, 1])):
            _fail(task, "the third column is the radius; use its square, x^2 + y^2")
        _fail(task, "the third column must be x^2 + y^2")
    _passed(task, "shape, dtype and columns (x, y, x² + y²) are right")


def check_random_relu_features(fn: Callable | None = None) -> None:
    """Check ``random_relu_features(X, W)`` = max(X W, 0)."""
    task, fn = "random_relu_features", fn or features.random_relu_features
    rng = _rng()
    X, W = rng.normal(size=(N, D)), rng.normal(size=(D, H))
    _expect_array(task, "Phi", _call(task, fn, *_f32(X, W)), (N, H), np.float32)
    Phi = _expect_array(task, "Phi", _call(task, fn, X, W), (N, H), np.float64)
    if np.any(Phi < 0):
        _fail(task, "negative features: apply the ReLU, max(X W, 0)")
    if not np.allclose(Phi, np.clip(X @ W, 0, None)):
        _fail(task, "values differ from max(X W, 0)")
    _passed(task, "shape, dtype and values are right")


# --------------------------------------------------------------------------- activations


def check_relu(fn: Callable | None = None) -> None:
    """Check ``relu(Z)``: shape, dtype, values, and that the input is left alone."""
    task, fn = "relu", fn or activations.relu
    Z = _rng().normal(size=(N, H))
    _expect_array(task, "relu(Z)", _call(task, fn, Z.astype(np.float32)), (N, H), np.float32)
    before = Z.copy()
    A = _expect_array(task, "relu(Z)", _call(task, fn, Z), (N, H), np.float64)
    if not np.array_equal(Z, before):
        _fail(task, "it modified its input in place; return a new array")
    if not np.array_equal(A, np.where(Z > 0, Z, 0.0)):
        _fail(task, "values differ from max(Z, 0)")
    _passed(task, "shape, dtype and values are right; the input is untouched")


def check_relu_grad(fn: Callable | None = None) -> None:
    """Check ``relu_grad(Z)`` against the finite-difference slope of max(Z, 0)."""
    task, fn = "relu_grad", fn or activations.relu_grad
    rng = _rng()
    Z = rng.normal(size=(N, H))
    Z[np.abs(Z) < 1e-3] = 0.5  # stay away from the kink
    _expect_array(task, "relu_grad(Z)", _call(task, fn, Z.astype(np.float32)), (N, H), np.float32)
    got = _expect_array(task, "relu_grad(Z)", _call(task, fn, Z), (N, H), np.float64)
    h = 1e-6
    slope = (np.maximum(Z + h, 0) - np.maximum(Z - h, 0)) / (2 * h)
    if not np.allclose(got, slope):
        if np.allclose(got, np.maximum(Z, 0)):
            _fail(task, "it returns relu(Z) itself; the derivative is 1 where Z > 0, else 0")
        if np.allclose(got, 1 - slope):
            _fail(task, "the mask is inverted: 1 where Z > 0, 0 elsewhere")
        _fail(task, "values differ from the slope of max(Z, 0)")
    _passed(task, "dtype, shape and values match the slope of max(Z, 0)")


# --------------------------------------------------------------------------- two-layer network


def _check_two_layer_gradients(task: str, fn: Callable) -> None:
    X, y, (W1, W2) = _problem(_rng(), hidden=[H])
    got32 = _call(task, fn, *_f32(X), y, *_f32(W1, W2))
    if not isinstance(got32, tuple) or len(got32) != 2:
        _fail(task, f"return a tuple (dW1, dW2); got {type(got32).__name__}")
    if getattr(got32[0], "shape", None) == (H, C):
        _fail(task, "the tuple is in the wrong order: return (dW1, dW2)")
    _expect_array(task, "dW1", got32[0], (D, H), np.float32)
    _expect_array(task, "dW2", got32[1], (H, C), np.float32)
    dW1, dW2 = _call(task, fn, X, y, W1, W2)
    _expect_array(task, "dW1", dW1, (D, H), np.float64)
    _expect_array(task, "dW2", dW2, (H, C), np.float64)

    def loss(W1_, W2_):
        return _cross_entropy(np.maximum(X @ W1_, 0) @ W2_, y)

    num1 = numerical_gradient(lambda W: loss(W, W2), W1)
    num2 = numerical_gradient(lambda W: loss(W1, W), W2)
    if not _close(dW2, num2):
        _mismatch(task, "dW2", dW2, num2, N)
    if not _close(dW1, num1):
        # dL/dA1 by finite differences; X^T dL/dA1 is dW1 with the ReLU mask left out.
        hidden = _SIGMA["relu"](X @ W1)
        dA1 = numerical_gradient(lambda A: _cross_entropy(A @ W2, y), hidden)
        no_mask = (X.T @ dA1, "the ReLU mask is missing: multiply (G2 W2^T) by 1[X W1 > 0]")
        _mismatch(task, "dW1", dW1, num1, N, extra=[no_mask])
    _passed(task, "(dW1, dW2) have the right dtypes, shapes and numerical-gradient values")


def check_nn_gradients(fn: Callable | None = None) -> None:
    """Check ``nn_gradients`` (dW1, dW2) against finite differences."""
    _check_two_layer_gradients("nn_gradients", fn or two_layer.nn_gradients)


def check_nn_gradients_naive(fn: Callable | None = None) -> None:
    """Check the loop twin of ``nn_gradients`` against finite differences."""
    _check_two_layer_gradients("nn_gradients_naive", fn or naive.nn_gradients_naive)


def check_nn_epoch(fn: Callable | None = None) -> None:
    """Check one epoch of the two-layer network against SGD with numerical gradients."""
    task, fn = "nn_epoch", fn or two_layer.nn_epoch
    X, y, (W1, W2) = _problem(_rng(), hidden=[H])
    W1_32, W2_32 = _f32(W1, W2)
    _call(task, fn, *_f32(X), y, W1_32, W2_32, lr=LR, batch=3)
    _expect_array(task, "W1 after a float32 epoch", W1_32, (D, H), np.float32)
    _expect_array(task, "W2 after a float32 epoch", W2_32, (H, C), np.float32)

    def run(params, batch):
        return fn(X, y, params[0], params[1], lr=LR, batch=batch)

    def loss_of(params, rows):
        return _cross_entropy(np.maximum(X[rows] @ params[0], 0) @ params[1], y[rows])

    _check_epoch(task, run, loss_of, [W1, W2], ["W1", "W2"])


# --------------------------------------------------------------------------- L-layer network


def check_mlp_forward(fn: Callable | None = None) -> None:
    """Check ``mlp_forward``: the logits and what the cache keeps."""
    task, fn = "mlp_forward", fn or mlp.mlp_forward
    X, _, weights = _problem(_rng(), hidden=[H, 3])
    out = _call(task, fn, X.astype(np.float32), _f32(*weights))
    if not isinstance(out, tuple) or len(out) != 2:
        _fail(task, "return a tuple (logits, cache)")
    _expect_array(task, "logits", out[0], (N, C), np.float32)
    for activation in ("relu", "tanh"):
        logits, cache = _call(task, fn, X, weights, activation)
        _expect_array(task, "logits", logits, (N, C), np.float64)
        expected = _hidden_forward(X, weights, activation)
        if not _close(logits, expected):
            if _close(logits, _SIGMA[activation](expected)):
                _fail(task, "the activation was applied to the last layer: logits are linear")
            _fail(
                task,
                f"logits differ from sigma(... sigma(X W_1) ...) W_L "
                f"with activation={activation!r}",
            )
        if not isinstance(cache, mlp.MLPCache):
            _fail(task, f"the cache should be an MLPCache, got {type(cache).__name__}")
        L = len(weights)
        if len(cache.inputs) != L or len(cache.preactivations) != L - 1:
            _fail(
                task,
                f"the cache should hold {L} layer inputs [Z_1..Z_{L}] and {L - 1} "
                f"pre-activations; got {len(cache.inputs)} and "
                f"{len(cache.preactivations)}",
            )
        if not np.array_equal(cache.inputs[0], X):
            _fail(task, "cache.inputs[0] must be X itself (Z_1 = X)")
        if cache.activation != activation:
            _fail(task, f"cache.activation is {cache.activation!r}, expected {activation!r}")
    _passed(task, "logits and cache are right for relu and tanh")


def _mlp_cache(X, weights, activation):
    inputs, pre = [X], []
    for W in weights[: len(weights) - 1]:
        pre.append(inputs[-1] @ W)
        inputs.append(_SIGMA[activation](pre[-1]))
    return mlp.MLPCache(inputs, pre, activation)


def _layer_gradients(objective: Callable, weights: list) -> list:
    """Numerical gradient of ``objective(weights) -> float`` with respect to each matrix."""
    return [
        numerical_gradient(lambda W, i=i: objective([*weights[:i], W, *weights[i + 1 :]]), W_i)
        for i, W_i in enumerate(weights)
    ]


def _compare_layers(task: str, got: list, expected: list, activation: str) -> None:
    L = len(expected)
    if not isinstance(got, (list, tuple)) or len(got) != L:
        _fail(task, f"return a list of {L} gradients, one per weight matrix")
    for i in range(L):
        _expect_array(task, f"grads[{i}]", got[i], expected[i].shape, expected[i].dtype)
    for i in reversed(range(L)):  # the recursion runs backwards: report its first break
        if not _close(got[i], expected[i]):
            where = (
                "the last layer: dW_L = Z_L^T G_{L+1}"
                if i == L - 1
                else f"W_{i + 1}, though W_{i + 2} is right: check the step from G_{i + 3} to "
                f"G_{i + 2}: multiply by sigma'(Z_{i + 2} W_{i + 2}) and by W_{i + 2}^T"
            )
            hint = _diagnose(got[i], expected[i], N)
            if activation != "relu" and i < L - 1:
                hint += (
                    "; if relu passes but this fails, sigma' may be evaluated at the "
                    "layer's output instead of its pre-activation"
                )
            _fail(
                task,
                f"grads[{i}] is wrong ({activation}) — the first wrong one is at {where}; {hint}",
            )


def check_mlp_backward(fn: Callable | None = None) -> None:
    """Check ``mlp_backward`` against finite differences of <dlogits, logits>."""
    task, fn = "mlp_backward", fn or mlp.mlp_backward
    rng = _rng()
    X, _, weights = _problem(rng, hidden=[H, 3])
    R = rng.normal(size=(N, C))  # a stand-in for dlogits: backward is linear in it
    for activation in ("relu", "tanh"):
        cache = _mlp_cache(X, weights, activation)
        got = _call(task, fn, R, cache, weights)
        expected = _layer_gradients(
            lambda ws, a=activation: float(np.sum(R * _hidden_forward(X, ws, a))), weights
        )
        _compare_layers(task, got, expected, activation)
    cache32 = _mlp_cache(*_f32(X), _f32(*weights), "relu")
    got32 = _call(task, fn, R.astype(np.float32), cache32, _f32(*weights))
    for i, g in enumerate(got32):
        _expect_array(task, f"grads[{i}] (float32)", g, weights[i].shape, np.float32)
    _passed(task, "every layer's gradient matches finite differences (relu and tanh)")


def check_mlp_gradients_naive(fn: Callable | None = None) -> None:
    """Check the loop twin of ``mlp_gradients`` against finite differences."""
    task, fn = "mlp_gradients_naive", fn or naive.mlp_gradients_naive
    X, y, weights = _problem(_rng(), hidden=[H, 3])
    for activation in ("relu", "tanh"):
        got = _call(task, fn, X, y, weights, activation)
        expected = _layer_gradients(
            lambda ws, a=activation: _cross_entropy(_hidden_forward(X, ws, a), y), weights
        )
        _compare_layers(task, got, expected, activation)
    _passed(task, "every layer's gradient matches finite differences (relu and tanh)")


def check_mlp_epoch(fn: Callable | None = None) -> None:
    """Check one epoch of the MLP against SGD with numerical gradients."""
    task, fn = "mlp_epoch", fn or mlp.mlp_epoch
    X, y, weights = _problem(_rng(), hidden=[H, 3])
    w32 = _f32(*weights)
    _call(task, fn, X.astype(np.float32), y, w32, lr=LR, batch=3)
    for i, W in enumerate(w32):
        _expect_array(task, f"weights[{i}] after a float32 epoch", W, weights[i].shape, np.float32)

    def run(params, batch):
        return fn(X, y, params, lr=LR, batch=batch)

    def loss_of(params, rows):
        return _cross_entropy(_hidden_forward(X[rows], params), y[rows])

    _check_epoch(task, run, loss_of, weights, [f"weights[{i}]" for i in range(len(weights))])


#: Every check by the task function it checks.
CHECKS: dict[str, Callable] = {
    name[len("check_") :]: obj
    for name, obj in list(globals().items())
    if name.startswith("check_") and callable(obj)
}
