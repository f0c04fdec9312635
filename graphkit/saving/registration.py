"""Registration of custom classes and functions, so that saved configs can name them.

`@register_keras_serializable(package="Custom", name=None)` files an object under
`"package>name"` (Keras 3's key). Lookups by name see, in this order: the active
`custom_object_scope`s, the registered objects, the `custom_objects` given to the call, then
`module_objects`. Nothing here imports a module: a name is only ever resolved to an object
that the running program has registered or passed in.
"""
import inspect
import threading

from graphkit.errors import close_matches

# "package>name" -> object, and object -> "package>name". Live: `get_custom_objects()` exposes
# the first one, as Keras does, so that `get_custom_objects()["Name"] = obj` registers too.
_REGISTERED_OBJECTS = {}
_REGISTERED_NAMES = {}

_local = threading.local()


def _scope_stack():
    stack = getattr(_local, "scopes", None)
    if stack is None:
        stack = _local.scopes = []
    return stack


def register_keras_serializable(package="Custom", name=None):
    """Decorator: register a class (which must define `get_config`) or a function."""
    if not isinstance(package, str) or not package or ">" in package:
        raise ValueError("register_keras_serializable: `package` must be a non-empty string "
                         f"without '>', received package={package!r}")
    if name is not None and (not isinstance(name, str) or not name or ">" in name):
        raise ValueError("register_keras_serializable: `name` must be None or a non-empty "
                         f"string without '>', received name={name!r}")

    def decorator(obj):
        if not (inspect.isclass(obj) or callable(obj)):
            raise TypeError("register_keras_serializable: expected a class or a function, "
                            f"received {obj!r}")
        if inspect.isclass(obj) and not hasattr(obj, "get_config"):
            raise ValueError(f"register_keras_serializable: class {obj.__name__} cannot be "
                             "registered because it has no get_config() method (saving "
                             "needs it to record the constructor arguments)")
        object_name = name if name is not None else getattr(obj, "__name__", None)
        if not object_name:
            raise ValueError("register_keras_serializable: the object has no __name__; "
                             f"pass name=... explicitly (received {obj!r})")
        registered_name = f"{package}>{object_name}"
        _REGISTERED_OBJECTS[registered_name] = obj
        _REGISTERED_NAMES[obj] = registered_name
        return obj

    return decorator


def get_registered_name(obj):
    """The name `obj` was registered under, else its own `__name__` (Keras's fallback)."""
    try:
        registered = _REGISTERED_NAMES.get(obj)
    except TypeError:  # an unhashable object cannot have been registered
        registered = None
    if registered is not None:
        return registered
    if hasattr(obj, "__name__"):
        return obj.__name__
    return type(obj).__name__


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The object filed under `name`, or None. See the module docstring for the order."""
    if name is None:
        return None
    for scope in reversed(_scope_stack()):
        if name in scope:
            return scope[name]
    if name in _REGISTERED_OBJECTS:
        return _REGISTERED_OBJECTS[name]
    if custom_objects and name in custom_objects:
        return custom_objects[name]
    if module_objects and name in module_objects:
        return module_objects[name]
    return None


def get_custom_objects():
    """The live dict of registered objects (`"package>name"` -> object)."""
    return _REGISTERED_OBJECTS


def known_names(custom_objects=None):
    """Every name a lookup could currently succeed with (for close-match suggestions)."""
    names = set(_REGISTERED_OBJECTS)
    names.update(key.split(">", 1)[1] for key in _REGISTERED_OBJECTS)
    for scope in _scope_stack():
        names.update(scope)
    names.update(custom_objects or ())
    return names


def suggest(name, custom_objects=None, extra=()):
    """' Did you mean X?' for the closest known name, or ''."""
    candidates = known_names(custom_objects) | set(extra)
    matches = close_matches(name, candidates, n=1)
    return f" Did you mean {matches[0]!r}?" if matches else ""


class CustomObjectScope:
    """`with CustomObjectScope({"MyLayer": MyLayer}):` makes those names resolvable inside."""

    def __init__(self, *dicts):
        self.custom_objects = {}
        for d in dicts:
            if d is None:
                continue
            if not isinstance(d, dict):
                raise TypeError("CustomObjectScope: expected dicts of {name: object}, "
                                f"received {d!r}")
            self.custom_objects.update(d)

    def __enter__(self):
        _scope_stack().append(self.custom_objects)
        return self

    def __exit__(self, *exc):
        _scope_stack().pop()


custom_object_scope = CustomObjectScope
