"""Timing tools for notebook 05 and ``make bench``: a repeat-and-take-the-median timer, the
matrix-multiply floor of an epoch, and what BLAS is doing underneath.

The *GEMM floor* of an epoch runs only the matrix multiplies of one SGD epoch, with the same
shapes and into preallocated buffers, and nothing else: no softmax, no activation, no update.
An epoch that runs these products one after another, each on its own, cannot beat it, so
``epoch_time / floor_time`` says how much time goes to everything that is not a matrix
multiply; only changing how the products share the cores' caches gets below it (the split
products of :mod:`nnlib.fast`, where each core reuses in the update the rows of ``X`` it has
just read in the forward product).

Timings on a shared machine are noisy. :func:`time_interleaved` runs several candidates in
turns, so that a slow minute slows all of them alike, and reports the median, minimum and
maximum of each.
"""

from __future__ import annotations

import os
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import NamedTuple

import numpy as np

from ._validation import as_float_matrix, require_positive_int


class Timing(NamedTuple):
    """Wall-clock seconds of repeated runs of one callable.

    Attributes
    ----------
    median, min, max : float
        Over the timed runs (warm-up runs excluded).
    times : tuple of float
        Every timed run, in order.
    """

    median: float
    min: float
    max: float
    times: tuple


def _summary(times: Sequence[float]) -> Timing:
    times = tuple(float(t) for t in times)
    return Timing(float(np.median(times)), min(times), max(times), times)


def time_callable(
    fn: Callable[..., object],
    *,
    repeats: int = 5,
    warmup: int = 1,
    setup: Callable[[], tuple] | None = None,
) -> Timing:
    """Time ``fn`` over ``repeats`` runs after ``warmup`` untimed runs.

    Parameters
    ----------
    fn : callable
        Called as ``fn()``, or as ``fn(*setup())`` when ``setup`` is given.
    repeats : int, default 5
        Timed runs.
    warmup : int, default 1
        Untimed runs first (page faults, BLAS thread start-up, caches).
    setup : callable returning a tuple, optional
        Called before every run, untimed, to make fresh arguments (for example a copy of
        the weights that an epoch updates in place).

    Returns
    -------
    Timing
    """
    return time_interleaved({"fn": fn}, repeats=repeats, warmup=warmup, setup=setup)["fn"]


def time_interleaved(
    fns: dict[str, Callable[..., object]],
    *,
    repeats: int = 5,
    warmup: int = 1,
    setup: Callable[[], tuple] | None = None,
    pause: float = 0.0,
) -> dict[str, Timing]:
    """Time several callables in turns: run 1 of each, then run 2 of each, and so on.

    Interleaving spreads the machine's slow and fast moments over all candidates, so their
    ratios are steadier than when each is timed in one block.

    Parameters
    ----------
    fns : dict of str to callable
        Name to callable, each called as in :func:`time_callable`.
    repeats : int, default 5
    warmup : int, default 1
    setup : callable returning a tuple, optional
        Shared by all candidates; called before every run, untimed.
    pause : float, default 0.0
        Seconds to sleep before every run, untimed. OpenBLAS's worker threads keep spinning
        for a while after a call before they sleep (its build option ``THREAD_TIMEOUT``, a
        number of CPU cycles); when candidates use different BLAS builds (numpy's
        and scipy's wheels each bring one), a pause keeps one's spinning threads from
        slowing the next.

    Returns
    -------
    timings : dict of str to Timing
        In the order of ``fns``.
    """
    repeats = require_positive_int("repeats", repeats)
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 0:
        raise ValueError(f"warmup must be a non-negative integer, got {warmup!r}")
    if not fns:
        raise ValueError("fns is empty; give at least one callable to time")
    times = {name: [] for name in fns}
    for run in range(warmup + repeats):
        for name, fn in fns.items():
            args = setup() if setup is not None else ()
            if pause:
                time.sleep(pause)
            start = time.perf_counter()
            fn(*args)
            elapsed = time.perf_counter() - start
            if run >= warmup:
                times[name].append(elapsed)
    return {name: _summary(t) for name, t in times.items()}


