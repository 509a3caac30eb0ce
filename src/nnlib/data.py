"""Data: MNIST-format IDX files, the bundled digits, 2-D toy sets and a seeded split.

Nothing here touches the network. The default real data set is scikit-learn's bundled copy
of the UCI handwritten digits (1,797 images of 8x8 pixels); MNIST or Fashion-MNIST load from
gzip IDX files when they are present on disk.
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ._validation import as_float_matrix, require_positive_int

#: Environment variable naming a folder with MNIST-format ``*-idx?-ubyte.gz`` files.
MNIST_DIR_ENV = "NNLIB_MNIST_DIR"
#: Where Debian's ``dataset-fashion-mnist`` package installs its files.
DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")

_IMAGES_MAGIC = 2051  # IDX: unsigned bytes, 3 dimensions
_LABELS_MAGIC = 2049  # IDX: unsigned bytes, 1 dimension


class Dataset(NamedTuple):
    """A train/test split.

    Attributes
    ----------
    X_train : ndarray of shape (N_train, D), float32
    y_train : ndarray of shape (N_train,), uint8
    X_test : ndarray of shape (N_test, D), float32
    y_test : ndarray of shape (N_test,), uint8
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def _read_idx(filename, magic: int, what: str) -> tuple[tuple[int, ...], bytes]:
    """Read a (possibly gzip-compressed) IDX file and return its dimensions and payload."""
    path = Path(filename)
    if not path.is_file():
        raise FileNotFoundError(f"{what} file not found: {path}")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
        raise ValueError(f"{what} file {path} could not be read as gzip IDX data: {exc}") from exc
    if len(raw) < 4:
        raise ValueError(f"{what} file {path} is truncated: {len(raw)} bytes, no IDX magic number")
    (found,) = struct.unpack(">i", raw[:4])
    if found != magic:
        raise ValueError(
            f"{what} file {path} has magic number {found}, expected {magic}; "
            f"is it the {'label' if magic == _IMAGES_MAGIC else 'image'} file instead?"
        )
    ndim = magic & 0xFF  # the magic number's last byte counts the dimensions
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(
            f"{what} file {path} is truncated: {len(raw)} bytes, shorter than its "
            f"{header}-byte header"
        )
    dims = struct.unpack(f">{ndim}i", raw[4:header])
    expected = int(np.prod(dims))
    payload = raw[header:]
    if len(payload) != expected:
        raise ValueError(
            f"{what} file {path} is truncated or padded: header announces {dims} = "
            f"{expected} bytes of data, found {len(payload)}"
        )
    return dims, payload


def parse_mnist(image_filename, label_filename) -> tuple[np.ndarray, np.ndarray]:
    """Read MNIST-format images and labels from gzip IDX files.

    Parameters
    ----------
    image_filename : str or Path
        ``*-images-idx3-ubyte.gz``.
    label_filename : str or Path
        ``*-labels-idx1-ubyte.gz``.

    Returns
    -------
    X : ndarray of shape (N, 784), float32
        Pixels divided by 255, the range of the format's bytes: 0 becomes 0.0 and 255 becomes
        1.0, in every file (the scaling of CMU's hw0, whatever the image holds).
    y : ndarray of shape (N,), uint8
        Labels.

    Raises
    ------
    FileNotFoundError
        If a file does not exist.
    ValueError
        If a file has the wrong magic number, is truncated, or the two counts disagree.
    """
    dims, pixels = _read_idx(image_filename, _IMAGES_MAGIC, "image")
    (n_labels,), labels = _read_idx(label_filename, _LABELS_MAGIC, "label")
    n_images = dims[0]
    if n_images != n_labels:
        raise ValueError(
            f"{image_filename} holds {n_images} images but {label_filename} holds "
            f"{n_labels} labels; they must describe the same examples"
        )
    X = np.frombuffer(pixels, dtype=np.uint8).reshape(n_images, -1).astype(np.float32)
    X /= 255  # a Python int: float32 stays float32
    y = np.frombuffer(labels, dtype=np.uint8).copy()
    return X, y


def find_mnist_dir() -> Path | None:
    """Folder with MNIST-format IDX files: ``$NNLIB_MNIST_DIR``, else Debian's Fashion-MNIST.

    Returns
    -------
    Path or None
        ``None`` when the variable is unset and Debian's package is not installed.

    Raises
    ------
    FileNotFoundError
        If ``$NNLIB_MNIST_DIR`` is set but does not hold the files.
    """
    if os.environ.get(MNIST_DIR_ENV):
        # Named explicitly: a wrong folder is an error, not a silent switch to another data set.
        folder = Path(os.environ[MNIST_DIR_ENV])
        if not (folder / "train-images-idx3-ubyte.gz").is_file():
            raise FileNotFoundError(
                f"{MNIST_DIR_ENV}={folder} does not hold train-images-idx3-ubyte.gz "
                "(and the other three MNIST-format files)"
            )
        return folder
    if (DEBIAN_FASHION_MNIST_DIR / "train-images-idx3-ubyte.gz").is_file():
        return DEBIAN_FASHION_MNIST_DIR
    return None


