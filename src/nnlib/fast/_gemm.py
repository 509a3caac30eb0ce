"""Matrix products for the fast path: bound once per epoch, then one BLAS call each.

An SGD epoch runs the same few products on the same buffers for every batch; only the rows
of ``X`` move. Three things ``np.matmul`` cannot do make up most of the gap to the pure
matrix-multiply time at small batches:

1. **beta.** BLAS computes ``C = alpha op(A) op(B) + beta C``. With ``beta = 1`` and
   ``alpha = -lr`` the update ``W -= lr * A.T @ B`` is one pass, straight into ``W``; through
   numpy it is a product, a scaled temporary and a second pass over ``W``.
2. **Per-call work.** ``np.matmul`` re-checks shapes, dtypes, strides and overlap on every call.
   A :class:`Gemm` checks once, when it is bound, and keeps the call's arguments ready, so
   each batch only moves a pointer (:class:`BatchRows`).
3. **Which core touches which weights.** OpenBLAS splits one product between its threads by
   rows of the output; the forward ``X_b W`` and the update ``W -= X_b^T G`` then split ``W``
   differently, and every batch half of ``W`` moves between the cores' caches.
   ``Gemm(..., split_columns=True)`` runs one single-threaded product per thread, each on
   its own block of columns, through OpenBLAS's ``cblas_?gemm_batch``: both products give
   every core the same block of ``W``. ``Gemm(..., split_batch=True)`` does the same with
   the batch's examples: each thread takes the same block of rows of ``X_b`` in the forward
   product and in the update, so the update finds its rows still in its core's cache.

Which library is called, and whether the batched call is used, is decided once per process by
:mod:`nnlib.fast._binding` (see :func:`nnlib.fast.status`). Where no library is bound,
:class:`Gemm` runs ``np.matmul`` into the same buffers, with a preallocated temporary for
``beta != 0``: the same results, with the extra passes over memory that 1. and 2. avoid.

Layout: BLAS reads a row-major (m, n) matrix from a pointer and a leading dimension, the
distance between rows, so any 2-D view with unit stride along one axis works without a copy:
along the rows, it is read as stored (``NoTrans``); along the columns, as the transpose of
what is stored (``Trans``). An output with unit stride along its columns (Fortran order) is
computed as its transpose, ``C.T = B.T @ A.T``.
"""

from __future__ import annotations

import ctypes
from itertools import pairwise

import numpy as np

from . import _binding

_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112  # CBLAS enums


def _address(M: np.ndarray) -> int:
    return M.__array_interface__["data"][0]


