"""The Philox primitives: known-answer vectors, the stream layout, exact bits-to-float."""
import numpy as np
import pytest

from graphkit import ops
from graphkit.ops.primitive import PRIMITIVES, ShapeError
from graphkit.ops.random import (bits_to_unit_float, philox4x32_10, philox_stream,
                                 random_bits, random_permutation)

# Random123's kat_vectors (counter words, key words, expected output words).
KAT = [
    ((0x00000000, 0x00000000, 0x00000000, 0x00000000), (0x00000000, 0x00000000),
     (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF),
     (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("counter,key,expected", KAT)
def test_philox_known_answers(counter, key, expected):
    out = philox4x32_10(counter, key)
    assert [int(w) for w in out] == list(expected)
    assert all(w.dtype == np.uint32 for w in out)


def test_philox_vectorized_matches_scalar_calls():
    counters = [np.array([c[i] for c, _, _ in KAT], np.uint32) for i in range(4)]
    keys = [np.array([k[i] for _, k, _ in KAT], np.uint32) for i in range(2)]
    out = np.stack(philox4x32_10(counters, keys), axis=1)
    np.testing.assert_array_equal(out, np.array([e for _, _, e in KAT], np.uint32))


def test_random_bits_layout_is_block_major_c_order():
    key = np.array([0xA4093822, 0x299F31D0], np.uint32)
    bits = random_bits(key, (3, 5)).numpy()
    assert bits.dtype == np.uint32 and bits.shape == (3, 5)
    flat = bits.reshape(-1)
    for i in range(15):
        block = philox4x32_10((i // 4, 0, 0, 0), key)
        assert flat[i] == block[i % 4]


def test_stream_prefix_does_not_depend_on_shape():
    key = np.array([7, 3], np.uint32)
    long = random_bits(key, (40,)).numpy()
    np.testing.assert_array_equal(random_bits(key, (2, 3)).numpy().reshape(-1), long[:6])
    np.testing.assert_array_equal(philox_stream(key, 40), long)


def test_random_bits_differ_by_key_and_look_uniform():
    a = random_bits(np.array([1, 0], np.uint32), (100_000,)).numpy()
    b = random_bits(np.array([1, 1], np.uint32), (100_000,)).numpy()
    assert np.mean(a == b) < 1e-3
    for bit in (0, 15, 31):  # each bit is set about half the time
        frac = np.mean((a >> np.uint32(bit)) & np.uint32(1))
        assert abs(frac - 0.5) < 0.01


def test_random_bits_rejects_bad_keys():
    with pytest.raises(ShapeError, match="random_bits.*uint32.*shape \\(2,\\)"):
        random_bits(np.array([1, 2], np.int32), (3,))
    with pytest.raises(ShapeError, match="random_bits"):
        random_bits(np.array([1, 2, 3], np.uint32), (3,))
    with pytest.raises(ValueError, match="random_bits.*shape"):
        random_bits(np.array([1, 2], np.uint32), (3, None))


@pytest.mark.parametrize("dtype,m", [("float16", 11), ("float32", 24), ("float64", 32)])
def test_bits_to_unit_float_is_exact(dtype, m):
    bits = np.array([0, 1, 255, 256, 2**31, 2**32 - 1, 123456789], np.uint32)
    out = bits_to_unit_float(ops.convert_to_tensor(bits), dtype).numpy()
    assert out.dtype == np.dtype(dtype)
    expected = np.floor(bits.astype(np.float64) / 2.0 ** (32 - m)) / 2.0 ** m
    np.testing.assert_array_equal(out.astype(np.float64), expected)
    assert out.max() < 1.0 and out.min() >= 0.0
    assert out[-2] == 1.0 - 2.0 ** -m  # the largest value: one step below 1


def test_bits_to_unit_float_rejects_non_uint32_and_int_dtype():
    with pytest.raises(ShapeError, match="bits_to_unit_float.*uint32"):
        bits_to_unit_float(ops.convert_to_tensor(np.array([1], np.int32)))
    with pytest.raises(ValueError, match="bits_to_unit_float.*float dtype"):
        bits_to_unit_float(ops.convert_to_tensor(np.array([1], np.uint32)), "int32")


def test_random_permutation_is_stable_argsort_of_bits():
    key = np.array([5, 9], np.uint32)
    perm = random_permutation(key, 1000).numpy()
    assert perm.dtype == np.int32
    np.testing.assert_array_equal(np.sort(perm), np.arange(1000))
    np.testing.assert_array_equal(perm, np.argsort(philox_stream(key, 1000), kind="stable"))


def test_random_primitives_are_registered_random_and_not_differentiable():
    for name in ("random_bits", "random_permutation"):
        prim = PRIMITIVES[name]
        assert prim.category == "random" and prim.effect == "random"
        assert not prim.differentiable
    unit = PRIMITIVES["bits_to_unit_float"]
    assert unit.category == "elementwise" and unit.scalar_expr == "bits_to_unit_float"
    assert not unit.differentiable
