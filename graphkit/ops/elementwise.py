"""Elementwise primitives: unary, binary and ternary, with NumPy kernels, shape rules,
gradient rules written with gk.ops, and the scalar expression codegen emits.

Public functions normalize their operands (weak Python scalars, ints computed in floatx
where Keras does so) and bind one primitive; a few ops (square, rsqrt, clip, ...) are
composites of primitives and need no rule of their own.
"""
import math

import numpy as np

from graphkit import config, dtypes
from graphkit.ops import casting
from graphkit.ops.convert import convert_to_tensor, promote, to_value
from graphkit.ops.primitive import (PRIMITIVES, ops_namespace as _o, Aval, Primitive,
                                    ShapeError, bind)
from graphkit.ops.shape_rules import broadcast_shapes



def unbroadcast(g, shape):
    """Sum a cotangent `g` back down to an operand's `shape` (the adjoint of broadcasting)."""
    if g.shape == shape:  # the common case, decided before any conversion
        return g
    shape = tuple(shape)
    if tuple(g.shape) == shape:
        return g
    lead = len(g.shape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, d in enumerate(shape) if d == 1 and g.shape[i + lead] != 1)
    if axes:
        # What ops.sum binds for a float cotangent (the axes are already canonical), without
        # its checks: every bias gradient of a backward pass comes through here.
        g = bind(PRIMITIVES["sum"], g, axis=axes, keepdims=False) if dtypes.is_float(g.dtype) \
            else _o().sum(g, axis=axes, keepdims=False)
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
            raise ShapeError(f"{name}: operand dtypes differ ({a.dtype} vs {b.dtype})")
        return Aval(broadcast_shapes(a.shape, b.shape, op=name), out_dtype or a.dtype)
    return infer


def unary_primitive(name, kernel, grad=None, out_dtype=None, expr=None, grad_uses=None):
    return Primitive(name, eager=kernel, infer=_unary_infer(out_dtype), grad=grad,
                     category="elementwise", scalar_expr=expr or name, grad_uses=grad_uses)


def binary_primitive(name, kernel, grad=None, out_dtype=None, expr=None, grad_needs=False,
                     grad_uses=None):
    return Primitive(name, eager=kernel, infer=_binary_infer(name, out_dtype), grad=grad,
                     category="elementwise", scalar_expr=expr or name, grad_needs=grad_needs,
                     grad_uses=grad_uses)


def _float_operand(x):
    """Ops such as exp take ints too and compute in floatx, as Keras does."""
    x = to_value(x)
    if not dtypes.is_float(x.dtype):
        x = cast(x, config.floatx())
    return x


def _float_operands(*xs):
    xs = promote(*xs)
    if not dtypes.is_float(xs[0].dtype):
        xs = [cast(x, config.floatx()) for x in xs]
    return xs


# -- cast and stop_gradient --------------------------------------------------------------

_cast_kernel = casting.astype


def _cast_grad(ct, out, x, dtype):
    return (cast(ct, x.dtype) if dtypes.is_float(x.dtype) else None,)


CAST = Primitive("cast", eager=_cast_kernel, infer=lambda x, dtype: Aval(x.shape, dtype),
                 grad=_cast_grad, grad_uses=(), category="elementwise", scalar_expr="cast",
                 attr_names=("dtype",))


def cast(x, dtype):
    """`x` as `dtype`. Float -> int truncates toward zero and saturates, as in JAX, eagerly
    and compiled alike: NaN gives 0, values out of range the integer type's limits."""
    dtype = dtypes.standardize_dtype(dtype)
    if not hasattr(type(x), "_bind_priority") and not hasattr(x, "_value"):
        # Raw data converts straight to the target dtype: going through floatx first
        # would round 0.9 to float32 before widening it to float64.
        return convert_to_tensor(x, dtype=dtype)
    x = to_value(x)
    if x.dtype == dtype:
        return x
    return bind(CAST, x, dtype=dtype)


STOP_GRADIENT = unary_primitive("stop_gradient", lambda x: x, grad=None, expr="identity")


def stop_gradient(x):
    return bind(STOP_GRADIENT, to_value(x))


# -- arithmetic --------------------------------------------------------------------------

def _minmax_grad(comparison):
    """The cotangent goes to the operand that was selected; ties go to the second operand
    (so relu = maximum(x, 0) has gradient 0 at 0, as in TF and JAX's relu).

    The primitives are bound directly: the operands were promoted by the forward op, and
    `ct` has the output's shape and dtype (every relu of a backward pass comes here)."""
    def grad(ct, out, a, b, needs=(True, True)):
        first = bind(PRIMITIVES[comparison], a, b)
        zero = zero_scalar(ct.dtype)
        return (unbroadcast(bind(WHERE, first, ct, zero), a.shape) if needs[0] else None,
                unbroadcast(bind(WHERE, first, zero, ct), b.shape) if needs[1] else None)
    return grad


