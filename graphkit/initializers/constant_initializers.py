"""Initializers that need no randomness: Constant, Zeros, Ones, Identity."""
import numpy as np

from graphkit import dtypes, ops
from graphkit.initializers.initializer import Initializer, normalize_shape


class Constant(Initializer):
    """Every entry equal to `value` (a number, or an array that broadcasts to the shape)."""

    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=None):
        shape = normalize_shape(shape, "Constant")
        dtype = dtypes.standardize_dtype(dtype)
        return ops.broadcast_to(ops.convert_to_tensor(self.value, dtype=dtype), shape)

    def get_config(self):
        value = self.value
        if hasattr(value, "shape"):
            value = np.asarray(value).tolist()
        return {"value": value}


class Zeros(Initializer):
    def __call__(self, shape, dtype=None):
        return ops.zeros(normalize_shape(shape, "Zeros"), dtype=dtypes.standardize_dtype(dtype))


class Ones(Initializer):
    def __call__(self, shape, dtype=None):
        return ops.ones(normalize_shape(shape, "Ones"), dtype=dtypes.standardize_dtype(dtype))


class Identity(Initializer):
    """`gain` times the identity matrix; 2D shapes only (rectangular allowed)."""

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None):
        shape = normalize_shape(shape, "Identity")
        if len(shape) != 2:
            raise ValueError(f"Identity initializer can only be used for 2D matrices, "
                             f"received shape={shape} of rank {len(shape)}")
        dtype = dtypes.standardize_dtype(dtype)
        return ops.multiply(ops.eye(shape[0], shape[1], dtype=dtype), self.gain)

    def get_config(self):
        return {"gain": self.gain}
