"""fmod, ldexp, isreal, allclose and saturate_cast against NumPy (float64 references)."""
import numpy as np
import pytest

from graphkit import ops

from tests.ops.fd_checks import assert_grad_matches_fd, assert_one_node

RNG = np.random.default_rng(11)


def test_fmod_floats_are_exact_with_the_sign_of_x1():
    x1 = np.concatenate([RNG.uniform(-50, 50, 200), [-0.0, 0.0, 7.0, -7.0, 1e30, -1e-30]])
    x2 = np.concatenate([RNG.uniform(-3, 3, 200), [2.0, -2.0, 0.5, -0.7, 3.3, 1e-3]])
    x1, x2 = x1.astype(np.float32), x2.astype(np.float32)
    out = ops.fmod(x1, x2)
    expected = np.fmod(x1.astype(np.float64), x2.astype(np.float64))
    assert out.dtype == "float32"
    # The remainder of two float32s is a float32 (exact in float64 and float32): the
    # documented tolerance is 0, signed zeros included.
    np.testing.assert_array_equal(out.numpy(), expected.astype(np.float32))
    np.testing.assert_array_equal(np.signbit(out.numpy()), np.signbit(expected))


def test_fmod_ints_broadcasting_and_special_values():
    a = np.array([[-7, 7, -1, 0, 9]], np.int32)
    b = np.array([[3], [-3], [4]], np.int32)
    out = ops.fmod(a, b)
    assert out.dtype == "int32"
    np.testing.assert_array_equal(out.numpy(), np.fmod(a, b))
    out = ops.fmod(np.array([1.0, np.inf, np.nan, 5.0], np.float32),
                   np.array([0.0, 2.0, 1.0, np.inf], np.float32))
    np.testing.assert_array_equal(out.numpy(), np.float32([np.nan, np.nan, np.nan, 5.0]))


def test_ldexp_matches_numpy():
    x = RNG.uniform(-3, 3, (4, 5)).astype(np.float32)
    e = RNG.integers(-20, 20, (5,)).astype(np.int32)
    out = ops.ldexp(x, e)
    assert out.dtype == "float32"
    np.testing.assert_allclose(out.numpy(), np.ldexp(x.astype(np.float64), e), rtol=1e-7)
    assert ops.ldexp(np.array([1, 3]), np.array([2, -1])).dtype == "float32"
    with pytest.raises(TypeError, match="ldexp.*x2.*int"):
        ops.ldexp(x, x)


def test_isreal_and_allclose():
    out = ops.isreal(np.array([[1.5, np.nan], [np.inf, 0.0]], np.float32))
    assert out.dtype == "bool" and out.shape == (2, 2) and out.numpy().all()
    for a, b, kw in [([1.0, 2.0], [1.0, 2.00001], {}), ([1.0, 2.0], [1.0, 2.1], {}),
                     ([1.0, np.nan], [1.0, np.nan], {}),
                     ([1.0, np.nan], [1.0, np.nan], {"equal_nan": True}),
                     ([[1.0], [2.0]], [1.0, 1.05], {"rtol": 0.1}),
                     ([np.inf, 1.0], [np.inf, 1.0], {})]:
        out = ops.allclose(np.float32(a), np.float32(b), **kw)
        assert out.dtype == "bool" and out.shape == ()
        assert bool(out) == np.allclose(a, b, **kw), (a, b, kw)


@pytest.mark.parametrize("x,dtype,expected", [
    (np.float32([-1.0, 300.0, 5.7, np.inf, -np.inf]), "uint8", [0, 255, 5, 255, 0]),
    (np.float32([3e9, -3e9, 12.9, np.nan]), "int32", [2147483647, -2147483648, 12, 0]),
    (np.float64([-2.0, 0.3, 7.0]), "bool", [False, True, True]),
    (np.float64([1e300, -1e300, 1.5]), "float32", [3.4028235e38, -3.4028235e38, 1.5]),
    (np.int32([300, -300, 5]), "int8", [127, -128, 5]),
    (np.int32([-5, 70000]), "uint16", [0, 65535]),
    (np.int8([-5, 100]), "int32", [-5, 100]),
])
def test_saturate_cast_clips_to_the_target_range(x, dtype, expected):
    out = ops.saturate_cast(x, dtype)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out.numpy(), np.asarray(expected, dtype))


def test_gradients_match_finite_differences():
    x1 = np.array([[2.3, -4.1, 0.7], [-0.6, 5.1, -3.3]])
    x2 = np.array([1.7, -1.3, 0.4])
    assert_grad_matches_fd(ops.fmod, x1, x2)
    assert_grad_matches_fd(lambda x: ops.ldexp(x, np.int32([3, -1, 0])), x1)


def test_symbolic_calls_are_one_node():
    assert_one_node(lambda a, b: ops.fmod(a, b), "fmod", (3,), (3,))
    assert_one_node(lambda x: ops.ldexp(x, np.int32([1, 2, 3])), "ldexp", (3,))
    assert_one_node(lambda x: ops.saturate_cast(x, "uint8"), "saturate_cast", (3,))
