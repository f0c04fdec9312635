"""A model's DAG: as a networkx graph, as DOT text, and as a picture where Graphviz is there.

`model_to_dot` writes the DOT language itself (no pydot needed). `plot_model` runs Graphviz's
`dot` program when it is installed, and otherwise writes the DOT text next to the requested
file and says so.
"""
import os
import shutil
import subprocess
import warnings


def model_to_graph(model):
    """The model's layers and connections as a `networkx.DiGraph` (same as `model.graph`)."""
    return model.graph


def _quote(text):
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _label(name, data, show_shapes, show_dtype, show_layer_names, show_trainable):
    from graphkit.utils.summary import type_name
    layer = data["layer"]
    kind = type_name(layer)
    title = f"{name} ({kind})" if show_layer_names else kind
    parts = [title]
    if show_shapes:
        shapes = data["output_shapes"]
        parts.append("output: " + (", ".join(str(s) for s in shapes) if shapes else "?"))
    if show_dtype:
        outs = layer._inbound_nodes[0].output_tensors if layer._inbound_nodes else []
        parts.append("dtype: " + (", ".join(t.dtype for t in outs) or "?"))
    if show_trainable and hasattr(layer, "trainable"):
        parts.append(f"trainable: {'yes' if layer.trainable else 'no'}")
    return "\\n".join(p.replace('"', "'") for p in parts)


def model_to_dot(model, show_shapes=False, show_dtype=False, show_layer_names=True,
                 rankdir="TB", expand_nested=False, dpi=200, show_trainable=False):
    """The model's graph in the DOT language, as a string."""
    if rankdir not in ("TB", "LR"):
        raise ValueError(f"model_to_dot: `rankdir` must be 'TB' or 'LR', received {rankdir!r}")
    graph = model.graph
    lines = [f"digraph {_quote(model.name)} {{",
             f"  graph [rankdir={rankdir}, dpi={int(dpi)}, concentrate=true];",
             "  node [shape=record, fontname=Helvetica];"]
    for name, data in graph.nodes(data=True):
        label = _label(name, data, show_shapes, show_dtype, show_layer_names, show_trainable)
        lines.append(f"  {_quote(name)} [label=\"{label}\"];")
        if expand_nested and hasattr(data["layer"], "graph") and hasattr(data["layer"], "_nodes"):
            lines.extend(_nested_cluster(name, data["layer"]))
    for src, dst in graph.edges():
        lines.append(f"  {_quote(src)} -> {_quote(dst)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _nested_cluster(name, inner):
    lines = [f"  subgraph {_quote('cluster_' + name)} {{", f"    label={_quote(name)};"]
    for inner_name, data in inner.graph.nodes(data=True):
        lines.append(f"    {_quote(name + '/' + inner_name)} "
                     f"[label=\"{inner_name} ({data['class_name']})\"];")
    for src, dst in inner.graph.edges():
        lines.append(f"    {_quote(name + '/' + src)} -> {_quote(name + '/' + dst)};")
    lines.append("  }")
    return lines


def plot_model(model, to_file="model.png", show_shapes=False, show_dtype=False,
               show_layer_names=True, rankdir="TB", expand_nested=False, dpi=200,
               show_trainable=False):
    """Render the model's graph to `to_file` with Graphviz; without Graphviz, write the DOT
    text to `<to_file without extension>.dot`. Returns the path written."""
    dot = model_to_dot(model, show_shapes=show_shapes, show_dtype=show_dtype,
                       show_layer_names=show_layer_names, rankdir=rankdir,
                       expand_nested=expand_nested, dpi=dpi, show_trainable=show_trainable)
    to_file = os.fspath(to_file)
    root, ext = os.path.splitext(to_file)
    fmt = ext[1:].lower() or "png"
    if fmt == "dot":
        return _write(to_file, dot)
    dot_exe = shutil.which("dot")
    if dot_exe is None:
        path = _write(root + ".dot", dot)
        warnings.warn(f"plot_model: Graphviz's `dot` program was not found, so {to_file} "
                      f"was not rendered; the graph was written as DOT text to {path}")
        return path
    result = subprocess.run([dot_exe, f"-T{fmt}", "-o", to_file], input=dot.encode(),
                            capture_output=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"plot_model: Graphviz failed to render {to_file}: "
                           f"{result.stderr.decode(errors='replace').strip()}")
    return to_file


def _write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path
