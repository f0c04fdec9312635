"""Algebraic identities, applied only where they are exact in floating point.

- `x + (-0.0)`, `x - (+0.0)` (any zero for ints; `-0.0 + 0.0` is `+0.0`), `x * 1`,
  `x / 1` -> `x`, and `x * -1` -> `-x`, when the result has x's type (a constant that
  broadcasts x to a larger shape keeps the op);
- `-(-x)` -> `x`; `stop_gradient(x)` -> `x` (passes run after differentiation);
- `transpose(transpose(x))` -> one transpose (or `x`); `reshape(reshape(x))` ->
  `reshape(x)`; `broadcast_to(broadcast_to(x))` -> `broadcast_to(x)`;
- `cast(cast(x, wider), x.dtype)` -> `x` when the first cast is lossless;
- `exp(log(x))` -> `x` only when x is provably >= 0: for x < 0 the log is NaN and the
  identity fails (for x = 0, exp(log(0)) = exp(-inf) = 0 holds). `log(exp(x))` is not
  rewritten: exp overflows for large x.
"""
import numpy as np

from graphkit import dtypes
from graphkit.ir.passes import canonicalize
from graphkit.ir.pattern import Rewriter, const_array, producer_op, splat_value

NAME = "simplify"


def _same_type_operand(node, i):
    x = node.operands[i]
    return x if x.type == node.outputs[0].type else None


def _is(value, scalar):
    """`value` is a constant whose every element equals `scalar`."""
    s = splat_value(value)
    return s is not None and s == s and s == scalar


def _is_zero(value, negative):
    """`value` is a constant zero, and for floats one of sign `negative`: x + c and x - c
    are x, bit for bit, for every x only with c = -0.0 and c = +0.0 (-0.0 + 0.0 and
    -0.0 - -0.0 are +0.0, and eager gives that)."""
    if not _is(value, 0):
        return False
    if not dtypes.is_float(value.type.dtype):
        return True
    node = value.producer  # a `full` holds one value: no need to build its array
    signs = np.signbit(node.attrs["value"] if node.op == "full" else const_array(value))
    return bool(np.all(signs == negative))


def _add(node, rw):
    a, b = node.operands
    if _is_zero(b, negative=True):
        return _same_type_operand(node, 0)
    if _is_zero(a, negative=True):
        return _same_type_operand(node, 1)
    return None


def _subtract(node, rw):
    return _same_type_operand(node, 0) if _is_zero(node.operands[1], negative=False) else None


def _multiply(node, rw):
    a, b = node.operands
    for x_i, c in ((0, b), (1, a)):
        if _is(c, 1):
            return _same_type_operand(node, x_i)
        if _is(c, -1) and _same_type_operand(node, x_i) is not None:
            return rw.emit("negative", [node.operands[x_i]], node.outputs[0].type)
    return None


def _divide(node, rw):
    return _same_type_operand(node, 0) if _is(node.operands[1], 1) else None


def _double_negative(node, rw):
    x = node.operands[0]
    return x.producer.operands[0] if producer_op(x) == "negative" else None


def _stop_gradient(node, rw):
    return node.operands[0]


def _perm_attr(node):
    key = "axes" if "axes" in node.attrs else "perm"
    return key, node.attrs.get(key)


def _double_transpose(node, rw):
    x = node.operands[0]
    if producer_op(x) != "transpose":
        return None
    key, outer = _perm_attr(node)
    _, inner = _perm_attr(x.producer)
    if outer is None or inner is None:
        return None
    src = x.producer.operands[0]
    perm = tuple(inner[p] for p in outer)
    if perm == tuple(range(len(perm))):
        return src
    attrs = dict(node.attrs)
    attrs[key] = perm
    return rw.emit("transpose", [src], node.outputs[0].type, attrs)


def _reshape_chain(node, rw):
    x = node.operands[0]
    if producer_op(x) != "reshape":
        return None
    src = x.producer.operands[0]
    if src.type == node.outputs[0].type:
        return src
    return rw.emit("reshape", [src], node.outputs[0].type, dict(node.attrs))


def _broadcast_chain(node, rw):
    x = node.operands[0]
    if producer_op(x) != "broadcast_to":
        return None
    return rw.emit("broadcast_to", [x.producer.operands[0]], node.outputs[0].type,
                   dict(node.attrs))


_FLOAT_RANK = {"float16": 0, "float32": 1, "float64": 2}
# Integer dtypes that a float holds exactly: float16 has 11 significant bits, float32 24.
_EXACT_IN_FLOAT = {"float16": ("bool", "int8", "uint8"),
                   "float32": ("bool", "int8", "uint8", "int16", "uint16"),
                   "float64": ("bool", "int8", "uint8", "int16", "uint16", "int32", "uint32")}


def lossless_cast(src, dst):
    """True when every value of dtype `src` survives a cast to `dst` and back."""
    if src == dst or src == "bool":
        return True
    if dtypes.is_float(src):
        return dtypes.is_float(dst) and _FLOAT_RANK[dst] >= _FLOAT_RANK[src]
    if dtypes.is_float(dst):
        return src in _EXACT_IN_FLOAT[dst]
    if dst == "bool":
        return False
    s, d = np.iinfo(src), np.iinfo(dst)
    return d.min <= s.min and s.max <= d.max


def _cast_roundtrip(node, rw):
    x = node.operands[0]
    if producer_op(x) != "cast":
        return None
    src = x.producer.operands[0]
    if src.type == node.outputs[0].type and lossless_cast(src.type.dtype, x.type.dtype):
        return src
    return None


_NONNEG_OPS = ("exp", "sqrt", "abs", "square", "relu", "relu6", "sigmoid", "softplus")


def nonnegative(value):
    """A conservative proof that every element of `value` is >= 0 (or NaN)."""
    op = producer_op(value)
    if op in _NONNEG_OPS:
        return True
    if op == "multiply" and value.producer.operands[0] is value.producer.operands[1]:
        return True
    a = const_array(value)
    return a is not None and not np.any(a < 0)


def _exp_log(node, rw):
    x = node.operands[0]
    if producer_op(x) == "log" and nonnegative(x.producer.operands[0]):
        src = x.producer.operands[0]
        return src if src.type == node.outputs[0].type else None
    return None


RULES = [
    ("add", _add),
    ("subtract", _subtract),
    ("multiply", _multiply),
    ("divide", _divide),
    ("negative", _double_negative),
    ("stop_gradient", _stop_gradient),
    ("transpose", _double_transpose),
    ("reshape", _reshape_chain),
    ("broadcast_to", _broadcast_chain),
    ("cast", _cast_roundtrip),
    ("exp", _exp_log),
]


def run(graph):
    # The canonical-form rules run too, so that the output is canonical again.
    Rewriter(canonicalize.RULES + RULES).run(graph)
    return graph
