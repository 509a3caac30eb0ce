"""Softmax regression: its batch gradient and one epoch of minibatch SGD.

The gradient is checked against central differences of the scipy loss and against the closed
form written in float64 here; the epoch against a hand-unrolled loop of reference steps, so
that any correct (e.g. faster) implementation passes.
"""

import numpy as np
import pytest
from hypothesis import given
from strategies import (
    FAST,
    FLOAT_DTYPES,
    LABEL_DTYPES,
    close,
    describe,
    epoch_settings,
    float_dtypes,
    labels,
    likely_mistake,
    numerical_weight_grads,
    problems,
    ref_loss,
    ref_sgd_epoch,
    ref_weight_grads,
    seeds,
)

import nnlib


def ref_grad(X, y, theta):
    """X^T (softmax(X theta) - I_y) / N, in float64."""
    return ref_weight_grads(X, y, [theta])[0]


def unrolled_epoch(X, y, theta, lr, batch):
    """The epoch written out step by step, in float64, on a copy of ``theta``."""
    return ref_sgd_epoch(X, y, [theta], lr, batch)[0]


# ----------------------------------------------------------------------------- gradient


@pytest.mark.task_softmax_regression_grad
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_grad_dtype_shape_values(dtype, rng):
    X = rng.standard_normal((6, 4)).astype(dtype)
    y = labels(rng, 6, 3)
    theta = rng.standard_normal((4, 3)).astype(dtype)
    inputs = (X.copy(), y.copy(), theta.copy())
    G = nnlib.softmax_regression_grad(X, y, theta)
    assert isinstance(G, np.ndarray)
    assert G.dtype == dtype, f"softmax_regression_grad turned {dtype.__name__} into {G.dtype}"
    assert G.shape == theta.shape, (
        f"the gradient must have theta's shape (D, C) = {theta.shape}, got {G.shape}"
        + (": X^T G, not G^T X" if G.shape == theta.shape[::-1] else "")
    )
    for name, a, b in zip(("X", "y", "theta"), inputs, (X, y, theta), strict=True):
        np.testing.assert_array_equal(b, a, err_msg=f"softmax_regression_grad modified {name}")
    expected = ref_grad(X, y, theta)
    assert close(G, expected, dtype), (
        f"softmax_regression_grad is not X^T (softmax(X theta) - I_y) / N: "
        f"{likely_mistake(G, expected, 6)}; {describe(G, expected)}"
    )


@pytest.mark.task_softmax_regression_grad
@FAST
@given(p=problems(n_layers=1, scale=3.0))
def test_grad_matches_numerical_gradient(p):
    (theta,) = p.weights
    G = nnlib.softmax_regression_grad(p.X, p.y, theta)
    assert G.dtype == p.dtype and G.shape == theta.shape, "dtype and shape of theta expected"
    (numeric,) = numerical_weight_grads(p.X, p.y, [theta])
    assert close(G, numeric, p.dtype), (
        f"softmax_regression_grad disagrees with the numerical gradient of the mean "
        f"cross-entropy ({likely_mistake(G, numeric, p.X.shape[0])}); {describe(G, numeric)}"
    )


@pytest.mark.task_softmax_regression_grad
def test_grad_with_one_example_is_an_outer_product():
    x = np.array([[1.0, -2.0]])
    theta = np.zeros((2, 3))
    G = nnlib.softmax_regression_grad(x, np.array([1]), theta)
    expected = np.outer(x[0], np.array([1 / 3, 1 / 3 - 1, 1 / 3]))
    np.testing.assert_allclose(
        G,
        expected,
        atol=1e-12,
        err_msg=("for one example the gradient is the outer product x (s - e_y)^T"),
    )


# ----------------------------------------------------------------------------- epoch


@pytest.mark.task_softmax_regression_epoch
@FAST
@given(setting=epoch_settings(), dtype=float_dtypes, seed=seeds)
def test_epoch_equals_unrolled_loop_of_steps(setting, dtype, seed):
    n, batch, lr = setting
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4)).astype(dtype)
    y = labels(rng, n, 3)
    theta = (0.5 * rng.standard_normal((4, 3))).astype(dtype)
    X0, y0 = X.copy(), y.copy()
    expected = unrolled_epoch(X, y, theta, lr, batch)
    result = nnlib.softmax_regression_epoch(X, y, theta, lr=lr, batch=batch)
    assert result is None, "softmax_regression_epoch updates theta in place and returns None"
    assert theta.dtype == dtype, f"theta changed dtype from {dtype.__name__} to {theta.dtype}"
    np.testing.assert_array_equal(X, X0, err_msg="the epoch modified X")
    np.testing.assert_array_equal(y, y0, err_msg="the epoch modified y")
    assert close(theta, expected, dtype), (
        f"theta after one epoch (N={n}, batch={batch}, lr={lr}) differs from the loop "
        "theta -= lr * grad(X[i:i+batch], y[i:i+batch], theta) over i = 0, batch, 2*batch, ...: "
        "are minibatches taken in order, without shuffling, the last partial batch included, "
        f"and each gradient divided by its own batch size? {describe(theta, expected)}"
    )


@pytest.mark.task_softmax_regression_epoch
def test_epoch_includes_the_last_partial_batch():
    # 5 examples, batch 4: the last step sees example 4 alone; its label is the only 2.
    X = np.eye(5, dtype=np.float64)
    y = np.array([0, 1, 0, 1, 2])
    theta = np.zeros((5, 3))
    nnlib.softmax_regression_epoch(X, y, theta, lr=1.0, batch=4)
    assert theta[4, 2] > 0, (
        "the weight of the last example never moved: the last, partial minibatch was dropped"
    )
    np.testing.assert_allclose(theta, unrolled_epoch(X, y, np.zeros((5, 3)), 1.0, 4), atol=1e-12)


