"""The L-layer network: initializer, forward pass with its cache, backward pass, epoch.

``mlp_backward`` is tested on caches built here by hand (not by ``mlp_forward``), so that each
task's tests depend on that task alone; its results are compared with central differences of
a forward pass written with numpy/scipy.
"""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from strategies import (
    ACTIVATION_NAMES,
    FEW,
    FLOAT_DTYPES,
    LABEL_DTYPES,
    activations,
    close,
    describe,
    epoch_settings,
    float_dtypes,
    labels,
    likely_mistake,
    min_abs_preactivation,
    numerical_weight_grads,
    problems,
    ref_forward,
    ref_loss_grad,
    ref_mlp_loss,
    ref_sgd_epoch,
    ref_weight_grads,
    seeds,
)

import nnlib
from nnlib import MLPCache


def hand_cache(X, weights, activation):
    """The cache mlp_forward should build, computed with numpy in the weights' dtype."""
    _, inputs, pre = ref_forward(X, weights, activation)
    dtype = X.dtype
    return MLPCache(
        [X] + [Z.astype(dtype) for Z in inputs[1:]], [U.astype(dtype) for U in pre], activation
    )


def numerical_vjp(X, weights, activation, G):
    """Central differences of sum(G * logits(weights)) for every weight matrix, in float64."""
    Ws = [W.astype(np.float64) for W in weights]
    Gd = G.astype(np.float64)
    out = []
    for W in Ws:
        grad = np.zeros_like(W)
        for idx in np.ndindex(W.shape):
            saved = W[idx]
            W[idx] = saved + 1e-6
            plus = float(np.sum(Gd * ref_forward(X, Ws, activation)[0]))
            W[idx] = saved - 1e-6
            minus = float(np.sum(Gd * ref_forward(X, Ws, activation)[0]))
            W[idx] = saved
            grad[idx] = (plus - minus) / 2e-6
        out.append(grad)
    return out


def unrolled_epoch(X, y, weights, lr, batch, activation):
    """The epoch written out in float64: all gradients of a step from the weights before it."""
    return ref_sgd_epoch(X, y, weights, lr, batch, activation)


# ----------------------------------------------------------------------------- the reference


@FEW
@given(p=problems(), activation=activations)
def test_reference_backprop_of_these_tests_is_right(p, activation):
    """The float64 backprop in tests/strategies.py agrees with central differences."""
    if activation == "relu":
        assume(min_abs_preactivation(p.X, p.weights) > 1e-4)
    analytic = ref_weight_grads(p.X, p.y, p.weights, activation)
    numeric = numerical_weight_grads(p.X, p.y, p.weights, activation)
    for a, n in zip(analytic, numeric, strict=True):
        assert close(a, n, np.float64), describe(a, n)


# ----------------------------------------------------------------------------- init_mlp


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_init_mlp_shapes_dtype_and_scale(dtype):
    weights = nnlib.init_mlp([400, 300, 10], np.random.default_rng(0), dtype=dtype)
    assert isinstance(weights, list) and len(weights) == 2, "one matrix per pair of layers"
    assert [W.shape for W in weights] == [(400, 300), (300, 10)]
    assert all(W.dtype == dtype for W in weights)
    for W, d_in in zip(weights, (400, 300), strict=True):
        assert np.std(W) == pytest.approx(np.sqrt(2 / d_in), rel=0.05), "He scaling N(0, 2/d_in)"
        assert abs(np.mean(W)) < 0.01


def test_init_mlp_default_dtype_and_determinism():
    a = nnlib.init_mlp([5, 4, 3, 2], np.random.default_rng(7))
    b = nnlib.init_mlp([5, 4, 3, 2], np.random.default_rng(7))
    c = nnlib.init_mlp([5, 4, 3, 2], np.random.default_rng(8))
    assert all(W.dtype == np.float32 for W in a), "init_mlp defaults to float32"
    assert all(np.array_equal(u, v) for u, v in zip(a, b, strict=True)), "same rng, same weights"
    assert not np.array_equal(a[0], c[0]), "a different rng must give different weights"


# ----------------------------------------------------------------------------- forward


