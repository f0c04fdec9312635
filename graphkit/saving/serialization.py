"""Objects as JSON-ready configs and back, in Keras 3's layout, without running code from data.

An object with `get_config` serializes to
    {"module", "class_name", "config", "registered_name"[, "build_config"][, "compile_config"]}
and a named function to {"module", "class_name": "function", "config": name, "registered_name"}.
Plain values stay plain, lists stay lists, tuples become lists (as in JSON), and arrays and
tensors become {"class_name": "__numpy__" / "__tensor__", "config": {"value", "dtype"}}.

Deserializing finds a class or function by name only: first among the `custom_objects`, the
active `custom_object_scope`s and the registered objects, then in graphkit's own modules.
Safe mode (the default) stops there. With `safe_mode=False` an object may also come from a
module the program has *already imported*. No module is ever imported because a file names
it, and no pickle, `eval` or Python bytecode is ever used: a Python `lambda` cannot be saved.
"""
import importlib
import inspect
import sys
import threading
import types

import numpy as np

from graphkit.saving import registration
from graphkit.saving.errors import UnknownObjectError

# Where graphkit's public classes and functions live. A serialized built-in names the public
# module, so that a file stays loadable when an implementation file moves.
PUBLIC_MODULES = (
    "graphkit.layers", "graphkit.models", "graphkit.optimizers",
    "graphkit.optimizers.schedules", "graphkit.losses", "graphkit.metrics",
    "graphkit.initializers", "graphkit.regularizers", "graphkit.constraints",
    "graphkit.activations", "graphkit.random", "graphkit.layers.dtype_policy",
)

_PLAIN_TYPES = (str, int, float, bool)
_public_module_cache = {}
_local = threading.local()


# -- safe mode ------------------------------------------------------------------------------------

class SafeModeScope:
    """`with SafeModeScope(False):` lets nested deserializations use imported modules."""

    def __init__(self, safe_mode=True):
        self.safe_mode = safe_mode

    def __enter__(self):
        stack = _safe_mode_stack()
        stack.append(self.safe_mode if self.safe_mode is not None else in_safe_mode())
        return self

    def __exit__(self, *exc):
        _safe_mode_stack().pop()


def _safe_mode_stack():
    stack = getattr(_local, "safe_mode", None)
    if stack is None:
        stack = _local.safe_mode = []
    return stack


def in_safe_mode():
    """True unless an enclosing deserialization (or SafeModeScope) turned safe mode off."""
    stack = _safe_mode_stack()
    return stack[-1] if stack else _GLOBAL_SAFE_MODE["value"]


_GLOBAL_SAFE_MODE = {"value": True}


def enable_unsafe_deserialization():
    """Turn safe mode off by default (only for files you trust: objects may then come from
    any module the program has imported)."""
    _GLOBAL_SAFE_MODE["value"] = False


# -- serialize ------------------------------------------------------------------------------------

def serialize_keras_object(obj):
    """A JSON-ready description of `obj` (see the module docstring)."""
    if obj is None or isinstance(obj, _PLAIN_TYPES):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (list, tuple)):
        return [serialize_keras_object(x) for x in obj]
    if isinstance(obj, dict):
        return serialize_dict(obj)
    if isinstance(obj, bytes):
        return {"class_name": "__bytes__", "config": {"value": obj.decode("utf-8")}}
    if isinstance(obj, slice):
        return {"class_name": "__slice__", "config": {
            "start": serialize_keras_object(obj.start), "stop": serialize_keras_object(obj.stop),
            "step": serialize_keras_object(obj.step)}}
    if obj is Ellipsis:
        return {"class_name": "__ellipsis__", "config": {}}
    if isinstance(obj, np.dtype) or (isinstance(obj, type) and issubclass(obj, np.generic)):
        return np.dtype(obj).name
    if isinstance(obj, np.ndarray):
        return _array_config("__numpy__", obj)
    if _is_tensor_value(obj):
        return _array_config("__tensor__", np.asarray(obj))
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType)):
        return _serialize_function(obj)
    if hasattr(obj, "get_config"):
        return _serialize_instance(obj)
    if inspect.isclass(obj):
        return registration.get_registered_name(obj)
    raise TypeError(f"serialize_keras_object: cannot serialize {_short(obj)} of type "
                    f"{type(obj).__name__}: to be serializable, a class must implement "
                    "get_config() (and from_config() if its constructor needs more)")


def serialize_dict(config):
    out = {}
    for key, value in config.items():
        if not isinstance(key, str):
            raise TypeError(f"serialize_keras_object: config keys must be strings, received "
                            f"the key {key!r} in {_short(config)}")
        out[key] = serialize_keras_object(value)
    return out


def _array_config(kind, array):
    if array.dtype.kind not in "biufc":
        raise TypeError(f"serialize_keras_object: cannot serialize an array of dtype "
                        f"{array.dtype} (only bool and numeric arrays are saved)")
    return {"class_name": kind, "config": {"value": array.tolist(), "dtype": array.dtype.name}}


