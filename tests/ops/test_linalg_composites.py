"""cross, corrcoef (linalg) and psnr (nn) against NumPy float64 references."""
import numpy as np
import pytest

from graphkit import ops
from graphkit.ops.primitive import ShapeError

from tests.ops.fd_checks import assert_grad_matches_fd, assert_one_node

RNG = np.random.default_rng(9)


@pytest.mark.parametrize("sa,sb,kw", [
    ((4, 3), (3,), {}), ((2, 1, 3), (5, 3), {}), ((4, 2), (4, 3), {}), ((4, 2), (2,), {}),
    ((3, 4), (4, 3), {"axisa": 0, "axisc": 0}), ((3, 2, 5), (3, 2, 5), {"axis": 0}),
    ((2, 3, 4), (3,), {"axisa": 1, "axisc": -2})])
def test_cross_matches_numpy(sa, sb, kw):
    a = RNG.uniform(-1, 1, sa).astype(np.float32)
    b = RNG.uniform(-1, 1, sb).astype(np.float32)
    out = ops.cross(a, b, **kw)
    expected = np.cross(a.astype(np.float64), b.astype(np.float64), **kw)
    assert out.shape == expected.shape and out.dtype == "float32"
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6, atol=1e-6)


def test_cross_ints_and_errors():
    out = ops.cross(np.array([1, 2, 3], np.int32), np.array([4, 5, 6], np.int32))
    assert out.dtype == "int32"
    np.testing.assert_array_equal(out.numpy(), [-3, 6, -3])
    with pytest.raises(ShapeError, match="cross.*axisb.*2 or 3"):
        ops.cross(np.ones(3), np.ones(4))
    with pytest.raises(ShapeError, match=r"cross \(axisa\)"):
        ops.cross(np.ones(3), np.ones(3), axisa=2)


@pytest.mark.parametrize("shape", [(3, 6), (1, 4), (5,), (2, 2)])
def test_corrcoef_matches_numpy(shape):
    x = RNG.uniform(-1, 1, shape).astype(np.float32)
    out = ops.corrcoef(x)
    expected = np.corrcoef(x.astype(np.float64))
    assert out.shape == np.shape(expected) and out.dtype == "float32"
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-6)
    assert np.all(np.abs(out.numpy()) <= 1.0)  # clipped, as NumPy


def test_corrcoef_of_ints_and_errors():
    x = np.array([[1, 2, 3, 7], [2, 1, 5, 4]], np.int32)
    out = ops.corrcoef(x)
    assert out.dtype == "float32"
    np.testing.assert_allclose(out.numpy(), np.corrcoef(x), rtol=1e-6)
    with pytest.raises(ShapeError, match="corrcoef.*1-D or 2-D"):
        ops.corrcoef(np.ones((2, 2, 2)))


def test_psnr_matches_the_formula():
    a = RNG.uniform(0, 1, (2, 4, 4, 3)).astype(np.float32)
    b = RNG.uniform(0, 1, (2, 4, 4, 3)).astype(np.float32)
    for max_val in (1.0, 255):
        mse = np.mean((a.astype(np.float64) - b) ** 2)
        expected = 20 * np.log10(max_val) - 10 * np.log10(mse)
        out = ops.psnr(a, b, max_val)
        assert out.shape == () and out.dtype == "float32"
        np.testing.assert_allclose(float(out), expected, rtol=1e-6)
    assert float(ops.psnr(a, a, 1.0)) == np.inf
    with pytest.raises(ShapeError, match="psnr.*same shape"):
        ops.psnr(a, b[0], 1.0)


def test_gradients_match_finite_differences():
    a, b = RNG.uniform(-1, 1, (2, 3)), RNG.uniform(-1, 1, (3,))
    assert_grad_matches_fd(ops.cross, a, b)
    assert_grad_matches_fd(lambda x, y: ops.cross(x[:, :2], y[:2]), a, b)
    assert_grad_matches_fd(ops.corrcoef, RNG.uniform(-1, 1, (3, 5)), rtol=1e-5)
    assert_grad_matches_fd(lambda x, y: ops.psnr(x, y, 2.0), a, RNG.uniform(-1, 1, (2, 3)))


def test_symbolic_calls_are_one_node():
    assert_one_node(lambda a, b: ops.cross(a, b), "cross", (3,), (3,))
    assert_one_node(lambda a, b: ops.psnr(a, b, 1.0), "psnr", (3,), (3,))
