"""Fusion: group nodes into kernels (see graphkit/ir/kernel.py for what a kernel means).

Phases over groups of nodes, each a greedy walk in node order:
1. elementwise chains: a pointwise node (elementwise op, broadcast_to, full) joins the
   elementwise groups of its operands that iterate over its shape; a smaller group whose
   values only this node reads is recomputed in the larger space (broadcast);
   then a transpose (of the last two axes) whose only user is a matmul joins the matmul
   (a transpose read by several matmuls is first copied, one per matmul: a transposed
   operand costs nothing, a materialized transpose a kernel and a round trip to memory;
   likewise a constant `full` read by several nodes is copied per reader);
2. prologues: a reduction takes in the elementwise group that produces its operand, when
   that group iterates over the reduced space;
3. epilogues: an elementwise group joins a producer anchor (reduction, matmul, conv) when
   its space is the anchor's output shape (or, for reductions, the full reduced space).
Every merge is refused if it would put a cycle in the kernel DAG: a path leaving the merged
group and coming back to it. The final kernel DAG is checked again when it is ordered. Why a
candidate was not fused is logged (DEBUG) on the "graphkit.ir.fusion" logger.

Constants and reshapes (views: no data moves) stay outside kernels. Every other node ends
up in a kernel, possibly alone.
"""
import heapq
import logging


from graphkit.ir.graph import CONSTANT, KERNEL
from graphkit.ir.kernel import ANCHOR_KINDS, build_kernel, reduction_levels
from graphkit.ir.types import PURE
from graphkit.ops.shape_rules import broadcast_shapes

NAME = "fusion"
log = logging.getLogger("graphkit.ir.fusion")

VIEW_OPS = ("reshape",)
POINTWISE_LAYOUT_OPS = ("broadcast_to",)


class FusionError(RuntimeError):
    pass


def classify(node):
    """"const" | "view" | "pointwise" | "reduction" | "matmul" | "conv" | another category
    (a node that is never fused: layout, gather, pool, random, creation, opaque)."""
    if node.op == CONSTANT:
        return "const"
    if node.op in VIEW_OPS:
        return "view"
    if node.op == KERNEL:
        raise FusionError("fusion: the graph is already fused (it has kernel nodes)")
    prim = node.primitive
    fusable = prim.effect == PURE and len(node.outputs) == 1
    if fusable and (prim.category == "elementwise" or node.op in POINTWISE_LAYOUT_OPS or (
            node.op == "full" and not node.operands)):
        return "pointwise"
    if fusable and prim.category == "reduction" and "axis" in node.attrs \
            and len(node.operands) == 1:
        return "reduction"
    if fusable and prim.category in ("matmul", "conv"):
        return prim.category
    if prim.category in ("elementwise", "reduction", "matmul", "conv"):
        return "opaque"  # a form fusion does not handle: the op stays alone in its kernel
    return prim.category


class _Group:
    def __init__(self, gid, node, kind, space):
        self.id = gid
        self.kind = kind            # "elementwise", an anchor kind, "free" or a category
        self.members = [node]
        self.space = space
        self.anchor = node if kind in ANCHOR_KINDS else None
        self.preds = set()
        self.parent = None          # union-find link once merged into another group

    def describe(self):
        head = self.anchor.op if self.anchor is not None else self.members[0].op
        return f"{self.kind} group #{self.id} ({head}, space {list(self.space)})"


