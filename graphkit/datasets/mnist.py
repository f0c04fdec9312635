"""MNIST from local IDX files (graphkit never downloads).

`load_data(path=None)` looks in `path`, else in the folder named by `GRAPHKIT_DATA_DIR`
(its `mnist/` sub-folder is tried first). The four standard files may be gzipped or not:

    train-images-idx3-ubyte[.gz]  train-labels-idx1-ubyte[.gz]
    t10k-images-idx3-ubyte[.gz]   t10k-labels-idx1-ubyte[.gz]

It returns `((x_train, y_train), (x_test, y_test))` as Keras does: uint8 images of shape
(N, 28, 28) and uint8 labels.
"""
import gzip
import os
import zlib

import numpy as np

from graphkit import config

FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
# IDX type codes -> NumPy dtypes (big-endian where it matters).
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4",
               0x0E: ">f8"}


def _read_bytes(filepath):
    """The file's bytes, gunzipped when it ends in .gz. A cut-short or non-gzip .gz file
    raises a ValueError naming it (gzip's own EOFError names neither file nor cause)."""
    if not str(filepath).endswith(".gz"):
        with open(filepath, "rb") as f:
            return f.read()
    try:
        with gzip.open(filepath, "rb") as f:
            return f.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise ValueError(f"{filepath}: truncated or corrupt gzip file ({e}); download it "
                         f"again") from e


def read_idx(filepath):
    """An IDX file (gzipped when it ends in .gz) as a NumPy array."""
    data = _read_bytes(filepath)
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{filepath}: not an IDX file (bad magic number)")
    type_code, ndim = data[2], data[3]
    if type_code not in _IDX_DTYPES:
        raise ValueError(f"{filepath}: unknown IDX data type 0x{type_code:02x}")
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[type_code])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise ValueError(f"{filepath}: truncated or corrupt IDX file: the header says shape "
                         f"{shape} ({expected} bytes of data), the file has "
                         f"{len(data) - header}")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(
        dtype.newbyteorder("="))


def _candidate_dirs(path):
    if path is not None:
        return [os.fspath(path)]
    root = config.data_dir()
    if root is None:
        raise FileNotFoundError(
            "mnist.load_data: no folder given. graphkit does not download data: pass "
            "`path=` (a folder holding the four MNIST IDX files) or set GRAPHKIT_DATA_DIR")
    return [os.path.join(root, "mnist"), root]


def _find(dirs, stem):
    for d in dirs:
        for name in (stem + ".gz", stem):
            candidate = os.path.join(d, name)
            if os.path.isfile(candidate):
                return candidate
    looked = " or ".join(repr(d) for d in dirs)
    raise FileNotFoundError(f"mnist.load_data: missing file '{stem}' (or '{stem}.gz') in "
                            f"{looked}")


def load_data(path=None):
    """`((x_train, y_train), (x_test, y_test))` from the IDX files in `path`."""
    dirs = _candidate_dirs(path)
    if path is None:  # GRAPHKIT_DATA_DIR: use mnist/ if that is where the files are
        dirs = [d for d in dirs if os.path.isfile(os.path.join(d, FILES["x_train"])) or
                os.path.isfile(os.path.join(d, FILES["x_train"] + ".gz"))] or dirs
    arrays = {key: read_idx(_find(dirs, stem)) for key, stem in FILES.items()}
    for split in ("train", "test"):
        x, y = arrays["x_" + split], arrays["y_" + split]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise ValueError(f"mnist.load_data: the {split} files do not match: images of "
                             f"shape {x.shape}, labels of shape {y.shape}")
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])
