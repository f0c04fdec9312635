"""Elementwise primitives: unary, binary and ternary, with NumPy kernels, shape rules,
gradient rules written with gk.ops, and the scalar expression codegen emits.
"""
import numpy as np

from graphkit import config, dtypes
from graphkit.ops.convert import promote, to_value
from graphkit.ops.primitive import Aval, Primitive, bind
from graphkit.ops.shape_rules import broadcast_shapes

_ops = None


def _o():
    """gk.ops, for gradient rules (they may use any op, including later ones)."""
    global _ops
    if _ops is None:
        from graphkit import ops
        _ops = ops
    return _ops


def unbroadcast(g, shape):
    """Sum a cotangent `g` back down to an operand's `shape` (the adjoint of broadcasting)."""
    shape = tuple(shape)
    if tuple(g.shape) == shape:
        return g
    lead = len(g.shape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, d in enumerate(shape) if d == 1 and g.shape[i + lead] != 1)
    if axes:
        g = _o().sum(g, axis=axes, keepdims=False)
    if tuple(g.shape) != shape:
        g = _o().reshape(g, shape)
    return g


# -- factories ---------------------------------------------------------------------------

def _unary_infer(out_dtype=None):
    def infer(x):
        return Aval(x.shape, out_dtype or x.dtype)
    return infer


def _binary_infer(name, out_dtype=None):
    def infer(a, b):
        if a.dtype != b.dtype:
            raise ValueError(f"{name}: operand dtypes differ ({a.dtype} vs {b.dtype})")
        return Aval(broadcast_shapes(a.shape, b.shape, op=name), out_dtype or a.dtype)
    return infer


def unary_primitive(name, kernel, grad=None, out_dtype=None, expr=None):
    return Primitive(name, eager=kernel, infer=_unary_infer(out_dtype), grad=grad,
                     category="elementwise", scalar_expr=expr or name)


def binary_primitive(name, kernel, grad=None, out_dtype=None, expr=None):
    return Primitive(name, eager=kernel, infer=_binary_infer(name, out_dtype), grad=grad,
                     category="elementwise", scalar_expr=expr or name)


def _float_operand(x):
    """Ops such as exp take ints too and compute in floatx, as Keras does."""
    x = to_value(x)
    if not dtypes.is_float(x.dtype):
        x = cast(x, config.floatx())
    return x


# -- cast and stop_gradient --------------------------------------------------------------

def _cast_kernel(x, dtype):
    return x.astype(dtype, copy=False)


def _cast_grad(ct, out, x, dtype):
    return (cast(ct, x.dtype) if dtypes.is_float(x.dtype) else None,)


CAST = Primitive("cast", eager=_cast_kernel, infer=lambda x, dtype: Aval(x.shape, dtype),
                 grad=_cast_grad, category="elementwise", scalar_expr="cast",
                 attr_names=("dtype",))


def cast(x, dtype):
    x = to_value(x)
    dtype = dtypes.standardize_dtype(dtype)
    if x.dtype == dtype:
        return x
    return bind(CAST, x, dtype=dtype)


STOP_GRADIENT = unary_primitive("stop_gradient", lambda x: x, grad=None, expr="identity")


def stop_gradient(x):
    return bind(STOP_GRADIENT, to_value(x))


# -- arithmetic --------------------------------------------------------------------------

ADD = binary_primitive(
    "add", np.add,
    grad=lambda ct, out, a, b: (unbroadcast(ct, a.shape), unbroadcast(ct, b.shape)))
SUBTRACT = binary_primitive(
    "subtract", np.subtract,
    grad=lambda ct, out, a, b: (unbroadcast(ct, a.shape), unbroadcast(-ct, b.shape)))
MULTIPLY = binary_primitive(
    "multiply", np.multiply,
    grad=lambda ct, out, a, b: (unbroadcast(ct * b, a.shape), unbroadcast(ct * a, b.shape)))
DIVIDE = binary_primitive(
    "divide", np.true_divide,
    grad=lambda ct, out, a, b: (unbroadcast(ct / b, a.shape),
                                unbroadcast(-ct * out / b, b.shape)))
NEGATIVE = unary_primitive("negative", np.negative, grad=lambda ct, out, x: (-ct,))
EXP = unary_primitive("exp", np.exp, grad=lambda ct, out, x: (ct * out,))
LOG = unary_primitive("log", np.log, grad=lambda ct, out, x: (ct / x,))


def add(x1, x2):
    return bind(ADD, *promote(x1, x2))


def subtract(x1, x2):
    return bind(SUBTRACT, *promote(x1, x2))


def multiply(x1, x2):
    return bind(MULTIPLY, *promote(x1, x2))


def divide(x1, x2):
    a, b = promote(x1, x2)
    if not dtypes.is_float(a.dtype):  # true division of ints gives floats, as in Keras
        a, b = cast(a, config.floatx()), cast(b, config.floatx())
    return bind(DIVIDE, a, b)


def negative(x):
    return bind(NEGATIVE, to_value(x))


def exp(x):
    return bind(EXP, _float_operand(x))


def log(x):
    return bind(LOG, _float_operand(x))
