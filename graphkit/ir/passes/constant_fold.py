"""Constant folding: a pure node whose operands are all constants is computed now, with the
interpreter's NumPy kernels, and replaced by its result.

A uniform result becomes `full` (a splat, whatever its size); other results are folded only
up to FOLD_LIMIT elements, so that folding never bloats the graph with big arrays.
Random ops are never folded (their effect is kept), nor are multi-output nodes.
"""
from graphkit.ir.graph import CONSTANT
from graphkit.ir.interpreter import eval_node
from graphkit.ir.passes import canonicalize
from graphkit.ir.pattern import Rewriter, const_array, is_const, is_uniform

NAME = "constant_fold"
FOLD_LIMIT = 1024
EVAL_LIMIT = 1 << 22  # never compute more than this at compile time


def _fold(node, rw):
    if node.op == CONSTANT or not node.operands or not all(is_const(v) for v in node.operands):
        return None
    prim = node.primitive
    if prim is None or prim.category == "random":
        return None
    out_type = node.outputs[0].type
    if out_type.size is None or out_type.size > EVAL_LIMIT:
        return None
    (result,) = eval_node(node, [const_array(v) for v in node.operands])
    if result.size > 1 and is_uniform(result):  # a big result may still be a splat
        return rw.emit("full", [], out_type, {"shape": out_type.shape,
                                              "value": result.flat[0].item(),
                                              "dtype": out_type.dtype})
    if result.size > FOLD_LIMIT:
        return None
    return rw.emit(CONSTANT, [], out_type, value=result.copy())


RULES = [("*", _fold)]


def run(graph):
    # The canonical-form rules run too: a folded operand may now be a leading constant.
    Rewriter(canonicalize.RULES + RULES).run(graph)
    return graph
