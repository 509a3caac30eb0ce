"""Backward passes that keep less than the whole cache: recomputation and checkpointing.

The backward pass of notebook 04 keeps every layer input ``Z_i`` and pre-activation
``Z_i W_i`` from the forward pass: memory that grows with the depth L. Both functions here
return the gradients of :func:`nnlib.mlp_gradients`, keeping less and recomputing the rest:

- :func:`mlp_gradients_recompute` keeps nothing: for each layer, from the top down, it runs
  the forward pass again from ``X`` up to that layer (about L^2 / 2 layer products in all);
- :func:`mlp_gradients_checkpointed` keeps every ``every``-th layer input (``Z_1 = X``
  always), then rebuilds each segment of layers from its checkpoint when the backward pass
  reaches it: about L / every checkpoints plus ``every`` arrays of one segment at a time, for
  one extra forward pass. ``every`` near sqrt(L) keeps the fewest arrays.

Notation of notebook 04, layers numbered from 1: ``G_{i+1}`` is the gradient of the loss with
respect to ``Z_{i+1}``; ``dW_i = Z_i^T (G_{i+1} * sigma'(Z_i W_i))`` and
``G_i = (G_{i+1} * sigma'(Z_i W_i)) W_i^T``, no ``sigma'`` on the last, linear, layer.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._validation import as_float_matrix, as_labels, require_positive_int
from .activations import get_activation
from .losses import softmax_loss_grad
from .mlp import _validate_weights


def _validate(X, y, weights, activation):
    X = as_float_matrix("X", X)
    weights = _validate_weights(X, weights)
    y = as_labels("y", y, X.shape[0], weights[-1].shape[1])
    return X, y, weights, get_activation(activation)


def mlp_gradients_recompute(
    X: np.ndarray, y: np.ndarray, weights: Sequence[np.ndarray], activation: str = "relu"
) -> list[np.ndarray]:
    """The gradients of :func:`nnlib.mlp_gradients`, keeping no cache at all.

    For layer i (from L down to 1) the forward pass runs again from ``X`` to ``Z_i``: time
    grows like L^2, memory stays that of a few arrays whatever the depth.

    Parameters
    ----------
    X : ndarray of shape (N, D), float
    y : ndarray of shape (N,), integer
        Labels in [0, C).
    weights : list of ndarray
        ``[W_1, ..., W_L]``.
    activation : {"relu", "sigmoid", "tanh"}, default "relu"

    Returns
    -------
    grads : list of ndarray, shaped like ``weights``
    """
    X, y, weights, sigma = _validate(X, y, weights, activation)
    depth = len(weights)
    G = softmax_loss_grad(_layer_input(X, weights, depth - 1, sigma) @ weights[-1], y)
    grads = []  # from the last layer down
    for i in reversed(range(depth)):  # weights[i] is W_{i+1}
        Z = _layer_input(X, weights, i, sigma)  # i products: the price of keeping nothing
        if i < depth - 1:
            G = G * sigma.derivative(Z @ weights[i])
        grads.append(Z.T @ G)
        if i > 0:
            G = G @ weights[i].T
    return grads[::-1]


def _layer_input(X, weights, i, sigma):
    """The input of ``weights[i]`` (``Z_{i+1}``), recomputed from ``X``."""
    Z = X
    for W_j in weights[:i]:
        Z = sigma.forward(Z @ W_j)
    return Z


def mlp_gradients_checkpointed(
    X: np.ndarray,
    y: np.ndarray,
    weights: Sequence[np.ndarray],
    activation: str = "relu",
    every: int = 1,
) -> list[np.ndarray]:
    """The gradients of :func:`nnlib.mlp_gradients`, keeping only every ``every``-th layer input.

    Forward, keep ``Z_1 = X`` and the input of every ``every``-th layer after it (0-based:
    ``weights[i]``'s input for ``i`` a multiple of ``every``) and nothing else. Backward, from
    the top segment down, recompute one segment of ``every`` layers from its checkpoint, then
    backpropagate through it. ``every=1`` keeps every layer input (each pre-activation
    ``Z_i W_i`` is recomputed from it, one product per layer); ``every >= L`` keeps only ``X``.

    Parameters
    ----------
    X : ndarray of shape (N, D), float
    y : ndarray of shape (N,), integer
        Labels in [0, C).
    weights : list of ndarray
        ``[W_1, ..., W_L]``.
    activation : {"relu", "sigmoid", "tanh"}, default "relu"
    every : int, default 1
        A positive integer: the distance, in layers, between two checkpoints.

    Returns
    -------
    grads : list of ndarray, shaped like ``weights``
    """
    X, y, weights, sigma = _validate(X, y, weights, activation)
    every = require_positive_int("every", every)
    ### BEGIN SOLUTION
    L = len(weights)
    checkpoints = {0: X}  # layer index (0-based) -> that layer's input
    Z = X
    for i, W in enumerate(weights[:-1]):
        Z = sigma.forward(Z @ W)
        if (i + 1) % every == 0:
            checkpoints[i + 1] = Z
    G = softmax_loss_grad(Z @ weights[-1], y)  # G_{L+1}
    grads = [None] * L
    for start in range(((L - 1) // every) * every, -1, -every):  # the top segment first
        stop = min(start + every, L)
        inputs, pre, Z = [], [], checkpoints[start]
        for i in range(start, stop):  # rebuild the segment: layer inputs, pre-activations
            inputs.append(Z)
            if i < L - 1:  # the last layer is linear: no sigma' there
                pre.append(Z @ weights[i])
                Z = sigma.forward(pre[-1])
        for i in range(stop - 1, start - 1, -1):
            if i < L - 1:
                G = G * sigma.derivative(pre[i - start])
            grads[i] = inputs[i - start].T @ G
            if i > 0:
                G = G @ weights[i].T  # G_i, handed down to the segment below
    return grads
    ### END SOLUTION
