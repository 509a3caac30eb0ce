"""Bad input to public functions fails at the boundary, with a message that names the
argument and the expected versus the actual shape or dtype (never an assert, never a silent
broadcast)."""

import re

import numpy as np
import pytest

import nnlib
from nnlib import MLPCache

N, D, H, C = 6, 4, 5, 3


def X(dtype=np.float32, n=N, d=D):
    return np.random.default_rng(0).standard_normal((n, d)).astype(dtype)


def Y(n=N, high=C):
    return (np.arange(n) % high).astype(np.int64)


def W(rows, cols, dtype=np.float32):
    return np.random.default_rng(1).standard_normal((rows, cols)).astype(dtype)


def read_only(a):
    a.flags.writeable = False
    return a


def bad_y():
    y = Y()
    y[2] = C  # one label equal to C is out of range
    return y


def cache_for(x, weights):
    return nnlib.mlp_forward(x, weights)[1]


def mlp_w(dtype=np.float32):
    return [W(D, H, dtype), W(H, C, dtype)]


def case(id, call, exc, match, *tasks):
    marks = [getattr(pytest.mark, f"task_{t}") for t in tasks]
    return pytest.param(call, exc, match, id=id, marks=marks)


CASES = [
    # --- losses -----------------------------------------------------------------------------
    case(
        "softmax-1d",
        lambda: nnlib.softmax(np.zeros(3)),
        ValueError,
        r"Z must be 2-D, got shape (3,) (1-D)",
        "softmax",
    ),
    case(
        "softmax-3d",
        lambda: nnlib.softmax(np.zeros((2, 3, 4))),
        ValueError,
        r"Z must be 2-D, got shape (2, 3, 4)",
        "softmax",
    ),
    case(
        "softmax-int",
        lambda: nnlib.softmax(np.ones((2, 3), dtype=np.int64)),
        TypeError,
        "Z must have a floating dtype (float32 or float64), got int64",
        "softmax",
    ),
    case(
        "softmax-list",
        lambda: nnlib.softmax([[1.0, 2.0]]),
        TypeError,
        "Z must be a numpy ndarray, got list",
        "softmax",
    ),
    case(
        "softmax-empty",
        lambda: nnlib.softmax(np.zeros((0, 3))),
        ValueError,
        "Z is empty (shape (0, 3))",
        "softmax",
    ),
    case(
        "log_softmax-1d",
        lambda: nnlib.log_softmax(np.zeros(3)),
        ValueError,
        "Z must be 2-D",
        "log_softmax",
    ),
    case(
        "log_softmax-int",
        lambda: nnlib.log_softmax(np.ones((2, 3), dtype=np.int32)),
        TypeError,
        "Z must have a floating dtype",
        "log_softmax",
    ),
    case(
        "loss-label-too-big",
        lambda: nnlib.softmax_loss(X(d=C), bad_y()),
        ValueError,
        "y must lie in [0, 3) for 3 classes, found values from 0 to 3",
        "softmax_loss",
    ),
    case(
        "loss-label-negative",
        lambda: nnlib.softmax_loss(X(d=C), Y() - 1),
        ValueError,
        "y must lie in [0, 3) for 3 classes, found values from -1 to 1",
        "softmax_loss",
    ),
    case(
        "loss-float-labels",
        lambda: nnlib.softmax_loss(X(d=C), Y().astype(float)),
        TypeError,
        "y must hold integer class labels, got dtype float64",
        "softmax_loss",
    ),
    case(
        "loss-column-labels",
        lambda: nnlib.softmax_loss(X(d=C), Y()[:, None]),
        ValueError,
        "y must have shape (6,) to match the 6 rows, got (6, 1)",
        "softmax_loss",
    ),
    case(
        "loss-short-labels",
        lambda: nnlib.softmax_loss(X(d=C), Y(n=5)),
        ValueError,
        "y must have shape (6,) to match the 6 rows, got (5,)",
        "softmax_loss",
    ),
    case(
        "loss-list-labels",
        lambda: nnlib.softmax_loss(X(d=C), [0] * N),
        TypeError,
        "y must be a numpy ndarray of integer labels, got list",
        "softmax_loss",
    ),
    case(
        "loss-grad-label",
        lambda: nnlib.softmax_loss_grad(X(d=C), bad_y()),
        ValueError,
        "y must lie in [0, 3)",
        "softmax_loss_grad",
    ),
    case(
        "loss-grad-1d",
        lambda: nnlib.softmax_loss_grad(np.zeros(3), Y(n=3)),
        ValueError,
        "Z must be 2-D",
        "softmax_loss_grad",
    ),
    case(
        "loss-grad-int",
        lambda: nnlib.softmax_loss_grad(Y()[:, None] * 1, Y(high=1)),
        TypeError,
        "Z must have a floating dtype",
        "softmax_loss_grad",
    ),
    case(
        "one_hot-classes",
        lambda: nnlib.one_hot(Y(), 0),
        ValueError,
        "num_classes must be a positive integer, got 0",
    ),
    case(
        "one_hot-2d",
        lambda: nnlib.one_hot(Y()[:, None], C),
        ValueError,
        "y must be 1-D, got shape (6, 1)",
    ),
    case(
        "one_hot-range",
        lambda: nnlib.one_hot(Y(), 2),
        ValueError,
        "y must lie in [0, 2) for 2 classes",
    ),
    case(
        "loss_err-1d",
        lambda: nnlib.loss_err(np.zeros(3), Y(n=3)),
        ValueError,
        "h must be 2-D",
        "softmax_loss",
    ),
    case(
        "loss_err-labels",
        lambda: nnlib.loss_err(X(d=2), Y()),
        ValueError,
        "y must lie in [0, 2)",
        "softmax_loss",
    ),
    # --- softmax regression -----------------------------------------------------------------
    case(
        "sr-grad-theta-rows",
        lambda: nnlib.softmax_regression_grad(X(), Y(), W(3, C)),
        ValueError,
        "theta must have shape (4, any), got (3, 3)",
        "softmax_regression_grad",
    ),
    case(
        "sr-grad-theta-1d",
        lambda: nnlib.softmax_regression_grad(X(), Y(), np.zeros(D)),
        ValueError,
        "theta must be 2-D, got shape (4,)",
        "softmax_regression_grad",
    ),
    case(
        "sr-grad-int-X",
        lambda: nnlib.softmax_regression_grad(np.ones((N, D), dtype=int), Y(), W(D, C)),
        TypeError,
        "X must have a floating dtype",
        "softmax_regression_grad",
    ),
    case(
        "sr-grad-labels",
        lambda: nnlib.softmax_regression_grad(X(), bad_y(), W(D, C)),
        ValueError,
        "y must lie in [0, 3)",
        "softmax_regression_grad",
    ),
    case(
        "sr-grad-empty",
        lambda: nnlib.softmax_regression_grad(X(n=0), Y(n=0), W(D, C)),
        ValueError,
        "X is empty (shape (0, 4))",
        "softmax_regression_grad",
    ),
    case(
        "sr-epoch-batch-0",
        lambda: nnlib.softmax_regression_epoch(X(), Y(), W(D, C), batch=0),
        ValueError,
        "batch must be a positive integer, got 0",
        "softmax_regression_epoch",
    ),
    case(
        "sr-epoch-batch-neg",
        lambda: nnlib.softmax_regression_epoch(X(), Y(), W(D, C), batch=-5),
        ValueError,
        "batch must be a positive integer, got -5",
        "softmax_regression_epoch",
    ),
    case(
        "sr-epoch-batch-float",
        lambda: nnlib.softmax_regression_epoch(X(), Y(), W(D, C), batch=2.5),
        TypeError,
        "batch must be a positive integer, got 2.5",
        "softmax_regression_epoch",
    ),
    case(
        "sr-epoch-batch-bool",
        lambda: nnlib.softmax_regression_epoch(X(), Y(), W(D, C), batch=True),
        TypeError,
        "batch must be a positive integer, got True",
        "softmax_regression_epoch",
    ),
    case(
        "sr-epoch-read-only",
        lambda: nnlib.softmax_regression_epoch(X(), Y(), read_only(W(D, C))),
        ValueError,
        "theta is read-only, but the epoch updates it in place",
        "softmax_regression_epoch",
    ),
    case(
        "sr-epoch-labels",
        lambda: nnlib.softmax_regression_epoch(X(), bad_y(), W(D, C)),
        ValueError,
        "y must lie in [0, 3)",
        "softmax_regression_epoch",
    ),
    case(
        "sr-epoch-empty",
        lambda: nnlib.softmax_regression_epoch(X(n=0), Y(n=0), W(D, C)),
        ValueError,
        "X is empty",
        "softmax_regression_epoch",
    ),
    # --- two-layer ----------------------------------------------------------------------------
    case(
        "nn-W1-rows",
        lambda: nnlib.nn_gradients(X(), Y(), W(D + 1, H), W(H, C)),
        ValueError,
        "W1 must have shape (4, any), got (5, 5)",
        "nn_gradients",
    ),
    case(
        "nn-W2-rows",
        lambda: nnlib.nn_gradients(X(), Y(), W(D, H), W(H + 1, C)),
        ValueError,
        "W2 must have shape (5, any), got (6, 3)",
        "nn_gradients",
    ),
    case(
        "nn-labels",
        lambda: nnlib.nn_gradients(X(), bad_y(), W(D, H), W(H, C)),
        ValueError,
        "y must lie in [0, 3)",
        "nn_gradients",
    ),
    case(
        "nn-X-1d",
        lambda: nnlib.nn_gradients(np.zeros(D, np.float32), Y(n=1), W(D, H), W(H, C)),
        ValueError,
        "X must be 2-D, got shape (4,)",
        "nn_gradients",
    ),
    case(
        "nn-epoch-batch",
        lambda: nnlib.nn_epoch(X(), Y(), W(D, H), W(H, C), batch=0),
        ValueError,
        "batch must be a positive integer, got 0",
        "nn_epoch",
    ),
    case(
        "nn-epoch-W1-read-only",
        lambda: nnlib.nn_epoch(X(), Y(), read_only(W(D, H)), W(H, C)),
        ValueError,
        "W1 is read-only",
        "nn_epoch",
    ),
    case(
        "nn-epoch-W2-read-only",
        lambda: nnlib.nn_epoch(X(), Y(), W(D, H), read_only(W(H, C))),
        ValueError,
        "W2 is read-only",
        "nn_epoch",
    ),
    case(
        "nn-epoch-labels",
        lambda: nnlib.nn_epoch(X(), bad_y(), W(D, H), W(H, C)),
        ValueError,
        "y must lie in [0, 3)",
        "nn_epoch",
    ),
    # --- MLP ------------------------------------------------------------------------------------
    case(
        "mlp-init-short",
        lambda: nnlib.init_mlp([5], np.random.default_rng()),
        ValueError,
        "layer_sizes needs at least [D, C], got [5]",
    ),
    case(
        "mlp-init-zero",
        lambda: nnlib.init_mlp([5, 0, 3], np.random.default_rng()),
        ValueError,
        "layer_sizes[1] must be a positive integer, got 0",
    ),
    case(
        "mlp-init-rng",
        lambda: nnlib.init_mlp([5, 3], 42),
        TypeError,
        "rng must be a numpy.random.Generator, got int",
    ),
    case(
        "mlp-forward-not-list",
        lambda: nnlib.mlp_forward(X(), W(D, C)),
        TypeError,
        "weights must be a non-empty list of 2-D arrays",
        "mlp_forward",
    ),
    case(
        "mlp-forward-empty-list",
        lambda: nnlib.mlp_forward(X(), []),
        TypeError,
        "weights must be a non-empty list",
        "mlp_forward",
    ),
    case(
        "mlp-forward-rows",
        lambda: nnlib.mlp_forward(X(), [W(D, H), W(H - 1, C)]),
        ValueError,
        "weights[1] must have 5 rows to follow the previous layer (width 5), got shape (4, 3)",
        "mlp_forward",
    ),
    case(
        "mlp-forward-first-rows",
        lambda: nnlib.mlp_forward(X(), [W(D + 2, H), W(H, C)]),
        ValueError,
        "weights[0] must have 4 rows",
        "mlp_forward",
    ),
    case(
        "mlp-forward-1d-weight",
        lambda: nnlib.mlp_forward(X(), [np.zeros(D, np.float32)]),
        ValueError,
        "weights[0] must be 2-D, got shape (4,)",
        "mlp_forward",
    ),
    case(
        "mlp-forward-activation",
        lambda: nnlib.mlp_forward(X(), mlp_w(), "softplus"),
        ValueError,
        "unknown activation 'softplus'",
        "mlp_forward",
    ),
    case(
        "mlp-forward-int-X",
        lambda: nnlib.mlp_forward(np.ones((N, D), dtype=int), mlp_w()),
        TypeError,
        "X must have a floating dtype",
        "mlp_forward",
    ),
    case(
        "mlp-backward-cache",
        lambda: nnlib.mlp_backward(X(d=C), (X(), [], "relu"), mlp_w()),
        TypeError,
        "cache must be the MLPCache from mlp_forward, got tuple",
        "mlp_backward",
    ),
    case(
        "mlp-backward-dlogits-shape",
        lambda: nnlib.mlp_backward(X(d=C - 1), MLPCache([X(), X(d=H)], [X(d=H)], "relu"), mlp_w()),
        ValueError,
        "dlogits must have shape (6, 3) (N, C), got (6, 2)",
        "mlp_backward",
    ),
    case(
        "mlp-backward-dlogits-1d",
        lambda: nnlib.mlp_backward(
            np.zeros(C, np.float32), MLPCache([X(), X(d=H)], [X(d=H)], "relu"), mlp_w()
        ),
        ValueError,
        "dlogits must be 2-D",
        "mlp_backward",
    ),
    case(
        "mlp-backward-weights",
        lambda: nnlib.mlp_backward(
            X(d=C), MLPCache([X(), X(d=H)], [X(d=H)], "relu"), [W(D, H), W(H + 1, C)]
        ),
        ValueError,
        "weights[1] must have 5 rows",
        "mlp_backward",
    ),
    case(
        "mlp-gradients-labels",
        lambda: nnlib.mlp_gradients(X(), bad_y(), mlp_w()),
        ValueError,
        "y must lie in [0, 3)",
        "mlp_forward",
        "mlp_backward",
        "softmax_loss_grad",
    ),
    case(
        "mlp-epoch-batch",
        lambda: nnlib.mlp_epoch(X(), Y(), mlp_w(), batch=0),
        ValueError,
        "batch must be a positive integer, got 0",
        "mlp_epoch",
    ),
    case(
        "mlp-epoch-read-only",
        lambda: nnlib.mlp_epoch(X(), Y(), [W(D, H), read_only(W(H, C))]),
        ValueError,
        "weights[1] is read-only",
        "mlp_epoch",
    ),
    case(
        "mlp-epoch-labels",
        lambda: nnlib.mlp_epoch(X(), bad_y(), mlp_w()),
        ValueError,
        "y must lie in [0, 3)",
        "mlp_epoch",
    ),
    case(
        "mlp-epoch-activation",
        lambda: nnlib.mlp_epoch(X(), Y(), mlp_w(), activation="Relu"),
        ValueError,
        "unknown activation 'Relu'",
        "mlp_epoch",
    ),
    # --- naive twins validate like their vectorized forms -------------------------------------
    case(
        "sr-epoch-lr-str",
        lambda: nnlib.softmax_regression_epoch(X(), Y(), W(D, C), lr="0.1"),
        TypeError,
        "lr (the learning rate) must be a real number, got '0.1'",
        "softmax_regression_epoch",
    ),
    case(
        "sr-epoch-lr-bool",
        lambda: nnlib.softmax_regression_epoch(X(), Y(), W(D, C), lr=True),
        TypeError,
        "lr (the learning rate) must be a real number, got True",
        "softmax_regression_epoch",
    ),
    case(
        "sr-epoch-lr-none",
        lambda: nnlib.softmax_regression_epoch(X(), Y(), W(D, C), lr=None),
        TypeError,
        "lr (the learning rate) must be a real number, got None",
        "softmax_regression_epoch",
    ),
    case(
        "sr-epoch-lr-nan",
        lambda: nnlib.softmax_regression_epoch(X(), Y(), W(D, C), lr=float("nan")),
        ValueError,
        "lr (the learning rate) must be finite, got nan",
        "softmax_regression_epoch",
    ),
    case(
        "sr-epoch-theta-is-X",
        lambda: (lambda x: nnlib.softmax_regression_epoch(x, Y(), x[:D, :C]))(X()),
        ValueError,
        "theta shares memory with X: the epoch updates theta in place while it reads X",
        "softmax_regression_epoch",
    ),
    case(
        "sr-grad-uint8-pixels",
        lambda: nnlib.softmax_regression_grad(np.full((N, D), 255, np.uint8), Y(), W(D, C)),
        TypeError,
        "X must have a floating dtype (float32 or float64), got uint8; convert it first: "
        "X.astype(np.float32) / 255 for pixels 0-255",
        "softmax_regression_grad",
    ),
    case(
        "nn-epoch-lr-str",
        lambda: nnlib.nn_epoch(X(), Y(), W(D, H), W(H, C), lr="fast"),
        TypeError,
        "lr (the learning rate) must be a real number, got 'fast'",
        "nn_epoch",
    ),
    case(
        "nn-epoch-W2-is-X",
        lambda: (lambda x: nnlib.nn_epoch(x, Y(), W(D, H), x[:H, :C]))(X(n=H + 1)),
        ValueError,
        "W2 shares memory with X",
        "nn_epoch",
    ),
    case(
        "mlp-epoch-lr-bool",
        lambda: nnlib.mlp_epoch(X(), Y(), mlp_w(), lr=False),
        TypeError,
        "lr (the learning rate) must be a real number, got False",
        "mlp_epoch",
    ),
    case(
        "mlp-epoch-weight-is-X",
        lambda: (lambda x: nnlib.mlp_epoch(x, Y(n=H), [W(D, H), x[:H, :C]]))(X(n=H)),
        ValueError,
        "weights[1] shares memory with X",
        "mlp_epoch",
    ),
    # --- naive --------------------------------------------------------------------------------
    case(
        "naive-loss-labels",
        lambda: nnlib.softmax_loss_grad_naive(X(d=C), bad_y()),
        ValueError,
        "y must lie in [0, 3)",
        "softmax_loss_grad_naive",
    ),
    case(
        "naive-loss-1d",
        lambda: nnlib.softmax_loss_grad_naive(np.zeros(3), Y(n=3)),
        ValueError,
        "Z must be 2-D",
        "softmax_loss_grad_naive",
    ),
    case(
        "naive-sr-theta",
        lambda: nnlib.softmax_regression_grad_naive(X(), Y(), W(D - 1, C)),
        ValueError,
        "theta must have shape (4, any), got (3, 3)",
        "softmax_regression_grad_naive",
    ),
    case(
        "naive-nn-W2",
        lambda: nnlib.nn_gradients_naive(X(), Y(), W(D, H), W(H - 1, C)),
        ValueError,
        "W2 must have shape (5, any), got (4, 3)",
        "nn_gradients_naive",
    ),
    case(
        "naive-mlp-rows",
        lambda: nnlib.mlp_gradients_naive(X(), Y(), [W(D, H), W(H + 2, C)]),
        ValueError,
        "weights[1] must have 5 rows",
        "mlp_gradients_naive",
    ),
    case(
        "naive-mlp-labels",
        lambda: nnlib.mlp_gradients_naive(X(), bad_y(), mlp_w()),
        ValueError,
        "y must lie in [0, 3)",
        "mlp_gradients_naive",
    ),
    # --- features ------------------------------------------------------------------------------
    case(
        "radial-3-columns",
        lambda: nnlib.radial_features(X(d=3)),
        ValueError,
        "X must have shape (N, 2) (points in the plane), got (6, 3)",
        "radial_features",
    ),
    case(
        "radial-int",
        lambda: nnlib.radial_features(np.ones((3, 2), dtype=int)),
        TypeError,
        "X must have a floating dtype",
        "radial_features",
    ),
    case(
        "relu-features-W",
        lambda: nnlib.random_relu_features(X(), W(D + 1, 7)),
        ValueError,
        "W must have 4 rows to multiply X, got shape (5, 7)",
        "random_relu_features",
    ),
    case(
        "relu-features-W-1d",
        lambda: nnlib.random_relu_features(X(), np.zeros(D, np.float32)),
        ValueError,
        "W must be 2-D",
        "random_relu_features",
    ),
    case(
        "projection-zero",
        lambda: nnlib.random_projection(0, 5, np.random.default_rng()),
        ValueError,
        "d_in must be a positive integer, got 0",
    ),
    case(
        "projection-float",
        lambda: nnlib.random_projection(3, 5.0, np.random.default_rng()),
        TypeError,
        "n_features must be a positive integer, got 5.0",
    ),
    # --- data -------------------------------------------------------------------------------
    case(
        "circles-n",
        lambda: nnlib.make_circles(0, np.random.default_rng()),
        ValueError,
        "n must be a positive integer, got 0",
    ),
    case(
        "spirals-rng",
        lambda: nnlib.make_spirals(10, None),
        TypeError,
        "rng must be a numpy.random.Generator, got NoneType",
    ),
    case(
        "spirals-classes",
        lambda: nnlib.make_spirals(10, np.random.default_rng(), classes=0),
        ValueError,
        "classes must be a positive integer, got 0",
    ),
    case(
        "xor-rng",
        lambda: nnlib.make_xor(10, 0),
        TypeError,
        "rng must be a numpy.random.Generator, got int",
    ),
    case(
        "blobs-centers",
        lambda: nnlib.make_blobs(10, np.random.default_rng(), centers=-1),
        ValueError,
        "centers must be a positive integer, got -1",
    ),
    case(
        "split-X-1d",
        lambda: nnlib.train_test_split(np.zeros(4), np.zeros(4), 0.5, np.random.default_rng()),
        ValueError,
        "X must be 2-D",
    ),
]


