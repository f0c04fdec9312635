"""Native pooling kernels (graphkit/codegen/pool.py) against the eager NumPy kernels.

Fallback is off, so a pool kernel that is not native fails the test. The argmax-based ops
are checked on inputs full of ties and with -inf/NaN, where "the first maximum" matters.
"""
import numpy as np
import pytest

import graphkit as gk
from graphkit.ops import nn
from graphkit.ops.primitive import bind

from .test_conv import assert_close, compiled, f32

RNG = np.random.default_rng(11)


pytestmark = pytest.mark.usefixtures("no_fallback")


# (x shape, window, strides, padding); C = 19 and 33 leave masked channel tails
CASES = {
    "2d_valid": ((2, 8, 9, 19), (2, 2), (2, 2), "valid"),
    "2d_tiled": ((3, 8, 6, 16), (2, 3), (2, 3), "valid"),   # windows cover x exactly
    "2d_same_overlap": ((2, 7, 9, 5), (3, 3), (2, 1), "same"),
    "1d_same": ((3, 11, 33), (4,), (3,), "same"),
    "3d_valid": ((2, 5, 4, 6, 3), (2, 2, 3), (1, 2, 2), "valid"),
}


def _attrs(case):
    xs, window, strides, padding = CASES[case]
    pads = nn.resolve_padding(padding, xs[1:-1], window, strides, (1,) * len(window), "t")
    return xs, dict(window=window, strides=strides, padding=pads)


def _ties(shape):
    """Values from a small set, so most windows hold their maximum more than once."""
    return RNG.integers(0, 3, shape).astype(np.float32)


@pytest.mark.parametrize("case", list(CASES))
def test_max_and_avg_pool_match_eager(case):
    xs, a = _attrs(case)
    x = f32(*xs)
    got_max, got_avg = compiled(lambda x: (bind(nn.MAX_POOL, x, **a),
                                           bind(nn.AVG_POOL, x, **a)), x)
    np.testing.assert_array_equal(got_max, nn._max_pool_kernel(x, **a))
    assert_close(got_avg, nn._avg_pool_kernel(x.astype(np.float64), **a))


@pytest.mark.parametrize("case", list(CASES))
def test_pool_gradients_match_eager(case):
    xs, a = _attrs(case)
    x = _ties(xs)
    pooled = nn._max_pool_kernel(x, **a).shape
    ct, g = f32(*pooled), f32(*xs)

    def fn(x, ct, g):
        return (bind(nn.MAX_POOL_GRAD, x, ct, **a), bind(nn.MAX_POOL_SELECT, x, g, **a),
                bind(nn.AVG_POOL_GRAD, ct, input_spatial=tuple(xs[1:-1]), **a))
    got_mg, got_sel, got_ag = compiled(fn, x, ct, g)
    want_mg = nn._max_pool_grad_kernel(x.astype(np.float64), ct.astype(np.float64), **a)
    assert_close(got_mg, want_mg)
    np.testing.assert_array_equal(got_sel, nn._max_pool_select_kernel(x, g, **a))
    want_ag = nn._avg_pool_grad_kernel(ct.astype(np.float64), tuple(xs[1:-1]), **a)
    assert_close(got_ag, want_ag)


def test_max_pool_with_infinities_and_nan():
    xs, a = _attrs("2d_same_overlap")
    x = _ties(xs)
    x[0, 0, :3, 0] = -np.inf          # a padded corner window of -inf: picks its first element
    x[1, 2, 2, 1] = np.nan            # NaN propagates and is the argmax
    ct = f32(*nn._max_pool_kernel(x, **a).shape)
    got_max, got_grad = compiled(lambda x, ct: (bind(nn.MAX_POOL, x, **a),
                                                bind(nn.MAX_POOL_GRAD, x, ct, **a)), x, ct)
    np.testing.assert_array_equal(got_max, nn._max_pool_kernel(x, **a))
    assert_close(got_grad, nn._max_pool_grad_kernel(x, ct.astype(np.float64), **a))


