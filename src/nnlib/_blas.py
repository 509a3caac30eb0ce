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

Where numpy's wheel exposes its own OpenBLAS's ``cblas_?gemm`` (Linux and macOS wheels of
numpy 2, as ``scipy_cblas_?gemm64_``), :func:`numpy_blas_subtract_AtB` calls it through
ctypes: the fused update *and* numpy's ``matmul`` for everything else, in one thread pool.
Elsewhere :data:`NUMPY_CBLAS` is empty and the two options above are what is left.

Layout: BLAS is column-major. A C-contiguous (m, n) array *is* the Fortran-contiguous (n, m)
array of its transpose, so ``out = A @ B`` is computed as ``out.T = B.T @ A.T`` with every
operand passed as the transposed view (no copy) and the ``trans`` flags set to match.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np
from scipy.linalg.blas import dgemm, sgemm

_GEMM = {np.dtype(np.float32): sgemm, np.dtype(np.float64): dgemm}

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112  # CBLAS enums


def _load_numpy_cblas(root: Path | None = None) -> dict:
    """numpy's own OpenBLAS ``cblas_sgemm``/``cblas_dgemm`` (64-bit ints) by dtype, or ``{}``.

    Looks only where numpy's wheels put their OpenBLAS (next to ``root``, numpy's package
    directory by default), checks that both symbols exist and that they compute a small
    product correctly; any surprise gives ``{}`` (the fallback).
    """
    root = Path(np.__file__).parent if root is None else Path(root)
    paths = sorted(root.parent.glob("numpy.libs/libscipy_openblas64_*")) + sorted(
        root.glob(".dylibs/libscipy_openblas64_*")
    )
    if not paths:
        return {}
    i64, ptr = ctypes.c_int64, ctypes.c_void_p
    found = {}
    try:
        lib = ctypes.CDLL(str(paths[0]))
        for dtype, name, scalar in (
            (np.float32, "scipy_cblas_sgemm64_", ctypes.c_float),
            (np.float64, "scipy_cblas_dgemm64_", ctypes.c_double),
        ):
            fn = getattr(lib, name)
            enum = ctypes.c_int
            fn.argtypes = [enum, enum, enum, i64, i64, i64, scalar, ptr, i64, ptr, i64]
            fn.argtypes += [scalar, ptr, i64]
            fn.restype = None
            found[np.dtype(dtype)] = fn
    except (OSError, AttributeError):  # not loadable, or another build without the symbols
        return {}
    for dtype in found:  # W -= A^T B on a 2x3 example, checked against numpy
        A = np.arange(8, dtype=dtype).reshape(4, 2)
        B = np.arange(12, dtype=dtype).reshape(4, 3)[:, ::-1].copy()
        W = np.ones((2, 3), dtype=dtype)
        done = _cblas_subtract_AtB(found[dtype], W, A, B, 1.0)
        if not done or not np.array_equal(W, 1 - A.T @ B):
            return {}
    return found


def _cblas_subtract_AtB(fn, W, A, B, scale) -> bool:
    """``W -= scale * A.T @ B`` as one row-major CBLAS ``fn`` call; False if the layout does not
    fit one call (W not C-contiguous, A or B neither C- nor Fortran-contiguous)."""
    if not W.flags.c_contiguous:
        return False
    (K, M), N = A.shape, B.shape[1]
    if A.flags.c_contiguous:  # A^T is A read transposed, rows of length M
        trans_a, lda = _TRANS, M
    elif A.T.flags.c_contiguous:
        trans_a, lda = _NO_TRANS, K
    else:
        return False
    if B.flags.c_contiguous:
        trans_b, ldb = _NO_TRANS, N
    elif B.T.flags.c_contiguous:
        trans_b, ldb = _TRANS, K
    else:
        return False
    a, b, w = A.ctypes.data, B.ctypes.data, W.ctypes.data
    fn(
        _ROW_MAJOR,
        trans_a,
        trans_b,
        M,
        N,
        K,
        -scale,
        a,
        max(lda, 1),
        b,
        max(ldb, 1),
        1.0,
        w,
        max(N, 1),
    )
    return True


NUMPY_CBLAS = _load_numpy_cblas()


def numpy_blas_subtract_AtB(
    W: np.ndarray, A: np.ndarray, B: np.ndarray, scale: float = 1.0
) -> None:
    """:func:`subtract_AtB` through numpy's own OpenBLAS (:data:`NUMPY_CBLAS`), same arguments.

    Falls back to ``W -= scale * (A.T @ B)`` where that is unavailable or the layout does not
    fit one call.
    """
    fn = NUMPY_CBLAS.get(W.dtype)
    if fn is None or A.dtype != W.dtype or B.dtype != W.dtype or A.size == 0 or B.size == 0:
        W -= (A.T @ B) * W.dtype.type(scale)
    elif not _cblas_subtract_AtB(fn, W, A, B, scale):
        W -= (A.T @ B) * W.dtype.type(scale)


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
    numpy_blas : bool, default False
        True: where numpy's own ``cblas_?gemm`` is reachable (:data:`NUMPY_CBLAS`), ignore
        ``fused``: numpy's ``matmul`` for the products and the update fused into one gemm
        call of numpy's BLAS (:func:`numpy_blas_subtract_AtB`), all in one thread pool.
    """

    def __init__(self, fused: bool, weights, numpy_blas: bool = False) -> None:
        dtypes = {W.dtype for W in weights}
        self.numpy_fused = numpy_blas and all(d in NUMPY_CBLAS for d in dtypes)
        self.fused = fused and not self.numpy_fused  # fused through scipy's BLAS
        unfused = not (self.fused or self.numpy_fused)
        self._dW = {id(W): np.empty_like(W) for W in weights} if unfused else {}

    def matmul_into(self, out: np.ndarray, A: np.ndarray, B: np.ndarray) -> None:
        """``out[...] = A @ B``."""
        if self.fused:
            matmul_into(out, A, B)
        else:
            np.matmul(A, B, out=out)

    def subtract_AtB(self, W: np.ndarray, A: np.ndarray, B: np.ndarray, scale: float = 1.0) -> None:
        """``W -= scale * A.T @ B`` in place (``scale`` costs nothing when fused)."""
        if self.numpy_fused:
            numpy_blas_subtract_AtB(W, A, B, scale)
        elif self.fused:
            subtract_AtB(W, A, B, scale)
        else:
            dW = self._dW[id(W)]
            np.matmul(A.T, B, out=dW)
            if scale != 1.0:
                dW *= scale
            W -= dW
