"""The NaN-ignoring reductions and scans against NumPy's float64 nan* functions."""
import numpy as np
import pytest

from graphkit import ops
from graphkit.ops.primitive import ShapeError

from tests.ops.fd_checks import assert_grad_matches_fd, assert_one_node

RNG = np.random.default_rng(7)
X = RNG.uniform(-2, 2, (3, 4, 5)).astype(np.float32)
X[RNG.uniform(size=X.shape) < 0.3] = np.nan
X[1, :, 2] = np.nan  # an all-NaN slice along axis 1
X64 = X.astype(np.float64)


def _numpy(name, x, **kw):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices
        return getattr(np, name)(x, **kw)


@pytest.mark.parametrize("name", ["nanvar", "nanstd", "nanprod"])
@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 2)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_nan_statistics_match_numpy(name, axis, keepdims):
    out = getattr(ops, name)(X, axis=axis, keepdims=keepdims)
    expected = _numpy(name, X64, axis=axis, keepdims=keepdims)
    assert out.shape == expected.shape and out.dtype == "float32"
    np.testing.assert_allclose(out.numpy(), expected, rtol=2e-6, atol=1e-6)


def test_all_nan_slices_give_nan_variance_and_unit_product():
    out = ops.nanvar(X, axis=1)
    assert np.isnan(out.numpy()[1, 2]) and np.isfinite(out.numpy()[0]).all()
    assert ops.nanprod(X, axis=1).numpy()[1, 2] == 1.0


def test_nan_statistics_of_ints():
    x = np.array([[1, 4], [2, 7]], np.int32)
    assert ops.nanvar(x).dtype == "float32" and ops.nanprod(x).dtype == "int32"
    np.testing.assert_allclose(ops.nanstd(x, axis=0).numpy(), np.std(x, axis=0))
    np.testing.assert_array_equal(ops.nanprod(x, axis=1).numpy(), [4, 14])


@pytest.mark.parametrize("name", ["nancumsum", "nancumprod"])
@pytest.mark.parametrize("axis", [None, 0, 2, -2])
def test_nan_scans_match_numpy(name, axis):
    x = np.where(np.isnan(X), X, X * 0.5 + 1.0)  # products of O(1) factors
    out = getattr(ops, name)(x, axis=axis)
    expected = getattr(np, name)(x.astype(np.float64), axis=axis)
    assert out.shape == expected.shape and out.dtype == "float32"
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5, atol=1e-5)


def test_nan_scans_of_ints_and_dtype():
    x = np.array([[1, -2, 3], [4, 5, -6]], np.int32)
    np.testing.assert_array_equal(ops.nancumsum(x, axis=1).numpy(), np.cumsum(x, axis=1))
    np.testing.assert_array_equal(ops.nancumprod(x).numpy(), np.cumprod(x))
    out = ops.nancumsum(np.array([np.nan, 1.5, 2.0], np.float32), dtype="float64")
    assert out.dtype == "float64"
    np.testing.assert_array_equal(out.numpy(), [0.0, 1.5, 3.5])


@pytest.mark.parametrize("name", ["nanargmax", "nanargmin"])
@pytest.mark.parametrize("axis", [0, 2, -1])
@pytest.mark.parametrize("keepdims", [False, True])
def test_nan_arg_extrema_match_numpy(name, axis, keepdims):
    x = X[0]  # no all-NaN slice: NumPy raises on those
    out = getattr(ops, name)(x, axis=axis % 2 if axis != -1 else -1, keepdims=keepdims)
    expected = getattr(np, name)(x, axis=axis % 2 if axis != -1 else -1, keepdims=keepdims)
    assert out.dtype == "int32"
    np.testing.assert_array_equal(out.numpy(), expected)


def test_nan_arg_extrema_flattened_all_nan_and_infinities():
    np.testing.assert_array_equal(ops.nanargmax(X).numpy(), np.nanargmax(X))
    np.testing.assert_array_equal(ops.nanargmin(X, keepdims=True).numpy(),
                                  np.nanargmin(X, keepdims=True))
    # An all-NaN slice gives -1 (Keras's JAX backend; NumPy raises).
    np.testing.assert_array_equal(ops.nanargmax(X, axis=1).numpy()[1, 2], -1)
    # A real -inf after a NaN is found (not confused with the NaN's replacement).
    x = np.array([[np.nan, -np.inf], [np.nan, np.inf]], np.float32)
    np.testing.assert_array_equal(ops.nanargmax(x, axis=1).numpy(), [1, 1])
    np.testing.assert_array_equal(ops.nanargmin(x, axis=1).numpy(), [1, 1])
    np.testing.assert_array_equal(ops.nanargmax(np.array([3, 9, 9], np.int32)).numpy(), 1)


@pytest.mark.parametrize("name", ["nanvar", "nanstd", "nanprod", "nanargmax", "nancumsum"])
def test_axis_errors_name_the_op(name):
    with pytest.raises(ShapeError, match=name):
        getattr(ops, name)(X, axis=3)


def test_gradients_match_finite_differences():
    # Two or more present entries in every slice: a std over one entry is 0, where sqrt
    # has no derivative (NaN gradient, as ops.std of one element).
    x = np.array([[0.3, np.nan, -1.2, 0.7], [np.nan, 0.5, 1.1, -0.4], [0.9, -0.6, np.nan, 0.2]])
    for fn in (lambda v: ops.nanvar(v, axis=1), lambda v: ops.nanstd(v, axis=0),
               lambda v: ops.nanprod(v, axis=1), lambda v: ops.nancumsum(v, axis=1),
               lambda v: ops.nancumprod(v, axis=1)):
        assert_grad_matches_fd(fn, x)


@pytest.mark.parametrize("name", ["nanvar", "nanstd", "nanprod", "nancumsum", "nancumprod",
                                  "nanargmax", "nanargmin"])
def test_symbolic_call_is_one_node(name):
    assert_one_node(lambda x: getattr(ops, name)(x, axis=-1), name, (4,))
