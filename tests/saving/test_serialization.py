import json
import sys

import numpy as np
import pytest

import graphkit as gk
from graphkit import layers, saving
from graphkit.saving import deserialize_keras_object as deserialize
from graphkit.saving import serialize_keras_object as serialize


def roundtrip(obj, **kwargs):
    """Through JSON text, as a saved file would be."""
    return deserialize(json.loads(json.dumps(serialize(obj))), **kwargs)


class ImportedOnly:
    """A class of an imported module that is neither registered nor passed in."""

    def __init__(self, size=1):
        self.size = size

    def get_config(self):
        return {"size": self.size}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def test_plain_values_and_containers():
    value = {"a": 1, "b": [2.5, "x", None, True], "c": {"d": (1, 2)}}
    assert roundtrip(value) == {"a": 1, "b": [2.5, "x", None, True], "c": {"d": [1, 2]}}


def test_numpy_arrays_and_scalars_keep_dtype():
    array = np.arange(6, dtype="int16").reshape(2, 3)
    back = roundtrip(array)
    assert back.dtype == np.int16 and np.array_equal(back, array)
    assert roundtrip(np.float32(1.5)) == 1.5
    assert serialize(np.dtype("float16")) == "float16"
    assert serialize(np.float64) == "float64"


def test_tensors_and_variables_become_tensors():
    back = roundtrip(gk.ops.convert_to_tensor(np.array([1.0, 2.0], "float32")))
    assert isinstance(back, gk.Tensor) and back.dtype == "float32"
    np.testing.assert_array_equal(back.numpy(), [1.0, 2.0])
    v = gk.Variable(np.ones((2,), "float64"))
    np.testing.assert_array_equal(roundtrip(v).numpy(), [1.0, 1.0])


def test_bytes_slices_and_ellipsis():
    assert roundtrip(b"abc") == b"abc"
    assert roundtrip(slice(1, None, 2)) == slice(1, None, 2)
    assert roundtrip(Ellipsis) is Ellipsis


def test_keras_tensor_is_refused():
    with pytest.raises(TypeError, match="symbolic"):
        serialize(gk.Input((3,)))


def test_object_array_is_refused():
    with pytest.raises(TypeError, match="dtype object"):
        serialize(np.array([object()]))


def test_lambda_and_nested_function_are_refused():
    with pytest.raises(ValueError, match="lambda"):
        serialize(lambda x: x)

    def inner(x):
        return x
    with pytest.raises(ValueError, match="never saves Python code"):
        serialize(inner)


def test_lambda_bytecode_config_is_refused_even_unsafe():
    config = {"class_name": "__lambda__", "config": {"value": "abc"}}
    with pytest.raises(ValueError, match="never loads code"):
        deserialize(config, safe_mode=False)


def test_builtin_object_layout():
    data = serialize(gk.initializers.GlorotUniform(seed=3))
    assert data == {"module": "graphkit.initializers", "class_name": "GlorotUniform",
                    "config": {"seed": 3, "input_axes": None, "output_axes": None},
                    "registered_name": None}
    back = deserialize(data)
    assert isinstance(back, gk.initializers.GlorotUniform) and back.seed == 3


def test_builtin_function():
    data = serialize(gk.activations.relu)
    assert data["class_name"] == "function" and data["config"] == "relu"
    assert data["module"] == "graphkit.activations"
    assert roundtrip(gk.activations.relu) is gk.activations.relu


def test_registered_function():
    @saving.register_keras_serializable(package="Fns")
    def plus_one(x):
        return x + 1

    data = serialize(plus_one)
    assert data["registered_name"] == "Fns>plus_one"
    assert roundtrip(plus_one) is plus_one


def test_registered_class_roundtrip_and_layout():
    @saving.register_keras_serializable(package="Mine")
    class Scale:
        def __init__(self, factor):
            self.factor = factor

        def get_config(self):
            return {"factor": self.factor}

        @classmethod
        def from_config(cls, config):
            return cls(**config)

    data = serialize(Scale(2.5))
    assert data["registered_name"] == "Mine>Scale" and data["config"] == {"factor": 2.5}
    back = roundtrip(Scale(2.5))
    assert isinstance(back, Scale) and back.factor == 2.5


def test_layer_is_rebuilt_from_build_config():
    layer = layers.Dense(3)
    layer.build((None, 5))
    data = json.loads(json.dumps(serialize(layer)))
    assert data["build_config"] == {"input_shape": [None, 5]}
    back = deserialize(data)
    assert back.built and tuple(back.kernel.shape) == (5, 3)


def test_unknown_class_names_it_and_suggests_a_close_match():
    config = {"module": "graphkit.layers", "class_name": "Dens", "config": {},
              "registered_name": None}
    with pytest.raises(saving.UnknownObjectError) as info:
        deserialize(config)
    message = str(info.value)
    assert "'Dens'" in message and "Did you mean 'Dense'?" in message
    assert "register_keras_serializable" in message and "custom_objects" in message
    assert isinstance(info.value, TypeError) and isinstance(info.value, ValueError)


