"""The backward walk shared by the eager tape and the IR autodiff.

Both present their forward computation as records `(prim, inputs, outputs, attrs)` in
execution order. The walk calls each primitive's gradient rule, which is written with
`gk.ops`, so the same rules build eager cotangents or IR nodes.
"""
from graphkit import dtypes


def backward(records, cotangents, needed=None):
    """Propagate `cotangents` (id(value) -> cotangent) back through `records`.

    `needed` (optional) holds the ids of the values whose cotangents can matter: the tape
    passes the values that depend on a source. The cotangents of other inputs (data,
    constants such as relu's 0) are then neither accumulated nor, for rules that accept
    `needs=`, computed: eagerly, that work would be spent on every step for nothing.

    Returns the same dict, now holding a cotangent for every value reached.
    """
    from graphkit import ops
    for prim, inputs, outputs, attrs in reversed(records):
        multi = prim.n_outputs > 1
        if multi:
            cts = [cotangents.get(id(o)) for o in outputs]
            if all(c is None for c in cts):
                continue
            ct_arg = tuple(ops.zeros_like(o) if c is None else c for o, c in zip(outputs, cts))
        else:
            ct_arg = cotangents.get(id(outputs))
            if ct_arg is None:
                continue
        needs = None
        if needed is not None:
            needs = tuple([id(x) in needed for x in inputs])
        if needs is not None and getattr(prim, "grad_needs", False):
            in_cts = prim.grad(ct_arg, outputs, *inputs, needs=needs, **attrs)
        else:
            in_cts = prim.grad(ct_arg, outputs, *inputs, **attrs)
        if len(in_cts) != len(inputs):
            raise RuntimeError(
                f"gradient rule of '{prim.name}' returned {len(in_cts)} cotangents "
                f"for {len(inputs)} inputs")
        for i, (x, g) in enumerate(zip(inputs, in_cts)):
            if g is None or (needs is not None and not needs[i]):
                continue
            x_dtype = x.dtype
            if not dtypes.is_float(x_dtype):
                continue
            if g.dtype != x_dtype:
                g = ops.cast(g, x_dtype)
            key = id(x)
            prev = cotangents.get(key)
            cotangents[key] = g if prev is None else ops.add(prev, g)
    return cotangents
