"""Initialization: He for ReLU, Xavier for tanh and the sigmoid, and what each scaling preserves."""

import numpy as np
import pytest

import nnlib


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_shapes_dtype_and_the_scale_of_each_rule(dtype):
    sizes = [400, 300, 200]
    for activation, variance in (
        ("relu", lambda d_in, d_out: 2 / d_in),
        ("tanh", lambda d_in, d_out: 2 / (d_in + d_out)),
        ("sigmoid", lambda d_in, d_out: 2 / (d_in + d_out)),
    ):
        weights = nnlib.init_weights(sizes, np.random.default_rng(0), activation, dtype=dtype)
        assert [W.shape for W in weights] == [(400, 300), (300, 200)]
        assert all(W.dtype == dtype for W in weights)
        for W, (d_in, d_out) in zip(weights, [(400, 300), (300, 200)], strict=True):
            assert W.var() == pytest.approx(variance(d_in, d_out), rel=0.03), (
                f"{activation}: variance {W.var():.3g} for a ({d_in}, {d_out}) layer"
            )
            assert abs(W.mean()) < 0.01, "zero-mean weights"


def test_relu_rule_is_init_mlp_draw_for_draw():
    a = nnlib.init_weights([5, 4, 3, 2], np.random.default_rng(7), "relu")
    b = nnlib.init_mlp([5, 4, 3, 2], np.random.default_rng(7))
    for W, V in zip(a, b, strict=True):
        np.testing.assert_array_equal(W, V)


def test_he_keeps_relu_activations_in_scale_through_depth():
    """The reason for the factor 2: through 20 ReLU layers the mean square stays put with He,
    and halves at every layer with the variance 1/d_in that suits an activation of slope 1."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((500, 256))
    Z = X
    for W in nnlib.init_weights([256] * 21, rng, "relu", dtype=np.float64):
        Z = np.maximum(Z @ W, 0)
    assert 0.2 < np.mean(Z**2) / np.mean(X**2) < 5, "He scaling should neither explode nor vanish"
    Z = X
    for W in nnlib.init_weights([256] * 21, rng, "tanh", dtype=np.float64):  # Xavier: 1/256 here
        Z = np.maximum(Z @ W, 0)
    assert np.mean(Z**2) / np.mean(X**2) < 1e-4, "without the factor 2, ReLU activations vanish"


def test_bad_arguments_are_named():
    rng = np.random.default_rng()
    with pytest.raises(ValueError, match="activation must be one of relu, tanh, sigmoid"):
        nnlib.init_weights([3, 2], rng, "softplus")
    with pytest.raises(ValueError, match="at least"):
        nnlib.init_weights([3], rng)
    with pytest.raises(TypeError, match="Generator"):
        nnlib.init_weights([3, 2], 0)
    # integer weights were returned before: every entry of N(0, small) rounded to 0
    for init in (nnlib.init_weights, nnlib.init_mlp):
        with pytest.raises(TypeError, match=r"dtype must be a float dtype .*got int32"):
            init([3, 2], rng, dtype=np.int32)
    with pytest.raises(TypeError, match=r"dtype must be a float dtype .*got int64"):
        nnlib.random_projection(3, 2, rng, dtype=int)
    with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator, got int"):
        nnlib.random_projection(3, 2, 0)
    for std in (nnlib.he_std, nnlib.xavier_std):  # ZeroDivisionError before
        with pytest.raises(ValueError, match="d_in must be a positive integer, got 0"):
            std(0, 3)
    assert set(nnlib.INIT_FOR_ACTIVATION) == set(nnlib.ACTIVATIONS), (
        "every activation needs an initialization rule"
    )
