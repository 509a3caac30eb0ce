"""Feature maps: the radial feature that separates rings, and random ReLU features."""

import numpy as np
import pytest
from hypothesis import given
from strategies import FAST, FLOAT_DTYPES, float_dtypes, input_dims, seeds

import nnlib


@pytest.mark.task_radial_features
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_radial_features_dtype_shape_values(dtype):
    X = np.array([[3.0, 4.0], [0.0, 0.0], [-1.0, 2.0]], dtype=dtype)
    before = X.copy()
    Phi = nnlib.radial_features(X)
    assert Phi.dtype == dtype, f"radial_features turned {dtype.__name__} into {Phi.dtype}"
    assert Phi.shape == (3, 3), f"radial_features must return (N, 3), got {Phi.shape}"
    np.testing.assert_array_equal(X, before, err_msg="radial_features modified X")
    np.testing.assert_array_equal(
        Phi[:, :2], X, err_msg="the first two columns must be x and y unchanged"
    )
    np.testing.assert_allclose(
        Phi[:, 2],
        [25.0, 0.0, 5.0],
        err_msg="the third column is the squared radius x^2 + y^2 (not the radius, not x*y)",
    )


@pytest.mark.task_radial_features
@FAST
@given(dtype=float_dtypes, seed=seeds)
def test_radial_features_property(dtype, seed):
    X = np.random.default_rng(seed).standard_normal((7, 2)).astype(dtype)
    Phi = nnlib.radial_features(X)
    assert Phi.dtype == dtype and Phi.shape == (7, 3)
    Xd = X.astype(np.float64)
    np.testing.assert_allclose(Phi[:, 2], (Xd**2).sum(axis=1), rtol=1e-6)


@pytest.mark.task_radial_features
def test_radial_feature_separates_the_rings():
    X, y = nnlib.make_circles(400, np.random.default_rng(0), noise=0.05, factor=0.5)
    r2 = nnlib.radial_features(X)[:, 2]
    assert r2[y == 1].max() < r2[y == 0].min(), (
        "with the squared radius as a third feature, the inner ring (class 1) must lie below "
        "a threshold that the outer ring (class 0) lies above"
    )


@pytest.mark.task_random_relu_features
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_random_relu_features_dtype_shape_values(dtype, rng):
    X = rng.standard_normal((5, 3)).astype(dtype)
    W = rng.standard_normal((3, 8)).astype(dtype)
    Phi = nnlib.random_relu_features(X, W)
    assert Phi.dtype == dtype, f"random_relu_features turned {dtype.__name__} into {Phi.dtype}"
    assert Phi.shape == (5, 8), f"random_relu_features must be (N, H) = (5, 8), got {Phi.shape}"
    assert np.all(Phi >= 0), "random ReLU features are max(X W, 0): never negative"
    expected = np.maximum(X.astype(np.float64) @ W.astype(np.float64), 0)
    np.testing.assert_allclose(
        Phi,
        expected,
        rtol=1e-5,
        atol=1e-6,
        err_msg="random_relu_features must be max(X W, 0) (X times W, not W times X)",
    )


@pytest.mark.task_random_relu_features
@FAST
@given(dtype=float_dtypes, seed=seeds, d=input_dims)
def test_random_relu_features_property(dtype, seed, d):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((4, d)).astype(dtype)
    W = nnlib.random_projection(d, 6, rng, dtype=dtype)
    Phi = nnlib.random_relu_features(X, W)
    assert Phi.dtype == dtype and Phi.shape == (4, 6)
    np.testing.assert_allclose(
        Phi, np.maximum(X.astype(np.float64) @ W.astype(np.float64), 0), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_random_projection(dtype):
    W = nnlib.random_projection(4, 50, np.random.default_rng(3), dtype=dtype)
    assert W.dtype == dtype and W.shape == (4, 50)
    again = nnlib.random_projection(4, 50, np.random.default_rng(3), dtype=dtype)
    np.testing.assert_array_equal(W, again, err_msg="same rng, same projection")
    assert nnlib.random_projection(2, 3, np.random.default_rng(0)).dtype == np.float32
    assert 0.7 < np.std(W) < 1.3, "entries are standard normal"
