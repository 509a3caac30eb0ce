"""Data: IDX files written by the tests themselves (good and corrupted), the bundled digits,
the 2-D toy sets and the seeded split."""

import gzip
import re
import struct

import numpy as np
import pytest
import sklearn.datasets
from hypothesis import given
from hypothesis import strategies as st
from strategies import FAST, seeds

import nnlib
from nnlib import data as nnlib_data

IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049


def idx_bytes(magic: int, dims, payload: bytes) -> bytes:
    return struct.pack(">i", magic) + struct.pack(f">{len(dims)}i", *dims) + payload


def write_gz(path, raw: bytes):
    with gzip.open(path, "wb") as f:
        f.write(raw)
    return path


def write_mnist(folder, pixels: np.ndarray, labels: np.ndarray, prefix="train"):
    """Write ``pixels`` (n, 28, 28) uint8 and ``labels`` (n,) uint8 as gzip IDX files."""
    images = write_gz(
        folder / f"{prefix}-images-idx3-ubyte.gz",
        idx_bytes(IMAGES_MAGIC, pixels.shape, pixels.astype(np.uint8).tobytes()),
    )
    labels_path = write_gz(
        folder / f"{prefix}-labels-idx1-ubyte.gz",
        idx_bytes(LABELS_MAGIC, labels.shape, labels.astype(np.uint8).tobytes()),
    )
    return images, labels_path


@pytest.fixture
def mnist_files(tmp_path, rng):
    pixels = rng.integers(0, 256, size=(6, 28, 28)).astype(np.uint8)
    pixels[0, 0, 0], pixels[1, 1, 1] = 0, 255  # the full range 0..255
    labels = rng.integers(0, 10, size=6).astype(np.uint8)
    images, label_path = write_mnist(tmp_path, pixels, labels)
    return images, label_path, pixels, labels


# ----------------------------------------------------------------------------- parse_mnist


def test_parse_mnist_shapes_dtypes_values(mnist_files):
    images, label_path, pixels, labels = mnist_files
    X, y = nnlib.parse_mnist(images, label_path)
    assert X.dtype == np.float32, f"X must be float32, got {X.dtype}"
    assert X.shape == (6, 784), f"X must be (N, 784), got {X.shape}"
    assert y.dtype == np.uint8, f"y must be uint8, got {y.dtype}"
    assert y.shape == (6,)
    assert X.min() == 0.0 and X.max() == 1.0, "pixels are scaled to [0, 1]"
    np.testing.assert_allclose(
        X,
        pixels.reshape(6, 784) / 255.0,
        rtol=1e-6,
        err_msg="rows are images flattened in C order, scaled by 1/255",
    )
    np.testing.assert_array_equal(y, labels)
    assert X.flags.writeable and y.flags.writeable, "returned arrays must be writable"


@pytest.mark.parametrize("low_high", [(10, 200), (0, 0), (7, 7), (255, 255)])
def test_parse_mnist_divides_by_255_whatever_the_files_range(tmp_path, rng, low_high):
    """Pixel p becomes p / 255 (hw0's scaling), even when the file's own range is narrower or a
    single value: a constant image must not come back unscaled."""
    low, high = low_high
    pixels = rng.integers(low, high + 1, size=(3, 28, 28)).astype(np.uint8)
    images, labels = write_mnist(tmp_path, pixels, np.array([1, 2, 3]))
    X, _ = nnlib.parse_mnist(str(images), str(labels))  # str paths work too
    assert X.dtype == np.float32
    np.testing.assert_array_equal(
        X,
        pixels.reshape(3, -1).astype(np.float32) / np.float32(255),
        err_msg="X must be the pixels divided by 255, not rescaled by the file's min and max",
    )


def test_parse_mnist_missing_file_names_the_path(tmp_path, mnist_files):
    images, labels, *_ = mnist_files
    missing = tmp_path / "nope-images-idx3-ubyte.gz"
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        nnlib.parse_mnist(missing, labels)
    missing_labels = tmp_path / "nope-labels-idx1-ubyte.gz"
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing_labels))):
        nnlib.parse_mnist(images, missing_labels)


