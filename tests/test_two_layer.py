"""The two-layer network ReLU(X W1) W2: its gradients and one epoch of minibatch SGD."""

import numpy as np
import pytest
from hypothesis import assume, given
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
    min_abs_preactivation,
    numerical_weight_grads,
    problems,
    ref_mlp_loss,
    ref_sgd_epoch,
    ref_weight_grads,
    seeds,
)

import nnlib


def ref_grads(X, y, W1, W2):
    """(dW1, dW2) in float64, written independently of nnlib."""
    return tuple(ref_weight_grads(X, y, [W1, W2], "relu"))


def unrolled_epoch(X, y, W1, W2, lr, batch):
    """The epoch step by step in float64: both gradients from the weights before the step."""
    return tuple(ref_sgd_epoch(X, y, [W1, W2], lr, batch))


def _data(rng, n, d, h, c, dtype):
    X = rng.standard_normal((n, d)).astype(dtype)
    y = labels(rng, n, c)
    W1 = (rng.standard_normal((d, h)) / np.sqrt(d)).astype(dtype)
    W2 = (rng.standard_normal((h, c)) / np.sqrt(h)).astype(dtype)
    return X, y, W1, W2


def _mask_hint(dW1, expected_dW1, X, y, W1, W2):
    """Whether dW1 matches the classic ReLU-mask mistakes."""
    Xd, W1d, W2d = (a.astype(np.float64) for a in (X, W1, W2))
    Z1 = Xd @ W1d
    A1 = np.maximum(Z1, 0)
    S = np.exp(A1 @ W2d - (A1 @ W2d).max(axis=1, keepdims=True))
    S /= S.sum(axis=1, keepdims=True)
    G2 = (S - np.eye(W2.shape[1])[y]) / X.shape[0]
    no_mask = Xd.T @ (G2 @ W2d.T)
    if close(dW1, no_mask, X.dtype):
        return "the ReLU mask 1[Z1 > 0] is missing from dW1"
    return likely_mistake(dW1, expected_dW1, X.shape[0])


# ----------------------------------------------------------------------------- gradients


@pytest.mark.task_nn_gradients
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_gradients_dtype_shape_values(dtype, rng):
    X, y, W1, W2 = _data(rng, 7, 5, 4, 3, dtype)
    copies = [a.copy() for a in (X, y, W1, W2)]
    result = nnlib.nn_gradients(X, y, W1, W2)
    assert isinstance(result, tuple) and len(result) == 2, "nn_gradients returns (dW1, dW2)"
    dW1, dW2 = result
    assert dW1.dtype == dtype and dW2.dtype == dtype, (
        f"gradients must be {dtype.__name__}, got {dW1.dtype} and {dW2.dtype}"
    )
    assert dW1.shape == W1.shape, f"dW1 must have W1's shape {W1.shape}, got {dW1.shape}"
    assert dW2.shape == W2.shape, f"dW2 must have W2's shape {W2.shape}, got {dW2.shape}"
    for name, before, after in zip(("X", "y", "W1", "W2"), copies, (X, y, W1, W2), strict=True):
        np.testing.assert_array_equal(after, before, err_msg=f"nn_gradients modified {name}")
    e1, e2 = ref_grads(X, y, W1, W2)
    assert close(dW2, e2, dtype), (
        f"dW2 is not A1^T (S - I_y) / N with A1 = ReLU(X W1): {likely_mistake(dW2, e2, 7)}; "
        + describe(dW2, e2)
    )
    assert close(dW1, e1, dtype), (
        f"dW1 is not X^T ((G2 W2^T) * 1[X W1 > 0]): {_mask_hint(dW1, e1, X, y, W1, W2)}; "
        + describe(dW1, e1)
    )


