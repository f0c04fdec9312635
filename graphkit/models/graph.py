"""A functional model's DAG as a `networkx.DiGraph`, one node per layer or op.

Node attributes: `layer` (the object), `class_name`, `output_shapes` (one per call in this
model), `params`. Edge attributes: `tensors`, the names of the KerasTensors flowing along it
(a shared layer called twice has two). The graph keeps the model's layer order.
"""
import networkx as nx

from graphkit.models.node import make_node_key


def build_graph(model):
    graph = nx.DiGraph(name=model.name)
    for op in model.operations:
        graph.add_node(op.name, layer=op, class_name=type(op).__name__,
                       output_shapes=output_shapes(model, op), params=_params(op))
    for op in model.operations:
        for node in nodes_in_model(model, op):
            for t in node.input_tensors:
                src = t._keras_history.operation
                if src is None:
                    continue
                if graph.has_edge(src.name, op.name):
                    graph.edges[src.name, op.name]["tensors"].append(t.name)
                else:
                    graph.add_edge(src.name, op.name, tensors=[t.name])
    return graph


def nodes_in_model(model, op):
    """The calls of `op` that belong to `model`'s graph, in call order."""
    return [node for i, node in enumerate(op._inbound_nodes)
            if make_node_key(op, i) in model._nodes]


def output_shapes(model, op):
    shapes = []
    for node in nodes_in_model(model, op):
        outs = [tuple(t.shape) for t in node.output_tensors]
        shapes.append(outs[0] if len(outs) == 1 else outs)
    return shapes


def _params(op):
    weights = getattr(op, "weights", [])
    total = 0
    for w in weights:
        n = 1
        for d in w.shape:
            n *= d
        total += n
    return total
