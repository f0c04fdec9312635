"""keras.ops.scatter / scatter_update (tf.scatter_nd coordinates), unravel_index,
separable_conv, array and dtype, against NumPy."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import ops
from graphkit.ops.primitive import ShapeError

RNG = np.random.default_rng(5)


def _scatter_reference(indices, values, shape):
    out = np.zeros(shape, np.float64)
    for coord, value in zip(indices, values):
        out[tuple(coord)] += value
    return out


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_scatter_adds_values_at_coordinates(depth):
    shape = (3, 4, 2)
    indices = RNG.integers(0, 2, (6, depth)).astype(np.int32)  # repeats likely
    values = RNG.standard_normal((6,) + shape[depth:]).astype(np.float32)
    got = ops.scatter(indices, values, shape).numpy()
    np.testing.assert_allclose(got, _scatter_reference(indices, values, shape), rtol=1e-6)


def test_scatter_update_replaces_slices():
    x = RNG.standard_normal((4, 3, 2)).astype(np.float32)
    indices = np.int32([[3, 1], [0, 2]])
    updates = RNG.standard_normal((2, 2)).astype(np.float32)
    want = x.copy()
    want[3, 1], want[0, 2] = updates
    np.testing.assert_allclose(ops.scatter_update(x, indices, updates).numpy(), want,
                               rtol=1e-6, atol=1e-7)


def test_scatter_gradient_is_the_gathered_cotangent():
    indices = np.int32([[1], [0], [1]])
    values = gk.ops.convert_to_tensor(np.ones((3, 2), np.float32))
    weights = np.arange(6, dtype=np.float32).reshape(3, 2)
    with gk.GradientTape() as tape:
        tape.watch(values)
        total = ops.sum(ops.scatter(indices, values, (3, 2)) * weights)
    np.testing.assert_allclose(tape.gradient(total, values).numpy(), weights[[1, 0, 1]])


def test_scatter_errors_name_the_op():
    with pytest.raises(ShapeError, match="scatter: `indices`"):
        ops.scatter(np.int32([[0, 0, 0]]), np.float32([1.0]), (2, 2))


def test_unravel_index_matches_numpy():
    flat = np.int32([0, 7, 59, 23, 40])
    got = ops.unravel_index(flat, (3, 4, 5))
    for g, w in zip(got, np.unravel_index(flat, (3, 4, 5))):
        np.testing.assert_array_equal(g.numpy(), w)


def test_separable_conv_is_depthwise_then_pointwise():
    x = RNG.standard_normal((1, 5, 5, 2)).astype(np.float32)
    dw = RNG.standard_normal((3, 3, 2, 2)).astype(np.float32)
    pw = RNG.standard_normal((1, 1, 4, 3)).astype(np.float32)
    mid = ops.depthwise_conv(x, dw, padding="same").numpy().astype(np.float64)
    want = mid @ pw[0, 0].astype(np.float64)
    np.testing.assert_allclose(ops.separable_conv(x, dw, pw, padding="same").numpy(), want,
                               rtol=1e-5, atol=1e-5)


def test_array_and_dtype():
    assert ops.array([1.0, 2.0]).dtype == "float32"
    assert ops.array([1, 2], dtype="int64").dtype == "int64"
    assert ops.dtype(np.zeros(2, np.float16)) == "float16"
    assert ops.dtype(gk.Variable(np.zeros(2, np.float32))) == "float32"
    assert ops.dtype(3) == "int32"
