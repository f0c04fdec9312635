"""The eager kernels of `where` (a branch-free bitwise select on large operands) and
`sigmoid` (no masked select at all) against NumPy."""
import numpy as np
import pytest

import graphkit as gk
from graphkit.ops.elementwise import _SELECT_MIN_SIZE, _sigmoid_kernel, _where_kernel

RNG = np.random.default_rng(7)
BIG = (64, _SELECT_MIN_SIZE // 32)  # large enough for the bitwise path


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int8", "int32",
                                   "int64", "uint16", "bool"])
@pytest.mark.parametrize("shapes", [
    (BIG, BIG, BIG), (BIG, (), BIG), (BIG, BIG, ()), ((), BIG, BIG),
    ((1, BIG[1]), (BIG[0], 1), (BIG[1],)), ((3, 4), (3, 4), (3, 4)),  # the last: np.where
])
def test_where_kernel_is_np_where(dtype, shapes):
    c = RNG.random(shapes[0]) > 0.5
    a = (RNG.normal(size=shapes[1]) * 50).astype(dtype)
    b = (RNG.normal(size=shapes[2]) * 50).astype(dtype)
    if dtype.startswith("float"):   # special values must pass through bit for bit
        a = np.asarray(a)
        b = np.asarray(b)
        a.flat[0], b.flat[-1] = np.nan, -np.inf
        if a.size > 1:
            a.flat[1] = -0.0
    got, want = _where_kernel(np.asarray(c), np.asarray(a), np.asarray(b)), np.where(c, a, b)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert np.array_equal(got.view(np.uint8), np.ascontiguousarray(want).view(np.uint8))


def test_where_kernel_on_non_contiguous_operands():
    a = RNG.normal(size=(BIG[1], BIG[0])).astype("float32").T   # a transposed view
    b = RNG.normal(size=BIG).astype("float32")
    c = RNG.random(BIG) > 0.3
    np.testing.assert_array_equal(_where_kernel(c, a, b), np.where(c, a, b))


def test_where_op_and_gradient_on_large_operands():
    x = RNG.normal(size=BIG)
    with gk.GradientTape() as tape:
        t = gk.ops.convert_to_tensor(x)
        tape.watch(t)
        y = gk.ops.sum(gk.ops.where(t > 0, t * 3.0, t))
    np.testing.assert_array_equal(tape.gradient(y, t).numpy(), np.where(x > 0, 3.0, 1.0))


@pytest.mark.parametrize("dtype, tol", [("float16", 1e-3), ("float32", 2e-7),
                                        ("float64", 1e-15)])
def test_sigmoid_kernel_matches_float64(dtype, tol):
    x = np.concatenate([np.linspace(-60, 60, 2001), [-1e4, 1e4, 0.0, -0.0, 1e-30]])
    x = x.astype(dtype)
    got = _sigmoid_kernel(x)
    with np.errstate(over="ignore"):
        want = 1.0 / (1.0 + np.exp(-x.astype("float64")))
    assert got.dtype == np.dtype(dtype) and np.all(np.isfinite(got))
    np.testing.assert_allclose(got.astype("float64"), want, rtol=tol, atol=tol)


def test_sigmoid_kernel_on_a_scalar_and_nan():
    assert _sigmoid_kernel(np.asarray(np.float32(0.0))) == np.float32(0.5)
    assert np.isnan(_sigmoid_kernel(np.array([np.nan], "float32"))[0])


@pytest.mark.parametrize("dtype, zero", [("float32", 0.0), ("float32", -0.0), ("float64", 0.0),
                                         ("int32", 0), ("bool", False)])
@pytest.mark.parametrize("c_shape", [BIG, (1, BIG[1])])
def test_where_kernel_with_a_scalar_zero(dtype, zero, c_shape):
    # where(c, a, 0) takes a one-pass path when the zero is +0 bits; -0.0 must stay -0.0.
    c = RNG.random(c_shape) > 0.5
    a = (RNG.normal(size=BIG) * 9).astype(dtype)
    b = np.asarray(zero, dtype)
    got, want = _where_kernel(c, a, b), np.where(c, a, b)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert np.array_equal(got.view(np.uint8), want.view(np.uint8))


def _sigmoid_via_sign(x):
    """The former kernel (numerator max(sign(x), e)): the bit trick must match it exactly."""
    e = np.exp(-np.abs(x))
    return np.maximum(np.sign(x), e) / (e + 1)


@pytest.mark.parametrize("dtype, uint", [("float16", np.uint16), ("float32", np.uint32),
                                         ("float64", np.uint64)])
def test_sigmoid_kernel_bitwise_sign_matches_the_sign_formula(dtype, uint):
    info = np.finfo(dtype)
    special = [0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, info.max, -info.max,
               info.tiny, -info.tiny, info.smallest_subnormal, -info.smallest_subnormal,
               -80.0, -100.0, -104.0, -745.0, 80.0, 1e-30, -1e-30]
    x = np.concatenate([RNG.normal(size=5000) * 30, RNG.normal(size=5000) * 400,
                        special]).astype(dtype)
    with np.errstate(over="ignore", under="ignore"):
        want = _sigmoid_via_sign(x)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # none for large |x|
        got = _sigmoid_kernel(x)
    assert got.dtype == want.dtype and got.shape == want.shape
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(got), nan)
    assert np.array_equal(got[~nan].view(uint), want[~nan].view(uint))
    # the tails: +-inf give 1 and 0, a large negative x its float64 value (or 0)
    assert list(_sigmoid_kernel(np.array([np.inf, -np.inf], dtype))) == [1.0, 0.0]
    with np.errstate(over="ignore"):
        ref = (1.0 / (1.0 + np.exp(-np.array([-80.0, -100.0])))).astype(dtype)
    np.testing.assert_allclose(_sigmoid_kernel(np.array([-80.0, -100.0], dtype)), ref,
                               rtol=1e-6 if dtype != "float16" else 1e-3)


def test_sigmoid_kernel_on_strided_and_0d_operands():
    x = RNG.normal(size=(BIG[1], BIG[0])).astype("float32") * 10
    for operand in (x.T, x[:, ::3], np.asarray(np.float32(-3.5)), np.float64(2.0)):
        got = _sigmoid_kernel(operand)
        assert isinstance(got, np.ndarray) and got.shape == np.shape(operand)
        np.testing.assert_array_equal(got, _sigmoid_via_sign(np.asarray(operand)))
