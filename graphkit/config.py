"""Every runtime switch of graphkit in one place: environment variables and setters.

Environment variables are read once, lazily, so that a test can set them before first use.
"""
import os

_state = {
    "floatx": "float32",
    "epsilon": 1e-7,
    "jit_enabled": True,
    "cache_dir": None,
    "check_numerics": False,
}

_VALID_FLOATX = ("float16", "float32", "float64")


def floatx():
    """The default float dtype, as a string (`"float32"` unless changed)."""
    return _state["floatx"]


def set_floatx(value):
    if value not in _VALID_FLOATX:
        raise ValueError(f"set_floatx: expected one of {_VALID_FLOATX}, received {value!r}")
    _state["floatx"] = value


def epsilon():
    return _state["epsilon"]


def set_epsilon(value):
    _state["epsilon"] = float(value)


def jit_enabled():
    """False makes every `gk.jit` function run eagerly (for debugging)."""
    return _state["jit_enabled"]


def set_jit_enabled(value):
    _state["jit_enabled"] = bool(value)


def cache_dir():
    """Where compiled kernels are cached: GRAPHKIT_CACHE_DIR, else ~/.cache/graphkit."""
    if _state["cache_dir"] is not None:
        return _state["cache_dir"]
    env = os.environ.get("GRAPHKIT_CACHE_DIR")
    return env or os.path.join(os.path.expanduser("~"), ".cache", "graphkit")


def set_cache_dir(path):
    _state["cache_dir"] = None if path is None else os.fspath(path)


def dump_ir_dir():
    """GRAPHKIT_DUMP_IR=<dir> writes every stage of every compilation there."""
    return os.environ.get("GRAPHKIT_DUMP_IR") or None


def data_dir():
    return os.environ.get("GRAPHKIT_DATA_DIR") or None


def check_numerics_enabled():
    return _state["check_numerics"]


def set_check_numerics(value):
    _state["check_numerics"] = bool(value)


def dtype_policy():
    """The DTypePolicy of layers made without `dtype=` (Keras's `keras.config.dtype_policy`)."""
    from graphkit.layers import dtype_policy as policies
    return policies.dtype_policy()


def set_dtype_policy(policy):
    """Keras's `keras.config.set_dtype_policy`: the policy of layers made without `dtype=`,
    a name ("mixed_float16", "float64", ...) or a DTypePolicy; None restores floatx."""
    from graphkit.layers import dtype_policy as policies
    policies.set_dtype_policy(policy)
