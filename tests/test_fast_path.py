"""nnlib.fast: the tuned epochs give the reference epochs' results; the binding is defensive.

Correctness, not speed: every tuned epoch (``nnlib.fast.softmax_regression_epoch``,
``nn_epoch``, ``mlp_epoch``) must leave the same weights as the reference epoch of ``nnlib``
(the readable one, itself tested against an independent float64 loop in test_linear.py,
test_two_layer.py and test_mlp.py), in float32 and float64, on every memory layout, with a
last partial batch and one-row batches, on OpenBLAS and on the forced np.matmul fallback.
Speed is measured by ``scripts/bench.py``; its ``--quick`` mode runs here so that the
benchmark keeps working.
"""

import dataclasses
import importlib
import importlib.util
import json
import os
import subprocess
import sys
import tracemalloc
import types
from pathlib import Path

import numpy as np
import pytest

import nnlib
from nnlib import fast, timing
from nnlib.fast import _binding, _gemm
from nnlib.fast._gemm import BatchRows, Gemm
from nnlib.fast._label_positions import label_positions
from nnlib.fast._mlp import batch_buffer
from nnlib.gradcheck import relative_error

ROOT = Path(__file__).resolve().parents[1]
TOL = {np.float32: 1e-5, np.float64: 1e-12}  # float32 epochs of a few steps agree to ~1e-7
BLAS = _binding.load()


def _problem(rng, n, sizes, dtype=np.float32):
    X = rng.random((n, sizes[0]), dtype=np.float64).astype(dtype)
    y = rng.integers(0, sizes[-1], size=n).astype(np.uint8)
    weights = nnlib.init_mlp(sizes, rng, dtype=dtype)
    return X, y, weights


def _agree(got, want, what, dtype=np.float32):
    tol = TOL[np.dtype(dtype).type]
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        err = relative_error(g, w)
        assert err <= tol, (
            f"{what}: weights[{i}] differ by relative error {err:.2e} > {tol:g}; check the "
            "last partial batch (its size is not `batch`), the lr / N scaling and that every "
            "gradient of a step uses the weights from before that step"
        )


@pytest.fixture
def fallback(monkeypatch):
    """Every product of the tuned epochs on np.matmul, as where no OpenBLAS is bound."""
    monkeypatch.setattr(_binding, "load", lambda: _binding.Binding(reasons=["forced by a test"]))


@pytest.fixture
def two_threads(monkeypatch):
    """The binding as on a 2-core machine, batched call included (skips where it is off)."""
    if not BLAS.gemm_batch:
        pytest.skip(f"split products are off here: {fast.status()}")
    monkeypatch.setattr(_binding, "load", lambda: dataclasses.replace(BLAS, threads=lambda: 2))


def _epochs(model):
    """(tuned, reference) epochs of one model, both called as f(X, y, weights, lr, batch)."""
    return {
        "softmax": (
            lambda X, y, ws, lr, b: fast.softmax_regression_epoch(X, y, ws[0], lr, b),
            lambda X, y, ws, lr, b: nnlib.softmax_regression_epoch(X, y, ws[0], lr, b),
        ),
        "two_layer": (
            lambda X, y, ws, lr, b: fast.nn_epoch(X, y, *ws, lr, b),
            lambda X, y, ws, lr, b: nnlib.nn_epoch(X, y, *ws, lr, b),
        ),
        "mlp": (
            lambda X, y, ws, lr, b: fast.mlp_epoch(X, y, ws, lr, b),
            lambda X, y, ws, lr, b: nnlib.mlp_epoch(X, y, ws, lr, b),
        ),
    }[model]


SIZES = {"softmax": [20, 7], "two_layer": [20, 16, 7], "mlp": [20, 16, 12, 8, 7]}
MODELS = list(SIZES)
MODULES = {"softmax": "_linear", "two_layer": "_two_layer", "mlp": "_mlp"}


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


