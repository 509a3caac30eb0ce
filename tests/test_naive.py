"""Loop-over-examples twins: each equals its vectorized form and the independent reference.

A twin-versus-vectorized test exercises two tasks, so it carries both markers.
"""

import numpy as np
import pytest
from hypothesis import assume, given
from strategies import (
    ACTIVATION_NAMES,
    FAST,
    FEW,
    FLOAT_DTYPES,
    activations,
    close,
    describe,
    labels,
    likely_mistake,
    logits_and_labels,
    min_abs_preactivation,
    problems,
    ref_loss_grad,
    ref_weight_grads,
)

import nnlib


def _assert_twin(naive, fast, dtype, what):
    assert naive.dtype == fast.dtype == dtype, (
        f"{what}: naive twin is {naive.dtype}, vectorized {fast.dtype}, input {np.dtype(dtype)}"
    )
    assert naive.shape == fast.shape, f"{what}: shapes {naive.shape} and {fast.shape} differ"
    assert close(naive, fast, dtype), (
        f"{what}: the naive twin and the vectorized form disagree: {describe(naive, fast)}"
    )


# ----------------------------------------------------------------------------- softmax loss grad


@pytest.mark.task_softmax_loss_grad_naive
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_softmax_loss_grad_naive_dtype_shape_values(dtype, rng):
    Z = rng.standard_normal((5, 4)).astype(dtype)
    y = labels(rng, 5, 4)
    G = nnlib.softmax_loss_grad_naive(Z, y)
    assert G.dtype == dtype, f"softmax_loss_grad_naive turned {dtype.__name__} into {G.dtype}"
    assert G.shape == Z.shape, f"softmax_loss_grad_naive must have Z's shape {Z.shape}"
    expected = ref_loss_grad(Z, y)
    assert close(G, expected, dtype), (
        f"row i must be (softmax(z_i) - e_{{y_i}}) / N: {likely_mistake(G, expected, 5)}; "
        + describe(G, expected)
    )


@pytest.mark.task_softmax_loss_grad_naive
@pytest.mark.task_softmax_loss_grad
@FAST
@given(Zy=logits_and_labels(bound=30.0))
def test_softmax_loss_grad_twins_agree(Zy):
    Z, y = Zy
    _assert_twin(
        nnlib.softmax_loss_grad_naive(Z, y),
        nnlib.softmax_loss_grad(Z, y),
        Z.dtype,
        "softmax_loss_grad",
    )


# ----------------------------------------------------------------------------- softmax regression


@pytest.mark.task_softmax_regression_grad_naive
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_softmax_regression_grad_naive_values(dtype, rng):
    X = rng.standard_normal((6, 3)).astype(dtype)
    y = labels(rng, 6, 4)
    theta = rng.standard_normal((3, 4)).astype(dtype)
    G = nnlib.softmax_regression_grad_naive(X, y, theta)
    assert G.dtype == dtype and G.shape == theta.shape, "dtype and shape of theta expected"
    expected = ref_weight_grads(X, y, [theta])[0]
    assert close(G, expected, dtype), (
        f"the mean of x_i (s_i - e_{{y_i}})^T over examples: {likely_mistake(G, expected, 6)}; "
        + describe(G, expected)
    )


@pytest.mark.task_softmax_regression_grad_naive
@pytest.mark.task_softmax_regression_grad
@FAST
@given(p=problems(n_layers=1, scale=3.0))
def test_softmax_regression_grad_twins_agree(p):
    (theta,) = p.weights
    _assert_twin(
        nnlib.softmax_regression_grad_naive(p.X, p.y, theta),
        nnlib.softmax_regression_grad(p.X, p.y, theta),
        p.dtype,
        "softmax_regression_grad",
    )


# ----------------------------------------------------------------------------- two-layer


