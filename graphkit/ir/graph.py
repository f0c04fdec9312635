"""The IR: a `Graph` of `Node`s in SSA form and topological order.

- A `Value` is defined once, by a graph parameter or by a node output, and has a
  `TensorType`. Its name (`%7` in text) is unique in the whole graph, kernel bodies included.
- A `Node` applies an op to operand Values with static attributes and defines its outputs.
  Three kinds of op exist: a primitive (its name in `ops.primitive.PRIMITIVES`), `constant`
  (holds an ndarray in `node.value`) and `kernel` (a fused group; `node.body` is a Graph
  whose parameters stand for the operands and whose outputs are the node's outputs).
- Every node carries a `scope`: the layer path it came from plus the op name
  (`dense_1/matmul`).

Graphs are mutable; passes either edit them in place or build new ones.
"""
import numpy as np

from graphkit.ir.types import PURE, TensorType

CONSTANT = "constant"
KERNEL = "kernel"


class Value:
    __slots__ = ("name", "type", "producer", "index", "__weakref__")

    def __init__(self, name, type, producer=None, index=0):
        self.name = str(name)
        self.type = type
        self.producer = producer  # the Node that defines it, or None for a graph parameter
        self.index = index        # which output of the producer

    @property
    def shape(self):
        return self.type.shape

    @property
    def dtype(self):
        return self.type.dtype

    def __repr__(self):
        return f"%{self.name}:{self.type}"


class Node:
    __slots__ = ("op", "operands", "attrs", "outputs", "scope", "value", "body")

    def __init__(self, op, operands, attrs=None, scope="", value=None, body=None):
        self.op = op
        self.operands = list(operands)
        self.attrs = dict(attrs or {})
        self.outputs = []
        self.scope = scope or ""
        self.value = value   # the ndarray of a `constant` node
        self.body = body     # the Graph of a `kernel` node

    @property
    def primitive(self):
        """The Primitive of a primitive node (None for constants and kernels)."""
        if self.op in (CONSTANT, KERNEL):
            return None
        return lookup_primitive(self.op)

    @property
    def effect(self):
        if self.op == KERNEL:
            return PURE if all(n.effect == PURE for n in self.body.nodes) else "random"
        prim = self.primitive
        return prim.effect if prim is not None else PURE

    @property
    def is_constant(self):
        return self.op == CONSTANT

    @property
    def out(self):
        """The single output of a one-output node."""
        if len(self.outputs) != 1:
            raise ValueError(f"node '{self.op}' has {len(self.outputs)} outputs, not one")
        return self.outputs[0]

    def __repr__(self):
        outs = ", ".join(repr(o) for o in self.outputs)
        ins = ", ".join(f"%{v.name}" for v in self.operands)
        return f"<Node {outs} = {self.op} {ins}>"


class _Namer:
    """Hands out fresh value names; shared by a graph and its kernel bodies."""

    def __init__(self, start=0):
        self.next = start

    def fresh(self):
        n = self.next
        self.next += 1
        return str(n)

    def reserve(self, name):
        if name.isdigit():
            self.next = max(self.next, int(name) + 1)


