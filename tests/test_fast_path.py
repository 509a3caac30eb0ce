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
from nnlib._blas import BatchRows, Gemm, batch_buffer
from nnlib._label_positions import label_positions
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
# the epochs switch layouts and threading at batch 500.
BATCHES = [(103, 25), (100, 25), (40, 64), (7, 1), (1103, 500)]


@pytest.mark.parametrize(("n", "batch"), BATCHES)
@pytest.mark.parametrize("dtype", [np.uint8, np.int64, np.uint64])
def test_label_positions_mark_each_label_in_its_batch_buffer(rng, n, batch, dtype):
    y = rng.integers(0, 7, size=n).astype(dtype)
    batch = min(batch, n)
    pos = label_positions(y, batch)
    assert pos.dtype == np.intp and pos.shape == (n,), (pos.dtype, pos.shape)
    for start in range(0, n, batch):
        m = min(batch, n - start)
        onehot_T = np.zeros((7, m))  # the batch's (C, m) buffer, marked the slow way
        onehot_T[y[start : start + m], np.arange(m)] = 1
        marked = np.zeros(7 * m)
        marked[pos[start : start + m]] = 1
        assert np.array_equal(marked.reshape(7, m), onehot_T), (
            f"batch at {start} ({m} rows): positions must be y_i * m + j in its (C, m) buffer"
        )


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
    """Every numpy call and every matrix product of a float32 epoch sees only float32 arrays."""
    mod = importlib.import_module(f"nnlib.{module}")
    spy = _DtypeSpy()
    monkeypatch.setattr(mod, "np", spy)
    blas_dtypes = set()

    class SpyGemm(Gemm):
        def __init__(self, out, A, B, *args, **kwargs):
            for M in (out, A, B):
                blas_dtypes.add(M.dtype)
            super().__init__(out, A, B, *args, **kwargs)

    monkeypatch.setattr(mod, "Gemm", SpyGemm)
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
    assert blas_dtypes == {np.dtype(np.float32)}, f"matrix products touched {blas_dtypes}"


@pytest.mark.parametrize("model", ["softmax", "two_layer", "mlp"])
def test_epoch_allocates_only_batch_sized_buffers(rng, model):
    """Working memory: batch buffers, one label position per example and transposed working
    copies of weights where the layout rule asks for them (below batch 500: theta for softmax
    regression, every hidden layer's weight for the MLP), never temporaries the size of a
    weight (``W -= lr * dW`` makes two)."""
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
    label_positions = 8 * (n + batch)  # one intp per example, and range(batch)
    copied = {"softmax": weights, "two_layer": [], "mlp": weights[:-1]}[model]
    working_copy = sum(W.nbytes for W in copied)
    slack = 49_152  # the bound products (11 for this MLP) and other Python objects
    bound = buffers + label_positions + working_copy + slack
    assert bound < working_copy + 2 * weights[0].nbytes, "test sizes too small to tell"
    assert extra <= bound, (
        f"an epoch allocated {extra} bytes beyond the data and weights, more than the "
        f"{bound} of its batch buffers and working copies: is there a weight-sized temporary?"
    )
    assert not tracemalloc.is_tracing()


def _arrays(rng, shapes, dtype=np.float32):
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def _laid_out(M, layout):
    """A copy of M in the given memory layout (same shape and values)."""
    if layout == "C":
        return M.copy()
    if layout == "F":
        return np.asfortranarray(M)
    if layout == "strided rows":  # unit stride along rows, rows further apart than their length
        big = np.zeros((M.shape[0], M.shape[1] + 3), M.dtype)
        big[:, : M.shape[1]] = M
        return big[:, : M.shape[1]]
    big = np.zeros((M.shape[0], 2 * M.shape[1]), M.dtype)  # "strided": no unit stride at all
    big[:, ::2] = M
    return big[:, ::2]


LAYOUTS = ["C", "F", "strided rows", "strided"]


