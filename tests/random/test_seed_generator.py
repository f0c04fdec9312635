"""SeedGenerator: its state variable, how it advances, and every accepted kind of `seed`."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import naming
from graphkit.core.scopes import StatelessScope
from graphkit.random import SeedGenerator, draw_key


def test_state_is_a_non_trainable_uint32_variable():
    gen = SeedGenerator(42)
    assert isinstance(gen.state, gk.Variable)
    assert gen.state.dtype == "uint32" and gen.state.shape == (2,)
    assert not gen.state.trainable
    assert gen.state.numpy().tolist() == [42, 0]
    assert gen.name == "seed_generator"
    assert gen.state.path == "seed_generator/seed_generator_state"


def test_state_path_follows_the_owner_scope():
    with naming.name_scope("dropout"):
        gen = SeedGenerator(1)
    assert gen.state.path == "dropout/seed_generator/seed_generator_state"


def test_next_returns_the_key_and_advances_the_counter():
    gen = SeedGenerator(7)
    keys = [gen.next().numpy().tolist() for _ in range(3)]
    assert keys == [[7, 0], [7, 1], [7, 2]]
    assert gen.state.numpy().tolist() == [7, 3]


def test_next_goes_through_variable_assign():
    """Inside a state scope (what a trace or a stateless call uses) the assign is
    intercepted: the scope sees the new state and the variable is left alone."""
    gen = SeedGenerator(3)
    with StatelessScope() as scope:
        key = gen.next()
        assert scope.get_current_value(gen.state).numpy().tolist() == [3, 1]
    assert key.numpy().tolist() == [3, 0]
    assert gen.state.numpy().tolist() == [3, 0]


def test_generators_draw_different_streams():
    gen = SeedGenerator(11)
    a = gk.random.uniform((8,), seed=gen).numpy()
    b = gk.random.uniform((8,), seed=gen).numpy()
    assert not np.array_equal(a, b)
    # and a generator with the same seed replays the stream
    gen2 = SeedGenerator(11)
    np.testing.assert_array_equal(gk.random.uniform((8,), seed=gen2).numpy(), a)


def test_unseeded_generators_differ():
    a, b = SeedGenerator(), SeedGenerator()
    assert a.state.numpy()[0] != b.state.numpy()[0]
    assert b.name == "seed_generator_1"


def test_config_round_trip():
    gen = SeedGenerator(5, name="gen")
    clone = SeedGenerator.from_config(gen.get_config())
    assert clone.state.numpy().tolist() == [5, 0] and clone.name == "gen"


def test_bad_seeds_are_named():
    with pytest.raises(ValueError, match="SeedGenerator.*seed.*integer.*'a'"):
        SeedGenerator("a")
    with pytest.raises(ValueError, match="unrecognized keyword.*foo"):
        SeedGenerator(1, foo=2)
    with pytest.raises(ValueError, match="gk.random.normal.*seed.*float"):
        gk.random.normal((2,), seed=1.5)
    with pytest.raises(ValueError, match="uint32 key of shape \\(2,\\)"):
        draw_key(gk.ops.convert_to_tensor(np.array([1, 2, 3], np.uint32)))


def test_int_and_key_tensor_seeds():
    assert draw_key(5).numpy().tolist() == [5, 0]
    assert draw_key(-1).numpy().tolist() == [2**32 - 1, 0]
    key = gk.ops.convert_to_tensor(np.array([9, 4], np.uint32))
    assert draw_key(key) is key


def test_none_seed_uses_and_advances_the_global_generator():
    gen = gk.random.global_seed_generator()
    before = gen.state.numpy().copy()
    gk.random.uniform((3,))
    after = gen.state.numpy()
    assert after[0] == before[0] and after[1] == before[1] + 1
    assert gen.state.path == "global_seed_generator/seed_generator_state"
