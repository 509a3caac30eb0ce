"""Tuned softmax regression epoch (same results as :func:`nnlib.softmax_regression_epoch`)."""

from __future__ import annotations

import numpy as np

from ._gemm import BatchRows, Gemm
from ._label_positions import label_positions
from ._layout import softmax_minus_labels


def run(X: np.ndarray, y: np.ndarray, theta: np.ndarray, lr: float, batch: int) -> None:
    """One epoch on validated arguments of one float dtype (float32 or float64)."""
    N, C = X.shape[0], theta.shape[1]
    batch = min(batch, N)
    # BLAS writes the (m, C) logits into a row-major buffer, copied into the softmax's
    # transposed buffer; both products then split the batch's rows between the threads
    # (below). Writing the logits transposed straight into the softmax's buffer saves that copy
    # but leaves the products to OpenBLAS's own split, which costs more at every batch size
    # `make bench` measures, the smallest included.
    logits_buf = np.empty((batch, C), dtype=X.dtype)
    ST_buf = np.empty(C * batch, dtype=X.dtype)
    col_buf = np.empty(batch, dtype=X.dtype)
    label_pos = label_positions(y, batch)  # y_i * m + j: S - I_y without a one-hot matrix

    def plan(m):
        """The buffers' views and the two products of a step on m rows, bound once."""
        rows = BatchRows(X, m)  # X_b, moved along X by rows.move_to(start)
        flat = ST_buf[: C * m]
        ST = flat.reshape(C, m)
        logits = logits_buf[:m]
        # Each BLAS thread takes the same block of the batch's rows in both products
        # (split_batch), so the update reads X_b from the cache the forward product left it
        # in. Gemm leaves blocks too small to split as one call.
        products = (
            Gemm(logits, rows, theta, split_batch=True),  # X_b theta
            # theta -= (lr / m) X_b^T G, the step size in BLAS's alpha, one pass over theta
            Gemm(theta, rows.T, ST.T, alpha=-lr / m, beta=1.0, split_batch=True),
        )
        return rows, logits, flat, ST, col_buf[:m], products

    full_batch = plan(batch)
    for start in range(0, N, batch):
        m = min(batch, N - start)
        rows, logits, flat, ST, col, (forward, update) = full_batch if m == batch else plan(m)
        rows.move_to(start)
        forward()
        np.copyto(ST, logits.T)
        softmax_minus_labels(ST, flat, col, label_pos[start : start + m])
        update()