class _Fuser:
    def __init__(self, graph):
        self.graph = graph
        self.groups = []
        self.group_of = {}   # node -> _Group (possibly merged away; use find)
        self.producer = {}   # value -> node
        self.users = {}      # value -> [nodes]
        self.index = {}
        for i, node in enumerate(graph.nodes):
            self.index[node] = i
            for o in node.outputs:
                self.producer[o] = node
            for v in node.operands:
                self.users.setdefault(v, []).append(node)
        self.graph_outputs = set(graph.outputs)

    # -- groups -----------------------------------------------------------------------------
    def find(self, g):
        while g.parent is not None:
            g = g.parent
        return g

    def group(self, node):
        return self.find(self.group_of[node])

    def new_group(self, node, kind, space):
        g = _Group(len(self.groups), node, kind, space)
        for v in node.operands:
            if v in self.producer:
                g.preds.add(self.group_of[self.producer[v]])
        self.groups.append(g)
        self.group_of[node] = g
        return g

    def preds(self, g):
        return {self.find(p) for p in g.preds} - {g}

    def operand_groups(self, g):
        """Groups producing values read by `g`, latest first."""
        return sorted(self.preds(g), key=lambda p: -p.id)

    def creates_cycle(self, a, b):
        """Would merging a and b make a path leave the merged group and come back?"""
        merged = {a, b}
        stack = [p for g in merged for p in self.preds(g) if p not in merged]
        seen = set()
        while stack:
            g = stack.pop()
            if g in seen:
                continue
            seen.add(g)
            for p in self.preds(g):
                if p in merged:
                    return True
                stack.append(p)
        return False

    def merge(self, into, other, why):
        """Merge `other` into `into` unless that makes a cycle; returns success."""
        if self.creates_cycle(into, other):
            self.why_not(other, into, "it would create a cycle in the kernel DAG")
            return False
        other.parent = into
        into.members = sorted(into.members + other.members, key=self.index.__getitem__)
        into.preds |= other.preds
        log.debug("fusing %s into %s: %s", other.describe(), into.describe(), why)
        return True

    def why_not(self, group, target, reason):
        if log.isEnabledFor(logging.DEBUG):
            node = group.members[-1]
            log.debug("not fusing %s (%s) into %s: %s", node.op, node.scope or "no scope",
                      target.describe(), reason)

    # -- phase 1: elementwise chains ---------------------------------------------------------
    def phase_elementwise(self):
        for node in self.graph.nodes:
            kind = classify(node)
            if kind in ("const", "view"):
                self.new_group(node, "free", node.outputs[0].type.shape)
            elif kind == "pointwise":
                self.pointwise(node)
            else:
                shape = node.outputs[0].type.shape if node.outputs else ()
                if kind == "reduction":
                    shape = node.operands[0].type.shape
                self.new_group(node, kind, shape)

    def pointwise(self, node):
        shape = node.outputs[0].type.shape
        g = self.new_group(node, "elementwise", shape)
        for p in self.operand_groups(g):
            if p.kind != "elementwise":
                continue
            if p.space == shape:
                if self.merge(p, g, "same space"):
                    g = p
            elif self.can_grow(p, node):
                if self.merge(p, g, f"recomputed in the broadcast space {list(shape)}"):
                    p.space = shape
                    g = p
            else:
                self.why_not(g, p, f"its space {list(shape)} differs and the group's values "
                                   "are used elsewhere")

    def can_grow(self, group, node):
        """A group can be recomputed in `node`'s larger space if only `node` reads it."""
        shape = node.outputs[0].type.shape
        try:
            if broadcast_shapes(group.space, shape) != tuple(shape):
                return False
        except ValueError:
            return False
        members = set(group.members)
        for m in group.members:
            for o in m.outputs:
                if o in self.graph_outputs:
                    return False
                if any(u is not node and u not in members for u in self.users.get(o, ())):
                    return False
        return True

    # -- phase 1b: transposed matmul operands -------------------------------------------------
    def phase_matmul_operands(self):
        """A transpose of the last two axes feeding only a matmul becomes part of the
        matmul kernel: the microkernel reads the operand with swapped strides instead of a
        transposed copy being written and read back (the backward pass of every Dense)."""
        for g in list(self.groups):
            if g.parent is not None or g.kind != "matmul":
                continue
            for v in g.anchor.operands:
                t = self.producer.get(v)
                if t is None or t.op != "transpose" or not _swaps_last_two(t):
                    continue
                tg = self.group(t)
                if len(tg.members) != 1 or self.users.get(v) != [g.anchor] \
                        or v in self.graph_outputs:
                    self.why_not(tg, g, "the transposed value has other uses")
                    continue
                self.merge(g, tg, "transposed matmul operand")

    # -- phase 2: reduction prologues --------------------------------------------------------
    def phase_prologues(self):
        for g in list(self.groups):
            if g.parent is not None or g.kind != "reduction":
                continue
            x = g.anchor.operands[0]
            if x not in self.producer:
                continue
            p = self.group(self.producer[x])
            if p.kind != "elementwise":
                continue
            if p.space != x.type.shape:
                self.why_not(p, g, f"the prologue space {list(p.space)} is not the reduced "
                                   f"space {list(x.type.shape)}")
            elif not self.valid_reduction(g, p):
                self.why_not(p, g, "its shapes do not fit the reduction's loops")
            else:
                self.merge(g, p, "reduction prologue")

    def valid_reduction(self, g, other):
        nodes = sorted(g.members + other.members, key=self.index.__getitem__)
        return reduction_levels(nodes, g.anchor) is not None

    # -- phase 3: anchor epilogues -----------------------------------------------------------
    def phase_epilogues(self):
        for e in list(self.groups):
            if e.parent is not None or e.kind != "elementwise":
                continue
            for a in self.operand_groups(e):
                if a.kind not in ANCHOR_KINDS:
                    continue
                reason = self.epilogue_problem(a, e)
                if reason is None and self.merge(a, e, f"{a.kind} epilogue"):
                    break
                if reason is not None:
                    self.why_not(e, a, reason)

    def epilogue_problem(self, a, e):
        out_shape = a.anchor.outputs[0].type.shape
        if a.kind == "reduction":
            if e.space not in (out_shape, a.space):
                return (f"its space {list(e.space)} is neither the reduction's output "
                        f"{list(out_shape)} nor its input {list(a.space)}")
            if not self.valid_reduction(a, e):
                return "its shapes do not fit the reduction's loops"
            return None
        if e.space != out_shape:
            return f"its space {list(e.space)} is not the {a.kind} output {list(out_shape)}"
        return None

    # -- the new graph ------------------------------------------------------------------------
    def emit(self):
        roots = [g for g in self.groups if g.parent is None]
        order = _topological_order(roots, self.preds, key=lambda g: self.index[g.members[0]])
        nodes, count = [], 0
        for g in order:
            if g.kind == "free":
                nodes.extend(g.members)
                continue
            outputs = self.escaping(g)
            if not outputs:
                continue  # dead and pure: nothing reads it (DCE would have removed it)
            nodes.append(build_kernel(self.graph, g.members, f"k{count}", g.kind, outputs))
            count += 1
        self.graph.nodes = nodes
        return self.graph

    def escaping(self, g):
        """Member values read outside the group; effectful members keep all their outputs
        (a random draw happens even when nobody reads it, as in eager mode)."""
        members = set(g.members)
        out = []
        for m in g.members:
            for o in m.outputs:
                if o in self.graph_outputs or m.effect != PURE or any(
                        u not in members for u in self.users.get(o, ())):
                    out.append(o)
        return out


