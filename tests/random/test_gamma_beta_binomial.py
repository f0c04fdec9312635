"""gamma, beta and binomial: moments, support, seeding, errors, and compiled == eager."""
import math

import numpy as np
import pytest

import graphkit as gk
from graphkit.random import distributions

N = 50_000


def _moment_check(x, mean, var):
    """Sample mean and variance within 6 standard errors (the variance's from the
    sample's own fourth central moment)."""
    n = x.size
    assert abs(x.mean() - mean) < 6 * math.sqrt(var / n), (x.mean(), mean)
    m4 = np.mean((x - x.mean()) ** 4)
    assert abs(x.var() - var) < 6 * math.sqrt(max(m4 - var ** 2, 1e-12) / n), (x.var(), var)


@pytest.mark.parametrize("alpha", [0.3, 1.0, 2.5, 10.0])
def test_gamma_moments_and_support(alpha):
    x = gk.random.gamma((N,), alpha, seed=11).numpy()
    assert x.dtype == np.float32 and x.shape == (N,)
    assert np.all(np.isfinite(x)) and np.all(x > 0)
    _moment_check(x.astype(np.float64), alpha, alpha)


@pytest.mark.parametrize("alpha", [0.3, 2.5])
def test_gamma_distribution_matches_numpy(alpha):
    """Two-sample Kolmogorov-Smirnov distance against NumPy's gamma sampler."""
    x = np.sort(gk.random.gamma((N,), alpha, dtype="float64", seed=3).numpy())
    y = np.sort(np.random.default_rng(0).gamma(alpha, size=N))
    grid = np.concatenate([x, y])
    ks = np.max(np.abs(np.searchsorted(x, grid, side="right") / N
                       - np.searchsorted(y, grid, side="right") / N))
    assert ks < 1.95 * math.sqrt(2 / N) * 1.5  # well above the 0.1% critical value


def test_gamma_tensor_alpha_broadcasts_per_column():
    alpha = np.array([0.3, 1.0, 2.5, 10.0], np.float32)
    x = gk.random.gamma((20000, 4), alpha, seed=5).numpy().astype(np.float64)
    assert np.all(x > 0) and np.all(np.isfinite(x))
    for j, a in enumerate(alpha):
        _moment_check(x[:, j], float(a), float(a))


@pytest.mark.parametrize("alpha, b", [(0.3, 0.3), (1.0, 1.0), (2.5, 10.0), (10.0, 2.5)])
def test_beta_moments_and_support(alpha, b):
    x = gk.random.beta((N,), alpha, b, seed=7).numpy()
    assert x.dtype == np.float32
    assert np.all(np.isfinite(x)) and np.all(x >= 0) and np.all(x <= 1)
    mean = alpha / (alpha + b)
    var = alpha * b / ((alpha + b) ** 2 * (alpha + b + 1))
    _moment_check(x.astype(np.float64), mean, var)


@pytest.mark.parametrize("counts, p", [(1, 0.3), (10, 0.3), (25, 0.9), (7, 0.0), (7, 1.0)])
def test_binomial_moments_and_support(counts, p):
    x = gk.random.binomial((N,), counts, p, seed=9).numpy()
    assert x.dtype == np.float32
    assert np.all(x == np.floor(x)) and x.min() >= 0 and x.max() <= counts
    if p in (0.0, 1.0):
        assert np.all(x == counts * p)
    else:
        _moment_check(x.astype(np.float64), counts * p, counts * p * (1 - p))


def test_binomial_per_element_counts_and_probabilities():
    counts = np.array([0, 1, 5, 20], np.float32)
    probs = np.array([0.5, 0.2, 0.5, 0.1], np.float32)
    x = gk.random.binomial((20000, 4), counts, probs, dtype="int32", seed=4).numpy()
    assert x.dtype == np.int32
    assert np.all(x <= counts.astype(np.int32)) and np.all(x[:, 0] == 0)
    for j in range(1, 4):
        n, p = float(counts[j]), float(probs[j])
        _moment_check(x[:, j].astype(np.float64), n * p, n * p * (1 - p))


def test_binomial_counts_zero():
    out = gk.random.binomial((3,), 0, 0.5, seed=1).numpy()
    np.testing.assert_array_equal(out, np.zeros(3, np.float32))


