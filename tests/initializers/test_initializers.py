"""Initializers: Keras 3's defaults, fan computation and variance formulas, determinism,
and lookup by name."""
import math

import numpy as np
import pytest

import graphkit as gk
from graphkit import initializers
from graphkit.initializers import compute_fans

TRUNC_STD = 0.87962566103423978  # stddev of a unit normal truncated to [-2, 2]


@pytest.mark.parametrize("shape,fans", [
    ((), (1, 1)), ((7,), (7, 7)), ((20, 30), (20, 30)),
    ((3, 16, 32), (48, 96)),          # Conv1D kernel (k, in, out)
    ((3, 3, 16, 32), (144, 288)),     # Conv2D kernel (kh, kw, in, out)
])
def test_compute_fans_as_keras(shape, fans):
    assert compute_fans(shape) == fans


# (initializer, shape, expected variance, expected bound or None)
def _variance_cases():
    fi, fo = 300, 200
    return [
        (initializers.GlorotUniform(seed=1), (fi, fo), 2 / (fi + fo), math.sqrt(6 / (fi + fo))),
        (initializers.GlorotNormal(seed=1), (fi, fo), 2 / (fi + fo),
         2 * math.sqrt(2 / (fi + fo)) / TRUNC_STD),
        (initializers.HeUniform(seed=1), (fi, fo), 2 / fi, math.sqrt(6 / fi)),
        (initializers.HeNormal(seed=1), (fi, fo), 2 / fi, 2 * math.sqrt(2 / fi) / TRUNC_STD),
        (initializers.LecunUniform(seed=1), (fi, fo), 1 / fi, math.sqrt(3 / fi)),
        (initializers.LecunNormal(seed=1), (fi, fo), 1 / fi, 2 * math.sqrt(1 / fi) / TRUNC_STD),
        (initializers.VarianceScaling(3.0, "fan_out", "untruncated_normal", seed=1), (fi, fo),
         3 / fo, None),
        (initializers.HeNormal(seed=1), (3, 3, 20, 40), 2 / 180,
         2 * math.sqrt(2 / 180) / TRUNC_STD),
        (initializers.RandomNormal(seed=1), (fi, fo), 0.05 ** 2, None),
        (initializers.RandomUniform(seed=1), (fi, fo), 0.1 ** 2 / 12, 0.05),
        (initializers.TruncatedNormal(seed=1), (fi, fo), (0.05 * TRUNC_STD) ** 2, 0.1),
    ]


@pytest.mark.parametrize("init,shape,variance,bound", _variance_cases(),
                         ids=lambda v: type(v).__name__ if hasattr(v, "get_config") else None)
def test_variance_and_bounds_match_keras(init, shape, variance, bound):
    w = init(shape, dtype="float32")
    assert isinstance(w, gk.Tensor) and w.shape == shape and w.dtype == "float32"
    w = w.numpy().astype(np.float64)
    assert abs(w.mean()) < 5 * math.sqrt(variance / w.size)
    assert abs(w.var() / variance - 1) < 0.03
    if bound is not None:
        assert np.abs(w).max() <= bound * (1 + 1e-6)


def test_seeded_initializers_are_deterministic():
    a = initializers.GlorotUniform(seed=3)((4, 5)).numpy()
    np.testing.assert_array_equal(a, initializers.GlorotUniform(seed=3)((4, 5)).numpy())


@pytest.mark.parametrize("cls", [initializers.GlorotUniform, initializers.RandomNormal,
                                 initializers.TruncatedNormal, initializers.Orthogonal])
def test_unseeded_initializers_follow_keras(cls):
    # Keras 3: an unseeded instance draws a default seed when it is made, so each of its
    # calls gives the same values; another instance gives others; the config keeps None.
    init = cls()
    a = init((4, 5)).numpy()
    np.testing.assert_array_equal(a, init((4, 5)).numpy())
    assert not np.array_equal(a, cls()((4, 5)).numpy())
    assert init.get_config()["seed"] is None
    gk.utils.set_random_seed(11)
    b = cls()((4, 5)).numpy()
    gk.utils.set_random_seed(11)
    np.testing.assert_array_equal(b, cls()((4, 5)).numpy())