_ZEROS = {}


def zero_scalar(dtype):
    """A 0-d zero of `dtype`, one shared (immutable) Tensor per dtype: gradient rules
    select against it, and where() broadcasts it."""
    zero = _ZEROS.get(dtype)
    if zero is None:
        zero = _ZEROS[dtype] = convert_to_tensor(0, dtype=dtype)
    return zero


# Gradient rules of the arithmetic primitives. `needs` (from the eager tape) says which
# operands want a cotangent: `x * 0.5` or `x - data` need only one side.

def _add_grad(ct, out, a, b, needs=(True, True)):
    return (unbroadcast(ct, a.shape) if needs[0] else None,
            unbroadcast(ct, b.shape) if needs[1] else None)


def _subtract_grad(ct, out, a, b, needs=(True, True)):
    return (unbroadcast(ct, a.shape) if needs[0] else None,
            unbroadcast(-ct, b.shape) if needs[1] else None)


def _multiply_grad(ct, out, a, b, needs=(True, True)):
    if a is b and needs[0] and needs[1]:
        # x * x (square): both cotangents are ct * x; computed once, added by the walk.
        g = unbroadcast(ct * a, a.shape)
        return g, g
    return (unbroadcast(ct * b, a.shape) if needs[0] else None,
            unbroadcast(ct * a, b.shape) if needs[1] else None)


def _divide_grad(ct, out, a, b, needs=(True, True)):
    return (unbroadcast(ct / b, a.shape) if needs[0] else None,
            unbroadcast(-ct * out / b, b.shape) if needs[1] else None)


def _power_grad(ct, out, a, b):
    ops = _o()
    ga = ct * b * ops.power(a, b - 1)
    # d/db a**b = a**b log(a); log is only taken where it is defined.
    safe_a = ops.where(a > 0, a, ops.ones_like(a))
    gb = ct * out * ops.log(safe_a)
    return unbroadcast(ga, a.shape), unbroadcast(gb, b.shape)


def _mod_grad(ct, out, a, b):
    ops = _o()
    return (unbroadcast(ct, a.shape),
            unbroadcast(-ct * ops.floor_divide(a, b), b.shape))


# `grad_uses`: what each rule reads as values (the tape frees the rest after the forward).
ADD = binary_primitive("add", np.add, grad=_add_grad, grad_needs=True, grad_uses=())
SUBTRACT = binary_primitive("subtract", np.subtract, grad=_subtract_grad, grad_needs=True,
                            grad_uses=())
MULTIPLY = binary_primitive("multiply", np.multiply, grad=_multiply_grad, grad_needs=True,
                            grad_uses=(0, 1))
DIVIDE = binary_primitive("divide", np.true_divide, grad=_divide_grad, grad_needs=True,
                          grad_uses=(1, "out"))
POWER = binary_primitive("power", np.power, grad=_power_grad)
MAXIMUM = binary_primitive("maximum", np.maximum, grad_needs=True, grad_uses=(0, 1),
                           grad=_minmax_grad("greater"))
MINIMUM = binary_primitive("minimum", np.minimum, grad_needs=True, grad_uses=(0, 1),
                           grad=_minmax_grad("less"))
FLOOR_DIVIDE = binary_primitive("floor_divide", np.floor_divide)
MOD = binary_primitive("mod", np.mod, grad=_mod_grad)


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


true_divide = divide


def power(x1, x2):
    return bind(POWER, *promote(x1, x2))


def maximum(x1, x2):
    return bind(MAXIMUM, *promote(x1, x2))


def minimum(x1, x2):
    return bind(MINIMUM, *promote(x1, x2))


def floor_divide(x1, x2):
    a, b = promote(x1, x2)
    if a.dtype == "bool":
        a, b = cast(a, "int32"), cast(b, "int32")
    return bind(FLOOR_DIVIDE, a, b)


def mod(x1, x2):
    a, b = promote(x1, x2)
    if a.dtype == "bool":
        a, b = cast(a, "int32"), cast(b, "int32")
    return bind(MOD, a, b)


# -- unary math --------------------------------------------------------------------------

def _erf_kernel(x):
    # math.erf per element is exact to the last ulp; vectorize keeps the dtype.
    return _ERF_UFUNC(x).astype(x.dtype, copy=False)


_ERF_UFUNC = np.frompyfunc(math.erf, 1, 1)

NEGATIVE = unary_primitive("negative", np.negative, grad=lambda ct, out, x: (-ct,),
                           grad_uses=())
