"""Layout choices the tuned epochs share, and the softmax they all run on transposed logits."""

from __future__ import annotations

import numpy as np

LARGE_BATCH = 500
"""From this many rows per batch on, the two-layer and MLP epochs use the layouts of large products.

Below it, the per-batch products are small and what costs is moving weights between the
cores' caches, so those epochs keep each core on its own block of a weight (transposed working
copies, products split by columns); from it on, the products are large enough for OpenBLAS's
own threading and row-major buffers. The epochs' comments give the reason for each choice;
``make bench`` (batches 100 and 1000) measures both sides of the switch.
"""


def softmax_minus_labels(ST: np.ndarray, flat: np.ndarray, col: np.ndarray, pos: np.ndarray):
    """``ST <- (softmax - I_y)^T`` in place, for transposed logits ``ST`` of shape (C, m).

    Reducing over the first axis (C rows of length m, which numpy vectorizes) is much faster
    than over m rows of length C, the layout of ``A1 @ W2``; ``flat`` is ``ST`` as a flat
    view, ``col`` an (m,) buffer and ``pos`` the label positions of the batch
    (:func:`~nnlib.fast._label_positions.label_positions`).
    """
    np.maximum.reduce(ST, axis=0, out=col)  # softmax of each column, stably, in place
    ST -= col
    np.exp(ST, out=ST)
    np.add.reduce(ST, axis=0, out=col)  # ufunc.reduce: skips the wrappers of np.max / np.sum
    ST /= col
    flat[pos] -= 1  # minus I_y, without a one-hot matrix