def test_seed_generator_seed_advances():
    init = initializers.RandomNormal(seed=gk.random.SeedGenerator(2))
    assert not np.array_equal(init((6,)).numpy(), init((6,)).numpy())


def test_default_dtype_is_floatx_and_random_rejects_ints():
    assert initializers.HeNormal(seed=1)((2, 2)).dtype == "float32"
    assert initializers.HeNormal(seed=1)((2, 2), dtype="float64").dtype == "float64"
    with pytest.raises(ValueError, match="HeNormal.*float dtypes.*int32"):
        initializers.HeNormal(seed=1)((2, 2), dtype="int32")


@pytest.mark.parametrize("shape", [(4, 6), (6, 4), (5, 5), (3, 3, 4, 8), (2, 3, 5)])
def test_orthogonal_rows_or_columns_are_orthonormal(shape):
    w = initializers.Orthogonal(gain=1.5, seed=4)(shape).numpy().astype(np.float64)
    assert w.shape == shape
    flat = w.reshape(-1, shape[-1]) / 1.5
    small = flat.T @ flat if flat.shape[0] >= flat.shape[1] else flat @ flat.T
    np.testing.assert_allclose(small, np.eye(small.shape[0]), atol=1e-5)


def test_orthogonal_needs_2d():
    with pytest.raises(ValueError, match="Orthogonal.*2D.*\\(3,\\)"):
        initializers.Orthogonal()((3,))


def test_fan_axes_and_keras_3_15_configs():
    # Keras 3.15 configs carry `input_axes` and `output_axes`; with both, the fans are the
    # products of those dims (an einsum kernel (in, heads, key_dim): fan_in 64, fan_out 32).
    shape = (64, 4, 8)
    assert compute_fans(shape, input_axes=[0], output_axes=[1, 2]) == (64, 32)
    init = initializers.deserialize({
        "module": "keras.initializers", "class_name": "HeUniform", "registered_name": None,
        "config": {"seed": 5, "input_axes": [0], "output_axes": [1, 2]}})
    assert init.get_config() == {"seed": 5, "input_axes": [0], "output_axes": [1, 2]}
    w = init(shape).numpy().astype(np.float64)
    limit = math.sqrt(6 / 64)
    assert np.abs(w).max() <= limit * (1 + 1e-6) and np.abs(w).max() > 0.95 * limit
    vs = initializers.VarianceScaling(1.0, "fan_out", "uniform", seed=1, input_axes=[0],
                                      output_axes=[1, 2])
    assert abs(vs(shape).numpy().astype(np.float64).var() / (1 / 32) - 1) < 0.1


def test_identity_constant_zeros_ones():
    np.testing.assert_array_equal(initializers.Identity(gain=2.0)((2, 3)).numpy(),
                                  2 * np.eye(2, 3))
    with pytest.raises(ValueError, match="Identity.*2D.*rank 3"):
        initializers.Identity()((2, 2, 2))
    np.testing.assert_array_equal(initializers.Constant(3.5)((2, 2)).numpy(),
                                  np.full((2, 2), 3.5, np.float32))
    np.testing.assert_array_equal(initializers.Constant([1.0, 2.0])((3, 2)).numpy(),
                                  np.tile([1.0, 2.0], (3, 1)))
    z = initializers.Zeros()((2,), dtype="int32")
    assert z.dtype == "int32" and z.numpy().tolist() == [0, 0]
    o = initializers.Ones()((2,), dtype="bool")
    assert o.dtype == "bool" and o.numpy().all()


def test_keras_configs():
    assert initializers.RandomNormal().get_config() == {"mean": 0.0, "stddev": 0.05,
                                                        "seed": None}
    assert initializers.RandomUniform(seed=2).get_config() == {"minval": -0.05,
                                                               "maxval": 0.05, "seed": 2}
    assert initializers.TruncatedNormal().get_config() == {"mean": 0.0, "stddev": 0.05,
                                                           "seed": None}
    assert initializers.VarianceScaling().get_config() == {
        "scale": 1.0, "mode": "fan_in", "distribution": "truncated_normal", "seed": None,
        "input_axes": None, "output_axes": None}
    assert initializers.GlorotUniform(seed=7).get_config() == {
        "seed": 7, "input_axes": None, "output_axes": None}
    assert initializers.Orthogonal().get_config() == {"gain": 1.0, "seed": None}
    assert initializers.Constant().get_config() == {"value": 0.0}
    assert initializers.Zeros().get_config() == {}


