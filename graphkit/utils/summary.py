"""`model.summary()`: a plain-text table of layers, output shapes, parameter counts and (for
graphs that are not a simple stack) what each layer is connected to, as Keras prints it.
"""
import re
import textwrap

import numpy as np


# The "Trainable" column: its header (9 characters) plus the cell padding, unwrapped.
_TRAINABLE_WIDTH = 12


def readable_memory_size(nbytes):
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if nbytes < 1024 or unit == "TB":
            return f"{nbytes:.2f} {unit}"
        nbytes /= 1024


def weights_summary(weights):
    count = sum(int(np.prod(w.shape)) for w in weights)
    nbytes = sum(int(np.prod(w.shape)) * np.dtype(w.dtype).itemsize for w in weights)
    return f"{count:,} ({readable_memory_size(nbytes)})"


def print_summary(model, line_length=None, positions=None, print_fn=None, expand_nested=False,
                  show_trainable=False, layer_range=None):
    print_fn = print_fn or print
    connected = _shows_connections(model)
    headers = ["Layer (type)", "Output Shape", "Param #"]
    if connected:
        headers.append("Connected to")
    if show_trainable:
        headers.append("Trainable")
    line_length = line_length or (100 if connected else 72) + (
        _TRAINABLE_WIDTH if show_trainable else 0)
    positions = _positions(positions, len(headers), line_length, connected, show_trainable)
    widths = [b - a for a, b in zip([0] + positions[:-1], positions)]
    layers = _apply_range(_summary_layers(model), layer_range)
    rows = _rows(model, connected, show_trainable, expand_nested, depth=0, layers=layers)
    lines = [f'Model: "{model.name}"', "_" * line_length,
             _format_row(headers, widths), "=" * line_length]
    for i, row in enumerate(rows):
        lines.append(_format_row(row, widths))
        if i < len(rows) - 1:
            lines.append("")
    lines.append("=" * line_length)
    # As Keras: once the optimizer is built, its slots count in the total and get a line.
    optimizer_weights = _optimizer_weights(model)
    lines.append(f" Total params: {weights_summary(model.weights + optimizer_weights)}")
    lines.append(f" Trainable params: {weights_summary(model.trainable_weights)}")
    lines.append(f" Non-trainable params: {weights_summary(model.non_trainable_weights)}")
    if optimizer_weights:
        lines.append(f" Optimizer params: {weights_summary(optimizer_weights)}")
    lines.append("_" * line_length)
    for line in lines:
        print_fn(line)


def _optimizer_weights(model):
    optimizer = getattr(model, "optimizer", None)
    if not getattr(model, "compiled", False) or not getattr(optimizer, "built", False):
        return []
    return list(optimizer.variables)


def _shows_connections(model):
    from graphkit.models.functional import Functional
    from graphkit.models.sequential import Sequential
    if isinstance(model, Sequential) or not isinstance(model, Functional):
        return False
    return not _is_plain_stack(model)


def _is_plain_stack(model):
    """A single chain of single-call layers: Keras prints no "Connected to" for those.
    As Keras: one node per depth, none with several inputs and no layer called twice; the
    chain may have several outputs (a layer's return_state, or tensors along the chain)."""
    from graphkit.models.graph import nodes_in_model
    for nodes in model._nodes_by_depth.values():
        if len(nodes) > 1 or len(nodes[0].input_tensors) > 1:
            return False
    return all(len(nodes_in_model(model, op)) == 1 for op in model.operations)


def _positions(positions, n, line_length, connected, show_trainable):
    if positions is None:
        positions = [.33, .55, .67, 1.0] if connected else [.45, .80, 1.0]
        if show_trainable:
            positions = [p * (line_length - _TRAINABLE_WIDTH) / line_length
                         for p in positions] + [1.0]
    if len(positions) != n:
        raise ValueError(f"summary: `positions` needs {n} entries (one per column), "
                         f"received {positions}")
    if positions[-1] <= 1:
        positions = [int(line_length * p) for p in positions]
    return [int(p) for p in positions]


def _format_row(cells, widths):
    wrapped = [textwrap.wrap(str(c), max(w - 2, 4)) or [""] for c, w in zip(cells, widths)]
    height = max(len(w) for w in wrapped)
    lines = []
    for i in range(height):
        parts = []
        for cell_lines, width, j in zip(wrapped, widths, range(len(widths))):
            text = cell_lines[i] if i < len(cell_lines) else ""
            parts.append(f" {text}".ljust(width))
        lines.append("".join(parts).rstrip())
    return "\n".join(lines)


