"""Automatic configs: for a layer that does not override `get_config()`, the constructor
arguments captured when it was made (Keras 3's behaviour), checked to be plain JSON values.
A non-serializable argument is an error that names the class and the argument; a config is
never silently wrong.
"""
import inspect

_JSON_TYPES = (str, int, float, bool, type(None))


def capture(obj, cls, args, kwargs):
    """Keep the constructor arguments, for layers that do not override get_config()."""
    d = obj.__dict__
    d["_auto_config"] = None
    d["_auto_config_error"] = None
    try:
        sig = inspect.signature(cls.__init__)
        bound = sig.bind(None, *args, **kwargs)
    except TypeError:
        return  # __init__ will raise the real error
    params = list(sig.parameters.values())
    if any(p.kind == p.POSITIONAL_ONLY for p in params[1:]):
        d["_auto_config_error"] = ("its __init__() takes positional-only arguments, which "
                                   "cannot be restored from a config", None)
        return
    bound.apply_defaults()
    config = dict(bound.arguments)
    config.pop(params[0].name, None)
    for p in params:
        if p.kind == p.VAR_KEYWORD:
            config.update(config.pop(p.name, {}))
        elif p.kind == p.VAR_POSITIONAL:
            if config.pop(p.name, ()):
                d["_auto_config_error"] = ("it was created with variadic positional arguments "
                                           "(*args), which cannot be restored from a config",
                                           None)
                return
    config.pop("name", None)
    d["_auto_config"] = config


def config_for(layer, base):
    cls = type(layer).__name__
    error = layer.__dict__.get("_auto_config_error")
    if error is not None:
        raise TypeError(f"Layer {cls} cannot be serialized automatically: {error[0]}. "
                        f"Override get_config() (and from_config() if needed).")
    captured = layer.__dict__.get("_auto_config")
    if captured is None:
        raise TypeError(f"Layer {cls} cannot be serialized automatically: its constructor "
                        f"arguments were not captured. Override get_config().")
    for arg, value in captured.items():
        bad = _first_non_serializable(value)
        if bad is not _OK:
            raise TypeError(
                f"Layer {cls} cannot be serialized automatically: its constructor argument "
                f"`{arg}` is {_short(bad)} (of type {type(bad).__name__}), which is not a "
                f"plain JSON value (str, int, float, bool, None, or lists/dicts of them). "
                f"Override get_config() to return a serializable config for {cls}, and "
                f"from_config() if the config needs converting back.")
    init = inspect.signature(type(layer).__init__).parameters
    takes_kwargs = any(p.kind == p.VAR_KEYWORD for p in init.values())
    config = {k: v for k, v in base.items() if takes_kwargs or k in init}
    config.update({k: v for k, v in captured.items() if k not in base})
    return config


_OK = object()


def _first_non_serializable(value):
    if isinstance(value, _JSON_TYPES):
        return _OK
    if isinstance(value, (list, tuple)):
        for v in value:
            bad = _first_non_serializable(v)
            if bad is not _OK:
                return bad
        return _OK
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                return k
            bad = _first_non_serializable(v)
            if bad is not _OK:
                return bad
        return _OK
    return value


def _short(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
