"""vander, diagflat, depth_to_space / space_to_depth, get_item and segment_sum."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import ops
from graphkit.ops.primitive import ShapeError

from tests.ops.fd_checks import assert_grad_matches_fd, assert_one_node

RNG = np.random.default_rng(5)


@pytest.mark.parametrize("N", [None, 0, 1, 4])
@pytest.mark.parametrize("increasing", [False, True])
def test_vander_matches_numpy(N, increasing):
    x = np.float32([1.5, -2.0, 0.0, 3.0])
    out = ops.vander(x, N=N, increasing=increasing)
    expected = np.vander(x.astype(np.float64), N=N, increasing=increasing)
    assert out.dtype == "float32" and out.shape == expected.shape
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-7)
    ints = np.array([-3, 2, 5], np.int32)
    out = ops.vander(ints, N=N, increasing=increasing)
    assert out.dtype == "int32"
    np.testing.assert_array_equal(out.numpy(), np.vander(ints, N=N, increasing=increasing))


def test_vander_refuses_bad_input():
    with pytest.raises(ShapeError, match="vander.*1-D"):
        ops.vander(np.ones((2, 2)))
    with pytest.raises(ShapeError, match="vander.*N"):
        ops.vander(np.ones(3), N=-1)


@pytest.mark.parametrize("k", [-2, 0, 1])
def test_diagflat_matches_numpy(k):
    x = np.array([[1, 2], [3, 4]], np.int32)
    np.testing.assert_array_equal(ops.diagflat(x, k=k).numpy(), np.diagflat(x, k=k))


def _depth_to_space_reference(x, b, data_format):
    """Keras's definition written in NumPy (TensorFlow's DCR order for channels_last)."""
    if data_format == "channels_last":
        n, h, w, c = x.shape
        y = x.reshape(n, h, w, b, b, c // b**2).transpose(0, 1, 3, 2, 4, 5)
        return y.reshape(n, h * b, w * b, c // b**2)
    n, c, h, w = x.shape
    y = x.reshape(n, c // b**2, b, b, h, w).transpose(0, 1, 4, 2, 5, 3)
    return y.reshape(n, c // b**2, h * b, w * b)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("b", [2, 3])
def test_depth_to_space_and_its_inverse(data_format, b):
    c = 2 * b * b
    shape = (2, 3, 2, c) if data_format == "channels_last" else (2, c, 3, 2)
    x = RNG.uniform(size=shape).astype(np.float32)
    out = ops.depth_to_space(x, b, data_format=data_format)
    np.testing.assert_array_equal(out.numpy(), _depth_to_space_reference(x, b, data_format))
    np.testing.assert_array_equal(
        ops.space_to_depth(out, b, data_format=data_format).numpy(), x)


def test_depth_to_space_pixel_order():
    # channels_last: the 4 channels of a pixel fill its 2x2 tile row by row.
    x = np.arange(4, dtype=np.float32).reshape(1, 1, 1, 4)
    np.testing.assert_array_equal(ops.depth_to_space(x, 2).numpy()[0, :, :, 0],
                                  [[0, 1], [2, 3]])


def test_space_depth_errors_name_the_op_and_argument():
    with pytest.raises(ShapeError, match="depth_to_space.*channels"):
        ops.depth_to_space(np.ones((1, 2, 2, 6)), 2)
    with pytest.raises(ShapeError, match="space_to_depth.*spatial"):
        ops.space_to_depth(np.ones((1, 3, 2, 1)), 2)
    with pytest.raises(ValueError, match="depth_to_space.*data_format"):
        ops.depth_to_space(np.ones((1, 2, 2, 4)), 2, data_format="NHWC")
    with pytest.raises(ValueError, match="space_to_depth.*block_size"):
        ops.space_to_depth(np.ones((1, 2, 2, 4)), 1)
    with pytest.raises(ShapeError, match="depth_to_space.*4-D"):
        ops.depth_to_space(np.ones((2, 2, 4)), 2)


def test_diagflat_needs_a_static_size():
    with pytest.raises(ShapeError, match="diagflat.*static"):
        ops.diagflat(gk.Input((3,)))


def test_get_item_is_getitem():
    x = RNG.uniform(size=(3, 4, 2)).astype(np.float32)
    for key in [1, (slice(None), 2), (Ellipsis, 0), (None, slice(1, None, -1))]:
        np.testing.assert_array_equal(ops.get_item(x, key).numpy(), x[key])


def _segment_sum_reference(data, ids, n):
    out = np.zeros((n,) + data.shape[1:], np.float64)
    for row, s in zip(data, ids):
        if 0 <= s < n:
            out[s] += row
    return out


@pytest.mark.parametrize("num_segments", [None, 3, 6])
def test_segment_sum_matches_a_loop(num_segments):
    data = RNG.uniform(-1, 1, (6, 2, 3)).astype(np.float32)
    ids = np.array([2, 0, 2, 4, 0, 1], np.int32)
    out = ops.segment_sum(data, ids, num_segments=num_segments)
    n = 5 if num_segments is None else num_segments
    assert out.shape == (n, 2, 3) and out.dtype == "float32"
    # Ids >= num_segments are dropped (Keras's JAX backend); empty segments are 0.
    np.testing.assert_allclose(out.numpy(), _segment_sum_reference(data, ids, n), rtol=1e-6)
    ints = ops.segment_sum(np.array([1, 2, 3, 4], np.int32), np.array([1, 1, -1, 0]), 2,
                           sorted=True)
    assert ints.dtype == "int32"
    np.testing.assert_array_equal(ints.numpy(), [4, 3])


def test_segment_sum_errors():
    with pytest.raises(ShapeError, match="segment_sum.*segment_ids"):
        ops.segment_sum(np.ones((3, 2)), np.array([0, 1]), 2)
    with pytest.raises(ShapeError, match="segment_sum.*segment_ids"):
        ops.segment_sum(np.ones((3, 2)), np.zeros((3, 1), np.int32), 2)


def test_segment_sum_needs_num_segments_when_traced():
    with pytest.raises(ValueError, match="segment_sum.*num_segments"):
        gk.jit(lambda d, i: ops.segment_sum(d, i))(np.ones((3, 2), np.float32),
                                                   np.array([0, 1, 1], np.int32))


def test_gradients_match_finite_differences():
    assert_grad_matches_fd(lambda x: ops.vander(x, N=4), np.array([0.7, -1.3, 2.1]))
    assert_grad_matches_fd(lambda x: ops.depth_to_space(x, 2), RNG.uniform(size=(1, 2, 1, 4)))
    assert_grad_matches_fd(lambda d: ops.segment_sum(d, np.int32([1, 0, 1, 5]), 3),
                           RNG.uniform(size=(4, 2)))


def test_symbolic_calls_are_one_node():
    assert_one_node(lambda x: ops.depth_to_space(x, 2), "depth_to_space", (2, 3, 8))
    assert_one_node(lambda x: ops.space_to_depth(x, 2), "space_to_depth", (4, 2, 3))
    assert_one_node(lambda x: ops.segment_sum(x, np.int32([2, 0]), 3), "segment_sum", (3,))
    assert_one_node(lambda x: ops.get_item(x, (slice(None), 1)), "get_item", (3,))
