"""Layout ops: reshape, transpose, broadcast_to, slicing, concatenation, gathers."""
import numpy as np

from graphkit.ops.convert import to_value
from graphkit.ops.primitive import Aval, Primitive, ShapeError, bind
from graphkit.ops.shape_rules import broadcast_shapes, num_elements

_ops = None


def _o():
    global _ops
    if _ops is None:
        from graphkit import ops
        _ops = ops
    return _ops


def _reshape_infer(x, shape):
    n_in, n_out = num_elements(x.shape), num_elements(shape)
    if n_in is not None and n_out is not None and n_in != n_out:
        raise ShapeError(f"reshape: cannot reshape a tensor of shape {tuple(x.shape)} "
                         f"({n_in} elements) into shape {tuple(shape)} ({n_out} elements)")
    return Aval(shape, x.dtype)


RESHAPE = Primitive("reshape", eager=lambda x, shape: np.reshape(x, shape),
                    infer=_reshape_infer, category="layout",
                    grad=lambda ct, out, x, shape: (_o().reshape(ct, x.shape),),
                    attr_names=("shape",))


def _resolve_shape(x_shape, shape):
    shape = [int(d) if d is not None else -1 for d in shape]
    if shape.count(-1) > 1:
        raise ShapeError(f"reshape: at most one dimension may be -1, received {tuple(shape)}")
    if -1 in shape:
        known = num_elements(x_shape)
        rest = int(np.prod([d for d in shape if d != -1]))
        if known is None:
            return tuple(None if d == -1 else d for d in shape)
        if rest == 0 or known % rest:
            raise ShapeError(f"reshape: cannot reshape a tensor of shape {tuple(x_shape)} "
                             f"into shape {tuple(shape)}")
        shape[shape.index(-1)] = known // rest
    return tuple(shape)


def reshape(x, newshape):
    x = to_value(x)
    if isinstance(newshape, int):
        newshape = (newshape,)
    shape = _resolve_shape(x.shape, newshape)
    if tuple(shape) == tuple(x.shape):
        return x
    return bind(RESHAPE, x, shape=shape)


def _broadcast_to_infer(x, shape):
    out = broadcast_shapes(x.shape, shape, op="broadcast_to")
    if tuple(out) != tuple(shape):
        raise ShapeError(f"broadcast_to: cannot broadcast shape {tuple(x.shape)} to {tuple(shape)}")
    return Aval(shape, x.dtype)


def _unbroadcast_grad(ct, out, x, shape):
    from graphkit.ops.elementwise import unbroadcast
    return (unbroadcast(ct, x.shape),)


BROADCAST_TO = Primitive("broadcast_to", eager=lambda x, shape: np.broadcast_to(x, shape),
                         infer=_broadcast_to_infer, category="layout", grad=_unbroadcast_grad,
                         attr_names=("shape",))


def broadcast_to(x, shape):
    x = to_value(x)
    shape = tuple(int(d) for d in shape)
    if tuple(x.shape) == shape:
        return x
    return bind(BROADCAST_TO, x, shape=shape)
