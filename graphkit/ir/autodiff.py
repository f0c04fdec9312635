"""Reverse-mode autodiff as a graph transform.

The graph is replayed on Tracers of a new trace (each node bound again through its
primitive), recording the differentiable calls; then `graphkit.core.autodiff.backward`, the
walk the eager GradientTape uses, calls each primitive's `grad` rule on those Tracers, which
emits the backward nodes. Eager and IR gradients therefore come from the same rules.
"""
from graphkit import dtypes, naming
from graphkit.core.autodiff import backward
from graphkit.core.tensor import Tensor
from graphkit.ir.graph import CONSTANT, KERNEL, layer_path
from graphkit.ir.tracer import Trace
from graphkit.ops.primitive import bind


def replay(graph, inputs, records=None):
    """Evaluate `graph` by binding each node's primitive on `inputs` (values of any kind).

    Inside a trace this copies the graph into it; node scopes are kept. Differentiable calls
    are appended to `records` as (primitive, inputs, outputs, attrs), the tape's format.
    """
    env = dict(zip(graph.params, inputs))
    for node in graph.nodes:
        args = [env[v] for v in node.operands]
        if node.op == CONSTANT:
            outs = (Tensor(node.value),)
        elif node.op == KERNEL:
            outs = tuple(replay(node.body, args, records))
        else:
            outs = _bind_in_scope(node, args, records)
        for o, value in zip(node.outputs, outs):
            env[o] = value
    return [env[v] for v in graph.outputs]


def _bind_in_scope(node, args, records):
    prim = node.primitive
    path = layer_path(node.scope, node.op)
    with _maybe_scope(path):
        out = bind(prim, *args, **node.attrs)
    if records is not None and prim.grad is not None:
        records.append((_ScopedGrad(prim, path), tuple(args), out, node.attrs))
    return out if prim.n_outputs > 1 else (out,)


class _ScopedGrad:
    """A primitive seen by `backward`: its grad rule runs in the scope `<layer>/grad`, so
    backward nodes say which layer they belong to."""

    def __init__(self, prim, path):
        self.prim, self.path = prim, path
        self.name, self.n_outputs = prim.name, prim.n_outputs

    def grad(self, *args, **attrs):
        with naming.name_scope(naming.join_path(self.path, "grad")):
            return self.prim.grad(*args, **attrs)


class _maybe_scope:
    def __init__(self, path):
        self.cm = naming.name_scope(path) if path else None

    def __enter__(self):
        if self.cm is not None:
            self.cm.__enter__()

    def __exit__(self, *exc):
        if self.cm is not None:
            self.cm.__exit__(*exc)


def grad_graph(graph, wrt=None, of=(0,), seeds="ones", name=None):
    """A new graph computing `graph`'s outputs followed by gradients.

    - `wrt`: indices of the parameters to differentiate with respect to (default: every
      float parameter). Unconnected ones get zeros.
    - `of`: indices of the outputs whose (summed) value is differentiated.
    - `seeds`: "ones" seeds each output with ones (the gradient of the sum, like
      `GradientTape.gradient`); "params" adds one cotangent parameter per output in `of`
      (labelled "ct:<label>") and computes the vector-Jacobian product.
    """
    from graphkit import ops
    if seeds not in ("ones", "params"):
        raise ValueError(f"grad_graph: `seeds` must be 'ones' or 'params', received {seeds!r}")
    of = tuple(of)
    if wrt is None:
        wrt = [i for i, p in enumerate(graph.params) if dtypes.is_float(p.type.dtype)]
    for i in of:
        if not 0 <= i < len(graph.outputs):
            raise ValueError(f"grad_graph: output index {i} out of range "
                             f"(@{graph.name} has {len(graph.outputs)} outputs)")
        if not dtypes.is_float(graph.outputs[i].type.dtype):
            raise ValueError(f"grad_graph: output {i} is {graph.outputs[i].type}; only float "
                             "outputs can be differentiated")
    for j in wrt:
        if not 0 <= j < len(graph.params):
            raise ValueError(f"grad_graph: parameter index {j} out of range "
                             f"(@{graph.name} has {len(graph.params)} parameters)")
    with Trace(name or f"{graph.name}_grad") as tr:
        params = [tr.new_param(p.type, label)
                  for p, label in zip(graph.params, graph.param_labels)]
        cts = [tr.new_param(graph.outputs[i].type, f"ct:{_label(graph, i)}") for i in of] \
            if seeds == "params" else [None] * len(of)
        records = []
        outs = replay(graph, params, records)
        cotangents = {}
        for i, ct in zip(of, cts):
            seed = ops.ones_like(outs[i]) if ct is None else ct
            prev = cotangents.get(id(outs[i]))
            cotangents[id(outs[i])] = seed if prev is None else ops.add(prev, seed)
        backward(records, cotangents)
        grads = []
        for j in wrt:
            g = cotangents.get(id(params[j]))
            grads.append(ops.zeros_like(params[j]) if g is None else g)
        values = [tr.lift(v).ir_value for v in list(outs) + grads]
        labels = list(graph.output_labels) + [
            f"grad:{graph.param_labels[j] or '%' + graph.params[j].name}" for j in wrt]
        tr.graph.set_outputs(values, labels)
    return tr.graph


def _label(graph, i):
    return graph.output_labels[i] or f"%{graph.outputs[i].name}"