EXP = unary_primitive("exp", np.exp, grad=lambda ct, out, x: (ct * out,), grad_uses=("out",))
EXPM1 = unary_primitive("expm1", np.expm1, grad=lambda ct, out, x: (ct * (out + 1),),
                        grad_uses=("out",))
LOG = unary_primitive("log", np.log, grad=lambda ct, out, x: (ct / x,), grad_uses=(0,))
LOG1P = unary_primitive("log1p", np.log1p, grad=lambda ct, out, x: (ct / (x + 1),),
                        grad_uses=(0,))
SQRT = unary_primitive("sqrt", np.sqrt, grad=lambda ct, out, x: (ct * 0.5 / out,),
                       grad_uses=("out",))
TANH = unary_primitive("tanh", np.tanh, grad=lambda ct, out, x: (ct * (1 - out * out),),
                       grad_uses=("out",))
SIN = unary_primitive("sin", np.sin, grad=lambda ct, out, x: (ct * _o().cos(x),))
COS = unary_primitive("cos", np.cos, grad=lambda ct, out, x: (-ct * _o().sin(x),))
ABS = unary_primitive("abs", np.abs, grad=lambda ct, out, x: (ct * _o().sign(x),))
SIGN = unary_primitive("sign", np.sign)
FLOOR = unary_primitive("floor", np.floor)
CEIL = unary_primitive("ceil", np.ceil)
ROUND = unary_primitive("round", np.round)


# Per float dtype: the same-size signed int for bit views, its bit width, and the bits of 1.0.
_SIGMOID_BITS = {np.dtype("float16"): (np.int16, 16, 0x3C00),
                 np.dtype("float32"): (np.int32, 32, 0x3F800000),
                 np.dtype("float64"): (np.int64, 64, 0x3FF0000000000000)}


def _sigmoid_kernel(x):
    # exp of a non-positive number only, so no overflow warning for large |x|:
    # sigmoid(x) = 1 / (1 + e) for x >= 0, e / (1 + e) below, with e = exp(-|x|).
    # Written with out= buffers: this runs on every eager step of a sigmoid output layer.
    # The numerator is max(v, e), with v = 1.0 for x >= 0 and a negative number for x < 0:
    # so 1, or e (which is >= 0); a NaN x gives NaN through e. No masked select (NumPy's
    # is slow on large random masks), and v comes from SIMD integer ops on the bits:
    # np.sign and np.copysign are scalar loops, 5x slower than a shift or an xor.
    x = np.asarray(x)
    bits = _SIGMOID_BITS.get(x.dtype)
    if bits is None:  # another float dtype: the same numerator, from np.sign
        e = np.abs(x, out=np.empty_like(x))
        np.negative(e, out=e)
        np.exp(e, out=e)
        out = np.sign(x, out=np.empty_like(x))
        np.maximum(out, e, out=out)
        e += 1
        np.divide(out, e, out=out)
        return out
    int_type, width, one = bits
    x_bits = x.view(int_type)
    # -|x|: the sign bit set (one pass, where negative(abs(x)) takes two).
    # (out= buffers throughout: on 0-d operands the ufuncs would return NumPy scalars.)
    e = np.bitwise_or(x_bits, int_type(-1 << (width - 1)), out=np.empty_like(x_bits))
    e = e.view(x.dtype)
    np.exp(e, out=e)
    # The arithmetic shift spreads the sign bit: 0 for x >= 0, all ones below. Xor with
    # the bits of 1.0 then gives 1.0, or (sign bit set) a negative number.
    v = np.right_shift(x_bits, width - 1, out=np.empty_like(x_bits))
    np.bitwise_xor(v, int_type(one), out=v)
    out = v.view(x.dtype)
    np.maximum(out, e, out=out)
    e += 1
    np.divide(out, e, out=out)
    return out


SIGMOID = unary_primitive("sigmoid", _sigmoid_kernel,
                          grad=lambda ct, out, x: (ct * out * (1 - out),),
                          grad_uses=("out",))
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
ERF = unary_primitive("erf", _erf_kernel,
                      grad=lambda ct, out, x: (ct * _TWO_OVER_SQRT_PI * _o().exp(-(x * x)),))


def negative(x):
    return bind(NEGATIVE, to_value(x))


def exp(x):
    return bind(EXP, _float_operand(x))


def expm1(x):
    return bind(EXPM1, _float_operand(x))


def log(x):
    return bind(LOG, _float_operand(x))


def log1p(x):
    return bind(LOG1P, _float_operand(x))


def log2(x):
    return log(x) / math.log(2.0)


def log10(x):
    return log(x) / math.log(10.0)


def sqrt(x):
    return bind(SQRT, _float_operand(x))


def rsqrt(x):
    return 1 / sqrt(x)


