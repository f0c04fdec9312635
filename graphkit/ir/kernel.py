"""Fused kernels: a `kernel` node whose body is a sub-graph, and what codegen needs to know
about one.

A kernel node's operands are the values it reads, its outputs the values it writes; the
body's parameters stand for the operands and its outputs (`yield`) for the node's outputs.
Attributes: `name` (`k0`, `k1`, ...) and `kind`:
- "elementwise": every body node is computed per element of `space`, the shape of every
  output; operands and smaller body values broadcast to it (NumPy rules, right-aligned);
- "reduction": one reduction node (`anchor`) reduces `space` (its operand's shape) over
  `reduce_axes`. Body nodes are at one of two levels: "inner" nodes are computed per
  element of `space` (the prologue feeding the reduction, and epilogues broadcast back to
  the full space, e.g. softmax's divide); "outer" nodes are computed once per reduced
  element (they depend on the reduction and have its output shape, e.g. the mean's divide);
- "matmul" / "conv": the anchor computes a tile of its output, and the other body nodes
  are an epilogue computed per output element (bias, activation, residual);
- otherwise the category of the single op it holds ("layout", "gather", "pool",
  "random", "creation", "opaque"): no fusion, one op.
"""
from graphkit.ir.graph import KERNEL, Graph, layer_path
from graphkit.ops.shape_rules import broadcast_shapes

ANCHOR_KINDS = ("reduction", "matmul", "conv")


def build_kernel(graph, members, name, kind, outputs):
    """Wrap `members` (nodes of `graph`, in order) into a kernel node.

    `outputs` are the member values used outside the group; they stay the same Value
    objects (now defined by the kernel node), so uses elsewhere need no rewiring.
    """
    body = Graph(f"{graph.name}.{name}", graph.namer)
    inner = {}
    operands = []
    member_outs = {o for n in members for o in n.outputs}
    for node in members:
        for v in node.operands:
            if v not in member_outs and v not in inner:
                inner[v] = body.add_param(v.type)
                operands.append(v)
    for node in members:
        clone = body.add_node(node.op, [inner[v] for v in node.operands],
                              [o.type for o in node.outputs], node.attrs, node.scope,
                              node.value)
        inner.update(zip(node.outputs, clone.outputs))
    body.set_outputs([inner[v] for v in outputs])
    kernel = _make_node(operands, outputs, {"name": name, "kind": kind},
                        common_scope(members), body)
    return kernel


def _make_node(operands, outputs, attrs, scope, body):
    from graphkit.ir.graph import Node
    node = Node(KERNEL, operands, attrs, scope, body=body)
    node.outputs = list(outputs)
    for i, v in enumerate(outputs):
        v.producer, v.index = node, i
    return node


def common_scope(nodes):
    """The longest layer path shared by all nodes (`dense` for dense/matmul + dense/add)."""
    paths = [layer_path(n.scope, n.op).split("/") for n in nodes if n.scope]
    if not paths:
        return ""
    common = paths[0]
    for p in paths[1:]:
        k = 0
        while k < min(len(common), len(p)) and common[k] == p[k]:
            k += 1
        common = common[:k]
    return "/".join(c for c in common if c)


class KernelInfo:
    """A description of one kernel node for cost models and codegen."""

    def __init__(self, node):
        if node.op != KERNEL:
            raise ValueError(f"KernelInfo: expected a kernel node, received '{node.op}'")
        self.node = node
        self.name = node.attrs["name"]
        self.kind = node.attrs["kind"]
        self.body = node.body
        self.members = [n.op for n in node.body.nodes]
        self.anchor = None
        self.reduce_axes = ()
        self.levels = {}
        if self.kind in ANCHOR_KINDS:
            self.anchor = next(n for n in self.body.nodes if _node_kind(n) == self.kind)
        if self.kind == "reduction":
            self.space = self.anchor.operands[0].type.shape
            self.reduce_axes = tuple(self.anchor.attrs["axis"])
            self.levels = reduction_levels(self.body, self.anchor)
        elif self.kind in ("matmul", "conv"):
            self.space = self.anchor.outputs[0].type.shape
        elif self.kind == "elementwise":
            self.space = broadcast_shapes(*[o.type.shape for n in self.body.nodes
                                            for o in n.outputs])
        else:
            self.space = self.body.nodes[0].outputs[0].type.shape

    def __repr__(self):
        return f"<Kernel {self.name} {self.kind} space={self.space} ops={self.members}>"


def _node_kind(node):
    prim = node.primitive
    return prim.category if prim is not None else node.op


def reduction_levels(body, anchor):
    """body node -> "inner" | "outer" | "reduction" (see the module docstring)."""
    reduced_shape = anchor.outputs[0].type.shape
    after = set(anchor.outputs)
    levels = {}
    for node in body.nodes:
        if node is anchor:
            levels[node] = "reduction"
            continue
        depends = any(v in after for v in node.operands)
        if depends:
            after.update(node.outputs)
        levels[node] = "outer" if depends and node.outputs[0].type.shape == reduced_shape \
            else "inner"
    return levels