@pytest.mark.task_mlp_forward
@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_forward_dtype_shapes_cache(dtype, activation, rng):
    X = rng.standard_normal((6, 5)).astype(dtype)
    weights = nnlib.init_mlp([5, 4, 3, 2], rng, dtype=dtype)
    before = [W.copy() for W in weights]
    result = nnlib.mlp_forward(X, weights, activation)
    assert isinstance(result, tuple) and len(result) == 2, "mlp_forward returns (logits, cache)"
    logits, cache = result
    assert logits.dtype == dtype, f"logits must be {dtype.__name__}, got {logits.dtype}"
    assert logits.shape == (6, 2), f"logits must have shape (N, C) = (6, 2), got {logits.shape}"
    assert isinstance(cache, MLPCache), "the cache must be an MLPCache"
    assert cache.activation == activation
    assert len(cache.inputs) == 3, (
        "cache.inputs must hold Z_1 = X and the L - 1 = 2 hidden outputs Z_2, Z_3, "
        f"got {len(cache.inputs)}"
    )
    assert len(cache.preactivations) == 2, (
        "cache.preactivations must hold the 2 hidden pre-activations U_i = Z_i W_i "
        "(none for the last, linear layer)"
    )
    assert cache.inputs[0] is X or np.array_equal(cache.inputs[0], X), "cache.inputs[0] is X"
    assert [Z.shape for Z in cache.inputs] == [(6, 5), (6, 4), (6, 3)]
    assert [U.shape for U in cache.preactivations] == [(6, 4), (6, 3)]
    assert all(Z.dtype == dtype for Z in [*cache.inputs, *cache.preactivations]), (
        "cached arrays must keep the input dtype"
    )
    for W, W0 in zip(weights, before, strict=True):
        np.testing.assert_array_equal(W, W0, err_msg="mlp_forward modified the weights")
    expected, inputs, pre = ref_forward(X, weights, activation)
    assert close(logits, expected, dtype), (
        f"logits differ from Z_{{L+1}} = sigma(...sigma(X W_1)...) W_L with {activation} on "
        "the hidden layers only (the last layer is linear): " + describe(logits, expected)
    )
    for i, (Z, U) in enumerate(zip(inputs[1:], pre, strict=True)):
        assert close(cache.preactivations[i], U, dtype), (
            f"cache.preactivations[{i}] must be Z_{i} W_{i} (before the activation)"
        )
        assert close(cache.inputs[i + 1], Z, dtype), (
            f"cache.inputs[{i + 1}] must be sigma(Z_{i} W_{i}) (after the activation)"
        )


@pytest.mark.task_mlp_forward
@FEW
@given(p=problems(), activation=activations)
def test_forward_matches_reference(p, activation):
    logits, cache = nnlib.mlp_forward(p.X, p.weights, activation)
    expected = ref_forward(p.X, p.weights, activation)[0]
    assert logits.dtype == p.dtype and logits.shape == expected.shape
    assert len(cache.inputs) == len(p.weights) and len(cache.preactivations) == len(p.weights) - 1
    assert close(logits, expected, p.dtype), describe(logits, expected)


@pytest.mark.task_mlp_forward
def test_forward_with_one_layer_is_linear(rng):
    X = rng.standard_normal((4, 3))
    W = rng.standard_normal((3, 2))
    logits, cache = nnlib.mlp_forward(X, [W], "sigmoid")
    np.testing.assert_allclose(
        logits,
        X @ W,
        rtol=1e-12,
        err_msg=("with one weight matrix the network is X W: no activation on the last layer"),
    )
    assert len(cache.inputs) == 1 and cache.preactivations == []


# ----------------------------------------------------------------------------- backward


@pytest.mark.task_mlp_backward
@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_backward_dtype_shapes_values(dtype, activation, rng):
    X = rng.standard_normal((5, 4)).astype(dtype)
    y = labels(rng, 5, 3)
    weights = nnlib.init_mlp([4, 6, 5, 3], rng, dtype=dtype)
    cache = hand_cache(X, weights, activation)
    dlogits = ref_loss_grad(ref_forward(X, weights, activation)[0], y).astype(dtype)
    grads = nnlib.mlp_backward(dlogits, cache, weights)
    assert isinstance(grads, list) and len(grads) == 3, "one gradient per weight matrix, a list"
    for i, (g, W) in enumerate(zip(grads, weights, strict=True)):
        assert g.shape == W.shape, (
            f"grads[{i}] must have the shape of weights[{i}] {W.shape}, got {g.shape}"
            + (" (transposed: Z_i^T G, not G^T Z_i)" if g.shape == W.shape[::-1] else "")
        )
        assert g.dtype == dtype, f"grads[{i}] is {g.dtype}, expected {dtype.__name__}"
    expected = ref_weight_grads(X, y, weights, activation)
    for i in range(2, -1, -1):
        assert close(grads[i], expected[i], dtype), (
            f"grads[{i}] is wrong ({likely_mistake(grads[i], expected[i])}); "
            "dW_i = Z_i^T (G_{i+1} * sigma'(Z_i W_i)) with sigma' taken at the cached "
            "pre-activation (not at the activation), and no sigma' on the last layer: "
            + describe(grads[i], expected[i])
        )


