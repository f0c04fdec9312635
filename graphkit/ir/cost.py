"""A cost model: floating-point operations and bytes moved, per node and per kernel.

FLOPs follow the op category: one per output element for elementwise ops, one per input
element for reductions, 2*M*N*K for matmul (batched), 2 * output elements * (kernel elements
per output channel) for conv, none for pure data movement. Bytes are what a node reads and
writes in memory: for a fused kernel only its operands and outputs, since the values inside
stay in registers. Constants and reshapes (views) move nothing by themselves.
"""
from graphkit.ir.graph import CONSTANT, KERNEL
from graphkit.ir.passes.fusion import VIEW_OPS


def _size(value):
    return value.type.size or 0


def _nbytes(value):
    return value.type.nbytes or 0


def node_flops(node):
    if node.op == KERNEL:
        return sum(node_flops(n) for n in node.body.nodes)
    if node.op == CONSTANT or node.op in VIEW_OPS:
        return 0
    prim = node.primitive
    out = sum(_size(o) for o in node.outputs)
    cat = prim.category
    if cat == "elementwise":
        return out if node.operands else 0  # `full` only writes
    if cat == "reduction":
        return sum(_size(v) for v in node.operands)
    if cat == "matmul":
        a = node.operands[0].type.shape
        k = a[-1] if a else 1
        return 2 * out * (k or 0)
    if cat == "conv":
        w = node.operands[1].type.shape
        per_output = (_size(node.operands[1]) // w[-1]) if w and w[-1] else 0
        return 2 * out * per_output
    if cat in ("pool", "random"):
        return max(out, sum(_size(v) for v in node.operands)) if cat == "pool" else out
    return 0


def node_bytes(node):
    if node.op == CONSTANT or node.op in VIEW_OPS:
        return 0
    return sum(_nbytes(v) for v in node.operands) + sum(_nbytes(o) for o in node.outputs)


def kernel_cost(node):
    """{"name", "ops", "flops", "bytes"} for one kernel node."""
    return {"name": node.attrs["name"], "ops": [n.op for n in node.body.nodes],
            "flops": node_flops(node), "bytes": node_bytes(node)}


def graph_cost(graph):
    """Totals over the top-level nodes, and one entry per kernel."""
    flops = sum(node_flops(n) for n in graph.nodes)
    nbytes = sum(node_bytes(n) for n in graph.nodes)
    per_kernel = [kernel_cost(n) for n in graph.nodes if n.op == KERNEL]
    return {"flops": int(flops), "bytes": int(nbytes), "per_kernel": per_kernel}