def load_mnist(folder=None) -> Dataset:
    """Load the four standard MNIST-format files from a folder.

    Parameters
    ----------
    folder : str or Path, optional
        Defaults to :func:`find_mnist_dir`.

    Returns
    -------
    Dataset
        60,000 training and 10,000 test images for MNIST and Fashion-MNIST.
    """
    if folder is None:
        folder = find_mnist_dir()
        if folder is None:
            raise FileNotFoundError(
                f"no MNIST-format files found: set {MNIST_DIR_ENV} to a folder holding "
                "train-images-idx3-ubyte.gz and friends, or install Debian's "
                "dataset-fashion-mnist package"
            )
    folder = Path(folder)
    X_train, y_train = parse_mnist(
        folder / "train-images-idx3-ubyte.gz", folder / "train-labels-idx1-ubyte.gz"
    )
    X_test, y_test = parse_mnist(
        folder / "t10k-images-idx3-ubyte.gz", folder / "t10k-labels-idx1-ubyte.gz"
    )
    return Dataset(X_train, y_train, X_test, y_test)


def train_test_split(
    X: np.ndarray, y: np.ndarray, test_fraction: float, rng: np.random.Generator
) -> Dataset:
    """Shuffle with ``rng`` and split into train and test parts.

    Parameters
    ----------
    X : ndarray of shape (N, D)
    y : ndarray of shape (N,)
    test_fraction : float in (0, 1)
    rng : numpy.random.Generator

    Returns
    -------
    Dataset
        The test part has ``round(N * test_fraction)`` rows (at least one).
    """
    X = as_float_matrix("X", X)
    if not isinstance(y, np.ndarray) or y.shape != (X.shape[0],):
        shape = getattr(y, "shape", type(y).__name__)
        raise ValueError(f"y must be an ndarray of shape ({X.shape[0]},), got {shape}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    n = X.shape[0]
    n_test = max(1, round(n * test_fraction))
    if n_test >= n:
        raise ValueError(f"test_fraction {test_fraction} leaves no training rows out of {n}")
    order = rng.permutation(n)
    test, train = order[:n_test], order[n_test:]
    return Dataset(X[train], y[train], X[test], y[test])


def load_digits(test_fraction: float = 0.25, seed: int = 0) -> Dataset:
    """The bundled 8x8 handwritten digits, scaled to [0, 1], with a fixed split.

    Parameters
    ----------
    test_fraction : float, default 0.25
    seed : int, default 0
        Seed of the split; the same seed gives the same split everywhere.

    Returns
    -------
    Dataset
        ``X_*`` float32 of shape (N, 64), ``y_*`` uint8 in [0, 10).
    """
    from sklearn.datasets import load_digits as _sk_load_digits  # ships with scikit-learn

    bunch = _sk_load_digits()
    X = (bunch.data / 16.0).astype(np.float32)  # pixel intensities are 0..16
    y = bunch.target.astype(np.uint8)
    return train_test_split(X, y, test_fraction, np.random.default_rng(seed))


def _check_n_rng(n, rng) -> int:
    n = require_positive_int("n", n)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return n


def make_circles(
    n: int, rng: np.random.Generator, noise: float = 0.08, factor: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Two concentric rings: class 0 on radius 1, class 1 on radius ``factor``.

    Returns
    -------
    X : ndarray of shape (n, 2), float32
    y : ndarray of shape (n,), uint8
    """
    n = _check_n_rng(n, rng)
    y = (np.arange(n) % 2).astype(np.uint8)
    angle = rng.uniform(0, 2 * np.pi, n)
    radius = np.where(y == 0, 1.0, factor)
    X = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    X += noise * rng.standard_normal((n, 2))
    return X.astype(np.float32), y


def make_spirals(
    n: int, rng: np.random.Generator, classes: int = 3, noise: float = 0.2, turns: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms, one per class, in the square [-1, 1]^2.

    Returns
    -------
    X : ndarray of shape (n, 2), float32
    y : ndarray of shape (n,), uint8
    """
    n = _check_n_rng(n, rng)
    classes = require_positive_int("classes", classes)
    y = (np.arange(n) % classes).astype(np.uint8)
    t = rng.uniform(0.05, 1.0, n)  # position along the arm, centre to rim
    angle = 2 * np.pi * (turns * t + y / classes) + noise * rng.standard_normal(n)
    X = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1)
    return X.astype(np.float32), y


def make_xor(n: int, rng: np.random.Generator, noise: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Four clusters at the corners of a square; the label is the XOR of the two signs.

    Returns
    -------
    X : ndarray of shape (n, 2), float32
    y : ndarray of shape (n,), uint8
    """
    n = _check_n_rng(n, rng)
    corners = rng.integers(0, 2, size=(n, 2))
    X = (2 * corners - 1) * 0.5 + noise * rng.standard_normal((n, 2))
    y = (corners[:, 0] ^ corners[:, 1]).astype(np.uint8)
    return X.astype(np.float32), y


def make_blobs(
    n: int, rng: np.random.Generator, centers: int = 3, spread: float = 0.3
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian clusters, one per class, with centres evenly spaced on the unit circle.

    Returns
    -------
    X : ndarray of shape (n, 2), float32
    y : ndarray of shape (n,), uint8
    """
    n = _check_n_rng(n, rng)
    centers = require_positive_int("centers", centers)
    y = (np.arange(n) % centers).astype(np.uint8)
    angle = 2 * np.pi * y / centers
    X = np.stack([np.cos(angle), np.sin(angle)], axis=1) + spread * rng.standard_normal((n, 2))
    return X.astype(np.float32), y
