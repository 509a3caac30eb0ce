"""Child-process check of OpenBLAS's batched call: ``python -m nnlib.fast._probe LIBRARY``.

Runs, through ``cblas_?gemm_batch`` of ``LIBRARY``, the split products :mod:`nnlib.fast` makes
(blocks of columns, blocks of a batch's rows, as forward products and as fused updates, the
smallest blocks :data:`~nnlib.fast._gemm.MIN_SPLIT_BLOCK_WORK` allows and larger ones, float32
and float64) and compares each with numpy. Exit status 0 when all agree; anything else
(a wrong result, an exception, a crash) tells the parent not to use the batched call.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from . import _binding, _gemm


def _check(name, got, want, dtype) -> None:
    tol = 1e-4 if dtype == np.float32 else 1e-10
    if not np.allclose(got, want, rtol=tol, atol=tol * max(1.0, float(np.abs(want).max()))):
        raise SystemExit(f"{name}: the batched call gave a wrong result")


def run(path: Path) -> None:
    lib, config = _binding._open(path)
    if lib is None:
        raise SystemExit(config)
    threads = lib.scipy_openblas_get_num_threads64_
    threads.restype, threads.argtypes = _binding.ctypes.c_int, []
    binding = _binding.Binding(gemm=_binding._gemm_functions(lib), threads=threads)
    for dtype, scalar in _binding._SCALARS.items():
        fn = getattr(lib, f"scipy_cblas_{_binding._PREFIX[dtype]}gemm_batch64_")
        fn.restype, fn.argtypes = None, _binding.gemm_batch_argtypes(scalar)
        binding.gemm_batch[dtype] = fn
    _binding.load = lambda: binding  # the Gemm objects below take this binding, unchecked
    rng = np.random.default_rng(0)
    n_threads = max(2, threads())
    # (rows, features, columns): blocks just above the smallest allowed, then epoch-sized ones
    shapes = [(100, 784, 32 * n_threads), (100, 784, 100), (1000, 784, 10)]
    for dtype in (np.float32, np.float64):
        for m, k, n in shapes:
            X = rng.random((2 * m, k)).astype(dtype)
            W = rng.standard_normal((k, n)).astype(dtype)
            G = rng.standard_normal((m, n)).astype(dtype)
            rows = _gemm.BatchRows(X, m)
            rows.move_to(m)
            X_b = X[m:].astype(np.float64)
            for split in ("split_columns", "split_batch"):
                out = np.empty((m, n), dtype)
                forward = _gemm.Gemm(out, rows, W, **{split: True})
                W_new = W.copy()
                update = _gemm.Gemm(W_new, rows.T, G, alpha=-0.5, beta=1.0, **{split: True})
                forward()
                update()
                label = f"{split} {m}x{k}x{n} {np.dtype(dtype).name}"
                _check(label + " forward", out, X_b @ W, dtype)
                _check(label + " update", W_new, W - 0.5 * X_b.T @ G, dtype)


if __name__ == "__main__":
    run(Path(sys.argv[1]))
    print("ok")