def gemm_floor_epoch(X: np.ndarray, layer_sizes: Sequence[int], batch: int = 100) -> None:
    """One epoch of only the matrix multiplies of minibatch SGD on a bias-free network.

    For ``layer_sizes = [D, d_1, ..., C]`` each batch runs, into buffers allocated once:
    forward ``Z_{i+1} = Z_i W_i`` for every layer, backward ``G_i = G_{i+1} W_i^T`` for every
    layer but the first, and the weight gradients ``Z_i^T G_{i+1}`` for every layer. That is
    2 multiplies per batch for softmax regression (``[D, C]``), 5 for the two-layer network
    (``[D, H, C]``: X W1, Z2 W2, G3 W2^T, Z2^T G3, X^T (G2 ∘ mask)), ``3L - 1`` for ``L`` layers.

    Parameters
    ----------
    X : ndarray of shape (N, D), float
        The data, in the layout the epoch under test reads it.
    layer_sizes : sequence of int
        ``[D, d_1, ..., C]``; ``layer_sizes[0]`` must equal ``X.shape[1]``.
    batch : int, default 100

    Returns
    -------
    None
    """
    X = as_float_matrix("X", X)
    batch = require_positive_int("batch", batch)
    sizes = [require_positive_int(f"layer_sizes[{i}]", s) for i, s in enumerate(layer_sizes)]
    if len(sizes) < 2 or sizes[0] != X.shape[1]:
        raise ValueError(
            f"layer_sizes must be [D, ..., C] with D = {X.shape[1]} (the columns of X), "
            f"got {list(layer_sizes)}"
        )
    dt = X.dtype
    # Weights of magnitude 1/d_in keep the activations near the scale of X through the layers
    # (values do not change BLAS speed, but an overflow to inf would).
    weights = [np.full((a, b), 1.0 / a, dtype=dt) for a, b in pairwise(sizes)]
    outs = [np.empty((batch, d), dtype=dt) for d in sizes[1:]]
    grads = [np.empty((batch, d), dtype=dt) for d in sizes[1:-1]]
    dWs = [np.empty_like(W) for W in weights]
    n_rows = X.shape[0]
    for start in range(0, n_rows, batch):
        rows = X[start : start + batch]
        m = rows.shape[0]
        Z = [rows] + [o[:m] for o in outs]
        for i, W in enumerate(weights):
            np.matmul(Z[i], W, out=Z[i + 1])
        G = Z[-1]  # stands in for the gradient of the logits
        for i in reversed(range(len(weights))):
            np.matmul(Z[i].T, G, out=dWs[i])
            if i > 0:
                np.matmul(G, weights[i].T, out=grads[i - 1][:m])
                G = grads[i - 1][:m]


def blas_info() -> list[dict]:
    """The BLAS and OpenMP libraries loaded in this process and their thread counts.

    Uses ``threadpoolctl`` when it is installed; otherwise reads what numpy was built with
    and the thread-count environment variables, which may not be the thread count in force.

    Returns
    -------
    info : list of dict
        One dict per library, with keys ``library``, ``version``, ``threads``, ``api``,
        ``architecture``, ``path`` (``None`` where unknown) and ``source``
        (``"threadpoolctl"`` or ``"numpy build config"``).
    """
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        threadpool_info = None
    if threadpool_info is not None:
        return [
            {
                "library": d.get("internal_api", "?"),
                "version": d.get("version"),
                "threads": d.get("num_threads"),
                "api": d.get("user_api"),
                "architecture": d.get("architecture"),
                "path": d.get("filepath"),
                "source": "threadpoolctl",
            }
            for d in threadpool_info()
        ]
    name, version = "unknown", None
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        name, version = blas.get("name", name), blas.get("version")
    except Exception:  # show_config's layout is not a stable API; degrade to "unknown"
        pass
    threads = None
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(var, "").isdigit():
            threads = int(os.environ[var])
            break
    return [
        {
            "library": name,
            "version": version,
            "threads": threads,
            "api": "blas",
            "architecture": None,
            "path": None,
            "source": "numpy build config",
        }
    ]


def describe_blas() -> str:
    """One line naming each BLAS library in use, its version and thread count."""
    parts = []
    for d in blas_info():
        if d["api"] not in ("blas", None):
            continue
        where = os.path.basename(d["path"]) if d.get("path") else d["source"]
        threads = "?" if d["threads"] is None else d["threads"]
        parts.append(f"{d['library']} {d['version'] or ''} ({threads} threads, {where})")
    return "; ".join(parts) or "no BLAS library reported"


def peak_rss_bytes() -> int | None:
    """Peak resident memory of this process so far, in bytes (None where unknown)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024  # kB on Linux


def peak_allocation_bytes(fn: Callable[..., object], *args) -> int:
    """Peak of the memory newly allocated while ``fn(*args)`` runs, in bytes.

    numpy reports its array buffers to :mod:`tracemalloc`, so for an epoch this is the
    working memory on top of the data and weights that exist before the call: for the fast
    path, a few batch-sized buffers. ``tracemalloc`` slows Python code down; do not time the
    same call.
    """
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        fn(*args)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return max(peak - before, 0)
