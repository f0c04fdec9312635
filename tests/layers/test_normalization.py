"""BatchNormalization and LayerNormalization against NumPy float64 references."""
import numpy as np
import pytest

from graphkit import layers
from tests.layers.layer_checks import assert_config_roundtrip, check_weight_grads

BASE_KEYS = {"name", "trainable", "dtype"}


def _x(shape=(6, 4), seed=0):
    return np.random.default_rng(seed).normal(loc=2.0, scale=3.0, size=shape)


def test_batch_norm_weights_follow_keras():
    layer = layers.BatchNormalization()
    layer.build((None, 3))
    assert [w.name for w in layer.weights] == ["gamma", "beta", "moving_mean",
                                               "moving_variance"]
    assert [w.name for w in layer.trainable_weights] == ["gamma", "beta"]
    assert [w.name for w in layer.non_trainable_weights] == ["moving_mean", "moving_variance"]
    gamma, beta, mean, var = layer.get_weights()
    for w, value in ((gamma, 1), (beta, 0), (mean, 0), (var, 1)):
        assert w.shape == (3,)
        np.testing.assert_array_equal(w, value)
    assert layer.momentum == 0.99 and layer.epsilon == 1e-3
    no_scale = layers.BatchNormalization(scale=False, center=False)
    no_scale.build((None, 3))
    assert [w.name for w in no_scale.weights] == ["moving_mean", "moving_variance"]


def test_batch_norm_training_uses_batch_stats_and_updates_moving_stats():
    x = _x()
    layer = layers.BatchNormalization(momentum=0.9, dtype="float64")
    layer.build(x.shape)
    gamma, beta = np.array([1.0, 2.0, 0.5, -1.0]), np.array([0.1, 0.0, -0.3, 1.0])
    layer.set_weights([gamma, beta, np.zeros(4), np.ones(4)])
    y = layer(x, training=True)
    mean, var = x.mean(axis=0), x.var(axis=0)  # biased variance, as Keras
    np.testing.assert_allclose(np.asarray(y), gamma * (x - mean) / np.sqrt(var + 1e-3) + beta,
                               rtol=1e-10)
    np.testing.assert_allclose(layer.moving_mean.numpy(), 0.1 * mean, rtol=1e-12)
    np.testing.assert_allclose(layer.moving_variance.numpy(), 0.9 + 0.1 * var, rtol=1e-12)
    y2 = layer(x, training=True)
    np.testing.assert_allclose(np.asarray(y2), np.asarray(y), rtol=1e-12)
    np.testing.assert_allclose(layer.moving_mean.numpy(), 0.9 * 0.1 * mean + 0.1 * mean,
                               rtol=1e-12)


def test_batch_norm_inference_uses_moving_stats_and_does_not_update():
    x = _x()
    layer = layers.BatchNormalization(dtype="float64")
    layer.build(x.shape)
    mm, mv = np.array([1.0, -1.0, 0.5, 0.0]), np.array([4.0, 1.0, 0.25, 2.0])
    layer.set_weights([np.ones(4), np.zeros(4), mm, mv])
    for y in (layer(x), layer(x, training=False)):
        np.testing.assert_allclose(np.asarray(y), (x - mm) / np.sqrt(mv + 1e-3), rtol=1e-12)
    np.testing.assert_array_equal(layer.moving_mean.numpy(), mm)
    layer.trainable = False  # a frozen BatchNormalization runs in inference mode
    np.testing.assert_allclose(np.asarray(layer(x, training=True)),
                               (x - mm) / np.sqrt(mv + 1e-3), rtol=1e-12)
    np.testing.assert_array_equal(layer.moving_mean.numpy(), mm)


