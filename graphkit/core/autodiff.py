"""The backward walk shared by the eager tape and the IR autodiff.

Both present their forward computation as records `(prim, inputs, outputs, attrs)` in
execution order. The walk calls each primitive's gradient rule, which is written with
`gk.ops`, so the same rules build eager cotangents or IR nodes.
"""
from graphkit import dtypes


def backward(records, cotangents):
    """Propagate `cotangents` (id(value) -> cotangent) back through `records`.

    Returns the same dict, now holding a cotangent for every value reached.
    """
    from graphkit import ops
    for prim, inputs, outputs, attrs in reversed(records):
        outs = outputs if prim.n_outputs > 1 else (outputs,)
        cts = [cotangents.get(id(o)) for o in outs]
        if all(c is None for c in cts):
            continue
        if prim.n_outputs > 1:
            ct_arg = tuple(ops.zeros_like(o) if c is None else c for o, c in zip(outs, cts))
        else:
            ct_arg = cts[0]
        in_cts = prim.grad(ct_arg, outputs, *inputs, **attrs)
        if len(in_cts) != len(inputs):
            raise RuntimeError(
                f"gradient rule of '{prim.name}' returned {len(in_cts)} cotangents "
                f"for {len(inputs)} inputs")
        for x, g in zip(inputs, in_cts):
            if g is None or not dtypes.is_float(x.dtype):
                continue
            if g.dtype != x.dtype:
                g = ops.cast(g, x.dtype)
            prev = cotangents.get(id(x))
            cotangents[id(x)] = g if prev is None else ops.add(prev, g)
    return cotangents
