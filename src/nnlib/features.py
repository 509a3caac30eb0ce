"""Feature maps phi(x) for 2-D inputs: a hand-made one and random ReLU features."""

from __future__ import annotations

import numpy as np

from ._validation import as_float_matrix, require_float_dtype, require_positive_int


def radial_features(X: np.ndarray) -> np.ndarray:
    """Append the squared radius ``x^2 + y^2`` to 2-D points.

    With this third coordinate, two concentric rings become separable by a plane.

    Parameters
    ----------
    X : ndarray of shape (N, 2), float

    Returns
    -------
    Phi : ndarray of shape (N, 3), same dtype as ``X``
        Columns ``x``, ``y``, ``x^2 + y^2``.
    """
    X = as_float_matrix("X", X)
    if X.shape[1] != 2:
        raise ValueError(f"X must have shape (N, 2) (points in the plane), got {X.shape}")
    ### BEGIN SOLUTION
    return np.concatenate([X, (X * X).sum(axis=1, keepdims=True)], axis=1)
    ### END SOLUTION


def random_relu_features(X: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Random ReLU features ``max(X W, 0)`` for a fixed random projection ``W``.

    Parameters
    ----------
    X : ndarray of shape (N, D), float
    W : ndarray of shape (D, H), same dtype as ``X``
        A random matrix, e.g. from :func:`random_projection`, kept fixed (not trained).

    Returns
    -------
    Phi : ndarray of shape (N, H), same dtype as ``X``
    """
    X = as_float_matrix("X", X)
    W = as_float_matrix("W", W)
    if W.shape[0] != X.shape[1]:
        raise ValueError(f"W must have {X.shape[1]} rows to multiply X, got shape {W.shape}")
    ### BEGIN SOLUTION
    return np.maximum(X @ W, 0)
    ### END SOLUTION


def random_projection(
    d_in: int, n_features: int, rng: np.random.Generator, dtype=np.float32
) -> np.ndarray:
    """A Gaussian matrix of shape (d_in, n_features) for :func:`random_relu_features`."""
    d_in = require_positive_int("d_in", d_in)
    n_features = require_positive_int("n_features", n_features)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return rng.standard_normal((d_in, n_features)).astype(require_float_dtype("dtype", dtype))
