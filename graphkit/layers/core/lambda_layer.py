"""`Lambda`: wraps a function of tensors as a layer.

Saving differs from Keras on purpose: graphkit never stores or loads Python bytecode, so a
`Lambda` is serializable only when its function is a named, importable (or registered)
function. A Python `lambda` raises an error from `get_config` that says so. Loading, as in
Keras's safe mode, takes registered functions (and graphkit's own); a function found by its
module's name only with safe mode off.
"""
import inspect
import sys
import types

from graphkit import tree
from graphkit.core.keras_tensor import symbolic_call_scope
from graphkit.layers.layer import Layer

_PLAIN = (bool, int, float, str, type(None))


def _is_lambda(fn):
    return isinstance(fn, types.FunctionType) and fn.__name__ == "<lambda>"


def _registered_name(fn):
    try:
        from graphkit.saving import get_registered_name
    except ImportError:
        return None
    name = get_registered_name(fn)
    return None if name == fn.__name__ else name


def _serialize_function(layer, arg, fn):
    if _is_lambda(fn) or not hasattr(fn, "__name__") or "<locals>" in getattr(
            fn, "__qualname__", ""):
        raise ValueError(
            f"Lambda '{layer.name}': cannot serialize argument `{arg}` ({fn!r}): graphkit "
            "does not save Python code. Pass a module-level function, or one registered with "
            "@gk.saving.register_keras_serializable(), or subclass Layer with get_config().")
    return {"module": fn.__module__, "class_name": "function", "config": fn.__name__,
            "registered_name": _registered_name(fn) or "function"}


def _deserialize_function(arg, config):
    """The function a config names: a registered object, or an attribute of a module that
    is already imported (nothing is imported or executed on behalf of the file)."""
    if callable(config):
        return config
    if not (isinstance(config, dict) and config.get("class_name") == "function"):
        raise ValueError(f"Lambda.from_config: `{arg}` must be a serialized function, "
                         f"received {config!r}")
    name, module = config.get("config"), config.get("module")
    registered = config.get("registered_name")
    try:
        from graphkit.saving import get_registered_object
    except ImportError:
        get_registered_object = None
    if get_registered_object is not None:
        for key in (registered, name):
            if key and key != "function":
                found = get_registered_object(key)
                if found is not None:
                    return found
    if not _may_look_in(module):
        raise ValueError(
            f"Lambda.from_config: the function {name!r} of module {module!r} for `{arg}` is "
            "not registered, and safe mode loads only registered functions (a file could "
            "name any function of any imported module). Register it with "
            "@gk.saving.register_keras_serializable(), pass it in `custom_objects`, or, "
            "for a file you trust, load with safe_mode=False.")
    mod = sys.modules.get(module)
    fn = getattr(mod, name, None) if mod is not None else None
    if fn is None:
        raise ValueError(
            f"Lambda.from_config: cannot find the function {name!r} of module {module!r} "
            f"for `{arg}`. Import that module first, or register the function with "
            "@gk.saving.register_keras_serializable().")
    return fn


def _may_look_in(module):
    """graphkit's own modules always; any other imported module only outside safe mode
    (`safe_mode=False`, a SafeModeScope(False) or enable_unsafe_deserialization())."""
    if isinstance(module, str) and (module == "graphkit" or module.startswith("graphkit.")):
        return True
    try:
        from graphkit.saving import serialization
    except ImportError:
        return True
    return not serialization.in_safe_mode()


def _check_plain(layer, arg, value):
    for leaf in tree.flatten(value):
        if not isinstance(leaf, _PLAIN):
            raise ValueError(
                f"Lambda '{layer.name}': cannot serialize argument `{arg}`: it holds a "
                f"{type(leaf).__name__}, only Python numbers, strings, booleans and None "
                "(in lists, tuples and dicts) can be saved")
    return value


class Lambda(Layer):
    """`Lambda(fn, output_shape=None, mask=None, arguments=None)`.

    `fn(inputs, **arguments)` is called, with `mask=` and `training=` too when `fn` takes
    them. `output_shape` (without the batch axis, or a function of the full input shape) is
    only needed when the shape cannot be inferred by running `fn` symbolically. `mask` is
    None (the layer drops masks), a function `(inputs, mask) -> mask`, or a fixed mask.
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda: `function` must be callable, received {function!r}")
        self.function = function
        self.arguments = dict(arguments or {})
        self.mask = mask
        self.supports_masking = mask is not None
        self._output_shape = output_shape
        try:
            params = inspect.signature(function).parameters
        except (TypeError, ValueError):  # some builtins have no signature
            params = {}
        self._fn_expects_training_arg = "training" in params
        self._fn_expects_mask_arg = "mask" in params
        self.built = True

    def call(self, inputs, mask=None, training=None):
        kwargs = dict(self.arguments)
        if self._fn_expects_mask_arg:
            kwargs["mask"] = mask
        if self._fn_expects_training_arg:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def compute_mask(self, inputs, mask=None):
        if callable(self.mask):
            return self.mask(inputs, mask)
        return self.mask

    def compute_output_shape(self, input_shape):
        if self._output_shape is None:
            try:  # the base class runs call() on symbolic inputs of that shape
                return super().compute_output_shape(input_shape)
            except Exception as e:
                raise ValueError(
                    f"Lambda '{self.name}': could not infer the output shape by running the "
                    f"function on symbolic inputs of shape {input_shape} ({e}). Pass the "
                    "`output_shape` argument.") from e
        if callable(self._output_shape):
            return self._output_shape(input_shape)
        batch = tree.flatten(input_shape)[0] if input_shape else None
        return (batch, *tuple(self._output_shape))

    def compute_output_spec(self, *args, **kwargs):
        if self._output_shape is None:
            # Run the function itself symbolically: that keeps the output dtypes too.
            with symbolic_call_scope():
                return self.call(*args, **kwargs)
        return super().compute_output_spec(*args, **kwargs)

    def get_config(self):
        config = {"function": _serialize_function(self, "function", self.function)}
        if self._output_shape is not None:
            config["output_shape"] = (
                _serialize_function(self, "output_shape", self._output_shape)
                if callable(self._output_shape)
                else _check_plain(self, "output_shape", self._output_shape))
        if self.mask is not None:
            if not callable(self.mask):
                raise ValueError(
                    f"Lambda '{self.name}': cannot serialize argument `mask`: a fixed mask "
                    "tensor is not saved; pass a function `(inputs, mask) -> mask` instead")
            config["mask"] = _serialize_function(self, "mask", self.mask)
        config["arguments"] = _check_plain(self, "arguments", self.arguments)
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        fn = config["function"]
        if custom_objects and isinstance(fn, dict) and fn.get("config") in custom_objects:
            config["function"] = custom_objects[fn["config"]]
        else:
            config["function"] = _deserialize_function("function", fn)
        shape = config.get("output_shape")
        if isinstance(shape, dict):
            config["output_shape"] = _deserialize_function("output_shape", shape)
        elif isinstance(shape, list):
            config["output_shape"] = tuple(shape)
        if isinstance(config.get("mask"), dict):
            config["mask"] = _deserialize_function("mask", config["mask"])
        return cls(**config)
