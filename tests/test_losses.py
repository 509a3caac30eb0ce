"""Softmax, log-softmax, cross-entropy and its gradient, checked against scipy.special."""

import numpy as np
import pytest
import scipy.special
from hypothesis import given
from hypothesis import strategies as st
from strategies import (
    FAST,
    FLOAT_DTYPES,
    close,
    describe,
    likely_mistake,
    logit_matrices,
    logits_and_labels,
    no_warnings,
    ref_loss,
    ref_loss_grad,
    ref_softmax,
)

import nnlib

EXTREME = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4], [0.0, 1e4, 1e4]])
EXTREME_Y = np.array([1, 0, 2, 0])


# ----------------------------------------------------------------------------- softmax


@pytest.mark.task_softmax
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_softmax_dtype_shape_values(dtype):
    Z = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], dtype=dtype)
    S = nnlib.softmax(Z)
    assert isinstance(S, np.ndarray), "softmax must return an ndarray"
    assert S.dtype == dtype, f"softmax turned {dtype.__name__} into {S.dtype}: hidden upcast"
    assert S.shape == Z.shape, f"softmax must keep the shape (N, C) {Z.shape}, got {S.shape}"
    np.testing.assert_allclose(
        S,
        ref_softmax(Z),
        rtol=1e-6,
        err_msg="softmax differs from scipy.special.softmax(Z, axis=1): normalize each row "
        "(axis=1), not the whole matrix or the columns",
    )


@pytest.mark.task_softmax
@FAST
@given(Z=logit_matrices(bound=1e3))
def test_softmax_rows_are_distributions(Z):
    S = nnlib.softmax(Z)
    assert S.dtype == Z.dtype and S.shape == Z.shape, "softmax must keep dtype and shape"
    assert np.all(np.isfinite(S)), "softmax gave inf/NaN: subtract the row maximum before exp"
    assert np.all(S >= 0), "softmax has negative entries"
    np.testing.assert_allclose(
        S.sum(axis=1),
        1.0,
        rtol=1e-5,
        err_msg="softmax rows do not sum to one: divide by the sum over axis=1 (keepdims=True)",
    )
    np.testing.assert_allclose(
        S,
        ref_softmax(Z),
        atol=1e-6 if Z.dtype == np.float32 else 1e-12,
        err_msg="softmax differs from scipy.special.softmax(Z, axis=1)",
    )


@pytest.mark.task_softmax
@FAST
@given(Z=logit_matrices(bound=30.0), shift=st.data())
def test_softmax_invariant_to_a_constant_per_row(Z, shift):
    c = shift.draw(
        logit_matrices(dtype=Z.dtype, bound=100.0, min_rows=Z.shape[0], max_rows=Z.shape[0])
    )[:, :1]
    shifted = (Z + c).astype(Z.dtype)
    atol = 1e-4 if Z.dtype == np.float32 else 1e-10
    np.testing.assert_allclose(
        nnlib.softmax(shifted),
        nnlib.softmax(Z),
        atol=atol,
        err_msg="softmax(Z + c) != softmax(Z) for a constant c per row: subtract the maximum "
        "of each row (axis=1, keepdims=True), not one global maximum",
    )


@pytest.mark.task_softmax
def test_softmax_does_not_modify_its_input():
    Z = np.array([[1.0, 5.0, -2.0]], dtype=np.float32)
    before = Z.copy()
    nnlib.softmax(Z)
    np.testing.assert_array_equal(Z, before, err_msg="softmax modified Z in place")


@pytest.mark.task_softmax
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_softmax_of_huge_logits_has_no_nan(dtype):
    Z = EXTREME.astype(dtype)
    with no_warnings():
        S = nnlib.softmax(Z)
    assert not np.any(np.isnan(S)), (
        "softmax of logits of +-1e4 gave NaN: exp overflowed; subtract the row maximum first"
    )
    np.testing.assert_allclose(S, ref_softmax(Z), atol=1e-6)


# ----------------------------------------------------------------------------- log_softmax


