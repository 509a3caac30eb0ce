"""Data: MNIST-format IDX files, the bundled digits, 2-D toy sets, seeded splits.

Nothing here touches the network. The default real data set is scikit-learn's bundled copy
of the UCI handwritten digits (1,797 images of 8x8 pixels); MNIST and Fashion-MNIST load from
gzip IDX files when they are present on disk, each only under its own name.
"""

from __future__ import annotations

import gzip
import importlib.util
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


_READ_CHUNK = 1 << 24  # bytes read at a time, so that a lying header allocates nothing large


def _read_idx(filename, magic: int, what: str) -> tuple[tuple[int, ...], bytes]:
    """Read a (possibly gzip-compressed) IDX file and return its dimensions and payload.

    The header is read first and the payload in chunks, never more than one byte past what the
    header announces: a padded file (or a gzip stream that inflates to gigabytes) is refused
    without being read whole.
    """
    if not isinstance(filename, str | os.PathLike):
        raise TypeError(
            f"{what} file must be a path (str or pathlib.Path), got {type(filename).__name__}"
        )
    path = Path(filename)
    if path.is_dir():
        raise IsADirectoryError(
            f"{what} file {path} is a folder; name the file in it "
            f"(such as train-{what}s-idx{3 if magic == _IMAGES_MAGIC else 1}-ubyte.gz)"
        )
    if not path.is_file():
        raise FileNotFoundError(f"{what} file not found: {path}")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            head = f.read(4)
            if len(head) < 4:
                raise ValueError(
                    f"{what} file {path} is truncated: {len(head)} bytes, no IDX magic number"
                )
            (found,) = struct.unpack(">i", head)
            if found != magic:
                raise ValueError(
                    f"{what} file {path} has magic number {found}, expected {magic}; "
                    f"is it the {'label' if magic == _IMAGES_MAGIC else 'image'} file instead?"
                )
            ndim = magic & 0xFF  # the magic number's last byte counts the dimensions
            raw_dims = f.read(4 * ndim)
            if len(raw_dims) < 4 * ndim:
                raise ValueError(
                    f"{what} file {path} is truncated: {4 + len(raw_dims)} bytes, shorter than "
                    f"its {4 + 4 * ndim}-byte header"
                )
            dims = struct.unpack(f">{ndim}I", raw_dims)  # sizes, never negative
            expected = int(np.prod(dims, dtype=np.int64))
            chunks, size = [], 0
            while size <= expected:  # one byte past the end tells a padded file
                chunk = f.read(min(_READ_CHUNK, expected + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
        raise ValueError(f"{what} file {path} could not be read as gzip IDX data: {exc}") from exc
    if size != expected:
        found_bytes = f"more than {expected}" if size > expected else str(size)
        raise ValueError(
            f"{what} file {path} is truncated or padded: header announces {dims} = "
            f"{expected} bytes of data, found {found_bytes}"
        )
    return dims, b"".join(chunks)


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
    TypeError
        If a file name is not a path.
    FileNotFoundError
        If a file does not exist.
    IsADirectoryError
        If a path names a folder.
    ValueError
        If a file has the wrong magic number, is truncated or padded, holds no images, or the
        two counts disagree.
    """
    dims, pixels = _read_idx(image_filename, _IMAGES_MAGIC, "image")
    (n_labels,), labels = _read_idx(label_filename, _LABELS_MAGIC, "label")
    n_images = dims[0]
    if n_images != n_labels:
        raise ValueError(
            f"{image_filename} holds {n_images} images but {label_filename} holds "
            f"{n_labels} labels; they must describe the same examples"
        )
    if n_images == 0:
        raise ValueError(f"{image_filename} holds no images (its header counts 0)")
    X = np.frombuffer(pixels, dtype=np.uint8).reshape(n_images, -1).astype(np.float32)
    X /= 255  # a Python int: float32 stays float32
    y = np.frombuffer(labels, dtype=np.uint8).copy()
    return X, y


#: The data sets the notebooks can switch between, by name.
DATASET_NAMES = ("digits", "mnist", "fashion-mnist")

#: Environment variable naming a folder with Fashion-MNIST's four IDX files.
FASHION_MNIST_DIR_ENV = "NNLIB_FASHION_MNIST_DIR"

_IDX_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
# The first ten training labels of each data set. The two share file names and sizes, so this is
# how a folder of one is told apart from the other (a folder of 60,000 labels starting like this).
_FIRST_TRAIN_LABELS = {
    "mnist": (5, 0, 4, 1, 9, 2, 1, 3, 1, 4),
    "fashion-mnist": (9, 0, 0, 3, 0, 2, 7, 2, 5, 5),
}

_WHERE_MNIST = f"""\
MNIST is not on this machine. Download its four files ({", ".join(_IDX_FILES)}) from a
mirror of Yann LeCun's MNIST page, keep them gzipped, put them in one folder, and either set the
environment variable {MNIST_DIR_ENV} to that folder before starting Jupyter:
  Linux, macOS:        export {MNIST_DIR_ENV}=$HOME/data/mnist
  Windows PowerShell:  $env:{MNIST_DIR_ENV} = "$HOME\\data\\mnist"
  Windows cmd:         set {MNIST_DIR_ENV}=%USERPROFILE%\\data\\mnist
or call nnlib.load_mnist("path/to/folder"). Fashion-MNIST is a different data set: choose it by
name ("fashion-mnist"), never in MNIST's place."""


def find_mnist_dir() -> Path | None:
    """The folder named by ``$NNLIB_MNIST_DIR``, or ``None`` when the variable is unset.

    MNIST has no fallback: Fashion-MNIST is a different data set with different accuracies,
    loaded only by :func:`load_fashion_mnist`.

    Raises
    ------
    FileNotFoundError
        If ``$NNLIB_MNIST_DIR`` is set but does not hold the files.
    """
    return _folder_from_env(MNIST_DIR_ENV)


def find_fashion_mnist_dir() -> Path | None:
    """``$NNLIB_FASHION_MNIST_DIR``, else Debian's ``dataset-fashion-mnist`` folder, else ``None``.

    Raises
    ------
    FileNotFoundError
        If ``$NNLIB_FASHION_MNIST_DIR`` is set but does not hold the files.
    """
    folder = _folder_from_env(FASHION_MNIST_DIR_ENV)
    if folder is not None:
        return folder
    if (DEBIAN_FASHION_MNIST_DIR / _IDX_FILES[0]).is_file():
        return DEBIAN_FASHION_MNIST_DIR
    return None


def _folder_from_env(variable: str) -> Path | None:
    if not os.environ.get(variable):
        return None
    # Named explicitly: a wrong folder is an error, not a silent switch to another data set.
    folder = Path(os.environ[variable])
    if not (folder / _IDX_FILES[0]).is_file():
        raise FileNotFoundError(
            f"{variable}={folder} does not hold {_IDX_FILES[0]} "
            f"(and the other three files: {', '.join(_IDX_FILES[1:])})"
        )
    return folder


def _load_idx_folder(folder, name: str) -> Dataset:
    folder = Path(folder)
    X_train, y_train = parse_mnist(folder / _IDX_FILES[0], folder / _IDX_FILES[1])
    other = next(k for k in _FIRST_TRAIN_LABELS if k != name)
    if y_train.shape[0] == 60_000 and tuple(y_train[:10]) == _FIRST_TRAIN_LABELS[other]:
        raise ValueError(
            f"{folder} holds {other}, not {name}: its training labels start like {other}'s. "
            f"Load it as {other!r}, or point at a folder of {name} files."
        )
    X_test, y_test = parse_mnist(folder / _IDX_FILES[2], folder / _IDX_FILES[3])
    return Dataset(X_train, y_train, X_test, y_test)


def load_mnist(folder=None) -> Dataset:
    """Load MNIST (handwritten digits, 28x28) from its four gzip IDX files.

    Parameters
    ----------
    folder : str or Path, optional
        Defaults to ``$NNLIB_MNIST_DIR`` (:func:`find_mnist_dir`).

    Returns
    -------
    Dataset
        60,000 training and 10,000 test images, ``X_*`` float32 of shape (N, 784).

    Raises
    ------
    FileNotFoundError
        If no folder is given and ``$NNLIB_MNIST_DIR`` is unset: the message says where to get
        the files and how to name their folder on Linux, macOS and Windows.
    ValueError
        If the folder holds Fashion-MNIST instead.
    """
    if folder is None:
        folder = find_mnist_dir()
        if folder is None:
            raise FileNotFoundError(_WHERE_MNIST)
    return _load_idx_folder(folder, "mnist")


def load_fashion_mnist(folder=None) -> Dataset:
    """Load Fashion-MNIST (Zalando's clothing images, 28x28) from its four gzip IDX files.

    Parameters
    ----------
    folder : str or Path, optional
        Defaults to :func:`find_fashion_mnist_dir`: ``$NNLIB_FASHION_MNIST_DIR``, else Debian's
        ``dataset-fashion-mnist`` package (``/usr/share/datasets/fashion-mnist``).

    Returns
    -------
    Dataset
        60,000 training and 10,000 test images, ``X_*`` float32 of shape (N, 784).

    Raises
    ------
    FileNotFoundError
        If no folder is given or found.
    ValueError
        If the folder holds MNIST instead.
    """
    if folder is None:
        folder = find_fashion_mnist_dir()
        if folder is None:
            raise FileNotFoundError(
                "Fashion-MNIST is not on this machine: install Debian's dataset-fashion-mnist "
                f"package (apt-get install dataset-fashion-mnist), or put its four files "
                f"({', '.join(_IDX_FILES)}) in a folder and set {FASHION_MNIST_DIR_ENV} to it "
                '(Windows PowerShell: $env:NNLIB_FASHION_MNIST_DIR = "C:\\path"), or call '
                'nnlib.load_fashion_mnist("path/to/folder")'
            )
    return _load_idx_folder(folder, "fashion-mnist")


def load_dataset(name: str) -> Dataset:
    """Load a data set by name: ``"digits"``, ``"mnist"`` or ``"fashion-mnist"``.

    Each name loads that data set or fails: no name falls back to another data set.

    Returns
    -------
    Dataset
    """
    loaders = {"digits": load_digits, "mnist": load_mnist, "fashion-mnist": load_fashion_mnist}
    if name not in loaders:
        raise ValueError(f"data set must be one of {', '.join(DATASET_NAMES)}; got {name!r}")
    return loaders[name]()


def validation_split(data: Dataset, fraction: float = 0.2, seed: int = 0) -> Dataset:
    """Hold out part of a training set for validation; the test set is not touched.

    Every choice (learning rate, width, depth, epochs) is made on the returned split; the test
    set of ``data`` is used once, for the model chosen.

    Parameters
    ----------
    data : Dataset
        Its ``X_train, y_train`` are split; its ``X_test, y_test`` are dropped.
    fraction : float in (0, 1), default 0.2
        Share of the training rows that go to validation.
    seed : int, default 0
        Seed of the shuffle; the same seed gives the same split.

    Returns
    -------
    Dataset
        ``Dataset(X_fit, y_fit, X_val, y_val)``: fields named ``*_train`` and ``*_test`` hold the
        fitting part and the validation part.
    """
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be an nnlib.Dataset, got {type(data).__name__}")
    return train_test_split(data.X_train, data.y_train, fraction, np.random.default_rng(seed))


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


def _digits_file() -> Path | None:
    """scikit-learn's copy of the digits, found without importing scikit-learn."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "digits.csv.gz"
    return path if path.is_file() else None


def _read_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 digits as ``(pixels (1797, 64), labels (1797,))``, in scikit-learn's order.

    Importing scikit-learn costs more than a second of CPU (in every notebook kernel, and so in
    every student's grading), for a 1,797-row CSV file it ships: the file is read directly,
    and scikit-learn's own loader is used only where its file is not where this expects it.
    """
    path = _digits_file()
    if path is None:
        from sklearn.datasets import load_digits as _sk_load_digits  # ships with scikit-learn

        bunch = _sk_load_digits()
        return bunch.data, bunch.target
    table = np.loadtxt(path, delimiter=",", dtype=np.float64)
    return table[:, :-1], table[:, -1].astype(np.int64)


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
    pixels, labels = _read_digits()
    X = (pixels / 16.0).astype(np.float32)  # pixel intensities are 0..16
    y = labels.astype(np.uint8)
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
