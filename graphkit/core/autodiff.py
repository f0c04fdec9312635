"""The backward walk shared by the eager tape and the IR autodiff.

Both present their forward computation as records in execution order. The walk calls each
primitive's gradient rule, which is written with `gk.ops`, so the same rules build eager
cotangents or IR nodes.

The IR autodiff hands `backward` records `(prim, inputs, outputs, attrs)` and cotangents
keyed by `id(value)`: its values all live until the walk ends. The eager tape hands
`backward_keyed` records that name values by keys of its own and keep, as values, only what
the gradient rule reads (`Primitive.grad_uses`); the rest are `ShapeOnly` stand-ins. Eagerly,
that lets the forward pass's temporaries die as soon as NumPy is done with them, instead of
landing on fresh pages every step.
"""
import operator

import numpy as np

from graphkit import dtypes

# The NumPy dtypes of `dtypes.FLOATS`: the eager values whose cotangents are accumulated.
_FLOAT_NP_DTYPES = frozenset(np.dtype(name) for name in dtypes.FLOATS)


class ShapeOnly(tuple):
    """What a gradient rule sees of an operand it reads only the shape and dtype of:
    `(shape, dtype name, NumPy dtype or None)`, a tuple so that making one is one C call
    (the tape makes dozens per eager step)."""

    __slots__ = ()
    shape = property(operator.itemgetter(0))
    dtype = property(operator.itemgetter(1))
    np_dtype = property(operator.itemgetter(2))

    @property
    def ndim(self):
        return len(self[0])

    def __repr__(self):
        return f"ShapeOnly({self[0]}, {self[1]})"


def shape_only(value):
    """The `ShapeOnly` stand-in of an eager Tensor or a Tracer."""
    a = getattr(value, "_array", None)  # an eager Tensor's array
    if type(a) is np.ndarray:
        return _new_shape_only(ShapeOnly, (a.shape, value.dtype, a.dtype))
    return _new_shape_only(ShapeOnly, (value.shape, value.dtype, None))


_new_shape_only = tuple.__new__


def backward(records, cotangents, needed=None, keep=None):
    """Propagate `cotangents` (id(value) -> cotangent) back through `records`
    `(prim, inputs, outputs, attrs)`.

    `needed` (optional) holds the ids of the values whose cotangents can matter. The
    cotangents of other inputs (data, constants such as relu's 0) are then neither
    accumulated nor, for rules that accept `needs=`, computed.

    `keep` (optional) holds the ids of the values whose cotangents the caller reads
    afterwards. With it, an output's cotangent is dropped once its record has been processed
    (every consumer of a value comes later in the records, so its cotangent is complete and
    used up by then).

    Returns the same dict, now holding a cotangent for every value reached (every value in
    `keep`, when given).
    """
    keyed = []
    for prim, inputs, outputs, attrs in records:
        out_keys = tuple(id(o) for o in outputs) if prim.n_outputs > 1 else id(outputs)
        if needed is None:
            in_keys = tuple(id(x) for x in inputs)
        else:
            in_keys = tuple(id(x) if id(x) in needed else None for x in inputs)
        keyed.append((prim, inputs, outputs, attrs, in_keys, out_keys))
    return _walk(keyed, cotangents, keep, prune=needed is not None, consume=False)


def backward_keyed(records, cotangents, keep=None, consume=False):
    """The walk over records `(prim, inputs, outputs, attrs, in_keys, out_keys)`, a list in
    execution order.

    `in_keys` holds None for the inputs whose cotangent is not needed (they do not depend on
    a source); `out_keys` is one key, or a tuple for multi-output primitives. `cotangents`
    and `keep` are keyed the same way. With `consume`, each record is removed from the list
    once processed, so that the values only it held are freed during the walk.
    """
    return _walk(records, cotangents, keep, prune=True, consume=consume)


def _walk(records, cotangents, keep, prune, consume):
    from graphkit import ops
    from graphkit.core.tensor import Tensor as tensor
    if not consume:
        records = list(records)  # popped below; the caller's list is left alone
    pop = records.pop
    while records:
        prim, inputs, outputs, attrs, in_keys, out_keys = pop()
        if prim.n_outputs > 1:
            cts = [cotangents.get(k) for k in out_keys]
            if all(c is None for c in cts):
                continue
            ct_arg = tuple(c if c is not None else ops.zeros(o.shape, o.dtype)
                           if type(o) is ShapeOnly else ops.zeros_like(o)
                           for o, c in zip(outputs, cts))
            if keep is not None:
                for k in out_keys:
                    if k not in keep:
                        cotangents.pop(k, None)
        else:
            ct_arg = cotangents.get(out_keys)
            if ct_arg is None:
                continue
            if keep is not None and out_keys not in keep:
                del cotangents[out_keys]
        if prune:
            needs = tuple([k is not None for k in in_keys])
            if prim.grad_needs:
                in_cts = prim.grad(ct_arg, outputs, *inputs, needs=needs, **attrs)
            else:
                in_cts = prim.grad(ct_arg, outputs, *inputs, **attrs)
        else:
            in_cts = prim.grad(ct_arg, outputs, *inputs, **attrs)
        if len(in_cts) != len(inputs):
            raise RuntimeError(
                f"gradient rule of '{prim.name}' returned {len(in_cts)} cotangents "
                f"for {len(inputs)} inputs")
        for x, g, key in zip(inputs, in_cts, in_keys):
            if g is None or key is None:
                continue
            tx = type(x)
            if type(g) is tensor and (tx is tensor or (tx is ShapeOnly and x[2] is not None)):
                # Eager values: compare NumPy dtypes, without the dtype-name properties.
                x_np = x._array.dtype if tx is tensor else x[2]
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
            prev = cotangents.get(key)
            cotangents[key] = g if prev is None else ops.add(prev, g)
    return cotangents
