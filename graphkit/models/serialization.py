"""Layer and model configs as JSON-ready dicts, and back, without running code from the data.

A serialized layer is `{"module", "class_name", "config", "registered_name", "build_config"}`.
Classes are found in `custom_objects`, then among registered classes (`gk.saving`, when
present), then in graphkit's own modules. Any other module named in the data is never
imported: the error says how to provide the class.
"""
import importlib
import json

import numpy as np

_BUILTIN_MODULES = ("graphkit.models", "graphkit.layers", "graphkit.models.operation",
                    "graphkit.models.op_call")


def serialize_layer(layer):
    cls = type(layer)
    data = {"module": cls.__module__, "class_name": cls.__name__,
            "config": layer.get_config(), "registered_name": _registered_name(cls)}
    build_config = layer.get_build_config() if hasattr(layer, "get_build_config") else None
    if build_config:
        data["build_config"] = _jsonable_shapes(build_config)
    return data


def deserialize_layer(data, custom_objects=None):
    if not isinstance(data, dict) or "class_name" not in data or "config" not in data:
        raise ValueError(f"Cannot deserialize a layer from {_short(data)}: expected a dict "
                         "with 'class_name' and 'config' keys")
    cls = find_class(data["class_name"], data.get("module"), data.get("registered_name"),
                     custom_objects)
    from graphkit.models.model import Model
    if issubclass(cls, Model):
        obj = cls.from_config(data["config"], custom_objects=custom_objects)
    else:
        obj = cls.from_config(data["config"])
    build_config = data.get("build_config")
    if build_config and hasattr(obj, "build_from_config") and not obj.built:
        obj.build_from_config(build_config)
    return obj


def find_class(class_name, module=None, registered_name=None, custom_objects=None):
    custom_objects = custom_objects or {}
    for key in (registered_name, class_name):
        if key and key in custom_objects:
            return custom_objects[key]
    registered = _registry_lookup(registered_name or class_name, custom_objects)
    if registered is not None:
        return registered
    if module and (module == "graphkit" or module.startswith("graphkit.")):
        try:
            found = getattr(importlib.import_module(module), class_name, None)
        except ImportError:
            found = None
        if found is not None:
            return found
    for mod in _BUILTIN_MODULES:
        found = getattr(importlib.import_module(mod), class_name, None)
        if isinstance(found, type):
            return found
    # graphkit.saving raises the error (UnknownObjectError, a ValueError): it names the class,
    # suggests a close match, says how to provide the class, and honours safe_mode=False.
    from graphkit.saving.serialization import find_object
    return find_object(class_name, module, registered_name, custom_objects,
                       kind="layer class")


def _registry_lookup(name, custom_objects):
    try:
        saving = importlib.import_module("graphkit.saving")
    except ModuleNotFoundError as e:
        if e.name in ("graphkit.saving",):
            return None
        raise
    getter = getattr(saving, "get_registered_object", None)
    return getter(name, custom_objects) if getter is not None else None


def _registered_name(cls):
    try:
        saving = importlib.import_module("graphkit.saving")
    except ModuleNotFoundError:
        return None
    getter = getattr(saving, "get_registered_name", None)
    if getter is None:
        return None
    name = getter(cls)
    return None if name == cls.__name__ else name


# -- call arguments of graph nodes ------------------------------------------------------------

class ArgumentSlot:
    """Where an op node's `index`-th input goes in the call arguments it stores."""

    __slots__ = ("index",)

    def __init__(self, index):
        self.index = int(index)

    def __eq__(self, other):
        return isinstance(other, ArgumentSlot) and other.index == self.index

    def __hash__(self):
        return hash(("ArgumentSlot", self.index))

    def __repr__(self):
        return f"ArgumentSlot({self.index})"


def serialize_argument(value, tensor_ref):
    """A node's call argument as JSON: KerasTensors via `tensor_ref`, constants as arrays."""
    from graphkit.core.keras_tensor import KerasTensor
    if isinstance(value, KerasTensor):
        return {"class_name": "__keras_tensor__", "config": {"keras_history": tensor_ref(value)}}
    if isinstance(value, ArgumentSlot):
        return {"class_name": "__argument_slot__", "config": {"index": value.index}}
    if isinstance(value, slice):  # getitem keys: x[:, 1:3]
        return {"class_name": "__slice__", "config": {
            "value": [serialize_argument(v, tensor_ref)
                      for v in (value.start, value.stop, value.step)]}}
    if value is Ellipsis:
        return {"class_name": "__ellipsis__", "config": {}}
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        return np.dtype(value).name  # ops take dtype names
    if hasattr(type(value), "_bind_priority") or isinstance(value, np.ndarray):
        array = np.asarray(value)
        return {"class_name": "__tensor__",
                "config": {"value": array.tolist(), "dtype": array.dtype.name}}
    if isinstance(value, tuple):
        return {"class_name": "__tuple__",
                "config": {"value": [serialize_argument(v, tensor_ref) for v in value]}}
    if isinstance(value, list):
        return [serialize_argument(v, tensor_ref) for v in value]
    if isinstance(value, dict):
        return {k: serialize_argument(v, tensor_ref) for k, v in value.items()}
    if isinstance(value, (str, int, float, bool, type(None))):
        return value
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"Cannot serialize the call argument {_short(value)} (of type "
                    f"{type(value).__name__}) of a functional graph node")


def deserialize_argument(value, tensor_from_ref):
    if isinstance(value, list):
        return [deserialize_argument(v, tensor_from_ref) for v in value]
    if isinstance(value, dict):
        kind = value.get("class_name")
        if kind == "__keras_tensor__":
            return tensor_from_ref(value["config"]["keras_history"])
        if kind == "__tensor__":
            from graphkit.core.tensor import Tensor
            cfg = value["config"]
            return Tensor(np.asarray(cfg["value"], dtype=cfg["dtype"]))
        if kind == "__tuple__":
            return tuple(deserialize_argument(v, tensor_from_ref)
                         for v in value["config"]["value"])
        if kind == "__argument_slot__":
            return ArgumentSlot(value["config"]["index"])
        if kind == "__slice__":
            return slice(*(deserialize_argument(v, tensor_from_ref)
                           for v in value["config"]["value"]))
        if kind == "__ellipsis__":
            return Ellipsis
        return {k: deserialize_argument(v, tensor_from_ref) for k, v in value.items()}
    return value


def _jsonable_shapes(value):
    if isinstance(value, dict):
        return {k: _jsonable_shapes(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable_shapes(v) for v in value]
    return value


def _short(value):
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# -- JSON ---------------------------------------------------------------------------------------

def model_from_json(json_string, custom_objects=None):
    """The model described by `model.to_json()` (architecture only: weights are new)."""
    try:
        data = json.loads(json_string)
    except json.JSONDecodeError as e:
        raise ValueError(f"model_from_json: the string is not valid JSON ({e})") from None
    return deserialize_layer(data, custom_objects=custom_objects)
