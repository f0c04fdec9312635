"""Sequential models: add, pop, Input first or lazy build, masks, configs."""
import json

import numpy as np
import pytest

import graphkit as gk
from graphkit import layers, ops


def _data(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def test_sequential_with_input_is_built_at_once():
    model = gk.Sequential([gk.Input(shape=(4,)), layers.Dense(3, name="a"),
                           layers.Dense(2, name="b")])
    assert model.built and [l.name for l in model.layers] == ["a", "b"]
    assert model.inputs[0].shape == (None, 4) and model.outputs[0].shape == (None, 2)
    assert [w.path for w in model.weights] == ["sequential/a/kernel", "sequential/a/bias",
                                               "sequential/b/kernel", "sequential/b/bias"]
    x = _data(5, 4)
    a, b = model.layers
    expected = (x @ a.kernel.numpy() + a.bias.numpy()) @ b.kernel.numpy() + b.bias.numpy()
    np.testing.assert_allclose(model(x).numpy(), expected, rtol=1e-5, atol=1e-6)


def test_sequential_on_a_model_is_built_at_once_with_its_input_dtype():
    # As Keras 3: a first layer that is a model (a pretrained base) gives the input shape.
    x = gk.Input(shape=(3,))
    base = gk.Model(x, layers.Dense(4)(x), name="base")
    model = gk.Sequential([base, layers.Dense(1, name="head")])
    assert model.built and model.output_shape == (None, 1)
    assert [l.name for l in model.layers] == ["base", "head"] and len(model.weights) == 4
    # A base that takes token ids: the stack's input keeps that dtype, so it runs.
    ids = gk.Input(shape=(5,), dtype="int32")
    text = gk.Model(ids, layers.GlobalAveragePooling1D()(layers.Embedding(10, 4)(ids)))
    model = gk.Sequential([text, layers.Dense(1)])
    assert model.inputs[0].dtype == "int32"
    assert model.predict(np.array([[1, 2, 3, 4, 5]]), verbose=0).shape == (1, 1)


def test_sequential_without_input_builds_on_first_call():
    model = gk.Sequential()
    model.add(layers.Dense(3))
    model.add(layers.Dense(1))
    assert not model.built
    with pytest.raises(ValueError, match="not built"):
        model.inputs
    out = model(_data(7, 5))
    assert out.shape == (7, 1) and model.built
    assert model.inputs[0].shape == (None, 5)  # the batch size stays free
    assert model(_data(2, 5)).shape == (2, 1)


def test_add_and_pop_rebuild_the_graph():
    model = gk.Sequential([gk.Input(shape=(3,)), layers.Dense(4), layers.Dense(2)])
    popped = model.pop()
    assert isinstance(popped, layers.Dense) and popped.units == 2
    assert len(model.layers) == 1 and model.outputs[0].shape == (None, 4)
    assert len(model.weights) == 2
    model.add(layers.Dense(6))
    assert model.outputs[0].shape == (None, 6) and len(model.weights) == 4


def test_add_errors():
    model = gk.Sequential([gk.Input(shape=(3,)), layers.Dense(2, name="d")])
    with pytest.raises(ValueError, match="only gk.layers.Layer instances can be added"):
        model.add("dense")
    with pytest.raises(ValueError, match="'d' is already the name of a layer"):
        model.add(layers.Dense(2, name="d"))
    with pytest.raises(ValueError, match="already has the input shape"):
        model.add(gk.Input(shape=(3,)))
    with pytest.raises(IndexError, match="no layers"):
        gk.Sequential().pop()


def test_input_shape_argument_on_the_first_layer():
    model = gk.Sequential([layers.Dense(2, input_shape=(3,))])
    assert model.built and model.inputs[0].shape == (None, 3)


def test_sequential_validates_inputs():
    model = gk.Sequential([gk.Input(shape=(3,), name="x"), layers.Dense(2)])
    with pytest.raises(ValueError, match="input 'x' \\(input 0\\) expects shape \\(None, 3\\)"):
        model(np.ones((2, 4), "float32"))


def test_sequential_passes_masks_along():
    model = gk.Sequential([gk.Input(shape=(None,), dtype="int32"),
                           layers.Embedding(8, 3, mask_zero=True)])
    out = model(np.array([[1, 2, 0]], "int32"))
    np.testing.assert_array_equal(out._keras_mask.numpy(), [[True, True, False]])


def test_sequential_config_round_trip_predicts_the_same():
    model = gk.Sequential([gk.Input(shape=(4,)), layers.Dense(3, activation="relu"),
                           layers.Dense(1)], name="stack")
    config = json.loads(json.dumps(model.get_config()))
    assert config["name"] == "stack" and config["build_input_shape"] == [None, 4]
    clone = gk.Sequential.from_config(config)
    assert clone.built and [l.name for l in clone.layers] == [l.name for l in model.layers]
    clone.set_weights(model.get_weights())
    x = _data(6, 4)
    np.testing.assert_array_equal(clone(x).numpy(), model(x).numpy())
    restored = gk.models.model_from_json(model.to_json())
    assert isinstance(restored, gk.Sequential) and restored.count_params() == 19


def test_sequential_of_subclassed_layer_and_training_flag():
    class Probe(gk.Layer):
        def call(self, x, training=None):
            return x * (2.0 if training else 1.0)
    model = gk.Sequential([gk.Input(shape=(2,)), Probe()])
    x = np.ones((1, 2), "float32")
    np.testing.assert_array_equal(model(x).numpy(), x)
    np.testing.assert_array_equal(model(x, training=True).numpy(), 2 * x)
    assert ops.sum(model(x)).shape == ()


@pytest.mark.parametrize("mode", [{"run_eagerly": True}, {"jit_compile": True}])
def test_sequential_pop_add_after_compiled_predict_runs_the_new_stack(mode):
    x = np.ones((8, 6), "float32")
    model = gk.Sequential([gk.Input((6,)), layers.Dense(4), layers.Dense(2)])
    model.compile("sgd", "mse", **mode)
    model.predict(x, verbose=0)
    model.pop()
    model.add(layers.Dense(3, kernel_initializer="zeros"))
    np.testing.assert_array_equal(model.predict(x, verbose=0), np.zeros((8, 3)))