@pytest.mark.parametrize("path", ["openblas", "matmul"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("n", "batch"), BATCHES)
@pytest.mark.parametrize("model", MODELS)
def test_tuned_epochs_agree_with_the_reference(rng, request, model, n, batch, dtype, path):
    if path == "matmul":
        request.getfixturevalue("fallback")
    elif not BLAS.gemm:
        pytest.skip(f"no OpenBLAS bound here: {fast.status()}")
    X, y, weights = _problem(rng, n, SIZES[model], dtype)
    tuned, reference = _epochs(model)
    got, want = [W.copy() for W in weights], [W.copy() for W in weights]
    X0 = X.copy()
    assert tuned(X, y, got, 0.5, batch) is None, "the epochs update in place and return None"
    reference(X, y, want, 0.5, batch)
    _agree(got, want, f"nnlib.fast {model} epoch (N={n}, batch={batch}, {path})", dtype)
    assert all(W.dtype == dtype for W in got), f"{dtype.__name__} weights changed dtype"
    np.testing.assert_array_equal(X, X0, err_msg="the tuned epoch modified X")


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


@pytest.mark.parametrize("batch", [10, 600])
@pytest.mark.parametrize("w_layout", LAYOUTS)
@pytest.mark.parametrize("x_layout", LAYOUTS)
@pytest.mark.parametrize("model", MODELS)
def test_tuned_epochs_accept_every_memory_layout(rng, model, x_layout, w_layout, batch):
    """Fortran-ordered, row-strided and fully strided X and weights: same weights as the
    reference, written back into the caller's arrays (views included)."""
    X, y, weights = _problem(rng, 1203, SIZES[model])
    tuned, reference = _epochs(model)
    want = [W.copy() for W in weights]
    reference(X, y, want, 0.5, batch)
    got = [_laid_out(W, w_layout) for W in weights]
    tuned(_laid_out(X, x_layout), y, got, 0.5, batch)
    _agree(got, want, f"nnlib.fast {model} epoch, X {x_layout}, weights {w_layout}")


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_mlp_epoch_other_activations_agree_with_the_reference(rng, activation):
    X, y, weights = _problem(rng, 53, [12, 10, 9, 5])
    got, want = [W.copy() for W in weights], [W.copy() for W in weights]
    fast.mlp_epoch(X, y, got, lr=0.5, batch=20, activation=activation)
    nnlib.mlp_epoch(X, y, want, lr=0.5, batch=20, activation=activation)
    _agree(got, want, f"nnlib.fast.mlp_epoch(activation={activation!r})")


@pytest.mark.parametrize("weight_dtype", [np.float64, np.float32])
@pytest.mark.parametrize("model", MODELS)
def test_mixed_float_dtypes_take_the_reference_epoch(rng, model, weight_dtype):
    """float32 X with float64 weights (hw0 under NumPy 2) or the reverse: each weight keeps
    its dtype and gets the reference epoch's values."""
    data_dtype = np.float64 if weight_dtype == np.float32 else np.float32
    X, y, weights = _problem(rng, 57, SIZES[model], weight_dtype)
    X = X.astype(data_dtype)
    tuned, reference = _epochs(model)
    got, want = [W.copy() for W in weights], [W.copy() for W in weights]
    tuned(X, y, got, 0.5, 10)
    reference(X, y, want, 0.5, 10)
    assert all(W.dtype == weight_dtype for W in got), "weights must keep their own dtype"
    _agree(got, want, f"nnlib.fast {model} epoch with mixed dtypes", np.float64)


@pytest.mark.parametrize("batch", [1, 7, 25, 100, 600])
def test_tied_weights_get_the_textbook_result(rng, batch):
    """The same array twice in ``weights``: both gradients of a step from the weights before
    it, both applied to the one array (the tuned path would update it between them)."""
    X, y, _ = _problem(rng, 1203, [8, 8, 8, 3])
    W = nnlib.init_mlp([8, 8], rng)[0]
    last = nnlib.init_mlp([8, 3], rng)[0]
    tied = [W.copy(), None, last.copy()]
    tied[1] = tied[0]
    ref_W, ref_last = W.astype(np.float64), last.astype(np.float64)
    for start in range(0, X.shape[0], batch):  # independent of nnlib's epochs
        grads = nnlib.mlp_gradients(
            X[start : start + batch].astype(np.float64), y[start : start + batch],
            [ref_W, ref_W, ref_last],
        )  # fmt: skip
        ref_W, ref_last = ref_W - 0.1 * (grads[0] + grads[1]), ref_last - 0.1 * grads[2]
    for epoch in (fast.mlp_epoch, nnlib.mlp_epoch):
        weights = [tied[0].copy(), None, tied[2].copy()]
        weights[1] = weights[0]
        epoch(X, y, weights, 0.1, batch)
        assert weights[0] is weights[1]
        _agree([weights[0], weights[2]], [ref_W, ref_last], f"{epoch.__module__} tied weights")


@pytest.mark.parametrize("lr", [0.1, np.float64(0.1), np.float32(0.25), 1])
def test_numpy_scalar_learning_rate_keeps_float32(rng, lr):
    X, y, (W1, W2) = _problem(rng, 30, [6, 5, 3])
    fast.nn_epoch(X, y, W1, W2, lr=lr, batch=8)
    assert W1.dtype == W2.dtype == np.float32


@pytest.mark.parametrize("model", MODELS)
def test_tuned_epochs_validate_like_the_reference(rng, model):
    X, y, weights = _problem(rng, 30, SIZES[model])
    tuned, _ = _epochs(model)
    for lr in ("0.1", True, None):
        with pytest.raises(TypeError, match=r"lr \(the learning rate\) must be a real number"):
            tuned(X, y, weights, lr, 10)
    with pytest.raises(ValueError, match="batch must be a positive integer"):
        tuned(X, y, weights, 0.1, 0)
    view = X[:, : weights[0].shape[1]][: weights[0].shape[0]]
    aliased = [view, *weights[1:]]
    name = "theta" if model == "softmax" else ("W1" if model == "two_layer" else r"weights\[0\]")
    with pytest.raises(ValueError, match=f"{name} shares memory with X"):
        tuned(X, y, aliased, 0.1, 10)


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
@pytest.mark.parametrize("model", MODELS)
def test_no_float64_anywhere_in_the_tuned_epochs(rng, monkeypatch, model, batch):
    """Every numpy call and every matrix product of a float32 epoch sees only float32 arrays."""
    mod = importlib.import_module(f"nnlib.fast.{MODULES[model]}")
    spy = _DtypeSpy()
    monkeypatch.setattr(mod, "np", spy)
    monkeypatch.setattr("nnlib.fast._layout.np", spy)  # the shared softmax
    blas_dtypes = set()

    class SpyGemm(Gemm):
        def __init__(self, out, A, B, *args, **kwargs):
            for M in (out, A, B):
                blas_dtypes.add(M.dtype)
            super().__init__(out, A, B, *args, **kwargs)

    monkeypatch.setattr(mod, "Gemm", SpyGemm)
    X, y, weights = _problem(rng, 37, [9, 8, 6, 4])
    if model == "softmax":
        fast.softmax_regression_epoch(
            X, y, weights[0][:, :4].copy(), lr=np.float64(0.1), batch=batch
        )
    elif model == "two_layer":
        fast.nn_epoch(X, y, weights[0], weights[1][:, :4].copy(), lr=np.float64(0.1), batch=batch)
    else:
        fast.mlp_epoch(X, y, weights, lr=np.float64(0.1), batch=batch)
    assert spy.seen == {np.dtype(np.float32)}, f"numpy calls touched {spy.seen}"
    assert blas_dtypes == {np.dtype(np.float32)}, f"matrix products touched {blas_dtypes}"


@pytest.mark.parametrize("model", MODELS)
def test_epoch_allocates_only_batch_sized_buffers(rng, model):
    """Working memory: batch buffers, one label position per example and transposed working
    copies of weights where the layout rule asks for them (below batch 500: theta for softmax
    regression, every hidden layer's weight for the MLP), never temporaries the size of a
    weight (``W -= lr * dW`` makes two)."""
    n, batch = 2000, 50
    sizes = {"softmax": [784, 64], "two_layer": [784, 64, 10], "mlp": [784, 64, 32, 10]}[model]
    X, y, weights = _problem(rng, n, sizes)
    run = {
        "softmax": lambda: fast.softmax_regression_epoch(X, y, weights[0], batch=batch),
        "two_layer": lambda: fast.nn_epoch(X, y, *weights, batch=batch),
        "mlp": lambda: fast.mlp_epoch(X, y, weights, batch=batch),
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


@pytest.mark.parametrize("blas", ["numpy cblas", "fallback"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("out_layout", LAYOUTS)
@pytest.mark.parametrize(
    ("a_layout", "b_layout"), [("C", "C"), ("F", "C"), ("C", "F"), ("strided rows", "strided")]
)
@pytest.mark.parametrize(("alpha", "beta"), [(1.0, 0.0), (-0.5, 1.0), (2.0, 0.5)])
def test_gemm_is_alpha_A_B_plus_beta_out(
    rng, request, blas, dtype, out_layout, a_layout, b_layout, alpha, beta
):
    if blas == "numpy cblas" and not BLAS.gemm:
        pytest.skip(f"no OpenBLAS bound here: {fast.status()}")
    if blas == "fallback":
        request.getfixturevalue("fallback")
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
def test_batch_rows_move_every_bound_product(rng, request, blas, order):
    """Products bound to BatchRows (and to its .T) read the rows of the last move_to."""
    if blas == "numpy cblas" and not BLAS.gemm:
        pytest.skip(f"no OpenBLAS bound here: {fast.status()}")
    if blas == "fallback":
        request.getfixturevalue("fallback")
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
    assert _gemm._even_blocks(100, 2, 16) == [(0, 48), (48, 100)]
    assert _gemm._even_blocks(400, 2, 16) == [(0, 192), (192, 400)]
    assert _gemm._even_blocks(20, 2, 16) == [(0, 16), (16, 20)]
    assert _gemm._even_blocks(10, 2, 16) == [(0, 10)], "too narrow to split: one block"
    blocks = _gemm._even_blocks(1000, 8, 16)
    assert len(blocks) == 8 and all(lo % 16 == 0 for lo, _ in blocks)


@pytest.mark.parametrize("shape", [(100, 784, 100), (64, 100, 784), (8, 20, 30)])
@pytest.mark.parametrize("beta", [0.0, 1.0])
def test_split_products_compute_the_same_as_one_call(rng, two_threads, shape, beta):
    """split_columns: one product per thread on its own block of columns, where the product
    is big enough (small ones stay one call: OpenBLAS's batch call crashes on those)."""
    M, K, N = shape
    X = rng.random((3 * M, K), dtype=np.float32)
    B, C0 = rng.standard_normal((K, N)).astype(np.float32), np.ones((M, N), np.float32)
    rows = BatchRows(X, M)
    out = C0.copy()
    product = Gemm(out, rows, B, alpha=0.5, beta=beta, split_columns=True)
    narrowest = min(hi - lo for lo, hi in _gemm._even_blocks(N, 2, 16))
    big = M * K * narrowest >= _gemm.MIN_SPLIT_BLOCK_WORK
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
def test_batch_split_products_compute_the_same_as_one_call(rng, two_threads, rows, blocks, beta):
    """split_batch: each thread takes a block of the batch's rows, in the forward (blocks of
    out's rows) and in the update (partial sums, one added after the call); blocks smaller
    than the batch call allows stay one call."""
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


def _record(monkeypatch, model, attribute="blocks"):
    """The list that collects ``attribute`` of every product the tuned ``model`` epoch binds."""
    made = []

    class Recording(Gemm):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(getattr(self, attribute))

    monkeypatch.setattr(f"nnlib.fast.{MODULES[model]}.Gemm", Recording)
    return made


def test_softmax_regression_epoch_splits_big_batches(rng, monkeypatch, two_threads):
    """From batch 510 (784 features, 10 classes) both products split the batch between the
    threads; the epoch still agrees with the reference, the last small batch unsplit."""
    made = _record(monkeypatch, "softmax")
    X, y, (theta,) = _problem(rng, 1300, [784, 10])
    got, want = theta.copy(), theta.copy()
    fast.softmax_regression_epoch(X, y, got, lr=0.5, batch=600)
    nnlib.softmax_regression_epoch(X, y, want, lr=0.5, batch=600)
    _agree([got], [want], "softmax_regression_epoch with the batch split between threads")
    assert made == [2, 2, 1, 1], f"blocks per product, full batches then the last: {made}"


def test_nn_epoch_splits_its_big_products(rng, monkeypatch, two_threads):
    """At small batches the two products touching W1 split by columns; the epoch still agrees
    with the reference, including a last batch too small to split."""
    made = _record(monkeypatch, "two_layer")
    X, y, (W1, W2) = _problem(rng, 230, [784, 100, 10])
    got, want = [W1.copy(), W2.copy()], [W1.copy(), W2.copy()]
    fast.nn_epoch(X, y, *got, lr=0.5, batch=100)
    nnlib.nn_epoch(X, y, *want, lr=0.5, batch=100)
    _agree(got, want, "nn_epoch with split products")
    assert made[:5] == [2, 1, 1, 1, 2], f"blocks per product of a full batch: {made[:5]}"
    assert made[5:] == [1] * 5, "the last batch of 30 rows is too small to split"


def test_gemm_refuses_what_blas_cannot_do(rng):
    A, B = _arrays(rng, [(4, 3), (3, 2)])
    with pytest.raises(ValueError, match=r"out \(4, 3\) = A \(4, 3\) @ B \(3, 2\)"):
        Gemm(np.empty((4, 3), np.float32), A, B)
    with pytest.raises(TypeError, match="float32, float64, float32"):
        Gemm(np.empty((4, 2), np.float32), A.astype(np.float64), B)
    square = np.ones((3, 3), np.float32)
    with pytest.raises(ValueError, match="out shares memory with A or B"):
        Gemm(square, square, square)
    with pytest.raises(ValueError, match="rows must be in"):
        BatchRows(A, 5)


# --------------------------------------------------------------------------- the binding


def test_import_nnlib_leaves_the_binding_alone():
    """A student's ``import nnlib`` neither imports nnlib.fast nor binds a library."""
    code = (
        "import sys, nnlib; "
        "assert not [m for m in sys.modules if m.startswith('nnlib.fast')], sorted(sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_library_is_found_only_where_it_is(tmp_path):
    """No numpy OpenBLAS next to the given directory, or a file that is no library: the
    fallback, with the reason in the status."""
    binding = _binding.load_library(tmp_path / "numpy")
    assert binding.gemm == {} and "ships no libscipy_openblas64_" in str(binding.status())
    (tmp_path / "numpy.libs").mkdir()
    (tmp_path / "numpy.libs" / "libscipy_openblas64_-fake.so").write_bytes(b"not a library")
    binding = _binding.load_library(tmp_path / "numpy")
    assert binding.gemm == {} and "not a usable OpenBLAS" in str(binding.status())


@pytest.mark.parametrize(
    ("config", "bound"),
    [
        ("OpenBLAS 0.3.31.188.0 USE64BITINT DYNAMIC_ARCH Haswell", True),
        ("OpenBLAS 0.4.0 USE64BITINT", False),
        ("OpenBLAS 1.3.0", False),
        ("some other BLAS 2.0", False),
    ],
)
def test_only_the_supported_openblas_series_is_bound(monkeypatch, config, bound):
    if not BLAS.gemm:
        pytest.skip(f"no OpenBLAS bound here: {fast.status()}")
    real_open = _binding._open
    monkeypatch.setattr(_binding, "_open", lambda path: (real_open(path)[0], config))
    binding = _binding.load_library()
    assert bool(binding.gemm) == bound, f"{config!r}: bound={bool(binding.gemm)}"
    if not bound:
        assert "the series bound here" in str(binding.status())
    assert _binding.parse_version("OpenBLAS 0.3.27 DYNAMIC_ARCH") == (0, 3, 27)
    assert _binding.parse_version("MKL 2024") is None


def test_bound_functions_declare_their_argument_types():
    if not BLAS.gemm:
        pytest.skip(f"no OpenBLAS bound here: {fast.status()}")
    for fn in [*BLAS.gemm.values(), *BLAS.gemm_batch.values()]:
        assert fn.argtypes and len(fn.argtypes) in (14, 16) and fn.restype is None


def test_batched_call_is_checked_in_a_child_process(tmp_path):
    """The check runs in a child: a crash there is a refusal (a non-library file makes the
    child fail); numpy's own library passes where its batched call is in use."""
    fake = tmp_path / "libscipy_openblas64_-fake.so"
    fake.write_bytes(b"not a library")
    ok, why = _binding._batch_call_works(fake)
    assert not ok and "exit code" in why, why
    if BLAS.gemm_batch:
        assert _binding._batch_call_works(Path(BLAS.library)) == (True, "ok")


def test_status_names_the_path_library_and_threads():
    status = fast.status()
    assert status.path in ("openblas", "matmul")
    if status.path == "openblas":
        assert Path(status.library).is_file() and status.version.startswith("OpenBLAS 0.3")
        assert status.threads >= 1
        assert f"{status.threads} thread" in str(status) and status.library in str(status)
    else:
        assert status.reasons and status.reasons[0] in str(status)


def test_forcing_the_fallback_by_environment_variable(rng):
    """``NNLIB_FAST_BLAS=matmul``: status says so, and a tuned epoch still gives the
    reference's weights."""
    code = (
        "import numpy as np, nnlib, nnlib.fast as f\n"
        "s = f.status(); print(s)\n"
        "assert s.path == 'matmul' and 'NNLIB_FAST_BLAS=matmul' in str(s), s\n"
        "rng = np.random.default_rng(0)\n"
        "X = rng.random((103, 20), dtype=np.float32); y = rng.integers(0, 7, 103)\n"
        "W = nnlib.init_mlp([20, 16, 7], rng); R = [w.copy() for w in W]\n"
        "f.nn_epoch(X, y, *W, 0.5, 25); nnlib.nn_epoch(X, y, *R, 0.5, 25)\n"
        "assert all(np.allclose(a, b, rtol=1e-5, atol=1e-6) for a, b in zip(W, R))\n"
    )
    env = {**os.environ, _binding.FORCE_FALLBACK_VARIABLE: "matmul"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    assert "np.matmul fallback" in proc.stdout


@pytest.mark.parametrize("batch", [25, 500])
def test_fallback_runs_every_product_on_matmul(rng, monkeypatch, fallback, batch):
    """Where no OpenBLAS is bound (a conda or MKL numpy, numpy 1.x), the products run
    np.matmul into the same buffers: the same epochs, every product on the fallback."""
    taken = _record(monkeypatch, "mlp", "uses_blas")
    X, y, weights = _problem(rng, 1103, [20, 16, 12, 7])
    got, want = ([W.copy() for W in weights] for _ in range(2))
    fast.mlp_epoch(X, y, got, lr=0.5, batch=batch)
    nnlib.mlp_epoch(X, y, want, lr=0.5, batch=batch)
    _agree(got, want, "mlp_epoch on the fallback")
    assert fast.status().path == "matmul"
    assert taken and not any(taken), "with no library bound every product must use np.matmul"


@pytest.mark.parametrize("model", MODELS)
def test_interrupted_epoch_keeps_the_steps_taken(rng, monkeypatch, model):
    """Weights worked on in a transposed copy are copied back even when the epoch stops
    early: after a KeyboardInterrupt in step 3 they hold exactly steps 1 and 2."""
    sizes = {"softmax": [12, 5], "two_layer": [12, 9, 5], "mlp": [12, 9, 7, 5]}[model]
    X, y, weights = _problem(rng, 60, sizes)
    tuned, _ = _epochs(model)
    want = [W.copy() for W in weights]
    tuned(X[:20], y[:20], want, 0.1, 10)
    calls = []

    def exp(*args, **kwargs):  # the softmax's exp: once per step
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return np.exp(*args, **kwargs)

    spy = types.SimpleNamespace(**{k: getattr(np, k) for k in dir(np) if not k.startswith("__")})
    spy.exp = exp
    monkeypatch.setattr("nnlib.fast._layout.np", spy)
    got = [W.copy() for W in weights]
    with pytest.raises(KeyboardInterrupt):
        tuned(X, y, got, 0.1, 10)
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
    """The benchmark's PyTorch candidates (not an oracle: they are checked here)."""
    torch = pytest.importorskip("torch")
    spec = importlib.util.spec_from_file_location("bench", ROOT / "scripts" / "bench.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
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


def test_bench_softmax_products_are_the_fast_epochs_own(rng, monkeypatch):
    """``fast-products`` runs the tuned softmax epoch's two products on every batch, a partial
    last one included, and leaves theta as it was (its gradient stays zero)."""
    import nnlib.fast._gemm as gemm_module

    spec = importlib.util.spec_from_file_location("bench", ROOT / "scripts" / "bench.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    calls = []

    class CountingGemm(gemm_module.Gemm):
        def __call__(self):
            calls.append(self.out.shape)
            super().__call__()

    monkeypatch.setattr(gemm_module, "Gemm", CountingGemm)  # bench imports it when it runs
    X = rng.random((530, 40), dtype=np.float32)
    theta = rng.standard_normal((40, 10)).astype(np.float32)
    before = theta.copy()
    bench.fast_softmax_products_epoch(X, theta, lr=0.1, batch=100)
    np.testing.assert_array_equal(theta, before)
    assert calls.count((100, 10)) == 5 and calls.count((30, 10)) == 1, calls
    assert calls.count((40, 10)) == 6, "one fused update per batch"


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
        assert {"fast", "reference", "floor", "naive"} <= set(r["candidates"])
        assert ("fast-products" in r["candidates"]) == (r["model"] == "softmax")
    assert (tmp_path / "bench.png").stat().st_size > 1000
    assert "BLAS" in proc.stdout
    assert str(fast.status()).splitlines()[0] in proc.stdout, "the bench prints fast.status()"


# --------------------------------------------------------------------------- the student bundle


def test_student_copy_leaves_nnlib_fast_out(tmp_path):
    """nnlib.fast is instructor-only: the student copy has no trace of it, and the bundle's
    leak check counts each of its lines as secret."""
    from autograder.bundle import secret_lines
    from autograder.student_copy import make_student_copy

    package = ROOT / "src" / "nnlib"
    make_student_copy(package, tmp_path / "nnlib")
    assert (tmp_path / "nnlib" / "two_layer.py").is_file()
    assert not (tmp_path / "nnlib" / "fast").exists(), "nnlib/fast reached the student copy"
    copied = "\n".join(p.read_text() for p in (tmp_path / "nnlib").rglob("*.py"))
    for word in ("Gemm", "BatchRows", "label_positions", "ctypes"):
        assert word not in copied, f"{word} appears in the student copy"
    fast_line = "rows.move_to(start)"
    assert fast_line in (package / "fast" / "_linear.py").read_text()
    assert fast_line in secret_lines(package, None)
