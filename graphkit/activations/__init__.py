"""`gk.activations`: the activation functions, and `get`/`serialize`/`deserialize`.

`activation=` arguments accept a name (`"relu"`), a callable or None (the identity, which
serializes as `"linear"`, as in Keras). An unknown name raises a ValueError with the closest
match.
"""
import types

from graphkit.activations import activations as _functions
from graphkit.activations.activations import (elu, exponential, gelu, hard_sigmoid, hard_silu,
                                              hard_swish, leaky_relu, linear, log_softmax,
                                              mish, relu, relu6, selu, sigmoid, silu,
                                              softmax, softplus, softsign, swish, tanh)
from graphkit.errors import unknown_identifier

# Canonical name -> function. `serialize` gives these names back.
ALL_OBJECTS = {
    fn.__name__: fn for fn in (
        relu, leaky_relu, relu6, elu, selu, softplus, softsign, silu, gelu, tanh, sigmoid,
        hard_sigmoid, hard_silu, exponential, mish, softmax, log_softmax, linear)
}
ALL_OBJECTS.update({name: getattr(_functions, name) for name in _functions.FROM_OPS})
globals().update({name: getattr(_functions, name) for name in _functions.FROM_OPS})
# Extra names accepted by `get` (Keras's aliases).
ALIASES = {"swish": silu, "hard_swish": hard_silu}
ALL_OBJECTS_DICT = {**ALL_OBJECTS, **ALIASES}

__all__ = sorted(ALL_OBJECTS_DICT) + ["get", "serialize", "deserialize"]


def _registered_name(fn):
    """The name `@gk.saving.register_keras_serializable` gave `fn`, if saving has one."""
    try:
        from graphkit.saving import get_registered_name
    except ImportError:
        return None
    name = get_registered_name(fn)
    return None if name == getattr(fn, "__name__", None) else name


def serialize(activation):
    """The name of an activation function (a built-in name or a registered one)."""
    if activation is None:
        return "linear"
    for name, fn in ALL_OBJECTS.items():
        if activation is fn:
            return name
    if isinstance(activation, types.FunctionType) and activation.__name__ == "<lambda>":
        raise ValueError(
            f"activations.serialize: cannot serialize a Python lambda ({activation!r}). "
            "Use a named function registered with "
            "@gk.saving.register_keras_serializable() instead.")
    registered = _registered_name(activation)
    if registered is not None:
        return registered
    if hasattr(activation, "get_config"):
        from graphkit.saving import serialize_keras_object
        return serialize_keras_object(activation)
    name = getattr(activation, "__name__", None)
    if name is None:
        raise ValueError(
            f"activations.serialize: expected an activation function, received {activation!r}")
    # A plain named function: Keras stores its name; loading needs it in custom_objects.
    return name


def deserialize(config, custom_objects=None):
    """The activation named by `config` (a string, or a `{"class_name", "config"}` dict)."""
    if isinstance(config, dict):
        if config.get("class_name") not in (None, "function"):
            from graphkit.saving import deserialize_keras_object
            return deserialize_keras_object(config, custom_objects=custom_objects)
        config = config.get("registered_name") if config.get("registered_name") not in (
            None, "function") else config.get("config")
    if not isinstance(config, str):
        raise ValueError(
            f"activations.deserialize: expected a name or a config dict, received {config!r}")
    if custom_objects and config in custom_objects:
        return custom_objects[config]
    if config in ALL_OBJECTS_DICT:
        return ALL_OBJECTS_DICT[config]
    try:
        from graphkit.saving import get_registered_object
        found = get_registered_object(config, custom_objects=custom_objects)
    except ImportError:
        found = None
    if found is not None:
        return found
    raise unknown_identifier("activation", config, ALL_OBJECTS_DICT)


def get(identifier):
    """An activation function from a name, a config, a callable or None (-> `linear`)."""
    if identifier is None:
        return linear
    if isinstance(identifier, (str, dict)):
        return deserialize(identifier)
    if callable(identifier):
        return identifier
    raise ValueError(
        "Could not interpret activation function identifier: expected a string, a callable "
        f"or None, received {identifier!r} of type {type(identifier).__name__}")
