"""Shared Hypothesis strategies, and the independent references the library is tested against.

Strategies draw small shapes (N, D, H, C), a float dtype and an rng seed; the arrays
themselves come from ``np.random.default_rng(seed)`` so that values are generic (no logit or
pre-activation sits exactly on a ReLU kink) while Hypothesis still explores shapes and seeds.

The references are written here with numpy and ``scipy.special`` only, never with ``nnlib``:
as in micrograd's tests, the library is checked against an outside implementation, not
against itself.
"""

from __future__ import annotations

import contextlib
import itertools
import warnings
from typing import NamedTuple

import numpy as np
import scipy.special
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

# --------------------------------------------------------------------------- settings

#: Decorator for property tests: few, small examples; no deadline (first calls are slow).
FAST = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
#: For tests whose single example is already expensive (numerical gradients of an MLP).
FEW = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# --------------------------------------------------------------------------- basic strategies

FLOAT_DTYPES = (np.float32, np.float64)
ACTIVATION_NAMES = ("relu", "sigmoid", "tanh")

float_dtypes = st.sampled_from(FLOAT_DTYPES)
seeds = st.integers(min_value=0, max_value=2**32 - 1)
batch_sizes = st.integers(min_value=1, max_value=8)  # N
input_dims = st.integers(min_value=1, max_value=6)  # D
hidden_dims = st.integers(min_value=1, max_value=6)  # H
class_counts = st.integers(min_value=2, max_value=5)  # C
activations = st.sampled_from(ACTIVATION_NAMES)


def labels(rng: np.random.Generator, n: int, num_classes: int, dtype=np.int64) -> np.ndarray:
    """Integer labels of shape (n,) in [0, num_classes)."""
    return rng.integers(0, num_classes, size=n).astype(dtype)


#: Every integer label dtype a caller may pass (uint64 + int64 promotes to float64 in numpy).
LABEL_DTYPES = (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64)
label_dtypes = st.sampled_from((np.int64, np.int32, np.int8, np.uint8, np.uint16, np.uint64))


@st.composite
def logit_matrices(draw, dtype=None, bound: float = 50.0, min_rows: int = 1, max_rows: int = 8):
    """Logits ``Z`` of shape (N, C) with entries in [-bound, bound], float32 or float64.

    Values come from Hypothesis itself (not an rng), so ties, zeros and extremes are explored.
    """
    dtype = draw(float_dtypes) if dtype is None else dtype
    n = draw(st.integers(min_rows, max_rows))
    c = draw(class_counts)
    elements = st.floats(-bound, bound, allow_nan=False, allow_infinity=False, width=32)
    return draw(hnp.arrays(dtype, (n, c), elements=elements))


@st.composite
def logits_and_labels(draw, dtype=None, bound: float = 50.0):
    """``(Z, y)``: logits of shape (N, C) and integer labels of shape (N,) in [0, C)."""
    Z = draw(logit_matrices(dtype=dtype, bound=bound))
    n, c = Z.shape
    y = draw(hnp.arrays(draw(label_dtypes), (n,), elements=st.integers(0, c - 1)))
    return Z, y


class Problem(NamedTuple):
    """One random batch and weights: ``X`` (N, D), ``y`` (N,), ``weights`` [(D, H_1), ...]."""

    X: np.ndarray
    y: np.ndarray
    weights: list
    dtype: type
    seed: int


@st.composite
def problems(draw, n_layers=None, dtype=None, max_n: int = 8, scale: float = 1.0):
    """A random classification batch with weights of ``n_layers`` layers (default 1 to 3).

    ``n_layers=1`` is softmax regression (weights ``[theta]``), 2 the two-layer network.
    """
    dtype = draw(float_dtypes) if dtype is None else dtype
    layers = draw(st.integers(1, 3)) if n_layers is None else n_layers
    seed = draw(seeds)
    n = draw(st.integers(1, max_n))
    sizes = [draw(input_dims)] + [draw(hidden_dims) for _ in range(layers - 1)]
    sizes.append(draw(class_counts))
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, sizes[0])).astype(dtype)
    y = labels(rng, n, sizes[-1])
    weights = [
        (scale * rng.standard_normal((a, b)) / np.sqrt(a)).astype(dtype)
        for a, b in itertools.pairwise(sizes)
    ]
    return Problem(X, y, weights, dtype, seed)


