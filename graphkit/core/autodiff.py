"""The backward walk shared by the eager tape and the IR autodiff.

Both present their forward computation as records `(prim, inputs, outputs, attrs)` in
execution order. The walk calls each primitive's gradient rule, which is written with
`gk.ops`, so the same rules build eager cotangents or IR nodes.
"""
import numpy as np

from graphkit import dtypes

# The NumPy dtypes of `dtypes.FLOATS`: the eager values whose cotangents are accumulated.
_FLOAT_NP_DTYPES = frozenset(np.dtype(name) for name in dtypes.FLOATS)


def backward(records, cotangents, needed=None, keep=None):
    """Propagate `cotangents` (id(value) -> cotangent) back through `records`.

    `needed` (optional) holds the ids of the values whose cotangents can matter: the tape
    passes the values that depend on a source. The cotangents of other inputs (data,
    constants such as relu's 0) are then neither accumulated nor, for rules that accept
    `needs=`, computed: eagerly, that work would be spent on every step for nothing.

    `keep` (optional) holds the ids of the values whose cotangents the caller reads
    afterwards. With it, an output's cotangent is dropped once its record has been processed
    (every consumer of a value comes later in the records, so its cotangent is complete and
    used up by then): eagerly, the memory is free for the rest of the walk instead of new.

    Returns the same dict, now holding a cotangent for every value reached (every value in
    `keep`, when given).
    """
    from graphkit import ops
    from graphkit.core.tensor import Tensor as tensor
    for prim, inputs, outputs, attrs in reversed(records):
        multi = prim.n_outputs > 1
        if multi:
            cts = [cotangents.get(id(o)) for o in outputs]
            if all(c is None for c in cts):
                continue
            ct_arg = tuple(ops.zeros_like(o) if c is None else c for o, c in zip(outputs, cts))
            if keep is not None:
                for o in outputs:
                    if id(o) not in keep:
                        cotangents.pop(id(o), None)
        else:
            ct_arg = cotangents.get(id(outputs))
            if ct_arg is None:
                continue
            if keep is not None and id(outputs) not in keep:
                del cotangents[id(outputs)]
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
            if type(x) is tensor and type(g) is tensor:
                # Eager values: compare NumPy dtypes, without the dtype-name properties.
                x_np = x._array.dtype
                if x_np not in _FLOAT_NP_DTYPES:
                    continue
                if g._array.dtype != x_np:
                    g = ops.cast(g, x.dtype)
            else:
                x_dtype = x.dtype
                if not dtypes.is_float(x_dtype):
                    continue
                if g.dtype != x_dtype:
                    g = ops.cast(g, x_dtype)
            key = id(x)
            prev = cotangents.get(key)
            cotangents[key] = g if prev is None else ops.add(prev, g)
    return cotangents
