"""Tuned softmax regression epoch (same results as :func:`nnlib.softmax_regression_epoch`)."""

from __future__ import annotations

import numpy as np

from ._gemm import BatchRows, Gemm
from ._label_positions import label_positions
from ._layout import LARGE_BATCH, softmax_minus_labels


def run(X: np.ndarray, y: np.ndarray, theta: np.ndarray, lr: float, batch: int) -> None:
    """One epoch on validated arguments of one float dtype (float32 or float64)."""
    N, C = X.shape[0], theta.shape[1]
    batch = min(batch, N)
    large = batch >= LARGE_BATCH
    # Small batches: BLAS writes the logits transposed, (C, m), straight into the softmax's
    # buffer, from a transposed working copy of theta (copied back at the end): no copy of the
    # logits per batch. Large batches: the (m, C) logits are copied into that buffer, which
    # lets both products split the batch's rows between the threads (below).
    theta_work = theta if large else np.asfortranarray(theta)
    logits_buf = np.empty((batch, C), dtype=X.dtype) if large else None
    ST_buf = np.empty(C * batch, dtype=X.dtype)
    col_buf = np.empty(batch, dtype=X.dtype)
    label_pos = label_positions(y, batch)  # y_i * m + j: S - I_y without a one-hot matrix

    def plan(m):
        """The buffers' views and the two products of a step on m rows, bound once."""
        rows = BatchRows(X, m)  # X_b, moved along X by rows.move_to(start)
        flat = ST_buf[: C * m]
        ST = flat.reshape(C, m)
        logits = logits_buf[:m] if large else ST.T
        # Large batches: each BLAS thread takes the same block of the batch's rows in both
        # products (split_batch), so the update reads X_b from the cache the forward product
        # left it in. Gemm leaves blocks too small to split as one call.
        products = (
            Gemm(logits, rows, theta_work, split_batch=large),  # X_b theta
            # theta -= (lr / m) X_b^T G, the step size in BLAS's alpha, one pass over theta
            Gemm(theta_work, rows.T, ST.T, alpha=-lr / m, beta=1.0, split_batch=large),
        )
        return rows, logits, flat, ST, col_buf[:m], products

    full_batch = plan(batch)
    try:
        for start in range(0, N, batch):
            m = min(batch, N - start)
            rows, logits, flat, ST, col, (forward, update) = full_batch if m == batch else plan(m)
            rows.move_to(start)
            forward()
            if large:
                np.copyto(ST, logits.T)
            softmax_minus_labels(ST, flat, col, label_pos[start : start + m])
            update()
    finally:  # also after an interrupt: theta holds every step taken
        if theta_work is not theta:
            theta[...] = theta_work
