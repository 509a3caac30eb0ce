"""Softmax regression: the linear hypothesis ``h(X) = X theta`` trained with cross-entropy."""

from __future__ import annotations

import numpy as np

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
    for start in range(0, X.shape[0], batch):
        X_b, y_b = X[start : start + batch], y[start : start + batch]
        Z = X_b @ theta
        Z -= Z.max(axis=1, keepdims=True)
        np.exp(Z, out=Z)
        Z /= Z.sum(axis=1, keepdims=True)
        Z[np.arange(X_b.shape[0]), y_b] -= 1
        Z *= lr / X_b.shape[0]  # fold the step size into the small (N_b, C) matrix once
        theta -= X_b.T @ Z
    ### END SOLUTION
