# ruff: noqa: NPY002  (hw0 draws from the legacy global generator; so do these tests)
"""CMU dlsys hw0's checks and training code, run against nnlib (restated, not copied).

hw0 builds its test problems with the legacy global seed and
``np.random.randn(...).astype(np.float32) / np.sqrt(n)``: under NumPy 2 (NEP 50) dividing by the
float64 scalar ``np.sqrt(n)`` makes the weights float64 while the data stays float32. nnlib must
train such weights as a numpy user expects: computing in numpy's promoted dtype, each weight
updated in place in its own dtype. The published values (weight norms after one MNIST epoch)
need the real MNIST files: set ``NNLIB_MNIST_DIR`` to a folder holding them to run those.
"""

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest
from strategies import labels, ref_sgd_epoch, ref_weight_grads

import nnlib
from nnlib import fast
from nnlib.gradcheck import numerical_gradient


def _hw0_problem():
    """hw0's small problem: 50 examples, 5 features, 3 classes, legacy seed 0."""
    np.random.seed(0)
    X = np.random.randn(50, 5).astype(np.float32)
    y = np.random.randint(3, size=(50,)).astype(np.uint8)
    return X, y


@pytest.mark.parametrize("epoch", [nnlib.softmax_regression_epoch, fast.softmax_regression_epoch])
def test_one_full_batch_step_is_minus_the_numerical_gradient(epoch):
    """hw0: from theta = 0, one epoch with lr = 1 and a single batch of all 50 examples moves
    theta by exactly minus the gradient of the mean loss (checked numerically)."""
    X, y = _hw0_problem()
    theta = np.zeros((5, 3), dtype=np.float32)
    grad = numerical_gradient(
        lambda t: nnlib.softmax_loss(X.astype(np.float64) @ t, y), np.zeros((5, 3))
    )
    epoch(X, y, theta, lr=1.0, batch=50)
    assert theta.dtype == np.float32
    np.testing.assert_allclose(theta, -grad, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("epoch", [nnlib.nn_epoch, fast.nn_epoch])
def test_hw0_two_layer_weights_are_float64_under_numpy2_and_train(epoch):
    """hw0's nn_epoch check: W1, W2 from ``randn(...).astype(np.float32) / np.sqrt(n)``, which
    NumPy 2 makes float64, with float32 X; one full-batch step with lr = 1 is minus the
    numerical gradient of each weight, and the weights stay float64."""
    X, y = _hw0_problem()
    W1 = np.random.randn(5, 10).astype(np.float32) / np.sqrt(10)
    W2 = np.random.randn(10, 3).astype(np.float32) / np.sqrt(3)
    if np.lib.NumpyVersion(np.__version__) >= "2.0.0":
        assert W1.dtype == W2.dtype == np.float64, "the NumPy 2 promotion this test is about"
    W1_0, W2_0 = W1.copy(), W2.copy()

    def loss(A, B):
        return nnlib.softmax_loss(np.maximum(X.astype(np.float64) @ A, 0) @ B, y)

    dW1 = numerical_gradient(lambda A: loss(A, W2_0), W1_0.astype(np.float64))
    dW2 = numerical_gradient(lambda B: loss(W1_0, B), W2_0.astype(np.float64))
    epoch(X, y, W1, W2, lr=1.0, batch=50)
    assert W1.dtype == W1_0.dtype and W2.dtype == W2_0.dtype, "weights keep their own dtype"
    np.testing.assert_allclose(W1_0 - W1, dW1, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(W2_0 - W2, dW2, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("weight_dtype", [np.float64, np.float32])
def test_every_gradient_and_epoch_takes_mixed_float_dtypes(rng, weight_dtype):
    """float32 data with float64 weights, or the reverse: gradients equal the float64
    reference (to the precision of the float32 operand), epochs keep each weight's dtype."""
    data_dtype = np.float32 if weight_dtype == np.float64 else np.float64
    X = rng.standard_normal((23, 6)).astype(data_dtype)
    y = labels(rng, 23, 4)
    Ws = nnlib.init_mlp([6, 7, 5, 4], rng, dtype=weight_dtype)
    theta = nnlib.init_mlp([6, 4], rng, dtype=weight_dtype)[0]
    tol = dict(rtol=1e-4, atol=1e-5)
    checks = {
        "softmax_regression_grad": ([nnlib.softmax_regression_grad(X, y, theta)], 1),
        "softmax_regression_grad_naive": (
            [nnlib.softmax_regression_grad_naive(X, y, theta)],
            1,
        ),
        "nn_gradients": (nnlib.nn_gradients(X, y, Ws[0], Ws[1][:, :4].copy()), 2),
        "nn_gradients_naive": (nnlib.nn_gradients_naive(X, y, Ws[0], Ws[1][:, :4].copy()), 2),
        "mlp_gradients": (nnlib.mlp_gradients(X, y, Ws), 3),
        "mlp_gradients_naive": (nnlib.mlp_gradients_naive(X, y, Ws), 3),
    }
    refs = {
        1: ref_weight_grads(X, y, [theta]),
        2: ref_weight_grads(X, y, [Ws[0], Ws[1][:, :4]]),
        3: ref_weight_grads(X, y, Ws),
    }
    for name, (grads, key) in checks.items():
        for i, (g, r) in enumerate(zip(grads, refs[key], strict=True)):
            np.testing.assert_allclose(g, r, **tol, err_msg=f"{name}: gradient {i}")
    for epoch in (nnlib.mlp_epoch, fast.mlp_epoch):
        weights = [W.copy() for W in Ws]
        epoch(X, y, weights, 0.3, 10)
        want = ref_sgd_epoch(X, y, Ws, 0.3, 10)
        for i, (W, E) in enumerate(zip(weights, want, strict=True)):
            assert W.dtype == weight_dtype, f"{epoch.__module__}: weights[{i}] changed dtype"
            np.testing.assert_allclose(W, E, **tol, err_msg=f"{epoch.__module__} weights[{i}]")


def _write_idx(folder: Path, pixels: np.ndarray, y: np.ndarray) -> tuple[Path, Path]:
    images, label_file = folder / "images-idx3-ubyte.gz", folder / "labels-idx1-ubyte.gz"
    with gzip.open(images, "wb") as f:
        f.write(struct.pack(">iiii", 2051, *pixels.shape) + pixels.tobytes())
    with gzip.open(label_file, "wb") as f:
        f.write(struct.pack(">ii", 2049, y.shape[0]) + y.tobytes())
    return images, label_file


def test_hw0_training_code_runs_on_parse_mnist_output(tmp_path):
    """hw0's training loops as a student writes them: parse_mnist's float32 pixels and uint8
    labels, softmax regression from float32 zeros, the two-layer net from hw0's float64
    initialisation; every epoch lowers the training loss and no weight changes dtype."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, size=300).astype(np.uint8)
    pixels = rng.integers(0, 40, size=(300, 28, 28), dtype=np.uint8)  # dim noise, and
    for c in range(4):  # a bright band of rows whose place gives the class away
        pixels[y == c, 7 * c : 7 * c + 3] += np.uint8(200)
    X, y = nnlib.parse_mnist(*_write_idx(tmp_path, pixels, y))
    theta = np.zeros((X.shape[1], y.max() + 1), dtype=np.float32)
    np.random.seed(0)
    W1 = np.random.randn(X.shape[1], 50).astype(np.float32) / np.sqrt(50)
    W2 = np.random.randn(50, y.max() + 1).astype(np.float32) / np.sqrt(y.max() + 1)
    dtypes = (theta.dtype, W1.dtype, W2.dtype)
    losses = {"softmax": [], "nn": []}
    for _ in range(3):
        losses["softmax"].append(nnlib.loss_err(X @ theta, y)[0])
        losses["nn"].append(nnlib.loss_err(np.maximum(X @ W1, 0) @ W2, y)[0])
        nnlib.softmax_regression_epoch(X, y, theta, lr=0.1, batch=100)
        nnlib.nn_epoch(X, y, W1, W2, lr=0.1, batch=100)
    assert (theta.dtype, W1.dtype, W2.dtype) == dtypes
    for name, values in losses.items():
        assert values == sorted(values, reverse=True), f"{name} loss did not fall: {values}"


def _mnist_dir() -> Path | None:
    folder = os.environ.get("NNLIB_MNIST_DIR")
    if folder and (Path(folder) / "train-images-idx3-ubyte.gz").is_file():
        return Path(folder)
    return None


@pytest.mark.skipif(_mnist_dir() is None, reason="set NNLIB_MNIST_DIR to the real MNIST files")
@pytest.mark.parametrize("module", [nnlib, fast])
def test_hw0_published_values_on_mnist(module):
    """hw0's published numbers: theta's norm after 10 steps on 100 MNIST images, and the
    two-layer net's weight norms, loss and error after one epoch on all of MNIST's training
    set (lr 0.2, batch 100, weights from the legacy seed 0)."""
    folder = _mnist_dir()
    X, y = nnlib.parse_mnist(
        folder / "train-images-idx3-ubyte.gz", folder / "train-labels-idx1-ubyte.gz"
    )
    theta = np.zeros((X.shape[1], y.max() + 1), dtype=np.float32)
    module.softmax_regression_epoch(X[:100], y[:100], theta, lr=0.1, batch=10)
    np.testing.assert_allclose(np.linalg.norm(theta), 1.0947356, rtol=1e-5, atol=1e-5)
    np.random.seed(0)
    W1 = np.random.randn(X.shape[1], 100).astype(np.float32) / np.sqrt(100)
    W2 = np.random.randn(100, 10).astype(np.float32) / np.sqrt(10)
    module.nn_epoch(X, y, W1, W2, lr=0.2, batch=100)
    np.testing.assert_allclose(np.linalg.norm(W1), 28.437788, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(W2), 10.455095, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        nnlib.loss_err(np.maximum(X @ W1, 0) @ W2, y),
        (0.19770025, 0.06006667),
        rtol=1e-4,
        atol=1e-4,
    )
