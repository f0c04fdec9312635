import random

import numpy as np
import pytest

import graphkit as gk


def _draws():
    return (random.random(), np.random.rand(), gk.random.normal((4,)).numpy(),
            gk.random.SeedGenerator().state.numpy()[0],
            gk.initializers.GlorotUniform()((3, 3)).numpy())


def test_set_random_seed_makes_every_source_reproducible():
    gk.utils.set_random_seed(123)
    first = _draws()
    gk.utils.set_random_seed(123)
    second = _draws()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    gk.utils.set_random_seed(124)
    third = _draws()
    assert not np.array_equal(first[2], third[2])


def test_set_random_seed_restarts_the_global_stream_in_place():
    gen = gk.random.global_seed_generator()
    gk.utils.set_random_seed(5)
    assert gk.random.global_seed_generator() is gen
    assert gen.state.numpy().tolist() == [5, 0]
    np.testing.assert_array_equal(gk.random.uniform((3,)).numpy(),
                                  gk.random.uniform((3,), seed=5).numpy())


def test_set_random_seed_rejects_non_integers():
    with pytest.raises(ValueError, match="set_random_seed.*integer.*'7'"):
        gk.utils.set_random_seed("7")