def test_integer_max_pool():
    xs, a = _attrs("2d_valid")
    x = RNG.integers(-100, 100, xs).astype(np.int32)
    got, = compiled(lambda x: bind(nn.MAX_POOL, x, **a), x)
    np.testing.assert_array_equal(got, nn._max_pool_kernel(x, **a))


def test_pooling_layers_channels_first():
    x = f32(2, 4, 9, 8)
    mp = gk.layers.MaxPooling2D(3, strides=2, padding="same", data_format="channels_first")
    ap = gk.layers.AveragePooling2D(2, padding="same", data_format="channels_first")
    got_m, got_a = compiled(lambda x: (mp(x), ap(x)), x)
    np.testing.assert_array_equal(got_m, np.asarray(mp(x)))
    assert_close(got_a, np.asarray(ap(x)))


def test_float64_pools():
    xs, a = _attrs("2d_same_overlap")
    x = RNG.standard_normal(xs)
    ct = RNG.standard_normal(nn._max_pool_kernel(x, **a).shape)

    def fn(x, ct):
        return (bind(nn.MAX_POOL, x, **a), bind(nn.AVG_POOL, x, **a),
                bind(nn.MAX_POOL_GRAD, x, ct, **a),
                bind(nn.AVG_POOL_GRAD, ct, input_spatial=tuple(xs[1:-1]), **a))
    got = compiled(fn, x, ct)
    want = [nn._max_pool_kernel(x, **a), nn._avg_pool_kernel(x, **a),
            nn._max_pool_grad_kernel(x, ct, **a),
            nn._avg_pool_grad_kernel(ct, tuple(xs[1:-1]), **a)]
    for g, r in zip(got, want):
        assert g.dtype == np.float64
        np.testing.assert_allclose(g, r, rtol=1e-13, atol=1e-13)


def test_float16_pools_round_like_eager():
    """float16 pools (the mixed_float16 policy): the max ops only select, so they equal the
    eager kernels exactly; the averages and the max-pool gradient's overlap-add round each
    sum to float16 as the eager kernels do, so they may differ from them only by the order
    of those roundings: one float16 ulp of the sum's scale (the same kernel on magnitudes)
    per term of a window at most."""
    xs, a = _attrs("2d_same_overlap")
    x = RNG.standard_normal(xs).astype(np.float16)
    x[0, 1, :4, 2] = x[0, 1, 0, 2]                      # ties: the first maximum wins
    ct = RNG.standard_normal(nn._max_pool_kernel(x, **a).shape).astype(np.float16)
    g = RNG.standard_normal(xs).astype(np.float16)
    spatial = tuple(xs[1:-1])

    def fn(x, ct, g):
        return (bind(nn.MAX_POOL, x, **a), bind(nn.MAX_POOL_SELECT, x, g, **a),
                bind(nn.MAX_POOL_GRAD, x, ct, **a), bind(nn.AVG_POOL, x, **a),
                bind(nn.AVG_POOL_GRAD, ct, input_spatial=spatial, **a))
    got = compiled(fn, x, ct, g)
    assert all(o.dtype == np.float16 for o in got)
    np.testing.assert_array_equal(got[0], nn._max_pool_kernel(x, **a))
    np.testing.assert_array_equal(got[1], nn._max_pool_select_kernel(x, g, **a))
    terms = int(np.prod(a["window"]))
    for o, want, scale in (
            (got[2], nn._max_pool_grad_kernel(x, ct, **a),
             nn._max_pool_grad_kernel(x, np.abs(ct), **a)),
            (got[3], nn._avg_pool_kernel(x, **a), nn._avg_pool_kernel(np.abs(x), **a)),
            (got[4], nn._avg_pool_grad_kernel(ct, spatial, **a),
             nn._avg_pool_grad_kernel(np.abs(ct), spatial, **a))):
        ulp = np.spacing(scale).astype(np.float64)
        err = np.abs(o.astype(np.float64) - want.astype(np.float64))
        assert np.all(err <= terms * ulp), f"max error {np.max(err / ulp):.1f} ulp16 of scale"
