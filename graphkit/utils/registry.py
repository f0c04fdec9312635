"""Name registries for the objects users name by string: initializers, regularizers,
constraints. One registry per family gives it `get`, `serialize` and `deserialize` with
Keras 3's conventions and close-match suggestions for unknown names.
"""
import inspect

from graphkit.errors import unknown_identifier


class ObjectRegistry:
    """`objects` maps every accepted name (class names, snake_case names, aliases) to a class."""

    def __init__(self, kind, module, objects):
        self.kind = kind        # "initializer", used in error messages
        self.module = module    # "graphkit.initializers", written into configs
        self.objects = dict(objects)

    def serialize(self, obj):
        """{"module", "class_name", "config", "registered_name"}, Keras 3's layout."""
        if obj is None:
            return None
        if not hasattr(obj, "get_config"):
            raise ValueError(f"Cannot serialize {self.kind} {obj!r}: it has no get_config()")
        return {"module": self.module, "class_name": type(obj).__name__,
                "config": obj.get_config(), "registered_name": _registered_name(type(obj))}

    def lookup(self, name, custom_objects=None, registered_name=None):
        from graphkit.saving import registration
        found = registration.get_registered_object(registered_name, custom_objects)
        if found is not None:
            return found
        if custom_objects and name in custom_objects:
            return custom_objects[name]
        if name in self.objects:
            return self.objects[name]
        # a user's object, registered or in an active custom_object_scope
        found = registration.get_registered_object(name, custom_objects)
        if found is not None:
            return found
        choices = set(self.objects) | set(custom_objects or ())
        raise unknown_identifier(self.kind, name, choices)

    def deserialize(self, config, custom_objects=None):
        """An instance from a serialized dict, or from a bare name (default arguments)."""
        if isinstance(config, str):
            return self.lookup(config, custom_objects)()
        if not isinstance(config, dict) or "class_name" not in config:
            raise ValueError(f"Could not deserialize {self.kind}: expected a string or a dict "
                             f"with a 'class_name' key, received {config!r}")
        cls = self.lookup(config["class_name"], custom_objects, config.get("registered_name"))
        return cls.from_config(dict(config.get("config") or {}))

    def get(self, identifier):
        """None -> None; a name or a config -> a new instance; a class -> an instance of it;
        any other callable as it is."""
        if identifier is None:
            return None
        if isinstance(identifier, (str, dict)):
            return self.deserialize(identifier)
        if inspect.isclass(identifier):
            return identifier()
        if callable(identifier):
            return identifier
        raise ValueError(f"Could not interpret {self.kind} identifier: {identifier!r} "
                         f"(expected a string, a config dict, an instance or a callable)")


class CallableRegistry(ObjectRegistry):
    """A family whose members may also be plain functions (losses, metrics): a function
    serializes to its name, and a name gives back the function itself, while a class name
    gives a new instance."""

    def __init__(self, kind, module, objects, base_class, example):
        super().__init__(kind, module, objects)
        self.base_class = base_class  # a class given to `get` must derive from it
        self.example = example        # a name shown in the "could not interpret" error

    def serialize(self, obj):
        if inspect.isfunction(obj):
            return _registered_name(obj) or obj.__name__
        return super().serialize(obj)

    def deserialize(self, config, custom_objects=None):
        if isinstance(config, str):
            obj = self.lookup(config, custom_objects)
            return obj() if inspect.isclass(obj) else obj
        return super().deserialize(config, custom_objects)

    def get(self, identifier):
        if identifier is None:
            return None
        if isinstance(identifier, (str, dict)):
            return self.deserialize(identifier)
        if inspect.isclass(identifier) and issubclass(identifier, self.base_class):
            return identifier()
        if callable(identifier):
            return identifier
        raise ValueError(
            f"Could not interpret {self.kind} identifier: {identifier!r} (expected a "
            f"{self.base_class.__name__}, a function, a name such as {self.example!r}, "
            "or a config dict)")


def _registered_name(obj):
    """'package>name' for an object registered with register_keras_serializable, else None."""
    from graphkit.saving import registration
    name = registration.get_registered_name(obj)
    return name if ">" in name else None
