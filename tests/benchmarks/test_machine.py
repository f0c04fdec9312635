"""The measured machine limits: the streaming-store STREAM add computes c = a + b, and the
bandwidth measurement names the method it took."""
import platform

import numpy as np
import pytest

from benchmarks import machine

x86 = pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"),
                         reason="the streaming-store loop is x86-64 code")


@x86
def test_streaming_add_loop_adds_every_element():
    fn, lanes = machine._stream_add_function()
    n = 7 * lanes
    a, b, c = (machine._aligned_floats(n, fill) for fill in (0.0, 0.0, -1.0))
    a[:] = np.arange(n, dtype=np.float32)
    b[:] = 0.5
    fn(n // lanes, a.ctypes.data, b.ctypes.data, c.ctypes.data)
    np.testing.assert_array_equal(c, a + b)


def test_aligned_floats_start_on_a_cache_line():
    for n in (1, 17, 1000):
        out = machine._aligned_floats(n, 3.0)
        assert out.ctypes.data % 64 == 0 and out.shape == (n,) and (out == 3.0).all()


def test_bandwidth_is_measured_and_says_how():
    gbs, how = machine.measure_bandwidth_gbs(mib_per_array=2, repeats=2)
    assert gbs > 0 and how in ("NumPy add", "streaming-store loop")
