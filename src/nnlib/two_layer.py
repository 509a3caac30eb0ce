"""The two-layer network ``h(X) = ReLU(X W1) W2`` (no biases), its gradients and SGD epoch."""

from __future__ import annotations

import numpy as np

from ._blas import BatchRows, Gemm
from ._label_positions import label_positions
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

    In the course's notation (notebook 03): ``U1 = X W1``, ``Z2 = ReLU(U1)``,
    ``S = softmax(Z2 W2)`` and ``G3 = (S - I_y) / N``: ``dW2 = Z2^T G3`` and
    ``dW1 = X^T ((G3 W2^T) * 1[U1 > 0])``.

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
    N, H, C = X.shape[0], W1.shape[1], W2.shape[1]
    batch = min(batch, N)
    lr = float(lr)  # a Python float keeps float32 arithmetic float32 (a np.float64 would not)
    # Small batches (measured by `make bench`): the two products that touch W1 run as one
    # single-threaded product per BLAS thread, each on its own block of W1's columns
    # (split_columns), so each core keeps its block of W1 in cache; without it, W1 written by
    # one core in the update is read by both in the next forward (7-15% slower). From batch
    # 500 on, OpenBLAS's own threading is faster (10%).
    split = batch < 500
    # From batch 500 on, the three products that touch G2 (the logits, the backward and W2's
    # update) are faster on a row-major G2 than on the transposed softmax buffer, the backward
    # up to 2x: the logits are copied into that buffer and back (~10 us each a batch), and the
    # epoch gains 1-3% (hidden 100 and 400). At batch 100 the copies cost more than they save.
    G2_rows = not split
    # Buffers for one batch, allocated once; the last, smaller batch views their first rows.
    A1_buf = np.empty((batch, H), dtype=X.dtype)
    G1_buf = np.empty((batch, H), dtype=X.dtype)
    mask_buf = np.empty((batch, H), dtype=bool)
    # Softmax works on the transposed logits, (C, m), which BLAS writes directly below batch
    # 500: it then reduces over the first axis (C rows of length m, which numpy vectorizes)
    # instead of over m rows of length C, 5-20x slower.
    G2T_buf = np.empty(C * batch, dtype=X.dtype)
    col_buf = np.empty(batch, dtype=X.dtype)
    G2_buf = np.empty((batch, C), dtype=X.dtype) if G2_rows else None
    label_pos = label_positions(y, batch)  # y_i * m + j: S - I_y without a one-hot matrix

    def plan(m):
        """The buffers' views and the five products of a step on m rows, bound once."""
        rows = BatchRows(X, m)  # X_b, moved along X by rows.move_to(start)
        A1, G1, mask = A1_buf[:m], G1_buf[:m], mask_buf[:m]
        flat = G2T_buf[: C * m]
        G2T = flat.reshape(C, m)
        step = lr / m  # folded into the products' alpha: no extra pass to scale a gradient
        G2 = G2_buf[:m] if G2_rows else G2T.T  # the logits, then the gradient at them
        products = (
            Gemm(A1, rows, W1, split_columns=split),  # X_b W1, made ReLU(X_b W1) in place
            Gemm(G2, A1, W2),  # the logits
            Gemm(G1, G2, W2.T, alpha=step),  # (lr/m) G2 W2^T, W2 from before its update
            Gemm(W2, A1.T, G2, alpha=-step, beta=1.0),  # W2 -= (lr/m) A1^T G2, one pass
            # W1 -= X_b^T G1, one pass (G1 already carries lr/m)
            Gemm(W1, rows.T, G1, alpha=-1.0, beta=1.0, split_columns=split),
        )
        return rows, A1, G1, mask, flat, G2T, G2, col_buf[:m], products

    full_batch = plan(batch)
    for start in range(0, N, batch):
        m = min(batch, N - start)
        rows, A1, G1, mask, flat, G2T, G2, col, products = full_batch if m == batch else plan(m)
        forward, logits, backward, update_W2, update_W1 = products
        rows.move_to(start)
        forward()
        np.maximum(A1, 0, out=A1)  # A1 = ReLU(X_b W1), in place
        np.greater(A1, 0, out=mask)  # ReLU'(Z1) (A1 > 0 exactly where Z1 > 0), A1 in cache
        logits()
        if G2_rows:
            np.copyto(G2T, G2.T)
        np.maximum.reduce(G2T, axis=0, out=col)  # softmax of each column, stably, in place
        G2T -= col
        np.exp(G2T, out=G2T)
        np.add.reduce(G2T, axis=0, out=col)  # ufunc.reduce: np.max/np.sum add ~1 us a call
        G2T /= col
        flat[label_pos[start : start + m]] -= 1  # G2^T = (S - I_y)^T
        if G2_rows:
            np.copyto(G2, G2T.T)
        backward()
        G1 *= mask
        update_W2()
        update_W1()
    ### END SOLUTION
