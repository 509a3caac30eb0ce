"""Activations and their derivatives: dtype and shape, values against numpy/scipy, and each
derivative against central differences away from kinks."""

import warnings

import numpy as np
import pytest
import scipy.special
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from strategies import FAST, FLOAT_DTYPES, float_dtypes

import nnlib
from nnlib import numerical_gradient


@st.composite
def pre_activations(draw, bound=20.0):
    dtype = draw(float_dtypes)
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5))
    elements = st.floats(-bound, bound, allow_nan=False, width=32)
    return draw(hnp.arrays(dtype, shape, elements=elements))


# ----------------------------------------------------------------------------- relu


@pytest.mark.task_relu
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_relu_dtype_shape_values(dtype):
    Z = np.array([[-2.0, -0.0, 0.0, 0.5], [3.0, -1e-8, 1e-8, -7.0]], dtype=dtype)
    A = nnlib.relu(Z)
    assert isinstance(A, np.ndarray), "relu must return an ndarray"
    assert A.dtype == dtype, f"relu turned {dtype.__name__} into {A.dtype}: hidden upcast"
    assert A.shape == Z.shape, f"relu changed the shape {Z.shape} to {A.shape}"
    expected = np.array([[0, 0, 0, 0.5], [3.0, 0, 1e-8, 0]], dtype=dtype)
    np.testing.assert_array_equal(
        A, expected, err_msg="relu must be max(Z, 0): negatives to 0, positives unchanged"
    )


@pytest.mark.task_relu
@FAST
@given(Z=pre_activations())
def test_relu_property(Z):
    before = Z.copy()
    A = nnlib.relu(Z)
    assert A.dtype == Z.dtype and A.shape == Z.shape, "relu must keep dtype and shape"
    np.testing.assert_array_equal(Z, before, err_msg="relu modified its input in place")
    assert np.all(A >= 0), "relu output has negative entries: is it max(Z, 0)?"
    np.testing.assert_array_equal(
        A, np.where(Z > 0, Z, 0), err_msg="relu differs from np.where(Z > 0, Z, 0)"
    )


@pytest.mark.task_relu_grad
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_relu_grad_dtype_shape_values(dtype):
    Z = np.array([[-2.0, 0.0, 0.5], [3.0, -1e-8, 1e-8]], dtype=dtype)
    G = nnlib.relu_grad(Z)
    assert G.dtype == dtype, (
        f"relu_grad returned {G.dtype} for {dtype.__name__} input; a boolean mask must be "
        "cast back with .astype(Z.dtype)"
    )
    assert G.shape == Z.shape, f"relu_grad changed the shape {Z.shape} to {G.shape}"
    expected = np.array([[0, 0, 1], [1, 0, 1]], dtype=dtype)
    np.testing.assert_array_equal(
        G, expected, err_msg="relu_grad must be 1 where Z > 0 and 0 elsewhere (0 at Z == 0)"
    )


@pytest.mark.task_relu_grad
@FAST
@given(Z=pre_activations())
def test_relu_grad_matches_numerical_derivative(Z):
    assume(np.all(np.abs(Z.astype(np.float64)) > 1e-3))  # away from the kink at 0
    G = nnlib.relu_grad(Z)
    numeric = numerical_gradient(lambda z: float(np.maximum(z, 0).sum()), Z, eps=1e-5)
    np.testing.assert_allclose(
        G,
        numeric,
        atol=1e-6,
        err_msg="relu_grad is not the derivative of relu: it must be 1[Z > 0], taken at the "
        "pre-activation Z",
    )


# ----------------------------------------------------------------------------- sigmoid, tanh


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_sigmoid_matches_scipy_expit_without_overflow(dtype):
    Z = np.array([[-1e4, -50.0, -1.0, 0.0], [1.0, 50.0, 1e4, 3.0]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow in exp() would be a RuntimeWarning
        S = nnlib.sigmoid(Z)
    assert S.dtype == dtype, f"sigmoid turned {dtype.__name__} into {S.dtype}"
    assert S.shape == Z.shape
    assert np.all(np.isfinite(S)), "sigmoid of large |Z| gave inf/NaN: use exp(-|Z|)"
    np.testing.assert_allclose(S, scipy.special.expit(Z.astype(np.float64)), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_tanh_matches_numpy(dtype):
    Z = np.linspace(-30, 30, 13, dtype=dtype).reshape(13, 1)
    T = nnlib.tanh(Z)
    assert T.dtype == dtype and T.shape == Z.shape
    np.testing.assert_allclose(T, np.tanh(Z.astype(np.float64)), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["sigmoid", "tanh"])
@FAST
@given(Z=pre_activations(bound=8.0))
def test_smooth_activation_derivative_matches_numerical(name, Z):
    act = nnlib.get_activation(name)
    G = act.derivative(Z)
    assert G.dtype == Z.dtype, f"{name} derivative turned {Z.dtype} into {G.dtype}"
    assert G.shape == Z.shape
    reference = {"sigmoid": scipy.special.expit, "tanh": np.tanh}[name]
    numeric = numerical_gradient(lambda z: float(reference(z).sum()), Z, eps=1e-5)
    atol = 1e-6 if Z.dtype == np.float32 else 1e-9
    np.testing.assert_allclose(
        G,
        numeric,
        atol=atol,
        rtol=1e-5,
        err_msg=f"{name} derivative differs from the numerical one; it takes the "
        "pre-activation Z, not the activation sigma(Z)",
    )


# ----------------------------------------------------------------------------- lookup table


def test_activation_table():
    assert set(nnlib.ACTIVATIONS) == {"relu", "sigmoid", "tanh"}
    for name, act in nnlib.ACTIVATIONS.items():
        assert isinstance(act, nnlib.Activation)
        assert act.name == name
        assert nnlib.get_activation(name) is act
    assert nnlib.get_activation("relu").forward is nnlib.relu
    assert nnlib.get_activation("relu").derivative is nnlib.relu_grad


def test_unknown_activation_names_the_choices():
    with pytest.raises(ValueError, match=r"unknown activation 'softplus'.*relu.*sigmoid.*tanh"):
        nnlib.get_activation("softplus")
