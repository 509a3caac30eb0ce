"""Matrix multiplies for the fast path, straight through BLAS ``gemm`` (scipy's wrappers).

Two reasons not to use ``@`` there:

1. **A fused update.** ``W -= lr * (A.T @ B)`` makes the product, then a scaled temporary,
   then a second pass over ``W``. BLAS computes ``C = alpha op(A) op(B) + beta C``; with
   ``beta = 1`` and ``alpha = -lr`` it adds the scaled product straight into ``W`` in one pass,
   with no temporary (:func:`subtract_AtB`). numpy does not expose ``beta``; scipy's BLAS
   does.
2. **One thread pool.** numpy and scipy installed from wheels each bring their own OpenBLAS,
   each with its own worker threads, which spin for a while after every call. Alternating
   between the two every few microseconds makes the idle pool's threads fight the busy
   pool's for the cores (measured on 2 cores: a two-layer epoch 3-45x slower), so once the
   update goes through scipy, every other multiply of the epoch does too
   (:func:`matmul_into`). :class:`EpochGemm` picks one of the two builds for a whole epoch.

Layout: BLAS is column-major. A C-contiguous (m, n) array *is* the Fortran-contiguous (n, m)
array of its transpose, so ``out = A @ B`` is computed as ``out.T = B.T @ A.T`` with every
operand passed as the transposed view (no copy) and the ``trans`` flags set to match.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg.blas import dgemm, sgemm

_GEMM = {np.dtype(np.float32): sgemm, np.dtype(np.float64): dgemm}


def _as_fortran(M: np.ndarray) -> tuple[np.ndarray, int]:
    """``(F, trans)`` with ``op(F) = M`` and ``F`` Fortran-contiguous when ``M`` is either order."""
    if M.flags.f_contiguous:
        return M, 0
    return M.T, 1  # M.T is Fortran-contiguous if M is C-contiguous (if strided, scipy copies)


def _gemm_for(out: np.ndarray, A: np.ndarray, B: np.ndarray):
    """The gemm for ``out``'s dtype if ``out`` is C-contiguous and all dtypes match, else None."""
    dtype = out.dtype
    if A.dtype != dtype or B.dtype != dtype or not out.flags.c_contiguous:
        return None
    return _GEMM.get(dtype)


def matmul_into(out: np.ndarray, A: np.ndarray, B: np.ndarray) -> None:
    """``out[...] = A @ B``, like ``np.matmul(A, B, out=out)``, through scipy's BLAS.

    Parameters
    ----------
    out : ndarray of shape (M, N), float32 or float64
        Written in place.
    A : ndarray of shape (M, K), same dtype as ``out``
    B : ndarray of shape (K, N), same dtype as ``out``

    Returns
    -------
    None
    """
    gemm = _gemm_for(out, A, B)
    if gemm is None or A.size == 0 or B.size == 0:
        np.matmul(A, B, out=out)  # float16, strided out, mixed dtypes, empty: plain numpy
        return
    a, trans_a = _as_fortran(B.T)  # out.T = B.T @ A.T
    b, trans_b = _as_fortran(A.T)
    c = out.T
    if gemm(1.0, a, b, trans_a=trans_a, trans_b=trans_b, c=c, overwrite_c=1) is not c:
        raise RuntimeError("BLAS gemm did not write in place")  # cannot happen: c is Fortran


def subtract_AtB(W: np.ndarray, A: np.ndarray, B: np.ndarray, scale: float = 1.0) -> None:
    """``W -= scale * A.T @ B`` in place, fused into one BLAS call (``beta = 1``) where it can be.

    Parameters
    ----------
    W : ndarray of shape (D, H), float32 or float64
        Updated in place.
    A : ndarray of shape (N, D), same dtype as ``W``
    B : ndarray of shape (N, H), same dtype as ``W``
    scale : float, default 1.0
        Goes into BLAS's ``alpha``, so scaling costs nothing (SGD passes ``lr / N`` here).

    Returns
    -------
    None
    """
    gemm = _gemm_for(W, A, B)
    if gemm is None or A.size == 0 or B.size == 0:
        W -= (A.T @ B) * W.dtype.type(scale)  # float16, strided W, mixed dtypes: plain numpy
        return
    a, trans_a = _as_fortran(B.T)  # W.T += -scale * B.T @ A
    b, trans_b = _as_fortran(A)
    c = W.T
    if gemm(-scale, a, b, beta=1.0, trans_a=trans_a, trans_b=trans_b, c=c, overwrite_c=1) is not c:
        raise RuntimeError("BLAS gemm did not write in place")  # cannot happen: c is Fortran


class EpochGemm:
    """The matrix multiplies of one SGD epoch, all through one BLAS build.

    Parameters
    ----------
    fused : bool
        True: every multiply goes through scipy's BLAS, and ``W -= A.T @ B`` is one gemm call
        with ``beta = 1`` (:func:`subtract_AtB`). False: numpy's ``matmul`` into buffers, and
        the update is ``dW = A.T @ B`` into a preallocated ``dW``, then ``W -= dW``.
    weights : list of ndarray
        The weights the epoch updates (for ``fused=False``, each gets one ``dW`` buffer).
    """

    def __init__(self, fused: bool, weights) -> None:
        self.fused = fused
        self._dW = {} if fused else {id(W): np.empty_like(W) for W in weights}

    def matmul_into(self, out: np.ndarray, A: np.ndarray, B: np.ndarray) -> None:
        """``out[...] = A @ B``."""
        if self.fused:
            matmul_into(out, A, B)
        else:
            np.matmul(A, B, out=out)

    def subtract_AtB(self, W: np.ndarray, A: np.ndarray, B: np.ndarray) -> None:
        """``W -= A.T @ B`` in place."""
        if self.fused:
            subtract_AtB(W, A, B)
        else:
            dW = self._dW[id(W)]
            np.matmul(A.T, B, out=dW)
            W -= dW