@pytest.mark.parametrize("name,cls", [
    ("zeros", initializers.Zeros), ("ones", initializers.Ones),
    ("constant", initializers.Constant), ("random_normal", initializers.RandomNormal),
    ("random_uniform", initializers.RandomUniform),
    ("truncated_normal", initializers.TruncatedNormal),
    ("glorot_uniform", initializers.GlorotUniform), ("glorot_normal", initializers.GlorotNormal),
    ("he_uniform", initializers.HeUniform), ("he_normal", initializers.HeNormal),
    ("lecun_normal", initializers.LecunNormal), ("lecun_uniform", initializers.LecunUniform),
    ("orthogonal", initializers.Orthogonal), ("identity", initializers.Identity),
    ("variance_scaling", initializers.VarianceScaling), ("GlorotUniform",
                                                         initializers.GlorotUniform),
])
def test_get_by_name(name, cls):
    assert type(initializers.get(name)) is cls


def test_get_other_identifiers_and_round_trip():
    inst = initializers.HeNormal(seed=3)
    assert initializers.get(inst) is inst
    assert type(initializers.get(initializers.Ones)) is initializers.Ones
    fn = lambda shape, dtype=None: gk.ops.zeros(shape, dtype)  # noqa: E731
    assert initializers.get(fn) is fn
    assert initializers.get(None) is None
    config = initializers.serialize(initializers.VarianceScaling(2.0, "fan_avg", "uniform", 9))
    assert config["class_name"] == "VarianceScaling" and config["module"] == "graphkit.initializers"
    clone = initializers.get(config)
    assert clone.get_config() == {"scale": 2.0, "mode": "fan_avg", "distribution": "uniform",
                                  "seed": 9, "input_axes": None, "output_axes": None}
    np.testing.assert_array_equal(clone((3, 4)).numpy(),
                                  initializers.deserialize(config)((3, 4)).numpy())


def test_unknown_names_suggest_a_close_match():
    with pytest.raises(ValueError, match="Unknown initializer: 'glorot_unifrom'.*"
                                         "Did you mean 'glorot_uniform'"):
        initializers.get("glorot_unifrom")
    with pytest.raises(ValueError, match="Could not interpret initializer identifier: 3"):
        initializers.get(3)


def test_variance_scaling_argument_errors():
    with pytest.raises(ValueError, match="scale.*positive.*-1"):
        initializers.VarianceScaling(scale=-1)
    with pytest.raises(ValueError, match="mode.*'fan_sum'"):
        initializers.VarianceScaling(mode="fan_sum")
    with pytest.raises(ValueError, match="distribution.*'cauchy'"):
        initializers.VarianceScaling(distribution="cauchy")
    with pytest.raises(ValueError, match="RandomNormal.*seed.*'x'"):
        initializers.RandomNormal(seed="x")


def test_variable_from_initializer():
    v = gk.Variable(initializers.get("glorot_uniform"), shape=(3, 4), dtype="float32")
    assert v.shape == (3, 4) and np.abs(v.numpy()).max() <= math.sqrt(6 / 7)


def test_keras_class_names_are_the_same_classes():
    # Aliases, not subclasses: one class, so configs keep one class_name.
    assert initializers.IdentityInitializer is initializers.Identity
    assert initializers.OrthogonalInitializer is initializers.Orthogonal
    init = initializers.OrthogonalInitializer(gain=0.5, seed=3)
    config = initializers.serialize(init)
    assert config["class_name"] == "Orthogonal"
    np.testing.assert_array_equal(initializers.deserialize(config)((3, 3)).numpy(),
                                  init((3, 3)).numpy())
    assert type(initializers.get("IdentityInitializer")) is initializers.Identity
    np.testing.assert_array_equal(initializers.IdentityInitializer(gain=3.0)((2, 2)).numpy(),
                                  3.0 * np.eye(2))
