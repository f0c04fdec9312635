"""Sorting: the `argsort` primitive (stable, not differentiable, opaque to codegen) and
sort, top_k and in_top_k written with it; values are gathered with take_along_axis, so
their gradients flow to the selected elements."""
import numpy as np

from graphkit.ops.convert import to_value
from graphkit.ops.primitive import ops_namespace as _o, Aval, Primitive, ShapeError, bind
from graphkit.ops.shape_rules import canonical_axis



def _argsort_infer(x, axis, descending):
    if not 0 <= axis < x.ndim:
        raise ShapeError(f"argsort: axis {axis} is out of range for a tensor of shape "
                         f"{tuple(x.shape)}")
    return Aval(x.shape, "int32")


def _argsort_kernel(x, axis, descending):
    if descending:
        # A stable descending order: ties keep their original (ascending index) order.
        n = x.shape[axis]
        flipped = np.flip(x, axis=axis)
        order = np.argsort(flipped, axis=axis, kind="stable")
        return np.flip(n - 1 - order, axis=axis).astype(np.int32)
    return np.argsort(x, axis=axis, kind="stable").astype(np.int32)


ARGSORT = Primitive("argsort", eager=_argsort_kernel, infer=_argsort_infer, category="opaque",
                    attr_names=("axis", "descending"))


def argsort(x, axis=-1):
    x = to_value(x)
    if axis is None:
        x, axis = _o().ravel(x), 0
    if x.ndim == 0:
        return _o().zeros((), dtype="int32")
    return bind(ARGSORT, x, axis=canonical_axis(axis, x.ndim, "argsort"), descending=False)


def sort(x, axis=-1):
    x = to_value(x)
    if axis is None:
        x, axis = _o().ravel(x), 0
    if x.ndim == 0:
        return x
    return _o().take_along_axis(x, argsort(x, axis=axis), axis=axis)


def top_k(x, k, sorted=True):
    """The k largest values along the last axis and their indices (ties: lower index first)."""
    ops = _o()
    x = to_value(x)
    n = x.shape[-1]
    if n is not None and not 0 <= k <= n:
        raise ShapeError(f"top_k: k={k} is out of range for a last axis of size {n}")
    order = bind(ARGSORT, x, axis=x.ndim - 1, descending=True)
    index = [(None, None, 1)] * (x.ndim - 1) + [(0, int(k), 1)]
    from graphkit.ops.layout import _strided_slice
    indices = _strided_slice(order, tuple(index))
    return ops.take_along_axis(x, indices, axis=-1), indices


def in_top_k(targets, predictions, k):
    """Whether each target's prediction is among the k largest of its row; as in TF, classes
    tied at the boundary all count as in the top k."""
    ops = _o()
    predictions = to_value(predictions)
    targets = ops.cast(targets, "int32")
    target_pred = ops.take_along_axis(predictions, ops.expand_dims(targets, -1), axis=-1)
    higher = ops.sum(ops.cast(ops.greater(predictions, target_pred), "int32"), axis=-1)
    return ops.less(higher, k)