def square(x):
    x = to_value(x)
    if x.dtype == "bool":
        x = cast(x, "int32")
    return multiply(x, x)


def reciprocal(x):
    return 1 / _float_operand(x)


def tanh(x):
    return bind(TANH, _float_operand(x))


def sin(x):
    return bind(SIN, _float_operand(x))


def cos(x):
    return bind(COS, _float_operand(x))


def tan(x):
    x = _float_operand(x)
    return sin(x) / cos(x)


def sinh(x):
    x = _float_operand(x)
    return (exp(x) - exp(-x)) * 0.5


def cosh(x):
    x = _float_operand(x)
    return (exp(x) + exp(-x)) * 0.5


def sigmoid(x):
    return bind(SIGMOID, _float_operand(x))


def erf(x):
    return bind(ERF, _float_operand(x))


def abs(x):
    x = to_value(x)
    if x.dtype == "bool":
        return x
    return bind(ABS, x)


absolute = abs


def sign(x):
    x = to_value(x)
    if x.dtype == "bool":
        return x
    return bind(SIGN, x)


def _rounding(prim, x):
    x = to_value(x)
    if not dtypes.is_float(x.dtype):
        x = cast(x, config.floatx())  # Keras: floor/ceil of ints give floats
    return bind(prim, x)


def floor(x):
    return _rounding(FLOOR, x)


def ceil(x):
    return _rounding(CEIL, x)


def round(x, decimals=0):
    """Round half to even, as NumPy and Keras do; ints are returned unchanged."""
    x = to_value(x)
    if not dtypes.is_float(x.dtype):
        if decimals >= 0:
            return x
        factor = 10 ** (-decimals)
        q = floor_divide(x, factor)
        r = x - q * factor  # in [0, factor)
        # Up when past the half, or at the half with q odd (to even); compared with
        # factor - r so that 2 * r cannot overflow a narrow int.
        up = logical_or(greater(r, factor - r),
                        logical_and(equal(r, factor - r), not_equal(mod(q, 2), 0)))
        return (q + cast(up, x.dtype)) * factor
    if decimals == 0:
        return bind(ROUND, x)
    factor = 10.0 ** decimals
    return bind(ROUND, x * factor) / factor


def clip(x, x_min, x_max):
    """`x` limited to [x_min, x_max]; a bound of None is no bound, as in NumPy."""
    x = to_value(x)
    if x.dtype == "bool":
        x = cast(x, "int32")
    if x_min is not None:
        x = maximum(x, x_min)
    if x_max is not None:
        x = minimum(x, x_max)
    return x


# -- comparisons and logic ---------------------------------------------------------------

def _comparison(name, kernel):
    prim = binary_primitive(name, kernel, out_dtype="bool")

    def op(x1, x2):
        return bind(prim, *promote(x1, x2))
    op.__name__ = name
    op.__doc__ = f"Elementwise `{name}` with broadcasting; returns a bool tensor."
    return prim, op


EQUAL, equal = _comparison("equal", np.equal)
NOT_EQUAL, not_equal = _comparison("not_equal", np.not_equal)
LESS, less = _comparison("less", np.less)
LESS_EQUAL, less_equal = _comparison("less_equal", np.less_equal)
GREATER, greater = _comparison("greater", np.greater)
GREATER_EQUAL, greater_equal = _comparison("greater_equal", np.greater_equal)

LOGICAL_AND = binary_primitive("logical_and", np.logical_and)
LOGICAL_OR = binary_primitive("logical_or", np.logical_or)
LOGICAL_XOR = binary_primitive("logical_xor", np.logical_xor)
LOGICAL_NOT = unary_primitive("logical_not", np.logical_not)
ISNAN = unary_primitive("isnan", np.isnan, out_dtype="bool")
ISINF = unary_primitive("isinf", np.isinf, out_dtype="bool")


def _bools(*xs):
    return [cast(x, "bool") for x in promote(*xs)]


def logical_and(x1, x2):
    return bind(LOGICAL_AND, *_bools(x1, x2))


def logical_or(x1, x2):
    return bind(LOGICAL_OR, *_bools(x1, x2))


def logical_xor(x1, x2):
    return bind(LOGICAL_XOR, *_bools(x1, x2))


def logical_not(x):
    return bind(LOGICAL_NOT, cast(x, "bool"))


def isnan(x):
    x = to_value(x)
    if not dtypes.is_float(x.dtype):
        return _o().zeros_like(x, dtype="bool")
    return bind(ISNAN, x)


def isinf(x):
    x = to_value(x)
    if not dtypes.is_float(x.dtype):
        return _o().zeros_like(x, dtype="bool")
    return bind(ISINF, x)