@pytest.mark.parametrize("draw", [
    lambda s: gk.random.gamma((4, 5), 2.5, seed=s),
    lambda s: gk.random.beta((4, 5), 0.3, 2.0, seed=s),
    lambda s: gk.random.binomial((4, 5), 6, 0.4, seed=s),
])
def test_seeded_reproducibility(draw):
    np.testing.assert_array_equal(draw(3).numpy(), draw(3).numpy())
    assert not np.array_equal(draw(3).numpy(), draw(4).numpy())
    gen_a, gen_b = gk.random.SeedGenerator(8), gk.random.SeedGenerator(8)
    first = draw(gen_a).numpy()
    np.testing.assert_array_equal(first, draw(gen_b).numpy())
    assert not np.array_equal(first, draw(gen_a).numpy())  # the stream advanced


def test_float16_and_float64_dtypes():
    for dtype in ("float16", "float64"):
        x = gk.random.gamma((1000,), 2.0, dtype=dtype, seed=1).numpy()
        assert x.dtype == np.dtype(dtype) and np.all(x > 0) and np.all(np.isfinite(x))
        y = gk.random.beta((1000,), 2.0, 2.0, dtype=dtype, seed=1).numpy()
        assert y.dtype == np.dtype(dtype)


def test_gamma_takes_the_first_accepted_candidate():
    """The rounds' math redone in NumPy from the same Philox bits."""
    from graphkit.ops.random import philox_stream
    n, r, alpha = 2000, distributions.GAMMA_ROUNDS, 0.3
    unit = (philox_stream(np.array([13, 0], np.uint32), (3 * r + 1) * n)
            .astype(np.float64) * 2.0 ** -32).reshape(3 * r + 1, n)
    a = alpha + 1
    d = a - 1 / 3
    c = 1 / math.sqrt(9 * d)
    x = np.sqrt(-2 * np.log(1 - unit[:r])) * np.cos(2 * np.pi * unit[r:2 * r])
    v = (1 + c * x) ** 3
    with np.errstate(invalid="ignore"):
        accept = (v > 0) & (np.log(1 - unit[2 * r:3 * r])
                            < 0.5 * x * x + d - d * v + d * np.log(np.where(v > 0, v, 1)))
    assert accept.any(axis=0).all()
    g = (d * v)[accept.argmax(axis=0), np.arange(n)]
    expected = g * (1 - unit[3 * r]) ** (1 / alpha)
    out = gk.random.gamma((n,), alpha, dtype="float64", seed=13).numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-12)


def _compiled_equals_eager(draw):
    eager = draw().numpy()
    compiled = np.asarray(gk.jit(draw)())
    assert compiled.dtype == eager.dtype
    np.testing.assert_array_equal(compiled, eager)
    return eager


@pytest.mark.parametrize("draw", [
    lambda: gk.random.gamma((2000,), 0.3, seed=21),
    lambda: gk.random.gamma((500, 4), np.array([0.3, 1.0, 2.5, 10.0], np.float32), seed=22),
    lambda: gk.random.beta((2000,), 0.5, 2.5, seed=23),
    lambda: gk.random.binomial((2000,), 12, 0.35, seed=24),
    lambda: gk.random.binomial((500, 3), np.array([1, 4, 9]), np.array([0.9, 0.5, 0.1]),
                               dtype="int32", seed=25),
], ids=["gamma", "gamma_alpha_tensor", "beta", "binomial", "binomial_arrays"])
def test_compiled_equals_eager_bit_for_bit(draw):
    assert np.unique(_compiled_equals_eager(draw)).size > 2


def test_compiled_with_a_traced_alpha_and_a_seed_generator():
    gen = gk.random.SeedGenerator(4)
    alpha = np.array([0.3, 2.5, 10.0], np.float32)
    compiled = np.asarray(gk.jit(lambda a: gk.random.gamma((300, 3), a, seed=gen))(alpha))
    eager = gk.random.gamma((300, 3), alpha, seed=gk.random.SeedGenerator(4)).numpy()
    np.testing.assert_array_equal(compiled, eager)


def test_errors():
    with pytest.raises(ValueError, match="float dtype"):
        gk.random.gamma((3,), 1.0, dtype="int32")
    with pytest.raises(ValueError, match="broadcast"):
        gk.random.gamma((3,), np.ones(4, np.float32))
    with pytest.raises(ValueError, match="broadcast"):
        gk.random.beta((3,), 1.0, np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match="non-negative integers"):
        gk.random.binomial((3,), 2.5, 0.5)
    with pytest.raises(ValueError, match="non-negative integers"):
        gk.random.binomial((3,), -1, 0.5)
    with pytest.raises(ValueError, match="static"):
        gk.jit(lambda n: gk.random.binomial((3,), n, 0.5, seed=1))(np.full(3, 2, np.float32))