@pytest.mark.task_log_softmax
@FAST
@given(Z=logit_matrices(bound=1e3))
def test_log_softmax_matches_scipy(Z):
    L = nnlib.log_softmax(Z)
    assert L.dtype == Z.dtype, f"log_softmax turned {Z.dtype} into {L.dtype}"
    assert L.shape == Z.shape, f"log_softmax changed the shape {Z.shape} to {L.shape}"
    assert np.all(np.isfinite(L)), (
        "log_softmax gave -inf/NaN: compute Z - max - log(sum(exp(Z - max))), not log(softmax)"
    )
    expected = scipy.special.log_softmax(Z.astype(np.float64), axis=1)
    atol = 1e-3 if Z.dtype == np.float32 else 1e-9
    np.testing.assert_allclose(
        L,
        expected,
        atol=atol,
        rtol=1e-6,
        err_msg="log_softmax differs from scipy.special.log_softmax(Z, axis=1)",
    )


@pytest.mark.task_log_softmax
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_log_softmax_of_extreme_logits_is_finite(dtype):
    Z = EXTREME.astype(dtype)
    with no_warnings():
        L = nnlib.log_softmax(Z)
    assert np.all(np.isfinite(L)), (
        "log_softmax of +-1e4 logits is not finite: log(softmax) underflows to log(0); "
        "use the log-sum-exp form"
    )
    np.testing.assert_allclose(L, scipy.special.log_softmax(EXTREME, axis=1), rtol=1e-6)


# ----------------------------------------------------------------------------- softmax_loss


@pytest.mark.task_softmax_loss
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_softmax_loss_type_and_value(dtype):
    Z = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]], dtype=dtype)
    y = np.array([0, 2])
    loss = nnlib.softmax_loss(Z, y)
    assert isinstance(loss, float), f"softmax_loss must return a Python float, got {type(loss)}"
    assert loss == pytest.approx(ref_loss(Z, y), rel=1e-6), (
        "softmax_loss differs from mean(logsumexp(Z) - Z[i, y_i]): did you sum instead of "
        "averaging, or pick Z[:, y] instead of Z[np.arange(N), y]?"
    )


@pytest.mark.task_softmax_loss
@FAST
@given(Zy=logits_and_labels(bound=1e3))
def test_softmax_loss_property(Zy):
    Z, y = Zy
    loss = nnlib.softmax_loss(Z, y)
    assert isinstance(loss, float)
    assert np.isfinite(loss), "softmax_loss is not finite: subtract the row maximum"
    assert loss >= 0, f"softmax_loss is negative ({loss}): cross-entropy is never below 0"
    expected = ref_loss(Z, y)
    assert loss == pytest.approx(expected, rel=1e-5, abs=1e-3 if Z.dtype == np.float32 else 1e-9), (
        f"softmax_loss gave {loss}, the scipy reference {expected}"
    )


@pytest.mark.task_softmax_loss
@pytest.mark.parametrize("C", [2, 3, 10])
def test_softmax_loss_of_equal_logits_is_log_c(C):
    Z = np.zeros((5, C), dtype=np.float32)
    y = np.arange(5) % C
    assert nnlib.softmax_loss(Z, y) == pytest.approx(np.log(C), rel=1e-6), (
        "with all logits equal the loss must be log C (the sanity check of an untrained model)"
    )


@pytest.mark.task_softmax_loss
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_softmax_loss_of_extreme_logits_is_finite(dtype):
    with no_warnings():
        loss = nnlib.softmax_loss(EXTREME.astype(dtype), EXTREME_Y)
    assert np.isfinite(loss), "softmax_loss of +-1e4 logits overflowed: use log-sum-exp"
    assert loss == pytest.approx(ref_loss(EXTREME, EXTREME_Y), rel=1e-6)


# ----------------------------------------------------------------------------- softmax_loss_grad


@pytest.mark.task_softmax_loss_grad
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_softmax_loss_grad_dtype_shape_values(dtype):
    Z = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3], [0.0, 0.0, 0.0]], dtype=dtype)
    y = np.array([0, 2, 1])
    before = Z.copy()
    G = nnlib.softmax_loss_grad(Z, y)
    assert isinstance(G, np.ndarray)
    assert G.dtype == dtype, f"softmax_loss_grad turned {dtype.__name__} into {G.dtype}"
    assert G.shape == Z.shape, (
        f"softmax_loss_grad must have the shape of Z {Z.shape}, got {G.shape}"
        + (" (transposed?)" if G.shape == Z.shape[::-1] else "")
    )
    np.testing.assert_array_equal(Z, before, err_msg="softmax_loss_grad modified Z in place")
    expected = ref_loss_grad(Z, y)
    assert close(G, expected, dtype), (
        f"softmax_loss_grad is not (softmax(Z) - I_y) / N: {likely_mistake(G, expected, 3)}; "
        + describe(G, expected)
    )


