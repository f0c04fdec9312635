"""Canonical forms, so that later passes see one spelling of each computation.

- commutative ops put a constant operand second (`add(2, x)` -> `add(x, 2)`), so rules
  look for constants in one place (CSE treats commutative operands as unordered);
- a uniform constant of more than one element becomes `full` (a splat);
- shape ops that change nothing disappear: reshape or broadcast_to to the operand's shape,
  cast to the operand's dtype, transpose by the identity permutation.
"""
from graphkit.ir.pattern import Rewriter, is_const, is_uniform

NAME = "canonicalize"

# Not maximum and minimum: NumPy's float maximum(0.0, -0.0) is -0.0 and maximum(-0.0, 0.0)
# is 0.0 (a tie gives one fixed operand), so swapping their operands changes the result.
COMMUTATIVE = ("add", "multiply", "equal", "not_equal", "logical_and", "logical_or",
               "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor")


def _constant_second(node, rw):
    if len(node.operands) == 2 and is_const(node.operands[0]) \
            and not is_const(node.operands[1]):
        node.operands.reverse()  # same value, same type: an in-place reorder is safe
    return None


def _splat_constant(node, rw):
    out = node.outputs[0]
    if out.type.size is None or out.type.size <= 1 or "full" not in _primitives():
        return None
    if not is_uniform(node.value):
        return None
    return rw.emit("full", [], out.type, {"shape": out.type.shape,
                                          "value": node.value.flat[0].item(),
                                          "dtype": out.type.dtype})


def _primitives():
    from graphkit.ops.primitive import PRIMITIVES
    return PRIMITIVES


def _identity_shape_op(node, rw):
    x = node.operands[0]
    if node.outputs[0].type == x.type and node.op in ("reshape", "broadcast_to", "cast"):
        return x
    if node.op == "transpose":
        perm = node.attrs.get("axes", node.attrs.get("perm"))
        if perm is not None and tuple(perm) == tuple(range(x.type.ndim)):
            return x
    return None


RULES = [
    (COMMUTATIVE, _constant_second),
    ("constant", _splat_constant),
    (("reshape", "broadcast_to", "cast", "transpose"), _identity_shape_op),
]


def run(graph):
    Rewriter(RULES).run(graph)
    return graph
