"""Tuned two-layer epoch (same results as :func:`nnlib.nn_epoch`)."""

from __future__ import annotations

import numpy as np

from ._gemm import BatchRows, Gemm
from ._label_positions import label_positions
from ._layout import LARGE_BATCH, softmax_minus_labels


def run(X, y, W1, W2, lr: float, batch: int) -> None:
    """One epoch on validated arguments of one float dtype (float32 or float64)."""
    # Buffer names count the hidden layer as layer 1 (as the fast path always has); in the
    # course's notation (notebook 03) A1 is Z_2 = ReLU(U_1), G2 is the gradient at the logits
    # G_3, and G1 is G_2 * 1[U_1 > 0], the gradient at the pre-activation U_1.
    N, H, C = X.shape[0], W1.shape[1], W2.shape[1]
    batch = min(batch, N)
    large = batch >= LARGE_BATCH
    # Small batches: the two products that touch W1 (the forward X_b W1 and the update
    # W1 -= X_b^T G1) run as one single-threaded product per BLAS thread, each on its own
    # block of W1's columns (split_columns), so each core keeps its block of W1 in its cache;
    # with OpenBLAS's own split, W1 written by one core in the update is read by both in the
    # next forward product. Large batches: the products are big enough for OpenBLAS's own.
    split = not large
    # Large batches: the three products that touch G2 (the logits, the backward product and
    # W2's update) read a row-major G2 faster than the transposed softmax buffer, which then
    # costs two copies a batch; at small batches the copies cost more than they save.
    G2_rows = large
    # Buffers for one batch, allocated once; the last, smaller batch views their first rows.
    A1_buf = np.empty((batch, H), dtype=X.dtype)
    G1_buf = np.empty((batch, H), dtype=X.dtype)
    mask_buf = np.empty((batch, H), dtype=bool)
    G2T_buf = np.empty(C * batch, dtype=X.dtype)  # the softmax's transposed logits, (C, m)
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
        softmax_minus_labels(G2T, flat, col, label_pos[start : start + m])  # G2^T, unscaled
        if G2_rows:
            np.copyto(G2, G2T.T)
        backward()
        G1 *= mask
        update_W2()
        update_W1()
