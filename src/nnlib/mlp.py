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

from ._blas import BatchRows, Gemm, batch_buffer
from ._label_positions import label_positions
from ._validation import (
    as_float_matrix,
    as_labels,
    require_positive_int,
    require_same_dtype,
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
    return [
        (rng.standard_normal((d_in, d_out)) * np.sqrt(2.0 / d_in)).astype(dtype)
        for d_in, d_out in pairwise(sizes)
    ]


def _validate_weights(X: np.ndarray, weights) -> list:
    if not isinstance(weights, (list, tuple)) or len(weights) == 0:
        raise TypeError("weights must be a non-empty list of 2-D arrays [W_0, ..., W_{L-1}]")
    width = X.shape[1]
    for i, W in enumerate(weights):
        as_float_matrix(f"weights[{i}]", W)
        if W.shape[0] != width:
            raise ValueError(
                f"weights[{i}] must have {width} rows to follow the previous layer "
                f"(width {width}), got shape {W.shape}"
            )
        width = W.shape[1]
    require_same_dtype(X=X, **{f"weights[{i}]": W for i, W in enumerate(weights)})
    return list(weights)


def mlp_forward(
    X: np.ndarray, weights: Sequence[np.ndarray], activation: str = "relu"
) -> tuple[np.ndarray, MLPCache]:
    """Forward pass of the MLP, keeping what the backward pass needs.

    Parameters
    ----------
    X : ndarray of shape (N, D), float
    weights : list of ndarray
        ``[W_1, ..., W_L]`` as from :func:`init_mlp`, same dtype as ``X``.
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
    G = dlogits  # G_{i+1} times sigma'(Z_i W_i), already "through" the activation of layer i
    for i in range(L - 1, -1, -1):
        grads[i] = cache.inputs[i].T @ G
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
    lr : float, default 0.1
    batch : int, default 100
    activation : {"relu", "sigmoid", "tanh"}, default "relu"

    Returns
    -------
    None
    """
    X = as_float_matrix("X", X)
    weights = _validate_weights(X, weights)
    as_labels("y", y, X.shape[0], weights[-1].shape[1])
    batch = require_positive_int("batch", batch)
    for i, W in enumerate(weights):
        require_writable(f"weights[{i}]", W)
    get_activation(activation)
    ### BEGIN SOLUTION
    N, L, C = X.shape[0], len(weights), weights[-1].shape[1]
    batch = min(batch, N)
    lr = float(lr)  # a Python float keeps float32 arithmetic float32 (a np.float64 would not)
    act = get_activation(activation)
    relu = activation == "relu"
    hidden = [W.shape[1] for W in weights[:-1]]  # d_1, ..., d_{L-1}
    # Layout (measured by `make bench`): at batches under 500, the hidden activations are
    # stored feature by feature, and each weight that produces one gets a transposed working
    # copy (copied back at the end): OpenBLAS then splits every product of a layer between
    # its threads by the same rows of W_i^T, so each core keeps its share of W_i in cache
    # (10-15% faster than row by row). From batch 500 on, row by row is faster (2-5%).
    by_feature = [batch < 500] * (L - 1) + [False]
    work = [np.asfortranarray(W) if t else W for W, t in zip(weights, by_feature, strict=True)]

    def buffers(dtype=X.dtype):  # one (batch, d_i) buffer per hidden layer, allocated once
        return [
            batch_buffer(batch, d, dtype, t) for d, t in zip(hidden, by_feature[:-1], strict=True)
        ]

    # U_bufs[i] holds the pre-activation Z_i W_i. For ReLU the layer output Z_{i+1} overwrites
    # it in place, and ReLU'(U) is read back from the output (U > 0 exactly where ReLU(U) > 0);
    # other activations keep U for their derivative (and allocate: the fast path is for ReLU).
    U_bufs = buffers()
    Z_bufs = U_bufs if relu else buffers()
    G_bufs = buffers()  # G_bufs[i] holds G_{i+1} times sigma'(U_i)
    mask_bufs = buffers(bool) if relu else []  # ReLU'(U_i), computed in the forward pass
    # Softmax works on the transposed logits, (C, m), which BLAS writes directly: it then
    # reduces over the first axis (C rows of length m, which numpy vectorizes) instead of over
    # m rows of length C, 5-20x slower.
    GT_buf = np.empty(C * batch, dtype=X.dtype)
    col_buf = np.empty(batch, dtype=X.dtype)
    label_pos = label_positions(y, batch)  # y_i * m + j: S - I_y without a one-hot matrix

    def plan(m):
        """The buffers' views and the products of a step on m rows, bound once."""
        rows = BatchRows(X, m)  # X_b, moved along X by rows.move_to(start)
        Z = [rows] + [b[:m] for b in Z_bufs]  # the layers' inputs Z_0 = X_b, ..., Z_{L-1}
        U = [b[:m] for b in U_bufs]
        masks = [b[:m] for b in mask_bufs]
        flat = GT_buf[: C * m]
        GT = flat.reshape(C, m)
        G = [b[:m] for b in G_bufs] + [GT.T]  # G[i]: gradient at the output of layer i
        step = lr / m  # folded into the products' alpha: no extra pass to scale a gradient
        forward = [Gemm(U[i], Z[i], work[i]) for i in range(L - 1)]
        forward.append(Gemm(GT.T, Z[L - 1], work[L - 1]))  # the logits, transposed
        # G_i = G_{i+1} W_i^T; the step size enters once, at the top (G_L = S - I_y).
        backward = [
            Gemm(G[i - 1], G[i], work[i].T, alpha=step if i == L - 1 else 1.0) for i in range(1, L)
        ]
        updates = [  # W_i -= Z_i^T G_{i+1}, one pass over W_i
            Gemm(work[i], Z[i].T, G[i], alpha=-step if i == L - 1 else -1.0, beta=1.0)
            for i in range(L)
        ]
        return rows, Z, U, masks, G, flat, GT, col_buf[:m], forward, backward, updates

    full_batch = plan(batch)
    try:
        for start in range(0, N, batch):
            m = min(batch, N - start)
            rows, Z, U, masks, G, flat, GT, col, forward, backward, updates = (
                full_batch if m == batch else plan(m)
            )
            rows.move_to(start)
            for i in range(L - 1):  # forward through the hidden layers
                forward[i]()
                if relu:
                    np.maximum(U[i], 0, out=Z[i + 1])  # same buffer as U[i]: in place
                    np.greater(Z[i + 1], 0, out=masks[i])  # ReLU'(U_i), while Z is in cache
                else:
                    Z[i + 1][...] = act.forward(U[i])
            forward[L - 1]()
            np.maximum.reduce(GT, axis=0, out=col)  # softmax of each column, stably, in place
            GT -= col
            np.exp(GT, out=GT)
            np.add.reduce(GT, axis=0, out=col)  # ufunc.reduce: np.max/np.sum add ~1 us a call
            GT /= col
            flat[label_pos[start : start + m]] -= 1  # G_L^T = (S - I_y)^T
            # Backward. Each W_i is updated as soon as its gradient is known: the recursion
            # reads W_i just before that and never again, so every gradient of the step still
            # comes from the weights before the step.
            for i in range(L - 1, 0, -1):
                backward[i - 1]()
                if relu:
                    G[i - 1] *= masks[i - 1]
                else:
                    G[i - 1] *= act.derivative(U[i - 1])
                updates[i]()
            updates[0]()
    finally:  # also after an interrupt: the weights hold every step taken
        for W, W_work in zip(weights, work, strict=True):
            if W_work is not W:
                W[...] = W_work
    ### END SOLUTION
