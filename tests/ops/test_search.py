"""searchsorted, digitize and isin: eager against NumPy (NaN, ties, ends, dtypes, shapes),
and compiled against eager."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import ops

RNG = np.random.default_rng(11)
SORTED = np.array([-2.0, 0.0, 0.0, 1.5, 3.0, np.inf, np.nan], np.float32)
VALUES = np.array([[-3.0, -2.0, 0.0, 0.5], [3.0, np.inf, np.nan, 9.0]], np.float32)


def assert_same(got, want, dtype):
    got = np.asarray(got)
    assert got.dtype == dtype, got.dtype
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("side", ["left", "right"])
def test_searchsorted_matches_numpy_with_ties_ends_and_nan(side):
    assert_same(ops.searchsorted(SORTED, VALUES, side=side),
                np.searchsorted(SORTED, VALUES, side=side), np.int32)


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int32", "int64", "float64"])
@pytest.mark.parametrize("side", ["left", "right"])
def test_searchsorted_dtypes_and_shapes(dtype, side):
    a = np.sort(RNG.integers(0, 20, 12)).astype(dtype)
    for v in (RNG.integers(-2, 23, (3, 4, 2)).astype(dtype), a[3], a):
        assert_same(ops.searchsorted(a, v, side=side), np.searchsorted(a, v, side=side),
                    np.int32)


def test_searchsorted_negative_numbers_and_scalars():
    a = np.array([-100, -5, -5, 0, 7], np.int8)
    assert_same(ops.searchsorted(a, -5), 1, np.int32)
    assert_same(ops.searchsorted(a, -5, side="right"), 3, np.int32)
    assert_same(ops.searchsorted(a, np.int8([-128, 127])), [0, 5], np.int32)


def test_searchsorted_rejects_bad_arguments():
    with pytest.raises(ValueError, match="1-D"):
        ops.searchsorted(np.zeros((2, 2)), 1.0)
    with pytest.raises(ValueError, match="side"):
        ops.searchsorted(SORTED, 1.0, side="middle")


@pytest.mark.parametrize("right", [False, True])
@pytest.mark.parametrize("bins", [np.array([0.0, 1.0, 1.0, 2.5, 4.0]),
                                  np.array([4.0, 2.5, 1.0, 1.0, 0.0]),
                                  np.array([1.0]), np.array([2.0, 2.0, 2.0])])
def test_digitize_matches_numpy(bins, right):
    x = np.array([-1.0, 0.0, 0.5, 1.0, 2.5, 3.0, 4.0, 5.0, np.nan, -np.inf])
    assert_same(ops.digitize(x, bins, right=right), np.digitize(x, bins, right=right),
                np.int32)


def test_digitize_ints():
    x = RNG.integers(-10, 10, (4, 5)).astype(np.int32)
    bins = np.array([-5, 0, 3, 8], np.int32)
    assert_same(ops.digitize(x, bins), np.digitize(x, bins), np.int32)
    assert_same(ops.digitize(x, bins[::-1], right=True),
                np.digitize(x, bins[::-1], right=True), np.int32)


def test_isin_matches_numpy():
    x = np.array([[1.0, 2.0, np.nan], [-0.0, 5.0, 3.0]], np.float32)
    test = np.array([[0.0, 3.0], [np.nan, 1.0]], np.float32)
    assert_same(ops.isin(x, test), np.isin(x, test), np.bool_)
    assert_same(ops.isin(x, test, invert=True), np.isin(x, test, invert=True), np.bool_)
    ints = RNG.integers(-5, 5, (3, 4)).astype(np.int8)
    assert_same(ops.isin(ints, [-1, 2, 4]), np.isin(ints, [-1, 2, 4]), np.bool_)
    assert_same(ops.isin(np.array([True, False]), np.array([True])), [True, False], np.bool_)
    assert_same(ops.isin(3, np.zeros(0, np.int32)), False, np.bool_)


def test_compiled_matches_eager():
    bins = np.array([0.0, 1.0, 1.0, 2.5], np.float32)

    def fn(a, v, b):
        return {"left": ops.searchsorted(a, v), "right": ops.searchsorted(a, v, side="right"),
                "digitize": ops.digitize(v, b), "digitize_down": ops.digitize(
                    v, ops.flip(b, axis=0), right=True),
                "isin": ops.isin(v, a), "notin": ops.isin(v, a, invert=True)}

    eager = fn(SORTED, VALUES, bins)
    compiled = gk.jit(fn)(SORTED, VALUES, bins)
    for name, want in eager.items():
        assert_same(compiled[name], np.asarray(want), np.asarray(want).dtype)
    np.testing.assert_array_equal(np.asarray(eager["digitize_down"]),
                                  np.digitize(VALUES, bins[::-1], right=True))
