"""Automatic names (`dense`, `dense_1`, ...) and the name-scope stack that gives layer paths."""
import re
import threading

_uids = {}
_local = threading.local()


def to_snake_case(name):
    """Keras 3's rule: `Conv2D` -> `conv2d`, `GlobalAveragePooling1D` ->
    `global_average_pooling1d` (a digit does not start a word)."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()
    return name.lstrip("_")


def uniquify(base):
    """`base` the first time, then `base_1`, `base_2`, ... (Keras's object naming)."""
    n = _uids.get(base, 0)
    _uids[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def auto_name(class_name):
    return uniquify(to_snake_case(class_name))


def reset_uids():
    _uids.clear()


def _stack():
    s = getattr(_local, "scopes", None)
    if s is None:
        s = _local.scopes = []
    return s


class name_scope:
    """Push `name` on the path stack: variables and IR nodes made inside get `outer/name/...`.

    A class, not a generator-based context manager: losses, optimizers and metrics open one
    on every eager step, and entering a generator costs several calls more."""

    __slots__ = ("name", "stack")

    def __init__(self, name):
        self.name = name
        self.stack = None

    def __enter__(self):
        self.stack = _stack()
        self.stack.append(self.name)
        return self

    def __exit__(self, *exc):
        self.stack.pop()
        return False


def current_path():
    return "/".join(_stack())


def join_path(*parts):
    return "/".join(p for p in parts if p)
