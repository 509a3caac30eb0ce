"""Numerical gradients, relative error and the gradient checker, on functions whose gradient
is known in closed form."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from strategies import FAST, FLOAT_DTYPES, float_dtypes

import nnlib
from nnlib import GradientCheck, check_gradient, numerical_gradient, relative_error


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_numerical_gradient_dtype_shape_and_copy(dtype):
    x = np.arange(6, dtype=dtype).reshape(2, 3)
    before = x.copy()
    seen = []

    def f(z):
        seen.append(z.dtype)
        return float(np.sum(z**2))

    g = numerical_gradient(f, x)
    assert g.dtype == np.float64, "the numerical gradient is always float64"
    assert g.shape == x.shape
    assert set(seen) == {np.dtype(np.float64)}, "f must be evaluated on float64 copies"
    assert len(seen) == 2 * x.size, "central differences call f twice per entry"
    np.testing.assert_array_equal(x, before, err_msg="numerical_gradient modified x")
    np.testing.assert_allclose(g, 2 * x.astype(np.float64), atol=1e-8)


@FAST
@given(
    x=hnp.arrays(
        st.sampled_from((np.float32, np.float64)),
        hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
        elements=st.floats(-3, 3, width=32),
    )
)
def test_numerical_gradient_of_known_functions(x):
    # f(x) = sum(sin(x) * c) + (sum x)^2 has gradient c cos(x) + 2 sum(x).
    c = np.linspace(-1, 1, x.size).reshape(x.shape)
    g = numerical_gradient(lambda z: float(np.sum(np.sin(z) * c) + np.sum(z) ** 2), x)
    xd = x.astype(np.float64)
    np.testing.assert_allclose(g, c * np.cos(xd) + 2 * np.sum(xd), atol=1e-5)


def test_numerical_gradient_says_what_f_returned():
    x = np.ones(3)
    with pytest.raises(TypeError, match=r"f must return one number .*array of shape \(3,\)"):
        numerical_gradient(lambda z: z**2, x)  # forgot the sum
    with pytest.raises(TypeError, match=r"f must return one number .*returned NoneType"):
        numerical_gradient(lambda z: None, x)  # forgot the return
    g = numerical_gradient(lambda z: np.array([np.sum(z**2)]), x)  # one entry is one number
    np.testing.assert_allclose(g, 2 * x, rtol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "error", "says"),
    [
        ({"eps": 0}, ValueError, "eps must be a positive finite number, got 0"),
        ({"eps": "1e-5"}, TypeError, "eps must be a positive real number, got '1e-5'"),
        ({"tol": -1}, ValueError, "tol must be a positive finite number, got -1"),
        ({"n_worst": -1}, ValueError, "n_worst must be a non-negative integer, got -1"),
        ({"analytic": None}, TypeError, "analytic must hold real numbers .*got dtype object"),
    ],
)
def test_check_gradient_names_a_bad_argument(kwargs, error, says):
    x = np.ones(3)
    args = {"f": lambda z: float(np.sum(z**2)), "x": x, "analytic": 2 * x, **kwargs}
    with pytest.raises(error, match=says):
        check_gradient(**args)


def test_numerical_gradient_rejects_integer_input():
    with pytest.raises(TypeError, match="x must be a floating ndarray"):
        numerical_gradient(lambda z: 0.0, np.arange(3))
    with pytest.raises(TypeError, match="x must be a floating ndarray"):
        numerical_gradient(lambda z: 0.0, [1.0, 2.0])


def test_relative_error():
    a = np.array([1.0, 2.0, 3.0])
    assert relative_error(a, a) == 0.0
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0, "two zero arrays agree"
    assert relative_error(a, -a) == pytest.approx(1.0)
    assert relative_error(a, 2 * a) == pytest.approx(1 / 3)
    assert relative_error(a, 2 * a) == relative_error(2 * a, a), "symmetric"
    assert isinstance(relative_error(a, a.astype(np.float32)), float)
    with pytest.raises(ValueError, match=r"shapes \(3,\) and \(1, 3\)"):
        relative_error(a, a[None])
    assert relative_error([1, 2, 3], a) == 0.0, "lists of numbers are arrays too"


@pytest.mark.parametrize(
    ("bad", "dtype"),
    [(np.ones(3, np.complex64), "complex64"), (None, "object"), (["x"] * 3, "<U1")],
)
def test_relative_error_refuses_what_is_not_real_numbers(bad, dtype):
    # complex arrays lost their imaginary parts with only a warning, and None compared as nan
    with pytest.raises(TypeError, match=rf"b must hold real numbers .*got dtype {dtype}"):
        relative_error(np.ones(3), bad)


@FAST
@given(dtype=float_dtypes, seed=st.integers(0, 2**16))
def test_check_gradient_accepts_right_and_rejects_wrong(dtype, seed):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((3, 3))
    x = rng.standard_normal((3, 2)).astype(dtype)

    def f(z):  # f(x) = sum(tanh(A x)), gradient A^T (1 - tanh(A x)^2)
        return float(np.sum(np.tanh(A @ z)))

    right = (A.T @ (1 - np.tanh(A @ x.astype(np.float64)) ** 2)).astype(dtype)
    ok = check_gradient(f, x, right)
    assert isinstance(ok, GradientCheck)
    assert ok.tol == 1e-4, "the default tolerance is 1e-4"
    assert ok.ok and ok.rel_error <= ok.tol, str(ok)
    assert "ok" in str(ok)
    wrong = check_gradient(f, x, -right)
    assert not wrong.ok and wrong.rel_error == pytest.approx(1.0, abs=1e-3), str(wrong)
    assert "MISMATCH" in str(wrong)


def test_check_gradient_reports_the_worst_entries_first():
    x = np.zeros((2, 3))
    analytic = 2 * x.copy()
    analytic[1, 2] = 5.0  # the true gradient of sum(x^2) at 0 is 0 everywhere
    analytic[0, 1] = -1.0
    result = check_gradient(lambda z: float(np.sum(z**2)), x, analytic, n_worst=2)
    assert not result.ok
    assert len(result.worst) == 2
    (idx0, a0, n0), (idx1, a1, _) = result.worst
    assert idx0 == (1, 2) and a0 == 5.0 and n0 == pytest.approx(0.0, abs=1e-8)
    assert idx1 == (0, 1) and a1 == -1.0
    assert all(isinstance(i, int) for i in idx0), "indices are plain ints, printable"
    assert "at (1, 2)" in str(result)


def test_check_gradient_shape_mismatch():
    with pytest.raises(ValueError, match=r"analytic gradient has shape \(3, 2\), but x has \(2, 3"):
        check_gradient(lambda z: 0.0, np.zeros((2, 3)), np.zeros((3, 2)))


def test_gradcheck_is_public():
    for name in ("numerical_gradient", "relative_error", "check_gradient", "GradientCheck"):
        assert name in nnlib.__all__
