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

Donation: the caller may name params whose buffers the graph may overwrite
(`graph.annotations["donated"]`, a set of param names; `gk.jit(donate_argnums=...)` sets it).
A graph output is then written straight into a donated param's buffer when that is safe
(`MemoryPlan.donations`, see `_donations`), so a train step updates its weights and optimizer
slots in place: no fresh output arrays, no page faults, the same pointers every call.
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
        self.donations = []      # (graph output name, donated param name): same buffer
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
        text = (f"arena {self.arena_bytes} bytes in {len(self.slots)} slots for "
                f"{len(self.assignment)} intermediates totalling {self.intermediate_bytes} "
                f"bytes (saves {saved}); {len(self.in_place)} in place")
        if self.donations:
            text += f"; {len(self.donations)} outputs written into donated params"
        return text

    def __repr__(self):
        return f"<MemoryPlan {self.report()}>"

    _FIELDS = ("slots", "assignment", "views", "in_place", "donations", "intermediate_bytes")

    def to_json(self):
        """A JSON-able dict (the pipeline cache stores it, so a warm hit skips planning)."""
        return {f: getattr(self, f) for f in self._FIELDS}

    @classmethod
    def from_json(cls, data):
        plan = cls()
        plan.slots = [tuple(s) for s in data["slots"]]
        plan.assignment = {str(k): int(v) for k, v in data["assignment"].items()}
        plan.views = {str(k): str(v) for k, v in data["views"].items()}
        plan.in_place = [tuple(p) for p in data["in_place"]]
        plan.donations = [tuple(p) for p in data["donations"]]
        plan.intermediate_bytes = int(data["intermediate_bytes"])
        return plan


def plan(graph):
    """Compute a MemoryPlan for a (normally fused) graph."""
    p = MemoryPlan()
    storage = storage_roots(graph)          # value -> the value owning its memory
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
    p.donations = _donations(graph, storage)
    return p


def storage_roots(graph):
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


# -- donation -----------------------------------------------------------------------------------

def _donations(graph, storage):
    """[(output name, param name)]: graph outputs that may live in a donated param's buffer.

    Output `o` of kernel K may take param `p`'s buffer when
    - `p` is donated, has o's type, is not a graph output and has no views;
    - `o` is a graph output exactly once, and made by K (not a view or a param);
    - every other kernel reading `p` runs before K, so nothing reads `p` after K wrote it;
    - inside K, every value computed from `p` is elementwise with p's shape, and none feeds
      the anchor (matmul, conv, reduction): such values are computed per element of `p` in
      the sub-kernel that writes `o` (a matmul epilogue, a reduction's elementwise outputs,
      an elementwise kernel that does not broadcast `p`), which computes every output of an
      element before it stores any, so each element of `p` is read before it is written.
    Outputs that depend on fewer donated params choose first, so the new value of a variable
    lands in that variable's buffer (m_new -> m, v_new -> v, then w_new -> w for Adam).
    """
    donated = graph.annotations.get("donated") or ()
    if not donated:
        return []
    params = [p for p in graph.params if p.name in donated]
    viewed = set(storage.values())
    out_count = {}
    for v in graph.outputs:
        out_count[v] = out_count.get(v, 0) + 1
    readers = {}
    for i, node in enumerate(graph.nodes):
        for v in node.operands:
            readers.setdefault(v, []).append(i)
    usable = [p for p in params if p not in out_count and p not in viewed]
    infos = {}   # node -> KernelInfo: built once per kernel, not once per (output, param)
    choices = []
    for k, node in enumerate(graph.nodes):
        if node.op != KERNEL:
            continue
        for o in node.outputs:
            if out_count.get(o) != 1 or o in viewed:
                continue
            fits = [p for p in usable if p.type == o.type
                    and all(r <= k for r in readers.get(p, ()))
                    and _kernel_writes_over(node, o, p, infos)]
            if fits:
                choices.append((o, fits))
    taken, pairs = set(), []
    for o, fits in sorted(choices, key=lambda c: len(c[1])):
        p = next((p for p in fits if p not in taken), None)
        if p is not None:
            taken.add(p)
            pairs.append((o.name, p.name))
    return pairs


def _kernel_writes_over(node, out, param, infos=None):
    """Whether kernel `node` may write `out` into `param`'s buffer (see `_donations`); a
    kernel that does not read `param` may always (every reader ran before it)."""
    if param not in node.operands:
        return True
    from graphkit.ir.kernel import KernelInfo
    infos = {} if infos is None else infos
    info = infos.get(node)
    if info is None:
        info = infos[node] = KernelInfo(node)
    body = node.body
    body_out = body.outputs[node.outputs.index(out)]
    shape = param.type.shape
    # `out` itself must be computed from `param` (an output that does not read it would be
    # written while another output of the kernel may still be reading `param`)
    tainted = {body.params[i] for i, v in enumerate(node.operands) if v is param}
    if body_out in tainted:
        return False
    for n in body.nodes:
        if not any(v in tainted for v in n.operands):
            continue
        if n is info.anchor or n.primitive is None or n.primitive.category != "elementwise":
            return False
        if any(tuple(o.type.shape) != tuple(shape) for o in n.outputs):
            return False
        tainted.update(n.outputs)
    return body_out in tainted


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
