"""`gk.Tensor`: a concrete eager value around a NumPy array.

Tensors are immutable by convention: ops return new Tensors, and `Variable.assign` swaps in a
new Tensor. That keeps values recorded on a GradientTape valid.
"""
import numpy as np

from graphkit import config
from graphkit.core.operators import OperatorMixin
from graphkit.ops import primitive as _primitive
from graphkit.ops.primitive import infer_avals

# NumPy ufuncs that have a graphkit op of the same meaning: `np.exp(t)` stays on the tape.
_UFUNC_TO_OP = {
    "add": "add", "subtract": "subtract", "multiply": "multiply", "true_divide": "divide",
    "divide": "divide", "negative": "negative", "power": "power", "exp": "exp", "log": "log",
    "log1p": "log1p", "sqrt": "sqrt", "square": "square", "absolute": "abs", "sign": "sign",
    "tanh": "tanh", "sin": "sin", "cos": "cos", "maximum": "maximum", "minimum": "minimum",
    "equal": "equal", "not_equal": "not_equal", "less": "less", "greater": "greater",
    "less_equal": "less_equal", "greater_equal": "greater_equal", "matmul": "matmul",
    "floor": "floor", "logical_and": "logical_and", "logical_or": "logical_or",
    "logical_not": "logical_not", "logical_xor": "logical_xor", "floor_divide": "floor_divide",
    "remainder": "mod",
}


def _as_array(x):
    return x if type(x) is np.ndarray else np.asarray(x)


# np.dtype.name is computed in Python on every access (about 1 us); `Tensor.dtype` is read
# several times per op, so the names are looked up by dtype object instead.
_DTYPE_NAMES = {}


def _dtype_name(np_dtype):
    name = _DTYPE_NAMES.get(np_dtype)
    if name is None:
        name = _DTYPE_NAMES[np_dtype] = np_dtype.name
    return name


class Tensor(OperatorMixin):
    """An eager value. `.numpy()` gives the array; operators go through `gk.ops`."""

    # _tape_key: (tape token, key) of the GradientTape that watches this value (core/tape.py)
    __slots__ = ("_array", "_keras_mask", "_tape_key", "__weakref__")
    _bind_priority = 0
    _records_gradients = True

    def __init__(self, array):
        self._array = _as_array(array)
        self._keras_mask = None
        self._tape_key = None

    # -- bind: the eager mode of every op ---------------------------------------------------
    @classmethod
    def _bind(cls, prim, args, attrs):
        # No shape rule runs on the success path: the NumPy kernel's result is the answer,
        # and the rule only runs to explain a kernel's failure. One and two operands (most
        # ops) are unpacked without building a list: this runs for every eager op. Without
        # attributes, no `**`: a ufunc called with a keyword dict, even an empty one, takes
        # a slower path (some 700 instructions a call).
        try:
            n = len(args)
            if n == 2:
                out = prim.eager(args[0]._array, args[1]._array, **attrs) if attrs else \
                    prim.eager(args[0]._array, args[1]._array)
            elif n == 1:
                out = prim.eager(args[0]._array, **attrs)
            else:
                out = prim.eager(*[a._array for a in args], **attrs)
        except Exception:
            infer_avals(prim, args, attrs)  # raises a clear error when the operands are at fault
            raise
        if prim.n_outputs == 1:
            result = _tensor_new(Tensor)
            result._array = out if type(out) is np.ndarray else np.asarray(out)
            result._keras_mask = None
            result._tape_key = None
            if _CONFIG_STATE["check_numerics"]:
                _check_numerics(prim, (result,))
            return result
        results = tuple(_new_tensor(o) for o in out)
        if _CONFIG_STATE["check_numerics"]:
            _check_numerics(prim, results)
        return results

    def __getstate__(self):
        # Copies and pickles are new values: no tape watches them (see _tape_key).
        return {"_array": self._array, "_keras_mask": self._keras_mask}

    def __setstate__(self, state):
        self._array, self._keras_mask = state["_array"], state["_keras_mask"]
        self._tape_key = None

    # -- the NumPy-like surface -------------------------------------------------------------
    @property
    def shape(self):
        return self._array.shape

    @property
    def dtype(self):
        np_dtype = self._array.dtype
        name = _DTYPE_NAMES.get(np_dtype)
        return name if name is not None else _dtype_name(np_dtype)

    @property
    def ndim(self):
        return self._array.ndim

    @property
    def size(self):
        return self._array.size

    def numpy(self):
        return self._array

    def __array__(self, dtype=None, copy=None):
        a = self._array
        if dtype is not None and a.dtype != dtype:
            return a.astype(dtype)
        return a.copy() if copy else a

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        op_name = _UFUNC_TO_OP.get(ufunc.__name__)
        if method == "__call__" and op_name is not None and not kwargs:
            from graphkit import ops
            return getattr(ops, op_name)(*inputs)
        arrays = [np.asarray(i) if hasattr(i, "_bind_priority") or hasattr(i, "_value") else i
                  for i in inputs]
        return getattr(ufunc, method)(*arrays, **kwargs)

    def __len__(self):
        if self._array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._array.shape[0]

    def __iter__(self):
        if self._array.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        for i in range(self._array.shape[0]):
            yield self[i]

    def __bool__(self):
        return bool(self._array)

    def __float__(self):
        return float(_one_element(self._array, "float"))

    def __int__(self):
        return int(_one_element(self._array, "int"))

    def __index__(self):
        a = self._array
        if a.ndim != 0 or a.dtype.kind not in "iu":  # as NumPy: a float is never truncated
            raise TypeError(f"only integer scalar tensors can be used as an index, received "
                            f"shape {a.shape}, dtype {a.dtype.name}")
        return int(a)

    def __repr__(self):
        body = np.array2string(self._array, separator=", ", precision=6, threshold=200)
        return f"<Tensor: shape={self.shape}, dtype={self.dtype}, numpy=\n{body}>" \
            if self._array.ndim > 1 else \
            f"<Tensor: shape={self.shape}, dtype={self.dtype}, numpy={body}>"

    __str__ = __repr__

    def __format__(self, spec):
        # f"{loss:.4f}" in a training loop formats the value, as for NumPy and TF scalars.
        return format(self._array, spec) if spec else str(self)


def _one_element(array, what):
    """The single value of a one-element array, as a 0-d array (NumPy 2 only converts 0-d
    arrays to Python scalars)."""
    if array.size != 1:
        raise TypeError(f"{what}() needs a tensor with one element, received a tensor of "
                        f"shape {array.shape}")
    return array.reshape(())


def _new_tensor(out):
    """A Tensor over a kernel's result without `__init__` (kernels return arrays or NumPy
    scalars; only the latter need wrapping)."""
    t = _tensor_new(Tensor)
    t._array = out if type(out) is np.ndarray else np.asarray(out)
    t._keras_mask = None
    t._tape_key = None
    return t


_tensor_new = object.__new__
_primitive._TENSOR[0] = Tensor
_CONFIG_STATE = config._state  # read directly: check_numerics is tested once per op


def _check_numerics(prim, outputs):
    from graphkit import naming
    for o in outputs:
        a = o._array
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            kind = "NaN" if np.isnan(a).any() else "Inf"
            where = naming.current_path() or "top level"
            raise FloatingPointError(
                f"check_numerics: op '{prim.name}' at '{where}' produced {kind} "
                f"(output shape {a.shape}, dtype {a.dtype.name})")
