"""A small rewrite engine: rules indexed by op, applied in forward sweeps to a fixed point.

A rule is `fn(node, rw) -> Value | None`: it looks at one node (whose operands are already
rewritten) and returns the value that replaces the node's single output, or None. It may
emit new nodes with `rw.emit(...)`; they are placed before the node being rewritten, so
they dominate every use. Sweeps repeat until nothing changes; a sweep limit guards against
rules that undo each other.
"""
import numpy as np

from graphkit.ir.graph import CONSTANT
from graphkit.ir.types import PURE

MAX_SWEEPS = 50


class RewriteLoopError(RuntimeError):
    pass


class Rewriter:
    def __init__(self, rules):
        """`rules`: iterable of (op name or tuple of names, fn); the name "*" matches any op."""
        self.index = {}
        for ops, fn in rules:
            for op in (ops,) if isinstance(ops, str) else ops:
                self.index.setdefault(op, []).append(fn)

    def run(self, graph, max_sweeps=MAX_SWEEPS):
        """Rewrite `graph` in place; returns the number of replacements made."""
        total = 0
        for _ in range(max_sweeps):
            changed = self._sweep(graph)
            total += changed
            if not changed:
                return total
        raise RewriteLoopError(f"rewrite rules did not settle after {max_sweeps} sweeps on "
                               f"@{graph.name}: two rules probably undo each other")

    def _sweep(self, graph):
        rw = RewriteContext(graph)
        changed = 0
        for node in graph.nodes:
            node.operands = [rw.resolve(v) for v in node.operands]
            rules = self.index.get(node.op, []) + self.index.get("*", [])
            replacement = None
            if rules and len(node.outputs) == 1 and node.effect == PURE:
                rw.current = node
                for rule in rules:
                    replacement = rule(node, rw)
                    if replacement is not None:
                        break
            if replacement is not None and replacement is not node.outputs[0]:
                if replacement.type != node.outputs[0].type:
                    raise TypeError(f"rewrite of '{node.op}' ({node.scope}) changed its type "
                                    f"from {node.outputs[0].type} to {replacement.type}")
                rw.subst[node.outputs[0]] = replacement
                changed += 1
            else:
                rw.kept.append(node)
        graph.nodes = rw.kept
        graph.outputs = [rw.resolve(v) for v in graph.outputs]
        return changed


class RewriteContext:
    """One sweep's state: the replacements so far, and `emit` for rules that build nodes."""

    def __init__(self, graph):
        self.graph = graph
        self.subst = {}
        self.kept = []
        self.current = None

    def resolve(self, v):
        while v in self.subst:
            v = self.subst[v]
        return v

    def emit(self, op, operands, out_type, attrs=None, value=None):
        """A new one-output node placed before the node being rewritten; returns its output."""
        node = self.graph.make_node(op, operands, [out_type], attrs,
                                    scope=self.current.scope if self.current else "",
                                    value=value)
        self.kept.append(node)
        return node.outputs[0]


def producer_op(value):
    return value.producer.op if value.producer is not None else None


def const_array(value):
    """The ndarray behind a value made by `constant` or `full`, else None."""
    node = value.producer
    if node is None:
        return None
    if node.op == CONSTANT:
        return node.value
    if node.op == "full" and not node.operands:
        a = node.attrs
        return np.full(a["shape"], a["value"], dtype=a["dtype"])
    return None


def splat_value(value):
    """The single value of a uniform constant (as a NumPy scalar), else None."""
    node = value.producer
    if node is not None and node.op == "full" and not node.operands:
        return np.asarray(node.attrs["value"], dtype=node.attrs["dtype"])[()]
    a = const_array(value)
    if a is None or a.size == 0:
        return None
    first = a.flat[0]
    return first if np.all(a == first) else None


def is_const(value):
    node = value.producer
    return node is not None and (node.op == CONSTANT or (node.op == "full" and not node.operands))


def is_uniform(array):
    """All elements bit-identical (so -0.0 and 0.0 differ, and equal NaNs match)."""
    a = np.ascontiguousarray(array)
    if a.size == 0:
        return False
    if a.dtype.kind == "b":
        return bool(np.all(a == a.flat[0]))
    bits = a.view(f"u{a.dtype.itemsize}")
    return bool(np.all(bits == bits.flat[0]))
