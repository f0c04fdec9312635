"""Canonical forms, so that later passes see one spelling of each computation.

- commutative ops put constants second and otherwise order operands by definition, so
  `add(b, a)` and `add(a, b)` become the same node for CSE;
- a uniform constant of more than one element becomes `full` (a splat);
- shape ops that change nothing disappear: reshape or broadcast_to to the operand's shape,
  cast to the operand's dtype, transpose by the identity permutation.
"""
from graphkit.ir.pattern import Rewriter, is_const, is_uniform

NAME = "canonicalize"

COMMUTATIVE = ("add", "multiply", "maximum", "minimum", "equal", "not_equal", "logical_and",
               "logical_or", "logical_xor")


def _order_operands(node, rw):
    if len(node.operands) != 2:
        return None
    a, b = node.operands
    key = lambda v: (is_const(v), rw.position(v))  # noqa: E731 - constants last
    if key(b) < key(a):
        node.operands = [b, a]  # same value, same type: an in-place reorder is safe
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
    (COMMUTATIVE, _order_operands),
    ("constant", _splat_constant),
    (("reshape", "broadcast_to", "cast", "transpose"), _identity_shape_op),
]


def run(graph):
    Rewriter(RULES).run(graph)
    return graph
