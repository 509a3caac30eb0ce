"""Which matrix-product routine :mod:`nnlib.fast` calls: numpy's own OpenBLAS, or ``np.matmul``.

numpy's wheels (numpy 2 on Linux and macOS) ship OpenBLAS as ``numpy.libs/libscipy_openblas64_*``
(``numpy/.dylibs`` on macOS), its C interface exported under a ``scipy_`` prefix with 64-bit
integers (``scipy_cblas_sgemm64_``). Binding that library, not another one, matters: a second
OpenBLAS (scipy's, for example) brings its own pool of worker threads, which keep spinning for a
while after each call, and two pools taking turns every few microseconds fight for the cores.

What is bound, and when it is refused (every refusal is a reason in :func:`status`):

- the library next to numpy's package, found by file name, and its version
  (``scipy_openblas_get_config64_``): only the OpenBLAS 0.3 series is bound
  (:data:`SUPPORTED_SERIES`), the interface this module declares;
- ``cblas_?gemm`` with its argument types declared, checked on a small product against numpy;
- ``cblas_?gemm_batch`` (one call running several single-threaded products, one per thread) only
  with two or more BLAS threads, and only after a child process has run the products this
  module makes with it and matched numpy (:func:`_batch_call_works`): OpenBLAS 0.3.31 crashes
  with a segmentation fault on small products in this call, and a crash in the child is a
  refusal, not a dead Jupyter kernel.

Set the environment variable ``NNLIB_FAST_BLAS=matmul`` before the first epoch to force the
``np.matmul`` fallback (same results, more passes over memory).
"""

from __future__ import annotations

import ctypes
import functools
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FORCE_FALLBACK_VARIABLE = "NNLIB_FAST_BLAS"
SUPPORTED_SERIES = (0, 3)  # OpenBLAS major.minor whose C interface is declared below
PROBE_TIMEOUT_S = 120  # the child imports numpy and runs a few small products

_i64, _int, _ptr = ctypes.c_int64, ctypes.c_int, ctypes.c_void_p
_SCALARS = {np.dtype(np.float32): ctypes.c_float, np.dtype(np.float64): ctypes.c_double}
_PREFIX = {np.dtype(np.float32): "s", np.dtype(np.float64): "d"}


def gemm_argtypes(scalar) -> list:
    """``cblas_?gemm``: order, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc."""
    return [_int, _int, _int, _i64, _i64, _i64, scalar, _ptr, _i64, _ptr, _i64, scalar, _ptr, _i64]


def gemm_batch_argtypes(scalar) -> list:
    """``cblas_?gemm_batch``: the arguments of ``cblas_?gemm`` as arrays (one entry per group),
    then the group count and the products per group."""
    p_int, p_i64, p_ptr, p_scalar = (ctypes.POINTER(t) for t in (_int, _i64, _ptr, scalar))
    return [
        _int, p_int, p_int, p_i64, p_i64, p_i64, p_scalar, p_ptr, p_i64, p_ptr, p_i64,
        p_scalar, p_ptr, p_i64, _i64, p_i64,
    ]  # fmt: skip


@dataclass(frozen=True)
class Status:
    """What :mod:`nnlib.fast` runs on, as :func:`status` reports it.

    Attributes
    ----------
    path : {"openblas", "matmul"}
        ``"openblas"``: each product is one call into the library below; ``"matmul"``: the
        ``np.matmul`` fallback.
    library : str or None
        File of the bound OpenBLAS, None on the fallback.
    version : str or None
        The library's own configuration string (version, build options, CPU kernel).
    threads : int or None
        OpenBLAS's thread count, None on the fallback.
    batched : bool
        Whether split products (one single-threaded product per thread) are in use.
    reasons : tuple of str
        Why the fallback is in use, or why split products are not.
    """

    path: str
    library: str | None
    version: str | None
    threads: int | None
    batched: bool
    reasons: tuple = ()

    def __str__(self) -> str:
        if self.path == "matmul":
            return "nnlib.fast: np.matmul fallback (" + "; ".join(self.reasons) + ")"
        split = "split products on" if self.batched else "split products off"
        text = (
            f"nnlib.fast: OpenBLAS binding, {self.threads} thread(s), {split}; "
            f"{self.version} ({self.library})"
        )
        return text + ("" if not self.reasons else " — " + "; ".join(self.reasons))


@dataclass
class Binding:
    """The bound functions by dtype (empty on the fallback) and how they were found."""

    gemm: dict = field(default_factory=dict)
    gemm_batch: dict = field(default_factory=dict)
    threads: object = None  # callable () -> int
    library: str | None = None
    version: str | None = None
    reasons: list = field(default_factory=list)

    def status(self) -> Status:
        return Status(
            path="openblas" if self.gemm else "matmul",
            library=self.library if self.gemm else None,
            version=self.version if self.gemm else None,
            threads=self.threads() if self.gemm and self.threads else None,
            batched=bool(self.gemm_batch),
            reasons=tuple(self.reasons),
        )


def find_numpy_openblas(root: Path | None = None) -> Path | None:
    """numpy's own OpenBLAS, where numpy's wheels put it next to ``root`` (numpy's package
    directory by default), or None."""
    root = Path(np.__file__).parent if root is None else Path(root)
    paths = sorted(root.parent.glob("numpy.libs/libscipy_openblas64_*")) + sorted(
        root.glob(".dylibs/libscipy_openblas64_*")
    )
    return paths[0] if paths else None


