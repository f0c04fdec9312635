import numpy as np
import pytest

import graphkit as gk
from graphkit import config, ops
from graphkit.ops.primitive import ShapeError


def test_full_zeros_ones_default_to_floatx():
    assert ops.zeros((2, 3)).dtype == "float32"
    assert ops.ones(4).shape == (4,)
    out = ops.full((2,), 7)
    assert out.dtype == config.floatx()
    np.testing.assert_array_equal(out.numpy(), [7.0, 7.0])
    assert ops.full((2,), 7, dtype="int32").dtype == "int32"
    assert ops.zeros((2,), dtype=bool).dtype == "bool"
    config.set_floatx("float64")
    try:
        assert ops.zeros((1,)).dtype == "float64"
    finally:
        config.set_floatx("float32")


def test_full_with_tensor_fill_value():
    v = ops.convert_to_tensor(np.array([1.0, 2.0], np.float32))
    np.testing.assert_array_equal(ops.full((3, 2), v).numpy(), np.full((3, 2), [1.0, 2.0]))
    np.testing.assert_array_equal(ops.full((2,), ops.convert_to_tensor(3.0)).numpy(), [3, 3])


def test_like_ops_keep_dtype():
    x = np.ones((2, 3), np.int8)
    assert ops.zeros_like(x).dtype == "int8"
    assert ops.ones_like(x, dtype="float16").dtype == "float16"
    np.testing.assert_array_equal(ops.full_like(x, 5).numpy(), np.full((2, 3), 5, np.int8))


def test_arange_dtypes_and_values():
    out = ops.arange(5)
    assert out.dtype == "int32"
    np.testing.assert_array_equal(out.numpy(), np.arange(5))
    np.testing.assert_array_equal(ops.arange(2, 11, 3).numpy(), np.arange(2, 11, 3))
    f = ops.arange(0.0, 1.0, 0.25)
    assert f.dtype == "float32"
    np.testing.assert_allclose(f.numpy(), np.arange(0.0, 1.0, 0.25))
    np.testing.assert_array_equal(ops.arange(5, 0, -2).numpy(), [5, 3, 1])
    assert ops.arange(3, dtype="float64").dtype == "float64"
    with pytest.raises(ShapeError, match="arange: step cannot be zero"):
        ops.arange(0, 3, 0)


def test_eye_identity_tri_linspace():
    np.testing.assert_array_equal(ops.eye(3).numpy(), np.eye(3))
    np.testing.assert_array_equal(ops.eye(3, 4, k=1).numpy(), np.eye(3, 4, k=1))
    np.testing.assert_array_equal(ops.eye(4, 3, k=-2, dtype="int32").numpy(),
                                  np.eye(4, 3, k=-2, dtype=np.int32))
    assert ops.eye(2).dtype == "float32"
    np.testing.assert_array_equal(ops.identity(2).numpy(), np.identity(2))
    np.testing.assert_array_equal(ops.tri(3, 4, k=1).numpy(), np.tri(3, 4, k=1))
    np.testing.assert_allclose(ops.linspace(0, 1, 5).numpy(), np.linspace(0, 1, 5))
    np.testing.assert_allclose(ops.linspace(2, 3, 4, endpoint=False).numpy(),
                               np.linspace(2, 3, 4, endpoint=False), rtol=1e-6)


def test_convert_to_tensor_dtypes():
    assert ops.convert_to_tensor([1, 2]).dtype == "int32"
    assert ops.convert_to_tensor([1.0, 2.0]).dtype == "float32"
    assert ops.convert_to_tensor(np.array([1.0])).dtype == "float64"
    assert ops.convert_to_tensor([True]).dtype == "bool"
    assert ops.convert_to_tensor([1, 2], dtype="float16").dtype == "float16"
    v = gk.Variable(np.ones(2, np.float32))
    assert ops.convert_to_tensor(v).dtype == "float32"
    with pytest.raises(TypeError, match="convert_to_tensor"):
        ops.convert_to_tensor("text")


def test_convert_python_ints_outside_int32_raise_instead_of_wrapping():
    for value in (2**40, [1, 3_000_000_000]):
        with pytest.raises(ValueError, match="dtype='int64'"):
            ops.convert_to_tensor(value)
    assert int(ops.convert_to_tensor(2**40, dtype="int64")) == 2**40


def test_full_kernel_scalar_fast_path_is_np_full():
    from graphkit.ops.creation import FULL
    for dtype in ("float16", "float32", "float64", "int32", "uint8", "bool"):
        for value in (1.0, -0.0, 0.1, 1e300, float("inf"), float("nan"), 3, True):
            with np.errstate(all="ignore"):
                want = np.full((), value, dtype=dtype)
                got = FULL.eager(shape=(), value=value, dtype=dtype)
            assert got.shape == () and got.dtype == want.dtype
            assert got.tobytes() == want.tobytes()