@pytest.mark.parametrize(("call", "exc", "match"), CASES)
def test_bad_input_is_rejected_with_a_clear_message(call, exc, match):
    with pytest.raises(exc, match=re.escape(match)):
        call()


@pytest.mark.task_softmax_regression_epoch
def test_failed_softmax_regression_epoch_leaves_theta_alone():
    theta = W(D, C)
    before = theta.copy()
    with pytest.raises(ValueError):
        nnlib.softmax_regression_epoch(X(), bad_y(), theta, batch=2)
    np.testing.assert_array_equal(theta, before, err_msg="validation must come before updates")


@pytest.mark.task_nn_epoch
def test_failed_nn_epoch_leaves_weights_alone():
    W1, W2 = W(D, H), W(H, C)
    before = W1.copy(), W2.copy()
    with pytest.raises(ValueError):
        nnlib.nn_epoch(X(), bad_y(), W1, W2, batch=2)
    np.testing.assert_array_equal(W1, before[0], err_msg="validation must come before updates")
    np.testing.assert_array_equal(W2, before[1], err_msg="validation must come before updates")


@pytest.mark.task_mlp_epoch
def test_failed_mlp_epoch_leaves_weights_alone():
    weights = [W(D, H), W(H, C)]
    before = [w.copy() for w in weights]
    with pytest.raises(ValueError):
        nnlib.mlp_epoch(X(), Y(), [weights[0], read_only(weights[1])], batch=2)
    for w, b in zip(weights, before, strict=True):
        np.testing.assert_array_equal(w, b, err_msg="validation must come before updates")


@pytest.mark.task_mlp_forward
def test_hand_built_caches_have_the_forward_layout():
    # The caches the mlp_backward cases above build by hand have mlp_forward's layout.
    cache = cache_for(X(), mlp_w())
    assert [a.shape for a in cache.inputs] == [(N, D), (N, H)]
    assert [a.shape for a in cache.preactivations] == [(N, H)]
