"""logspace, geomspace and the window functions against NumPy (float64 references)."""
import numpy as np
import pytest

from graphkit import config, ops

from tests.ops.fd_checks import assert_one_node


@pytest.mark.parametrize("args", [(0.0, 2.0, 5), (-1, 3, 7, False), (2, 0, 4)])
@pytest.mark.parametrize("base", [10, 2.0, 0.5])
def test_logspace_matches_numpy(args, base):
    out = ops.logspace(*args[:3], endpoint=args[3] if len(args) > 3 else True, base=base)
    expected = np.logspace(*args[:3], endpoint=args[3] if len(args) > 3 else True, base=base)
    assert out.dtype == config.floatx() and out.shape == expected.shape
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)
    assert ops.logspace(0, 1, 3, dtype="float64").dtype == "float64"


@pytest.mark.parametrize("start,stop,num,endpoint", [
    (1, 1000, 4, True), (1, 1000, 4, False), (-2.0, -50.0, 6, True), (3.0, 0.5, 5, True),
    (7, 9, 1, True), (7, 9, 0, True), (2, 2, 3, True)])
def test_geomspace_matches_numpy(start, stop, num, endpoint):
    out = ops.geomspace(start, stop, num, endpoint=endpoint)
    expected = np.geomspace(start, stop, num, endpoint=endpoint)
    assert out.dtype == config.floatx() and out.shape == expected.shape
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)
    if num > 0:  # the ends exactly, as NumPy
        assert out.numpy()[0] == np.float32(start)
        if endpoint and num > 1:
            assert out.numpy()[-1] == np.float32(stop)


def test_log_ranges_refuse_bad_bounds():
    with pytest.raises(ValueError, match="geomspace.*zero"):
        ops.geomspace(0, 10, 3)
    with pytest.raises(ValueError, match="geomspace.*same sign"):
        ops.geomspace(-1, 10, 3)
    with pytest.raises(ValueError, match="logspace.*start.*scalar"):
        ops.logspace([0, 1], 2, 3)
    with pytest.raises(ValueError, match="geomspace.*axis"):
        ops.geomspace(1, 10, 3, axis=1)


@pytest.mark.parametrize("name", ["bartlett", "blackman", "hamming", "hanning"])
@pytest.mark.parametrize("M", [0, 1, 2, 5, 12])
def test_windows_match_numpy(name, M):
    out = getattr(ops, name)(M)
    expected = getattr(np, name)(M)
    assert out.dtype == "float32" and out.shape == expected.shape
    # Windows reach 0 at the ends (blackman: a rounding-level ~1e-17): absolute tolerance.
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6, atol=1e-7)


def test_window_length_must_be_an_int():
    with pytest.raises(ValueError, match="hamming.*int"):
        ops.hamming("five")


def test_symbolic_calls_are_one_node():
    assert_one_node(lambda x: x * ops.hamming(4), "multiply", (4,))  # a constant: no node
    assert_one_node(lambda x: ops.vander(x, N=3), "vander", ())
