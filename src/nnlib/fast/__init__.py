"""nnlib.fast: the epochs of nnlib tuned to run near the speed of their matrix products.

Same signatures, checks and results as :func:`nnlib.softmax_regression_epoch`,
:func:`nnlib.nn_epoch` and :func:`nnlib.mlp_epoch` (minibatches in order, the last partial
batch included, weights updated in place), built differently: every matrix product of an
epoch is bound once to preallocated buffers and called per batch straight into OpenBLAS, with
the update fused into the product (``W -= lr X^T G`` as one BLAS call with ``beta = 1``), the
softmax on transposed logits, and the work split between threads so that each core keeps its
share of a weight in its cache (:mod:`nnlib.fast._gemm`, :mod:`nnlib.fast._binding`).

This is not a student task and not part of the student bundle; ``import nnlib`` does not import
it. ``make bench`` measures it against the matrix-multiply floor and against the reference
epochs, which read like the course; the tests check that both give the same weights.

What takes the tuned path: one float dtype throughout (float32 or float64), weights that are
distinct arrays. Mixed float dtypes (float32 data with float64 weights, say) and tied weights
(one array twice in ``weights``) run the reference epoch, which handles them as numpy would.
:func:`status` says which library and how many threads the products use, or why they run on
``np.matmul`` instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np

from .. import linear, mlp, two_layer
from . import _linear, _mlp, _two_layer
from ._binding import FORCE_FALLBACK_VARIABLE, Status, status

__all__ = [
    "FORCE_FALLBACK_VARIABLE",
    "Status",
    "mlp_epoch",
    "nn_epoch",
    "softmax_regression_epoch",
    "status",
]

_TUNED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _tuned(X: np.ndarray, weights: Sequence[np.ndarray]) -> bool:
    """Whether the tuned epoch can run: one float32/float64 dtype, no two weights overlapping."""
    if {X.dtype, *(W.dtype for W in weights)} not in ({d} for d in _TUNED_DTYPES):
        return False
    return not any(np.may_share_memory(a, b) for a, b in combinations(weights, 2))


def softmax_regression_epoch(
    X: np.ndarray, y: np.ndarray, theta: np.ndarray, lr: float = 0.1, batch: int = 100
) -> None:
    """Tuned :func:`nnlib.softmax_regression_epoch`: same arguments, same result.

    Parameters
    ----------
    X : ndarray of shape (N, D), float
    y : ndarray of shape (N,), integer
        Labels in [0, C).
    theta : ndarray of shape (D, C), float
        Updated in place.
    lr : float, default 0.1
    batch : int, default 100

    Returns
    -------
    None
    """
    X, y, theta, lr, batch = linear._validate_epoch(X, y, theta, lr, batch)
    if not _tuned(X, [theta]):
        linear.softmax_regression_epoch(X, y, theta, lr, batch)
        return
    _linear.run(X, y, theta, lr, batch)


def nn_epoch(
    X: np.ndarray,
    y: np.ndarray,
    W1: np.ndarray,
    W2: np.ndarray,
    lr: float = 0.1,
    batch: int = 100,
) -> None:
    """Tuned :func:`nnlib.nn_epoch`: same arguments, same result.

    Parameters
    ----------
    X : ndarray of shape (N, D), float
    y : ndarray of shape (N,), integer
        Labels in [0, C).
    W1 : ndarray of shape (D, H), float
        Updated in place.
    W2 : ndarray of shape (H, C), float
        Updated in place.
    lr : float, default 0.1
    batch : int, default 100

    Returns
    -------
    None
    """
    X, y, W1, W2, lr, batch = two_layer._validate_epoch(X, y, W1, W2, lr, batch)
    if not _tuned(X, [W1, W2]):
        two_layer.nn_epoch(X, y, W1, W2, lr, batch)
        return
    _two_layer.run(X, y, W1, W2, lr, batch)


def mlp_epoch(
    X: np.ndarray,
    y: np.ndarray,
    weights: Sequence[np.ndarray],
    lr: float = 0.1,
    batch: int = 100,
    activation: str = "relu",
) -> None:
    """Tuned :func:`nnlib.mlp_epoch`: same arguments, same result.

    Parameters
    ----------
    X : ndarray of shape (N, D), float
    y : ndarray of shape (N,), integer
    weights : list of ndarray, updated in place
    lr : float, default 0.1
    batch : int, default 100
    activation : {"relu", "sigmoid", "tanh"}, default "relu"
        The tuning is for ReLU; the others run the same products with their derivative
        computed into a temporary.

    Returns
    -------
    None
    """
    X, y, weights, lr, batch = mlp._validate_epoch(X, y, weights, lr, batch, activation)
    if not _tuned(X, weights):
        mlp.mlp_epoch(X, y, weights, lr, batch, activation)
        return
    _mlp.run(X, y, weights, lr, batch, activation)
