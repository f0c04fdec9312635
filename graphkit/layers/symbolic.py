"""Helpers for symbolic calls: KerasTensors for shapes, shapes read back from JSON, and the
fresh output tensors a layer's symbolic call hands to its graph node.
"""
import numpy as np

from graphkit import tree
from graphkit.core import keras_tensor as kt
from graphkit.core.variable import Variable
from graphkit.layers.call_spec import is_value


def as_symbolic(x):
    """Values passed to compute_output_spec, as KerasTensors (concrete ones keep their spec)."""
    if isinstance(x, kt.KerasTensor) or not is_value(x):
        return x
    return kt.KerasTensor(x.shape, x.dtype)


def keras_tensors_for(shape, dtype):
    if is_shape(shape):
        return kt.KerasTensor(shape, dtype)
    return map_shapes(lambda s: kt.KerasTensor(s, dtype), shape)


def is_shape(s):
    return isinstance(s, (list, tuple)) and all(
        d is None or isinstance(d, (int, np.integer)) for d in s)


def map_shapes(fn, shapes):
    if is_shape(shapes):
        return fn(tuple(shapes))
    if isinstance(shapes, dict):
        return {k: map_shapes(fn, v) for k, v in shapes.items()}
    if isinstance(shapes, (list, tuple)):
        return type(shapes)(map_shapes(fn, s) for s in shapes)
    raise ValueError(f"Expected a shape tuple or a nested structure of shapes, "
                     f"received {shapes!r}")


def tuplify_shape(shape):
    """JSON turns shape tuples into lists: turn them back."""
    if is_shape(shape):
        return tuple(shape)
    if isinstance(shape, dict):
        return {k: tuplify_shape(v) for k, v in shape.items()}
    if isinstance(shape, (list, tuple)):
        return tuple(tuplify_shape(s) for s in shape)
    return shape


def fresh_symbolic_outputs(layer, args, kwargs, outputs):
    """The symbolic outputs as new KerasTensors, one object per output.

    An output that is one of the inputs (an identity layer), a repeated object, or a concrete
    value (a returned variable) gets a new KerasTensor, so that recording this call's node
    cannot overwrite another tensor's history.
    """
    input_ids = {id(x) for x in tree.flatten((args, kwargs))}
    seen = set()

    def fresh(x):
        if isinstance(x, Variable):
            x = x.value
        if not is_value(x):
            raise ValueError(f"Layer '{layer.name}' returned a non-tensor output in a symbolic "
                             f"call: {x!r} (of type {type(x).__name__})")
        if isinstance(x, kt.KerasTensor) and id(x) not in input_ids and id(x) not in seen:
            seen.add(id(x))
            return x
        y = kt.KerasTensor(x.shape, x.dtype)
        seen.add(id(y))
        return y
    return tree.map_structure(fresh, outputs)
