"""Tracing: the third kind of value. Running layer code on `Tracer`s builds an `ir.Graph`.

`bind` sends an op to the class with the highest `_bind_priority` among its operands; a
Tracer's `_bind` appends a node to the graph of the active trace, with the output types
from the primitive's infer rule. Eager Tensors met as operands are lifted into graph
constants (uniform ones as `full`; equal scalars share one constant). Variable reads become
graph parameters and assigns become graph outputs, through a `StateScope`, so layer code is
unchanged. Tracers record on GradientTapes like eager Tensors do, so a tape used inside a
trace emits its backward pass as IR nodes.
"""
import re
import threading

import numpy as np

from graphkit import naming, tree
from graphkit.core.operators import OperatorMixin
from graphkit.core.scopes import StateScope
from graphkit.ir.graph import Graph
from graphkit.ir.pattern import is_uniform
from graphkit.ir.types import TensorType
from graphkit.ops.primitive import infer_avals

_local = threading.local()


def _stack():
    s = getattr(_local, "traces", None)
    if s is None:
        s = _local.traces = []
    return s


def current_trace():
    """The innermost active Trace, or None outside any trace."""
    s = _stack()
    return s[-1] if s else None


class TracerError(TypeError):
    """A traced value was used in a way that needs its data, or outside its trace."""


class Tracer(OperatorMixin):
    """A value inside a trace: a graph Value plus the Trace that owns it."""

    __slots__ = ("ir_value", "_trace", "_keras_mask", "_tape_key", "__weakref__")
    _bind_priority = 2
    _records_gradients = True

    def __init__(self, ir_value, trace):
        self.ir_value = ir_value
        self._trace = trace
        self._keras_mask = None
        self._tape_key = None

    @classmethod
    def _bind(cls, prim, args, attrs):
        trace = current_trace()
        if trace is None:
            culprit = next(a for a in args if isinstance(a, Tracer))
            raise TracerError(
                f"op '{prim.name}' received a traced value ({culprit._describe()}) after its "
                "trace ended. A value computed inside gk.jit or ir.trace was kept (for "
                "example stored on a layer) and used later; return it from the function "
                "instead.")
        return trace.emit(prim, args, attrs)

    # -- the tensor surface -----------------------------------------------------------------
    @property
    def shape(self):
        return self.ir_value.type.shape

    @property
    def dtype(self):
        return self.ir_value.type.dtype

    @property
    def ndim(self):
        return len(self.ir_value.type.shape)

    @property
    def size(self):
        return self.ir_value.type.size

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a 0-d traced value")
        return self.shape[0]

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d traced value")
        for i in range(self.shape[0]):
            yield self[i]

    def _describe(self):
        node = self.ir_value.producer
        where = f", from {node.scope}" if node is not None and node.scope else ""
        return f"%{self.ir_value.name}:{self.ir_value.type}{where}"

    def _needs_data(self, what):
        raise TracerError(
            f"{what} needs the data of a traced value ({self._describe()}), which is not known "
            "while tracing (inside gk.jit or ir.trace). Compute with gk.ops instead (ops.where "
            "for branches), or pass the value as a static argument (static_argnames=...).")

    def numpy(self):
        self._needs_data("numpy()")

    def __array__(self, dtype=None, copy=None):
        self._needs_data("Converting to a NumPy array")

    def __bool__(self):
        self._needs_data("Python control flow (if/while/bool())")

    def __float__(self):
        self._needs_data("float()")

    def __int__(self):
        self._needs_data("int()")

    def __index__(self):
        self._needs_data("Using a value as an index")

    def __repr__(self):
        return f"<Tracer {self._describe()}>"


class _TraceStateScope(StateScope):
    """Variable reads -> graph parameters (once per variable); assigns -> graph outputs."""

    def __init__(self, trace):
        self.trace = trace

    def read(self, variable):
        return self.trace.read_variable(variable)

    def assign(self, variable, value):
        self.trace.assign_variable(variable, value)
        return True


