"""Core layers: Dense, EinsumDense, Activation, Embedding, Lambda, Masking."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import layers, ops
from tests.layers.layer_checks import assert_config_roundtrip, check_weight_grads

BASE_KEYS = {"name", "trainable", "dtype"}


def _rng(seed=0):
    return np.random.default_rng(seed)


# -- Dense --------------------------------------------------------------------------------

def test_dense_forward_matches_numpy_float64():
    x = _rng().normal(size=(5, 4))
    layer = layers.Dense(3, activation="tanh", dtype="float64")
    y = layer(x)
    kernel, bias = layer.get_weights()
    assert [w.path for w in layer.weights] == ["dense/kernel", "dense/bias"]
    assert kernel.shape == (4, 3) and bias.shape == (3,)
    np.testing.assert_array_equal(bias, 0)  # "zeros" bias initializer
    layer.set_weights([kernel, _rng(1).normal(size=3)])
    y = layer(x)
    expected = np.tanh(x @ kernel + layer.get_weights()[1])
    assert y.dtype == "float64" and y.shape == (5, 3)
    np.testing.assert_allclose(np.asarray(y), expected, rtol=1e-12)


def test_dense_default_kernel_is_glorot_uniform():
    layer = layers.Dense(300)
    layer.build((None, 200))
    kernel = layer.get_weights()[0]
    limit = np.sqrt(6 / (200 + 300))
    assert kernel.dtype == np.float32
    assert np.abs(kernel).max() <= limit
    assert np.abs(kernel).max() > 0.9 * limit  # spread over the whole range
    assert abs(kernel.std() - limit / np.sqrt(3)) < 0.01


def test_dense_higher_rank_contracts_last_axis():
    x = _rng().normal(size=(2, 3, 4)).astype("float32")
    layer = layers.Dense(5, use_bias=False)
    y = layer(x)
    assert len(layer.weights) == 1
    np.testing.assert_allclose(np.asarray(y), x @ layer.get_weights()[0], rtol=1e-5)
    assert layer.compute_output_shape((None, 3, 4)) == (None, 3, 5)


def test_dense_gradients_match_finite_differences():
    x = _rng().normal(size=(4, 3))
    layer = layers.Dense(2, activation="sigmoid", dtype="float64")
    layer.build((None, 3))
    layer.set_weights([_rng(2).normal(size=(3, 2)), _rng(3).normal(size=2)])
    check_weight_grads(layer, x, _rng(4).normal(size=(4, 2)))


def test_dense_config():
    layer = layers.Dense(4, activation="relu", use_bias=False, kernel_regularizer="l2",
                         kernel_constraint="non_neg", name="d")
    config = assert_config_roundtrip(layer, BASE_KEYS | {
        "units", "activation", "use_bias", "kernel_initializer", "bias_initializer",
        "kernel_regularizer", "bias_regularizer", "kernel_constraint",
        "bias_constraint", "quantization_config"}).get_config()
    assert config["activation"] == "relu" and config["units"] == 4
    assert config["kernel_initializer"]["class_name"] == "GlorotUniform"
    assert config["bias_initializer"]["class_name"] == "Zeros"
    assert config["kernel_regularizer"]["class_name"] == "L2"
    assert config["kernel_constraint"]["class_name"] == "NonNeg"
    assert layers.Dense(2).get_config()["activation"] == "linear"


def test_dense_errors():
    with pytest.raises(ValueError, match="units"):
        layers.Dense(0)
    layer = layers.Dense(2)
    with pytest.raises(ValueError, match=r"dense.*min_ndim=2|dense.*ndim"):
        layer(np.ones((3,), "float32"))
    layer(np.ones((2, 3), "float32"))
    with pytest.raises(ValueError, match="dense"):
        layer(np.ones((2, 4), "float32"))  # the kernel was built for 3 features


# -- EinsumDense --------------------------------------------------------------------------

@pytest.mark.parametrize("equation, output_shape, bias_axes, x_shape, kernel, bias, out", [
    ("ab,bc->ac", 4, "c", (2, 3), (3, 4), (4,), (2, 4)),
    ("abc,cd->abd", (None, 4), "d", (2, 5, 3), (3, 4), (4,), (2, 5, 4)),
    ("...b,bc->...c", 4, "c", (2, 5, 6, 3), (3, 4), (4,), (2, 5, 6, 4)),
    ("abc,cde->abde", (None, 2, 4), "de", (2, 5, 3), (3, 2, 4), (2, 4), (2, 5, 2, 4)),
    ("abc,cde->abde", (None, 2, 4), "d", (2, 5, 3), (3, 2, 4), (2, 1), (2, 5, 2, 4)),
    ("ab...,bc->ac...", 4, "c", (2, 3, 6), (3, 4), (4, 1), (2, 4, 6)),
    ("abc,cd->abd", (5, 4), None, (2, 5, 3), (3, 4), None, (2, 5, 4)),
])
def test_einsum_dense_shapes_and_values(equation, output_shape, bias_axes, x_shape, kernel,
                                        bias, out):
    x = _rng().normal(size=x_shape)
    layer = layers.EinsumDense(equation, output_shape, bias_axes=bias_axes,
                               bias_initializer="random_normal", dtype="float64")
    y = layer(x)
    weights = layer.get_weights()
    assert weights[0].shape == kernel
    assert (weights[1].shape if bias_axes else None) == bias
    assert len(weights) == (2 if bias_axes else 1)
    expected = np.einsum(equation, x, weights[0])
    if bias_axes:
        expected = expected + weights[1]
    assert y.shape == out
    np.testing.assert_allclose(np.asarray(y), expected, rtol=1e-12)
    assert layer.compute_output_shape((None,) + x_shape[1:]) == (None,) + out[1:]


def test_einsum_dense_config_and_errors():
    layer = layers.EinsumDense("ab,bc->ac", output_shape=3, bias_axes="c", activation="relu")
    config = assert_config_roundtrip(layer, BASE_KEYS | {
        "output_shape", "equation", "activation", "bias_axes", "kernel_initializer",
        "bias_initializer", "kernel_regularizer", "bias_regularizer",
        "activity_regularizer", "kernel_constraint", "bias_constraint",
        "quantization_config"}).get_config()
    assert config["output_shape"] == (3,)
    with pytest.raises(ValueError, match="invalid einsum equation"):
        layers.EinsumDense("ab->b", 3).build((2, 3))
    with pytest.raises(ValueError, match="Bias dimension 'z'|bias dimension 'z'"):
        layers.EinsumDense("ab,bc->ac", 3, bias_axes="z").build((2, 3))
    with pytest.raises(ValueError, match="rank 2"):
        layers.EinsumDense("ab,bc->ac", 3).build((2, 3, 4))


@pytest.mark.parametrize("equation,output_shape,input_shape,fan_in,fan_out", [
    ("abc,cde->abde", (None, 4, 8), (None, 5, 64), 64, 32),
    ("abcd,cde->abe", (None, 16), (None, 3, 4, 8), 32, 16),
])
def test_einsum_dense_kernel_fans_are_its_input_and_output_axes(
        equation, output_shape, input_shape, fan_in, fan_out):
    # Keras 3.15: a VarianceScaling kernel initializer counts the kernel's input axes in the
    # fan-in and its output axes in the fan-out (not the conv-style fans of its shape).
    for init, limit in [(gk.initializers.HeUniform(seed=1), np.sqrt(6 / fan_in)),
                        (gk.initializers.GlorotUniform(seed=1),
                         np.sqrt(6 / (fan_in + fan_out)))]:
        layer = layers.EinsumDense(equation, output_shape, kernel_initializer=init)
        layer.build(input_shape)
        w = np.abs(layer.kernel.numpy().astype(np.float64))
        assert 0.95 * limit < w.max() <= limit * (1 + 1e-6)
        assert init.input_axes is None  # the layer's own initializer is left alone


def test_einsum_dense_gradients():
    layer = layers.EinsumDense("abc,cd->abd", (None, 2), bias_axes="d", dtype="float64",
                               bias_initializer="random_normal")
    x = _rng().normal(size=(2, 3, 4))
    layer.build(x.shape)
    check_weight_grads(layer, x, _rng(5).normal(size=(2, 3, 2)))


# -- Activation ---------------------------------------------------------------------------

def test_activation_layer():
    x = _rng().normal(size=(3, 4))
    layer = layers.Activation("gelu", dtype="float64")
    assert layer.weights == []
    np.testing.assert_allclose(np.asarray(layer(x)), np.asarray(gk.activations.gelu(x)))
    config = assert_config_roundtrip(layer, BASE_KEYS | {"activation"}).get_config()
    assert config["activation"] == "gelu"
    assert layer.compute_output_shape((None, 4)) == (None, 4)
    with pytest.raises(ValueError, match="Did you mean 'softmax'"):
        layers.Activation("sofmax")


# -- Embedding ----------------------------------------------------------------------------

def test_embedding_lookup_and_mask():
    idx = np.array([[1, 0, 2, 0], [3, 3, 0, 1]])
    layer = layers.Embedding(5, 3, mask_zero=True)
    y = layer(idx)
    table = layer.get_weights()[0]
    assert table.shape == (5, 3) and layer.weights[0].path == "embedding/embeddings"
    assert np.abs(table).max() <= 0.05  # Keras's "uniform" default: U(-0.05, 0.05)
    assert y.shape == (2, 4, 3) and y.dtype == "float32"
    np.testing.assert_array_equal(np.asarray(y), table[idx])
    np.testing.assert_array_equal(np.asarray(layer.compute_mask(idx)), idx != 0)
    np.testing.assert_array_equal(np.asarray(y._keras_mask), idx != 0)
    assert layer.compute_output_shape((None, 4)) == (None, 4, 3)


def test_embedding_without_mask_and_float_indices():
    layer = layers.Embedding(4, 2, weights=np.arange(8.0).reshape(4, 2))
    y = layer(np.array([[1.0, 3.0]]))
    np.testing.assert_array_equal(np.asarray(y), [[[2, 3], [6, 7]]])
    assert layer.compute_mask(np.array([[0, 1]])) is None
    assert getattr(y, "_keras_mask", None) is None


def test_embedding_gradient_scatters_into_rows():
    layer = layers.Embedding(4, 2, dtype="float64")
    idx = np.array([[1, 1, 3]])
    with gk.GradientTape() as tape:
        loss = ops.sum(layer(idx))
    (g,) = tape.gradient(loss, layer.trainable_weights)
    np.testing.assert_array_equal(np.asarray(g), [[0, 0], [2, 2], [0, 0], [1, 1]])


def test_embedding_config_and_errors():
    layer = layers.Embedding(10, 4, mask_zero=True, embeddings_regularizer="l1")
    config = assert_config_roundtrip(layer, BASE_KEYS | {
        "input_dim", "output_dim", "embeddings_initializer", "embeddings_regularizer",
        "activity_regularizer", "embeddings_constraint", "mask_zero",
        "quantization_config"}).get_config()
    assert config["embeddings_initializer"]["class_name"] == "RandomUniform"
    assert config["mask_zero"] is True
    with pytest.raises(ValueError, match="input_dim"):
        layers.Embedding(0, 3)


# -- Lambda -------------------------------------------------------------------------------

def square_plus(x, offset=0.0):
    return ops.add(ops.multiply(x, x), offset)


def test_lambda_calls_function_with_arguments():
    x = _rng().normal(size=(2, 3))
    layer = layers.Lambda(square_plus, arguments={"offset": 1.5})
    np.testing.assert_allclose(np.asarray(layer(x)), x * x + 1.5)
    assert layer.compute_output_shape((None, 3)) == (None, 3)
    with gk.saving.SafeModeScope(False):  # an unregistered function: only outside safe mode
        clone = assert_config_roundtrip(layer)
    assert clone.function is square_plus
    np.testing.assert_allclose(np.asarray(clone(x)), x * x + 1.5)


def test_lambda_in_safe_mode_loads_only_registered_functions():
    # A config may name any function of any imported module (os.system): as in Keras,
    # safe mode refuses it, and takes registered functions, custom_objects and graphkit's.
    config = layers.Lambda(square_plus).get_config()
    with pytest.raises(ValueError, match=r"'square_plus'.*safe_mode=False"):
        layers.Lambda.from_config(config)
    evil = {**config, "function": {**config["function"], "module": "os", "config": "system"}}
    with pytest.raises(ValueError, match=r"'system' of module 'os'.*not registered"):
        layers.Lambda.from_config(evil)
    assert layers.Lambda.from_config(
        config, custom_objects={"square_plus": square_plus}).function is square_plus
    own = layers.Lambda(ops.relu).get_config()
    assert layers.Lambda.from_config(own).function is ops.relu


def test_lambda_output_shape_mask_and_training():
    seen = {}

    def fn(x, training=None, mask=None):
        seen["training"], seen["mask"] = training, mask
        return ops.reshape(x, (-1, 6))

    layer = layers.Lambda(fn, output_shape=(6,), mask=lambda inputs, mask: None)
    y = layer(np.ones((2, 2, 3), "float32"), training=True)
    assert y.shape == (2, 6) and seen["training"] is True
    assert layer.compute_output_shape((None, 2, 3)) == (None, 6)
    assert layers.Lambda(fn, output_shape=lambda s: (s[0], 7)).compute_output_shape(
        (4, 2, 3)) == (4, 7)


def test_lambda_with_python_lambda_refuses_to_serialize():
    layer = layers.Lambda(lambda x: x * 2)
    np.testing.assert_array_equal(np.asarray(layer(np.ones((1, 2)))), [[2, 2]])
    with pytest.raises(ValueError, match=r"Lambda 'lambda'.*`function`"):
        layer.get_config()


# -- Masking ------------------------------------------------------------------------------

def test_masking_zeroes_masked_steps_and_emits_mask():
    x = _rng().normal(size=(2, 4, 3))
    x[0, 1] = 0.0
    x[1, 3] = 0.0
    x[1, 0, 0] = 0.0  # one zero feature alone does not mask a step
    layer = layers.Masking()
    y = layer(x)
    keep = np.any(x != 0.0, axis=-1)
    np.testing.assert_array_equal(np.asarray(y._keras_mask), keep)
    np.testing.assert_array_equal(np.asarray(layer.compute_mask(x)), keep)
    np.testing.assert_allclose(np.asarray(y), x * keep[..., None])
    x2 = np.full((1, 2, 2), 1.0)
    x2[0, 1] = [1.0, 2.0]
    np.testing.assert_array_equal(
        np.asarray(layers.Masking(mask_value=1.0).compute_mask(x2)), [[False, True]])
    config = assert_config_roundtrip(layers.Masking(mask_value=-1.0),
                                     BASE_KEYS | {"mask_value"}).get_config()
    assert config["mask_value"] == -1.0


def test_dense_mixed_precision_computes_in_float16_with_float32_kernel():
    x = _rng().normal(size=(3, 4)).astype("float32")
    layer = layers.Dense(2, dtype="mixed_float16")
    y = layer(x)
    assert y.dtype == "float16" and layer.kernel.dtype == "float32"
    np.testing.assert_allclose(np.asarray(y, "float32"), x @ layer.get_weights()[0],
                               atol=1e-2)


def test_identity_returns_its_inputs_and_mask():
    x = _rng().normal(size=(2, 3)).astype("float32")
    layer = layers.Identity()
    np.testing.assert_array_equal(np.asarray(layer(x)), x)
    inputs = gk.Input((None, 3))
    masked = layers.Masking()(inputs)
    out = layer(masked)
    assert out.shape == (None, None, 3) and out._keras_mask is not None
    assert set(assert_config_roundtrip(layer).get_config()) == {"name", "trainable", "dtype"}
