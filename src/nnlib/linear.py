"""Softmax regression: the linear hypothesis ``h(X) = X theta`` trained with cross-entropy."""

from __future__ import annotations

import numpy as np

from ._blas import BatchRows, Gemm
from ._label_positions import label_positions
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
    batch = min(batch, N)
    lr = float(lr)  # a Python float keeps float32 arithmetic float32 (a np.float64 would not)
    # Softmax works on the transposed logits, (C, m): it then reduces over the first axis (C
    # rows of length m, which numpy vectorizes) instead of over m rows of length C, 5-20x
    # slower. Layout (measured by `make bench`): below batch 500, BLAS writes them transposed
    # directly, from a transposed working copy of theta (copied back at the end), 15-20%
    # faster; from 500 rows on, writing (m, C) logits and copying them is the faster way.
    small_batch = batch < 500
    theta_work = np.asfortranarray(theta) if small_batch else theta
    logits_buf = None if small_batch else np.empty((batch, C), dtype=X.dtype)
    ST_buf = np.empty(C * batch, dtype=X.dtype)
    col_buf = np.empty(batch, dtype=X.dtype)
    label_pos = label_positions(y, batch)  # y_i * m + j: S - I_y without a one-hot matrix

    def plan(m):
        """The buffers' views and the two products of a step on m rows, bound once."""
        rows = BatchRows(X, m)  # X_b, moved along X by rows.move_to(start)
        flat = ST_buf[: C * m]
        ST = flat.reshape(C, m)
        logits = ST.T if small_batch else logits_buf[:m]
        # From 500 rows on, each BLAS thread takes the same half of the batch in both
        # products (split_batch), so the update reads X_b from the cache the forward left it
        # in: 10-15% faster at batch 1000. Gemm leaves halves under ~255 rows unsplit.
        products = (
            Gemm(logits, rows, theta_work, split_batch=not small_batch),  # X_b theta
            # theta -= (lr / m) X_b^T G, the step size in BLAS's alpha, one pass over theta
            Gemm(theta_work, rows.T, ST.T, alpha=-lr / m, beta=1.0, split_batch=not small_batch),
        )
        return rows, logits, flat, ST, col_buf[:m], products

    full_batch = plan(batch)
    try:
        for start in range(0, N, batch):
            m = min(batch, N - start)
            rows, logits, flat, ST, col, (forward, update) = full_batch if m == batch else plan(m)
            rows.move_to(start)
            forward()
            if not small_batch:
                np.copyto(ST, logits.T)
            np.maximum.reduce(ST, axis=0, out=col)  # softmax of each column, stably, in place
            ST -= col
            np.exp(ST, out=ST)
            np.add.reduce(ST, axis=0, out=col)  # ufunc.reduce: np.max/np.sum add ~1 us a call
            ST /= col
            flat[label_pos[start : start + m]] -= 1  # (S - I_y)^T
            update()
    finally:  # also after an interrupt: theta holds every step taken
        if theta_work is not theta:
            theta[...] = theta_work
    ### END SOLUTION
