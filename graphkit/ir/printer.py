"""IR text: readable, and parsed back exactly by `parser.parse` (`str(parse(t)) == t`).

    graph @step(%0:f32[32,10] "args[0]", %1:f32[10,128] "var:dense/kernel") {
      %2:f32[32,128] = matmul %0, %1  # dense/matmul
      %3:f32[] = constant 2.0  # multiply
      %4:f32[32,128] = multiply %2, %3  # multiply
      %5:f32[32,128] = kernel %0, %1 {name="k0", kind="matmul"}  # dense
        body(%6:f32[32,10], %7:f32[10,128]) {
          %8:f32[32,128] = matmul %6, %7  # dense/matmul
          yield %8
        }
      return %4 "out", %5
    }

Attributes print in the primitive's `attr_names` order (others after, sorted), so the form
is canonical. Constants up to `INLINE_LIMIT` elements print as literals, larger ones as the
base64 of their little-endian bytes.
"""
import base64
import json
import math

import numpy as np

from graphkit.ir.graph import CONSTANT, KERNEL, lookup_primitive

INLINE_LIMIT = 32
INDENT = "  "
_KERNEL_ATTR_ORDER = ("name", "kind")


def print_graph(graph):
    lines = [_header(graph)]
    _print_body(graph, lines, 1)
    lines.append(INDENT + "return" + _value_list(graph.outputs, graph.output_labels))
    lines.append("}")
    return "\n".join(lines) + "\n"


def _header(graph):
    params = ", ".join(_param(p, label) for p, label in zip(graph.params, graph.param_labels))
    return f"graph @{graph.name}({params}) {{"


def _param(value, label):
    text = f"%{value.name}:{value.type}"
    return text + f" {json.dumps(label)}" if label is not None else text


def _value_list(values, labels=None):
    if not values:
        return ""
    labels = labels or [None] * len(values)
    parts = [f"%{v.name}" + (f" {json.dumps(lb)}" if lb is not None else "")
             for v, lb in zip(values, labels)]
    return " " + ", ".join(parts)


def _print_body(graph, lines, depth):
    pad = INDENT * depth
    for node in graph.nodes:
        lines.append(pad + node_line(node))
        if node.op == KERNEL:
            body = node.body
            params = ", ".join(_param(p, None) for p in body.params)
            lines.append(pad + INDENT + f"body({params}) {{")
            _print_body(body, lines, depth + 2)
            lines.append(pad + INDENT * 2 + "yield" + _value_list(body.outputs))
            lines.append(pad + INDENT + "}")


def node_line(node):
    """One node as text, without indentation (kernel bodies are printed by the caller)."""
    results = ", ".join(f"%{o.name}:{o.type}" for o in node.outputs)
    text = f"{results} = {node.op}"
    if node.op == CONSTANT:
        text += " " + format_constant(node.value)
    else:
        if node.operands:
            text += " " + ", ".join(f"%{v.name}" for v in node.operands)
        if node.attrs:
            text += " " + format_attrs(node.op, node.attrs)
    if node.scope:
        text += "  # " + node.scope
    return text


# -- attributes ---------------------------------------------------------------------------

def attr_order(op, attrs):
    if op == KERNEL:
        known = _KERNEL_ATTR_ORDER
    else:
        prim = lookup_primitive(op, required=False)
        known = tuple(prim.attr_names) if prim is not None else ()
    first = [k for k in known if k in attrs]
    return first + sorted(k for k in attrs if k not in known)


def format_attrs(op, attrs):
    return "{" + ", ".join(f"{k}={format_literal(attrs[k])}" for k in attr_order(op, attrs)) + "}"


def format_literal(v):
    """Python literal syntax for static values (None, bools, ints, floats, strings, tuples)."""
    if v is None or isinstance(v, (bool, np.bool_)):
        return str(None if v is None else bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return _format_float(float(v))
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, tuple):
        items = [format_literal(x) for x in v]
        return "(" + items[0] + ",)" if len(items) == 1 else "(" + ", ".join(items) + ")"
    if isinstance(v, list):
        return "[" + ", ".join(format_literal(x) for x in v) + "]"
    raise TypeError(f"IR attributes must be None, bool, int, float, str or tuples of them; "
                    f"received {type(v).__name__} ({v!r})")


def _format_float(f):
    if math.isnan(f):
        return "nan"
    if math.isinf(f):
        return "inf" if f > 0 else "-inf"
    return repr(f)


# -- constants ----------------------------------------------------------------------------

def format_constant(array):
    array = np.asarray(array)
    if array.size > INLINE_LIMIT:
        data = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"), copy=False)
        return 'b64"' + base64.b64encode(data.tobytes()).decode("ascii") + '"'
    return _format_nested(array)


def _format_nested(array):
    if array.ndim == 0:
        return _format_scalar(array[()])
    return "[" + ", ".join(_format_nested(a) for a in array) + "]"


def _format_scalar(x):
    if isinstance(x, np.bool_):
        return str(bool(x))
    if isinstance(x, np.floating):
        if np.isnan(x):
            return "nan"
        if np.isinf(x):
            return "inf" if x > 0 else "-inf"
        return str(x)  # NumPy's shortest text that reads back to the same value of its dtype
    return str(int(x))