def test_batch_norm_integer_inputs_use_float_statistics():
    # Integer inputs are not autocast; Keras computes in result_type(x, float32), so the
    # moving statistics must not be truncated to the inputs' int dtype.
    x = np.array([[0, 1, 2], [3, 4, 7], [1, 1, 5], [2, 6, 0]], "int32")
    layer = layers.BatchNormalization(momentum=0.5)
    layer.build(x.shape)
    mm, mv = np.array([0.5, 1.5, 2.25]), np.array([0.75, 2.5, 4.5])
    layer.set_weights([np.full(3, 1.5), np.full(3, 0.25), mm, mv])
    out = layer(x)
    assert out.dtype == "float32"
    np.testing.assert_allclose(np.asarray(out), (x - mm) / np.sqrt(mv + 1e-3) * 1.5 + 0.25,
                               rtol=1e-5)
    layer(x, training=True)
    np.testing.assert_allclose(layer.moving_mean.numpy(), 0.5 * mm + 0.5 * x.mean(0),
                               rtol=1e-6)
    np.testing.assert_allclose(layer.moving_variance.numpy(), 0.5 * mv + 0.5 * x.var(0),
                               rtol=1e-6)
    assert layers.BatchNormalization(dtype="float16")(x).dtype == "float16"


def test_batch_norm_axis_and_rank_4():
    x = _x((3, 2, 5, 4))
    layer = layers.BatchNormalization(axis=1, dtype="float64")
    y = layer(x, training=True)
    assert layer.get_weights()[0].shape == (2,)
    mean = x.mean(axis=(0, 2, 3), keepdims=True)
    var = x.var(axis=(0, 2, 3), keepdims=True)
    np.testing.assert_allclose(np.asarray(y), (x - mean) / np.sqrt(var + 1e-3), rtol=1e-10)


