"""Memory planning: every intermediate value gets a slot in one arena, by liveness.

Intermediates are the outputs of top-level nodes that are neither graph inputs, constants
nor graph outputs (outputs get buffers of their own, handed back to the caller). A reshape
is a view: it shares its operand's storage and keeps it alive as long as the view lives.
Walking the nodes in order, a node's outputs are placed first, then the operands whose last
use it was are freed, so an output never overlaps a live input, except in place: an
elementwise kernel may write an output into the slot of an operand of the same shape and
dtype that dies at that node (each element is read before it is written).

The plan is stored in `graph.annotations["memory_plan"]` (the text of the graph does not
change). Its report compares the arena size with the sum of all intermediate sizes.
"""
from graphkit.ir.graph import CONSTANT, KERNEL
from graphkit.ir.passes.fusion import VIEW_OPS

NAME = "memory_plan"
ALIGN = 64  # bytes: a cache line, and room for the widest vector loads


def _aligned(n):
    return (n + ALIGN - 1) // ALIGN * ALIGN


class MemoryPlan:
    def __init__(self):
        self.slots = []          # slot index -> (offset, size in bytes)
        self.assignment = {}     # value name -> slot index
        self.views = {}          # value name of a view -> value name whose storage it uses
        self.in_place = []       # (output name, operand name) pairs sharing a slot
        self.intermediate_bytes = 0

    @property
    def arena_bytes(self):
        return sum(size for _, size in self.slots)

    def offset(self, name):
        """Byte offset of a value (or of the value a view aliases) in the arena."""
        name = self.views.get(name, name)
        return self.slots[self.assignment[name]][0]

    def report(self):
        saved = self.intermediate_bytes - self.arena_bytes
        return (f"arena {self.arena_bytes} bytes in {len(self.slots)} slots for "
                f"{len(self.assignment)} intermediates totalling {self.intermediate_bytes} "
                f"bytes (saves {saved}); {len(self.in_place)} in place")

    def __repr__(self):
        return f"<MemoryPlan {self.report()}>"


def plan(graph):
    """Compute a MemoryPlan for a (normally fused) graph."""
    p = MemoryPlan()
    storage = _storage_roots(graph)          # value -> the value owning its memory
    external = set(graph.params) | set(graph.outputs)
    external |= {storage[v] for v in graph.outputs if v in storage}
    last_use = {}
    for i, node in enumerate(graph.nodes):
        for v in node.operands:
            last_use[storage.get(v, v)] = i
    free = []                                # slot indices available for reuse
    for i, node in enumerate(graph.nodes):
        if node.op == CONSTANT or node.op in VIEW_OPS:
            for o in node.outputs:
                if node.op in VIEW_OPS:
                    p.views[o.name] = storage[o].name
            continue
        dying = {storage.get(v, v) for v in node.operands
                 if last_use.get(storage.get(v, v)) == i}
        taken = set()
        for o in node.outputs:
            if o in external or o.type.nbytes is None:
                continue
            p.intermediate_bytes += o.type.nbytes
            slot = _in_place_slot(node, o, dying, p, taken)
            if slot is None:
                slot = _take_slot(p, free, _aligned(o.type.nbytes))
            p.assignment[o.name] = slot
            taken.add(slot)
        # Free what died here (unless an output now lives in its slot), and outputs that
        # nobody reads, only after every output of the node has its place.
        released = {p.assignment[v.name] for v in dying if v.name in p.assignment} - taken
        released |= {p.assignment[o.name] for o in node.outputs
                     if o.name in p.assignment and o not in last_use}
        free.extend(sorted(released))
    return p


def _storage_roots(graph):
    """value -> value owning its storage, following reshape views."""
    root = {}
    for node in graph.nodes:
        if node.op in VIEW_OPS:
            src = node.operands[0]
            root[node.outputs[0]] = root.get(src, src)
    return root


def _in_place_slot(node, out, dying, p, taken):
    if node.op != KERNEL or node.attrs.get("kind") != "elementwise":
        return None
    for v in sorted(dying, key=lambda v: v.name):
        slot = p.assignment.get(v.name)
        if slot is not None and slot not in taken and v.type == out.type and v in node.operands:
            p.in_place.append((out.name, v.name))
            return slot
    return None


def _take_slot(p, free, size):
    """Best fit among free slots (growing the last one if none fits), else a new slot."""
    fitting = [s for s in free if p.slots[s][1] >= size]
    if fitting:
        s = min(fitting, key=lambda s: p.slots[s][1])
        free.remove(s)
        return s
    offset = sum(sz for _, sz in p.slots)
    p.slots.append((offset, size))
    return len(p.slots) - 1


def run(graph):
    graph.annotations["memory_plan"] = plan(graph)
    return graph
