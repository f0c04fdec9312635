"""randint and categorical: the Philox stream they are computed from, their distributions,
seeding and errors."""
import numpy as np
import pytest

import graphkit as gk
from graphkit.ops.random import philox_stream

N = 60_000


def test_randint_is_lemires_product_of_the_philox_stream():
    bits = philox_stream(np.array([5, 0], np.uint32), 1000).astype(np.uint64)
    expected = ((bits * np.uint64(13)) >> np.uint64(32)).astype(np.int64) - 4
    out = gk.random.randint((1000,), -4, 9, seed=5).numpy()
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, expected)


def test_randint_is_uniform_over_the_half_open_range():
    x = gk.random.randint((N,), 10, 17, dtype="int64", seed=1).numpy()
    assert x.dtype == np.int64 and x.min() == 10 and x.max() == 16
    freq = np.bincount(x - 10) / N
    assert np.abs(freq - 1 / 7).max() < 0.01


def test_randint_wide_span_stays_below_maxval():
    x = gk.random.randint((N,), -2**31, 2**31 - 1, seed=2).numpy()
    assert x.min() >= -2**31 and x.max() < 2**31 - 1
    assert abs(x.astype(np.float64).mean()) < 2**31 * 0.02


def test_randint_rejects_float_dtype():
    with pytest.raises(ValueError, match="randint: `dtype` must be an integer"):
        gk.random.randint((3,), 0, 5, dtype="float32")


def test_categorical_frequencies_follow_softmax():
    probs = np.array([[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]])
    draws = gk.random.categorical(np.log(probs).astype(np.float32), N, seed=3).numpy()
    assert draws.shape == (2, N) and draws.dtype == np.int32
    for row, p in zip(draws, probs):
        assert np.abs(np.bincount(row, minlength=3) / N - p).max() < 0.01


def test_categorical_never_draws_a_class_of_zero_probability():
    logits = np.array([[0.0, -np.inf, 0.0]], np.float32)
    draws = gk.random.categorical(logits, 5000, seed=4).numpy()
    assert not (draws == 1).any()


def test_categorical_is_the_gumbel_max_of_the_philox_stream():
    logits = np.array([[0.3, -1.0, 2.0, 0.0]], np.float32)
    bits = philox_stream(np.array([6, 0], np.uint32), 4 * 50).reshape(1, 50, 4)
    unit = bits.astype(np.float64) * 2.0 ** -32
    expected = np.argmax(logits[:, None, :] - np.log(-np.log1p(-unit)), axis=-1)
    np.testing.assert_array_equal(gk.random.categorical(logits, 50, seed=6).numpy(),
                                  expected)


def test_int_seed_repeats_and_generator_advances():
    a = gk.random.randint((20,), 0, 100, seed=7).numpy()
    np.testing.assert_array_equal(a, gk.random.randint((20,), 0, 100, seed=7).numpy())
    gen = gk.random.SeedGenerator(7)
    assert not np.array_equal(gk.random.randint((20,), 0, 100, seed=gen).numpy(),
                              gk.random.randint((20,), 0, 100, seed=gen).numpy())


def test_categorical_rejects_non_matrix_logits():
    with pytest.raises(ValueError, match="categorical: `logits` must be 2-D"):
        gk.random.categorical(np.zeros(3, np.float32), 2)