def test_parse_mnist_swapped_files_wrong_magic(tmp_path, rng):
    pixels = rng.integers(0, 256, size=(20, 28, 28)).astype(np.uint8)
    images, labels = write_mnist(tmp_path, pixels, rng.integers(0, 10, size=20))
    with pytest.raises(ValueError, match=r"magic number 2049, expected 2051.*label file instead"):
        nnlib.parse_mnist(labels, images)
    with pytest.raises(ValueError, match=r"magic number 2051, expected 2049.*image file instead"):
        nnlib.parse_mnist(images, images)


def test_parse_mnist_swapped_small_files_report_the_magic_number(mnist_files):
    images, labels, *_ = mnist_files  # 6 examples: the label file is 14 bytes long
    with pytest.raises(ValueError, match=r"magic number 2049, expected 2051.*label file instead"):
        nnlib.parse_mnist(labels, images)


def test_parse_mnist_truncated_payload(tmp_path, rng):
    pixels = rng.integers(0, 256, size=(4, 28, 28)).astype(np.uint8)
    raw = idx_bytes(IMAGES_MAGIC, pixels.shape, pixels.tobytes())
    images = write_gz(tmp_path / "images.gz", raw[:-100])
    labels = write_gz(tmp_path / "labels.gz", idx_bytes(LABELS_MAGIC, (4,), bytes(4)))
    with pytest.raises(ValueError, match=r"truncated.*3136 bytes of data, found 3036"):
        nnlib.parse_mnist(images, labels)


def test_parse_mnist_file_too_short_for_a_magic_number(tmp_path, mnist_files):
    _, labels, *_ = mnist_files
    images = write_gz(tmp_path / "images.gz", b"\x00\x00")
    with pytest.raises(ValueError, match=r"truncated: 2 bytes"):
        nnlib.parse_mnist(images, labels)


def test_parse_mnist_truncated_header(tmp_path):
    images = write_gz(tmp_path / "images.gz", struct.pack(">ii", IMAGES_MAGIC, 4))
    labels = write_gz(tmp_path / "labels.gz", idx_bytes(LABELS_MAGIC, (4,), bytes(4)))
    with pytest.raises(ValueError, match=r"truncated: 8 bytes, shorter than its 16-byte header"):
        nnlib.parse_mnist(images, labels)


def test_parse_mnist_truncated_gzip_stream(mnist_files, tmp_path):
    images, labels, *_ = mnist_files
    cut = tmp_path / "cut-images-idx3-ubyte.gz"
    cut.write_bytes(images.read_bytes()[:200])
    with pytest.raises(ValueError, match=r"could not be read as gzip IDX data"):
        nnlib.parse_mnist(cut, labels)


def test_parse_mnist_counts_disagree(tmp_path, rng):
    pixels = rng.integers(0, 256, size=(5, 28, 28)).astype(np.uint8)
    images, labels = write_mnist(tmp_path, pixels, np.arange(4))
    with pytest.raises(ValueError, match=r"holds 5 images but .* holds 4 labels"):
        nnlib.parse_mnist(images, labels)


def test_parse_mnist_not_gzip(tmp_path, mnist_files):
    _, labels, *_ = mnist_files
    plain = tmp_path / "plain-images-idx3-ubyte.gz"
    plain.write_bytes(b"this is not gzip data at all")
    with pytest.raises(ValueError, match=r"could not be read as gzip IDX data"):
        nnlib.parse_mnist(plain, labels)


def test_parse_mnist_padded_payload_is_refused_without_reading_it_whole(tmp_path):
    # 64 MiB of zeros behind a header that announces 2 images of 3 x 3: a gzip stream that
    # inflates far past its header is refused after one byte too many, not read into memory
    images = tmp_path / "padded-images-idx3-ubyte.gz"
    with gzip.open(images, "wb") as f:
        f.write(idx_bytes(IMAGES_MAGIC, (2, 3, 3), bytes(18)))
        for _ in range(64):
            f.write(bytes(1 << 20))
    labels = write_gz(tmp_path / "labels.gz", idx_bytes(LABELS_MAGIC, (2,), bytes(2)))
    with pytest.raises(
        ValueError,
        match=r"padded: header announces \(2, 3, 3\) = 18 bytes of "
        r"data, found more than 18",
    ):
        nnlib.parse_mnist(images, labels)