def isfinite(x):
    x = to_value(x)
    if not dtypes.is_float(x.dtype):
        return _o().ones_like(x, dtype="bool")
    # |x| < inf is false for +-inf and for NaN (an ordered compare): two ops, not four
    return less(abs(x), np.inf)


def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    x = to_value(x)
    if not dtypes.is_float(x.dtype):
        return x
    info = np.finfo(x.dtype)
    x = where(isnan(x), nan, x)
    x = where(x == np.inf, info.max if posinf is None else posinf, x)
    return where(x == -np.inf, info.min if neginf is None else neginf, x)


# -- bitwise -----------------------------------------------------------------------------

def _integer_dtype_check(name, dtype, allow_bool=True):
    if not (dtypes.is_int(dtype) or (allow_bool and dtype == "bool")):
        kinds = "integer or bool" if allow_bool else "integer"
        raise TypeError(f"{name}: needs {kinds} operands, received {dtype}")


def _bitwise_unary_infer(name):
    def infer(x):
        _integer_dtype_check(name, x.dtype)
        return Aval(x.shape, x.dtype)
    return infer


def _bitwise_binary_infer(name, allow_bool=True):
    base = _binary_infer(name)

    def infer(a, b):
        _integer_dtype_check(name, a.dtype, allow_bool)
        return base(a, b)
    return infer


def _bitwise_primitive(name, kernel, infer):
    return Primitive(name, eager=kernel, infer=infer, grad=None, category="elementwise",
                     scalar_expr=name)


# Shifts by a negative amount or by >= the bit width give what NumPy gives on every
# platform (npy_lshift / npy_rshift test the amount as unsigned): 0 for left shifts, the
# sign fill (0 or -1) for right shifts. Codegen emits the same, never LLVM's poison.
BITWISE_AND = _bitwise_primitive("bitwise_and", np.bitwise_and,
                                 _bitwise_binary_infer("bitwise_and"))
BITWISE_OR = _bitwise_primitive("bitwise_or", np.bitwise_or,
                                _bitwise_binary_infer("bitwise_or"))
BITWISE_XOR = _bitwise_primitive("bitwise_xor", np.bitwise_xor,
                                 _bitwise_binary_infer("bitwise_xor"))
BITWISE_NOT = _bitwise_primitive("bitwise_not", np.invert, _bitwise_unary_infer("bitwise_not"))
LEFT_SHIFT = _bitwise_primitive("left_shift", np.left_shift,
                                _bitwise_binary_infer("left_shift", allow_bool=False))
RIGHT_SHIFT = _bitwise_primitive("right_shift", np.right_shift,
                                 _bitwise_binary_infer("right_shift", allow_bool=False))


def _integer_operands(name, *xs):
    """Promoted operands, checked before binding so a float fails with NumPy's TypeError
    rather than computing on the float's bits."""
    xs = promote(*xs)
    _integer_dtype_check(name, xs[0].dtype)
    return xs


def bitwise_and(x, y):
    """x & y elementwise, for integer and bool operands (bool & bool is bool)."""
    return bind(BITWISE_AND, *_integer_operands("bitwise_and", x, y))


def bitwise_or(x, y):
    """x | y elementwise, for integer and bool operands."""
    return bind(BITWISE_OR, *_integer_operands("bitwise_or", x, y))


def bitwise_xor(x, y):
    """x ^ y elementwise, for integer and bool operands."""
    return bind(BITWISE_XOR, *_integer_operands("bitwise_xor", x, y))


def bitwise_not(x):
    """~x elementwise: all bits flipped (-x - 1 for signed ints, logical not for bool)."""
    (x,) = _integer_operands("bitwise_not", x)
    return bind(BITWISE_NOT, x)


bitwise_invert = bitwise_not


def _shift_operands(name, x, y):
    a, b = _integer_operands(name, x, y)
    if a.dtype == "bool":  # NumPy has no bool shift loop: it shifts bools as int8
        a, b = cast(a, "int8"), cast(b, "int8")
    return a, b


def left_shift(x, y):
    """x << y, wrapping in x's dtype; a negative or >= bit-width shift gives 0 (NumPy)."""
    return bind(LEFT_SHIFT, *_shift_operands("left_shift", x, y))


def right_shift(x, y):
    """x >> y (arithmetic for signed ints); a negative or >= bit-width shift gives the sign
    fill, -1 for negative x and 0 otherwise (NumPy)."""
    return bind(RIGHT_SHIFT, *_shift_operands("right_shift", x, y))


bitwise_left_shift = left_shift
bitwise_right_shift = right_shift


# -- where -------------------------------------------------------------------------------