def _is_tensor_value(obj):
    from graphkit.core.tensor import Tensor
    from graphkit.core.variable import Variable
    if isinstance(obj, (Tensor, Variable)):
        return True
    if hasattr(type(obj), "_bind_priority"):  # a KerasTensor or a tracer: no data to save
        raise TypeError(f"serialize_keras_object: cannot serialize the symbolic value "
                        f"{_short(obj)}: it holds no data")
    return False


def _serialize_function(fn):
    qualname = getattr(fn, "__qualname__", "")
    registered = registration.get_registered_name(fn) != fn.__name__
    # Only a name is saved, so the function must be findable by name when loading: a
    # lambda never is, and a function local to another one only once registered.
    if fn.__name__ == "<lambda>" or ("<locals>" in qualname and not registered):
        raise ValueError(
            f"serialize_keras_object: cannot serialize {fn!r}: graphkit never saves Python "
            "code, so a lambda or an unregistered function defined inside another function "
            "cannot be saved. Use a module-level function, or decorate it with "
            "@gk.saving.register_keras_serializable().")
    module = _public_module(fn) or fn.__module__
    if _is_graphkit_module(module):
        registered = fn.__name__
    else:
        registered = registration.get_registered_name(fn)
    return {"module": module, "class_name": "function", "config": fn.__name__,
            "registered_name": registered}


def _serialize_instance(obj):
    cls = type(obj)
    inner = obj.get_config()
    if not isinstance(inner, dict):
        raise TypeError(f"serialize_keras_object: {cls.__name__}.get_config() must return a "
                        f"dict, it returned {_short(inner)}")
    public = _public_module(cls)
    data = {"module": public or cls.__module__, "class_name": cls.__name__,
            "config": serialize_dict(inner),
            "registered_name": None if public else registration.get_registered_name(cls)}
    build_config = obj.get_build_config() if hasattr(obj, "get_build_config") else None
    if build_config is not None:
        data["build_config"] = serialize_dict(build_config)
    compile_config = obj.get_compile_config() if hasattr(obj, "get_compile_config") else None
    if compile_config is not None:
        data["compile_config"] = serialize_dict(compile_config)
    return data


def _public_module(obj):
    """The public graphkit package that exports `obj` under its own name, or None."""
    if not getattr(obj, "__module__", "").startswith("graphkit."):
        return None
    key = (obj.__module__, obj.__qualname__ if hasattr(obj, "__qualname__") else obj.__name__)
    if key not in _public_module_cache:
        _public_module_cache[key] = next(
            (name for name in PUBLIC_MODULES if _public_attr(name, obj.__name__) is obj), None)
    return _public_module_cache[key]


def _public_attr(module_name, attr):
    try:
        module = importlib.import_module(module_name)
        return getattr(module, attr, None)
    except Exception:  # a package that fails to import exports nothing
        return None


# -- deserialize ----------------------------------------------------------------------------------

def deserialize_keras_object(config, custom_objects=None, safe_mode=True, **kwargs):
    """The object `config` describes. `custom_objects` maps names to classes or functions;
    `safe_mode=False` also lets names resolve in modules the program has imported."""
    if kwargs:
        raise TypeError(f"deserialize_keras_object: unexpected arguments {sorted(kwargs)}")
    with registration.CustomObjectScope(custom_objects), SafeModeScope(safe_mode):
        return _deserialize(config, custom_objects or {})


def _deserialize(config, custom_objects):
    if config is None:
        return None
    if isinstance(config, str):
        found = custom_objects.get(config)
        return config if found is None else found
    if isinstance(config, _PLAIN_TYPES):
        return config
    if isinstance(config, (list, tuple)):
        return [_deserialize(x, custom_objects) for x in config]
    if not isinstance(config, dict):
        raise TypeError(f"deserialize_keras_object: cannot parse the config {_short(config)} "
                        f"(of type {type(config).__name__})")
    if "class_name" not in config or "config" not in config:
        return {k: _deserialize(v, custom_objects) for k, v in config.items()}
    class_name = config["class_name"]
    special = _SPECIAL.get(class_name)
    if special is not None:
        return special(config["config"])
    if class_name == "function":
        return find_object(config.get("config"), config.get("module"),
                           config.get("registered_name"), custom_objects, kind="function")
    return _deserialize_instance(config, custom_objects)