def test_parse_mnist_a_folder_or_a_non_path_is_named(tmp_path, mnist_files):
    images, labels, *_ = mnist_files
    with pytest.raises(
        IsADirectoryError,
        match=r"is a folder; name the file in it \(such as "
        r"train-labels-idx1-ubyte.gz\)",
    ):
        nnlib.parse_mnist(images, tmp_path)
    with pytest.raises(TypeError, match=r"image file must be a path .*got NoneType"):
        nnlib.parse_mnist(None, labels)


def test_parse_mnist_no_images(tmp_path):
    images = write_gz(tmp_path / "images.gz", idx_bytes(IMAGES_MAGIC, (0, 28, 28), b""))
    labels = write_gz(tmp_path / "labels.gz", idx_bytes(LABELS_MAGIC, (0,), b""))
    with pytest.raises(ValueError, match=r"holds no images \(its header counts 0\)"):
        nnlib.parse_mnist(images, labels)


def _write_four(folder, rng, n_train=5, n_test=3, first_labels=None):
    train = rng.integers(0, 256, size=(n_train, 28, 28)).astype(np.uint8)
    test = rng.integers(0, 256, size=(n_test, 28, 28)).astype(np.uint8)
    labels = np.arange(n_train) % 10 if first_labels is None else np.resize(first_labels, n_train)
    write_mnist(folder, train, labels, "train")
    write_mnist(folder, test, np.arange(n_test), "t10k")


def test_find_and_load_mnist_from_a_folder(tmp_path, monkeypatch, rng):
    _write_four(tmp_path, rng)
    monkeypatch.setenv(nnlib_data.MNIST_DIR_ENV, str(tmp_path))
    assert nnlib.find_mnist_dir() == tmp_path
    ds = nnlib.load_mnist()
    assert isinstance(ds, nnlib.Dataset)
    assert ds.X_train.shape == (5, 784) and ds.X_test.shape == (3, 784)
    assert ds.X_train.dtype == np.float32 and ds.y_test.dtype == np.uint8
    np.testing.assert_array_equal(ds.y_train, np.arange(5))
    assert nnlib.load_mnist(tmp_path).X_test.shape == (3, 784), "an explicit folder works too"
    assert nnlib.load_dataset("mnist").X_train.shape == (5, 784), "and by name"


def test_load_mnist_without_files_says_where_to_put_them(tmp_path, monkeypatch):
    monkeypatch.delenv(nnlib_data.MNIST_DIR_ENV, raising=False)
    monkeypatch.setattr(nnlib_data, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "absent")
    assert nnlib.find_mnist_dir() is None
    with pytest.raises(FileNotFoundError) as info:
        nnlib.load_mnist()
    message = str(info.value)
    for needed in ("NNLIB_MNIST_DIR", "train-images-idx3-ubyte.gz", "macOS", "Windows", "export"):
        assert needed in message, f"the message should mention {needed!r}:\n{message}"


def test_mnist_never_falls_back_to_fashion_mnist(tmp_path, monkeypatch, rng):
    """Debian's Fashion-MNIST being installed must not make "mnist" load it."""
    fashion = tmp_path / "fashion"
    fashion.mkdir()
    _write_four(fashion, rng)
    monkeypatch.delenv(nnlib_data.MNIST_DIR_ENV, raising=False)
    monkeypatch.delenv(nnlib_data.FASHION_MNIST_DIR_ENV, raising=False)
    monkeypatch.setattr(nnlib_data, "DEBIAN_FASHION_MNIST_DIR", fashion)
    assert nnlib.find_fashion_mnist_dir() == fashion
    assert nnlib.load_fashion_mnist().X_train.shape == (5, 784)
    assert nnlib.load_dataset("fashion-mnist").X_test.shape == (3, 784)
    assert nnlib.find_mnist_dir() is None
    with pytest.raises(FileNotFoundError, match="MNIST is not on this machine"):
        nnlib.load_dataset("mnist")