def parse_version(config: str) -> tuple[int, ...] | None:
    """``(0, 3, 31)`` from ``"OpenBLAS 0.3.31.188.0 USE64BITINT ..."``, or None."""
    match = re.match(r"OpenBLAS (\d+)\.(\d+)\.(\d+)", config)
    return None if match is None else tuple(int(g) for g in match.groups())


def _open(path: Path):
    """``(library, config string)``, or ``(None, reason)``."""
    try:
        lib = ctypes.CDLL(str(path))
        get_config = lib.scipy_openblas_get_config64_
    except (OSError, AttributeError) as exc:
        return None, f"{path.name} is not a usable OpenBLAS ({exc})"
    get_config.restype, get_config.argtypes = ctypes.c_char_p, []
    return lib, " ".join(get_config().decode(errors="replace").split())


def _gemm_functions(lib) -> dict:
    found = {}
    for dtype, scalar in _SCALARS.items():
        fn = getattr(lib, f"scipy_cblas_{_PREFIX[dtype]}gemm64_")
        fn.restype, fn.argtypes = None, gemm_argtypes(scalar)
        found[dtype] = fn
    return found


def _gemm_computes_a_product(fn, dtype) -> bool:
    """``W -= A^T B`` with a Fortran-ordered, reversed operand, through ``fn``, against numpy."""
    from ._gemm import cblas_arguments  # the layout rules the epochs use

    A = np.arange(8, dtype=dtype).reshape(4, 2)
    B = np.asfortranarray(np.arange(12, dtype=dtype).reshape(4, 3)[:, ::-1])
    W = np.ones((2, 3), dtype=dtype)
    args = cblas_arguments(W, A.T, _ptr(A.ctypes.data), B, _ptr(B.ctypes.data), -1.0, 1.0)
    fn(*args)
    return bool(np.array_equal(W, 1 - A.T @ B))


def load_library(root: Path | None = None) -> Binding:
    """Find, gate and check numpy's OpenBLAS; a :class:`Binding` (empty dicts: the fallback)."""
    binding = Binding()
    forced = os.environ.get(FORCE_FALLBACK_VARIABLE, "").strip().lower()
    if forced == "matmul":
        binding.reasons.append(f"{FORCE_FALLBACK_VARIABLE}=matmul is set")
        return binding
    path = find_numpy_openblas(root)
    if path is None:
        binding.reasons.append(
            f"numpy {np.__version__} ships no libscipy_openblas64_ next to its package "
            "(numpy 2 wheels for Linux and macOS do; numpy 1.x, conda, MKL and Windows "
            "builds do not)"
        )
        return binding
    lib, config = _open(path)
    if lib is None:
        binding.reasons.append(config)
        return binding
    version = parse_version(config)
    binding.library, binding.version = str(path), config
    if version is None or version[:2] != SUPPORTED_SERIES:
        series = ".".join(map(str, SUPPORTED_SERIES))
        binding.reasons.append(f"{config!r} is not OpenBLAS {series}.x, the series bound here")
        return binding
    try:
        gemm = _gemm_functions(lib)
        threads = lib.scipy_openblas_get_num_threads64_
    except AttributeError as exc:
        binding.reasons.append(f"{path.name} lacks a symbol ({exc})")
        return binding
    threads.restype, threads.argtypes = ctypes.c_int, []
    if not all(_gemm_computes_a_product(fn, dtype) for dtype, fn in gemm.items()):
        binding.reasons.append("cblas_?gemm gave a wrong result on a small check")
        return binding
    binding.gemm, binding.threads = gemm, threads
    binding.gemm_batch = _batch_functions(lib, path, threads(), binding.reasons)
    return binding


def _batch_functions(lib, path: Path, threads: int, reasons: list) -> dict:
    if threads < 2:
        reasons.append("one BLAS thread: no split products")
        return {}
    try:
        found = {}
        for dtype, scalar in _SCALARS.items():
            fn = getattr(lib, f"scipy_cblas_{_PREFIX[dtype]}gemm_batch64_")
            fn.restype, fn.argtypes = None, gemm_batch_argtypes(scalar)
            found[dtype] = fn
    except AttributeError:
        reasons.append("this OpenBLAS has no cblas_?gemm_batch: no split products")
        return {}
    ok, why = _batch_call_works(path)
    if not ok:
        reasons.append(f"split products off: the batched call failed its check in a child ({why})")
        return {}
    return found


@functools.cache
def _batch_call_works(path: Path) -> tuple[bool, str]:
    """Run :mod:`nnlib.fast._probe` on ``path`` in a child process: (passed, what happened).

    A child, because the failure this guards against is a segmentation fault, which would
    take the calling process (a Jupyter kernel, say) down with it. Cached per process.
    """
    env = dict(os.environ)
    env.pop(FORCE_FALLBACK_VARIABLE, None)
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "nnlib.fast._probe", str(path)],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            env=env,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"could not run: {exc}"
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [""]
        return False, f"exit code {proc.returncode} {tail[0]}".strip()
    return True, "ok"


@functools.cache
def load() -> Binding:
    """The binding of this process, found once, at the first product."""
    return load_library()


def status() -> Status:
    """Which path :mod:`nnlib.fast` takes here: library, version, threads, and why not faster.

    Loads the library on first use (and, with two or more BLAS threads, checks the batched call
    in a child process, about a second).
    """
    return load().status()
