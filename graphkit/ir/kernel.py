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
  are an epilogue computed per output element (bias, activation, residual). A matmul
  operand may be a body `transpose` of a parameter swapping its last two axes: read that
  parameter with swapped strides (`KernelInfo.transposed_operands`);
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
        self.transposed_operands = ()  # matmul operand indices read through a transpose
        if self.kind in ANCHOR_KINDS:
            self.anchor = next(n for n in self.body.nodes if _node_kind(n) == self.kind)
        if self.kind == "reduction":
            self.space = self.anchor.operands[0].type.shape
            axis = self.anchor.attrs["axis"]
            # argmax/argmin carry one int axis; the other reductions a tuple of axes
            self.reduce_axes = (axis,) if isinstance(axis, int) else tuple(axis)
            self.levels = reduction_levels(self.body.nodes, self.anchor)
        elif self.kind in ("matmul", "conv"):
            self.space = self.anchor.outputs[0].type.shape
            self.transposed_operands = tuple(
                i for i, v in enumerate(self.anchor.operands)
                if v.producer is not None and v.producer.op == "transpose")
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


def reduction_levels(nodes, anchor):
    """node -> "reduction" | "outer" | "inner" for the nodes of a reduction kernel.

    A node is "outer" when it has the reduction's output shape and reads only outer values:
    the reduction result, other outer nodes, or outside values that broadcast to that shape.
    Every other node is "inner". Returns None when some inner node's shape does not
    broadcast to the reduced space, i.e. the nodes do not form a valid reduction kernel.
    """
    space = anchor.operands[0].type.shape
    reduced = anchor.outputs[0].type.shape
    produced = {o: n for n in nodes for o in n.outputs}
    outer_values = set(anchor.outputs)
    levels = {}
    for node in nodes:
        if node is anchor:
            levels[node] = "reduction"
            continue
        shape = node.outputs[0].type.shape
        reads_outer = all(v in outer_values or (v not in produced and _broadcasts(
            v.type.shape, reduced)) for v in node.operands)
        touches_reduction = _depends_on(node, anchor, produced)
        if shape == reduced and reads_outer and touches_reduction:
            levels[node] = "outer"
            outer_values.update(node.outputs)
        elif _broadcasts(shape, space):
            levels[node] = "inner"
        else:
            return None
    return levels


def _depends_on(node, anchor, produced):
    stack, seen = list(node.operands), set()
    while stack:
        v = stack.pop()
        p = produced.get(v)
        if p is None or p in seen:
            continue
        if p is anchor:
            return True
        seen.add(p)
        stack.extend(p.operands)
    return False


def _broadcasts(shape, target):
    """`shape` broadcasts to `target` (right-aligned, NumPy rules) without changing it."""
    if len(shape) > len(target):
        return False
    for d, t in zip(reversed(shape), reversed(target)):
        if d != t and d != 1:
            return False
    return True