class Trace:
    """Builds one Graph. Use as a context manager; values made inside are Tracers."""

    def __init__(self, name="main"):
        self.graph = Graph(_sanitize(name))
        self._constants = {}     # id(Tensor) -> (Tensor, Tracer): the Tensor is kept alive
        self._scalars = {}       # (dtype, bytes) of a 0-d constant -> its graph Value
        self.var_reads = {}      # id(Variable) -> (Variable, Tracer param)
        self.var_writes = {}     # id(Variable) -> (Variable, Tracer), in first-assign order
        self._scope = _TraceStateScope(self)
        self._types = {}         # (shape, dtype) of an aval -> TensorType (see `_type`)
        self.active = False

    def __enter__(self):
        _stack().append(self)
        self._scope.__enter__()
        self.active = True
        return self

    def __exit__(self, *exc):
        self.active = False
        self._scope.__exit__(*exc)
        _stack().remove(self)

    # -- values -----------------------------------------------------------------------------
    def new_param(self, type_, label=None):
        return Tracer(self.graph.add_param(type_, label), self)

    def lift(self, x):
        """The Tracer standing for operand `x` in this trace."""
        if isinstance(x, Tracer):
            if x._trace is self:
                return x
            state = "an enclosing trace" if x._trace.active else "a trace that has ended"
            raise TracerError(
                f"a traced value ({x._describe()}) from {state} was used inside another trace; "
                "pass it to the inner function as an argument instead of capturing it")
        if hasattr(x, "_array"):  # an eager Tensor
            hit = self._constants.get(id(x))
            if hit is None:
                hit = (x, self._constant(np.asarray(x._array)))
                self._constants[id(x)] = hit
            return hit[1]
        raise TracerError(f"cannot use a {type(x).__name__} inside a trace; expected Tensors "
                          "or traced values")

    def _constant(self, array):
        """A new Tracer for a concrete array. A scalar's graph value is made once per
        distinct value, told apart by dtype and bytes (so -0.0 and 0.0 stay two): layer code
        converts the same Python numbers again and again (an Adam step ~10 per variable),
        and each copy would be one more node to trace, print and fold (~10% of a W3 train
        step's trace). Each Tensor still gets a Tracer of its own, as tapes tell values apart
        by identity."""
        if array.ndim:
            return Tracer(self._constant_value(array), self)
        key = (array.dtype.str, array.tobytes())
        value = self._scalars.get(key)
        if value is None:
            value = self._scalars[key] = self._constant_value(array)
        return Tracer(value, self)

    def _constant_value(self, array):
        """A graph value for a concrete array: `full` when uniform, else a constant node."""
        from graphkit.ops.primitive import PRIMITIVES
        scope = naming.current_path()
        if array.size > 1 and "full" in PRIMITIVES and is_uniform(array):
            attrs = {"shape": tuple(array.shape), "value": array.flat[0].item(),
                     "dtype": array.dtype.name}
            node = self.graph.add_node("full", [], [TensorType(array.shape, array.dtype.name)],
                                       attrs, scope=naming.join_path(scope, "full"))
            return node.outputs[0]
        return self.graph.add_constant(np.array(array), scope=scope)

    def emit(self, prim, args, attrs):
        # Every op of a trace comes here (~45% of tracing a train step): plain loops, no
        # comprehension frames, and no lift call for operands of this trace.
        operands, values = [], []
        for a in args:
            if type(a) is not Tracer or a._trace is not self:
                a = self.lift(a)
            operands.append(a)
            values.append(a.ir_value)
        out_types = []
        for aval in infer_avals(prim, operands, attrs):
            out_types.append(self._type(aval))
        node = self.graph.add_node(prim.name, values, out_types,
                                   normalize_attrs(attrs) if attrs else None,
                                   scope=naming.join_path(naming.current_path(), prim.name))
        if prim.n_outputs > 1:
            return tuple([Tracer(v, self) for v in node.outputs])
        return Tracer(node.outputs[0], self)

    def _type(self, aval):
        """The TensorType of an inferred aval, made once per (shape, dtype) in this trace
        (types are immutable, so values share them; a trace makes hundreds)."""
        key = (aval.shape, aval.dtype)
        type_ = self._types.get(key)
        if type_ is None:
            type_ = self._types[key] = TensorType(aval.shape, aval.dtype)
        return type_

    # -- variables --------------------------------------------------------------------------
    def read_variable(self, variable):
        key = id(variable)
        if key in self.var_writes:
            return self.var_writes[key][1]
        if key not in self.var_reads:
            param = self.new_param(TensorType(variable.shape, variable.dtype),
                                   f"var:{variable.path}")
            self.var_reads[key] = (variable, param)
        return self.var_reads[key][1]

    def assign_variable(self, variable, value):
        self.var_writes.pop(id(variable), None)  # keep the order of the *last* assign
        self.var_writes[id(variable)] = (variable, self.lift(value))


def normalize_attrs(attrs):
    """Attributes as plain Python literals (NumPy scalars -> int/float/bool, lists -> tuples)."""
    return {k: _plain(v) for k, v in attrs.items()}


def _plain(v):
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    if isinstance(v, (list, tuple)):
        return tuple(_plain(x) for x in v)
    if isinstance(v, np.dtype):
        return v.name
    return v


def _sanitize(name):
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", str(name)).strip("_") or "main"


# -- tracing a function -----------------------------------------------------------------------

class TraceInfo:
    """How a traced graph maps to the Python call: which argument leaves and variables feed
    its parameters, and which outputs are user results or variable updates."""

    def __init__(self):
        self.in_tree = None        # (args, kwargs) with leaves replaced by None
        self.arg_leaves = []       # flat leaf indices of the traced arguments, in param order
        self.var_reads = []        # Variables, in param order after the arguments
        self.var_writes = []       # Variables, in output order after the user outputs
        self.out_tree = None       # the output structure
        self.out_leaves = []       # per flat output leaf: ("graph", i) or ("static", value)
        self.out_masks = []        # (flat output leaf, graph output) of each output's mask


