"""Training loops: epochs of SGD with per-epoch loss and error, and a progress bar."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
from tqdm.auto import tqdm

from ._validation import as_float_matrix, as_labels, require_positive_int
from .init import init_weights
from .linear import softmax_regression_epoch
from .losses import loss_err
from .mlp import mlp_epoch, mlp_forward
from .two_layer import nn_epoch


class History(NamedTuple):
    """Per-epoch measurements of one training run; entry 0 is before any training.

    Attributes
    ----------
    train_loss, train_err, test_loss, test_err : list of float
        ``epochs + 1`` values each. ``test_*`` are measured on whatever held-out set the run was
        given: a validation split (:func:`nnlib.data.validation_split`) while choosing settings,
        the test set once at the end.
    seconds : float
        Wall-clock time spent in the epochs (evaluation excluded).
    """

    train_loss: list
    train_err: list
    test_loss: list
    test_err: list
    seconds: float


def _model_inputs(X, D: int) -> np.ndarray:
    """``X`` checked to be a float (N, D) matrix, the inputs a trained model takes."""
    X = as_float_matrix("X", X)
    if X.shape[1] != D:
        raise ValueError(
            f"X must have {D} columns, the features the model was trained on, got shape {X.shape}"
        )
    return X


class SoftmaxModel(NamedTuple):
    """Trained softmax regression: ``theta`` of shape (D, C)."""

    theta: np.ndarray

    def logits(self, X: np.ndarray) -> np.ndarray:
        """Logits of shape (N, C) for inputs ``X`` of shape (N, D)."""
        return _model_inputs(X, self.theta.shape[0]) @ self.theta


class TwoLayerModel(NamedTuple):
    """Trained two-layer network: ``W1`` (D, H), ``W2`` (H, C)."""

    W1: np.ndarray
    W2: np.ndarray

    def logits(self, X: np.ndarray) -> np.ndarray:
        """Logits of shape (N, C) for inputs ``X`` of shape (N, D)."""
        return np.maximum(_model_inputs(X, self.W1.shape[0]) @ self.W1, 0) @ self.W2


class MLPModel(NamedTuple):
    """Trained MLP: ``weights`` ``[W_1, ..., W_L]`` (a list, 0-based) and its activation."""

    weights: list
    activation: str

    def logits(self, X: np.ndarray) -> np.ndarray:
        """Logits of shape (N, C) for inputs ``X`` of shape (N, D)."""
        X = _model_inputs(X, self.weights[0].shape[0])
        return mlp_forward(X, self.weights, self.activation)[0]


def _run(
    epoch: Callable[[], None],
    logits: Callable[[np.ndarray], np.ndarray],
    data: tuple,
    epochs: int,
    progress: bool,
    desc: str,
) -> History:
    X_train, y_train, X_test, y_test = data
    history = History([], [], [], [], 0.0)

    def record():
        for X, y, losses, errs in (
            (X_train, y_train, history.train_loss, history.train_err),
            (X_test, y_test, history.test_loss, history.test_err),
        ):
            loss, err = loss_err(logits(X), y)
            losses.append(loss)
            errs.append(err)

    record()
    seconds = 0.0
    bar = tqdm(range(epochs), desc=desc, unit="epoch", disable=not progress, leave=True)
    for _ in bar:
        start = time.perf_counter()
        epoch()
        seconds += time.perf_counter() - start
        record()
        bar.set_postfix(
            refresh=False,
            train_err=f"{history.train_err[-1]:.3f}",
            test_err=f"{history.test_err[-1]:.3f}",
        )
    return history._replace(seconds=seconds)


def _check_data(X_train, y_train, X_test, y_test):
    X_train = as_float_matrix("X_train", X_train)
    X_test = as_float_matrix("X_test", X_test)
    if X_test.shape[1] != X_train.shape[1]:
        raise ValueError(
            f"X_test must have {X_train.shape[1]} columns like X_train, got {X_test.shape}"
        )
    as_labels("y_train", y_train, X_train.shape[0])
    as_labels("y_test", y_test, X_test.shape[0])
    return X_train, y_train, X_test, y_test


def _num_classes(*labels: np.ndarray) -> int:
    return int(max(int(y.max()) for y in labels)) + 1


def train_softmax(
    X_train,
    y_train,
    X_test,
    y_test,
    epochs: int = 10,
    lr: float = 0.5,
    batch: int = 100,
    progress: bool = True,
) -> tuple[SoftmaxModel, History]:
    """Train softmax regression from zero weights.

    Parameters
    ----------
    X_train : ndarray of shape (N, D), float
    y_train : ndarray of shape (N,), integer
    X_test : ndarray of shape (M, D), float
    y_test : ndarray of shape (M,), integer
    epochs : int, default 10
    lr : float, default 0.5
    batch : int, default 100
    progress : bool, default True
        Show a tqdm progress bar, one step per epoch.

    Returns
    -------
    model : SoftmaxModel
    history : History
    """
    data = _check_data(X_train, y_train, X_test, y_test)
    epochs = require_positive_int("epochs", epochs)
    theta = np.zeros((data[0].shape[1], _num_classes(y_train, y_test)), dtype=data[0].dtype)
    model = SoftmaxModel(theta)
    history = _run(
        lambda: softmax_regression_epoch(data[0], data[1], theta, lr=lr, batch=batch),
        model.logits,
        data,
        epochs,
        progress,
        "softmax regression",
    )
    return model, history


def train_nn(
    X_train,
    y_train,
    X_test,
    y_test,
    hidden: int = 100,
    epochs: int = 10,
    lr: float = 0.2,
    batch: int = 100,
    rng: np.random.Generator | None = None,
    progress: bool = True,
) -> tuple[TwoLayerModel, History]:
    """Train the two-layer network ``ReLU(X W1) W2``.

    Weights start with He initialization (:func:`nnlib.init.init_weights` with ``"relu"``:
    ``W1 ~ N(0, 2/D)``, ``W2 ~ N(0, 2/H)``), drawn from ``rng`` (default:
    ``np.random.default_rng(0)``); the same network as :func:`train_mlp` with one hidden layer.

    Parameters
    ----------
    X_train, y_train, X_test, y_test : as in :func:`train_softmax`
    hidden : int, default 100
        H, the width of the hidden layer.
    epochs, lr, batch, progress : as in :func:`train_softmax`
    rng : numpy.random.Generator, optional

    Returns
    -------
    model : TwoLayerModel
    history : History
    """
    data = _check_data(X_train, y_train, X_test, y_test)
    hidden = require_positive_int("hidden", hidden)
    epochs = require_positive_int("epochs", epochs)
    rng = np.random.default_rng(0) if rng is None else rng
    D, C, dtype = data[0].shape[1], _num_classes(y_train, y_test), data[0].dtype
    W1, W2 = init_weights([D, hidden, C], rng, "relu", dtype=dtype)
    model = TwoLayerModel(W1, W2)
    history = _run(
        lambda: nn_epoch(data[0], data[1], W1, W2, lr=lr, batch=batch),
        model.logits,
        data,
        epochs,
        progress,
        f"two-layer net (H={hidden})",
    )
    return model, history


def train_mlp(
    X_train,
    y_train,
    X_test,
    y_test,
    hidden: Sequence[int] = (100, 100),
    epochs: int = 10,
    lr: float = 0.1,
    batch: int = 100,
    activation: str = "relu",
    rng: np.random.Generator | None = None,
    progress: bool = True,
) -> tuple[MLPModel, History]:
    """Train an MLP with the given hidden widths, initialized for its activation.

    The weights come from :func:`nnlib.init.init_weights`: He for ReLU (the same numbers as
    :func:`nnlib.mlp.init_mlp`), Xavier for tanh and the sigmoid.

    Parameters
    ----------
    X_train, y_train, X_test, y_test : as in :func:`train_softmax`
    hidden : sequence of int, or int, default (100, 100)
        Widths of the hidden layers; ``len(hidden) + 1`` weight matrices in all. An int is
        one hidden layer of that width (``hidden=64`` is ``hidden=(64,)``), as in
        scikit-learn's ``MLPClassifier``.
    epochs, lr, batch, progress : as in :func:`train_softmax`
    activation : {"relu", "sigmoid", "tanh"}, default "relu"
    rng : numpy.random.Generator, optional
        Default ``np.random.default_rng(0)``.

    Returns
    -------
    model : MLPModel
    history : History
    """
    data = _check_data(X_train, y_train, X_test, y_test)
    epochs = require_positive_int("epochs", epochs)
    rng = np.random.default_rng(0) if rng is None else rng
    if isinstance(hidden, int | np.integer) and not isinstance(hidden, bool):
        hidden = (hidden,)
    elif isinstance(hidden, str | bytes) or not hasattr(hidden, "__iter__"):
        raise TypeError(
            f"hidden must be the hidden layers' widths, such as (100, 100) or 64, got {hidden!r}"
        )
    sizes = [data[0].shape[1], *hidden, _num_classes(y_train, y_test)]
    weights = init_weights(sizes, rng, activation, dtype=data[0].dtype)
    model = MLPModel(weights, activation)
    history = _run(
        lambda: mlp_epoch(data[0], data[1], weights, lr=lr, batch=batch, activation=activation),
        model.logits,
        data,
        epochs,
        progress,
        f"MLP {sizes}",
    )
    return model, history
