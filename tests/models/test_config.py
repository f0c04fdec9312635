"""Functional configs: exact rebuild (shared layers, nested models, ops), JSON, cloning."""
import json

import numpy as np
import pytest

import graphkit as gk
from graphkit import layers, ops


def _data(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def _rich_model():
    """Shared layer at two depths, a nested model, ops with constants, dict outputs."""
    inner_in = gk.Input(shape=(4,), name="inner_in")
    inner = gk.Model(inner_in, layers.Dense(4, activation="tanh", name="inner_dense")(inner_in),
                     name="inner")
    a = gk.Input(shape=(4,), name="a")
    b = gk.Input(shape=(4,), name="b")
    shared = layers.Dense(4, name="shared")
    x = shared(a)
    x = inner(x)
    x = shared(x)  # the shared layer again, deeper
    y = ops.add(ops.multiply(shared(b), 0.5), np.arange(4, dtype="float32"))
    merged = layers.Concatenate(name="merge")([x, y])
    outputs = {"score": layers.Dense(1, name="score")(merged),
               "features": layers.Dropout(0.3, name="drop")(merged)}
    return gk.Model({"a": a, "b": b}, outputs, name="rich")


def test_config_round_trip_rebuilds_the_graph_exactly():
    model = _rich_model()
    config = json.loads(json.dumps(model.get_config()))
    clone = gk.Model.from_config(config)
    assert clone.get_config() == config
    assert [l.name for l in clone.layers] == [l.name for l in model.layers]
    assert len(clone.get_layer("shared")._inbound_nodes) == 3
    assert len(clone.weights) == len(model.weights) == 6
    clone.set_weights(model.get_weights())
    data = {"a": _data(3, 4), "b": _data(3, 4, seed=1)}
    out, out_clone = model(data), clone(data)
    for key in ("score", "features"):
        np.testing.assert_array_equal(out[key].numpy(), out_clone[key].numpy())


def test_shared_layer_in_the_rebuilt_model_is_one_object():
    clone = gk.Model.from_config(_rich_model().get_config())
    shared = clone.get_layer("shared")
    assert sum(1 for w in clone.weights if w.path.startswith("shared/")) == 2
    assert all(node.operation is shared for node in shared._inbound_nodes)


def test_to_json_and_model_from_json():
    model = _rich_model()
    text = model.to_json()
    restored = gk.models.model_from_json(text)
    assert isinstance(restored, gk.models.Functional) and restored.name == "rich"
    assert restored.get_config() == json.loads(text)["config"]
    with pytest.raises(ValueError, match="not valid JSON"):
        gk.models.model_from_json("{not json")


def test_custom_layers_need_custom_objects():
    class Scale(gk.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, x):
            return x * self.factor
    x = gk.Input(shape=(2,))
    model = gk.Model(x, Scale(3.0)(x))
    config = model.get_config()
    with pytest.raises(ValueError, match="Unknown layer class 'Scale'.*custom_objects"):
        gk.Model.from_config(config)
    clone = gk.Model.from_config(config, custom_objects={"Scale": Scale})
    np.testing.assert_allclose(clone(np.ones((1, 2), "float32")).numpy(), [[3.0, 3.0]])


def test_unserializable_custom_layer_names_the_argument():
    class WithFn(gk.Layer):
        def __init__(self, fn, **kwargs):
            super().__init__(**kwargs)
            self.fn = fn

        def call(self, x):
            return self.fn(x)
    x = gk.Input(shape=(2,))
    model = gk.Model(x, WithFn(ops.exp)(x))
    with pytest.raises(TypeError, match="Layer WithFn .* constructor argument `fn`"):
        model.get_config()


def test_clone_model_has_new_weights_and_the_same_structure():
    model = _rich_model()
    clone = gk.models.clone_model(model)
    assert clone.get_config() == model.get_config()
    assert not any(w1 is w2 for w1, w2 in zip(clone.weights, model.weights))
    assert len(clone.get_layer("shared")._inbound_nodes) == 3
    clone.set_weights(model.get_weights())
    data = {"a": _data(2, 4), "b": _data(2, 4, seed=1)}
    np.testing.assert_array_equal(model(data)["score"].numpy(), clone(data)["score"].numpy())


def test_clone_model_with_new_input_tensors_and_clone_function():
    x = gk.Input(shape=(3,))
    model = gk.Model(x, layers.Dense(2, name="d")(x))
    new_input = gk.Input(shape=(3,), name="new")
    renamed = gk.models.clone_model(
        model, input_tensors=new_input,
        clone_function=lambda l: type(l).from_config({**l.get_config(), "name": l.name + "_c"}))
    assert renamed.inputs[0] is new_input
    assert [l.name for l in renamed.layers] == ["new", "d_c"]


def test_clone_sequential_and_subclassed_models():
    seq = gk.Sequential([gk.Input(shape=(2,)), layers.Dense(3)])
    cloned = gk.models.clone_model(seq)
    assert isinstance(cloned, gk.Sequential) and cloned.built
    assert cloned.layers[0] is not seq.layers[0] and cloned.count_params() == 9


def test_frozen_layer_stays_frozen_through_from_config_and_clone():
    # As Keras 3: the model's own `trainable` (True in its config) must not overwrite the
    # flag of a layer the user froze, and Model(..., trainable=False) leaves the layers' own.
    x = gk.Input(shape=(3,))
    frozen = layers.Dense(2, name="frozen")
    frozen.trainable = False
    model = gk.Model(x, layers.Dense(1, name="head")(frozen(x)))
    for rebuilt in (gk.Model.from_config(model.get_config()), gk.models.clone_model(model)):
        assert rebuilt.get_layer("frozen").trainable is False
        assert rebuilt.get_layer("head").trainable is True
        assert len(rebuilt.trainable_weights) == 2
    locked = gk.Model(x, layers.Dense(1, name="locked_head")(x), trainable=False)
    assert locked.trainable is False and locked.trainable_weights == []
    assert locked.get_layer("locked_head").trainable is True


def test_tuple_inputs_and_outputs_stay_tuples_through_from_config():
    # As Keras 3: the config keeps the tuples, so the rebuilt model returns a tuple.
    a, b = gk.Input(shape=(3,)), gk.Input(shape=(3,))
    model = gk.Model((a, b), (layers.Dense(1)(a), layers.Dense(2)(b)))
    rebuilt = gk.Model.from_config(model.get_config())
    assert isinstance(rebuilt.input, tuple) and isinstance(rebuilt.output, tuple)
    out = rebuilt((_data(2, 3), _data(2, 3, seed=1)))
    assert isinstance(out, tuple) and [o.shape for o in out] == [(2, 1), (2, 2)]