@pytest.mark.parametrize("blas", ["numpy cblas", "fallback"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("out_layout", LAYOUTS)
@pytest.mark.parametrize(
    ("a_layout", "b_layout"), [("C", "C"), ("F", "C"), ("C", "F"), ("strided rows", "strided")]
)
@pytest.mark.parametrize(("alpha", "beta"), [(1.0, 0.0), (-0.5, 1.0), (2.0, 0.5)])
def test_gemm_is_alpha_A_B_plus_beta_out(
    rng, monkeypatch, blas, dtype, out_layout, a_layout, b_layout, alpha, beta
):
    if blas == "numpy cblas" and not _blas.NUMPY_CBLAS:
        pytest.skip("this numpy build does not ship scipy_cblas_?gemm64_")
    if blas == "fallback":
        monkeypatch.setattr(_blas, "NUMPY_CBLAS", {})
    A, B, C0 = _arrays(rng, [(6, 4), (4, 5), (6, 5)], dtype)
    want = alpha * (A.astype(np.float64) @ B.astype(np.float64)) + beta * C0.astype(np.float64)
    out = _laid_out(C0, out_layout)
    before = out.__array_interface__["data"][0]
    product = Gemm(out, _laid_out(A, a_layout), _laid_out(B, b_layout), alpha=alpha, beta=beta)
    product()
    assert out.__array_interface__["data"][0] == before and out.dtype == dtype
    np.testing.assert_allclose(out, want, rtol=1e-2 if dtype == np.float16 else 1e-5, atol=1e-2)
    readable = "strided" not in (out_layout, a_layout, b_layout)  # "strided rows" is fine
    expected = blas == "numpy cblas" and dtype != np.float16 and readable
    assert product.uses_blas == expected, (
        f"uses_blas is {product.uses_blas}: BLAS must take every float32/float64 product whose "
        "arrays have a unit stride along one axis, and only those, when numpy's cblas is found"
    )


@pytest.mark.parametrize("blas", ["numpy cblas", "fallback"])
@pytest.mark.parametrize("order", ["C", "F"])
def test_batch_rows_move_every_bound_product(rng, monkeypatch, blas, order):
    """Products bound to BatchRows (and to its .T) read the rows of the last move_to."""
    if blas == "numpy cblas" and not _blas.NUMPY_CBLAS:
        pytest.skip("this numpy build does not ship scipy_cblas_?gemm64_")
    if blas == "fallback":
        monkeypatch.setattr(_blas, "NUMPY_CBLAS", {})
    X = _laid_out(rng.standard_normal((23, 6)).astype(np.float32), order)
    W, G = _arrays(rng, [(6, 3), (5, 3)])
    rows = BatchRows(X, 5)
    out, grad = batch_buffer(5, 3, np.float32, feature_major=True), np.zeros((6, 3), np.float32)
    forward, transposed = Gemm(out, rows, W), Gemm(grad, rows.T, G)
    for start in (0, 7, 18):
        rows.move_to(start)
        forward()
        transposed()
        np.testing.assert_allclose(out, X[start : start + 5] @ W, rtol=1e-5)
        np.testing.assert_allclose(grad, X[start : start + 5].T @ G, rtol=1e-5)
    with pytest.raises(ValueError, match="not all inside X"):
        rows.move_to(19)


def test_blocks_are_even_and_aligned():
    assert _blas._even_blocks(100, 2, 16) == [(0, 48), (48, 100)]
    assert _blas._even_blocks(400, 2, 16) == [(0, 192), (192, 400)]
    assert _blas._even_blocks(20, 2, 16) == [(0, 16), (16, 20)]
    assert _blas._even_blocks(10, 2, 16) == [(0, 10)], "too narrow to split: one block"
    blocks = _blas._even_blocks(1000, 8, 16)
    assert len(blocks) == 8 and all(lo % 16 == 0 for lo, _ in blocks)


@pytest.mark.parametrize("shape", [(100, 784, 100), (64, 100, 784), (8, 20, 30)])
@pytest.mark.parametrize("beta", [0.0, 1.0])
def test_split_products_compute_the_same_as_one_call(rng, monkeypatch, shape, beta):
    """split_columns: one product per thread on its own block of columns, where the product
    is big enough (small ones stay one call: OpenBLAS's batch call crashes on those)."""
    if not _blas.NUMPY_CBLAS_BATCH:
        pytest.skip("this numpy build does not ship scipy_cblas_?gemm_batch64_")
    monkeypatch.setattr(_blas, "_blas_threads", lambda: 2)  # as on the 2-core benchmark machine
    M, K, N = shape
    X = rng.random((3 * M, K), dtype=np.float32)
    B, C0 = rng.standard_normal((K, N)).astype(np.float32), np.ones((M, N), np.float32)
    rows = BatchRows(X, M)
    out = C0.copy()
    product = Gemm(out, rows, B, alpha=0.5, beta=beta, split_columns=True)
    narrowest = min(hi - lo for lo, hi in _blas._even_blocks(N, 2, 16))
    big = M * K * narrowest >= _blas.MIN_SPLIT_BLOCK_WORK
    assert product.blocks == (2 if big else 1), "split exactly the products big enough"
    for start in (0, 2 * M):
        out[...] = C0
        rows.move_to(start)
        product()
        want = 0.5 * X[start : start + M].astype(np.float64) @ B + beta * C0
        np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-4)
    W = np.zeros((K, N), np.float32)  # the update's shape: rows.T as the left operand
    G = rng.standard_normal((M, N)).astype(np.float32)
    update = Gemm(W, rows.T, G, alpha=-1.0, beta=1.0, split_columns=True)
    update()
    np.testing.assert_allclose(W, -(X[2 * M :].T @ G), rtol=1e-4, atol=1e-4)


# 784 x 10 (softmax regression): 300 rows make blocks of 150 x 784 x 10 = 1.2e6 multiply-adds,
# under MIN_SPLIT_BLOCK_WORK, so they stay one call; 600 rows split in two.
@pytest.mark.parametrize(("rows", "blocks"), [(600, 2), (300, 1)])
@pytest.mark.parametrize("beta", [0.0, 1.0])
def test_batch_split_products_compute_the_same_as_one_call(rng, monkeypatch, rows, blocks, beta):
    """split_batch: each thread takes a block of the batch's rows, in the forward (blocks of
    out's rows) and in the update (partial sums, one added after the call); blocks smaller
    than the batch call allows stay one call."""
    if not _blas.NUMPY_CBLAS_BATCH:
        pytest.skip("this numpy build does not ship scipy_cblas_?gemm_batch64_")
    monkeypatch.setattr(_blas, "_blas_threads", lambda: 2)  # as on the 2-core benchmark machine
    K, N = 784, 10
    X = rng.random((3 * rows, K), dtype=np.float32)
    theta, G = rng.standard_normal((K, N)).astype(np.float32), rng.random((rows, N), np.float32)
    batch = BatchRows(X, rows)
    logits, L0 = np.empty((rows, N), np.float32), np.ones((rows, N), np.float32)
    forward = Gemm(logits, batch, theta, alpha=0.5, beta=beta, split_batch=True)
    W, W0 = np.empty_like(theta), rng.standard_normal((K, N)).astype(np.float32)
    update = Gemm(W, batch.T, G.T.copy().T, alpha=-0.5, beta=beta, split_batch=True)
    assert (forward.blocks, update.blocks) == (blocks, blocks), (
        f"{rows} rows: split exactly the products whose blocks are big enough"
    )
    for start in (0, 2 * rows):  # the blocks follow the rows as they move
        batch.move_to(start)
        X_b = X[start : start + rows].astype(np.float64)
        logits[...], W[...] = L0, W0
        forward()
        update()
        np.testing.assert_allclose(logits, 0.5 * X_b @ theta + beta * L0, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(W, -0.5 * X_b.T @ G + beta * W0, rtol=1e-4, atol=1e-3)
    with pytest.raises(ValueError, match="exclude each other"):
        Gemm(logits, batch, theta, split_columns=True, split_batch=True)


def _record_split_blocks(monkeypatch, module):
    """Two BLAS threads, as on the benchmark machine; returns the list that collects the
    ``blocks`` of every product the epoch in ``nnlib.<module>`` binds, in order."""
    if not _blas.NUMPY_CBLAS_BATCH:
        pytest.skip("this numpy build does not ship scipy_cblas_?gemm_batch64_")
    monkeypatch.setattr(_blas, "_blas_threads", lambda: 2)
    made = []

    class Recording(Gemm):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self.blocks)

    monkeypatch.setattr(f"nnlib.{module}.Gemm", Recording)
    return made


def test_softmax_regression_epoch_splits_big_batches(rng, monkeypatch):
    """From batch 510 (784 features, 10 classes) both products split the batch between the
    threads; the epoch still agrees with the textbook version, the last small batch unsplit."""
    made = _record_split_blocks(monkeypatch, "linear")
    X, y, (theta,) = _problem(rng, 1300, [784, 10])
    fast, text = theta.copy(), theta.copy()
    nnlib.softmax_regression_epoch(X, y, fast, lr=0.5, batch=600)
    bench.textbook_softmax_regression_epoch(X, y, text, lr=0.5, batch=600)
    _agree([fast], [text], "softmax_regression_epoch with the batch split between threads")
    assert made == [2, 2, 1, 1], f"blocks per product, full batches then the last: {made}"


def test_nn_epoch_splits_its_big_products(rng, monkeypatch):
    """At batch < 500 the two products touching W1 split by columns; the epoch still agrees
    with the textbook version, including a last batch too small to split."""
    made = _record_split_blocks(monkeypatch, "two_layer")
    X, y, (W1, W2) = _problem(rng, 230, [784, 100, 10])
    fast, text = [W1.copy(), W2.copy()], [W1.copy(), W2.copy()]
    nnlib.nn_epoch(X, y, *fast, lr=0.5, batch=100)
    bench.textbook_nn_epoch(X, y, *text, lr=0.5, batch=100)
    _agree(fast, text, "nn_epoch with split products")
    assert made[:5] == [2, 1, 1, 1, 2], f"blocks per product of a full batch: {made[:5]}"
    assert made[5:] == [1] * 5, "the last batch of 30 rows is too small to split"


def test_gemm_refuses_what_blas_cannot_do(rng):
    A, B = _arrays(rng, [(4, 3), (3, 2)])
    with pytest.raises(ValueError, match=r"out \(4, 3\) = A \(4, 3\) @ B \(3, 2\)"):
        Gemm(np.empty((4, 3), np.float32), A, B)
    with pytest.raises(TypeError, match="float32, float64, float32"):
        Gemm(np.empty((4, 2), np.float32), A.astype(np.float64), B)
    square = np.ones((3, 3), np.float32)
    with pytest.raises(ValueError, match="shares memory"):
        Gemm(square, square, square)
    with pytest.raises(ValueError, match="rows must be in"):
        BatchRows(A, 5)


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


@pytest.mark.parametrize("batch", [25, 500])
def test_epochs_agree_without_numpy_cblas(rng, monkeypatch, batch):
    """Where numpy's BLAS is not reachable (a conda or MKL numpy), the products fall back to
    np.matmul into the same buffers: the same epochs, every product on the fallback."""
    monkeypatch.setattr(_blas, "NUMPY_CBLAS", {})
    taken = []
    for module in ("linear", "two_layer", "mlp"):

        class Recording(Gemm):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                taken.append(self.uses_blas)

        monkeypatch.setattr(f"nnlib.{module}.Gemm", Recording)
    X, y, weights = _problem(rng, 1103, [20, 16, 12, 7])
    fast, text = ([W.copy() for W in weights] for _ in range(2))
    nnlib.mlp_epoch(X, y, fast, lr=0.5, batch=batch)
    bench.textbook_mlp_epoch(X, y, text, lr=0.5, batch=batch)
    _agree(fast, text, "mlp_epoch without numpy's cblas")
    fast, text = ([W.copy() for W in weights[:2]] for _ in range(2))
    fast[1], text[1] = fast[1][:, :7].copy(), text[1][:, :7].copy()
    nnlib.nn_epoch(X, y, *fast, lr=0.5, batch=batch)
    bench.textbook_nn_epoch(X, y, *text, lr=0.5, batch=batch)
    _agree(fast, text, "nn_epoch without numpy's cblas")
    fast, text = weights[0][:, :7].copy(), weights[0][:, :7].copy()
    nnlib.softmax_regression_epoch(X, y, fast, lr=0.5, batch=batch)
    bench.textbook_softmax_regression_epoch(X, y, text, lr=0.5, batch=batch)
    _agree([fast], [text], "softmax_regression_epoch without numpy's cblas")
    assert taken and not any(taken), "with NUMPY_CBLAS empty every product must use np.matmul"


@pytest.mark.parametrize("model", ["softmax", "two_layer", "mlp"])
def test_interrupted_epoch_keeps_the_steps_taken(rng, monkeypatch, model):
    """Weights worked on in a transposed copy are copied back even when the epoch stops
    early: after a KeyboardInterrupt in step 3 they hold exactly steps 1 and 2."""
    sizes = {"softmax": [12, 5], "two_layer": [12, 9, 5], "mlp": [12, 9, 7, 5]}[model]
    X, y, weights = _problem(rng, 60, sizes)
    module = {"softmax": "linear", "two_layer": "two_layer", "mlp": "mlp"}[model]
    run = {
        "softmax": lambda Xs, ws: nnlib.softmax_regression_epoch(Xs, y[: len(Xs)], ws[0], batch=10),
        "two_layer": lambda Xs, ws: nnlib.nn_epoch(Xs, y[: len(Xs)], *ws, batch=10),
        "mlp": lambda Xs, ws: nnlib.mlp_epoch(Xs, y[: len(Xs)], ws, batch=10),
    }[model]
    want = [W.copy() for W in weights]
    run(X[:20], want)
    calls = []

    def exp(*args, **kwargs):  # the softmax's exp: once per step
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return np.exp(*args, **kwargs)

    spy = types.SimpleNamespace(**{k: getattr(np, k) for k in dir(np) if not k.startswith("__")})
    spy.exp = exp
    monkeypatch.setattr(f"nnlib.{module}.np", spy)
    got = [W.copy() for W in weights]
    with pytest.raises(KeyboardInterrupt):
        run(X, got)
    _agree(got, want, f"{model} epoch interrupted in step 3 vs two steps")


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
