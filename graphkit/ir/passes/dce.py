"""Dead-code elimination: drop nodes whose outputs are not used, unless they have an effect.

Liveness flows backwards from the graph outputs (which include variable assigns) and from
every effectful node (random draws are kept, as in eager execution).
"""
from graphkit.ir.types import PURE

NAME = "dce"


def run(graph):
    live = set(graph.outputs)
    kept = []
    for node in reversed(graph.nodes):
        if node.effect != PURE or any(o in live for o in node.outputs):
            kept.append(node)
            live.update(node.operands)
    kept.reverse()
    graph.nodes = kept
    return graph