@pytest.mark.task_nn_gradients
@FAST
@given(p=problems(n_layers=2, scale=2.0))
def test_gradients_match_numerical_gradients(p):
    assume(min_abs_preactivation(p.X, p.weights) > 1e-4)  # no pre-activation on the kink
    W1, W2 = p.weights
    dW1, dW2 = nnlib.nn_gradients(p.X, p.y, W1, W2)
    n1, n2 = numerical_weight_grads(p.X, p.y, p.weights, "relu")
    assert dW2.dtype == p.dtype and dW2.shape == W2.shape, "dW2: dtype/shape of W2 expected"
    assert dW1.dtype == p.dtype and dW1.shape == W1.shape, "dW1: dtype/shape of W1 expected"
    assert close(dW2, n2, p.dtype), (
        f"dW2 disagrees with the numerical gradient ({likely_mistake(dW2, n2, p.X.shape[0])}); "
        + describe(dW2, n2)
    )
    assert close(dW1, n1, p.dtype), (
        f"dW1 disagrees with the numerical gradient "
        f"({_mask_hint(dW1, n1, p.X, p.y, W1, W2)}); {describe(dW1, n1)}"
    )


@pytest.mark.task_nn_gradients
def test_dead_hidden_units_get_zero_gradient():
    X = np.array([[1.0, 2.0], [0.5, 1.0]])
    W1 = np.array([[1.0, -1.0], [1.0, -1.0]])  # unit 1 is negative for every example
    W2 = np.array([[0.3, -0.2], [0.7, 0.1]])
    dW1, dW2 = nnlib.nn_gradients(X, np.array([0, 1]), W1, W2)
    np.testing.assert_array_equal(
        dW1[:, 1],
        0,
        err_msg=(
            "a hidden unit that is off (X W1 < 0) for every example must get zero gradient in W1: "
            "the ReLU mask 1[Z1 > 0] is missing or taken at the wrong place"
        ),
    )
    np.testing.assert_array_equal(
        dW2[1],
        0,
        err_msg=(
            "a dead hidden unit has A1 = 0, so its row of dW2 must be 0: use A1 = ReLU(X W1), "
            "not X W1, in dW2 = A1^T G2"
        ),
    )


# ----------------------------------------------------------------------------- epoch


@pytest.mark.task_nn_epoch
@FAST
@given(setting=epoch_settings(), dtype=float_dtypes, seed=seeds)
def test_epoch_equals_unrolled_loop_of_steps(setting, dtype, seed):
    n, batch, lr = setting
    rng = np.random.default_rng(seed)
    X, y, W1, W2 = _data(rng, n, 4, 5, 3, dtype)
    # A pre-activation near 0 could flip sign under float32 rounding: an ill-posed comparison.
    assume(min_abs_preactivation(X, [W1, W2]) > 1e-3)
    X0, y0 = X.copy(), y.copy()
    e1, e2 = unrolled_epoch(X, y, W1, W2, lr, batch)
    result = nnlib.nn_epoch(X, y, W1, W2, lr=lr, batch=batch)
    assert result is None, "nn_epoch updates W1 and W2 in place and returns None"
    assert W1.dtype == dtype and W2.dtype == dtype, "W1 and W2 must keep their dtype"
    np.testing.assert_array_equal(X, X0, err_msg="nn_epoch modified X")
    np.testing.assert_array_equal(y, y0, err_msg="nn_epoch modified y")
    hint = (
        f"(N={n}, batch={batch}, lr={lr}): minibatches in order, no shuffling, the last "
        "partial batch included, and both gradients of a step computed from the weights "
        "before that step (W2 must not be updated before dW1 is computed)"
    )
    assert close(W2, e2, dtype), f"W2 after one epoch is wrong {hint}; {describe(W2, e2)}"
    assert close(W1, e1, dtype), f"W1 after one epoch is wrong {hint}; {describe(W1, e1)}"


@pytest.mark.task_nn_epoch
def test_epoch_computes_both_gradients_before_updating(rng):
    X, y, W1, W2 = _data(rng, 6, 3, 4, 3, np.float64)
    e1, e2 = unrolled_epoch(X, y, W1, W2, 1.0, 6)  # one single step
    # The tempting bug: update W2 first, then backpropagate through the new W2.
    _, d2 = ref_grads(X, y, W1, W2)
    W2_new = W2 - d2
    Z1 = X @ W1
    S = np.exp(np.maximum(Z1, 0) @ W2)
    S /= S.sum(axis=1, keepdims=True)
    G2 = (S - np.eye(3)[y]) / 6
    wrong_W1 = W1 - X.T @ ((G2 @ W2_new.T) * (Z1 > 0))
    nnlib.nn_epoch(X, y, W1, W2, lr=1.0, batch=6)
    assert not np.allclose(W1, wrong_W1), (
        "dW1 was backpropagated through the already-updated W2: compute both gradients first"
    )
    np.testing.assert_allclose(W1, e1, rtol=1e-10)
    np.testing.assert_allclose(W2, e2, rtol=1e-10)


