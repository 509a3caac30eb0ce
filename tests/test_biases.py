"""The two-layer network with biases (notebook 06): the gradient the student derives alone.

Checked against central differences of a loss written here with scipy, against the autodiff
tape (1e-12 relative), and against ``nn_gradients`` when the biases are zero.
"""

import numpy as np
import pytest
from strategies import describe, ref_loss, rel_err

import nnlib
from nnlib import autodiff as ad


def _problem(rng, n=6, d=4, h=5, c=3, dtype=np.float64):
    X = rng.normal(size=(n, d)).astype(dtype)
    y = rng.integers(0, c, n)
    params = [rng.normal(size=s).astype(dtype) / 2 for s in [(d, h), (h,), (h, c), (c,)]]
    return X, y, params


def _loss(X, y, W1, b1, W2, b2):
    return ref_loss(np.maximum(X @ W1 + b1, 0) @ W2 + b2, y)


def _central(X, y, params, eps=1e-6):
    params = [p.astype(np.float64).copy() for p in params]
    out = []
    for p in params:
        g = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            saved = p[idx]
            p[idx] = saved + eps
            plus = _loss(X, y, *params)
            p[idx] = saved - eps
            minus = _loss(X, y, *params)
            p[idx] = saved
            g[idx] = (plus - minus) / (2 * eps)
        out.append(g)
    return out


NAMES = ("dW1", "db1", "dW2", "db2")


@pytest.mark.task_nn_gradients_bias
@pytest.mark.parametrize("n", [1, 6])
def test_nn_gradients_bias_matches_central_differences(rng, n):
    X, y, params = _problem(rng, n=n)
    got = nnlib.nn_gradients_bias(X, y, *params)
    want = _central(X, y, params)
    assert len(got) == 4
    for name, g, w, p in zip(NAMES, got, want, params, strict=True):
        assert g.shape == p.shape, f"{name} must have the shape of its parameter, {p.shape}"
        assert np.allclose(g, w, rtol=1e-6, atol=1e-8), f"{name}: {describe(g, w)}"


@pytest.mark.task_nn_gradients_bias
def test_nn_gradients_bias_equals_the_tape(rng):
    X, y, params = _problem(rng, n=9, d=5, h=7, c=4)
    x = ad.variable(X)
    W1, b1, W2, b2 = (ad.variable(p) for p in params)
    loss = ad.softmax_cross_entropy(
        ad.add(ad.matmul(ad.relu(ad.add(ad.matmul(x, W1), b1)), W2), b2), y
    )
    nnlib.backward(loss)
    got = nnlib.nn_gradients_bias(X, y, *params)
    for name, g, node in zip(NAMES, got, (W1, b1, W2, b2), strict=True):
        assert rel_err(g, node.grad) <= 1e-12, f"{name}: {describe(g, node.grad)}"


@pytest.mark.task_nn_gradients_bias
def test_zero_biases_give_nn_gradients_and_float32_stays_float32(rng):
    X, y, (W1, b1, W2, b2) = _problem(rng, dtype=np.float32)
    got = nnlib.nn_gradients_bias(X, y, W1, np.zeros_like(b1), W2, np.zeros_like(b2))
    for g in got:
        assert g.dtype == np.float32, f"float32 in, {g.dtype} out"
    dW1, dW2 = nnlib.nn_gradients(X, y, W1, W2)
    assert np.allclose(got[0], dW1, atol=1e-6) and np.allclose(got[2], dW2, atol=1e-6)


@pytest.mark.task_nn_gradients_bias
def test_nn_epoch_bias_takes_one_step_per_minibatch_in_place(rng):
    X, y, params = _problem(rng, n=7)
    before = [p.copy() for p in params]
    expected = [p.copy() for p in params]
    for start in (0, 3, 6):  # batch 3: 3 + 3 + 1
        grads = nnlib.nn_gradients_bias(X[start : start + 3], y[start : start + 3], *expected)
        expected = [p - 0.5 * g for p, g in zip(expected, grads, strict=True)]
    assert nnlib.nn_epoch_bias(X, y, *params, lr=0.5, batch=3) is None
    for name, p, e, b in zip(("W1", "b1", "W2", "b2"), params, expected, before, strict=True):
        assert not np.array_equal(p, b), f"{name} was not updated in place"
        assert np.allclose(p, e, rtol=1e-12, atol=1e-14), f"{name}: {describe(p, e)}"


def test_bad_inputs_name_the_parameter(rng):
    X, y, (W1, b1, W2, b2) = _problem(rng)
    with pytest.raises(ValueError, match=r"b1 must have shape \(5\), got \(3,\)"):
        nnlib.nn_gradients_bias(X, y, W1, b2, W2, b2)
    with pytest.raises(ValueError, match="b2 must be 1-D"):
        nnlib.nn_gradients_bias(X, y, W1, b1, W2, b2[None, :])
    with pytest.raises(TypeError, match="floating dtype"):
        nnlib.nn_gradients_bias(X, y, W1, b1.astype(int), W2, b2)
    with pytest.raises(ValueError, match="read-only"):
        b1.flags.writeable = False
        nnlib.nn_epoch_bias(X, y, W1, b1, W2, b2)
