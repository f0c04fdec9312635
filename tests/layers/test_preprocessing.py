"""Normalization (given statistics and adapt) and Rescaling against NumPy float64."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import layers
from tests.layers.layer_checks import assert_config_roundtrip

EPS = 1e-7  # gk.config.epsilon(), Keras's floor on the standard deviation


def _data(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(60, 4, 3)) * [1.0, 2.0, 3.0] + [5.0, -1.0, 0.0]


@pytest.mark.parametrize("axis, reduce", [(-1, (0, 1)), ((1, 2), (0,)), (None, (0, 1, 2))])
def test_normalization_adapts_to_an_array_and_to_batches(axis, reduce):
    x = _data()
    mean, std = x.mean(axis=reduce, keepdims=True), x.std(axis=reduce, keepdims=True)
    expected = (x - mean) / np.maximum(std, EPS)
    layer = layers.Normalization(axis=axis, dtype="float64")
    layer.adapt(x)
    np.testing.assert_allclose(np.asarray(layer(x)), expected, rtol=1e-10, atol=1e-12)
    batched = layers.Normalization(axis=axis, dtype="float64")
    batched.adapt([x[:25], x[25:33], x[33:]])  # merged batch statistics: the same numbers
    np.testing.assert_allclose(np.asarray(batched(x)), expected, rtol=1e-10, atol=1e-12)
    names = [w.path.rsplit("/", 1)[-1] for w in layer.weights]
    assert names == ["mean", "variance", "count"] and not layer.trainable_weights


def test_normalization_with_given_statistics_and_invert():
    x = _data()
    mean, variance = np.array([1.0, 2.0, 3.0]), np.array([1.0, 4.0, 0.0])
    layer = layers.Normalization(mean=mean, variance=variance, dtype="float64")
    expected = (x - mean) / np.maximum(np.sqrt(variance), EPS)
    np.testing.assert_allclose(np.asarray(layer(x)), expected, rtol=1e-12)
    assert not layer.weights
    inverse = layers.Normalization(mean=mean, variance=variance, invert=True, dtype="float64")
    np.testing.assert_allclose(np.asarray(inverse(x)),
                               mean + x * np.maximum(np.sqrt(variance), EPS),
                               rtol=1e-12)
    config = assert_config_roundtrip(inverse).get_config()
    assert config["mean"] == [1.0, 2.0, 3.0] and config["invert"] is True
    with pytest.raises(ValueError, match="both `mean` and `variance` must be set"):
        layers.Normalization(mean=mean)
    with pytest.raises(ValueError, match="nothing to adapt"):
        layer.adapt(x)


def test_normalization_adapt_checks_shapes():
    layer = layers.Normalization()
    layer.adapt(np.ones((5, 3)))
    with pytest.raises(ValueError, match=r"built with input_shape=\(5, 3\).*\(5, 4\)"):
        layer.adapt(np.ones((5, 4)))
    with pytest.raises(ValueError, match="kept axes must have known sizes"):
        layers.Normalization()(gk.Input((None,)))
    with pytest.raises(ValueError, match="no batches"):
        layers.Normalization().adapt([])


def test_normalization_given_statistics_of_the_wrong_size_name_the_layer():
    layer = layers.Normalization(mean=[1.0, 2.0], variance=[1.0, 1.0], name="norm")
    with pytest.raises(ValueError, match=r"Normalization 'norm'.*`mean`.*\(3,\).*\(2,\)"):
        layer(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"Normalization '.*'.*`mean`.*\(4,\).*\(3,\)"):
        layers.Normalization(mean=[0.0, 0.0, 0.0], variance=[1.0, 2.0, 3.0])(gk.Input((4,)))
    # Sizes that broadcast are accepted: y = (x - mean) / sqrt(variance).
    y = layers.Normalization(mean=[[1.0], [2.0]], variance=[[4.0], [4.0]], axis=(1, 2))(np.ones((1, 2, 3)))
    np.testing.assert_allclose(np.asarray(y), np.broadcast_to([[[0.0], [-0.5]]], (1, 2, 3)))


def test_adapted_normalization_saves_loads_and_compiles(tmp_path):
    x = _data().astype("float32")
    norm = layers.Normalization(axis=-1)
    norm.adapt(x)
    inputs = gk.Input((4, 3))
    model = gk.Model(inputs, layers.Dense(2)(norm(inputs)))
    expected = model.predict(x, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = gk.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-6)
    # The compiled step reads the statistics' variables: adapting again is seen.
    model.compile(loss="mse", jit_compile=True)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    norm.adapt(x * 2.0)
    model_eager_after = gk.Model(inputs, model.outputs)  # same layers, eager
    np.testing.assert_allclose(model.predict(x, verbose=0),
                               model_eager_after(x).numpy(), rtol=1e-5, atol=1e-6)


def test_rescaling():
    x = np.random.default_rng(1).integers(0, 256, (2, 3, 3)).astype("uint8")
    layer = layers.Rescaling(1 / 255.0, offset=-0.5)
    y = np.asarray(layer(x))
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, x / 255.0 - 0.5, rtol=1e-6, atol=6e-8)  # float32
    per_channel = layers.Rescaling([1.0, 2.0, 3.0], dtype="float64")
    np.testing.assert_array_equal(np.asarray(per_channel(x)), x * [1.0, 2.0, 3.0])
    assert assert_config_roundtrip(per_channel).get_config()["scale"] == [1.0, 2.0, 3.0]
