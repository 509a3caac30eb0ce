"""Where ``S - I_y`` subtracts 1: the label of each example in its batch's transposed buffer."""

from __future__ import annotations

import numpy as np


def label_positions(y: np.ndarray, batch: int) -> np.ndarray:
    """Flat position of each example's label in its batch's ``(C, m)`` buffer, ``y_i * m + j``.

    An epoch's softmax works on the transposed scores ``S^T`` of shape ``(C, m)``, stored flat;
    with these positions ``S - I_y`` is one subtraction, ``flat[pos[start:start + m]] -= 1``,
    with no one-hot matrix.

    Parameters
    ----------
    y : ndarray of shape (N,), integer
        Labels, already checked to lie in ``[0, C)``.
    batch : int
        Rows per batch, ``1 <= batch <= N``; the last batch has ``m = N - (N // batch) * batch``
        rows when that is not 0.

    Returns
    -------
    pos : ndarray of shape (N,), intp
        ``pos[start + j] = y[start + j] * m + j`` for row ``j`` of the batch that starts at
        ``start`` and has ``m`` rows.
    """
    N = y.shape[0]
    pos = y.astype(np.intp)  # a copy, as intp: uint64 labels would make it float
    full = N - N % batch  # examples in full batches
    for block, m in ((pos[:full].reshape(-1, batch), batch), (pos[full:], N - full)):
        block *= m  # in place, one row per batch: no (N,) temporary of tiled row numbers
        block += np.arange(m)  # j: row within its batch
    return pos
