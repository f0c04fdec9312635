"""The 8x8 hand-written digits data set, shipped with graphkit (no download needed).

1,797 images of 8x8 pixels with values 0..16 (counts of set pixels in 4x4 blocks of a
32x32 bitmap), labels 0..9. It is the test set of the UCI "Optical Recognition of
Handwritten Digits" data (E. Alpaydin and C. Kaynak, 1998,
https://archive.ics.uci.edu/dataset/80), as distributed with scikit-learn
(`sklearn/datasets/data/digits.csv.gz`, BSD-3-Clause); the file `digits.csv.gz` next to
this module is that file, unchanged: one row per image, 64 pixel values then the label.

`load_data()` returns `((x_train, y_train), (x_test, y_test))` as Keras data sets do:
uint8 images of shape (N, 8, 8) and int64 labels. The split is fixed and stratified: for
each digit, every fifth of its images in file order (its 5th, 10th, ...) is a test image,
which gives 1,442 training and 355 test images, each digit about 4:1.
"""
import gzip
import os

import numpy as np

_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "digits.csv.gz")
NUM_IMAGES = 1797


def _read_rows():
    try:
        with gzip.open(_FILE, "rt") as f:
            table = np.loadtxt(f, delimiter=",", dtype=np.int64)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"digits: the shipped data file is missing ({_FILE}); reinstall graphkit") from None
    if table.shape != (NUM_IMAGES, 65):
        raise ValueError(f"digits: {_FILE} is damaged: expected {NUM_IMAGES} rows of 65 "
                         f"values, found shape {table.shape}")
    return table


def load_data():
    """`((x_train, y_train), (x_test, y_test))`: uint8 (N, 8, 8) images, int64 labels."""
    table = _read_rows()
    images = table[:, :64].reshape(-1, 8, 8).astype(np.uint8)
    labels = table[:, 64].astype(np.int64)
    # The rank of each image among the images of its own digit, in file order.
    rank = np.zeros(len(labels), dtype=np.int64)
    for digit in range(10):
        where = np.flatnonzero(labels == digit)
        rank[where] = np.arange(len(where))
    is_test = rank % 5 == 4
    return (images[~is_test], labels[~is_test]), (images[is_test], labels[is_test])