@st.composite
def epoch_settings(draw):
    """``(n, batch, lr)`` for an epoch: batches that divide ``n``, do not, or exceed it."""
    n = draw(st.integers(1, 20))
    batch = draw(st.one_of(st.integers(1, n), st.integers(n, n + 5), st.just(1)))
    lr = draw(st.sampled_from((0.05, 0.1, 0.5, 1.0)))
    return n, batch, lr


# --------------------------------------------------------------------------- references


@contextlib.contextmanager
def no_warnings():
    """Turn every warning (an overflow in exp, a division by zero) into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def ref_softmax(Z):
    """Row softmax by scipy, in float64."""
    return scipy.special.softmax(np.asarray(Z, dtype=np.float64), axis=1)


def ref_loss(Z, y) -> float:
    """Mean cross-entropy by scipy's logsumexp, in float64."""
    Z = np.asarray(Z, dtype=np.float64)
    return float(np.mean(scipy.special.logsumexp(Z, axis=1) - Z[np.arange(Z.shape[0]), y]))


def ref_loss_grad(Z, y) -> np.ndarray:
    """``(softmax(Z) - one_hot(y)) / N`` in float64, with the one-hot built from ``np.eye``."""
    Z = np.asarray(Z, dtype=np.float64)
    return (ref_softmax(Z) - np.eye(Z.shape[1])[y]) / Z.shape[0]


REF_ACTIVATIONS = {
    "relu": lambda U: np.maximum(U, 0.0),
    "sigmoid": scipy.special.expit,
    "tanh": np.tanh,
}


def ref_forward(X, weights, activation: str = "relu"):
    """Logits and hidden pre-activations of an MLP without biases, in float64.

    Returns ``(logits, inputs, preactivations)`` with ``inputs = [Z_1 = X, ..., Z_L]`` and
    ``preactivations = [U_1, ..., U_{L-1}]``, ``U_i = Z_i W_i`` (the course numbers layers from 1).
    """
    sigma = REF_ACTIVATIONS[activation]
    Z = np.asarray(X, dtype=np.float64)
    inputs, pre = [Z], []
    for W in weights[:-1]:
        U = Z @ np.asarray(W, dtype=np.float64)
        pre.append(U)
        Z = sigma(U)
        inputs.append(Z)
    return Z @ np.asarray(weights[-1], dtype=np.float64), inputs, pre


def ref_mlp_loss(X, y, weights, activation: str = "relu") -> float:
    """Mean cross-entropy of the MLP's logits, in float64."""
    return ref_loss(ref_forward(X, weights, activation)[0], y)


def numerical_weight_grads(X, y, weights, activation: str = "relu", eps: float = 1e-6):
    """Central-difference gradient of :func:`ref_mlp_loss` for every weight matrix (float64).

    Written out here rather than taken from ``nnlib.gradcheck``, so that it is independent.
    """
    Ws = [np.asarray(W, dtype=np.float64).copy() for W in weights]
    grads = []
    for W in Ws:
        g = np.zeros_like(W)
        for idx in np.ndindex(W.shape):
            saved = W[idx]
            W[idx] = saved + eps
            plus = ref_mlp_loss(X, y, Ws, activation)
            W[idx] = saved - eps
            minus = ref_mlp_loss(X, y, Ws, activation)
            W[idx] = saved
            g[idx] = (plus - minus) / (2 * eps)
        grads.append(g)
    return grads


