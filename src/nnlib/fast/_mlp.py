"""Tuned L-layer epoch (same results as :func:`nnlib.mlp_epoch`)."""

from __future__ import annotations

import numpy as np

from ..activations import get_activation
from ._gemm import BatchRows, Gemm
from ._label_positions import label_positions
from ._layout import LARGE_BATCH, softmax_minus_labels


def batch_buffer(rows: int, cols: int, dtype, feature_major: bool = False) -> np.ndarray:
    """An uninitialized (rows, cols) buffer, stored row by row, or column by column.

    ``feature_major=True`` stores each column (one feature over the batch) contiguously: the
    array is the transpose of a C-ordered (cols, rows) one. Elementwise work does not care;
    BLAS reads either (see :mod:`nnlib.fast._gemm`).
    """
    if feature_major:
        return np.empty((cols, rows), dtype=dtype).T
    return np.empty((rows, cols), dtype=dtype)


def run(X, y, weights: list, lr: float, batch: int, activation: str) -> None:
    """One epoch on validated arguments of one float dtype, no two weights sharing memory."""
    N, L, C = X.shape[0], len(weights), weights[-1].shape[1]
    batch = min(batch, N)
    act = get_activation(activation)
    relu = activation == "relu"
    hidden = [W.shape[1] for W in weights[:-1]]  # d_1, ..., d_{L-1}
    # Small batches: the hidden activations are stored feature by feature, and each weight
    # that produces one gets a transposed working copy (copied back at the end). OpenBLAS
    # then splits every product of a layer between its threads by the same rows of W_i^T, so
    # each core keeps its share of W_i in its cache. Large batches: row by row.
    by_feature = [batch < LARGE_BATCH] * (L - 1) + [False]
    work = [np.asfortranarray(W) if t else W for W, t in zip(weights, by_feature, strict=True)]

    def buffers(dtype=X.dtype):  # one (batch, d_i) buffer per hidden layer, allocated once
        return [
            batch_buffer(batch, d, dtype, t) for d, t in zip(hidden, by_feature[:-1], strict=True)
        ]

    # U_bufs[i] holds the pre-activation Z_i W_i. For ReLU the layer output Z_{i+1} overwrites
    # it in place, and ReLU'(U) is read back from the output (U > 0 exactly where ReLU(U) > 0);
    # other activations keep U for their derivative (and allocate: the tuning is for ReLU).
    U_bufs = buffers()
    Z_bufs = U_bufs if relu else buffers()
    G_bufs = buffers()  # G_bufs[i] holds G_{i+1} times sigma'(U_i)
    mask_bufs = buffers(bool) if relu else []  # ReLU'(U_i), computed in the forward pass
    GT_buf = np.empty(C * batch, dtype=X.dtype)  # the softmax's transposed logits, (C, m)
    col_buf = np.empty(batch, dtype=X.dtype)
    label_pos = label_positions(y, batch)  # y_i * m + j: S - I_y without a one-hot matrix

    def plan(m):
        """The buffers' views and the products of a step on m rows, bound once."""
        rows = BatchRows(X, m)  # X_b, moved along X by rows.move_to(start)
        Z = [rows] + [b[:m] for b in Z_bufs]  # the layers' inputs Z_1 = X_b, ..., Z_L
        U = [b[:m] for b in U_bufs]
        masks = [b[:m] for b in mask_bufs]
        flat = GT_buf[: C * m]
        GT = flat.reshape(C, m)
        G = [b[:m] for b in G_bufs] + [GT.T]  # G[i]: gradient at Z[i + 1], the course's G_{i+2}
        step = lr / m  # folded into the products' alpha: no extra pass to scale a gradient
        forward = [Gemm(U[i], Z[i], work[i]) for i in range(L - 1)]
        forward.append(Gemm(GT.T, Z[L - 1], work[L - 1]))  # the logits, transposed
        # Z[i] is the course's Z_{i+1} and work[i] its W_{i+1} (lists count from 0, the course from
        # 1). G[i-1] = G[i] W[i]^T; the step size enters once, at the top (S - I_y, unscaled).
        backward = [
            Gemm(G[i - 1], G[i], work[i].T, alpha=step if i == L - 1 else 1.0) for i in range(1, L)
        ]
        updates = [  # W[i] -= Z[i]^T G[i], one pass over W[i]
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
            softmax_minus_labels(GT, flat, col, label_pos[start : start + m])  # (S - I_y)^T
            # Backward. Each W_i is updated as soon as its gradient is known: the recursion
            # reads W_i just before that and never again, so every gradient of the step still
            # comes from the weights before the step (which is why tied weights, one array
            # twice in the list, take the reference epoch instead).
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