@pytest.mark.task_nn_epoch
def test_epoch_includes_the_last_partial_batch(rng):
    X, y, W1, W2 = _data(rng, 10, 3, 4, 3, np.float64)
    e1, e2 = unrolled_epoch(X, y, W1, W2, 0.5, 4)
    d1, d2 = unrolled_epoch(X[:8], y[:8], W1, W2, 0.5, 4)
    nnlib.nn_epoch(X, y, W1, W2, lr=0.5, batch=4)
    assert not (np.allclose(W1, d1) and np.allclose(W2, d2)), (
        "the last partial minibatch (examples 8 and 9 with batch=4) was dropped"
    )
    np.testing.assert_allclose(W1, e1, rtol=1e-10)
    np.testing.assert_allclose(W2, e2, rtol=1e-10)


@pytest.mark.task_nn_epoch
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_epoch_lowers_the_loss(dtype, rng):
    X = rng.standard_normal((80, 4)).astype(dtype)
    y = ((X[:, 0] * X[:, 1]) > 0).astype(np.int64)  # XOR-like: needs the hidden layer
    W1 = (rng.standard_normal((4, 16)) / 4).astype(dtype)
    W2 = (rng.standard_normal((16, 2)) / np.sqrt(2)).astype(dtype)
    before = ref_mlp_loss(X, y, [W1, W2])
    for _ in range(5):
        nnlib.nn_epoch(X, y, W1, W2, lr=0.2, batch=8)
    after = ref_mlp_loss(X, y, [W1, W2])
    assert W1.dtype == dtype and W2.dtype == dtype
    assert after < before, f"five epochs did not lower the loss ({before} -> {after}): sign?"


@pytest.mark.task_nn_epoch
def test_epoch_default_arguments(rng):
    X, y, W1, W2 = _data(rng, 130, 3, 4, 3, np.float64)
    e1, e2 = unrolled_epoch(X, y, W1, W2, 0.1, 100)
    nnlib.nn_epoch(X, y, W1, W2)
    np.testing.assert_allclose(W1, e1, rtol=1e-10, err_msg="defaults are lr=0.1, batch=100")
    np.testing.assert_allclose(W2, e2, rtol=1e-10, err_msg="defaults are lr=0.1, batch=100")


@pytest.mark.task_nn_epoch
@pytest.mark.parametrize("label_dtype", LABEL_DTYPES)
def test_epoch_accepts_every_integer_label_dtype(label_dtype, rng):
    X, y, W1, W2 = _data(rng, 7, 3, 4, 3, np.float64)
    e1, e2 = unrolled_epoch(X, y, W1, W2, 0.3, 3)
    nnlib.nn_epoch(X, y.astype(label_dtype), W1, W2, lr=0.3, batch=3)
    np.testing.assert_allclose(W1, e1, rtol=1e-10, err_msg=f"labels of dtype {label_dtype}")
    np.testing.assert_allclose(W2, e2, rtol=1e-10, err_msg=f"labels of dtype {label_dtype}")


@pytest.mark.task_nn_epoch
def test_epoch_on_non_contiguous_arrays(rng):
    X = rng.standard_normal((9, 8))[:, ::2]  # strided (9, 4)
    y = labels(rng, 9, 3)
    W1_0, W2_0 = rng.standard_normal((4, 5)) / 2, rng.standard_normal((5, 3)) / 2
    e1, e2 = unrolled_epoch(X, y, W1_0, W2_0, 0.5, 4)
    W1 = np.asfortranarray(W1_0)
    base = np.zeros((5, 6))
    base[:, ::2] = W2_0
    nnlib.nn_epoch(X, y, W1, base[:, ::2], lr=0.5, batch=4)
    np.testing.assert_allclose(W1, e1, rtol=1e-10, err_msg="a Fortran-ordered W1 must update")
    np.testing.assert_allclose(base[:, ::2], e2, rtol=1e-10, err_msg="a strided W2 must update")
    np.testing.assert_array_equal(base[:, 1::2], 0, err_msg="wrote outside the view of W2")
