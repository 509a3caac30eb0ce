"""The vectorized fast path: correct, float32 throughout, no per-batch temporaries.

Correctness, not speed: every fast-path epoch (``softmax_regression_epoch``, ``nn_epoch``,
``mlp_epoch``) must leave the same weights as the textbook batch version of the benchmark
and as an epoch driven by the loop-over-examples twins of ``nnlib.naive``, including the
last, partial batch. Speed is measured by ``scripts/bench.py``; its ``--quick`` mode runs
here so that the benchmark keeps working.
"""

import importlib.util
import json
import subprocess
import sys
import tracemalloc
import types
from pathlib import Path

import numpy as np
import pytest

import nnlib
from nnlib import _blas, timing
from nnlib._blas import EpochGemm, matmul_into, numpy_blas_subtract_AtB, subtract_AtB
from nnlib.gradcheck import relative_error

ROOT = Path(__file__).resolve().parents[1]
TOL = 1e-5  # float32 epochs of a few steps agree to ~1e-7; 1e-5 leaves room, not mistakes


def _load_bench():
    spec = importlib.util.spec_from_file_location("bench", ROOT / "scripts" / "bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _load_bench()


def _problem(rng, n, sizes, dtype=np.float32):
    X = rng.random((n, sizes[0]), dtype=np.float64).astype(dtype)
    y = rng.integers(0, sizes[-1], size=n).astype(np.uint8)
    weights = nnlib.init_mlp(sizes, rng, dtype=dtype)
    return X, y, weights


def _agree(got, want, what):
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        err = relative_error(g, w)
        assert err <= TOL, (
            f"{what}: weights[{i}] differ by relative error {err:.2e} > {TOL:g}; check the "
            "last partial batch (its size is not `batch`), the lr / N scaling and that every "
            "gradient of a step uses the weights from before that step"
        )


# (N, batch): a last partial batch, batches that divide N, one batch larger than N, batch 1;
# batches of 500 and more take numpy's matmul instead of the fused BLAS update.
BATCHES = [(103, 25), (100, 25), (40, 64), (7, 1), (1103, 500)]


@pytest.mark.parametrize(("n", "batch"), BATCHES)
def test_softmax_regression_epoch_agrees_with_textbook_and_naive(rng, n, batch):
    X, y, (theta,) = _problem(rng, n, [20, 7])
    fast, text, naive = theta.copy(), theta.copy(), theta.copy()
    nnlib.softmax_regression_epoch(X, y, fast, lr=0.5, batch=batch)
    bench.textbook_softmax_regression_epoch(X, y, text, lr=0.5, batch=batch)
    bench.naive_softmax_regression_epoch(X, y, naive, lr=0.5, batch=batch)
    _agree([fast], [text], "softmax_regression_epoch vs the textbook version")
    _agree([fast], [naive], "softmax_regression_epoch vs the naive twin")
    assert fast.dtype == np.float32, f"theta became {fast.dtype}; float32 in must stay float32"


@pytest.mark.parametrize(("n", "batch"), BATCHES)
def test_nn_epoch_agrees_with_textbook_and_naive(rng, n, batch):
    X, y, (W1, W2) = _problem(rng, n, [20, 16, 7])
    fast, text, naive = ([W.copy() for W in (W1, W2)] for _ in range(3))
    nnlib.nn_epoch(X, y, *fast, lr=0.5, batch=batch)
    bench.textbook_nn_epoch(X, y, *text, lr=0.5, batch=batch)
    bench.naive_nn_epoch(X, y, *naive, lr=0.5, batch=batch)
    _agree(fast, text, "nn_epoch vs the textbook version")
    _agree(fast, naive, "nn_epoch vs the naive twin")
    assert [W.dtype for W in fast] == [np.float32] * 2, "float32 weights must stay float32"


@pytest.mark.parametrize(("n", "batch"), BATCHES)
def test_mlp_epoch_agrees_with_textbook_and_naive(rng, n, batch):
    X, y, weights = _problem(rng, n, [20, 16, 12, 8, 7])
    fast, text, naive = ([W.copy() for W in weights] for _ in range(3))
    nnlib.mlp_epoch(X, y, fast, lr=0.5, batch=batch)
    bench.textbook_mlp_epoch(X, y, text, lr=0.5, batch=batch)
    bench.naive_mlp_epoch(X, y, naive, lr=0.5, batch=batch)
    _agree(fast, text, "mlp_epoch vs the textbook version")
    _agree(fast, naive, "mlp_epoch vs the naive twin")
    assert all(W.dtype == np.float32 for W in fast), "float32 weights must stay float32"


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_mlp_epoch_other_activations_agree_with_per_batch_gradients(rng, activation):
    X, y, weights = _problem(rng, 53, [12, 10, 9, 5])
    fast, ref = [W.copy() for W in weights], [W.copy() for W in weights]
    nnlib.mlp_epoch(X, y, fast, lr=0.5, batch=20, activation=activation)
    for start in range(0, 53, 20):
        sl = slice(start, start + 20)
        grads = nnlib.mlp_gradients_naive(X[sl], y[sl], ref, activation)
        for W, dW in zip(ref, grads, strict=True):
            W -= 0.5 * dW
    _agree(fast, ref, f"mlp_epoch(activation={activation!r}) vs the naive twin")


def test_fast_path_in_float64_stays_float64(rng):
    X, y, (W1, W2) = _problem(rng, 30, [6, 5, 3], dtype=np.float64)
    text = [W1.copy(), W2.copy()]
    nnlib.nn_epoch(X, y, W1, W2, batch=8)
    bench.textbook_nn_epoch(X, y, *text, batch=8)
    assert W1.dtype == W2.dtype == np.float64
    assert relative_error(W1, text[0]) < 1e-12 and relative_error(W2, text[1]) < 1e-12


def test_fast_path_accepts_any_memory_layout(rng):
    """Fortran-ordered data and weights take the plain-numpy update; the result is the same."""
    X, y, (W1, W2) = _problem(rng, 45, [10, 8, 4])
    ref = [W1.copy(), W2.copy()]
    nnlib.nn_epoch(X, y, *ref, batch=10)
    F = [np.asfortranarray(W1), np.asfortranarray(W2)]
    nnlib.nn_epoch(np.asfortranarray(X), y, *F, batch=10)
    _agree(F, ref, "nn_epoch on Fortran-ordered arrays")
    strided = np.zeros((10, 16), np.float32)[:, ::2]
    strided[...] = W1
    W2c = W2.copy()
    nnlib.nn_epoch(X, y, strided, W2c, batch=10)
    _agree([strided, W2c], ref, "nn_epoch on a strided W1")


@pytest.mark.parametrize("lr", [0.1, np.float64(0.1), np.float32(0.25)])
def test_numpy_scalar_learning_rate_keeps_float32(rng, lr):
    X, y, (W1, W2) = _problem(rng, 30, [6, 5, 3])
    nnlib.nn_epoch(X, y, W1, W2, lr=lr, batch=8)
    assert W1.dtype == W2.dtype == np.float32


class _DtypeSpy(types.ModuleType):
    """Stands in for ``numpy`` inside a module; records the float dtypes its calls touch."""

    def __init__(self):
        super().__init__("numpy")
        self.seen = set()

    def _note(self, value):
        if isinstance(value, np.ndarray) and value.dtype.kind in "fc":
            self.seen.add(value.dtype)

    def __getattr__(self, name):
        attr = getattr(np, name)
        if not callable(attr) or isinstance(attr, type):
            return attr
        wrapped = self._wrap(attr)
        if isinstance(attr, np.ufunc):  # np.maximum.reduce(...) and the like
            wrapped.reduce = self._wrap(attr.reduce)
        return wrapped

    def _wrap(self, fn):
        def wrapped(*args, **kwargs):
            for a in (*args, *kwargs.values()):
                self._note(a)
            out = fn(*args, **kwargs)
            self._note(out)
            return out

        return wrapped


@pytest.mark.parametrize("batch", [10, 600])
@pytest.mark.parametrize("module", ["linear", "two_layer", "mlp"])
def test_no_float64_anywhere_in_the_fast_path(rng, monkeypatch, module, batch):
    """Every numpy call and every BLAS update of a float32 epoch sees only float32 arrays."""
    mod = importlib.import_module(f"nnlib.{module}")
    spy = _DtypeSpy()
    monkeypatch.setattr(mod, "np", spy)
    blas_dtypes = set()

    class SpyGemm(EpochGemm):
        def matmul_into(self, out, A, B):
            blas_dtypes.update({out.dtype, A.dtype, B.dtype})
            super().matmul_into(out, A, B)

        def subtract_AtB(self, W, A, B, *scale):
            blas_dtypes.update({W.dtype, A.dtype, B.dtype})
            super().subtract_AtB(W, A, B, *scale)

    monkeypatch.setattr(mod, "EpochGemm", SpyGemm)
    X, y, weights = _problem(rng, 37, [9, 8, 6, 4])
    if module == "linear":
        nnlib.softmax_regression_epoch(
            X, y, weights[0][:, :4].copy(), lr=np.float64(0.1), batch=batch
        )
    elif module == "two_layer":
        nnlib.nn_epoch(X, y, weights[0], weights[1][:, :4].copy(), lr=np.float64(0.1), batch=batch)
    else:
        nnlib.mlp_epoch(X, y, weights, lr=np.float64(0.1), batch=batch)
    assert spy.seen == {np.dtype(np.float32)}, f"numpy calls touched {spy.seen}"
    assert blas_dtypes == {np.dtype(np.float32)}, f"BLAS updates touched {blas_dtypes}"


@pytest.mark.parametrize("model", ["softmax", "two_layer", "mlp"])
def test_epoch_allocates_only_batch_sized_buffers(rng, model):
    """Working memory: batch buffers and one label position per example, never a temporary
    the size of W_0 (``W -= lr * dW`` makes two)."""
    n, batch = 2000, 50
    sizes = {"softmax": [784, 64], "two_layer": [784, 64, 10], "mlp": [784, 64, 32, 10]}[model]
    X, y, weights = _problem(rng, n, sizes)
    run = {
        "softmax": lambda: nnlib.softmax_regression_epoch(X, y, weights[0], batch=batch),
        "two_layer": lambda: nnlib.nn_epoch(X, y, *weights, batch=batch),
        "mlp": lambda: nnlib.mlp_epoch(X, y, weights, batch=batch),
    }[model]
    run()  # first call: imports and caches
    extra = timing.peak_allocation_bytes(run)
    hidden = sum(sizes[1:-1])
    buffers = batch * (4 * (2 * hidden + 2 * sizes[-1] + 1) + hidden)  # float32 buffers + masks
    label_positions = 4 * 8 * n  # one intp per example, and its short-lived temporaries
    bound = buffers + label_positions + 16_384
    assert bound < weights[0].nbytes, "test sizes too small to tell a weight-sized temporary"
    assert extra <= bound, (
        f"an epoch allocated {extra} bytes beyond the data and weights, more than the "
        f"{bound} of its batch buffers: is there a weight-sized temporary?"
    )
    assert not tracemalloc.is_tracing()


def _arrays(rng, shapes, dtype=np.float32):
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


@pytest.mark.parametrize(
    "update", [subtract_AtB, numpy_blas_subtract_AtB], ids=lambda f: f.__name__
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("layout", ["C", "F", "transposed views", "strided"])
def test_fused_update_is_an_in_place_W_minus_scaled_At_B(rng, update, dtype, layout):
    A, B, W = _arrays(rng, [(7, 5), (7, 3), (5, 3)], dtype)
    if layout == "F":
        A, B, W = (np.asfortranarray(M) for M in (A, B, W))
    elif layout == "transposed views":
        A, B = np.ascontiguousarray(A.T).T, np.ascontiguousarray(B.T).T
    elif layout == "strided":
        big = np.zeros((5, 6), dtype)
        big[:, ::2] = W
        W = big[:, ::2]
    want = W.astype(np.float64) - 0.5 * A.astype(np.float64).T @ B.astype(np.float64)
    before = W.__array_interface__["data"][0]
    update(W, A, B, 0.5)
    assert W.__array_interface__["data"][0] == before and W.dtype == dtype
    np.testing.assert_allclose(W, want, rtol=1e-2 if dtype == np.float16 else 1e-5, atol=1e-3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("layout", ["C", "F", "transposed views", "strided out"])
def test_matmul_into_matches_matmul(rng, dtype, layout):
    A, B = _arrays(rng, [(6, 4), (4, 5)], dtype)
    out = np.empty((6, 5), dtype)
    if layout == "F":
        A, B = np.asfortranarray(A), np.asfortranarray(B)
    elif layout == "transposed views":
        A, B = np.ascontiguousarray(A.T).T, np.ascontiguousarray(B.T).T
    elif layout == "strided out":
        out = np.empty((6, 10), dtype)[:, ::2]
    matmul_into(out, A, B)
    want = A.astype(np.float64) @ B.astype(np.float64)
    np.testing.assert_allclose(out, want, rtol=1e-2 if dtype == np.float16 else 1e-5, atol=1e-3)


def test_numpy_cblas_is_found_only_where_it_is_and_checked(tmp_path):
    """No numpy OpenBLAS next to the given directory, or a file that is no library: the
    fallback ({}); numpy's own wheel on Linux or macOS: both dtypes."""
    assert _blas._load_numpy_cblas(tmp_path / "numpy") == {}
    (tmp_path / "numpy.libs").mkdir()
    (tmp_path / "numpy.libs" / "libscipy_openblas64_-fake.so").write_bytes(b"not a library")
    assert _blas._load_numpy_cblas(tmp_path / "numpy") == {}
    if not _blas.NUMPY_CBLAS:
        pytest.skip("this numpy build does not ship scipy_cblas_?gemm64_ (the fallback is used)")
    assert set(_blas.NUMPY_CBLAS) == {np.dtype(np.float32), np.dtype(np.float64)}


@pytest.mark.parametrize("available", [True, False])
@pytest.mark.parametrize("batch", [25, 500])
def test_epochs_agree_with_and_without_numpy_cblas(rng, monkeypatch, available, batch):
    """The ctypes path to numpy's BLAS (nn_epoch at hidden >= 200, both at batch >= 500) and
    the fallback (scipy's BLAS below batch 500, numpy's matmul and W -= dW above) compute the
    same epochs."""
    if available and not _blas.NUMPY_CBLAS:
        pytest.skip("this numpy build does not ship scipy_cblas_?gemm64_")
    if not available:
        monkeypatch.setattr(_blas, "NUMPY_CBLAS", {})
    gemm = EpochGemm(fused=batch < 500, weights=[np.zeros((2, 2), np.float32)], numpy_blas=True)
    assert gemm.numpy_fused == available, "numpy_blas=True must use numpy's cblas when found"
    X, y, weights = _problem(rng, 1103, [20, 16, 12, 7])
    fast, text = ([W.copy() for W in weights] for _ in range(2))
    nnlib.mlp_epoch(X, y, fast, lr=0.5, batch=batch)
    bench.textbook_mlp_epoch(X, y, text, lr=0.5, batch=batch)
    _agree(fast, text, f"mlp_epoch (numpy cblas {'found' if available else 'absent'})")
    X, y, weights = _problem(rng, 1103, [20, 200, 7])  # hidden >= 200: numpy's cblas at any batch
    fast, text = ([W.copy() for W in weights] for _ in range(2))
    nnlib.nn_epoch(X, y, *fast, lr=0.5, batch=batch)
    bench.textbook_nn_epoch(X, y, *text, lr=0.5, batch=batch)
    _agree(fast, text, f"nn_epoch (numpy cblas {'found' if available else 'absent'})")


# --------------------------------------------------------------------------- nnlib.timing


def test_gemm_floor_epoch_runs_and_validates(rng):
    X = rng.random((33, 12), dtype=np.float32)
    timing.gemm_floor_epoch(X, [12, 5, 3], batch=10)
    timing.gemm_floor_epoch(X, [12, 3], batch=100)
    with pytest.raises(ValueError, match="layer_sizes"):
        timing.gemm_floor_epoch(X, [11, 3])


def test_time_interleaved_reports_every_run():
    calls = []
    result = timing.time_interleaved(
        {"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=3, warmup=1
    )
    assert calls == ["a", "b"] * 4, "candidates must take turns, warm-up included"
    for t in result.values():
        assert len(t.times) == 3 and t.min <= t.median <= t.max
    single = timing.time_callable(lambda x: x, repeats=2, setup=lambda: (1,))
    assert len(single.times) == 2


def test_blas_info_degrades_without_threadpoolctl(monkeypatch):
    assert timing.blas_info(), "threadpoolctl should report at least numpy's BLAS"
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # import now raises ImportError
    info = timing.blas_info()
    assert info[0]["source"] == "numpy build config"
    assert isinstance(timing.describe_blas(), str)
    assert timing.peak_rss_bytes() is None or timing.peak_rss_bytes() > 0


# --------------------------------------------------------------------------- the benchmark


def test_torch_versions_in_the_benchmark_compute_the_same_epoch(rng):
    torch = pytest.importorskip("torch")
    X, y, weights = _problem(rng, 53, [12, 10, 6, 4])
    ref = [W.copy() for W in weights]
    nnlib.mlp_epoch(X, y, ref, lr=0.5, batch=20)
    tX, ty = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    hand = [torch.from_numpy(W.copy()) for W in weights]
    bench.torch_hand_epoch(torch, tX, ty, hand, lr=0.5, batch=20)
    params = [torch.nn.Parameter(torch.from_numpy(W.copy())) for W in weights]
    bench.torch_autograd_epoch(torch, tX, ty, params, torch.optim.SGD(params, lr=0.5), batch=20)
    _agree([t.numpy() for t in hand], ref, "torch hand-written epoch")
    _agree([p.detach().numpy() for p in params], ref, "torch autograd epoch")


def test_bench_quick_runs_and_writes_json_and_chart(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench.py"), "--quick", "--no-torch",
         "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "GEMM floor" not in proc.stderr
    doc = json.loads((tmp_path / "bench.json").read_text())
    assert {r["model"] for r in doc["results"]} == {"softmax", "two_layer", "mlp"}
    for r in doc["results"]:
        assert {"nnlib", "textbook", "floor", "naive"} <= set(r["candidates"])
    assert (tmp_path / "bench.png").stat().st_size > 1000
    assert "nnlib" in proc.stdout and "BLAS" in proc.stdout
