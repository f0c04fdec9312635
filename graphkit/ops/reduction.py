"""Reductions: sum, mean, max, ... over `axis` with `keepdims`, NumPy's conventions."""
import numpy as np

from graphkit.ops.convert import to_value
from graphkit.ops.primitive import Aval, Primitive, bind
from graphkit.ops.shape_rules import normalize_axis, reduce_shape

_ops = None


def _o():
    global _ops
    if _ops is None:
        from graphkit import ops
        _ops = ops
    return _ops


def _reduce_infer(x, axis, keepdims):
    return Aval(reduce_shape(x.shape, axis, keepdims), x.dtype)


def _expand_back(g, x_shape, axis, keepdims):
    """A reduced cotangent broadcast back to the operand's shape."""
    if not keepdims:
        g = _o().reshape(g, reduce_shape(x_shape, axis, True))
    return _o().broadcast_to(g, x_shape)


def _sum_kernel(x, axis, keepdims):
    return np.sum(x, axis=axis, keepdims=keepdims, dtype=x.dtype)


SUM = Primitive("sum", eager=_sum_kernel, infer=_reduce_infer, category="reduction",
                grad=lambda ct, out, x, axis, keepdims: (_expand_back(ct, x.shape, axis, keepdims),),
                scalar_expr="add", attr_names=("axis", "keepdims"))


def sum(x, axis=None, keepdims=False):
    x = to_value(x)
    if x.dtype == "bool":
        x = _o().cast(x, "int32")
    return bind(SUM, x, axis=normalize_axis(axis, x.ndim, "sum"), keepdims=bool(keepdims))
