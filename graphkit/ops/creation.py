"""Creation ops: constants made from shapes and fill values."""
import numpy as np

from graphkit import dtypes
from graphkit.ops.convert import convert_to_tensor, to_value
from graphkit.ops.primitive import Aval, Primitive, bind

FULL = Primitive("full", eager=lambda shape, value, dtype: np.full(shape, value, dtype=dtype),
                 infer=lambda shape, value, dtype: Aval(shape, dtype), category="creation",
                 attr_names=("shape", "value", "dtype"))


def full(shape, fill_value, dtype=None):
    shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)
    if dtype is None:
        dtype = convert_to_tensor(fill_value).dtype if not hasattr(fill_value, "dtype") \
            else fill_value.dtype
    dtype = dtypes.standardize_dtype(dtype)
    if hasattr(fill_value, "shape") and tuple(fill_value.shape) != ():
        from graphkit.ops.layout import broadcast_to
        from graphkit.ops.elementwise import cast
        return broadcast_to(cast(fill_value, dtype), shape)
    value = np.asarray(fill_value, dtype=dtype).item() if not hasattr(fill_value, "_bind_priority") \
        else np.asarray(fill_value).item()
    return bind(FULL, shape=shape, value=value, dtype=dtype)


def zeros(shape, dtype=None):
    return full(shape, 0, dtype=dtypes.standardize_dtype(dtype))


def ones(shape, dtype=None):
    return full(shape, 1, dtype=dtypes.standardize_dtype(dtype))


def zeros_like(x, dtype=None):
    x = to_value(x)
    return full(x.shape, 0, dtype=dtype or x.dtype)


def ones_like(x, dtype=None):
    x = to_value(x)
    return full(x.shape, 1, dtype=dtype or x.dtype)