@pytest.mark.task_softmax_loss_grad
@FAST
@given(Zy=logits_and_labels(bound=10.0))
def test_softmax_loss_grad_matches_numerical_gradient(Zy):
    Z, y = Zy
    G = nnlib.softmax_loss_grad(Z, y)
    assert G.dtype == Z.dtype and G.shape == Z.shape, "softmax_loss_grad must keep dtype, shape"
    check = nnlib.check_gradient(lambda z: ref_loss(z, y), Z, G, tol=1e-4)
    numeric = nnlib.numerical_gradient(lambda z: ref_loss(z, y), Z)
    assert check.ok or close(G, numeric, Z.dtype), (
        f"softmax_loss_grad disagrees with the numerical gradient of the scipy loss "
        f"({likely_mistake(G, numeric, Z.shape[0])}):\n{check}"
    )
    np.testing.assert_allclose(
        G.astype(np.float64).sum(axis=1),
        0.0,
        atol=1e-6,
        err_msg="rows of the softmax-loss gradient must sum to 0 (softmax sums to 1, I_y to 1)",
    )


@pytest.mark.task_softmax_loss_grad
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_softmax_loss_grad_of_extreme_logits_is_finite(dtype):
    with no_warnings():
        G = nnlib.softmax_loss_grad(EXTREME.astype(dtype), EXTREME_Y)
    assert np.all(np.isfinite(G)), (
        "softmax_loss_grad of +-1e4 logits is not finite: subtract the row maximum in softmax"
    )
    np.testing.assert_allclose(G, ref_loss_grad(EXTREME, EXTREME_Y), atol=1e-7)


@pytest.mark.task_softmax_loss_grad
def test_softmax_loss_grad_handles_repeated_labels():
    # Every row has label 1: fancy indexing G[arange, y] -= 1 must hit one entry per row.
    Z = np.zeros((4, 3))
    y = np.ones(4, dtype=np.int64)
    G = nnlib.softmax_loss_grad(Z, y)
    np.testing.assert_allclose(
        G,
        ref_loss_grad(Z, y),
        atol=1e-12,
        err_msg=(
            "wrong gradient when labels repeat: subtract 1 at G[np.arange(N), y], not G[:, y]"
        ),
    )


# ----------------------------------------------------------------------------- one_hot, loss_err


def test_one_hot():
    y = np.array([2, 0, 1, 2], dtype=np.uint8)
    I_y = nnlib.one_hot(y, 3)
    assert I_y.dtype == np.float32, "one_hot defaults to float32"
    assert I_y.shape == (4, 3)
    np.testing.assert_array_equal(I_y, np.eye(3, dtype=np.float32)[y])
    assert nnlib.one_hot(y, 5, dtype=np.float64).dtype == np.float64
    assert nnlib.one_hot(y, 5).shape == (4, 5)


@pytest.mark.task_softmax_loss
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_loss_err(dtype):
    h = np.array([[3.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 3.0], [3.0, 0.0, 0.0]], dtype=dtype)
    y = np.array([0, 1, 0, 2])
    result = nnlib.loss_err(h, y)
    assert isinstance(result, tuple) and len(result) == 2, "loss_err returns (loss, error)"
    loss, err = result
    assert isinstance(loss, float) and isinstance(err, float)
    assert loss == pytest.approx(ref_loss(h, y), rel=1e-6)
    assert err == pytest.approx(0.5), "error rate is the fraction of rows whose argmax != y"


@pytest.mark.task_softmax_loss
@FAST
@given(Zy=logits_and_labels(bound=10.0))
def test_loss_err_property(Zy):
    Z, y = Zy
    loss, err = nnlib.loss_err(Z, y)
    assert 0.0 <= err <= 1.0
    assert err == pytest.approx(float(np.mean(np.argmax(Z, axis=1) != y)))
    assert loss == pytest.approx(ref_loss(Z, y), rel=1e-5, abs=1e-5)