def _where_infer(c, a, b):
    if c.dtype != "bool":
        raise ShapeError(f"where: condition must be bool, received {c.dtype}")
    if a.dtype != b.dtype:
        raise ShapeError(f"where: operand dtypes differ ({a.dtype} vs {b.dtype})")
    return Aval(broadcast_shapes(c.shape, a.shape, b.shape, op="where"), a.dtype)


def _where_grad(ct, out, c, a, b, needs=(True, True, True)):
    zero = zero_scalar(ct.dtype)
    return (None, unbroadcast(bind(WHERE, c, ct, zero), a.shape) if needs[1] else None,
            unbroadcast(bind(WHERE, c, zero, ct), b.shape) if needs[2] else None)


# Output sizes below this use np.where; above it the bitwise select wins (its five passes
# are vectorized, where np.where branches per element on a random mask: 15x slower here).
_SELECT_MIN_SIZE = 4096
_UINT_OF_ITEMSIZE = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def _where_kernel(c, a, b):
    """np.where(c, a, b), computed as b ^ ((a ^ b) & mask) on the operands' bits: exact for
    every value (NaN and inf included) and branch-free."""
    uint = _UINT_OF_ITEMSIZE.get(a.dtype.itemsize)
    if uint is None or a.dtype != b.dtype or max(c.size, a.size, b.size) < _SELECT_MIN_SIZE:
        return np.where(c, a, b)
    mask = c.astype(uint)
    np.negative(mask, out=mask)  # 1 -> all bits set, 0 -> none
    a_bits, b_bits = a.view(uint), b.view(uint)
    # (c.shape == a.shape first: np.broadcast_shapes is pure Python, slower than the select)
    if b.ndim == 0 and not b_bits and (c.shape == a.shape or
                                       a.shape == np.broadcast_shapes(c.shape, a.shape)):
        # where(c, a, 0), as in relu's gradient: one pass, and into the mask's memory
        # when it has the output's shape.
        out = mask if mask.shape == a.shape else None
        return np.bitwise_and(a_bits, mask, out=out).view(a.dtype)
    if c.shape == a.shape == b.shape:
        bits = np.bitwise_xor(a_bits, b_bits)
        bits &= mask
        bits ^= b_bits
    else:
        bits = np.bitwise_xor(np.bitwise_and(np.bitwise_xor(a_bits, b_bits), mask), b_bits)
    return bits.view(a.dtype)


WHERE = Primitive("where", eager=_where_kernel, infer=_where_infer, grad=_where_grad,
                  category="elementwise", scalar_expr="select", grad_needs=True,
                  grad_uses=(0,))


def where(condition, x1=None, x2=None):
    """`condition ? x1 : x2` with broadcasting (the one-argument form is data-dependent and
    not supported: its output shape would depend on the values)."""
    if x1 is None or x2 is None:
        raise ValueError("where: x1 and x2 are required (the one-argument form of where has "
                         "a data-dependent shape, which graphkit does not support)")
    a, b = promote(x1, x2)
    return bind(WHERE, cast(condition, "bool"), a, b)


# -- composites over the primitives above ------------------------------------------------

def logaddexp(x1, x2):
    """log(exp(x1) + exp(x2)), stable for large inputs."""
    a, b = _float_operands(x1, x2)
    hi = maximum(a, b)
    return hi + log1p(exp(-abs(a - b)))


def divide_no_nan(x1, x2):
    """x1 / x2, with 0 where x2 == 0 (the division is made safe, so gradients stay finite)."""
    a, b = _float_operands(x1, x2)
    zero = equal(b, 0)
    safe = where(zero, _o().ones_like(b), b)
    return where(zero, _o().zeros_like(a / safe), a / safe)


def isclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    a, b = promote(x1, x2)
    if not dtypes.is_float(a.dtype):
        return equal(a, b)
    close = less_equal(abs(a - b), atol + rtol * abs(b))
    close = logical_or(close, equal(a, b))  # equal infinities
    if equal_nan:
        close = logical_or(close, logical_and(isnan(a), isnan(b)))
    return close


def select(condlist, choicelist, default=0):
    """NumPy's select: the first matching condition's choice, else `default`."""
    if len(condlist) != len(choicelist):
        raise ValueError(f"select: condlist and choicelist must have the same length, "
                         f"received {len(condlist)} and {len(choicelist)}")
    out = default
    for cond, choice in reversed(list(zip(condlist, choicelist))):
        out = where(cond, choice, out)
    return to_value(out)


# -- NumPy math written with the primitives above ----------------------------------------

def deg2rad(x):
    """x * pi / 180."""
    return _float_operand(x) * (math.pi / 180.0)


def rad2deg(x):
    """x * 180 / pi."""
    return _float_operand(x) * (180.0 / math.pi)


