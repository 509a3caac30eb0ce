"""The two-layer network with biases, ``logits = ReLU(X W1 + b1) W2 + b2``: gradients and epoch.

Each bias is a row vector added to every row of the batch (numpy broadcasting).
"""

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

_NAMES = ("W1", "b1", "W2", "b2")


def _validate(X, y, W1, b1, W2, b2):
    X = as_float_matrix("X", X)
    W1 = as_float_matrix("W1", W1)
    b1 = as_float_matrix("b1", b1, ndim=1)
    W2 = as_float_matrix("W2", W2)
    b2 = as_float_matrix("b2", b2, ndim=1)
    require_shape("W1", W1, (X.shape[1], None))
    require_shape("b1", b1, (W1.shape[1],))
    require_shape("W2", W2, (W1.shape[1], None))
    require_shape("b2", b2, (W2.shape[1],))
    y = as_labels("y", y, X.shape[0], W2.shape[1])
    return X, y, W1, b1, W2, b2


def nn_gradients_bias(
    X: np.ndarray,
    y: np.ndarray,
    W1: np.ndarray,
    b1: np.ndarray,
    W2: np.ndarray,
    b2: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of the mean cross-entropy of ``ReLU(X W1 + b1) W2 + b2`` for one batch.

    Parameters
    ----------
    X : ndarray of shape (N, D), float
        One batch of inputs.
    y : ndarray of shape (N,), integer
        Labels in [0, C).
    W1 : ndarray of shape (D, H), float
    b1 : ndarray of shape (H,), float
    W2 : ndarray of shape (H, C), float
    b2 : ndarray of shape (C,), float

    Returns
    -------
    dW1 : ndarray of shape (D, H)
    db1 : ndarray of shape (H,)
    dW2 : ndarray of shape (H, C)
    db2 : ndarray of shape (C,)
        The gradient of the loss with respect to each parameter, in the dtype numpy's
        promotion gives (float32 when all inputs are float32).
    """
    X, y, W1, b1, W2, b2 = _validate(X, y, W1, b1, W2, b2)
    ### BEGIN SOLUTION
    U1 = X @ W1 + b1
    Z2 = np.maximum(U1, 0)
    S = Z2 @ W2 + b2
    S = np.exp(S - S.max(axis=1, keepdims=True))
    S /= S.sum(axis=1, keepdims=True)
    S[np.arange(X.shape[0]), y] -= 1
    G3 = S / X.shape[0]  # the gradient at the logits
    G2 = (G3 @ W2.T) * (U1 > 0)  # at the hidden pre-activation
    # b enters every row once: its gradient is the column sum of the gradient it meets
    return X.T @ G2, G2.sum(axis=0), Z2.T @ G3, G3.sum(axis=0)
    ### END SOLUTION


def nn_epoch_bias(
    X: np.ndarray,
    y: np.ndarray,
    W1: np.ndarray,
    b1: np.ndarray,
    W2: np.ndarray,
    b2: np.ndarray,
    lr: float = 0.1,
    batch: int = 100,
) -> None:
    """One epoch of minibatch SGD on ``ReLU(X W1 + b1) W2 + b2``, updating all four in place.

    Minibatches in order, no shuffling, the last partial batch included; the four gradients
    of a step come from :func:`nn_gradients_bias` at the parameters before that step.

    Parameters
    ----------
    X : ndarray of shape (N, D), float
    y : ndarray of shape (N,), integer
        Labels in [0, C).
    W1 : ndarray of shape (D, H), float, updated in place
    b1 : ndarray of shape (H,), float, updated in place
    W2 : ndarray of shape (H, C), float, updated in place
    b2 : ndarray of shape (C,), float, updated in place
    lr : float, default 0.1
    batch : int, default 100

    Returns
    -------
    None
    """
    X, y, W1, b1, W2, b2 = _validate(X, y, W1, b1, W2, b2)
    lr = require_learning_rate(lr)
    batch = require_positive_int("batch", batch)
    params = (W1, b1, W2, b2)
    for name, P in zip(_NAMES, params, strict=True):
        require_writable(name, P)
    require_apart("X", X, **dict(zip(_NAMES, params, strict=True)))
    for start in range(0, len(X), batch):
        rows = slice(start, start + batch)  # the last minibatch may be shorter
        grads = nn_gradients_bias(X[rows], y[rows], *params)  # all four before any update
        for P, dP in zip(params, grads, strict=True):
            P -= lr * dP