def test_fashion_mnist_from_its_own_variable(tmp_path, monkeypatch, rng):
    _write_four(tmp_path, rng)
    monkeypatch.setenv(nnlib_data.FASHION_MNIST_DIR_ENV, str(tmp_path))
    assert nnlib.find_fashion_mnist_dir() == tmp_path
    monkeypatch.setenv(nnlib_data.FASHION_MNIST_DIR_ENV, str(tmp_path / "typo"))
    with pytest.raises(FileNotFoundError, match=r"NNLIB_FASHION_MNIST_DIR=.*typo"):
        nnlib.load_fashion_mnist()


def test_load_fashion_mnist_without_files_says_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.delenv(nnlib_data.FASHION_MNIST_DIR_ENV, raising=False)
    monkeypatch.setattr(nnlib_data, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "absent")
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist"):
        nnlib.load_fashion_mnist()


@pytest.mark.parametrize(
    ("files", "loader", "says"),
    [
        ("fashion-mnist", nnlib.load_mnist, "holds fashion-mnist, not mnist"),
        ("mnist", nnlib.load_fashion_mnist, "holds mnist, not fashion-mnist"),
    ],
)
def test_the_two_data_sets_are_told_apart(tmp_path, rng, files, loader, says):
    """Same file names, same sizes: the first training labels tell them apart."""
    _write_four(
        tmp_path, rng, n_train=60_000, n_test=1, first_labels=nnlib_data._FIRST_TRAIN_LABELS[files]
    )
    with pytest.raises(ValueError, match=says):
        loader(tmp_path)


def test_load_dataset_rejects_an_unknown_name():
    with pytest.raises(ValueError, match="digits, mnist, fashion-mnist; got 'MNIST'"):
        nnlib.load_dataset("MNIST")
    assert nnlib.load_dataset("digits").X_train.shape == (1348, 64)


def test_validation_split_leaves_the_test_set_out():
    data = nnlib.load_digits()
    dev = nnlib.validation_split(data, 0.2, seed=0)
    assert dev.X_train.shape[0] + dev.X_test.shape[0] == data.X_train.shape[0]
    assert dev.X_test.shape[0] == round(0.2 * data.X_train.shape[0])
    rows = {r.tobytes() for r in data.X_train}
    assert all(r.tobytes() in rows for r in np.vstack([dev.X_train, dev.X_test])), (
        "fitting and validation rows come from the training set only"
    )
    again = nnlib.validation_split(data, 0.2, seed=0)
    np.testing.assert_array_equal(again.y_test, dev.y_test)
    assert not np.array_equal(nnlib.validation_split(data, 0.2, seed=1).y_test, dev.y_test)
    with pytest.raises(TypeError, match=r"nnlib\.Dataset"):
        nnlib.validation_split((data.X_train, data.y_train), 0.2)


# ----------------------------------------------------------------------------- bundled digits


@pytest.fixture(scope="module")
def digits():
    return nnlib.load_digits()


def test_load_digits_shapes_dtypes_range(digits):
    assert isinstance(digits, nnlib.Dataset)
    X_train, y_train, X_test, y_test = digits
    assert X_train.dtype == np.float32 and X_test.dtype == np.float32, "X must be float32"
    assert y_train.dtype == np.uint8 and y_test.dtype == np.uint8, "y must be uint8"
    assert X_train.shape == (1348, 64) and X_test.shape == (449, 64), "a 75/25 split of 1797"
    assert y_train.shape == (1348,) and y_test.shape == (449,)
    for X in (X_train, X_test):
        assert X.min() >= 0.0 and X.max() <= 1.0, "pixels scaled to [0, 1]"
    assert X_train.max() == 1.0
    assert set(np.unique(y_train)) == set(range(10)) and set(np.unique(y_test)) <= set(range(10))


