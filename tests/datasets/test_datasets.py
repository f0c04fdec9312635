"""The shipped digits data and the MNIST IDX reader (with small IDX files made here)."""
import gzip
import os

import numpy as np
import pytest

import graphkit as gk
from graphkit.datasets import mnist


def test_digits_shapes_dtypes_and_fixed_split():
    (x, y), (xt, yt) = gk.datasets.digits.load_data()
    assert x.shape == (1442, 8, 8) and xt.shape == (355, 8, 8)
    assert x.dtype == np.uint8 and y.dtype == np.int64
    assert len(x) + len(xt) == 1797
    assert x.max() == 16 and x.min() == 0
    assert set(np.unique(y)) == set(range(10)) == set(np.unique(yt))
    # The split is deterministic: same arrays on a second call.
    (x2, y2), (xt2, yt2) = gk.datasets.digits.load_data()
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(yt, yt2)
    # Known first image of the UCI test set (a zero).
    assert y[0] == 0 and list(x[0, 0]) == [0, 0, 5, 13, 9, 1, 0, 0]


def write_idx(path, array, gz):
    codes = {np.dtype(np.uint8): 0x08}
    header = bytes([0, 0, codes[array.dtype], array.ndim])
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    opener = gzip.open if gz else open
    with opener(path, "wb") as f:
        f.write(header + array.tobytes())


def make_mnist(folder, gz, n_train=5, n_test=3):
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    os.makedirs(folder, exist_ok=True)
    for key, stem in mnist.FILES.items():
        write_idx(os.path.join(folder, stem + (".gz" if gz else "")), arrays[key], gz)
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_reads_gzipped_and_raw_idx_files(tmp_path, gz):
    arrays = make_mnist(tmp_path, gz)
    (x, y), (xt, yt) = mnist.load_data(path=tmp_path)
    for got, key in ((x, "x_train"), (y, "y_train"), (xt, "x_test"), (yt, "y_test")):
        np.testing.assert_array_equal(got, arrays[key])
        assert got.dtype == np.uint8
    assert x.shape == (5, 28, 28)


def test_mnist_from_graphkit_data_dir(tmp_path, monkeypatch):
    arrays = make_mnist(tmp_path / "mnist", gz=True)
    monkeypatch.setenv("GRAPHKIT_DATA_DIR", str(tmp_path))
    (x, _), _ = gk.datasets.mnist.load_data()
    np.testing.assert_array_equal(x, arrays["x_train"])


def test_mnist_names_the_missing_file(tmp_path):
    make_mnist(tmp_path, gz=False)
    os.remove(tmp_path / "t10k-labels-idx1-ubyte")
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        mnist.load_data(path=tmp_path)


def test_mnist_without_any_folder_says_what_to_do(monkeypatch):
    monkeypatch.delenv("GRAPHKIT_DATA_DIR", raising=False)
    with pytest.raises(FileNotFoundError, match="GRAPHKIT_DATA_DIR"):
        mnist.load_data()


def test_truncated_idx_file_is_reported(tmp_path):
    make_mnist(tmp_path, gz=False)
    target = tmp_path / "train-images-idx3-ubyte"
    target.write_bytes(target.read_bytes()[:-10])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        mnist.load_data(path=tmp_path)


@pytest.mark.parametrize("damage", ["cut", "not_gzip"])
def test_damaged_gzip_file_is_named(tmp_path, damage):
    # gzip raises a bare EOFError (cut short) or BadGzipFile: the error must name the file.
    make_mnist(tmp_path, gz=True)
    target = tmp_path / "train-labels-idx1-ubyte.gz"
    data = target.read_bytes()
    target.write_bytes(data[: len(data) // 2] if damage == "cut" else b"plain bytes")
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte\.gz: truncated or corrupt"):
        mnist.load_data(path=tmp_path)
