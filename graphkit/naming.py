"""Automatic names (`dense`, `dense_1`, ...) and the name-scope stack that gives layer paths."""
import contextlib
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


@contextlib.contextmanager
def name_scope(name):
    """Push `name` on the path stack: variables and IR nodes made inside get `outer/name/...`."""
    s = _stack()
    s.append(name)
    try:
        yield
    finally:
        s.pop()


def current_path():
    return "/".join(_stack())


def join_path(*parts):
    return "/".join(p for p in parts if p)
