"""The two-layer network ``h(X) = ReLU(X W1) W2`` (no biases), its gradients and SGD epoch."""

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


def _validate(X, y, W1, W2):
    X = as_float_matrix("X", X)
    W1 = as_float_matrix("W1", W1)
    W2 = as_float_matrix("W2", W2)
    require_shape("W1", W1, (X.shape[1], None))
    require_shape("W2", W2, (W1.shape[1], None))
    require_same_dtype(X=X, W1=W1, W2=W2)
    y = as_labels("y", y, X.shape[0], W2.shape[1])
    return X, y, W1, W2


def nn_gradients(
    X: np.ndarray, y: np.ndarray, W1: np.ndarray, W2: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Gradients of the mean cross-entropy of ``ReLU(X W1) W2`` for one batch.

    With ``Z1 = X W1``, ``A1 = ReLU(Z1)``, ``S = softmax(A1 W2)`` and ``G2 = (S - I_y) / N``:
    ``dW2 = A1^T G2`` and ``dW1 = X^T ((G2 W2^T) * 1[Z1 > 0])``.

    Parameters
    ----------
    X : ndarray of shape (N, D), float
        One batch of inputs.
    y : ndarray of shape (N,), integer
        Labels in [0, C).
    W1 : ndarray of shape (D, H), same dtype as ``X``
    W2 : ndarray of shape (H, C), same dtype as ``X``

    Returns
    -------
    dW1 : ndarray of shape (D, H)
    dW2 : ndarray of shape (H, C)
    """
    X, y, W1, W2 = _validate(X, y, W1, W2)
    ### BEGIN SOLUTION
    A1 = np.maximum(X @ W1, 0)
    G2 = A1 @ W2
    G2 -= G2.max(axis=1, keepdims=True)
    np.exp(G2, out=G2)
    G2 /= G2.sum(axis=1, keepdims=True)
    G2[np.arange(X.shape[0]), y] -= 1
    G2 /= X.shape[0]
    G1 = G2 @ W2.T
    G1 *= A1 > 0  # ReLU'(Z1): A1 > 0 exactly where Z1 > 0
    return X.T @ G1, A1.T @ G2
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
    W1 : ndarray of shape (D, H), same dtype as ``X``
        Updated in place.
    W2 : ndarray of shape (H, C), same dtype as ``X``
        Updated in place.
    lr : float, default 0.1
    batch : int, default 100

    Returns
    -------
    None
    """
    X, y, W1, W2 = _validate(X, y, W1, W2)
    batch = require_positive_int("batch", batch)
    require_writable("W1", W1)
    require_writable("W2", W2)
    ### BEGIN SOLUTION
    for start in range(0, X.shape[0], batch):
        X_b, y_b = X[start : start + batch], y[start : start + batch]
        A1 = np.maximum(X_b @ W1, 0)
        G2 = A1 @ W2
        G2 -= G2.max(axis=1, keepdims=True)
        np.exp(G2, out=G2)
        G2 /= G2.sum(axis=1, keepdims=True)
        G2[np.arange(X_b.shape[0]), y_b] -= 1
        G2 *= lr / X_b.shape[0]  # fold the step size in once, on the smallest matrix
        G1 = G2 @ W2.T  # uses W2 before its update
        G1 *= A1 > 0
        W2 -= A1.T @ G2
        W1 -= X_b.T @ G1
    ### END SOLUTION