def is_array_leaf(x):
    """Leaves that become traced parameters: Tensors and NumPy arrays. NumPy scalars stay
    static, like Python scalars: eager ops treat both as weak (`x * np.float64(2)` keeps
    x's dtype), and a traced parameter would carry the scalar's own dtype instead."""
    return hasattr(x, "_array") or isinstance(x, np.ndarray)


def masked_leaves(leaves):
    """Indices of the argument leaves that carry a Keras mask (eager layer outputs do)."""
    return [i for i, leaf in enumerate(leaves)
            if is_array_leaf(leaf) and getattr(leaf, "_keras_mask", None) is not None]


def with_masks(leaves):
    """The argument leaves followed by their masks: what a traced graph's params read."""
    return list(leaves) + [leaves[i]._keras_mask for i in masked_leaves(leaves)]


def leaf_path(path):
    """('args', 0, 'x') -> "args[0]['x']"."""
    text = str(path[0])
    for k in path[1:]:
        text += f"[{k!r}]"
    return text


def trace_function(fn, args=(), kwargs=None, name=None):
    """Trace `fn(*args, **kwargs)`; returns (Graph, TraceInfo).

    Tensor and array leaves of the arguments become graph parameters; every other leaf
    (numbers, strings, layers, ...) is passed through unchanged (static).
    """
    kwargs = dict(kwargs or {})
    info = TraceInfo()
    structure = {"args": list(args), "kwargs": kwargs}
    flat = tree.flatten_with_path(structure)
    with Trace(name or _function_name(fn)) as trace:
        leaves = []
        for i, (path, leaf) in enumerate(flat):
            _reject_symbolic(path, leaf)
            if is_array_leaf(leaf):
                a = np.asarray(leaf)
                leaves.append(trace.new_param(TensorType(a.shape, a.dtype.name), leaf_path(path)))
                info.arg_leaves.append(i)
            else:
                leaves.append(leaf)
        # A masked Tensor's mask is a parameter too (after all the leaves, in leaf order, as
        # `masked_leaves` lists them), so that layers see it as they do eagerly.
        for k, i in enumerate(masked_leaves([leaf for _, leaf in flat])):
            mask = np.asarray(flat[i][1]._keras_mask)
            leaves[i]._keras_mask = trace.new_param(TensorType(mask.shape, mask.dtype.name),
                                                    "mask:" + leaf_path(flat[i][0]))
            info.arg_leaves.append(len(flat) + k)
        packed = tree.pack_sequence_as(structure, leaves)
        out = fn(*packed["args"], **packed["kwargs"])
        _finish(trace, out, info)
    info.in_tree = structure
    info.var_reads = [v for v, _ in trace.var_reads.values()]
    info.var_writes = [v for v, _ in trace.var_writes.values()]
    return trace.graph, info


def _finish(trace, out, info):
    from graphkit.core.variable import Variable
    values, labels = [], []
    flat = tree.flatten_with_path(out)
    for path, leaf in flat:
        if isinstance(leaf, Variable):
            leaf = leaf.value
        if isinstance(leaf, Tracer) or hasattr(leaf, "_array"):
            info.out_leaves.append(("graph", len(values)))
            values.append(trace.lift(leaf).ir_value)
            labels.append(leaf_path(("out",) + tuple(path)))
        else:
            info.out_leaves.append(("static", leaf))
    # Masks come after the results (and before the variables): eager outputs carry theirs.
    for i, (path, leaf) in enumerate(flat):
        mask = getattr(leaf, "_keras_mask", None) if info.out_leaves[i][0] == "graph" else None
        if mask is not None:
            info.out_masks.append((i, len(values)))
            values.append(trace.lift(mask).ir_value)
            labels.append("mask:" + leaf_path(("out",) + tuple(path)))
    info.out_tree = tree.pack_sequence_as(out, [None] * len(flat))  # structure only
    for var, value in trace.var_writes.values():
        values.append(value.ir_value)
        labels.append(f"var:{var.path}")
    trace.graph.set_outputs(values, labels)


def _reject_symbolic(path, leaf):
    if type(leaf).__name__ == "KerasTensor":
        raise TypeError(f"{leaf_path(path)}: cannot trace a function of a symbolic KerasTensor; "
                        "call it on concrete data (arrays or Tensors)")
    if isinstance(leaf, Tracer):
        raise TracerError(f"{leaf_path(path)}: is already a traced value; call the function "
                          "directly inside the outer trace instead of tracing it again")


def _function_name(fn):
    name = getattr(fn, "name", None)  # layers and models
    if not isinstance(name, str):
        name = getattr(fn, "__name__", None) or type(fn).__name__
    return name


def trace(fn, *args, **kwargs):
    """Trace `fn(*args, **kwargs)` into an `ir.Graph` (see `trace_function`)."""
    graph, _ = trace_function(fn, args, kwargs)
    return graph
