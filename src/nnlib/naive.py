"""Loop-over-examples twins of the vectorized gradients.

Each function here computes exactly what its vectorized counterpart computes, one example at
a time, so that the per-example math is visible: a batch gradient is the mean of the
per-example gradients. They are slow on purpose and serve as readable references in tests and
in the timing study of notebook 05.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._validation import as_float_matrix, as_labels
from .activations import get_activation
from .linear import _validate as _validate_linear
from .mlp import _validate_weights
from .two_layer import _validate as _validate_two_layer


def _softmax_vector(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def softmax_loss_grad_naive(Z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Loop twin of :func:`nnlib.losses.softmax_loss_grad`.

    Parameters
    ----------
    Z : ndarray of shape (N, C), float
    y : ndarray of shape (N,), integer

    Returns
    -------
    dZ : ndarray of shape (N, C), same dtype as ``Z``
    """
    Z = as_float_matrix("Z", Z)
    y = as_labels("y", y, Z.shape[0], Z.shape[1])
    ### BEGIN SOLUTION
    N = Z.shape[0]
    dZ = np.zeros_like(Z)
    for i in range(N):
        s = _softmax_vector(Z[i])
        s[y[i]] -= 1  # d(-log s_y)/dz = s - e_y for one example
        dZ[i] = s / N
    return dZ
    ### END SOLUTION


def softmax_regression_grad_naive(X: np.ndarray, y: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Loop twin of :func:`nnlib.linear.softmax_regression_grad`.

    Parameters
    ----------
    X : ndarray of shape (N, D), float
    y : ndarray of shape (N,), integer
    theta : ndarray of shape (D, C)

    Returns
    -------
    dtheta : ndarray of shape (D, C)
    """
    X, y, theta = _validate_linear(X, y, theta)
    ### BEGIN SOLUTION
    N = X.shape[0]
    dtheta = np.zeros_like(theta)
    for i in range(N):
        s = _softmax_vector(X[i] @ theta)
        s[y[i]] -= 1
        dtheta += np.outer(X[i], s)  # x_i (s_i - e_{y_i})^T
    return dtheta / N
    ### END SOLUTION


def nn_gradients_naive(
    X: np.ndarray, y: np.ndarray, W1: np.ndarray, W2: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Loop twin of :func:`nnlib.two_layer.nn_gradients`.

    Parameters
    ----------
    X : ndarray of shape (N, D), float
    y : ndarray of shape (N,), integer
    W1 : ndarray of shape (D, H)
    W2 : ndarray of shape (H, C)

    Returns
    -------
    dW1 : ndarray of shape (D, H)
    dW2 : ndarray of shape (H, C)
    """
    X, y, W1, W2 = _validate_two_layer(X, y, W1, W2)
    ### BEGIN SOLUTION
    N = X.shape[0]
    dW1, dW2 = np.zeros_like(W1), np.zeros_like(W2)
    for i in range(N):
        u1 = X[i] @ W1  # (H,) the pre-activation
        z2 = np.maximum(u1, 0)  # the hidden layer
        g3 = _softmax_vector(z2 @ W2)  # (C,)
        g3[y[i]] -= 1  # s - e_y, the gradient at the logits (the 1/N comes at the end)
        dW2 += np.outer(z2, g3)
        g2 = W2 @ g3  # back through W2
        dW1 += np.outer(X[i], g2 * (u1 > 0))  # through the ReLU's mask
    return dW1 / N, dW2 / N
    ### END SOLUTION


def mlp_gradients_naive(
    X: np.ndarray, y: np.ndarray, weights: Sequence[np.ndarray], activation: str = "relu"
) -> list[np.ndarray]:
    """Loop twin of :func:`nnlib.mlp.mlp_gradients`: forward and backward per example.

    Parameters
    ----------
    X : ndarray of shape (N, D), float
    y : ndarray of shape (N,), integer
    weights : list of ndarray
    activation : {"relu", "sigmoid", "tanh"}, default "relu"

    Returns
    -------
    grads : list of ndarray, shaped like ``weights``
    """
    X = as_float_matrix("X", X)
    weights = _validate_weights(X, weights)
    y = as_labels("y", y, X.shape[0], weights[-1].shape[1])
    sigma = get_activation(activation)
    ### BEGIN SOLUTION
    N, L = X.shape[0], len(weights)
    grads = [np.zeros_like(W) for W in weights]
    for n in range(N):
        zs, us = [X[n]], []
        for W in weights[:-1]:
            us.append(zs[-1] @ W)
            zs.append(sigma.forward(us[-1]))
        g = _softmax_vector(zs[-1] @ weights[-1])
        g[y[n]] -= 1
        for i in range(L - 1, -1, -1):
            grads[i] += np.outer(zs[i], g)
            if i > 0:
                g = (weights[i] @ g) * sigma.derivative(us[i - 1])
    return [dW / N for dW in grads]
    ### END SOLUTION