def test_load_digits_split_is_fixed_and_a_partition(digits):
    again = nnlib.load_digits()
    for a, b in zip(digits, again, strict=True):
        np.testing.assert_array_equal(a, b, err_msg="the same seed must give the same split")
    other = nnlib.load_digits(seed=1)
    assert not np.array_equal(other.y_test, digits.y_test), "another seed, another split"
    bunch = sklearn.datasets.load_digits()
    X_all = np.concatenate([digits.X_train, digits.X_test])
    y_all = np.concatenate([digits.y_train, digits.y_test])
    reference = (bunch.data / 16.0).astype(np.float32)
    # Same multiset of (row, label) pairs as scikit-learn's data: nothing lost or duplicated.
    got = sorted(map(tuple, np.column_stack([X_all, y_all])))
    want = sorted(map(tuple, np.column_stack([reference, bunch.target.astype(np.float32)])))
    assert got == want, "train and test must together be exactly the 1,797 digits"


def test_load_digits_reads_scikit_learns_file_without_importing_it(monkeypatch):
    import subprocess
    import sys

    import nnlib.data as data

    code = "import sys, nnlib; nnlib.load_digits(); print('sklearn' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "False", "load_digits must not import scikit-learn (1 s a kernel)"
    pixels, labels = data._read_digits()
    bunch = sklearn.datasets.load_digits()
    np.testing.assert_array_equal(pixels, bunch.data, err_msg="the file read directly")
    np.testing.assert_array_equal(labels, bunch.target)
    # where scikit-learn keeps the file elsewhere, its own loader gives the same digits
    direct = nnlib.load_digits()
    monkeypatch.setattr(data, "_digits_file", lambda: None)
    for a, b in zip(nnlib.load_digits(), direct, strict=True):
        np.testing.assert_array_equal(a, b, err_msg="scikit-learn's loader gives other digits")


def test_load_digits_test_fraction():
    ds = nnlib.load_digits(test_fraction=0.5)
    assert ds.X_test.shape[0] == round(1797 * 0.5)
    assert ds.X_train.shape[0] + ds.X_test.shape[0] == 1797


# ----------------------------------------------------------------------------- 2-D synthetic sets

MAKERS = {
    "circles": (nnlib.make_circles, 2),
    "spirals": (nnlib.make_spirals, 3),
    "xor": (nnlib.make_xor, 2),
    "blobs": (nnlib.make_blobs, 3),
}


@pytest.mark.parametrize("name", sorted(MAKERS))
@FAST
@given(n=st.integers(1, 60), seed=seeds)
def test_toy_sets_shapes_dtypes_labels_determinism(name, n, seed):
    make, n_classes = MAKERS[name]
    X, y = make(n, np.random.default_rng(seed))
    assert X.dtype == np.float32 and X.shape == (n, 2), f"{name}: X must be float32 (n, 2)"
    assert y.dtype == np.uint8 and y.shape == (n,), f"{name}: y must be uint8 (n,)"
    assert np.all(np.isfinite(X))
    assert y.max() < n_classes, f"{name}: labels in [0, {n_classes})"
    X2, y2 = make(n, np.random.default_rng(seed))
    np.testing.assert_array_equal(X, X2, err_msg=f"{name}: same rng seed, same points")
    np.testing.assert_array_equal(y, y2)


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_toy_sets_use_all_classes_and_the_rng(name):
    make, n_classes = MAKERS[name]
    X, y = make(300, np.random.default_rng(0))
    assert set(np.unique(y)) == set(range(n_classes)), f"{name}: every class appears"
    X_other, _ = make(300, np.random.default_rng(1))
    assert not np.array_equal(X, X_other), f"{name}: a different seed gives different points"


def test_circles_geometry():
    X, y = nnlib.make_circles(2000, np.random.default_rng(0), noise=0.0, factor=0.3)
    r = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(r[y == 0], 1.0, atol=1e-6, err_msg="class 0 on the unit circle")
    np.testing.assert_allclose(r[y == 1], 0.3, atol=1e-6, err_msg="class 1 on radius factor")