@pytest.mark.task_mlp_backward
@FEW
@given(p=problems(), activation=activations, seed=seeds)
def test_backward_is_the_vector_jacobian_product(p, activation, seed):
    """grads = d/dW sum(G * logits(W)) for any G, checked by central differences."""
    if activation == "relu":
        assume(min_abs_preactivation(p.X, p.weights) > 1e-4)
    G = np.random.default_rng(seed).standard_normal((p.X.shape[0], p.weights[-1].shape[1]))
    G = G.astype(p.dtype)
    grads = nnlib.mlp_backward(G, hand_cache(p.X, p.weights, activation), p.weights)
    numeric = numerical_vjp(p.X, p.weights, activation, G)
    for i, (g, n) in enumerate(zip(grads, numeric, strict=True)):
        assert g.dtype == p.dtype and g.shape == n.shape, f"grads[{i}]: dtype/shape of W_{i}"
        assert close(g, n, p.dtype), (
            f"grads[{i}] ({activation}, {len(p.weights)} layers) disagrees with the numerical "
            f"vector-Jacobian product: {describe(g, n)}"
        )


@pytest.mark.task_mlp_forward
@pytest.mark.task_mlp_backward
@pytest.mark.task_softmax_loss_grad  # mlp_gradients = mlp_backward(softmax_loss_grad(...))
@FEW
@given(p=problems(), activation=activations)
def test_mlp_gradients_match_numerical_gradients(p, activation):
    if activation == "relu":
        assume(min_abs_preactivation(p.X, p.weights) > 1e-4)
    grads = nnlib.mlp_gradients(p.X, p.y, p.weights, activation)
    numeric = numerical_weight_grads(p.X, p.y, p.weights, activation)
    assert len(grads) == len(p.weights)
    for i, (g, n) in enumerate(zip(grads, numeric, strict=True)):
        assert g.dtype == p.dtype and g.shape == n.shape, f"grads[{i}]: dtype/shape of W_{i}"
        assert close(g, n, p.dtype), (
            f"mlp_gradients[{i}] ({activation}, {len(p.weights)} layers) disagrees with the "
            f"numerical gradient of the mean cross-entropy "
            f"({likely_mistake(g, n, p.X.shape[0])}): {describe(g, n)}"
        )


# ----------------------------------------------------------------------------- epoch


@pytest.mark.task_mlp_epoch
@FEW
@given(
    setting=epoch_settings(),
    dtype=float_dtypes,
    seed=seeds,
    activation=activations,
    depth=st.integers(1, 3),
)
def test_epoch_equals_unrolled_loop_of_steps(setting, dtype, seed, activation, depth):
    n, batch, lr = setting
    rng = np.random.default_rng(seed)
    sizes = [3, *([4] * (depth - 1)), 3]
    X = rng.standard_normal((n, 3)).astype(dtype)
    y = labels(rng, n, 3)
    weights = nnlib.init_mlp(sizes, rng, dtype=dtype)
    if activation == "relu":
        assume(min_abs_preactivation(X, weights) > 1e-3)
    arrays = list(weights)
    expected = unrolled_epoch(X, y, weights, lr, batch, activation)
    result = nnlib.mlp_epoch(X, y, weights, lr=lr, batch=batch, activation=activation)
    assert result is None, "mlp_epoch updates the weights in place and returns None"
    assert all(a is b for a, b in zip(weights, arrays, strict=True)) and len(weights) == depth, (
        "mlp_epoch must update the arrays in the list in place (W -= ...), not replace them"
    )
    for i, (W, E) in enumerate(zip(weights, expected, strict=True)):
        assert W.dtype == dtype, f"weights[{i}] changed dtype to {W.dtype}"
        assert close(W, E, dtype), (
            f"weights[{i}] after one epoch (N={n}, batch={batch}, lr={lr}, {activation}) "
            "differ from the loop of steps: minibatches in order, no shuffling, the last "
            "partial batch included, all gradients of a step computed before any update; "
            + describe(W, E)
        )