def test_batch_norm_masked_statistics():
    x = _x((2, 5, 3))
    mask = np.array([[True, True, False, True, False], [True, False, True, True, True]])
    layer = layers.BatchNormalization(momentum=0.0, dtype="float64")
    layer(x, training=True, mask=mask)
    kept = x[mask]
    np.testing.assert_allclose(layer.moving_mean.numpy(), kept.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(layer.moving_variance.numpy(), kept.var(axis=0), rtol=1e-6)


def test_batch_norm_gradients_in_training():
    x = _x((5, 3))
    layer = layers.BatchNormalization(dtype="float64", gamma_initializer="random_normal",
                                      beta_initializer="random_normal")
    layer.build(x.shape)
    check_weight_grads(layer, x, np.random.default_rng(9).normal(size=(5, 3)), training=True)


def test_batch_norm_config_and_errors():
    layer = layers.BatchNormalization(axis=1, momentum=0.9, epsilon=1e-5, center=False,
                                      gamma_regularizer="l2")
    assert_config_roundtrip(layer, BASE_KEYS | {
        "axis", "momentum", "epsilon", "center", "scale", "beta_initializer",
        "gamma_initializer", "moving_mean_initializer", "moving_variance_initializer",
        "beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint",
        "synchronized", "renorm", "renorm_clipping", "renorm_momentum"})
    built = layers.BatchNormalization()
    built(np.ones((2, 3), "float32"))
    with pytest.raises(ValueError, match="batch_normalization"):
        built(np.ones((2, 4), "float32"))
    with pytest.raises(ValueError, match="batch_normalization"):
        built(np.ones((2, 3, 3), "float32"))
    assert built.compute_output_shape((None, 3)) == (None, 3)


def test_layer_norm_forward():
    x = _x((3, 4, 5))
    layer = layers.LayerNormalization(dtype="float64", gamma_initializer="random_normal",
                                      beta_initializer="random_normal")
    y = layer(x)
    gamma, beta = layer.get_weights()
    assert [w.name for w in layer.weights] == ["gamma", "beta"] and gamma.shape == (5,)
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    np.testing.assert_allclose(np.asarray(y), (x - mean) / np.sqrt(var + 1e-3) * gamma + beta,
                               rtol=1e-10, atol=1e-12)


def test_layer_norm_multiple_axes_and_rms():
    x = _x((2, 3, 4))
    layer = layers.LayerNormalization(axis=[1, 2], dtype="float64")
    y = layer(x)
    assert layer.get_weights()[0].shape == (3, 4)
    mean, var = x.mean((1, 2), keepdims=True), x.var((1, 2), keepdims=True)
    np.testing.assert_allclose(np.asarray(y), (x - mean) / np.sqrt(var + 1e-3), rtol=1e-10)
    rms = layers.LayerNormalization(rms_scaling=True, dtype="float64")
    y = rms(x)
    assert [w.name for w in rms.weights] == ["gamma"]
    np.testing.assert_allclose(np.asarray(y), x / np.sqrt(x.var(-1, keepdims=True) + 1e-3),
                               rtol=1e-10)


def test_layer_norm_gradients_and_config():
    x = _x((3, 4))
    layer = layers.LayerNormalization(dtype="float64", gamma_initializer="random_normal")
    layer.build(x.shape)
    check_weight_grads(layer, x, np.random.default_rng(3).normal(size=(3, 4)))
    config = assert_config_roundtrip(layers.LayerNormalization(axis=(1, 2), epsilon=1e-5),
                                     BASE_KEYS | {
        "axis", "epsilon", "center", "scale", "rms_scaling", "beta_initializer",
        "gamma_initializer", "beta_regularizer", "gamma_regularizer", "beta_constraint",
        "gamma_constraint"}).get_config()
    assert config["axis"] == [1, 2] and config["epsilon"] == 1e-5
    with pytest.raises(ValueError, match="out of bounds"):
        layers.LayerNormalization(axis=3).build((2, 3))


def test_normalization_layers_pass_masks():
    idx = np.array([[1, 0, 2]])
    emb = layers.Embedding(3, 2, mask_zero=True)(idx)
    for layer in (layers.BatchNormalization(), layers.LayerNormalization()):
        np.testing.assert_array_equal(np.asarray(layer(emb)._keras_mask), idx != 0)


def test_batch_norm_stateless_call_returns_new_moving_stats_without_side_effects():
    x = _x((8, 3)).astype("float32")
    layer = layers.BatchNormalization(momentum=0.5)
    layer.build(x.shape)
    _, new_state = layer.stateless_call(layer.trainable_variables,
                                        layer.non_trainable_variables, x, training=True)
    np.testing.assert_allclose(np.asarray(new_state[0]), 0.5 * x.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(new_state[1]), 0.5 + 0.5 * x.var(axis=0), rtol=1e-5)
    np.testing.assert_array_equal(layer.moving_mean.numpy(), np.zeros(3))


def test_normalization_with_mixed_precision_keeps_float32_weights():
    x = _x((4, 3)).astype("float32")
    bn = layers.BatchNormalization(dtype="mixed_float16")
    y = bn(x, training=True)
    assert y.dtype == "float16"
    assert {w.dtype for w in bn.weights} == {"float32"}
    mean, var = x.mean(0), x.var(0)
    np.testing.assert_allclose(np.asarray(y, "float32"), (x - mean) / np.sqrt(var + 1e-3),
                               atol=5e-3)
    ln = layers.LayerNormalization(dtype="mixed_float16")
    y = ln(x)
    assert y.dtype == "float16" and ln.gamma.dtype == "float32"
    np.testing.assert_allclose(
        np.asarray(y, "float32"),
        (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-3), atol=5e-3)


def test_layer_norm_with_float16_policy_computes_in_float32():
    # Keras computes in result_type(x, float32): in float16 `x * inv + shift` cancels for
    # inputs with a large mean, and the rms_scaling variance overflows (|x| ~ 400).
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(2, 8)) * 100 + 2000).astype("float16")
    xf = x.astype(np.float64)
    out = layers.LayerNormalization(dtype="float16")(x)
    assert out.dtype == "float16"
    np.testing.assert_allclose(
        np.asarray(out, np.float64),
        (xf - xf.mean(-1, keepdims=True)) / np.sqrt(xf.var(-1, keepdims=True) + 1e-3),
        atol=2e-3)
    big = (rng.normal(size=(2, 8)) * 400).astype("float16")
    bf = big.astype(np.float64)
    rms = layers.LayerNormalization(dtype="float16", rms_scaling=True)(big)
    np.testing.assert_allclose(np.asarray(rms, np.float64),
                               bf / np.sqrt(bf.var(-1, keepdims=True) + 1e-3),
                               rtol=2e-3, atol=2e-3)