def _deserialize_instance(config, custom_objects):
    class_name = config["class_name"]
    if not isinstance(class_name, str):
        raise TypeError(f"deserialize_keras_object: 'class_name' must be a string, received "
                        f"{_short(class_name)}")
    cls = find_object(class_name, config.get("module"), config.get("registered_name"),
                      custom_objects, kind="class")
    if not hasattr(cls, "from_config"):
        raise TypeError(f"deserialize_keras_object: '{class_name}' resolved to {cls!r}, which "
                        "has no from_config() and cannot be rebuilt from a config")
    inner = config["config"] or {}
    if _accepts_custom_objects(cls.from_config):
        instance = cls.from_config(inner, custom_objects=custom_objects)
    else:
        instance = cls.from_config(inner)
    build_config = config.get("build_config")
    if build_config and hasattr(instance, "build_from_config") and \
            not getattr(instance, "built", False):
        instance.build_from_config(build_config)
    compile_config = config.get("compile_config")
    if compile_config and hasattr(instance, "compile_from_config"):
        # losses and metrics named by string are resolved when first used: resolve custom
        # ones now, while the caller's custom_objects are known
        with registration.CustomObjectScope(custom_objects or {}):
            instance.compile_from_config(compile_config)
    return instance


def _accepts_custom_objects(fn):
    try:
        return "custom_objects" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def find_object(name, module=None, registered_name=None, custom_objects=None, kind="class"):
    """The class or function a config names. Raises UnknownObjectError with a suggestion."""
    if not isinstance(name, str) or not name:
        raise UnknownObjectError(f"Invalid {kind} name {_short(name)} in a saved config "
                                 "(expected a non-empty string)")
    for key in (registered_name, name):
        found = registration.get_registered_object(key, custom_objects)
        if found is not None:
            return found
    found = _graphkit_object(name, module)
    if found is not None:
        return found
    if not in_safe_mode() and module in sys.modules:
        found = getattr(sys.modules[module], name, None)
        if found is not None:
            return found
    raise UnknownObjectError(_unknown_message(name, module, registered_name, custom_objects,
                                              kind))


def _is_graphkit_module(module):
    return isinstance(module, str) and (module == "graphkit" or module.startswith("graphkit."))


def _is_keras_module(module):
    return isinstance(module, str) and (module == "keras" or module.startswith("keras."))


def _graphkit_object(name, module):
    """A graphkit class or function: from the module the config names, else (the file may
    predate a move) from the public packages. A config that names Keras's public modules
    (`keras.layers`, ...) finds graphkit's class of that name, as graphkit ports Keras 3's
    (so a Keras config nested in TimeDistributed, RNN or Bidirectional loads as a top-level
    one does). A config that names another module never resolves to a graphkit object that
    happens to share the name."""
    if _is_keras_module(module):
        module = None
    if module is not None and not _is_graphkit_module(module):
        return None
    if module is not None:
        found = _public_attr(module, name)
        if found is not None:
            return found
    for public in PUBLIC_MODULES:
        found = _public_attr(public, name)
        if found is not None and (inspect.isclass(found) or callable(found)) and \
                not inspect.ismodule(found):
            return found
    return None


def _unknown_message(name, module, registered_name, custom_objects, kind):
    builtin_names = set()
    for public in PUBLIC_MODULES:
        try:
            builtin_names.update(n for n in dir(importlib.import_module(public))
                                 if not n.startswith("_"))
        except Exception:
            continue
    lookup = registered_name or name
    hint = registration.suggest(lookup, custom_objects, extra=builtin_names)
    where = f" from module '{module}'" if module else ""
    shown = f"'{name}'" + (f" (registered as '{registered_name}')"
                           if registered_name and registered_name != name else "")
    message = (f"Unknown {kind} {shown}{where}.{hint} To load it, import the code that "
               f"defines it and decorate it with @gk.saving.register_keras_serializable(), "
               f"or pass custom_objects={{'{name}': {name}}}.")
    if module in sys.modules and in_safe_mode() and not _is_graphkit_module(module):
        message += (f" Module '{module}' is imported: loading with safe_mode=False would "
                    "look there too (only do that for files you trust).")
    elif module and not _is_graphkit_module(module):
        message += " graphkit never imports a module named in a file."
    return message


# -- special values ---------------------------------------------------------------------------------

def _array_from_config(config):
    return np.asarray(config["value"], dtype=config["dtype"])


def _tensor_from_config(config):
    from graphkit.core.tensor import Tensor
    return Tensor(_array_from_config(config))


def _lambda_refused(config):
    raise ValueError("deserialize_keras_object: this config holds Python bytecode for a "
                     "lambda ('__lambda__'). graphkit never loads code from a file; rewrite "
                     "the lambda as a registered module-level function and save again.")


_SPECIAL = {
    "__numpy__": _array_from_config,
    "__tensor__": _tensor_from_config,
    "__bytes__": lambda c: c["value"].encode("utf-8"),
    "__slice__": lambda c: slice(c["start"], c["stop"], c["step"]),
    "__ellipsis__": lambda c: Ellipsis,
    "__tuple__": lambda c: tuple(c["value"]),
    "__lambda__": _lambda_refused,
}


def _short(value):
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