@pytest.mark.task_mlp_epoch
def test_epoch_in_place_with_defaults(rng):
    X = rng.standard_normal((120, 4))
    y = labels(rng, 120, 3)
    weights = nnlib.init_mlp([4, 5, 3], rng, dtype=np.float64)
    ids = [id(W) for W in weights]
    expected = unrolled_epoch(X, y, weights, 0.1, 100, "relu")
    nnlib.mlp_epoch(X, y, weights)
    assert [id(W) for W in weights] == ids, "the weight arrays must be updated in place"
    for W, E in zip(weights, expected, strict=True):
        np.testing.assert_allclose(
            W, E, rtol=1e-9, err_msg=("defaults are lr=0.1, batch=100, activation='relu'")
        )


@pytest.mark.task_mlp_epoch
@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_epoch_lowers_the_loss(activation, rng):
    X = rng.standard_normal((64, 3)).astype(np.float32)
    y = ((X[:, 0] * X[:, 1]) > 0).astype(np.int64)
    weights = nnlib.init_mlp([3, 16, 16, 2], rng)
    before = ref_mlp_loss(X, y, weights, activation)
    for _ in range(5):
        nnlib.mlp_epoch(X, y, weights, lr=0.1, batch=8, activation=activation)
    after = ref_mlp_loss(X, y, weights, activation)
    assert all(W.dtype == np.float32 for W in weights), "float32 weights must stay float32"
    assert after < before, f"five epochs did not lower the loss ({before} -> {after}): sign?"


@pytest.mark.task_mlp_epoch
@pytest.mark.parametrize("label_dtype", LABEL_DTYPES)
def test_epoch_accepts_every_integer_label_dtype(label_dtype, rng):
    X = rng.standard_normal((7, 3))
    y = labels(rng, 7, 3)
    weights = nnlib.init_mlp([3, 4, 3], rng, dtype=np.float64)
    expected = unrolled_epoch(X, y, weights, 0.3, 3, "relu")
    nnlib.mlp_epoch(X, y.astype(label_dtype), weights, lr=0.3, batch=3)
    for W, E in zip(weights, expected, strict=True):
        np.testing.assert_allclose(W, E, rtol=1e-10, err_msg=f"labels of dtype {label_dtype}")


@pytest.mark.task_mlp_epoch
@pytest.mark.parametrize("activation", ACTIVATION_NAMES)
def test_epoch_on_non_contiguous_arrays(activation, rng):
    X = rng.standard_normal((9, 8))[:, ::2]  # strided (9, 4)
    y = labels(rng, 9, 3)
    W0 = [rng.standard_normal(s) / 2 for s in ((4, 5), (5, 4), (4, 3))]
    expected = unrolled_epoch(X, y, W0, 0.5, 4, activation)
    base = np.zeros((5, 8))
    base[:, ::2] = W0[1]
    weights = [np.asfortranarray(W0[0]), base[:, ::2], W0[2].copy()]
    nnlib.mlp_epoch(X, y, weights, lr=0.5, batch=4, activation=activation)
    for i, (W, E) in enumerate(zip(weights, expected, strict=True)):
        np.testing.assert_allclose(
            W,
            E,
            rtol=1e-9,
            err_msg=(f"weights[{i}] (Fortran-ordered, strided or plain) must be updated in place"),
        )
    np.testing.assert_array_equal(base[:, 1::2], 0, err_msg="wrote outside the view")


@pytest.mark.task_mlp_epoch
def test_epoch_with_batch_larger_than_n(rng):
    X = rng.standard_normal((3, 2)).astype(np.float32)
    y = labels(rng, 3, 2)
    weights = nnlib.init_mlp([2, 3, 2], rng)
    expected = unrolled_epoch(X, y, weights, 0.1, 100, "tanh")
    nnlib.mlp_epoch(X, y, weights, lr=0.1, batch=100, activation="tanh")
    for W, E in zip(weights, expected, strict=True):
        assert W.dtype == np.float32 and close(W, E, np.float32), describe(W, E)
