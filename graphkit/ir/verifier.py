"""Checks that a Graph is well formed; run after every pass in tests and debug mode.

- every value is defined once (names unique across the graph and its kernel bodies) and
  before it is used (dominance, in node order); a kernel body uses only its own values;
- every op exists; attributes are static literals and match the primitive's `attr_names`;
- every output type matches what the primitive's `infer` rule gives for the operand types;
- constants hold arrays of their declared type; kernel bodies match their node's operands
  and outputs, and are themselves valid.
"""
import numpy as np

from graphkit.ir.graph import CONSTANT, KERNEL, lookup_primitive
from graphkit.ir.types import TensorType


class VerificationError(ValueError):
    pass


def verify(graph):
    """Raise VerificationError on the first problem; return the graph otherwise."""
    _verify(graph, defined_anywhere=set(), top=True)
    return graph


def _fail(node, msg):
    where = f" ({node.scope})" if node is not None and node.scope else ""
    what = f"node '{node.op}'{where}: " if node is not None else ""
    raise VerificationError(what + msg)


def _verify(graph, defined_anywhere, top):
    visible = set()

    def define(value, node):
        if not isinstance(value.type, TensorType):
            _fail(node, f"%{value.name} has no TensorType (found {value.type!r})")
        if value.name in defined_anywhere:
            _fail(node, f"value %{value.name} is defined more than once")
        defined_anywhere.add(value.name)
        visible.add(value)

    for p in graph.params:
        if p.producer is not None:
            _fail(None, f"parameter %{p.name} of @{graph.name} has a producer node")
        define(p, None)
    if len(graph.param_labels) != len(graph.params):
        _fail(None, f"@{graph.name} has {len(graph.params)} params but "
                    f"{len(graph.param_labels)} labels")
    for node in graph.nodes:
        for i, v in enumerate(node.operands):
            if v not in visible:
                where = ("in an enclosing graph" if v.name in defined_anywhere
                         else "later or nowhere")
                _fail(node, f"operand {i} %{v.name} is defined {where}; a value must be "
                            "defined before its uses, in the same graph")
        _check_node(node, defined_anywhere)
        for i, o in enumerate(node.outputs):
            if o.producer is not node or o.index != i:
                _fail(node, f"output %{o.name} does not point back to its node")
            define(o, node)
    for v in graph.outputs:
        if v not in visible:
            _fail(None, f"output %{v.name} of @{graph.name} is not defined in the graph")
    if len(graph.output_labels) != len(graph.outputs):
        _fail(None, f"@{graph.name} has {len(graph.outputs)} outputs but "
                    f"{len(graph.output_labels)} labels")
    if not top and any(lb is not None for lb in graph.param_labels + graph.output_labels):
        _fail(None, "kernel bodies have no param or output labels")


def _check_node(node, defined_anywhere):
    if node.op == CONSTANT:
        return _check_constant(node)
    if node.op == KERNEL:
        return _check_kernel(node, defined_anywhere)
    from graphkit.ops.primitive import Aval
    prim = lookup_primitive(node.op, required=False)
    if prim is None:
        _fail(node, f"unknown op '{node.op}'")
    for key, value in node.attrs.items():
        _check_literal(node, key, value)
    if prim.attr_names and set(node.attrs) != set(prim.attr_names):
        _fail(node, f"attributes {sorted(node.attrs)} do not match the op's "
                    f"{sorted(prim.attr_names)}")
    avals = [Aval(v.type.shape, v.type.dtype) for v in node.operands]
    try:
        expected = prim.abstract_eval(avals, node.attrs)
    except Exception as e:
        _fail(node, f"its shape rule rejects the operands "
                    f"({', '.join(str(v.type) for v in node.operands)}): {e}")
    if len(expected) != len(node.outputs):
        _fail(node, f"has {len(node.outputs)} outputs, the op defines {len(expected)}")
    for o, aval in zip(node.outputs, expected):
        want = TensorType(aval.shape, aval.dtype)
        if o.type != want:
            _fail(node, f"output %{o.name} has type {o.type}, the shape rule gives {want}")


def _check_constant(node):
    if node.operands or node.attrs or len(node.outputs) != 1:
        _fail(node, "a constant has no operands, no attributes and one output")
    if not isinstance(node.value, np.ndarray):
        _fail(node, f"holds {type(node.value).__name__}, not an ndarray")
    got = TensorType(node.value.shape, node.value.dtype.name)
    if got != node.outputs[0].type:
        _fail(node, f"holds an array of type {got}, its output says {node.outputs[0].type}")


def _check_kernel(node, defined_anywhere):
    body = node.body
    if body is None:
        _fail(node, "a kernel node has no body")
    for key in ("name", "kind"):
        if not isinstance(node.attrs.get(key), str):
            _fail(node, f"a kernel needs a string attribute '{key}'")
    if [p.type for p in body.params] != [v.type for v in node.operands]:
        _fail(node, "body parameter types "
                    f"({', '.join(str(p.type) for p in body.params)}) differ from the operand "
                    f"types ({', '.join(str(v.type) for v in node.operands)})")
    if [v.type for v in body.outputs] != [o.type for o in node.outputs]:
        _fail(node, "body output types differ from the kernel's output types")
    if any(n.op == KERNEL for n in body.nodes):
        _fail(node, "kernels do not nest")
    try:
        _verify(body, defined_anywhere, top=False)
    except VerificationError as e:
        _fail(node, f"in body of kernel {node.attrs.get('name')}: {e}")


_LITERAL_TYPES = (type(None), bool, int, float, str)


def _check_literal(node, key, value):
    if isinstance(value, (tuple, list)):
        for v in value:
            _check_literal(node, key, v)
    elif not isinstance(value, _LITERAL_TYPES):
        _fail(node, f"attribute {key}={value!r} is a {type(value).__name__}; attributes are "
                    "None, bool, int, float, str or tuples of them")