class Graph:
    def __init__(self, name="main", namer=None):
        self.name = name
        self.params = []
        self.param_labels = []   # strings such as "args[0]" or "var:dense/kernel", or None
        self.nodes = []
        self.outputs = []
        self.output_labels = []
        self.namer = namer or _Namer()
        # Side results of passes that the text does not carry (e.g. the memory plan).
        self.annotations = {}

    # -- building ---------------------------------------------------------------------------
    def new_value(self, type, producer=None, index=0, name=None):
        if name is None:
            name = self.namer.fresh()
        else:
            self.namer.reserve(str(name))
        return Value(name, type, producer, index)

    def add_param(self, type, label=None, name=None):
        v = self.new_value(type, name=name)
        self.params.append(v)
        self.param_labels.append(label)
        return v

    def make_node(self, op, operands, out_types, attrs=None, scope="", value=None, body=None,
                  out_names=None):
        """A new node with fresh outputs, *not* yet placed in `self.nodes`."""
        node = Node(op, operands, attrs, scope, value, body)
        names = out_names or [None] * len(out_types)
        node.outputs = [self.new_value(t, node, i, name=n)
                        for i, (t, n) in enumerate(zip(out_types, names))]
        return node

    def add_node(self, op, operands, out_types, attrs=None, scope="", value=None, body=None,
                 out_names=None):
        node = self.make_node(op, operands, out_types, attrs, scope, value, body, out_names)
        self.nodes.append(node)
        return node

    def add_constant(self, array, scope="", name=None):
        array = np.asarray(array)
        node = self.add_node(CONSTANT, [], [TensorType(array.shape, array.dtype.name)],
                             scope=scope, value=array, out_names=[name] if name else None)
        return node.outputs[0]

    def set_outputs(self, values, labels=None):
        self.outputs = list(values)
        self.output_labels = list(labels) if labels is not None else [None] * len(values)

    # -- queries ----------------------------------------------------------------------------
    def walk(self):
        """Every node, kernel bodies included (a body's nodes right after its kernel)."""
        for node in self.nodes:
            yield node
            if node.body is not None:
                yield from node.body.walk()

    def op_count(self):
        """Nodes that compute something: primitive and constant nodes, bodies included."""
        return sum(1 for n in self.walk() if n.op != KERNEL)

    def kernels(self):
        return [n for n in self.nodes if n.op == KERNEL]

    def to_networkx(self):
        """The node DAG as a networkx.DiGraph (nodes are indices into `self.nodes`)."""
        import networkx as nx
        g = nx.DiGraph()
        index = {}
        for i, node in enumerate(self.nodes):
            g.add_node(i, op=node.op, scope=node.scope,
                       label=node.attrs.get("name", node.op) if node.op == KERNEL else node.op)
            for o in node.outputs:
                index[o] = i
        for i, node in enumerate(self.nodes):
            for v in node.operands:
                if v in index:
                    g.add_edge(index[v], i)
        return g

    # -- editing ----------------------------------------------------------------------------
    def replace_uses(self, mapping):
        """Rewire operands and outputs through `mapping` (old Value -> new Value)."""
        if not mapping:
            return

        def resolve(v):
            seen = 0
            while v in mapping:
                v = mapping[v]
                seen += 1
                if seen > len(mapping):
                    raise RuntimeError("replace_uses: the mapping has a cycle")
            return v
        for node in self.nodes:
            node.operands = [resolve(v) for v in node.operands]
        self.outputs = [resolve(v) for v in self.outputs]

    def clone(self):
        """A deep copy with the same value names (constants share their read-only arrays)."""
        return _clone_graph(self, _Namer(self.namer.next), {})

    def __str__(self):
        from graphkit.ir.printer import print_graph
        return print_graph(self)

    def __repr__(self):
        return (f"<ir.Graph @{self.name}: {len(self.params)} params, {len(self.nodes)} nodes, "
                f"{len(self.outputs)} outputs>")


def _clone_graph(graph, namer, vmap):
    g = Graph(graph.name, namer)
    for p, label in zip(graph.params, graph.param_labels):
        vmap[p] = g.add_param(p.type, label, name=p.name)
    for node in graph.nodes:
        body = _clone_graph(node.body, namer, {}) if node.body is not None else None
        new = g.add_node(node.op, [vmap[v] for v in node.operands],
                         [o.type for o in node.outputs], node.attrs, node.scope, node.value,
                         body, out_names=[o.name for o in node.outputs])
        for o, n in zip(node.outputs, new.outputs):
            vmap[o] = n
    g.set_outputs([vmap[v] for v in graph.outputs], graph.output_labels)
    g.annotations = dict(graph.annotations)
    return g


def lookup_primitive(name, required=True):
    """The Primitive named `name`. Parsed text may name ops whose modules were never
    imported, so a miss loads every op module once before giving up."""
    from graphkit.ops.primitive import PRIMITIVES, get_primitive
    if name not in PRIMITIVES:
        import graphkit.ops  # noqa: F401  (registers the ops)
        import graphkit.ops.random  # noqa: F401  (not imported by graphkit.ops)
    if not required:
        return PRIMITIVES.get(name)
    return get_primitive(name)


def layer_path(scope, op):
    """The layer part of a node scope: `dense_1/matmul` -> `dense_1`."""
    if scope == op:
        return ""
    if scope.endswith("/" + op):
        return scope[: -len(op) - 1]
    return scope
