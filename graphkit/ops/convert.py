"""Turning user arguments into graphkit values, and the weak-scalar promotion of operands."""
import numbers

import numpy as np

from graphkit import config, dtypes
from graphkit.core.tensor import Tensor


def _is_value(x):
    return hasattr(type(x), "_bind_priority")


def _is_scalar(x):
    return isinstance(x, (numbers.Number, np.bool_)) and not isinstance(x, np.ndarray)


def _array_from_python(x, dtype):
    if dtype is not None:
        return np.asarray(x, dtype=dtypes.standardize_dtype(dtype))
    a = np.asarray(x)
    if a.dtype.kind == "f" and not isinstance(x, np.ndarray) and not isinstance(x, np.generic):
        return a.astype(config.floatx())  # Python floats are weak: floatx
    if a.dtype.kind in "iu" and not isinstance(x, (np.ndarray, np.generic)):
        return a.astype("int32")
    if a.dtype.kind not in "biuf":
        raise TypeError(f"convert_to_tensor: cannot convert a value of dtype {a.dtype} "
                        f"(received {type(x).__name__})")
    return a


def convert_to_tensor(x, dtype=None, sparse=None):
    """Any tensor-like (array, list, scalar, Tensor, Variable) as a graphkit value."""
    from graphkit.core.variable import Variable
    if isinstance(x, Variable):
        x = x.value
    if _is_value(x):
        if dtype is not None:
            dtype = dtypes.standardize_dtype(dtype)
            if dtype != x.dtype:
                from graphkit.ops.elementwise import cast
                return cast(x, dtype)
        return x
    if hasattr(x, "numpy") and not isinstance(x, np.ndarray):
        x = x.numpy()  # torch/tf/jax arrays
    return Tensor(_array_from_python(x, dtype))


def to_value(x):
    """Like convert_to_tensor, but leaves values as they are (the fast path of every op)."""
    if _is_value(x):
        return x
    return convert_to_tensor(x)


def promote(*xs, dtype=None):
    """Operands converted to one dtype: the result type, with Python scalars weak."""
    kinds, values = [], []
    for x in xs:
        if _is_scalar(x):
            kinds.append(dtypes.weak_type_of(x))
            values.append(x)
        else:
            v = to_value(x)
            kinds.append(v.dtype)
            values.append(v)
    target = dtypes.standardize_dtype(dtype) if dtype is not None else dtypes.result_type(*kinds)
    return [Tensor(np.asarray(v, dtype=target)) if _is_scalar(v)
            else convert_to_tensor(v, dtype=target) for v in values]


def convert_to_numpy(x):
    """A NumPy array of a tensor-like (Tensors and Variables give their data)."""
    from graphkit.core.variable import Variable
    if isinstance(x, Variable):
        x = x.value
    return np.asarray(x)


def is_tensor(x):
    """True for graphkit values (Tensor, KerasTensor, traced values)."""
    return _is_value(x)
