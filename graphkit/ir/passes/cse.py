"""Common-subexpression elimination: a pure node equal to an earlier one (same op,
attributes, operands (in any order for commutative ops) and result types; for constants,
the same bytes) is replaced by it.

Random nodes are never merged: two draws are two draws, even from equal state.
"""
from graphkit.ir.graph import CONSTANT, KERNEL
from graphkit.ir.passes.canonicalize import COMMUTATIVE
from graphkit.ir.printer import format_attrs
from graphkit.ir.types import PURE

NAME = "cse"


def _key(node):
    types = tuple(o.type for o in node.outputs)
    if node.op == CONSTANT:
        a = node.value
        return (CONSTANT, types, a.tobytes())
    operands = tuple(node.operands)
    if node.op in COMMUTATIVE:  # add(a, b) == add(b, a)
        operands = tuple(sorted(operands, key=id))
    return (node.op, format_attrs(node.op, node.attrs), operands, types)


def run(graph):
    seen, subst, kept = {}, {}, []

    def resolve(v):
        return subst.get(v, v)

    for node in graph.nodes:
        node.operands = [resolve(v) for v in node.operands]
        if node.op == KERNEL or node.effect != PURE:
            kept.append(node)
            continue
        key = _key(node)
        first = seen.get(key)
        if first is None:
            seen[key] = node
            kept.append(node)
        else:
            subst.update(zip(node.outputs, first.outputs))
    graph.nodes = kept
    graph.outputs = [resolve(v) for v in graph.outputs]
    return graph
