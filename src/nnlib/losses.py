"""Softmax, cross-entropy and its gradient with respect to the logits.

Coupling worth writing down: for the mean cross-entropy of ``softmax(Z)`` the gradient with
respect to the logits is ``(S - I_y) / N`` — softmax and log cancel, so no Jacobian of the
softmax is ever formed, and ``I_y`` is applied by subtracting 1 at the label positions instead
of building a one-hot matrix.
"""

from __future__ import annotations

import numpy as np

from ._validation import as_float_matrix, as_labels, require_positive_int


def softmax(Z: np.ndarray) -> np.ndarray:
    """Row-wise softmax, stable for any finite logits.

    Parameters
    ----------
    Z : ndarray of shape (N, C), float
        Logits.

    Returns
    -------
    S : ndarray of shape (N, C), same dtype as ``Z``
        Each row is non-negative and sums to one.
    """
    Z = as_float_matrix("Z", Z)
    ### BEGIN SOLUTION
    # Subtracting the row maximum leaves softmax unchanged and keeps exp() from overflowing.
    S = Z - Z.max(axis=1, keepdims=True)
    np.exp(S, out=S)
    S /= S.sum(axis=1, keepdims=True)
    return S
    ### END SOLUTION


def log_softmax(Z: np.ndarray) -> np.ndarray:
    """Row-wise log of the softmax, stable for any finite logits.

    Parameters
    ----------
    Z : ndarray of shape (N, C), float

    Returns
    -------
    log_S : ndarray of shape (N, C), same dtype as ``Z``
        ``Z - logsumexp(Z)`` per row; never ``-inf`` for finite input of moderate spread.
    """
    Z = as_float_matrix("Z", Z)
    ### BEGIN SOLUTION
    shifted = Z - Z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    ### END SOLUTION


def softmax_loss(Z: np.ndarray, y: np.ndarray) -> float:
    """Mean cross-entropy of the logits ``Z`` against integer labels ``y``.

    Parameters
    ----------
    Z : ndarray of shape (N, C), float
        Logits.
    y : ndarray of shape (N,), integer
        Class labels in [0, C).

    Returns
    -------
    loss : float
        ``mean_i (logsumexp(Z_i) - Z_i[y_i])``, always >= 0.
    """
    Z = as_float_matrix("Z", Z)
    y = as_labels("y", y, Z.shape[0], Z.shape[1])
    ### BEGIN SOLUTION
    m = Z.max(axis=1)
    logsumexp = m + np.log(np.exp(Z - m[:, None]).sum(axis=1))
    return float(np.mean(logsumexp - Z[np.arange(Z.shape[0]), y]))
    ### END SOLUTION


def softmax_loss_grad(Z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Gradient of :func:`softmax_loss` with respect to the logits.

    Parameters
    ----------
    Z : ndarray of shape (N, C), float
        Logits.
    y : ndarray of shape (N,), integer
        Class labels in [0, C).

    Returns
    -------
    dZ : ndarray of shape (N, C), same dtype as ``Z``
        ``(softmax(Z) - I_y) / N``, where ``I_y`` is the one-hot matrix of ``y``.
    """
    Z = as_float_matrix("Z", Z)
    y = as_labels("y", y, Z.shape[0], Z.shape[1])
    ### BEGIN SOLUTION
    G = softmax(Z)
    G[np.arange(Z.shape[0]), y] -= 1  # minus I_y, without a one-hot matrix
    G /= Z.shape[0]  # the loss is a mean over the batch
    return G
    ### END SOLUTION


def one_hot(y: np.ndarray, num_classes: int, dtype=np.float32) -> np.ndarray:
    """One-hot encode integer labels.

    Parameters
    ----------
    y : ndarray of shape (N,), integer
        Class labels in [0, ``num_classes``).
    num_classes : int
        C, the number of classes.
    dtype : numpy dtype, default float32

    Returns
    -------
    I_y : ndarray of shape (N, C)
        Row i is all zeros except a one in column ``y[i]``.
    """
    num_classes = require_positive_int("num_classes", num_classes)
    if not isinstance(y, np.ndarray):
        raise TypeError(f"y must be a numpy ndarray of integer labels, got {type(y).__name__}")
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {y.shape}")
    y = as_labels("y", y, y.shape[0], num_classes)
    I_y = np.zeros((y.shape[0], num_classes), dtype=dtype)
    I_y[np.arange(y.shape[0]), y] = 1
    return I_y


def loss_err(h: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Mean cross-entropy loss and error rate of logits ``h`` against labels ``y``.

    Parameters
    ----------
    h : ndarray of shape (N, C), float
        Logits.
    y : ndarray of shape (N,), integer
        Class labels in [0, C).

    Returns
    -------
    loss : float
        As :func:`softmax_loss`.
    error : float
        Fraction of rows whose arg-max is not the label, in [0, 1].
    """
    h = as_float_matrix("h", h)
    y = as_labels("y", y, h.shape[0], h.shape[1])
    return softmax_loss(h, y), float(np.mean(h.argmax(axis=1) != y))
