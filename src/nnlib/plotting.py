"""Plots of what a number alone would hide. The only module of nnlib that imports matplotlib."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import matplotlib.pyplot as plt
import numpy as np

from ._validation import as_float_matrix, as_labels, require_positive_int
from .training import History


def plot_decision_regions(
    predict_logits: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    ax=None,
    resolution: int = 200,
    title: str | None = None,
):
    """Colour the plane by the class a classifier predicts, and scatter the data on top.

    Parameters
    ----------
    predict_logits : callable
        Maps grid points of shape (M, 2), in the dtype of ``X``, to logits of shape (M, C).
    X : ndarray of shape (N, 2), float
    y : ndarray of shape (N,), integer
    ax : matplotlib Axes, optional
    resolution : int, default 200
        Grid points per axis.
    title : str, optional

    Returns
    -------
    ax : matplotlib Axes
    """
    X = as_float_matrix("X", X)
    if X.shape[1] != 2:
        raise ValueError(f"decision regions need 2-D points, X has shape {X.shape}")
    y = as_labels("y", y, X.shape[0])
    if not np.isfinite(X).all():
        raise ValueError("X holds NaN or infinite values; the plot needs finite points")
    if not callable(predict_logits):
        raise TypeError(
            "predict_logits must be a function from points (M, 2) to logits (M, C), "
            f"got {type(predict_logits).__name__}"
        )
    resolution = require_positive_int("resolution", resolution)
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4.5))
    margin = 0.25 * (X.max(axis=0) - X.min(axis=0)) + 1e-3
    lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
    gx, gy = np.meshgrid(
        np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution)
    )
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(X.dtype)
    logits = predict_logits(grid)
    if isinstance(logits, list | tuple):
        logits = np.asarray(logits)
    if not (isinstance(logits, np.ndarray) and logits.ndim == 2 and logits.shape[0] == len(grid)):
        shown = f"shape {logits.shape}" if isinstance(logits, np.ndarray) else type(logits).__name__
        raise ValueError(
            f"predict_logits must return logits of shape ({len(grid)}, C) for the "
            f"{len(grid)} grid points it is given, got {shown}"
        )
    regions = logits.argmax(axis=1).reshape(gx.shape)
    n_classes = int(max(regions.max(), y.max())) + 1
    cmap = plt.get_cmap("tab10", 10)
    levels = np.arange(n_classes + 1) - 0.5
    ax.contourf(
        gx, gy, regions, levels=levels, colors=[cmap(k) for k in range(n_classes)], alpha=0.25
    )
    ax.scatter(X[:, 0], X[:, 1], c=[cmap(int(k)) for k in y], s=10, edgecolors="k", linewidths=0.2)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    return ax


def plot_learning_curves(histories: Mapping[str, object], ax=None, metric: str = "err"):
    """Train (dashed) and test (solid) curves per epoch for one or more training runs.

    Parameters
    ----------
    histories : mapping of str to History, or one History
        Label of each run to its :class:`nnlib.training.History`; a single History is
        drawn unlabelled.
    ax : matplotlib Axes, optional
    metric : {"err", "loss"}, default "err"

    Returns
    -------
    ax : matplotlib Axes
    """
    if metric not in ("err", "loss"):
        raise ValueError(f"metric must be 'err' or 'loss', got {metric!r}")
    if isinstance(histories, History):
        histories = {"": histories}
    if not isinstance(histories, Mapping):
        raise TypeError(
            "histories must map a label to each run's History, such as {'softmax': history}, "
            f"got {type(histories).__name__}"
        )
    if not histories:
        raise ValueError("histories is empty: there is nothing to plot")
    for label, h in histories.items():
        if not isinstance(h, History):
            raise TypeError(f"histories[{label!r}] must be a History, got {type(h).__name__}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    for k, (label, h) in enumerate(histories.items()):
        color = f"C{k}"
        train, test = getattr(h, f"train_{metric}"), getattr(h, f"test_{metric}")
        epochs = np.arange(len(train))
        ax.plot(epochs, train, "--", color=color, label=f"{label} (train)".lstrip())
        ax.plot(epochs, test, "-", color=color, label=f"{label} (test)".lstrip())
    ax.set_xlabel("epoch")
    ax.set_ylabel("error rate" if metric == "err" else "cross-entropy loss")
    if metric == "err":
        ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    return ax


def plot_weight_images(W: np.ndarray, image_shape: tuple[int, int], n: int = 16, title=None):
    """Show the first ``n`` columns of a first-layer weight matrix as images.

    Parameters
    ----------
    W : ndarray of shape (D, H), float
        ``D`` must equal ``image_shape[0] * image_shape[1]``.
    image_shape : (int, int)
        Height and width of one input image.
    n : int, default 16
        How many columns (hidden units or classes) to draw.
    title : str, optional

    Returns
    -------
    fig : matplotlib Figure
    """
    W = as_float_matrix("W", W)
    if not (isinstance(image_shape, tuple | list) and len(image_shape) == 2):
        raise TypeError(f"image_shape must be (height, width), got {image_shape!r}")
    image_shape = tuple(require_positive_int("image_shape", side) for side in image_shape)
    n = require_positive_int("n", n)
    if W.shape[0] != image_shape[0] * image_shape[1]:
        raise ValueError(
            f"W has {W.shape[0]} rows, but images of shape {image_shape} have "
            f"{image_shape[0] * image_shape[1]} pixels"
        )
    n = min(n, W.shape[1])
    cols = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols, 1.3 * rows), squeeze=False)
    for k, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if k < n:
            img = W[:, k].reshape(image_shape)
            bound = float(np.abs(img).max()) or 1.0
            ax.imshow(img, cmap="RdBu_r", vmin=-bound, vmax=bound)
            ax.set_title(str(k), fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
