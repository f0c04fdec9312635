"""Bitwise ops (and, or, xor, not, shifts): eager against NumPy, including wrap-around,
negative numbers, bools and out-of-range shift amounts; compiled against NumPy for every
integer dtype (the parity sweep covers each op once, this covers the dtypes)."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import ops

RNG = np.random.default_rng(7)
INT_DTYPES = ["int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"]
BINARY = [("bitwise_and", np.bitwise_and), ("bitwise_or", np.bitwise_or),
          ("bitwise_xor", np.bitwise_xor), ("left_shift", np.left_shift),
          ("right_shift", np.right_shift)]


def full_range(dtype, *shape):
    info = np.iinfo(dtype)
    return RNG.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)


def shift_amounts(dtype, *shape):
    """In-range amounts and out-of-range ones: the bit width, beyond it, and (signed)
    negative amounts."""
    bits, lo = np.iinfo(dtype).bits, -3 if np.iinfo(dtype).min < 0 else 0
    return RNG.integers(lo, bits + 3, shape).astype(dtype)


def assert_same(got, want):
    got = np.asarray(got)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("dtype", INT_DTYPES)
@pytest.mark.parametrize("name,ref", BINARY)
def test_binary_eager_matches_numpy(name, ref, dtype):
    x = full_range(dtype, 4, 9)
    y = shift_amounts(dtype, 9) if "shift" in name else full_range(dtype, 9)
    assert_same(getattr(ops, name)(x, y), ref(x, y))


@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_not_eager_matches_numpy(dtype):
    x = full_range(dtype, 3, 7)
    assert_same(ops.bitwise_not(x), np.invert(x))
    assert_same(ops.bitwise_invert(x), np.invert(x))


def test_signed_values():
    x = np.array([-1, -2, -128, 127, 0, 5], np.int8)
    assert_same(ops.bitwise_not(x), np.array([0, 1, 127, -128, -1, -6], np.int8))
    assert_same(ops.bitwise_and(x, np.int8(-16)), x & np.int8(-16))
    assert_same(ops.right_shift(x, np.int8(1)), np.array([-1, -1, -64, 63, 0, 2], np.int8))


def test_left_shift_wraps_in_the_dtype():
    assert_same(ops.left_shift(np.int8([64, 1, 3]), np.int8([1, 7, 6])),
                np.array([-128, -128, -64], np.int8))
    assert_same(ops.left_shift(np.uint8([200, 255]), np.uint8([1, 4])),
                np.array([144, 240], np.uint8))
    big = np.int64(1) << np.int64(62)
    assert_same(ops.left_shift(np.int64([big]), np.int64([1])), np.array([-2 ** 63], np.int64))


def test_out_of_range_shifts_follow_numpy():
    """NumPy treats an amount as unsigned: negative or >= the bit width is out of range,
    giving 0 for a left shift and the sign fill (0 or -1) for a right shift."""
    x = np.array([5, -5, 5, -5, 5, -5], np.int32)
    y = np.array([32, 32, 100, 100, -1, -1], np.int32)
    assert_same(ops.left_shift(x, y), np.zeros(6, np.int32))
    assert_same(ops.right_shift(x, y), np.array([0, -1, 0, -1, 0, -1], np.int32))
    assert_same(ops.right_shift(x, y), np.right_shift(x, y))
    u = np.array([200, 200, 200], np.uint8)
    assert_same(ops.right_shift(u, np.uint8([8, 255, 7])), np.array([0, 0, 1], np.uint8))
    assert_same(ops.left_shift(u, np.uint8([8, 255, 7])), np.array([0, 0, 0], np.uint8))


def test_bools():
    a = np.array([True, True, False, False])
    b = np.array([True, False, True, False])
    for name, ref in BINARY[:3]:
        assert_same(getattr(ops, name)(a, b), ref(a, b))
    assert_same(ops.bitwise_not(a), ~a)
    # NumPy shifts bools as int8
    assert_same(ops.left_shift(a, b), np.left_shift(a, b))
    assert_same(ops.right_shift(a, b), np.right_shift(a, b))


def test_aliases_and_python_scalars():
    x = np.array([1, 2, 3], np.int16)
    assert_same(ops.bitwise_left_shift(x, x), x << x)
    assert_same(ops.bitwise_right_shift(x, x), x >> x)
    assert_same(ops.left_shift(x, 2), x << np.int16(2))  # a weak int keeps x's dtype
    assert_same(ops.bitwise_xor(x, 1), x ^ np.int16(1))
    assert_same(ops.bitwise_and(np.int8([7]), np.int32([12])), np.int32([4]))  # promoted


@pytest.mark.parametrize("name", ["bitwise_and", "bitwise_or", "bitwise_xor", "left_shift",
                                  "right_shift"])
def test_floats_are_rejected(name):
    with pytest.raises(TypeError, match=name):
        getattr(ops, name)(np.float32([1.0]), np.float32([2.0]))


def test_not_rejects_floats():
    with pytest.raises(TypeError, match="bitwise_not"):
        ops.bitwise_not(np.float32([1.0]))


@pytest.mark.parametrize("dtype", INT_DTYPES + ["bool"])
def test_compiled_matches_numpy(dtype):
    if dtype == "bool":
        x, y = RNG.uniform(size=(5, 33)) < 0.5, RNG.uniform(size=33) < 0.5
    else:
        x, y = full_range(dtype, 5, 33), shift_amounts(dtype, 33)

    def fn(x, y):
        return {name: getattr(ops, name)(x, y) for name, _ in BINARY} | {
            "bitwise_not": ops.bitwise_not(x)}

    got = gk.jit(fn)(x, y)
    for name, ref in BINARY + [("bitwise_not", lambda x, y: np.invert(x))]:
        assert_same(got[name], ref(x, y))


def test_gradients_are_none():
    from graphkit.ops.primitive import PRIMITIVES
    for name in ("bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "left_shift",
                 "right_shift"):
        assert PRIMITIVES[name].grad is None