def ref_weight_grads(X, y, weights, activation: str = "relu"):
    """Analytic backprop written out independently, in float64 (checked numerically itself)."""
    derivative = {
        "relu": lambda U: (U > 0).astype(np.float64),
        "sigmoid": lambda U: scipy.special.expit(U) * (1 - scipy.special.expit(U)),
        "tanh": lambda U: 1 - np.tanh(U) ** 2,
    }[activation]
    logits, inputs, pre = ref_forward(X, weights, activation)
    G = ref_loss_grad(logits, y)
    Ws = [np.asarray(W, dtype=np.float64) for W in weights]
    grads = [None] * len(Ws)
    for i in range(len(Ws) - 1, -1, -1):
        grads[i] = inputs[i].T @ G
        if i > 0:
            G = (G @ Ws[i].T) * derivative(pre[i - 1])
    return grads


def ref_sgd_epoch(X, y, weights, lr, batch, activation: str = "relu") -> list:
    """One epoch of minibatch SGD written out in float64, on copies of ``weights``: batches in
    order, the last partial one included, every gradient of a step (:func:`ref_weight_grads`)
    from the weights before it. One weight is softmax regression, two the two-layer net."""
    Ws = [np.asarray(W, dtype=np.float64) for W in weights]
    for start in range(0, X.shape[0], batch):
        grads = ref_weight_grads(X[start : start + batch], y[start : start + batch], Ws, activation)
        Ws = [W - lr * g for W, g in zip(Ws, grads, strict=True)]
    return Ws


def min_abs_preactivation(X, weights) -> float:
    """Smallest |pre-activation| of a ReLU network: how close the batch sits to a kink."""
    _, _, pre = ref_forward(X, weights, "relu")
    return min((float(np.abs(U).min()) for U in pre), default=np.inf)


def rel_err(a, b) -> float:
    """``||a - b|| / (||a|| + ||b||)`` in float64 (0 when both are zero)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - b) / denom)


def tol_for(dtype) -> float:
    """Relative tolerance for comparing a result in ``dtype`` with a float64 reference."""
    return 1e-4 if np.dtype(dtype) == np.float32 else 1e-7


def atol_for(dtype) -> float:
    """Absolute tolerance for O(1) quantities computed in ``dtype`` (and numerical noise)."""
    return 1e-5 if np.dtype(dtype) == np.float32 else 1e-8


def close(actual, expected, dtype) -> bool:
    """Whether ``actual`` (computed in ``dtype``) matches a float64 reference.

    Relative error in norm within :func:`tol_for`, or every entry within :func:`atol_for`
    (which covers gradients that are almost zero, where a relative error means nothing).
    """
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        return False
    if rel_err(actual, expected) <= tol_for(dtype):
        return True
    return bool(np.max(np.abs(actual - expected), initial=0.0) <= atol_for(dtype))


def describe(actual, expected) -> str:
    """A short account of a mismatch, to end an assertion message with."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if actual.shape != expected.shape:
        return f"shape {actual.shape}, expected {expected.shape}"
    diff = np.abs(actual - expected)
    k = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.size else ()
    worst = f"; worst at {k}: got {actual[k]:.6g}, expected {expected[k]:.6g}" if diff.size else ""
    return f"relative error {rel_err(actual, expected):.2e}{worst}"


def likely_mistake(actual, expected, batch_size: int | None = None) -> str:
    """Name the classic gradient mistakes that ``actual`` matches (for failure messages)."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    hints = []
    if actual.shape != expected.shape:
        if actual.shape == expected.shape[::-1]:
            hints.append("the result is transposed")
        return "; ".join(hints) or "wrong shape"
    if rel_err(actual, -expected) < 1e-3:
        hints.append("the sign is flipped (S - I_y, not I_y - S)")
    if batch_size and batch_size > 1:
        if rel_err(actual, expected * batch_size) < 1e-3:
            hints.append("forgot to divide by the batch size N")
        if rel_err(actual, expected / batch_size) < 1e-3:
            hints.append("divided by the batch size N twice")
    return "; ".join(hints) or "no classic mistake matched; compare with the derivation"
