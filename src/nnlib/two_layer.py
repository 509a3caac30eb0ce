"""The two-layer network ``h(X) = ReLU(X W1) W2`` (no biases), its gradients and SGD epoch."""

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


def _validate(X, y, W1, W2):
    X = as_float_matrix("X", X)
    W1 = as_float_matrix("W1", W1)
    W2 = as_float_matrix("W2", W2)
    require_shape("W1", W1, (X.shape[1], None))
    require_shape("W2", W2, (W1.shape[1], None))
    y = as_labels("y", y, X.shape[0], W2.shape[1])
    return X, y, W1, W2


def _validate_epoch(X, y, W1, W2, lr, batch):
    """The checks of :func:`nn_epoch` (also :mod:`nnlib.fast`'s)."""
    X, y, W1, W2 = _validate(X, y, W1, W2)
    lr = require_learning_rate(lr)
    batch = require_positive_int("batch", batch)
    require_writable("W1", W1)
    require_writable("W2", W2)
    require_apart("X", X, W1=W1, W2=W2)
    return X, y, W1, W2, lr, batch


def nn_gradients(
    X: np.ndarray, y: np.ndarray, W1: np.ndarray, W2: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Gradients of the mean cross-entropy of ``ReLU(X W1) W2`` for one batch.

    In the course's notation (notebook 03): ``U1 = X W1``, ``Z2 = ReLU(U1)``,
    ``S = softmax(Z2 W2)`` and ``G3 = (S - I_y) / N``: ``dW2 = Z2^T G3`` and
    ``dW1 = X^T ((G3 W2^T) * 1[U1 > 0])``.

    Parameters
    ----------
    X : ndarray of shape (N, D), float
        One batch of inputs.
    y : ndarray of shape (N,), integer
        Labels in [0, C).
    W1 : ndarray of shape (D, H), float
    W2 : ndarray of shape (H, C), float

    Returns
    -------
    dW1 : ndarray of shape (D, H)
    dW2 : ndarray of shape (H, C)
        In the dtype numpy's promotion gives the products (float32 when all are float32).
    """
    X, y, W1, W2 = _validate(X, y, W1, W2)
    ### BEGIN SOLUTION
    U1 = X @ W1  # the pre-activation
    Z2 = np.maximum(U1, 0)  # ReLU: the hidden layer, input of layer 2
    Z3 = Z2 @ W2  # the logits
    S = np.exp(Z3 - Z3.max(axis=1, keepdims=True))  # softmax, stable: minus each row's max
    S /= S.sum(axis=1, keepdims=True)
    S[np.arange(X.shape[0]), y] -= 1  # S - I_y, without a one-hot matrix
    G3 = S / X.shape[0]  # the gradient at the logits
    G2 = G3 @ W2.T  # back through W2
    return X.T @ (G2 * (U1 > 0)), Z2.T @ G3  # through the ReLU's mask, then X^T
    ### END SOLUTION


def nn_epoch(
    X: np.ndarray,
    y: np.ndarray,
    W1: np.ndarray,
    W2: np.ndarray,
    lr: float = 0.1,
    batch: int = 100,
) -> None:
    """Run one epoch of minibatch SGD on ``ReLU(X W1) W2``, updating W1 and W2 in place.

    Minibatches are taken in order without shuffling; the last partial batch is included.
    Both gradients of a step are computed from the weights before that step.

    Parameters
    ----------
    X : ndarray of shape (N, D), float
    y : ndarray of shape (N,), integer
        Labels in [0, C).
    W1 : ndarray of shape (D, H), float
        Updated in place, in its own dtype.
    W2 : ndarray of shape (H, C), float
        Updated in place, in its own dtype.
    lr : float, default 0.1
        Learning rate (a real number).
    batch : int, default 100

    Returns
    -------
    None
    """
    X, y, W1, W2, lr, batch = _validate_epoch(X, y, W1, W2, lr, batch)
    ### BEGIN SOLUTION
    for start in range(0, X.shape[0], batch):
        X_b, y_b = X[start : start + batch], y[start : start + batch]  # the last may be shorter
        dW1, dW2 = nn_gradients(X_b, y_b, W1, W2)  # both from the weights before the step
        W1 -= lr * dW1
        W2 -= lr * dW2
    ### END SOLUTION
