"""A Graph in the DOT language (Graphviz), written as text: no pydot needed.

    text = graph_to_dot(graph)     # `dot -Tsvg` draws it

Parameters are ellipses, ops are boxes labelled with the op and the layer path, fused
kernels list their member ops, and each edge carries the type of the value it moves.
"""
from graphkit.ir.graph import CONSTANT, KERNEL, layer_path


def graph_to_dot(graph):
    lines = [f'digraph "{_escape(graph.name)}" {{', "  rankdir=TB;",
             '  node [fontname="monospace", fontsize=10];']
    producer = {}
    for i, (p, label) in enumerate(zip(graph.params, graph.param_labels)):
        producer[p] = f"p{i}"
        lines.append(f'  p{i} [shape=ellipse, label="{_escape(label or "%" + p.name)}\\n'
                     f'{p.type}"];')
    for i, node in enumerate(graph.nodes):
        for o in node.outputs:
            producer[o] = f"n{i}"
        shape = "box3d" if node.op == KERNEL else "box"
        lines.append(f'  n{i} [shape={shape}, label="{_escape(_node_label(node))}"];')
        for v in node.operands:
            if v in producer:
                lines.append(f'  {producer[v]} -> n{i} [label="{v.type}"];')
    for j, (v, label) in enumerate(zip(graph.outputs, graph.output_labels)):
        lines.append(f'  o{j} [shape=ellipse, style=dashed, label="{_escape(label or "out")}"];')
        if v in producer:
            lines.append(f'  {producer[v]} -> o{j} [label="{v.type}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _node_label(node):
    outs = ", ".join(f"%{o.name}" for o in node.outputs)
    if node.op == KERNEL:
        members = [n.op for n in node.body.nodes]
        return (f"{outs} = {node.attrs.get('name', 'kernel')} ({node.attrs.get('kind', '')})"
                f"\n{' '.join(members)}")
    if node.op == CONSTANT:
        return f"{outs} = constant {node.outputs[0].type}"
    path = layer_path(node.scope, node.op)
    return f"{outs} = {node.op}" + (f"\n{path}" if path else "")


def _escape(text):
    return str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
