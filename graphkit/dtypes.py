"""Dtype names and the one promotion table used by eager kernels, shape rules and codegen.

Dtypes are plain strings (`"float32"`). Python scalars are *weak*: they take the dtype of the
tensor they meet (`x * 2.0` keeps `x`'s dtype), as in Keras 3 and JAX.
"""
import numpy as np

from graphkit import config

BOOL = "bool"
INTS = ("int8", "int16", "int32", "int64")
UINTS = ("uint8", "uint16", "uint32", "uint64")
FLOATS = ("float16", "float32", "float64")
ALL = (BOOL,) + INTS + UINTS + FLOATS

# Markers for Python scalars in `result_type`.
WEAK_BOOL, WEAK_INT, WEAK_FLOAT = "weak_bool", "weak_int", "weak_float"

_ALIASES = {
    "float": None,  # resolved to floatx at call time
    "double": "float64", "half": "float16", "int": "int32", "long": "int64",
    "boolean": "bool", "f32": "float32", "f64": "float64", "f16": "float16",
    "i32": "int32", "i64": "int64",
}


def standardize_dtype(dtype):
    """Turn any dtype-like (string, NumPy dtype, Python type) into graphkit's string name."""
    if dtype is None:
        return config.floatx()
    if hasattr(dtype, "name") and not isinstance(dtype, (str, np.dtype, type)):
        dtype = dtype.name  # a DTypePolicy or similar
    if dtype is float:
        return config.floatx()
    if dtype is int:
        return "int32"
    if dtype is bool:
        return "bool"
    if isinstance(dtype, str):
        if dtype in ALL:
            return dtype
        if dtype in _ALIASES:
            return _ALIASES[dtype] or config.floatx()
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = None
    if name in ALL:
        return name
    raise ValueError(
        f"Invalid dtype: expected one of {', '.join(ALL)}, received {dtype!r}")


def is_float(dtype):
    return dtype in FLOATS


def is_int(dtype):
    return dtype in INTS or dtype in UINTS


def is_bool(dtype):
    return dtype == BOOL


def itemsize(dtype):
    return np.dtype(dtype).itemsize


def weak_type_of(value):
    """The weak marker for a Python scalar, or None when the value is not one."""
    if isinstance(value, (bool, np.bool_)):
        return WEAK_BOOL
    if isinstance(value, (int, np.integer)):
        return WEAK_INT
    if isinstance(value, (float, np.floating)):
        return WEAK_FLOAT
    return None


def _promote_strong(a, b):
    if a == b:
        return a
    fa, fb = is_float(a), is_float(b)
    if fa or fb:
        # Integers and bools never widen a float: int32 + float32 -> float32.
        if fa and fb:
            return a if FLOATS.index(a) >= FLOATS.index(b) else b
        return a if fa else b
    if a == BOOL:
        return b
    if b == BOOL:
        return a
    name = np.promote_types(a, b).name
    return "int64" if name == "float64" else name  # uint64 + int64


def result_type(*dtypes):
    """The dtype that an op over these operands computes in.

    Each item is a dtype name or a weak marker (see `weak_type_of`).
    """
    strong = [d for d in dtypes if d not in (WEAK_BOOL, WEAK_INT, WEAK_FLOAT)]
    weak = set(dtypes) - set(strong)
    if strong:
        out = strong[0]
        for d in strong[1:]:
            out = _promote_strong(out, d)
    else:
        out = None
    if out is None:
        if WEAK_FLOAT in weak:
            return config.floatx()
        if WEAK_INT in weak:
            return "int32"
        return BOOL
    if WEAK_FLOAT in weak and not is_float(out):
        return config.floatx()
    if WEAK_INT in weak and out == BOOL:
        return "int32"
    return out