def _rows(model, connected, show_trainable, expand_nested, depth, layers=None):
    rows = []
    prefix = "  " * depth + ("└ " if depth else "")
    for layer in _summary_layers(model) if layers is None else layers:
        row = [f"{prefix}{layer.name} ({type_name(layer)})", _output_shape(model, layer),
               _param_count(layer)]
        if connected:
            row.append(_connections(model, layer))
        if show_trainable:
            row.append(_trainable_flag(layer))
        rows.append(row)
        if expand_nested and hasattr(layer, "layers") and layer is not model:
            inner_connected = connected and _shows_connections(layer)
            for inner in _rows(layer, inner_connected, show_trainable, True, depth + 1):
                if connected and not inner_connected:
                    inner = inner[:3] + [""] + inner[3:]
                rows.append(inner)
    return rows


def _trainable_flag(layer):
    """Y or N for a layer with weights; "-" (as Keras) for one without, where it means
    nothing (an InputLayer, a merge layer, an op)."""
    if not getattr(layer, "weights", None):
        return "-"
    return "Y" if layer.trainable else "N"


def type_name(op):
    """A layer's class name; an op's name in Keras's CamelCase form ("add" -> "Add")."""
    from graphkit.models.operation import Operation
    if isinstance(op, Operation):  # a primitive or composite op of a functional graph
        return "".join(part.capitalize() for part in op.op_name.split("_"))
    return type(op).__name__


def _summary_layers(model):
    from graphkit.models.functional import Functional
    if isinstance(model, Functional):
        return model.operations
    from graphkit.models.sequential import Sequential
    if isinstance(model, Sequential) and model._functional is not None:
        return model._functional.layers[1:]
    return model.layers


def _output_shape(model, layer):
    from graphkit.models.functional import Functional
    from graphkit.models.graph import output_shapes
    owner = model._functional if getattr(model, "_functional", None) is not None else model
    if isinstance(owner, Functional):
        shapes = output_shapes(owner, layer)
        if shapes:
            return str(shapes[0]) if len(shapes) == 1 else ", ".join(str(s) for s in shapes)
    nodes = getattr(layer, "_inbound_nodes", [])
    if nodes:
        outs = [tuple(t.shape) for t in nodes[0].output_tensors]
        return str(outs[0] if len(outs) == 1 else outs)
    return _built_output_shape(layer)


def _built_output_shape(layer):
    """As Keras: a layer only called eagerly (in a subclassed model) has no node, but it
    was built for some input shapes, from which it computes its output shape."""
    from graphkit.models.functional import Functional
    if isinstance(layer, Functional) or getattr(layer, "_functional", None) is not None:
        return str(layer.output_shape)  # a model knows its own (as in Keras)
    shapes = getattr(layer, "_build_shapes_dict", None)
    if not shapes:
        return "?"
    try:
        return str(layer.compute_output_shape(**shapes))
    except Exception:  # noqa: BLE001 - a layer that cannot tell still gets its row
        return "?"


def _param_count(layer):
    if not getattr(layer, "built", True):
        return "0 (unbuilt)"
    return f"{sum(int(np.prod(w.shape)) for w in getattr(layer, 'weights', [])):,}"


def _connections(model, layer):
    from graphkit.models.graph import nodes_in_model
    from graphkit.models.node import make_node_key
    if not hasattr(model, "_nodes"):
        return ""
    refs = []
    for node in nodes_in_model(model, layer):
        for t in node.input_tensors:
            op, index, tensor_index = t._keras_history
            kept = sum(1 for i in range(index) if make_node_key(op, i) in model._nodes)
            refs.append(f"{op.name}[{kept}][{tensor_index}]")
    return ", ".join(refs) if refs else "-"


def _apply_range(layers, layer_range):
    """The top-level layers from the first whose name matches `layer_range[0]` to the last
    whose name matches `layer_range[1]` (regular expressions, as Keras; nested layers go
    with their model)."""
    if layer_range is None:
        return layers
    if len(layer_range) != 2 or not all(isinstance(n, str) for n in layer_range):
        raise ValueError(f"summary: `layer_range` must be [first_name, last_name] (names or "
                         f"regular expressions), received {layer_range}")
    names = [layer.name for layer in layers]
    first = [i for i, n in enumerate(names) if re.match(layer_range[0], n)]
    last = [i for i, n in enumerate(names) if re.match(layer_range[1], n)]
    if not first or not last:
        missing = layer_range[0] if not first else layer_range[1]
        raise ValueError(f"summary: layer_range names '{missing}', which matches no layer of "
                         f"the model ({names})")
    if min(first) > max(last):  # given in reverse order: Keras swaps them
        first, last = last, first
    return layers[min(first):max(last) + 1]