def test_unknown_registered_name_suggests_the_registered_one():
    @saving.register_keras_serializable(package="Shop")
    class Basket:
        def get_config(self):
            return {}

    config = {"module": "somewhere", "class_name": "Baskett", "config": {},
              "registered_name": "Shop>Baskett"}
    with pytest.raises(saving.UnknownObjectError, match="Did you mean 'Shop>Basket'"):
        deserialize(config)


def test_custom_objects_resolve_an_unregistered_class():
    config = serialize(ImportedOnly(4))
    assert config["registered_name"] == "ImportedOnly"
    back = deserialize(config, custom_objects={"ImportedOnly": ImportedOnly})
    assert isinstance(back, ImportedOnly) and back.size == 4


def test_safe_mode_never_looks_in_other_modules_and_unsafe_uses_imported_ones():
    config = serialize(ImportedOnly(2))
    assert config["module"] == __name__ and __name__ in sys.modules
    with pytest.raises(saving.UnknownObjectError, match="safe_mode=False"):
        deserialize(config)
    back = deserialize(config, safe_mode=False)
    assert isinstance(back, ImportedOnly) and back.size == 2


def test_a_module_named_in_a_config_is_never_imported():
    name = "graphkit_test_module_that_must_not_be_imported"
    config = {"module": name, "class_name": "Anything", "config": {},
              "registered_name": None}
    with pytest.raises(saving.UnknownObjectError, match="never imports"):
        deserialize(config, safe_mode=False)
    assert name not in sys.modules


def test_custom_objects_are_visible_to_nested_deserialization():
    seen = []

    class Outer:
        def get_config(self):
            return {}

        @classmethod
        def from_config(cls, config):
            seen.append(saving.get_registered_object("Inner"))
            return cls()

    deserialize({"module": "x", "class_name": "Outer", "config": {}, "registered_name": None},
                custom_objects={"Outer": Outer, "Inner": int})
    assert seen == [int]


def test_a_foreign_module_never_resolves_to_a_graphkit_class_of_the_same_name():
    config = {"module": "someone_else.layers", "class_name": "Dense", "config": {"units": 2},
              "registered_name": "Dense"}
    with pytest.raises(saving.UnknownObjectError, match="'Dense' from module"):
        deserialize(config)


def test_a_moved_graphkit_class_is_found_in_the_public_packages():
    config = {"module": "graphkit.layers.old_location", "class_name": "Dense",
              "config": {"units": 2}, "registered_name": None}
    assert isinstance(deserialize(config), layers.Dense)


def _as_keras_file(config):
    """`config` as Keras 3 writes it: built-in classes under Keras's public modules."""
    if isinstance(config, dict):
        config = {k: _as_keras_file(v) for k, v in config.items()}
        if str(config.get("module", "")).startswith("graphkit.layers"):
            config["module"] = "keras.layers"
        return config
    if isinstance(config, list):
        return [_as_keras_file(v) for v in config]
    return config


def test_keras_modules_resolve_to_graphkit_classes_nested_too():
    # A Keras 3 config names "keras.layers": the wrapped layer of TimeDistributed and the
    # cells of RNN / StackedRNNCells load as the top-level layers do.
    inputs = gk.Input((3, 2))
    hidden = layers.TimeDistributed(layers.Dense(4, activation="tanh"))(inputs)
    cells = layers.StackedRNNCells([layers.SimpleRNNCell(3), layers.GRUCell(2)])
    outputs = layers.RNN(cells)(hidden)
    model = gk.Model(inputs, outputs)
    config = _as_keras_file(json.loads(model.to_json()))
    assert config["config"]["layers"][1]["config"]["layer"]["module"] == "keras.layers"
    restored = gk.models.model_from_json(json.dumps(config))
    restored.set_weights(model.get_weights())
    x = np.random.default_rng(0).normal(size=(2, 3, 2)).astype("float32")
    np.testing.assert_array_equal(restored.predict(x, verbose=0), model.predict(x, verbose=0))
    assert isinstance(deserialize({"module": "keras.layers", "class_name": "LSTMCell",
                                   "config": {"units": 2}, "registered_name": None}),
                      layers.LSTMCell)


def test_keras_3_15_only_options_load_at_their_defaults():
    # Keras 3.15 writes these options into every config of these layers; graphkit has no
    # feature behind them, so it takes their defaults and refuses anything else.
    keras_configs = [
        ("Dense", {"units": 2, "quantization_config": None}),
        ("EinsumDense", {"equation": "ab,bc->ac", "output_shape": 3,
                         "quantization_config": None}),
        ("Embedding", {"input_dim": 5, "output_dim": 2, "quantization_config": None}),
        ("BatchNormalization", {"renorm": False, "renorm_clipping": None,
                                "renorm_momentum": 0.99}),
        ("MultiHeadAttention", {"num_heads": 2, "key_dim": 3, "use_gate": False,
                                "sliding_window": None}),
    ]
    for class_name, config in keras_configs:
        layer = getattr(gk.layers, class_name).from_config(config)
        assert set(config) <= set(layer.get_config())  # written back, as Keras writes them
    with pytest.raises(ValueError, match=r"Dense: `quantization_config` is not supported.*"
                                         r"Received: quantization_config='int8'"):
        gk.layers.Dense(2, quantization_config="int8")
    with pytest.raises(ValueError, match=r"BatchNormalization: `renorm` is not supported"):
        gk.layers.BatchNormalization(renorm=True)