@pytest.mark.task_nn_gradients_naive
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_nn_gradients_naive_values(dtype, rng):
    X = rng.standard_normal((6, 4)).astype(dtype)
    y = labels(rng, 6, 3)
    W1 = rng.standard_normal((4, 5)).astype(dtype)
    W2 = rng.standard_normal((5, 3)).astype(dtype)
    result = nnlib.nn_gradients_naive(X, y, W1, W2)
    assert isinstance(result, tuple) and len(result) == 2, "returns (dW1, dW2)"
    expected = ref_weight_grads(X, y, [W1, W2], "relu")
    for name, g, e in zip(("dW1", "dW2"), result, expected, strict=True):
        assert g.dtype == dtype and g.shape == e.shape, f"{name}: dtype {dtype}, shape {e.shape}"
        assert close(g, e, dtype), (
            f"{name} is wrong ({likely_mistake(g, e, 6)}); per example, dW2 += outer(a1, g2) "
            f"and dW1 += outer(x, (W2 g2) * 1[z1 > 0]) (the ReLU mask at z1 = x W1): "
            + describe(g, e)
        )


@pytest.mark.task_nn_gradients_naive
@pytest.mark.task_nn_gradients
@FAST
@given(p=problems(n_layers=2, scale=2.0))
def test_nn_gradients_twins_agree(p):
    assume(min_abs_preactivation(p.X, p.weights) > 1e-4)
    W1, W2 = p.weights
    naive = nnlib.nn_gradients_naive(p.X, p.y, W1, W2)
    fast = nnlib.nn_gradients(p.X, p.y, W1, W2)
    for name, a, b in zip(("dW1", "dW2"), naive, fast, strict=True):
        _assert_twin(a, b, p.dtype, f"nn_gradients {name}")


# ----------------------------------------------------------------------------- L layers


@pytest.mark.task_mlp_gradients_naive
@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_mlp_gradients_naive_values(dtype, activation, rng):
    X = rng.standard_normal((5, 4)).astype(dtype)
    y = labels(rng, 5, 3)
    weights = nnlib.init_mlp([4, 6, 5, 3], rng, dtype=dtype)
    grads = nnlib.mlp_gradients_naive(X, y, weights, activation)
    expected = ref_weight_grads(X, y, weights, activation)
    assert isinstance(grads, list) and len(grads) == 3, "one gradient per weight matrix, a list"
    for i, (g, e) in enumerate(zip(grads, expected, strict=True)):
        assert g.dtype == dtype and g.shape == e.shape, f"grads[{i}]: dtype/shape of W_{i}"
        assert close(g, e, dtype), (
            f"grads[{i}] ({activation}) is wrong ({likely_mistake(g, e, 5)}): {describe(g, e)}"
        )


@pytest.mark.task_mlp_gradients_naive
@pytest.mark.task_mlp_forward
@pytest.mark.task_mlp_backward
@pytest.mark.task_softmax_loss_grad  # mlp_gradients = mlp_backward(softmax_loss_grad(...))
@FEW
@given(p=problems(), activation=activations)
def test_mlp_gradients_twins_agree(p, activation):
    if activation == "relu":
        assume(min_abs_preactivation(p.X, p.weights) > 1e-4)
    naive = nnlib.mlp_gradients_naive(p.X, p.y, p.weights, activation)
    fast = nnlib.mlp_gradients(p.X, p.y, p.weights, activation)
    assert len(naive) == len(fast) == len(p.weights)
    for i, (a, b) in enumerate(zip(naive, fast, strict=True)):
        _assert_twin(a, b, p.dtype, f"mlp_gradients[{i}] ({activation})")


@pytest.mark.task_mlp_gradients_naive
@pytest.mark.task_nn_gradients_naive
def test_two_layer_relu_mlp_naive_equals_nn_naive(rng):
    """The L-layer twin with L = 2 and ReLU is the two-layer twin."""
    X = rng.standard_normal((4, 3))
    y = labels(rng, 4, 2)
    W1, W2 = rng.standard_normal((3, 5)), rng.standard_normal((5, 2))
    for a, b in zip(
        nnlib.mlp_gradients_naive(X, y, [W1, W2]),
        nnlib.nn_gradients_naive(X, y, W1, W2),
        strict=True,
    ):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)
