"""Weights moved from Keras 3 layers give the same outputs here (optional: needs keras).

Keras is not a dependency of graphkit; where it is installed, these tests check the claim
of the SPEC that `set_weights(keras_layer.get_weights())` works, and that configs use
Keras's keys.
"""
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "numpy")
keras = pytest.importorskip("keras")

# Keras's own variables warn about NumPy 2's `copy` keyword; nothing of ours.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

from graphkit import layers  # noqa: E402


CASES = [
    ("Dense", dict(units=3, activation="relu"), (4, 5)),
    ("EinsumDense", dict(equation="abc,cde->abde", output_shape=(None, 2, 3), bias_axes="de"),
     (2, 4, 5)),
    ("BatchNormalization", dict(), (6, 3)),
    ("LayerNormalization", dict(axis=[1, 2]), (2, 3, 4)),
]


def _randomize(keras_layer, rng):
    keras_layer.set_weights([rng.normal(size=w.shape).astype("float32") ** 2 + 0.1
                             for w in keras_layer.get_weights()])


@pytest.mark.parametrize("name, kwargs, shape", CASES)
def test_weights_transfer_and_outputs_agree(name, kwargs, shape):
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape).astype("float32")
    k_layer = getattr(keras.layers, name)(**kwargs)
    k_layer.build(shape)
    _randomize(k_layer, rng)
    g_layer = getattr(layers, name)(**kwargs)
    g_layer.build(shape)
    assert [w.name for w in g_layer.weights] == [w.name for w in k_layer.weights]
    assert [tuple(w.shape) for w in g_layer.weights] == \
        [tuple(w.shape) for w in k_layer.weights]
    g_layer.set_weights(k_layer.get_weights())
    for training in (False, True):
        expected = np.asarray(k_layer(x, training=training))
        np.testing.assert_allclose(np.asarray(g_layer(x, training=training)), expected,
                                   rtol=2e-5, atol=2e-5)
    for g, k in zip(g_layer.get_weights(), k_layer.get_weights()):  # moving stats too
        np.testing.assert_allclose(g, k, rtol=1e-5, atol=1e-6)


def test_embedding_transfer_and_mask():
    idx = np.array([[1, 0, 3], [2, 2, 0]])
    k_layer = keras.layers.Embedding(4, 2, mask_zero=True)
    k_out = k_layer(idx)
    g_layer = layers.Embedding(4, 2, mask_zero=True)
    g_layer.build()
    g_layer.set_weights(k_layer.get_weights())
    g_out = g_layer(idx)
    np.testing.assert_array_equal(np.asarray(g_out), np.asarray(k_out))
    np.testing.assert_array_equal(np.asarray(g_out._keras_mask),
                                  np.asarray(k_layer.compute_mask(idx)))


ALL_LAYERS = [
    ("Dense", dict(units=3)), ("EinsumDense", dict(equation="ab,bc->ac", output_shape=3)),
    ("Activation", dict(activation="gelu")), ("Embedding", dict(input_dim=3, output_dim=2)),
    ("Masking", dict()), ("Dropout", dict(rate=0.5)),
    ("ActivityRegularization", dict(l1=0.1)), ("BatchNormalization", dict()),
    ("LayerNormalization", dict()), ("Flatten", dict()), ("Reshape", dict(target_shape=(2,))),
    ("Permute", dict(dims=(1,))), ("RepeatVector", dict(n=2)), ("Add", dict()),
    ("Subtract", dict()), ("Multiply", dict()), ("Average", dict()),
    ("Maximum", dict()), ("Minimum", dict()), ("Concatenate", dict()),
]


@pytest.mark.parametrize("name, kwargs", ALL_LAYERS)
def test_config_keys_and_values_match_keras(name, kwargs):
    k_config = getattr(keras.layers, name)(**kwargs).get_config()
    g_config = getattr(layers, name)(**kwargs).get_config()
    assert set(g_config) == set(k_config)
    for key, value in g_config.items():
        if key in ("dtype", "name"):  # names count per session; dtype policies differ
            continue
        k_value = k_config[key]
        if isinstance(value, dict):  # serialized initializers etc.: same class and config
            assert value["class_name"] == k_value["class_name"], key
            for k, v in value["config"].items():
                assert v == k_value["config"][k], (key, k)
        else:
            assert value == k_value, key


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "softmax", "gelu", "silu", "elu",
                                  "selu", "softplus", "leaky_relu", "linear", "swish"])
def test_activations_match_keras(name):
    from graphkit import activations
    x = np.linspace(-6, 6, 48).reshape(4, 12).astype("float32")
    np.testing.assert_allclose(np.asarray(activations.get(name)(x)),
                               np.asarray(keras.activations.get(name)(x)), rtol=1e-5,
                               atol=1e-6)