def test_spirals_classes_and_square():
    X, y = nnlib.make_spirals(500, np.random.default_rng(0), classes=5)
    assert set(np.unique(y)) == set(range(5))
    assert np.all(np.abs(X) <= 1.0 + 1e-6), "spirals lie in [-1, 1]^2"


def test_xor_labels_follow_the_quadrant():
    X, y = nnlib.make_xor(1000, np.random.default_rng(0), noise=0.05)
    quadrant = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(np.uint8)
    assert np.mean(quadrant == y) > 0.99, "the label is the XOR of the signs"


def test_blobs_centres_on_the_unit_circle():
    X, y = nnlib.make_blobs(3000, np.random.default_rng(0), centers=4, spread=0.1)
    for k in range(4):
        centre = X[y == k].mean(axis=0)
        angle = 2 * np.pi * k / 4
        np.testing.assert_allclose(centre, [np.cos(angle), np.sin(angle)], atol=0.02)


# ----------------------------------------------------------------------------- train_test_split


@FAST
@given(n=st.integers(2, 50), fraction=st.floats(0.05, 0.95), seed=seeds)
def test_train_test_split_partition(n, fraction, seed):
    X = np.arange(2 * n, dtype=np.float64).reshape(n, 2)  # row i is (2i, 2i + 1)
    y = np.arange(n)
    n_test = max(1, round(n * fraction))
    if n_test >= n:
        with pytest.raises(ValueError, match="leaves no training rows"):
            nnlib.train_test_split(X, y, fraction, np.random.default_rng(seed))
        return
    ds = nnlib.train_test_split(X, y, fraction, np.random.default_rng(seed))
    assert isinstance(ds, nnlib.Dataset)
    assert ds.X_test.shape == (n_test, 2) and ds.X_train.shape == (n - n_test, 2)
    assert ds.X_train.dtype == X.dtype and ds.y_train.dtype == y.dtype
    np.testing.assert_array_equal(ds.X_train[:, 0], 2 * ds.y_train, err_msg="labels follow rows")
    np.testing.assert_array_equal(ds.X_test[:, 0], 2 * ds.y_test, err_msg="labels follow rows")
    assert sorted([*ds.y_train, *ds.y_test]) == list(range(n)), "a partition of the rows"
    again = nnlib.train_test_split(X, y, fraction, np.random.default_rng(seed))
    np.testing.assert_array_equal(again.y_test, ds.y_test, err_msg="same rng, same split")


def test_train_test_split_shuffles():
    X = np.arange(200, dtype=np.float32).reshape(100, 2)
    ds = nnlib.train_test_split(X, np.arange(100), 0.2, np.random.default_rng(0))
    assert not np.array_equal(ds.y_test, np.arange(20)), "the split must shuffle first"


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_train_test_split_bad_fraction(fraction):
    with pytest.raises(ValueError, match=r"test_fraction must lie in \(0, 1\)"):
        nnlib.train_test_split(np.zeros((4, 2)), np.zeros(4), fraction, np.random.default_rng())


def test_train_test_split_bad_labels():
    with pytest.raises(ValueError, match=r"y must be an ndarray of shape \(4,\), got \(4, 1\)"):
        nnlib.train_test_split(np.zeros((4, 2)), np.zeros((4, 1)), 0.5, np.random.default_rng())
    with pytest.raises(ValueError, match=r"y must be an ndarray of shape \(4,\), got list"):
        nnlib.train_test_split(np.zeros((4, 2)), [0, 1, 0, 1], 0.5, np.random.default_rng())


def test_a_wrong_mnist_folder_in_the_environment_is_an_error(tmp_path, monkeypatch):
    """A typo in NNLIB_MNIST_DIR must not silently switch to Debian's Fashion-MNIST."""
    monkeypatch.setenv(nnlib_data.MNIST_DIR_ENV, str(tmp_path / "typo"))
    with pytest.raises(FileNotFoundError, match=r"NNLIB_MNIST_DIR=.*typo"):
        nnlib.find_mnist_dir()