def trunc(x):
    """Rounding toward zero: ceil(x) for x < 0, floor(x) otherwise (ceil(-0.5) is -0.0, as
    NumPy's); ints and bools are returned unchanged, as in Keras."""
    x = to_value(x)
    if not dtypes.is_float(x.dtype):
        return x
    return where(less(x, 0), ceil(x), floor(x))


def fabs(x):
    """|x| as a float (ints and bools in floatx, as Keras's fabs)."""
    return abs(_float_operand(x))


def exp2(x):
    """2 ** x with the power primitive: pow's own rounding, where exp(x ln 2) would round
    x ln 2 first and the exp would amplify that error |x ln 2| times."""
    x = _float_operand(x)
    return power(cast(2, x.dtype), x)


def logaddexp2(x1, x2):
    """log2(2 ** x1 + 2 ** x2) = hi + log1p(2 ** (lo - hi)) / ln 2, stable for large inputs.

    hi, lo are picked with one `where` on x1 >= x2 (not maximum/minimum), so that a tie
    still sends half the gradient to each operand; equal infinities give themselves (their
    difference would be NaN)."""
    a, b = _float_operands(x1, x2)
    first = greater_equal(a, b)
    hi = where(first, a, b)
    gap = where(first, b - a, a - b)  # <= 0
    out = hi + log1p(exp2(gap)) * (1.0 / math.log(2.0))
    return where(logical_and(isinf(a), equal(a, b)), a, out)


def heaviside(x1, x2):
    """0 where x1 < 0, x2 where x1 == 0, 1 where x1 > 0, NaN where x1 is NaN (NumPy's),
    in a float dtype."""
    a, b = _float_operands(x1, x2)
    step = where(less(a, 0), zero_scalar(a.dtype), where(greater(a, 0), cast(1, a.dtype), b))
    return where(isnan(a), a, step)


def hypot(x1, x2):
    """sqrt(x1**2 + x2**2) = hi * sqrt(1 + (lo / hi)**2), hi = max(|x1|, |x2|): no
    overflow or underflow of the squares. inf with anything (NaN too) is inf, as in NumPy.

    hi and lo are picked with one `where` (not maximum/minimum), so that at |x1| == |x2| each
    operand gets its gradient x / hypot; 0 / 0 is made safe (hypot(0, 0) = 0, gradient 0)."""
    a, b = _float_operands(x1, x2)
    abs_a, abs_b = abs(a), abs(b)
    first = greater_equal(abs_a, abs_b)
    hi, lo = where(first, abs_a, abs_b), where(first, abs_b, abs_a)
    is_zero = equal(hi, 0)  # then lo is 0 too, or NaN (which the result keeps)
    ratio = lo / where(is_zero, cast(1, hi.dtype), hi)
    out = where(is_zero, lo, hi * sqrt(1 + ratio * ratio))
    return where(logical_or(isinf(a), isinf(b)), cast(np.inf, a.dtype), out)


def signbit(x):
    """Whether the sign bit is set: x < 0, or x is -0.0 (1 / -0.0 = -inf). Ints: x < 0.

    Limitation: a NaN's sign bit cannot be read with the primitives (there is no bitcast),
    so signbit(NaN) is False whatever its sign bit."""
    x = to_value(x)
    if x.dtype == "bool":
        return _o().zeros_like(x, dtype="bool")
    if not dtypes.is_float(x.dtype):
        return less(x, 0)
    is_zero = equal(x, 0)
    # Only the zeros are divided; NumPy still warns about those, which are expected here.
    with np.errstate(divide="ignore"):
        zero_sign = less(1 / where(is_zero, x, cast(1, x.dtype)), 0)
    return logical_or(less(x, 0), logical_and(is_zero, zero_sign))


def isposinf(x):
    """x == +inf (False for ints and bools)."""
    return _infinity_test(x, np.inf)


def isneginf(x):
    """x == -inf (False for ints and bools)."""
    return _infinity_test(x, -np.inf)


def _infinity_test(x, infinity):
    x = to_value(x)
    if not dtypes.is_float(x.dtype):
        return _o().zeros_like(x, dtype="bool")
    return equal(x, infinity)


def fmax(x1, x2):
    """maximum(x1, x2) ignoring NaN: the other operand where one is NaN (NaN if both)."""
    return _nan_ignoring(maximum, x1, x2)


def fmin(x1, x2):
    """minimum(x1, x2) ignoring NaN: the other operand where one is NaN (NaN if both)."""
    return _nan_ignoring(minimum, x1, x2)


def _nan_ignoring(extremum, x1, x2):
    a, b = promote(x1, x2)
    if not dtypes.is_float(a.dtype):
        return extremum(a, b)
    return where(isnan(b), a, where(isnan(a), b, extremum(a, b)))


