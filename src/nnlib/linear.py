"""Softmax regression: the linear hypothesis ``h(X) = X theta`` trained with cross-entropy."""

from __future__ import annotations

import numpy as np

from ._blas import EpochGemm
from ._validation import (
    as_float_matrix,
    as_labels,
    require_positive_int,
    require_same_dtype,
    require_shape,
    require_writable,
)


def _validate(X, y, theta):
    X = as_float_matrix("X", X)
    theta = as_float_matrix("theta", theta)
    require_shape("theta", theta, (X.shape[1], None))
    require_same_dtype(X=X, theta=theta)
    y = as_labels("y", y, X.shape[0], theta.shape[1])
    return X, y, theta


def softmax_regression_grad(X: np.ndarray, y: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Gradient of the mean cross-entropy of ``X @ theta`` with respect to ``theta``.

    Parameters
    ----------
    X : ndarray of shape (N, D), float
        One batch of inputs.
    y : ndarray of shape (N,), integer
        Labels in [0, C).
    theta : ndarray of shape (D, C), same dtype as ``X``
        Weights.

    Returns
    -------
    dtheta : ndarray of shape (D, C), same dtype as ``theta``
        ``X^T (softmax(X theta) - I_y) / N``.
    """
    X, y, theta = _validate(X, y, theta)
    ### BEGIN SOLUTION
    Z = X @ theta
    Z -= Z.max(axis=1, keepdims=True)
    np.exp(Z, out=Z)
    Z /= Z.sum(axis=1, keepdims=True)
    Z[np.arange(X.shape[0]), y] -= 1
    Z /= X.shape[0]
    return X.T @ Z
    ### END SOLUTION


def softmax_regression_epoch(
    X: np.ndarray, y: np.ndarray, theta: np.ndarray, lr: float = 0.1, batch: int = 100
) -> None:
    """Run one epoch of minibatch SGD on softmax regression, updating ``theta`` in place.

    Minibatches are taken in order, ``X[0:batch]``, ``X[batch:2*batch]``, ..., without
    shuffling; the last, possibly smaller, batch is included. Each step is
    ``theta -= lr * X_b^T (softmax(X_b theta) - I_y) / N_b``.

    Parameters
    ----------
    X : ndarray of shape (N, D), float
        Inputs.
    y : ndarray of shape (N,), integer
        Labels in [0, C).
    theta : ndarray of shape (D, C), same dtype as ``X``
        Weights, updated in place.
    lr : float, default 0.1
        Learning rate.
    batch : int, default 100
        Minibatch size.

    Returns
    -------
    None
    """
    X, y, theta = _validate(X, y, theta)
    batch = require_positive_int("batch", batch)
    require_writable("theta", theta)
    ### BEGIN SOLUTION
    N, C = X.shape[0], theta.shape[1]
    lr = float(lr)  # a Python float keeps float32 arithmetic float32 (a np.float64 would not)
    # Small batches: W -= A^T G, a full pass over W per batch, costs as much as the multiply
    # itself, so fuse it into BLAS gemm (beta = 1; scipy's BLAS, numpy has no beta). Then every
    # multiply goes through scipy's BLAS: alternating with numpy's (a separate OpenBLAS with
    # its own spinning threads) makes the two thread pools fight for the cores, 3-45x slower.
    # Large batches: that pass is amortized, and numpy's BLAS build is 5-10% faster here.
    gemm = EpochGemm(fused=batch < 500, weights=[theta])
    # Buffers for one batch, allocated once; the last, smaller batch views their first entries.
    # Softmax works on a transposed copy of the logits, (C, m), in a flat buffer: it then
    # reduces over the first axis (C rows of length m, which numpy vectorizes) instead of over
    # m rows of length C, 5-20x slower. (BLAS writes the (m, C) logits faster than their
    # transpose, and the copy costs a few microseconds.)
    logits_buf = np.empty((batch, C), dtype=X.dtype)
    ST_buf = np.empty(C * batch, dtype=X.dtype)
    col_buf = np.empty(batch, dtype=X.dtype)

    def views(m):  # the buffers' views for a batch of m rows: made once for full batches
        flat = ST_buf[: C * m]  # (softmax regression is mostly per-call overhead at batch 100)
        return logits_buf[:m], flat, flat.reshape(C, m), col_buf[:m]

    full_batch = views(batch)
    # Flat position of each example's label in its batch's (C, m) buffer, y_i * m + j: S - I_y
    # is then one subtraction at those positions, with no one-hot matrix.
    j = np.arange(N) % batch  # row of example i within its batch
    m_i = np.minimum(batch, N - (np.arange(N) - j))  # size of example i's batch
    label_pos = y.astype(np.intp) * m_i + j  # as intp: uint64 labels would make it float
    for start in range(0, N, batch):
        X_b = X[start : start + batch]
        m = X_b.shape[0]
        logits, flat, ST, col = full_batch if m == batch else views(m)
        gemm.matmul_into(logits, X_b, theta)
        np.copyto(ST, logits.T)
        np.maximum.reduce(ST, axis=0, out=col)  # softmax of each column, stably, in place
        ST -= col
        np.exp(ST, out=ST)
        np.add.reduce(ST, axis=0, out=col)  # ufunc.reduce: np.max/np.sum add ~1 us a call
        ST /= col
        flat[label_pos[start : start + m]] -= 1  # (S - I_y)^T
        # theta -= (lr / m) X_b^T G, the step size folded into the gemm's alpha (no extra pass)
        gemm.subtract_AtB(theta, X_b, ST.T, lr / m)
    ### END SOLUTION
