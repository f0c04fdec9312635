"""Dropout and ActivityRegularization."""
import numpy as np
import pytest

from graphkit import layers
from tests.layers.layer_checks import assert_config_roundtrip

BASE_KEYS = {"name", "trainable", "dtype"}


def test_dropout_is_identity_at_inference():
    x = np.random.default_rng(0).normal(size=(4, 5)).astype("float32")
    layer = layers.Dropout(0.5)
    np.testing.assert_array_equal(np.asarray(layer(x)), x)
    np.testing.assert_array_equal(np.asarray(layer(x, training=False)), x)


def test_dropout_in_training_drops_and_rescales():
    x = np.ones((200, 50), "float32")
    layer = layers.Dropout(0.3, seed=7)
    y = np.asarray(layer(x, training=True))
    kept = y != 0
    np.testing.assert_allclose(y[kept], 1 / 0.7, rtol=1e-6)
    assert abs(kept.mean() - 0.7) < 0.02
    # The seed generator is layer state: it advances, so the next call drops other entries.
    y2 = np.asarray(layer(x, training=True))
    assert (y2 != y).any()


def test_dropout_seed_state_is_a_non_trainable_variable():
    layer = layers.Dropout(0.5, seed=1)
    assert layer.weights == []
    state = layer.non_trainable_variables
    assert len(state) == 1
    before = np.array(state[0].numpy())
    layer(np.ones((2, 2), "float32"), training=True)
    assert not np.array_equal(before, np.asarray(state[0].numpy()))


def test_dropout_same_seed_same_mask_and_noise_shape():
    x = np.ones((3, 4, 5), "float32")
    a = layers.Dropout(0.5, seed=3)(x, training=True)
    b = layers.Dropout(0.5, seed=3)(x, training=True)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    y = np.asarray(layers.Dropout(0.5, noise_shape=(None, 1, 5), seed=4)(x, training=True))
    assert (y == y[:, :1, :]).all()  # one mask shared along axis 1


def test_dropout_rate_zero_has_no_state_and_config():
    layer = layers.Dropout(0.0)
    assert layer.non_trainable_variables == []
    x = np.ones((2, 2), "float32")
    np.testing.assert_array_equal(np.asarray(layer(x, training=True)), x)
    config = assert_config_roundtrip(layers.Dropout(0.25, noise_shape=(None, 1), seed=5),
                                     BASE_KEYS | {"rate", "seed", "noise_shape"}).get_config()
    assert config["rate"] == 0.25 and config["seed"] == 5
    assert layers.Dropout(0.5).compute_output_shape((None, 3)) == (None, 3)


def test_dropout_bad_rate():
    with pytest.raises(ValueError, match=r"Dropout.*rate.*Received: rate=1.5"):
        layers.Dropout(1.5)


def test_activity_regularization_adds_loss():
    x = np.array([[1.0, -2.0], [0.5, 0.0]])
    layer = layers.ActivityRegularization(l1=0.1, l2=0.01, dtype="float64")
    y = layer(x)
    np.testing.assert_array_equal(np.asarray(y), x)
    assert len(layer.losses) == 1
    # Keras 3 divides activity regularization by the batch size (2 here).
    expected = (0.1 * np.abs(x).sum() + 0.01 * (x ** 2).sum()) / 2
    np.testing.assert_allclose(float(layer.losses[0]), expected, rtol=1e-12)
    config = assert_config_roundtrip(layer, BASE_KEYS | {"l1", "l2"}).get_config()
    assert config["l1"] == 0.1 and config["l2"] == 0.01
    assert layer.compute_output_shape((None, 2)) == (None, 2)


def test_regularization_layers_pass_masks():
    idx = np.array([[1, 0, 2]])
    emb = layers.Embedding(3, 2, mask_zero=True)(idx)
    for layer in (layers.Dropout(0.5), layers.ActivityRegularization(l1=0.1)):
        y = layer(emb)
        np.testing.assert_array_equal(np.asarray(y._keras_mask), idx != 0)


def test_dropout_stateless_call_returns_the_advanced_seed_state():
    layer = layers.Dropout(0.5, seed=2)
    state = layer.non_trainable_variables
    before = np.array(state[0].numpy())
    x = np.ones((3, 4), "float32")
    out1, new_state = layer.stateless_call([], state, x, training=True)
    np.testing.assert_array_equal(state[0].numpy(), before)  # the layer is untouched
    assert not np.array_equal(np.asarray(new_state[0]), before)
    out2, _ = layer.stateless_call([], state, x, training=True)
    np.testing.assert_array_equal(np.asarray(out1), np.asarray(out2))  # same state, same mask


