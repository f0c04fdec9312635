"""Turning user arguments into graphkit values, and the weak-scalar promotion of operands."""
import numbers

import numpy as np

from graphkit import config, dtypes
from graphkit.core.tensor import Tensor, _dtype_name
from graphkit.ops import casting


def _is_value(x):
    return hasattr(type(x), "_bind_priority")


def _is_scalar(x):
    return isinstance(x, (numbers.Number, np.bool_)) and not isinstance(x, np.ndarray)


def _array_from_python(x, dtype):
    if dtype is not None:
        dtype = dtypes.standardize_dtype(dtype)
        a = np.asarray(x)
        if a.dtype.kind == "f":  # float data to an int dtype saturates, as ops.cast does
            return casting.astype(a, dtype)
        return np.asarray(x, dtype=dtype)
    a = np.asarray(x)
    if a.dtype.kind == "f" and not isinstance(x, np.ndarray) and not isinstance(x, np.generic):
        return a.astype(config.floatx())  # Python floats are weak: floatx
    if a.dtype.kind in "iu" and not isinstance(x, (np.ndarray, np.generic)):
        if a.size and (a.min() < _INT32.min or a.max() > _INT32.max):
            # Python ints become int32 (as in Keras); wrapping around would be silent.
            raise ValueError(f"convert_to_tensor: Python ints become int32, and {x!r} holds "
                             f"values outside its range; pass dtype='int64'")
        return a.astype("int32")
    if a.dtype.kind not in "biuf":
        raise TypeError(f"convert_to_tensor: cannot convert a value of dtype {a.dtype} "
                        f"(received {type(x).__name__})")
    return a


_INT32 = np.iinfo(np.int32)


def convert_to_tensor(x, dtype=None, sparse=None):
    """Any tensor-like (array, list, scalar, Tensor, Variable) as a graphkit value."""
    if type(x) is Tensor and (dtype is None or dtype == x.dtype):
        return x  # the common case, decided without the checks below
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


def array(x, dtype=None):
    """keras.ops.array: `convert_to_tensor`."""
    return convert_to_tensor(x, dtype=dtype)


def dtype(x):
    """The standardized dtype name of `x` (a tensor, variable, array or Python value)."""
    value = getattr(x, "dtype", None)
    if value is None:
        return convert_to_tensor(x).dtype
    return dtypes.standardize_dtype(value)


def to_value(x):
    """Like convert_to_tensor, but leaves values as they are (the fast path of every op)."""
    if type(x) is Tensor or _is_value(x):
        return x
    return convert_to_tensor(x)


def promote(*xs, dtype=None):
    """Operands converted to one dtype: the result type, with Python scalars weak."""
    if dtype is None and len(xs) == 2:
        # The commonest eager cases, two Tensors of one dtype (a layer's weight read once
        # from its Variable), decided in a few checks.
        a, b = xs
        if type(b) is _VARIABLE[0]:
            b = b.value
            xs = (a, b)
        if type(a) is Tensor and type(b) is Tensor and a._array.dtype is b._array.dtype:
            return [a, b]
    fast = _promote_tensor_and_floats(xs, dtype)
    if fast is not None:
        return fast
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


def _promote_tensor_and_floats(xs, dtype):
    """The common eager case of `promote`, or None: Tensors (or Variables holding Tensors,
    as a layer's weights) of one dtype (any kind), or of one float dtype with Python floats
    or ints among them (weak: they take the Tensors' dtype). Same result as the general
    path, without building the dtype lists."""
    if dtype is not None:
        return None
    target = None  # the NumPy dtype of the Tensors
    has_scalar = False
    values = None  # set when a Variable was read: the operands with its value in its place
    for i, x in enumerate(xs):
        tx = type(x)
        if tx is _VARIABLE[0]:
            x = x.value  # read once: a tape records the read of this very value
            if type(x) is not Tensor:
                return None
            if values is None:
                values = list(xs)
            values[i] = x
            tx = Tensor
        if tx is Tensor:
            d = x._array.dtype
            if target is None:
                target = d
            elif d is not target and d != target:
                return None
        elif tx in _WEAK_NUMBERS:
            has_scalar = True
        else:
            return None
    if target is None:
        return None
    if values is not None:
        xs = values
    if not has_scalar:
        return list(xs)
    if target.kind != "f" or _dtype_name(target) not in dtypes.FLOATS:
        return None
    return [x if type(x) is Tensor else _scalar_tensor(x, target) for x in xs]


def _scalar_tensor(x, dtype):
    """`Tensor(np.asarray(x, dtype))` for a Python number, one Tensor per (number, dtype)
    kept for later ops: the constants of a model's `call` (`0.5 * x`, `x + 1.0`) come back
    on every step. Tensors are immutable, so one can serve every op. Zeros are not kept:
    0.0 and -0.0 are equal keys with different bits."""
    key = (x, type(x), dtype)
    t = _SCALARS.get(key)
    if t is None:
        t = Tensor(np.asarray(x, dtype=dtype))
        if x:
            if len(_SCALARS) >= _MAX_SCALARS:
                _SCALARS.clear()
            _SCALARS[key] = t
    return t


_SCALARS = {}
_MAX_SCALARS = 1024


# graphkit.core.variable registers its class here (it imports this package, so this module
# cannot import it at load time): `_promote_tensor_and_floats` reads weights directly.
_VARIABLE = [None]
_WEAK_NUMBERS = (float, int)  # exactly these types: bool is weak_bool, not weak_int


def convert_to_numpy(x):
    """A NumPy array of a tensor-like (Tensors and Variables give their data)."""
    from graphkit.core.variable import Variable
    if isinstance(x, Variable):
        x = x.value
    return np.asarray(x)


def is_tensor(x):
    """True for graphkit values (Tensor, KerasTensor, traced values)."""
    return _is_value(x)
