"""Runs a Graph with the primitives' NumPy kernels: the oracle every pass is checked against.

Node by node, in order; a kernel node runs its body. Nothing is recorded on tapes.
"""
import numpy as np

from graphkit.ir.graph import CONSTANT, KERNEL


class InterpreterError(RuntimeError):
    pass


def interpret(graph, *inputs):
    """Run `graph` on arrays (anything np.asarray accepts); returns a list of ndarrays."""
    if len(inputs) != len(graph.params):
        raise InterpreterError(f"@{graph.name} takes {len(graph.params)} inputs, received "
                               f"{len(inputs)}")
    env = {}
    for i, (p, x) in enumerate(zip(graph.params, inputs)):
        a = np.asarray(x)
        if a.shape != p.type.shape or a.dtype != p.type.np_dtype:
            label = graph.param_labels[i] or f"input {i}"
            raise InterpreterError(
                f"@{graph.name}: {label} (%{p.name}) expects {p.type}, received "
                f"{a.dtype.name}{list(a.shape)}")
        env[p] = a
    _run_nodes(graph, env)
    return [env[v] for v in graph.outputs]


def _run_nodes(graph, env):
    for node in graph.nodes:
        outs = eval_node(node, [env[v] for v in node.operands])
        for o, a in zip(node.outputs, outs):
            env[o] = a


def eval_node(node, arrays):
    """The output arrays of one node for the given operand arrays."""
    if node.op == CONSTANT:
        return [node.value]
    if node.op == KERNEL:
        return interpret(node.body, *arrays)
    prim = node.primitive
    try:
        out = prim.eager(*arrays, **node.attrs)
    except Exception as e:
        raise InterpreterError(f"op '{node.op}' ({node.scope or 'no scope'}) failed on "
                               f"{', '.join(f'{a.dtype.name}{list(a.shape)}' for a in arrays)}"
                               f": {e}") from e
    outs = tuple(out) if prim.n_outputs > 1 else (out,)
    result = []
    for o, a in zip(node.outputs, outs):
        a = np.asarray(a)
        if a.shape != o.type.shape or a.dtype != o.type.np_dtype:
            # The eager kernel and the infer rule of the op disagree: an op bug.
            raise InterpreterError(
                f"op '{node.op}' ({node.scope or 'no scope'}) returned "
                f"{a.dtype.name}{list(a.shape)}, its type (from the infer rule) is {o.type}")
        result.append(a)
    return result