def _swaps_last_two(node):
    perm = tuple(node.attrs.get("perm", ()))
    n = len(perm)
    return n >= 2 and perm == tuple(range(n - 2)) + (n - 1, n - 2)


def _copy_for_each_reader(graph, wants_copies):
    """Give every reader but the first its own copy of each node for which
    `wants_copies(node, readers)` holds (a node whose value leaves the graph is never
    copied). Recomputing cheap nodes inside each kernel beats sharing them through memory."""
    users = {}
    for node in graph.nodes:
        for v in node.operands:
            users.setdefault(v, [])
            if node not in users[v]:
                users[v].append(node)
    outputs = set(graph.outputs)
    nodes = []
    for node in graph.nodes:
        nodes.append(node)
        if len(node.outputs) != 1 or node.outputs[0] in outputs:
            continue
        value = node.outputs[0]
        readers = users.get(value, [])
        if len(readers) < 2 or not wants_copies(node, readers):
            continue
        for reader in readers[1:]:
            copy = graph.make_node(node.op, node.operands, [value.type], node.attrs,
                                   node.scope)
            nodes.append(copy)
            reader.operands = [copy.outputs[0] if v is value else v for v in reader.operands]
            log.debug("copied %s %%%s for its reader (%s)", node.op, value.name,
                      reader.scope or "no scope")
    graph.nodes = nodes
    return graph


def split_shared_transposes(graph):
    """Give each matmul its own copy of a last-two-axes transpose that several matmuls read
    (CSE merged them: the backward pass of two Dense layers on one input reads x^T twice).
    Each copy then joins its matmul as a transposed operand (phase 1b)."""
    return _copy_for_each_reader(graph, lambda node, readers: (
        node.op == "transpose" and _swaps_last_two(node)
        and all(classify(r) == "matmul" for r in readers)))


def split_shared_fills(graph):
    """Give each reader its own copy of a `full` without operands (a constant fill) that
    several nodes read: recomputed in each kernel it costs nothing, shared it is a kernel
    output written to memory and read back (the zeros of relu's gradient, read by the bias
    gradient's reduction and by the next layer's where)."""
    return _copy_for_each_reader(graph, lambda node, readers: (
        node.op == "full" and not node.operands))


def _topological_order(groups, preds, key):
    """Kahn's algorithm taking the ready group of smallest `key` first (what networkx's
    lexicographical_topological_sort does; importing networkx costs ~0.1 s per process)."""
    waiting = {g: len(preds(g)) for g in groups}
    users = {g: [] for g in groups}
    for g in groups:
        for p in preds(g):
            users[p].append(g)
    ready = [(key(g), g.id, g) for g in groups if not waiting[g]]
    heapq.heapify(ready)
    order = []
    while ready:
        g = heapq.heappop(ready)[2]
        order.append(g)
        for u in users[g]:
            waiting[u] -= 1
            if not waiting[u]:
                heapq.heappush(ready, (key(u), u.id, u))
    if len(order) < len(groups):
        raise FusionError("fusion produced a cycle between kernels: " + " -> ".join(
            g.describe() for g in _a_cycle(waiting, preds)))
    return order


def _a_cycle(waiting, preds):
    """A cycle among the groups never emitted: walk back through unemitted operands."""
    g = next(g for g, n in waiting.items() if n)
    seen = []
    while g not in seen:
        seen.append(g)
        g = next(p for p in preds(g) if waiting[p])
    return list(reversed(seen[seen.index(g):]))

def run(graph):
    split_shared_fills(graph)
    split_shared_transposes(graph)
    fuser = _Fuser(graph)
    fuser.phase_elementwise()
    fuser.phase_matmul_operands()
    fuser.phase_prologues()
    fuser.phase_epilogues()
    return fuser.emit()