# -- GaussianNoise, GaussianDropout, SpatialDropout ------------------------------------------

@pytest.mark.parametrize("cls, level, mean, std", [
    ("GaussianNoise", 0.3, 2.0, 0.3),                        # x + N(0, 0.3^2), x = 2
    ("GaussianDropout", 0.2, 2.0, 2.0 * np.sqrt(0.2 / 0.8)),  # x * N(1, 0.2 / 0.8)
])
def test_gaussian_noise_layers_draw_keras_noise_in_training_only(cls, level, mean, std):
    x = np.full((200, 500), 2.0, "float32")
    layer = getattr(layers, cls)(level, seed=7)
    np.testing.assert_array_equal(np.asarray(layer(x)), x)
    y = np.asarray(layer(x, training=True))
    # 1e5 draws: the sample mean and std are within 4 standard errors
    assert abs(y.mean() - mean) < 4 * std / np.sqrt(y.size)
    assert abs(y.std() / std - 1) < 4 / np.sqrt(2 * y.size)
    assert not np.array_equal(np.asarray(layer(x, training=True)), y)  # the state advances
    again = getattr(layers, cls)(level, seed=7)
    np.testing.assert_array_equal(np.asarray(again(x, training=True)), y)
    config = assert_config_roundtrip(layer).get_config()
    assert config["seed"] == 7
    with pytest.raises(ValueError, match=rf"{cls}: .*between 0 and 1. Received: .*=1.5"):
        getattr(layers, cls)(1.5)


@pytest.mark.parametrize("cls, shape, data_format, map_axes", [
    ("SpatialDropout1D", (40, 6, 30), None, (1,)),
    ("SpatialDropout2D", (40, 4, 5, 30), None, (1, 2)),
    ("SpatialDropout2D", (40, 30, 4, 5), "channels_first", (2, 3)),
    ("SpatialDropout3D", (40, 2, 3, 2, 30), None, (1, 2, 3)),
])
def test_spatial_dropout_drops_whole_feature_maps(cls, shape, data_format, map_axes):
    kwargs = {} if data_format is None else {"data_format": data_format}
    layer = getattr(layers, cls)(0.4, seed=3, **kwargs)
    x = np.ones(shape, "float32")
    y = np.asarray(layer(x, training=True))
    first = y[tuple(slice(0, 1) if a in map_axes else slice(None) for a in range(len(shape)))]
    np.testing.assert_array_equal(y, np.broadcast_to(first, shape))  # one draw per map
    assert set(np.unique(y)) == {0.0, np.float32(1 / 0.6)}
    kept = (first != 0).mean()  # 1200 draws, keep probability 0.6
    assert abs(kept - 0.6) < 4 * np.sqrt(0.24 / first.size)
    config = assert_config_roundtrip(layer).get_config()
    assert "noise_shape" not in config and "trainable" not in config
    assert ("data_format" in config) == (cls != "SpatialDropout1D")
    with pytest.raises(ValueError, match="expected ndim"):
        layer(np.ones((2, 3), "float32"), training=True)


def test_alpha_dropout_keeps_mean_and_variance_of_standardized_inputs():
    alpha_p = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946
    rate = 0.2
    a = ((1 - rate) * (1 + rate * alpha_p ** 2)) ** -0.5
    b = -a * alpha_p * rate
    x = np.random.default_rng(0).normal(size=(400, 500)).astype("float32")
    layer = layers.AlphaDropout(rate, seed=4)
    np.testing.assert_array_equal(np.asarray(layer(x)), x)
    y = np.asarray(layer(x, training=True)).astype(np.float64)
    # each entry is a x + b (kept) or a alpha_p + b (dropped), about `rate` of them dropped
    dropped = np.isclose(y, a * alpha_p + b, rtol=0, atol=1e-6)
    np.testing.assert_allclose(y[~dropped], a * x[~dropped] + b, rtol=1e-5, atol=1e-6)
    assert abs(dropped.mean() - rate) < 4 * np.sqrt(rate * (1 - rate) / y.size)
    assert abs(y.mean()) < 0.01 and abs(y.std() - 1) < 0.01
    row_noise = layers.AlphaDropout(rate, noise_shape=(None, 1), seed=5)
    z = np.asarray(row_noise(np.ones((50, 4), "float32"), training=True))
    assert (z == z[:, :1]).all()  # one draw per row
    assert assert_config_roundtrip(row_noise).noise_shape == (None, 1)
    with pytest.raises(ValueError, match=r"AlphaDropout: .*Received: rate=2"):
        layers.AlphaDropout(2)