def _blas_layout(M: np.ndarray) -> tuple[int, int] | None:
    """``(trans, ld)`` that let row-major BLAS read the 2-D view ``M``, or None."""
    rows, cols = M.shape
    size = M.itemsize
    s_rows, s_cols = M.strides
    # Stored row by row: unit stride along a row, whole rows `ld` elements apart.
    if (cols <= 1 or s_cols == size) and (
        rows <= 1 or (s_rows > 0 and s_rows % size == 0 and s_rows // size >= cols)
    ):
        return _NO_TRANS, s_rows // size if rows > 1 else max(cols, 1)
    # Stored column by column: the transpose of a matrix stored row by row.
    if (rows <= 1 or s_rows == size) and (
        cols <= 1 or (s_cols > 0 and s_cols % size == 0 and s_cols // size >= rows)
    ):
        return _TRANS, s_cols // size if cols > 1 else max(rows, 1)
    return None


def cblas_arguments(out, A, a_ptr, B, b_ptr, alpha: float, beta: float):
    """The argument list of one row-major ``cblas_?gemm`` call for ``out = alpha A B + beta out``.

    ``A`` and ``B`` are views with the operands' shapes and strides; ``a_ptr`` and ``b_ptr``
    are ``ctypes.c_void_p`` objects holding their addresses (shared, so that moving one moves
    every call that holds it). None if some layout does not fit one call.
    """
    out_layout = _blas_layout(out)
    if out_layout is None:
        return None
    if out_layout[0] == _TRANS:  # Fortran-ordered out: compute out.T = B.T @ A.T instead
        out, (A, a_ptr), (B, b_ptr) = out.T, (B.T, b_ptr), (A.T, a_ptr)
        out_layout = _blas_layout(out)
    a_layout, b_layout = _blas_layout(A), _blas_layout(B)
    if a_layout is None or b_layout is None:
        return None
    (M, K), N = A.shape, B.shape[1]
    i64, scalar = ctypes.c_int64, _binding._SCALARS[out.dtype]
    return [
        ctypes.c_int(_ROW_MAJOR),
        ctypes.c_int(a_layout[0]),
        ctypes.c_int(b_layout[0]),
        i64(M),
        i64(N),
        i64(K),
        scalar(alpha),
        a_ptr,
        i64(a_layout[1]),
        b_ptr,
        i64(b_layout[1]),
        scalar(beta),
        ctypes.c_void_p(_address(out)),
        i64(out_layout[1]),
    ]


class BatchRows:
    """Rows ``start : start + rows`` of a 2-D array, as a :class:`Gemm` operand that moves.

    Every :class:`Gemm` bound to this object (or to its transpose ``.T``) reads the rows set
    by the last :meth:`move_to`, without a new view or a new argument list per batch.

    Parameters
    ----------
    X : ndarray of shape (N, D)
    rows : int
        Rows per window, at most N.
    """

    def __init__(self, X: np.ndarray, rows: int) -> None:
        if not 0 < rows <= X.shape[0]:
            raise ValueError(f"rows must be in [1, {X.shape[0]}] (the rows of X), got {rows}")
        self.X, self.rows, self.start = X, rows, 0
        self.pointer = ctypes.c_void_p(_address(X))  # shared by every Gemm that reads the rows
        # (pointer array, index, byte offset) of the blocks of split products (Gemm(split_...))
        self.slots = []
        self._base, self._row_bytes = _address(X), X.strides[0]

    def move_to(self, start: int) -> None:
        """Point every product bound to these rows at ``X[start : start + rows]``."""
        if not 0 <= start <= self.X.shape[0] - self.rows:
            raise ValueError(f"rows {start}:{start + self.rows} are not all inside X")
        self.start = start
        self.pointer.value = address = self._base + start * self._row_bytes
        for array, i, offset in self.slots:
            array[i] = address + offset

    @property
    def dtype(self) -> np.dtype:
        return self.X.dtype

    @property
    def shape(self) -> tuple[int, int]:
        return (self.rows, self.X.shape[1])

    def view(self) -> np.ndarray:
        """The current rows as an array view, shape (rows, D)."""
        return self.X[self.start : self.start + self.rows]

    @property
    def T(self) -> _TransposedRows:
        """The same moving rows, read transposed: shape (D, rows)."""
        return _TransposedRows(self)


class _TransposedRows:
    """``BatchRows(...).T``: follows its rows, read as their transpose."""

    def __init__(self, rows: BatchRows) -> None:
        self.T = rows
        self.dtype, self.shape = rows.dtype, rows.shape[::-1]

    def view(self) -> np.ndarray:
        return self.T.view().T


_MOVING = (BatchRows, _TransposedRows)


def _operand(M) -> tuple[np.ndarray, ctypes.c_void_p]:
    """A template view of an operand (for shape and strides) and its address object (shared
    with the BatchRows it follows, if any)."""
    if isinstance(M, BatchRows):
        return M.X[: M.rows], M.pointer
    if isinstance(M, _TransposedRows):
        return M.T.X[: M.T.rows].T, M.T.pointer
    M = np.asarray(M)
    return M, ctypes.c_void_p(_address(M))


# OpenBLAS 0.3.31's gemm_batch crashes (segmentation fault) on products small enough for its
# "small matrix" kernels, M * N * K <= 100^3, in DYNAMIC_ARCH builds such as numpy's (fixed
# upstream by OpenMathLib/OpenBLAS pull request 5980). Splitting only pays on large products
# anyway, so every block must be at least twice that; the child-process check of
# nnlib.fast._binding runs blocks of this size before any split product is used.
MIN_SPLIT_BLOCK_WORK = 2_000_000


def _even_blocks(n: int, blocks: int, align: int) -> list[tuple[int, int]]:
    """Split ``range(n)`` into at most ``blocks`` ranges whose inner edges are multiples of
    ``align``, as even as that allows; ``[(0, n)]`` if no split fits."""
    edges = sorted({round(n * k / blocks / align) * align for k in range(1, blocks)})
    edges = [e for e in edges if 0 < e < n]
    bounds = [0, *edges, n]
    return list(pairwise(bounds))


def _grouped_arguments(parts):
    """Arguments of one ``cblas_?gemm_batch`` call that runs ``parts``, the argument lists of
    single row-major ``cblas_?gemm`` calls (from :func:`cblas_arguments`), one group each.

    Also returns the array of the calls' ``A`` addresses, which :class:`BatchRows` rewrites.
    """
    n = len(parts)

    def column(k, ctype):
        return (ctype * n)(*(p[k].value for p in parts))

    i64, scalar = ctypes.c_int64, type(parts[0][6])
    a_array = column(7, ctypes.c_void_p)
    args = [parts[0][0], column(1, ctypes.c_int), column(2, ctypes.c_int)]
    args += [column(3, i64), column(4, i64), column(5, i64), column(6, scalar)]
    args += [a_array, column(8, i64), column(9, ctypes.c_void_p), column(10, i64)]
    args += [column(11, scalar), column(12, ctypes.c_void_p), column(13, i64)]
    args += [i64(n), (i64 * n)(*([1] * n))]  # n groups of one product each
    return args, a_array


def _split_arguments(blocks, a, a_ptr, alpha: float):
    """One single product per block, ready for :func:`_grouped_arguments`, or None.

    ``blocks`` is a list of ``(out_part, a_part, b_part, beta)``, each part a view (``a_part``
    of ``a``, whose address object is ``a_ptr``). Returns the argument lists and, per block,
    the byte offset of ``a_part`` in ``a``: where the block starts when ``a`` follows a
    :class:`BatchRows`.
    """
    parts, offsets = [], []
    for out_part, a_part, b_part, beta in blocks:
        offset = _address(a_part) - _address(a)
        pointer = ctypes.c_void_p(a_ptr.value + offset)
        b_pointer = ctypes.c_void_p(_address(b_part))
        args = cblas_arguments(out_part, a_part, pointer, b_part, b_pointer, alpha, beta)
        if args is None or args[7] is not pointer:  # a transposed out would swap A and B
            return None
        parts.append(args)
        offsets.append(offset)
    return parts, offsets


class Gemm:
    """``out[...] = alpha * A @ B + beta * out``, bound once to its arrays; call it to run it.

    Parameters
    ----------
    out : ndarray of shape (M, N), float32 or float64
        Written in place; any layout with unit stride along one axis takes the BLAS path.
    A : ndarray of shape (M, K), or BatchRows (rows, K), or its ``.T``
    B : ndarray of shape (K, N), or BatchRows, or its ``.T``
    alpha : float, default 1.0
    beta : float, default 0.0
        1.0 accumulates into ``out`` (the fused update ``W -= lr * A.T @ B``: ``beta=1``,
        ``alpha=-lr``).
    split_columns : bool, default False
        Run the product as one single-threaded product per BLAS thread, each on its own block
        of columns of ``out`` and ``B`` (edges on 64-byte boundaries), in one
        ``cblas_?gemm_batch`` call. Two products that split the same weight this way (the
        forward ``X W`` and the update ``W -= X^T G``) each touch one block from one core,
        so the weight stays in that core's cache instead of moving between cores every batch.
        Ignored where the batched call is not in use (:func:`nnlib.fast.status`), with one
        BLAS thread, when ``out`` is not
        stored row by row, or when a block would be smaller than
        :data:`MIN_SPLIT_BLOCK_WORK` multiply-adds.
    split_batch : bool, default False
        Like ``split_columns``, but each thread takes a block of the batch's rows: ``A`` must
        be a :class:`BatchRows` (the forward ``X_b W``: blocks of rows of ``out``) or its
        ``.T`` (the update ``W -= X_b^T G``: each block a partial sum over its rows, the
        first thread's into ``out``, the others' into a temporary of ``out``'s shape that is
        added after the call). numpy's OpenBLAS runs block k on thread k in every call (the
        first on the calling thread), so the update reads each core's rows of ``X_b`` from
        that core's cache, where the forward left them; a build that assigned blocks
        otherwise would give the same results without that gain. Worth it when
        ``out`` is small next to ``X_b`` (the extra addition is a pass over ``out``).
        Ignored as ``split_columns`` is, and when ``A`` is not the moving rows.

    Notes
    -----
    The object holds raw addresses of ``out``, ``A`` and ``B``: they must not be resized or
    replaced while it is in use (it keeps references, so they stay alive). ``out`` must not
    share memory with ``A`` or ``B``.
    """

    def __init__(
        self,
        out: np.ndarray,
        A,
        B,
        alpha: float = 1.0,
        beta: float = 0.0,
        split_columns: bool = False,
        split_batch: bool = False,
    ) -> None:
        (a, a_ptr), (b, b_ptr) = _operand(A), _operand(B)
        if a.ndim != 2 or b.ndim != 2 or out.ndim != 2:
            raise ValueError("Gemm multiplies 2-D arrays only")
        if a.shape[1] != b.shape[0] or out.shape != (a.shape[0], b.shape[1]):
            raise ValueError(
                f"shapes do not chain: out {out.shape} = A {a.shape} @ B {b.shape}; "
                f"out must be {(a.shape[0], b.shape[1])} and A's columns match B's rows"
            )
        if not (out.dtype == a.dtype == b.dtype):
            raise TypeError(
                f"out, A and B must share one dtype, got {out.dtype}, {a.dtype}, {b.dtype}"
            )
        if np.may_share_memory(out, a) or np.may_share_memory(out, b):
            raise ValueError(
                "Gemm: out shares memory with A or B; BLAS reads its operands while it writes "
                "out, so they must not overlap"
            )
        self.out, self.A, self.B = out, A, B
        self.alpha, self.beta = float(alpha), float(beta)
        binding = _binding.load()
        fn = binding.gemm.get(out.dtype)
        self._args = None
        if fn is not None and 0 not in (*a.shape, b.shape[1]):
            self._args = cblas_arguments(out, a, a_ptr, b, b_ptr, self.alpha, self.beta)
        self._fn = fn
        self.blocks = 1
        self._partials = ()  # split_batch on the shared dimension: the other threads' sums
        if split_columns and split_batch:
            raise ValueError("split_columns and split_batch exclude each other; pick one")
        batch_fn = binding.gemm_batch.get(out.dtype)
        self._threads = binding.threads() if batch_fn is not None else 1
        split = None
        if self._args is not None and batch_fn is not None and not isinstance(B, _MOVING):
            if split_columns:
                split = self._split_columns(out, a, a_ptr, b)
            elif split_batch and isinstance(A, _MOVING):
                split = self._split_batch(out, A, a, a_ptr, b)
        if split is not None:
            parts, offsets, self._partials = split
            self._fn, (self._args, a_array) = batch_fn, _grouped_arguments(parts)
            self.blocks = len(parts)
            rows = A.T if isinstance(A, _TransposedRows) else A
            if isinstance(rows, BatchRows):
                rows.slots += [(a_array, i, offset) for i, offset in enumerate(offsets)]
        self._tmp = None
        if self._args is None and self.beta != 0.0:
            self._tmp = np.empty_like(out)  # the fallback's one temporary, allocated once

    def _split_columns(self, out, a, a_ptr, b):
        """Blocks of columns of ``out`` and ``b``, one per thread; None if too small."""
        align = max(1, 64 // out.itemsize)  # whole cache lines, whole kernel tiles
        blocks = _even_blocks(out.shape[1], self._threads, align)
        (M, K), narrowest = a.shape, min(hi - lo for lo, hi in blocks)
        if len(blocks) < 2 or M * K * narrowest < MIN_SPLIT_BLOCK_WORK:
            return None
        views = [(out[:, lo:hi], a, b[:, lo:hi], self.beta) for lo, hi in blocks]
        split = _split_arguments(views, a, a_ptr, self.alpha)
        return None if split is None else (*split, ())

    def _split_batch(self, out, A, a, a_ptr, b):
        """Blocks of the batch's rows, one per thread; None if too small.

        ``A`` is rows of X, (m, K): block k computes rows of ``out``. ``A`` is their
        transpose, (D, m): the rows are the shared dimension, so block k computes a partial
        sum; the first thread's goes straight into ``out``, the others' into ``_partials``,
        which the call adds to ``out`` afterwards.
        """
        forward = isinstance(A, BatchRows)
        (M, K), N = a.shape, b.shape[1]
        blocks = _even_blocks(M if forward else K, self._threads, 1)
        fewest = min(hi - lo for lo, hi in blocks)
        if len(blocks) < 2 or fewest * (K if forward else M) * N < MIN_SPLIT_BLOCK_WORK:
            return None
        if forward:
            views = [(out[lo:hi], a[lo:hi], b, self.beta) for lo, hi in blocks]
            partials = ()
        else:
            partials = tuple(np.empty_like(out) for _ in blocks[1:])
            betas = (self.beta, *[0.0] * len(partials))
            views = [
                (part_out, a[:, lo:hi], b[lo:hi], beta)
                for part_out, (lo, hi), beta in zip((out, *partials), blocks, betas, strict=True)
            ]
        split = _split_arguments(views, a, a_ptr, self.alpha)
        return None if split is None else (*split, partials)

    @property
    def uses_blas(self) -> bool:
        """True when calls go straight to numpy's ``cblas_?gemm``, False on the numpy fallback."""
        return self._args is not None

    def __call__(self) -> None:
        if self._args is not None:
            self._fn(*self._args)
            for partial in self._partials:
                np.add(self.out, partial, out=self.out)
            return
        A = self.A.view() if isinstance(self.A, _MOVING) else self.A
        B = self.B.view() if isinstance(self.B, _MOVING) else self.B
        out, alpha, beta = self.out, self.alpha, self.beta
        if beta == 0.0:
            np.matmul(A, B, out=out)
            if alpha != 1.0:
                out *= alpha  # a Python float: float32 stays float32
            return
        np.matmul(A, B, out=self._tmp)
        if alpha != 1.0:
            self._tmp *= alpha
        if beta != 1.0:
            out *= beta
        out += self._tmp
