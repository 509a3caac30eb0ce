"""An L-layer network without biases: ``Z_{i+1} = sigma(Z_i W_i)``, the last layer linear.

Notation of the course (notebook 03, section 2), layers numbered from 1: ``Z_1 = X``; hidden
layers ``Z_{i+1} = sigma(Z_i W_i)``; logits ``Z_{L+1} = Z_L W_L``. Backward, ``G_i`` is the
gradient of the loss with respect to ``Z_i``, starting from ``G_{L+1} = (S - I_y) / N`` and
recursing ``G_i = (G_{i+1} * sigma'(Z_i W_i)) W_i^T``; the parameter gradients are the
vector-Jacobian products ``dW_i = Z_i^T (G_{i+1} * sigma'(Z_i W_i))`` (no ``sigma'`` on the last
layer). Python lists count from 0: ``weights[i-1]`` is ``W_i``.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import NamedTuple

import numpy as np

from ._validation import (
    as_float_matrix,
    as_labels,
    require_apart,
    require_float_dtype,
    require_learning_rate,
    require_positive_int,
    require_writable,
)
from .activations import get_activation
from .losses import softmax_loss_grad


class MLPCache(NamedTuple):
    """What the forward pass keeps for the backward pass.

    Attributes
    ----------
    inputs : list of ndarray
        ``[Z_1, ..., Z_L]``, the input of each layer; ``inputs[i]`` has shape (N, d_{i+1}).
    preactivations : list of ndarray
        ``[U_1, ..., U_{L-1}]`` with ``U_i = Z_i W_i``, the hidden pre-activations.
    activation : str
        Name of the hidden activation.
    """

    inputs: list
    preactivations: list
    activation: str


def init_mlp(
    layer_sizes: Sequence[int], rng: np.random.Generator, dtype=np.float32
) -> list[np.ndarray]:
    """Random weights for an MLP with the given layer widths.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``[D, H_1, ..., H_{L-1}, C]``; at least two entries.
    rng : numpy.random.Generator
        Source of randomness.
    dtype : numpy float dtype, default float32

    Returns
    -------
    weights : list of L ndarrays
        ``weights[i]`` has shape (layer_sizes[i], layer_sizes[i+1]), drawn from
        N(0, 2 / layer_sizes[i]) (He scaling, which keeps ReLU activations from shrinking).
    """
    if len(layer_sizes) < 2:
        raise ValueError(f"layer_sizes needs at least [D, C], got {list(layer_sizes)}")
    sizes = [require_positive_int(f"layer_sizes[{i}]", s) for i, s in enumerate(layer_sizes)]
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    dtype = require_float_dtype("dtype", dtype)
    return [
        (rng.standard_normal((d_in, d_out)) * np.sqrt(2.0 / d_in)).astype(dtype)
        for d_in, d_out in pairwise(sizes)
    ]


def _validate_weights(X: np.ndarray, weights) -> list:
    if not isinstance(weights, (list, tuple)) or len(weights) == 0:
        raise TypeError("weights must be a non-empty list of 2-D arrays [W_1, ..., W_L]")
    width = X.shape[1]
    for i, W in enumerate(weights):
        as_float_matrix(f"weights[{i}]", W)
        if W.shape[0] != width:
            raise ValueError(
                f"weights[{i}] must have {width} rows to follow the previous layer "
                f"(width {width}), got shape {W.shape}"
            )
        width = W.shape[1]
    return list(weights)


def _validate_epoch(X, y, weights, lr, batch, activation):
    """The checks of :func:`mlp_epoch` (also :mod:`nnlib.fast`'s)."""
    X = as_float_matrix("X", X)
    weights = _validate_weights(X, weights)
    y = as_labels("y", y, X.shape[0], weights[-1].shape[1])
    lr = require_learning_rate(lr)
    batch = require_positive_int("batch", batch)
    for i, W in enumerate(weights):
        require_writable(f"weights[{i}]", W)
    require_apart("X", X, **{f"weights[{i}]": W for i, W in enumerate(weights)})
    get_activation(activation)
    return X, y, weights, lr, batch


def mlp_forward(
    X: np.ndarray, weights: Sequence[np.ndarray], activation: str = "relu"
) -> tuple[np.ndarray, MLPCache]:
    """Forward pass of the MLP, keeping what the backward pass needs.

    Parameters
    ----------
    X : ndarray of shape (N, D), float
    weights : list of ndarray
        ``[W_1, ..., W_L]`` as from :func:`init_mlp`, float.
    activation : {"relu", "sigmoid", "tanh"}, default "relu"

    Returns
    -------
    logits : ndarray of shape (N, C)
    cache : MLPCache
    """
    X = as_float_matrix("X", X)
    weights = _validate_weights(X, weights)
    sigma = get_activation(activation)
    ### BEGIN SOLUTION
    inputs, preactivations = [X], []
    Z = X
    for W in weights[:-1]:
        U = Z @ W
        Z = sigma.forward(U)
        preactivations.append(U)
        inputs.append(Z)
    return Z @ weights[-1], MLPCache(inputs, preactivations, activation)
    ### END SOLUTION


def mlp_backward(
    dlogits: np.ndarray, cache: MLPCache, weights: Sequence[np.ndarray]
) -> list[np.ndarray]:
    """Backward pass: the gradient of the loss with respect to every weight matrix.

    Parameters
    ----------
    dlogits : ndarray of shape (N, C)
        ``G_{L+1}``, the gradient of the loss with respect to the logits.
    cache : MLPCache
        From :func:`mlp_forward` on the same weights.
    weights : list of ndarray
        ``[W_1, ..., W_L]``.

    Returns
    -------
    grads : list of ndarray
        ``grads[i]`` has the shape of ``weights[i]``.
    """
    if not isinstance(cache, MLPCache):
        raise TypeError(f"cache must be the MLPCache from mlp_forward, got {type(cache).__name__}")
    weights = _validate_weights(cache.inputs[0], weights)
    dlogits = as_float_matrix("dlogits", dlogits)
    expected = (cache.inputs[0].shape[0], weights[-1].shape[1])
    if dlogits.shape != expected:
        raise ValueError(f"dlogits must have shape {expected} (N, C), got {dlogits.shape}")
    sigma = get_activation(cache.activation)
    ### BEGIN SOLUTION
    L = len(weights)
    grads = [None] * L
    # weights[i] is W_{i+1} (the course numbers layers from 1). At the top of each step G is
    # the gradient at layer i+1's pre-activation: G_{L+1} for the last layer, else
    # G_{i+2} * sigma'(U_{i+1}).
    G = dlogits
    for i in range(L - 1, -1, -1):
        grads[i] = cache.inputs[i].T @ G  # Z_{i+1}^T G
        if i > 0:
            G = (G @ weights[i].T) * sigma.derivative(cache.preactivations[i - 1])
    return grads
    ### END SOLUTION


def mlp_gradients(
    X: np.ndarray, y: np.ndarray, weights: Sequence[np.ndarray], activation: str = "relu"
) -> list[np.ndarray]:
    """Gradients of the mean cross-entropy of the MLP's logits for one batch.

    Parameters
    ----------
    X : ndarray of shape (N, D), float
    y : ndarray of shape (N,), integer
        Labels in [0, C).
    weights : list of ndarray
    activation : {"relu", "sigmoid", "tanh"}, default "relu"

    Returns
    -------
    grads : list of ndarray, shaped like ``weights``
    """
    logits, cache = mlp_forward(X, weights, activation)
    as_labels("y", y, X.shape[0], logits.shape[1])
    return mlp_backward(softmax_loss_grad(logits, y), cache, weights)


def mlp_epoch(
    X: np.ndarray,
    y: np.ndarray,
    weights: Sequence[np.ndarray],
    lr: float = 0.1,
    batch: int = 100,
    activation: str = "relu",
) -> None:
    """One epoch of minibatch SGD on the MLP, updating every ``weights[i]`` in place.

    Minibatches in order, no shuffling, the last partial batch included; all gradients of a
    step are computed before any weight changes.

    Parameters
    ----------
    X : ndarray of shape (N, D), float
    y : ndarray of shape (N,), integer
    weights : list of ndarray, updated in place
        Each in its own dtype. The same array may appear twice (tied weights): it then
        takes both gradients of a step, each computed from the weights before the step.
    lr : float, default 0.1
        Learning rate (a real number).
    batch : int, default 100
    activation : {"relu", "sigmoid", "tanh"}, default "relu"

    Returns
    -------
    None
    """
    X, y, weights, lr, batch = _validate_epoch(X, y, weights, lr, batch, activation)
    ### BEGIN SOLUTION
    for start in range(0, X.shape[0], batch):
        X_b, y_b = X[start : start + batch], y[start : start + batch]  # the last may be shorter
        grads = mlp_gradients(X_b, y_b, weights, activation)  # all before any weight changes
        for W, dW in zip(weights, grads, strict=True):
            W -= lr * dW
    ### END SOLUTION
