"""Softmax regression: the linear hypothesis ``h(X) = X theta`` trained with cross-entropy."""

from __future__ import annotations

import numpy as np

from ._validation import (
    as_float_matrix,
    as_labels,
    require_apart,
    require_learning_rate,
    require_positive_int,
    require_shape,
    require_writable,
)


def _validate(X, y, theta):
    X = as_float_matrix("X", X)
    theta = as_float_matrix("theta", theta)
    require_shape("theta", theta, (X.shape[1], None))
    y = as_labels("y", y, X.shape[0], theta.shape[1])
    return X, y, theta


def _validate_epoch(X, y, theta, lr, batch):
    """The checks of :func:`softmax_regression_epoch` (also :mod:`nnlib.fast`'s)."""
    X, y, theta = _validate(X, y, theta)
    lr = require_learning_rate(lr)
    batch = require_positive_int("batch", batch)
    require_writable("theta", theta)
    require_apart("X", X, theta=theta)
    return X, y, theta, lr, batch


def softmax_regression_grad(X: np.ndarray, y: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Gradient of the mean cross-entropy of ``X @ theta`` with respect to ``theta``.

    Parameters
    ----------
    X : ndarray of shape (N, D), float
        One batch of inputs.
    y : ndarray of shape (N,), integer
        Labels in [0, C).
    theta : ndarray of shape (D, C), float
        Weights.

    Returns
    -------
    dtheta : ndarray of shape (D, C)
        ``X^T (softmax(X theta) - I_y) / N``, in the dtype numpy's promotion gives ``X @ theta``
        (float32 when both are float32).
    """
    X, y, theta = _validate(X, y, theta)
    ### BEGIN SOLUTION
    Z = X @ theta
    S = np.exp(Z - Z.max(axis=1, keepdims=True))  # softmax, stable: minus each row's max
    S /= S.sum(axis=1, keepdims=True)
    S[np.arange(X.shape[0]), y] -= 1  # S - I_y, without a one-hot matrix
    return X.T @ S / X.shape[0]
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
    theta : ndarray of shape (D, C), float
        Weights, updated in place, in their own dtype.
    lr : float, default 0.1
        Learning rate (a real number).
    batch : int, default 100
        Minibatch size.

    Returns
    -------
    None
    """
    X, y, theta, lr, batch = _validate_epoch(X, y, theta, lr, batch)
    ### BEGIN SOLUTION
    for start in range(0, X.shape[0], batch):
        X_b, y_b = X[start : start + batch], y[start : start + batch]  # the last may be shorter
        theta -= lr * softmax_regression_grad(X_b, y_b, theta)
    ### END SOLUTION