def cbrt(x):
    """The real cube root, sign-correct: sign(x) * |x| ** (1/3), computed in float64 with
    one Newton step y - (y - |x| / y**2) / 3 (1/3 is not exact in binary, so the power
    alone is off by ~|log x| ulps), then cast back; zeros (and -0.0) give themselves."""
    x = _float_operand(x)
    magnitude = abs(cast(x, "float64"))
    y = power(magnitude, 1.0 / 3.0)
    regular = logical_and(greater(y, 0), less(y, np.inf))  # not 0, inf or NaN
    one = cast(1, "float64")
    # The step runs on 1 elsewhere: inf - inf there would be NaN (and a NumPy warning).
    safe_y, safe_magnitude = where(regular, y, one), where(regular, magnitude, one)
    step = (safe_y - safe_magnitude / (safe_y * safe_y)) * (1.0 / 3.0)
    refined = where(regular, safe_y - step, y)
    root = cast(refined, x.dtype)
    return where(equal(x, 0), x, where(less(x, 0), -root, root))


def sinc(x):
    """sin(pi x) / (pi x), 1 at x = 0 (the division is made safe there, so the gradient,
    0 at x = 0, stays finite)."""
    x = _float_operand(x)
    is_zero = equal(x, 0)
    scaled = where(is_zero, cast(1, x.dtype), x) * math.pi
    return where(is_zero, cast(1, x.dtype), sin(scaled) / scaled)


# -- composites from NumPy's and Keras's namespaces ---------------------------------------

def fmod(x1, x2):
    """The C remainder: x1 - trunc(x1 / x2) * x2, with the sign of x1 (mod's has x2's).

    |x1| mod |x2| has no sign to fix, so mod gives it exactly (both are the exact remainder
    of the magnitudes); x1's sign bit is then put on it (-0.0 stays -0.0, as NumPy's)."""
    a, b = promote(x1, x2)
    if a.dtype == "bool":
        a, b = cast(a, "int32"), cast(b, "int32")
    r = mod(abs(a), abs(b))
    return where(signbit(a), negative(r), r)


def ldexp(x1, x2):
    """x1 * 2 ** x2 for int exponents `x2` (floatx for int or bool x1, as Keras)."""
    e = to_value(x2)
    if not (e.dtype.startswith("int") or e.dtype.startswith("uint")):
        raise TypeError(f"ldexp: the exponent `x2` must have an int dtype, received {e.dtype}")
    x = _float_operand(x1)
    # 2 ** e via pow, exact for int e in range (a power of two is representable).
    return x * power(cast(2, x.dtype), cast(e, x.dtype))


def isreal(x):
    """Whether each element is real: always True (graphkit has no complex dtypes)."""
    x = to_value(x)
    return _o().ones_like(x, dtype="bool")


def allclose(x1, x2, rtol=1e-5, atol=1e-8, equal_nan=False):
    """Whether every element pair is close (`isclose`), as one boolean scalar."""
    return _o().all(isclose(x1, x2, rtol=rtol, atol=atol, equal_nan=equal_nan))


def _dtype_limits(dtype):
    if dtype == "bool":
        return 0, 1
    info = np.iinfo(dtype) if dtypes.is_int(dtype) else np.finfo(dtype)
    return info.min, info.max


def saturate_cast(x, dtype):
    """`x` cast to `dtype` with out-of-range values clipped to its limits (NaN -> 0 for
    ints). Keras's rule: the limits are taken in x's dtype, nudged toward 0 when rounding
    there would put them out of `dtype`'s range, so no cast overflows."""
    x = to_value(x)
    dtype = dtypes.standardize_dtype(dtype)
    if dtypes.is_float(x.dtype) and dtypes.is_int(dtype):
        # graphkit's float -> int cast saturates already, to the exact limits (as XLA's,
        # which Keras's JAX backend relies on), where the nudged clip stops short of them.
        return cast(x, dtype)
    in_min, in_max = _dtype_limits(x.dtype)
    out_min, out_max = _dtype_limits(dtype)
    with np.errstate(over="ignore"):
        lo = np.asarray(np.maximum(in_min, out_min)).astype(x.dtype)
        hi = np.asarray(np.minimum(in_max, out_max)).astype(x.dtype)
    # Python compares its ints and floats exactly (NumPy would round the int to x's dtype:
    # float32(2**31) > 2**31 - 1 would be False).
    if lo.item() < out_min:
        lo = np.nextafter(lo, 0, dtype=x.dtype)
    if hi.item() > out_max:
        hi = np.nextafter(hi, 0, dtype=x.dtype)
    if x.dtype == "bool":
        return cast(x, dtype)
    return cast(clip(x, lo.item(), hi.item()), dtype)