@pytest.mark.task_softmax_regression_epoch
def test_epoch_uses_updated_theta_for_the_next_batch(rng):
    X = rng.standard_normal((8, 3))
    y = labels(rng, 8, 4)
    theta0 = rng.standard_normal((3, 4))
    theta = theta0.copy()
    nnlib.softmax_regression_epoch(X, y, theta, lr=0.5, batch=2)
    stale = theta0 - 0.5 * sum(ref_grad(X[i : i + 2], y[i : i + 2], theta0) for i in range(0, 8, 2))
    assert not np.allclose(theta, stale), (
        "every step used the initial theta: each minibatch step must see the updated weights"
    )
    np.testing.assert_allclose(theta, unrolled_epoch(X, y, theta0, 0.5, 2), rtol=1e-10)


@pytest.mark.task_softmax_regression_epoch
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_epoch_lowers_the_loss_and_keeps_dtype(dtype, rng):
    X = rng.standard_normal((60, 5)).astype(dtype)
    y = (X[:, 0] > 0).astype(np.int64) + 2 * (X[:, 1] > 0)
    theta = np.zeros((5, 4), dtype=dtype)
    before = ref_loss(X @ theta, y)
    for _ in range(3):
        nnlib.softmax_regression_epoch(X, y, theta, lr=0.5, batch=10)
    assert theta.dtype == dtype, f"theta changed dtype to {theta.dtype}"
    after = ref_loss(X @ theta, y)
    assert after < before, f"three epochs did not lower the loss ({before} -> {after}): sign?"


@pytest.mark.task_softmax_regression_epoch
def test_epoch_with_zero_learning_rate_changes_nothing(rng):
    X = rng.standard_normal((7, 3)).astype(np.float32)
    theta = rng.standard_normal((3, 2)).astype(np.float32)
    before = theta.copy()
    nnlib.softmax_regression_epoch(X, labels(rng, 7, 2), theta, lr=0.0, batch=3)
    np.testing.assert_array_equal(theta, before, err_msg="lr=0 must leave theta unchanged")


@pytest.mark.task_softmax_regression_epoch
def test_epoch_default_arguments(rng):
    # DESIGN.md: lr=0.1, batch=100. 150 examples -> two steps of 100 and 50.
    X = rng.standard_normal((150, 3))
    y = labels(rng, 150, 3)
    theta = rng.standard_normal((3, 3))
    expected = unrolled_epoch(X, y, theta, 0.1, 100)
    nnlib.softmax_regression_epoch(X, y, theta)
    np.testing.assert_allclose(
        theta,
        expected,
        rtol=1e-10,
        err_msg=("with the defaults the epoch must use lr=0.1 and batch=100"),
    )


@pytest.mark.task_softmax_regression_epoch
@pytest.mark.parametrize("label_dtype", LABEL_DTYPES)
def test_epoch_accepts_every_integer_label_dtype(label_dtype, rng):
    X = rng.standard_normal((7, 3)).astype(np.float32)
    y = labels(rng, 7, 3)
    theta = rng.standard_normal((3, 3)).astype(np.float32)
    expected = unrolled_epoch(X, y, theta, 0.3, 3)
    nnlib.softmax_regression_epoch(X, y.astype(label_dtype), theta, lr=0.3, batch=3)
    assert close(theta, expected, np.float32), (
        f"labels of dtype {np.dtype(label_dtype)} gave a different epoch: "
        + describe(theta, expected)
    )


@pytest.mark.task_softmax_regression_epoch
@pytest.mark.parametrize("layout", ["fortran", "strided"])
def test_epoch_on_non_contiguous_arrays(layout, rng):
    X_base = rng.standard_normal((9, 8))
    X = X_base[:, ::2]  # a strided view of shape (9, 4)
    y = labels(rng, 9, 3)
    theta0 = rng.standard_normal((4, 3))
    expected = unrolled_epoch(X, y, theta0, 0.5, 4)
    if layout == "fortran":
        theta = np.asfortranarray(theta0)
        nnlib.softmax_regression_epoch(X, y, theta, lr=0.5, batch=4)
        updated = theta
    else:
        base = np.zeros((4, 6))
        base[:, ::2] = theta0
        nnlib.softmax_regression_epoch(X, y, base[:, ::2], lr=0.5, batch=4)
        updated = base[:, ::2]
        np.testing.assert_array_equal(base[:, 1::2], 0, err_msg="wrote outside the view")
    np.testing.assert_allclose(
        updated,
        expected,
        rtol=1e-10,
        err_msg=(
            f"a {layout} theta (or a strided X) must be updated in place like any other array"
        ),
    )


@pytest.mark.task_softmax_regression_epoch
@pytest.mark.parametrize("lr", [np.float64(0.3), np.float32(0.3), 1])
def test_epoch_learning_rate_types_keep_float32(lr, rng):
    X = rng.standard_normal((6, 3)).astype(np.float32)
    y = labels(rng, 6, 2)
    theta = rng.standard_normal((3, 2)).astype(np.float32)
    expected = unrolled_epoch(X, y, theta, float(lr), 4)
    nnlib.softmax_regression_epoch(X, y, theta, lr=lr, batch=4)
    assert theta.dtype == np.float32
    assert close(theta, expected, np.float32), describe(theta, expected)
