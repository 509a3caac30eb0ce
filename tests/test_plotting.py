"""Plots: each returns an Axes or Figure with the expected artists, and rejects bad input."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure

import nnlib
from nnlib.plotting import (
    plot_decision_regions,
    plot_learning_curves,
    plot_weight_images,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _linear_logits(M):
    """A fixed 3-class linear classifier on the plane."""
    theta = np.array([[1.0, -1.0, 0.0], [0.0, 0.0, 1.0]], dtype=M.dtype)
    return M @ theta


def _history(n, start):
    values = [start / (k + 1) for k in range(n)]
    return nnlib.History(values, values, [2 * v for v in values], [2 * v for v in values], 0.1)


# ----------------------------------------------------------------------------- decision regions


def test_decision_regions_artists():
    X, y = nnlib.make_blobs(60, np.random.default_rng(0), centers=3)
    seen = []

    def logits(M):
        seen.append((M.shape, M.dtype))
        return _linear_logits(M)

    ax = plot_decision_regions(logits, X, y, resolution=30, title="blobs")
    assert isinstance(ax, Axes)
    assert seen == [((900, 2), np.float32)], (
        "the classifier is called once on a resolution x resolution grid in X's dtype"
    )
    scatters = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(scatters) == 1 and scatters[0].get_offsets().shape == (60, 2), (
        "one scatter of the data points on top of the regions"
    )
    assert len(ax.collections) >= 2, "filled contours of the predicted regions are missing"
    assert ax.get_title() == "blobs"
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    assert x0 < X[:, 0].min() and x1 > X[:, 0].max(), "the view must contain every point"
    assert y0 < X[:, 1].min() and y1 > X[:, 1].max()


def test_decision_regions_on_a_given_axes():
    X, y = nnlib.make_xor(40, np.random.default_rng(0))
    _, (left, right) = plt.subplots(1, 2)
    out = plot_decision_regions(lambda M: _linear_logits(M)[:, :2], X, y, ax=right, resolution=10)
    assert out is right, "with ax= given, the plot goes there and that Axes is returned"
    assert len(left.collections) == 0
    assert right.get_title() == ""


def test_decision_regions_bad_input():
    y = np.zeros(5, dtype=np.uint8)
    with pytest.raises(ValueError, match=r"decision regions need 2-D points, X has shape \(5, 3\)"):
        plot_decision_regions(_linear_logits, np.zeros((5, 3), np.float32), y)
    with pytest.raises(TypeError, match="X must have a floating dtype"):
        plot_decision_regions(_linear_logits, np.zeros((5, 2), dtype=int), y)
    with pytest.raises(ValueError, match="X must be 2-D"):
        plot_decision_regions(_linear_logits, np.zeros(5, np.float32), y)
    X = np.zeros((5, 2), np.float32)
    with pytest.raises(ValueError, match=r"y must have shape \(5,\) to match the 5 rows"):
        plot_decision_regions(_linear_logits, X, y[:4])
    with pytest.raises(ValueError, match="X holds NaN or infinite values"):
        plot_decision_regions(_linear_logits, X + np.nan, y)  # matplotlib's axis error before
    with pytest.raises(TypeError, match="predict_logits must be a function"):
        plot_decision_regions(None, X, y)


@pytest.mark.parametrize(
    ("predict", "shown"),
    [(lambda M: M[:, 0], r"shape \(100,\)"), (lambda M: None, "NoneType")],
    ids=["one score per point", "nothing returned"],
)
def test_decision_regions_name_logits_of_the_wrong_shape(predict, shown):
    # numpy's AxisError from argmax before
    with pytest.raises(ValueError, match=rf"must return logits of shape \(100, C\) .*got {shown}"):
        plot_decision_regions(predict, np.zeros((5, 2)), np.zeros(5, int), resolution=10)


# ----------------------------------------------------------------------------- learning curves


@pytest.mark.parametrize("metric", ["err", "loss"])
def test_learning_curves_artists(metric):
    histories = {"softmax": _history(6, 0.5), "two-layer": _history(6, 0.3)}
    ax = plot_learning_curves(histories, metric=metric)
    assert isinstance(ax, Axes)
    lines = ax.get_lines()
    assert len(lines) == 4, "a train (dashed) and a test (solid) curve per run"
    labels = [line.get_label() for line in lines]
    assert labels == ["softmax (train)", "softmax (test)", "two-layer (train)", "two-layer (test)"]
    assert [line.get_linestyle() for line in lines] == ["--", "-", "--", "-"]
    np.testing.assert_array_equal(lines[0].get_xdata(), np.arange(6), err_msg="x is the epoch")
    expected = getattr(histories["softmax"], f"test_{metric}")
    np.testing.assert_allclose(lines[1].get_ydata(), expected)
    assert ax.get_xlabel() == "epoch"
    assert ax.get_yscale() == ("log" if metric == "err" else "linear")
    assert ax.get_legend() is not None


def test_learning_curves_of_one_history_unlabelled():
    # an AttributeError ('History' object has no attribute 'items') before
    ax = plot_learning_curves(_history(4, 1.0))
    assert [line.get_label() for line in ax.get_lines()] == ["(train)", "(test)"]


def test_learning_curves_bad_histories():
    with pytest.raises(ValueError, match="histories is empty: there is nothing to plot"):
        plot_learning_curves({})
    with pytest.raises(TypeError, match=r"histories must map a label .*got ndarray"):
        plot_learning_curves(np.array([0.5, 0.4]))
    with pytest.raises(TypeError, match=r"histories\['a'\] must be a History, got list"):
        plot_learning_curves({"a": [0.5, 0.4]})


def test_learning_curves_bad_metric():
    with pytest.raises(ValueError, match="metric must be 'err' or 'loss', got 'accuracy'"):
        plot_learning_curves({"a": _history(3, 1.0)}, metric="accuracy")


# ----------------------------------------------------------------------------- weight images


def test_weight_images_artists(rng):
    W = rng.standard_normal((64, 10)).astype(np.float32)
    fig = plot_weight_images(W, (8, 8), n=6, title="first layer")
    assert isinstance(fig, Figure)
    images = [im for ax in fig.axes for im in ax.get_images()]
    assert len(images) == 6, "one image per drawn column"
    assert images[0].get_array().shape == (8, 8)
    np.testing.assert_allclose(images[2].get_array(), W[:, 2].reshape(8, 8))
    assert fig._suptitle is not None and fig._suptitle.get_text() == "first layer"


def test_weight_images_n_larger_than_columns(rng):
    fig = plot_weight_images(rng.standard_normal((4, 3)), (2, 2), n=16)
    assert sum(len(ax.get_images()) for ax in fig.axes) == 3, "n is capped at the column count"


def test_weight_images_bad_input(rng):
    with pytest.raises(ValueError, match=r"W has 10 rows, but images of shape \(3, 3\) have 9"):
        plot_weight_images(rng.standard_normal((10, 4)), (3, 3))
    with pytest.raises(TypeError, match="W must have a floating dtype"):
        plot_weight_images(np.ones((9, 2), dtype=int), (3, 3))
    with pytest.raises(TypeError, match=r"image_shape must be \(height, width\), got 9"):
        plot_weight_images(np.ones((9, 2)), 9)
    with pytest.raises(ValueError, match="n must be a positive integer, got 0"):
        plot_weight_images(np.ones((9, 2)), (3, 3), n=0)
