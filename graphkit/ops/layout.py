"""Layout primitives (reshape, transpose, broadcast_to, slice, pad, concatenate) and the
shape ops built from them (expand_dims, squeeze, stack, split, tile, repeat, flip, ...).

Shapes in attrs are static. In symbolic mode a dimension may be unknown (None): reshape
and broadcast_to then carry None (or -1) in their `shape` attr, and slice keeps Python slice
bounds, so the kernels can still resolve them from the operand at run time.
"""
import builtins
import numbers

import numpy as np

from graphkit.ops.convert import promote, to_value
from graphkit.ops.primitive import ops_namespace as _o, Aval, Primitive, ShapeError, bind
from graphkit.ops.shape_rules import (broadcast_shapes, canonical_axis, normalize_axis,
                                      num_elements)



def shape(x):
    """The static shape: a tuple of ints, None for dims unknown in symbolic mode."""
    return tuple(to_value(x).shape)


def ndim(x):
    return len(shape(x))


def size(x):
    n = num_elements(shape(x))
    if n is None:
        raise ShapeError(f"size: the shape {shape(x)} has unknown dimensions")
    return n


# -- reshape -----------------------------------------------------------------------------

def carried_dim(axis):
    """A reshape target entry meaning "the operand's dim `axis`". Composites use it in
    symbolic mode for dims that are unknown until run time, so that a functional graph
    replayed on data resolves them exactly."""
    return f"dim{axis}"


def _carried_axis(d):
    return int(d[3:]) if isinstance(d, str) else None


def _reshape_infer(x, shape):
    for d in shape:
        a = _carried_axis(d)
        if a is not None and not 0 <= a < x.ndim:
            raise ShapeError(f"reshape: {d!r} names no dim of an operand of shape {x.shape}")
    shape = tuple(x.shape[_carried_axis(d)] if isinstance(d, str) else d for d in shape)
    n_in = num_elements(x.shape)
    free = [i for i, d in enumerate(shape) if d is None or d == -1]
    out = [None if d == -1 else d for d in shape]
    known = num_elements([d for d in shape if d is not None and d != -1])
    if len(free) == 1 and n_in is not None:
        if known == 0 or n_in % known:
            raise ShapeError(f"reshape: cannot reshape a tensor of shape {tuple(x.shape)} "
                             f"({n_in} elements) into shape {tuple(shape)}")
        out[free[0]] = n_in // known
    elif not free and n_in is not None and n_in != known:
        raise ShapeError(f"reshape: cannot reshape a tensor of shape {tuple(x.shape)} "
                         f"({n_in} elements) into shape {tuple(shape)} ({known} elements)")
    return Aval(tuple(out), x.dtype)


def _reshape_kernel(x, shape):
    if all([type(d) is int for d in shape]):  # the eager case: the array method, no checks
        return x.reshape(shape)
    # Symbolic-mode targets (a functional graph replayed on data): carried dims are read
    # from the operand, and a single unknown dim is inferred like -1.
    shape = tuple(x.shape[_carried_axis(d)] if isinstance(d, str) else d for d in shape)
    if None in shape:
        if shape.count(None) + shape.count(-1) != 1:
            raise ShapeError(f"reshape: the target {shape} has several unknown dims; it "
                             f"cannot be resolved for an operand of shape {x.shape}")
        shape = tuple(-1 if d is None else d for d in shape)
    return np.reshape(x, shape)


RESHAPE = Primitive("reshape", eager=_reshape_kernel, infer=_reshape_infer, category="layout",
                    grad=lambda ct, out, x, shape: (_o().reshape(ct, x.shape),), grad_uses=(),
                    attr_names=("shape",))


def _resolve_shape(x_shape, newshape):
    shape = [None if d is None else int(d) for d in newshape]
    if builtins.any(d is not None and d < -1 for d in shape):
        raise ShapeError(f"reshape: invalid target shape {tuple(newshape)}")
    free = [i for i, d in enumerate(shape) if d is None or d == -1]
    n_in = num_elements(x_shape)
    if n_in is None:  # symbolic mode: what can't be computed stays unknown
        return tuple(shape)
    if len(free) > 1:
        raise ShapeError(f"reshape: at most one dimension may be -1, received {tuple(newshape)}")
    known = num_elements([d for d in shape if d is not None and d != -1])
    if free:
        if known == 0 or n_in % known:
            raise ShapeError(f"reshape: cannot reshape a tensor of shape {tuple(x_shape)} "
                             f"({n_in} elements) into shape {tuple(newshape)}")
        shape[free[0]] = n_in // known
    elif known != n_in:
        raise ShapeError(f"reshape: cannot reshape a tensor of shape {tuple(x_shape)} "
                         f"({n_in} elements) into shape {tuple(newshape)} ({known} elements)")
    return tuple(shape)


def reshape(x, newshape):
    x = to_value(x)
    if isinstance(newshape, numbers.Integral) or newshape is None:
        newshape = (newshape,)
    shape = _resolve_shape(x.shape, tuple(newshape))
    if shape == tuple(x.shape) and None not in shape:
        return x
    return bind(RESHAPE, x, shape=shape)


def reshape_carrying(x, dims):
    """Reshape where each entry of `dims` is an int or `("carry", axis)`: the operand's dim
    `axis`. Known dims become ints; with one unknown dim it becomes -1, with several they
    become `carried_dim` markers."""
    x = to_value(x)
    sizes = [x.shape[d[1]] if isinstance(d, tuple) else d for d in dims]
    unknown = [i for i, d in enumerate(sizes) if d is None]
    if len(unknown) > 1:
        target = tuple(carried_dim(d[1]) if isinstance(d, tuple) and sizes[i] is None
                       else (None if sizes[i] is None else int(sizes[i]))
                       for i, d in enumerate(dims))
        if None in target:
            raise ShapeError(f"reshape: cannot express the target {tuple(sizes)} of an operand "
                             f"of shape {tuple(x.shape)} (several unknown dims)")
        return bind(RESHAPE, x, shape=target)
    return reshape(x, tuple(-1 if d is None else d for d in sizes))


def carry(axis):
    return ("carry", axis)


def ravel(x):
    return reshape(x, (-1,))


def expand_dims(x, axis):
    x = to_value(x)
    axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    out_ndim = x.ndim + len(axes)
    axes = normalize_axis(axes, out_ndim, "expand_dims")
    source = iter(range(x.ndim))
    return reshape_carrying(x, tuple(1 if i in axes else carry(next(source))
                                     for i in range(out_ndim)))


def squeeze(x, axis=None):
    x = to_value(x)
    if axis is None:
        axes = tuple(i for i, d in enumerate(x.shape) if d == 1)
    else:
        axes = normalize_axis(axis, x.ndim, "squeeze")
        for a in axes:
            if x.shape[a] not in (1, None):
                raise ShapeError(f"squeeze: cannot squeeze axis {a} of shape {tuple(x.shape)}: "
                                 f"its size is {x.shape[a]}, not 1")
    if not axes:
        return x
    return reshape_carrying(x, tuple(carry(i) for i in range(x.ndim) if i not in axes))


# -- transpose ---------------------------------------------------------------------------

def _transpose_infer(x, perm):
    if sorted(perm) != list(range(x.ndim)):
        raise ShapeError(f"transpose: axes {perm} are not a permutation of the "
                         f"{x.ndim} axes of a tensor of shape {tuple(x.shape)}")
    return Aval(tuple(x.shape[p] for p in perm), x.dtype)


def _transpose_grad(ct, out, x, perm):
    return (transpose(ct, tuple(int(i) for i in np.argsort(perm))),)


# The array method, not np.transpose: the same view without NumPy's Python dispatch layer
# (matmul's gradient transposes two operands on every eager backward pass).
TRANSPOSE = Primitive("transpose", eager=lambda x, perm: x.transpose(perm),
                      infer=_transpose_infer, grad=_transpose_grad, grad_uses=(),
                      category="layout",
                      attr_names=("perm",))


def transpose(x, axes=None):
    x = to_value(x)
    if axes is None:
        perm = tuple(range(x.ndim))[::-1]
    else:
        perm = tuple(canonical_axis(a, x.ndim, "transpose") for a in axes)
        if len(perm) != x.ndim or len(set(perm)) != x.ndim:
            raise ShapeError(f"transpose: axes {tuple(axes)} are not a permutation of the "
                             f"{x.ndim} axes of a tensor of shape {tuple(x.shape)}")
    if perm == tuple(range(x.ndim)):
        return x
    return bind(TRANSPOSE, x, perm=perm)


def moveaxis(x, source, destination):
    x = to_value(x)
    src = (source,) if isinstance(source, numbers.Integral) else tuple(source)
    dst = (destination,) if isinstance(destination, numbers.Integral) else tuple(destination)
    if len(src) != len(dst):
        raise ValueError(f"moveaxis: `source` {source} and `destination` {destination} must "
                         "have the same number of elements")
    src = [canonical_axis(a, x.ndim, "moveaxis") for a in src]
    dst = [canonical_axis(a, x.ndim, "moveaxis") for a in dst]
    order = [i for i in range(x.ndim) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(x, order)


def swapaxes(x, axis1, axis2):
    x = to_value(x)
    perm = list(range(x.ndim))
    a, b = canonical_axis(axis1, x.ndim, "swapaxes"), canonical_axis(axis2, x.ndim, "swapaxes")
    perm[a], perm[b] = perm[b], perm[a]
    return transpose(x, perm)


# -- broadcast_to ------------------------------------------------------------------------

def _broadcast_to_infer(x, shape):
    target = tuple(shape)
    if len(target) < x.ndim:
        raise ShapeError(f"broadcast_to: cannot broadcast shape {tuple(x.shape)} to "
                         f"{target} (fewer dimensions)")
    out = broadcast_shapes(x.shape, target, op="broadcast_to")
    for o, t in zip(out, target):
        if t is not None and o != t:
            raise ShapeError(f"broadcast_to: cannot broadcast shape {tuple(x.shape)} "
                             f"to {target}")
    return Aval(out, x.dtype)


def _broadcast_to_kernel(x, shape):
    if None in shape:  # symbolic mode: an unknown target dim is the operand's
        lead = len(shape) - x.ndim
        shape = tuple(x.shape[i - lead] if d is None else d for i, d in enumerate(shape))
    if type(x) is np.ndarray and len(shape) >= x.ndim and x.flags.c_contiguous:
        # The view np.broadcast_to makes, built directly: np.broadcast_to is Python-level
        # (argument checks, np.nditer), about twice the cost on every mean's gradient.
        # A stretched axis gets stride 0; any other mismatch falls through to the error.
        # (np.ndarray takes x as a buffer only when x is C-contiguous.)
        strides = [0] * (len(shape) - x.ndim)
        for d, n, st in zip(x.shape, shape[len(strides):], x.strides):
            if d == 1:
                strides.append(0)
            elif d == n:
                strides.append(st)
            else:
                break
        else:
            view = np.ndarray(shape, x.dtype, x, 0, strides)  # x's buffer, no copy
            view.flags.writeable = False  # read-only, as np.broadcast_to's views are
            return view
    return np.broadcast_to(x, shape)


def _unbroadcast_grad(ct, out, x, shape):
    from graphkit.ops.elementwise import unbroadcast
    return (unbroadcast(ct, x.shape),)


BROADCAST_TO = Primitive("broadcast_to", eager=_broadcast_to_kernel,
                         infer=_broadcast_to_infer, category="layout", grad=_unbroadcast_grad,
                         grad_uses=(),
                         attr_names=("shape",))


def broadcast_to(x, shape):
    x = to_value(x)
    if isinstance(shape, numbers.Integral):
        shape = (shape,)
    shape = tuple(None if d is None else int(d) for d in shape)
    if tuple(x.shape) == shape and None not in shape:
        return x
    return bind(BROADCAST_TO, x, shape=shape)


# -- slice -------------------------------------------------------------------------------

def _slice_length(dim, start, stop, step):
    if dim is None:
        return None
    return len(range(*builtins.slice(start, stop, step).indices(dim)))


def _canonical_slice(dim, start, stop, step):
    """A Python slice in a canonical form when the dim is known: non-negative ints, with a
    stop of None for a negative step that runs to the front."""
    if step == 0:
        raise ValueError("getitem: slice step cannot be zero")
    if dim is None:
        return (start, stop, step)
    start, stop, step = builtins.slice(start, stop, step).indices(dim)
    if step < 0 and stop < 0:
        stop = None
    return (start, stop, step)


def _slice_infer(x, index):
    if len(index) != x.ndim:
        raise ShapeError(f"slice: {len(index)} slices for a tensor of rank {x.ndim}")
    return Aval(tuple(_slice_length(d, *t) for d, t in zip(x.shape, index)), x.dtype)


def _slice_kernel(x, index):
    return x[tuple(builtins.slice(*t) for t in index)]


def _slice_grad(ct, out, x, index):
    """Scatter the cotangent back: flip the axes read backwards, then pad with the stride
    as interior padding."""
    pads, flips = [], []
    for axis, (dim, t) in enumerate(zip(x.shape, index)):
        start, stop, step = builtins.slice(*t).indices(dim)
        positions = range(start, stop, step)
        n = len(positions)
        if n == 0:
            return (_o().zeros_like(x),)
        if step < 0:
            flips.append(axis)
            step = -step
        first = builtins.min(positions[0], positions[-1])
        pads.append((first, dim - 1 - (first + (n - 1) * step), step - 1))
    if flips:
        ct = flip(ct, axis=tuple(flips))
    return (_pad(ct, tuple(pads), 0),)


SLICE = Primitive("slice", eager=_slice_kernel, infer=_slice_infer, grad=_slice_grad,
                  category="layout", attr_names=("index",))


def _strided_slice(x, index):
    """`index`: one (start, stop, step) per axis, in Python slice semantics."""
    index = tuple(_canonical_slice(d, *t) for d, t in zip(x.shape, index))
    if builtins.all(d is not None and t == (0, d, 1) for d, t in zip(x.shape, index)):
        return x
    return bind(SLICE, x, index=index)


def slice(inputs, start_indices, shape):
    """Keras's `slice`: the block of `shape` starting at `start_indices`."""
    x = to_value(inputs)
    starts = [int(s) for s in np.asarray(start_indices).reshape(-1)]
    sizes = [int(s) for s in shape]
    if len(starts) != x.ndim or len(sizes) != x.ndim:
        raise ShapeError(f"slice: expected {x.ndim} start indices and sizes for a tensor of "
                         f"shape {tuple(x.shape)}, received {tuple(starts)} and {tuple(sizes)}")
    for s, n, d in zip(starts, sizes, x.shape):
        if s < 0 or n < -1 or (d is not None and s + builtins.max(n, 0) > d):
            raise ShapeError(f"slice: block of shape {tuple(sizes)} at {tuple(starts)} does not "
                             f"fit in a tensor of shape {tuple(x.shape)}")
    return _strided_slice(x, tuple((s, None if n == -1 else s + n, 1)
                                   for s, n in zip(starts, sizes)))


def flip(x, axis=None):
    x = to_value(x)
    axes = normalize_axis(axis, x.ndim, "flip")
    return _strided_slice(x, tuple((None, None, -1) if i in axes else (None, None, 1)
                                   for i in range(x.ndim)))


# -- pad ---------------------------------------------------------------------------------

def _padded_size(d, lo, hi, interior):
    if d is None:
        return None
    return lo + hi + (d + (d - 1) * interior if d > 0 else 0)


def _pad_infer(x, pads, value):
    if len(pads) != x.ndim:
        raise ShapeError(f"pad: {len(pads)} padding entries for a tensor of rank {x.ndim} "
                         f"(shape {tuple(x.shape)})")
    for p in pads:
        if builtins.min(p) < 0:
            raise ShapeError(f"pad: padding must be non-negative, received {pads}")
    return Aval(tuple(_padded_size(d, *p) for d, p in zip(x.shape, pads)), x.dtype)


def _pad_kernel(x, pads, value):
    out = np.full(tuple(_padded_size(d, *p) for d, p in zip(x.shape, pads)), value, x.dtype)
    out[tuple(builtins.slice(lo, lo + (d - 1) * (i + 1) + 1, i + 1)
              for d, (lo, hi, i) in zip(x.shape, pads))] = x
    return out


def _pad_grad(ct, out, x, pads, value):
    index = tuple((lo, lo + (d - 1) * (i + 1) + 1, i + 1) for d, (lo, hi, i) in zip(x.shape, pads))
    return (_strided_slice(ct, index),)


PAD = Primitive("pad", eager=_pad_kernel, infer=_pad_infer, grad=_pad_grad, category="layout",
                attr_names=("pads", "value"))


def _pad(x, pads, value):
    if builtins.all(p == (0, 0, 0) for p in pads):
        return x
    value = bool(value) if x.dtype == "bool" else (
        float(value) if np.dtype(x.dtype).kind == "f" else int(value))
    return bind(PAD, x, pads=tuple(tuple(int(v) for v in p) for p in pads), value=value)


def _pad_width(pad_width, ndim):
    pw = np.asarray(pad_width, dtype=np.int64)
    try:
        pw = np.broadcast_to(pw, (ndim, 2))
    except ValueError:
        raise ShapeError(f"pad: `pad_width` {pad_width!r} does not fit a tensor of rank "
                         f"{ndim} (expected {ndim} (before, after) pairs)") from None
    if (pw < 0).any():
        raise ShapeError(f"pad: `pad_width` must be non-negative, received {pad_width!r}")
    return [tuple(int(v) for v in p) for p in pw]


def pad(x, pad_width, mode="constant", constant_values=None):
    x = to_value(x)
    pairs = _pad_width(pad_width, x.ndim)
    if mode == "constant":
        return _pad(x, tuple((lo, hi, 0) for lo, hi in pairs),
                    0 if constant_values is None else constant_values)
    if constant_values is not None:
        raise ValueError(f"pad: `constant_values` only applies to mode='constant', "
                         f"received mode={mode!r}")
    if mode not in ("reflect", "symmetric", "edge"):
        raise ValueError(f"pad: `mode` must be one of 'constant', 'reflect', 'symmetric', "
                         f"'edge', received {mode!r}")
    for axis, (lo, hi) in enumerate(pairs):
        x = _mirror_pad_axis(x, axis, lo, hi, mode)
    return x


def _mirror_pad_axis(x, axis, lo, hi, mode):
    """Reflect/symmetric/edge padding of one axis from slices of the operand."""
    if lo == 0 and hi == 0:
        return x
    n = x.shape[axis]
    skip = 1 if mode == "reflect" else 0
    if mode != "edge" and n is not None and builtins.max(lo, hi) > n - skip:
        raise ShapeError(f"pad: mode {mode!r} needs padding at most {n - skip} on axis {axis} "
                         f"of shape {tuple(x.shape)}, received ({lo}, {hi})")

    def take_range(start, stop, step):
        index = [(None, None, 1)] * x.ndim
        index[axis] = (start, stop, step)
        return _strided_slice(x, tuple(index))

    parts = []
    if lo:
        parts.append(concatenate([take_range(0, 1, 1)] * lo, axis) if mode == "edge"
                     else flip(take_range(skip, skip + lo, 1), axis))
    parts.append(x)
    if hi:
        # Counted from the end, so that an unknown size (symbolic mode) works too.
        parts.append(concatenate([take_range(-1, None, 1)] * hi, axis) if mode == "edge"
                     else flip(take_range(-skip - hi, -skip or None, 1), axis))
    return concatenate(parts, axis)


# -- concatenate, stack, split -----------------------------------------------------------

def _concatenate_infer(*xs, axis):
    first = xs[0]
    for i, x in enumerate(xs):
        if x.ndim != first.ndim:
            raise ShapeError(f"concatenate: all inputs must have the same rank; input 0 has "
                             f"shape {tuple(first.shape)}, input {i} has shape {tuple(x.shape)}")
        if x.dtype != first.dtype:
            raise ShapeError(f"concatenate: dtypes differ ({first.dtype} vs {x.dtype})")
    if not 0 <= axis < first.ndim:
        raise ShapeError(f"concatenate: axis {axis} is out of range for rank {first.ndim}")
    out = list(first.shape)
    for i, x in enumerate(xs[1:], 1):
        for a, (d0, d) in enumerate(zip(out, x.shape)):
            if a == axis:
                continue
            if d0 is not None and d is not None and d0 != d:
                shapes = ", ".join(str(tuple(v.shape)) for v in xs)
                raise ShapeError(f"concatenate: shapes {shapes} differ on axis {a} "
                                 f"(only axis {axis} may differ)")
            if d0 is None:
                out[a] = d
    sizes = [x.shape[axis] for x in xs]
    out[axis] = None if None in sizes else builtins.sum(sizes)
    return Aval(tuple(out), first.dtype)


def _concatenate_grad(ct, out, *xs, axis):
    grads, start = [], 0
    for x in xs:
        index = [(None, None, 1)] * len(x.shape)
        index[axis] = (start, start + x.shape[axis], 1)
        grads.append(_strided_slice(ct, tuple(index)))
        start += x.shape[axis]
    return tuple(grads)


CONCATENATE = Primitive("concatenate", eager=lambda *xs, axis: np.concatenate(xs, axis=axis),
                        infer=_concatenate_infer, grad=_concatenate_grad, category="layout",
                        attr_names=("axis",))


def concatenate(xs, axis=0):
    xs = list(xs)
    if not xs:
        raise ValueError("concatenate: expected at least one tensor, received none")
    xs = promote(*xs) if len(xs) > 1 else [to_value(xs[0])]
    if axis is None:
        xs, axis = [ravel(x) for x in xs], 0
    ndim0 = xs[0].ndim
    axis = canonical_axis(axis, builtins.max(ndim0, 1), "concatenate")
    if len(xs) == 1:
        return xs[0]
    return bind(CONCATENATE, *xs, axis=axis)


def append(x1, x2, axis=None):
    return concatenate([x1, x2], axis=axis)


def stack(xs, axis=0):
    xs = [to_value(x) for x in xs]
    if not xs:
        raise ValueError("stack: expected at least one tensor, received none")
    axis = canonical_axis(axis, xs[0].ndim + 1, "stack")
    for i, x in enumerate(xs):
        if tuple(x.shape) != tuple(xs[0].shape) and None not in x.shape + xs[0].shape:
            raise ShapeError(f"stack: all inputs must have the same shape; input 0 has shape "
                             f"{tuple(xs[0].shape)}, input {i} has shape {tuple(x.shape)}")
    return concatenate([expand_dims(x, axis) for x in xs], axis=axis)


def _axis_slice(x, axis, start, stop):
    index = [(None, None, 1)] * x.ndim
    index[axis] = (start, stop, 1)
    return _strided_slice(x, tuple(index))


def split(x, indices_or_sections, axis=0):
    x = to_value(x)
    axis = canonical_axis(axis, x.ndim, "split")
    n = x.shape[axis]
    if isinstance(indices_or_sections, numbers.Integral):
        sections = int(indices_or_sections)
        if n is None:
            raise ShapeError("split: the split axis must have a static size")
        if sections <= 0 or n % sections:
            raise ShapeError(f"split: axis {axis} of shape {tuple(x.shape)} does not divide "
                             f"into {sections} equal sections")
        bounds = [i * (n // sections) for i in range(sections + 1)]
    else:
        bounds = [0] + [int(i) for i in indices_or_sections] + [n]
    return [_axis_slice(x, axis, a, b) for a, b in zip(bounds[:-1], bounds[1:])]


def unstack(x, num=None, axis=0):
    x = to_value(x)
    axis = canonical_axis(axis, x.ndim, "unstack")
    n = x.shape[axis] if num is None else num
    if n is None:
        raise ShapeError("unstack: the unstacked axis must have a static size (pass `num`)")
    return [squeeze(_axis_slice(x, axis, i, i + 1), axis) for i in range(n)]


def tile(x, repeats):
    x = to_value(x)
    reps = [int(repeats)] if isinstance(repeats, numbers.Integral) else [int(r) for r in repeats]
    if len(reps) > x.ndim:
        x = reshape(x, (1,) * (len(reps) - x.ndim) + tuple(x.shape))
    reps = [1] * (x.ndim - len(reps)) + reps
    for axis, r in enumerate(reps):
        if r < 0:
            raise ValueError(f"tile: repeats must be non-negative, received {repeats}")
        if r != 1:
            x = concatenate([x] * r, axis=axis) if r else _axis_slice(x, axis, 0, 0)
    return x


def repeat(x, repeats, axis=None):
    x = to_value(x)
    if axis is None:
        x, axis = ravel(x), 0
    axis = canonical_axis(axis, x.ndim, "repeat")
    if isinstance(repeats, numbers.Integral) or np.ndim(repeats) == 0:
        r = int(repeats)
        expanded = expand_dims(x, axis + 1)
        target = list(expanded.shape)
        target[axis + 1] = r
        merged = None if x.shape[axis] is None else x.shape[axis] * r
        # Dims of the broadcast tensor: axis + 1 is the repeat axis, merged into axis.
        dims = [carry(i if i <= axis else i + 1) for i in range(x.ndim)]
        dims[axis] = merged
        return reshape_carrying(broadcast_to(expanded, tuple(target)), tuple(dims))
    counts = np.asarray(repeats, dtype=np.int64)
    index = np.repeat(np.arange(len(counts)), counts).astype(np.int32)
    return take(x, index, axis=axis)


def roll(x, shift, axis=None):
    x = to_value(x)
    if axis is None:
        return reshape(roll(ravel(x), shift, 0), x.shape)
    shifts = (shift,) if isinstance(shift, numbers.Integral) else tuple(shift)
    axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    for s, a in zip(shifts, axes):
        a = canonical_axis(a, x.ndim, "roll")
        n = x.shape[a]
        if n is None and int(s):
            # The shift is taken modulo the size: with the size unknown (symbolic mode) no
            # slicing is right for every run-time size.
            raise ShapeError(f"roll: axis {a} of shape {tuple(x.shape)} must have a static "
                             f"size to roll it (received shift {s})")
        s = int(s) % n if n else 0
        if s:
            x = concatenate([_axis_slice(x, a, n - s, n), _axis_slice(x, a, 0, n - s)], axis=a)
    return x


def _triangle_mask(x, k, lower):
    from graphkit.ops.creation import arange
    ops = _o()
    n, m = x.shape[-2], x.shape[-1]
    if n is None or m is None:
        # The mask is built from the sizes, which a graph of ops called on KerasTensors
        # fixes when it is built (eager and traced sizes are always known).
        raise ShapeError(
            f"{'tril' if lower else 'triu'}: the last two dims must be known to build the "
            f"triangle, received shape {tuple(x.shape)}; call it inside a layer's call(), "
            "where the sizes are known")
    rows = reshape(arange(n), (n, 1))
    cols = reshape(arange(m), (1, m))
    return ops.less_equal(cols - rows, k) if lower else ops.greater_equal(cols - rows, k)


def tril(x, k=0):
    x = to_value(x)
    return _o().where(_triangle_mask(x, k, True), x, _o().zeros_like(x))


def triu(x, k=0):
    x = to_value(x)
    return _o().where(_triangle_mask(x, k, False), x, _o().zeros_like(x))


# -- gathers: take, take_along_axis and their adjoints -----------------------------------

def _check_int_indices(op, idx):
    if not (idx.dtype.startswith("int") or idx.dtype.startswith("uint")):
        raise ShapeError(f"{op}: indices must be integers, received {idx.dtype}")


def _take_infer(x, idx, axis):
    _check_int_indices("take", idx)
    if not 0 <= axis < x.ndim:
        raise ShapeError(f"take: axis {axis} is out of range for a tensor of shape "
                         f"{tuple(x.shape)}")
    return Aval(x.shape[:axis] + idx.shape + x.shape[axis + 1:], x.dtype)


def _take_kernel(x, idx, axis):
    try:
        return np.take(x, idx, axis=axis)
    except IndexError as e:
        raise IndexError(f"take: {e} (tensor shape {x.shape})") from None


def _take_grad(ct, out, x, idx, axis):
    return (scatter_add(_o().zeros_like(x), idx, ct, axis), None)


# Indices may be negative (counted from the end, as in NumPy); out-of-range indices raise
# eagerly. The adjoint is scatter_add, whose repeated indices accumulate.
TAKE = Primitive("take", eager=_take_kernel, infer=_take_infer, grad=_take_grad,
                 category="gather", attr_names=("axis",))


def _scatter_add_infer(x, idx, updates, axis):
    _check_int_indices("scatter_add", idx)
    expected = x.shape[:axis] + idx.shape + x.shape[axis + 1:]
    if len(updates.shape) != len(expected) or builtins.any(
            a is not None and b is not None and a != b for a, b in zip(updates.shape, expected)):
        raise ShapeError(f"scatter_add: updates of shape {tuple(updates.shape)} do not match "
                         f"operand {tuple(x.shape)} with indices {tuple(idx.shape)} on axis "
                         f"{axis} (expected {expected})")
    if updates.dtype != x.dtype:
        raise ShapeError(f"scatter_add: dtypes differ ({x.dtype} vs {updates.dtype})")
    return Aval(x.shape, x.dtype)


def _scatter_add_kernel(x, idx, updates, axis):
    out = np.array(x, copy=True)
    np.add.at(out, (builtins.slice(None),) * axis + (idx,), updates)
    return out


SCATTER_ADD = Primitive(
    "scatter_add", eager=_scatter_add_kernel, infer=_scatter_add_infer, category="gather",
    grad=lambda ct, out, x, idx, updates, axis: (ct, None, bind(TAKE, ct, idx, axis=axis)),
    attr_names=("axis",))


def scatter_add(x, indices, updates, axis=0):
    """`x` with `updates` added at `indices` along `axis` (repeated indices accumulate):
    the adjoint of `take`."""
    x = to_value(x)
    updates = _o().cast(updates, x.dtype)
    idx = _as_indices(indices)
    return bind(SCATTER_ADD, x, idx, updates, axis=canonical_axis(axis, x.ndim, "scatter_add"))


def _as_indices(indices):
    idx = to_value(indices)
    if not (idx.dtype.startswith("int") or idx.dtype.startswith("uint")):
        idx = _o().cast(idx, "int32")
    return idx


def take(x, indices, axis=None):
    x = to_value(x)
    idx = _as_indices(indices)
    if axis is None:
        x, axis = ravel(x), 0
    return bind(TAKE, x, idx, axis=canonical_axis(axis, x.ndim, "take"))


def _along_axis_infer(op):
    def infer(x, idx, *rest, axis):
        _check_int_indices(op, idx)
        if idx.ndim != x.ndim:
            raise ShapeError(f"{op}: indices of shape {tuple(idx.shape)} must have the rank of "
                             f"the tensor, shape {tuple(x.shape)}")
        for a, (d, i) in enumerate(zip(x.shape, idx.shape)):
            if a != axis and d is not None and i is not None and d != i:
                raise ShapeError(f"{op}: indices of shape {tuple(idx.shape)} do not match the "
                                 f"tensor's shape {tuple(x.shape)} off axis {axis}")
        if rest:
            updates = rest[0]
            if tuple(updates.shape) != tuple(idx.shape):
                raise ShapeError(f"{op}: updates of shape {tuple(updates.shape)} must have the "
                                 f"shape of the indices, {tuple(idx.shape)}")
            return Aval(x.shape, x.dtype)
        return Aval(idx.shape, x.dtype)
    return infer


def _along_axis_index(shape, idx, axis):
    grids = np.ogrid[tuple(builtins.slice(0, d) for d in idx.shape)]
    return tuple(idx if a == axis else grids[a] for a in range(len(shape)))


def _scatter_add_along_axis_kernel(x, idx, updates, axis):
    out = np.array(x, copy=True)
    np.add.at(out, _along_axis_index(x.shape, idx, axis), updates)
    return out


TAKE_ALONG_AXIS = Primitive(
    "take_along_axis",
    eager=lambda x, idx, axis: np.take_along_axis(x, idx, axis=axis),
    infer=_along_axis_infer("take_along_axis"), category="gather",
    grad=lambda ct, out, x, idx, axis: (
        bind(SCATTER_ADD_ALONG_AXIS, _o().zeros_like(x), idx, ct, axis=axis), None),
    attr_names=("axis",))
SCATTER_ADD_ALONG_AXIS = Primitive(
    "scatter_add_along_axis", eager=_scatter_add_along_axis_kernel,
    infer=_along_axis_infer("scatter_add_along_axis"), category="gather",
    grad=lambda ct, out, x, idx, updates, axis: (
        ct, None, bind(TAKE_ALONG_AXIS, ct, idx, axis=axis)),
    attr_names=("axis",))


def take_along_axis(x, indices, axis=None):
    x = to_value(x)
    idx = _as_indices(indices)
    if axis is None:
        x, idx, axis = ravel(x), ravel(idx), 0
    axis = canonical_axis(axis, x.ndim, "take_along_axis")
    if idx.ndim != x.ndim:
        raise ShapeError(f"take_along_axis: indices of shape {tuple(idx.shape)} must have the "
                         f"rank of the tensor, shape {tuple(x.shape)}")
    # Broadcast the other axes against each other, as Keras does.
    x_target, idx_target = list(x.shape), list(idx.shape)
    for a in range(x.ndim):
        if a != axis:
            d = broadcast_shapes((x.shape[a],), (idx.shape[a],), op="take_along_axis")[0]
            x_target[a] = idx_target[a] = d
    x, idx = broadcast_to(x, x_target), broadcast_to(idx, idx_target)
    return bind(TAKE_ALONG_AXIS, x, idx, axis=axis)


# -- getitem -----------------------------------------------------------------------------

def _is_int_index(k):
    return isinstance(k, (numbers.Integral, np.integer)) and not isinstance(k, bool)


def _is_array_index(k):
    if isinstance(k, (list, np.ndarray)) or hasattr(type(k), "_bind_priority"):
        return True
    return False


def getitem(x, key):
    """NumPy basic indexing (ints, slices with steps, None, Ellipsis) plus one integer
    array index along one axis (a `take`), or a concrete boolean mask (below)."""
    x = to_value(x)
    key = key if isinstance(key, tuple) else (key,)
    key = _boolean_masks_as_indices(x, key)
    if len(key) == 1 and isinstance(key[0], _LeadingMask):
        flat = reshape(x, (-1,) + tuple(x.shape[key[0].ndim:]))
        return take(flat, key[0].positions, axis=0)
    n_real = builtins.sum(1 for k in key if k is not None and k is not Ellipsis)
    if builtins.sum(1 for k in key if k is Ellipsis) > 1:
        raise IndexError("getitem: an index can only have a single ellipsis ('...')")
    if n_real > x.ndim:
        raise IndexError(f"getitem: too many indices ({n_real}) for a tensor of shape "
                         f"{tuple(x.shape)}")
    expanded = []
    for k in key:
        if k is Ellipsis:
            expanded.extend([builtins.slice(None)] * (x.ndim - n_real))
        else:
            expanded.append(k)
    if not builtins.any(k is Ellipsis for k in key):
        expanded.extend([builtins.slice(None)] * (x.ndim - n_real))

    index, dims, kinds, array_index = [], [], [], None
    axis = 0
    for k in expanded:
        if k is None:
            dims.append(1)
            kinds.append("new")
            continue
        d = x.shape[axis]
        if isinstance(k, builtins.slice):
            t = _canonical_slice(d, k.start, k.stop, 1 if k.step is None else k.step)
            index.append(t)
            dims.append(_slice_length(d, *t))
            kinds.append("slice")
        elif _is_int_index(k):
            i = int(k)
            if d is not None and not -d <= i < d:
                raise IndexError(f"getitem: index {i} is out of bounds for axis {axis} with "
                                 f"size {d} (tensor shape {tuple(x.shape)})")
            if d is not None:
                i %= d
            index.append((i, None if i == -1 else i + 1, 1))
            dims.append(1)
            kinds.append("int")
        elif _is_array_index(k):
            if array_index is not None:
                raise IndexError("getitem: only one integer-array index is supported; use "
                                 "gk.ops.take / take_along_axis for more")
            array_index = to_value(k)
            if array_index.dtype == "bool":
                raise IndexError("getitem: boolean mask indexing has a data-dependent shape "
                                 "and is not supported; use gk.ops.where instead")
            index.append((None, None, 1))
            dims.append(d)
            kinds.append("array")
        else:
            raise IndexError(f"getitem: unsupported index {k!r} of type {type(k).__name__}")
        axis += 1
    if array_index is not None and "int" in kinds:
        at = [i for i, kd in enumerate(kinds) if kd in ("int", "array")]
        if at != list(range(at[0], at[-1] + 1)):
            raise IndexError("getitem: integer and array indices must be adjacent")
    result = _strided_slice(x, tuple(index))
    final = tuple(d for d, kd in zip(dims, kinds) if kd != "int")
    if final != tuple(result.shape):
        # Axes of `result` are the real (non-None) entries, in order.
        real = iter(range(result.ndim))
        carried = []
        for kd in kinds:
            if kd == "new":
                carried.append(1)
            else:
                a = next(real)
                if kd != "int":
                    carried.append(carry(a))
        result = reshape_carrying(result, tuple(carried))
    if array_index is not None:
        kept = [kd for kd in kinds if kd != "int"]
        result = take(result, array_index, axis=kept.index("array"))
    return result


class _LeadingMask:
    """A boolean mask over x's first `ndim` axes, as the flat positions of its True
    entries (x[mask] of NumPy: those axes merged, then taken)."""

    def __init__(self, mask):
        self.ndim = mask.ndim
        self.positions = np.flatnonzero(mask).astype(np.int32)


def _boolean_masks_as_indices(x, key):
    """NumPy's boolean-mask indexing, where the mask is data (eager): its result's shape
    depends on the mask's values, so a mask that is symbolic or traced is refused. A 1-D
    mask becomes the integer index of its True entries; a mask over several leading axes,
    alone in the key, a `_LeadingMask`."""
    out = []
    for i, k in enumerate(key):
        mask = _concrete_bool(k)
        if mask is None:
            out.append(k)
            continue
        if mask.ndim > 1 and len(key) == 1:
            if tuple(mask.shape) != tuple(x.shape[:mask.ndim]):
                raise IndexError(f"getitem: a boolean mask of shape {mask.shape} does not "
                                 f"match the leading axes of a tensor of shape "
                                 f"{tuple(x.shape)}")
            return (_LeadingMask(mask),)
        axis = builtins.sum(1 for j in key[:i] if j is not None and j is not Ellipsis)
        if mask.ndim != 1 or builtins.any(j is Ellipsis for j in key[:i]) \
                or axis >= x.ndim or mask.shape[0] != x.shape[axis]:
            raise IndexError(f"getitem: a boolean mask of shape {mask.shape} at index "
                             f"position {i} does not fit a tensor of shape {tuple(x.shape)} "
                             "(supported: one 1-D mask per axis, or one mask over the "
                             "leading axes)")
        out.append(np.flatnonzero(mask).astype(np.int32))
    return tuple(out)


def _concrete_bool(k):
    """A boolean index's values as a NumPy array, when it has them (eager); None for any
    other index. A symbolic or traced boolean index cannot have them: refused."""
    if isinstance(k, list) and k and builtins.all(isinstance(v, (bool, np.bool_)) for v in k):
        return np.asarray(k)
    if isinstance(k, np.ndarray):
        return k if k.dtype == bool else None
    if hasattr(type(k), "_bind_priority") and getattr(k, "dtype", None) == "bool":
        array = getattr(k, "_array", None)
        if array is None:
            raise IndexError("getitem: boolean mask indexing has a data-dependent shape, "
                             "which a symbolic or compiled graph cannot have; use "
                             "gk.ops.where instead")
        return array
    return None


def hstack(xs):
    xs = [to_value(x) for x in xs]
    return concatenate(xs, axis=0 if xs[0].ndim == 1 else 1)


def vstack(xs):
    xs = [to_value(x) for x in xs]
    return concatenate([reshape(x, (1, -1)) if x.ndim == 1 else x for x in xs], axis=0)


def slice_update(inputs, start_indices, updates):
    """`inputs` with the block at `start_indices` replaced by `updates` (Keras's
    slice_update), as a pad of the updates and a select."""
    x = to_value(inputs)
    updates = _o().cast(updates, x.dtype)
    starts = [int(s) for s in np.asarray(start_indices).reshape(-1)]
    if len(starts) != x.ndim or updates.ndim != x.ndim or builtins.any(
            s < 0 or s + u > d for s, u, d in zip(starts, updates.shape, x.shape)):
        raise ShapeError(f"slice_update: updates of shape {tuple(updates.shape)} at "
                         f"{tuple(starts)} do not fit in a tensor of shape {tuple(x.shape)}")
    pads = tuple((s, d - s - u, 0) for s, u, d in zip(starts, updates.shape, x.shape))
    inside = _pad(_o().ones_like(updates, dtype="bool"), pads, False)
    return _o().where(inside, _pad(updates, pads, 0), x)


def diagonal(x, offset=0, axis1=0, axis2=1):
    """The diagonal over axis1 and axis2, moved to the last axis (NumPy's layout)."""
    x = to_value(x)
    moved = moveaxis(x, (axis1, axis2), (-2, -1))
    n, m = moved.shape[-2], moved.shape[-1]
    rows = range(builtins.max(0, -offset), builtins.min(n, m - offset))
    if len(rows) <= 0:
        return reshape(_axis_slice(_axis_slice(moved, moved.ndim - 1, 0, 0), moved.ndim - 2,
                                   0, 1), tuple(moved.shape[:-2]) + (0,))
    flat = reshape(moved, tuple(moved.shape[:-2]) + (n * m,))
    index = np.array([r * m + r + offset for r in rows], dtype=np.int32)
    return take(flat, index, axis=flat.ndim - 1)


def diag(x, k=0):
    """The k-th diagonal of a matrix, or a matrix with a vector on its k-th diagonal."""
    from graphkit.ops.creation import eye
    x = to_value(x)
    if x.ndim == 2:
        return diagonal(x, offset=k)
    if x.ndim != 1:
        raise ShapeError(f"diag: expected a 1-D or 2-D tensor, received shape {tuple(x.shape)}")
    k = int(k)
    n = x.shape[0] + builtins.abs(k)
    # Entry (i, i + k) holds x[i] for k >= 0 (a column vector of rows), x[j] at (j - k, j)
    # for k < 0 (a row vector of columns).
    padded = _pad(x, ((0, builtins.abs(k), 0),), 0)
    values = reshape(padded, (n, 1) if k >= 0 else (1, n))
    mask = eye(n, n, k=k, dtype="bool")
    return _o().where(mask, broadcast_to(values, (n, n)), _o().zeros_like(mask, dtype=x.dtype))


# -- NumPy's array helpers, written with the layout ops above ----------------------------

def _require_rank(x, rank, op):
    if x.ndim < rank:
        raise ShapeError(f"{op}: expected a tensor of rank >= {rank}, received shape "
                         f"{tuple(x.shape)}")


def fliplr(x):
    """x reversed along axis 1 (rank >= 2)."""
    x = to_value(x)
    _require_rank(x, 2, "fliplr")
    return flip(x, axis=1)


def flipud(x):
    """x reversed along axis 0 (rank >= 1)."""
    x = to_value(x)
    _require_rank(x, 1, "flipud")
    return flip(x, axis=0)


def rot90(array, k=1, axes=(0, 1)):
    """x rotated by k quarter turns in the plane of `axes`, from the first axis toward the
    second (NumPy's): one turn is a flip of the second axis, then a swap of the two."""
    x = to_value(array)
    _require_rank(x, 2, "rot90")
    if len(axes) != 2:
        raise ValueError(f"rot90: `axes` must be two different axes, received {axes}")
    a, b = (canonical_axis(v, x.ndim, "rot90") for v in axes)
    if a == b:
        raise ValueError(f"rot90: `axes` must be two different axes, received {axes}")
    k = int(k) % 4
    if k == 2:
        return flip(x, axis=(a, b))
    if k == 1:
        return swapaxes(flip(x, axis=b), a, b)
    if k == 3:
        return flip(swapaxes(x, a, b), axis=b)
    return x


def _at_least_3d(x):
    """NumPy's atleast_3d: () -> (1, 1, 1), (n,) -> (1, n, 1), (m, n) -> (m, n, 1)."""
    x = to_value(x)
    if x.ndim == 0:
        return reshape(x, (1, 1, 1))
    if x.ndim == 1:
        return expand_dims(x, (0, 2))
    if x.ndim == 2:
        return expand_dims(x, 2)
    return x


def dstack(xs):
    """The tensors (made at least 3-D) concatenated along axis 2."""
    return concatenate([_at_least_3d(x) for x in xs], axis=2)


def hsplit(x, indices_or_sections):
    """split along axis 1 (axis 0 for a 1-D tensor)."""
    x = to_value(x)
    _require_rank(x, 1, "hsplit")
    return split(x, indices_or_sections, axis=1 if x.ndim > 1 else 0)


def vsplit(x, indices_or_sections):
    """split along axis 0 (rank >= 2)."""
    x = to_value(x)
    _require_rank(x, 2, "vsplit")
    return split(x, indices_or_sections, axis=0)


def dsplit(x, indices_or_sections):
    """split along axis 2 (rank >= 3)."""
    x = to_value(x)
    _require_rank(x, 3, "dsplit")
    return split(x, indices_or_sections, axis=2)


def array_split(x, indices_or_sections, axis=0):
    """split that allows unequal sections: n elements into s sections give n % s sections
    of n // s + 1 first, then sections of n // s (NumPy's)."""
    x = to_value(x)
    if not isinstance(indices_or_sections, numbers.Integral):
        return split(x, indices_or_sections, axis=axis)
    axis = canonical_axis(axis, x.ndim, "array_split")
    sections, n = int(indices_or_sections), x.shape[axis]
    if sections <= 0:
        raise ValueError(f"array_split: the number of sections must be > 0, received "
                         f"{sections}")
    if n is None:
        raise ShapeError("array_split: the split axis must have a static size")
    size, extra = divmod(n, sections)
    bounds = np.cumsum([0] + [size + 1] * extra + [size] * (sections - extra))
    return [_axis_slice(x, axis, int(lo), int(hi)) for lo, hi in zip(bounds[:-1], bounds[1:])]


def diff(a, n=1, axis=-1):
    """The n-th discrete difference along `axis`: x[1:] - x[:-1], n times (for bools,
    x[1:] != x[:-1], as NumPy's)."""
    x = to_value(a)
    axis = canonical_axis(axis, x.ndim, "diff")
    for _ in range(int(n)):
        later, earlier = _axis_slice(x, axis, 1, None), _axis_slice(x, axis, 0, -1)
        x = _o().not_equal(later, earlier) if x.dtype == "bool" else later - earlier
    return x


def meshgrid(*x, indexing="xy"):
    """Coordinate grids from 1-D coordinate vectors (NumPy's meshgrid): "ij" gives grids of
    shape (n1, n2, ...); "xy" swaps the first two dims, (n2, n1, ...)."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: `indexing` must be 'xy' or 'ij', received {indexing!r}")
    vectors = [ravel(v) for v in x]
    shape = [v.shape[0] for v in vectors]
    if indexing == "xy" and len(vectors) > 1:
        shape[0], shape[1] = shape[1], shape[0]
    grids = []
    for i, v in enumerate(vectors):
        at = {0: 1, 1: 0}.get(i, i) if indexing == "xy" and len(vectors) > 1 else i
        line = reshape(v, tuple(-1 if j == at else 1 for j in range(len(vectors))))
        grids.append(broadcast_to(line, tuple(shape)))
    return grids


def copy(x):
    """A tensor with x's values. graphkit values are immutable (a Variable's assign swaps
    in a new value), so only a NumPy array, which its owner may still write to, is
    copied."""
    if isinstance(x, np.ndarray):
        x = x.copy()
    return to_value(x)


def diagflat(x, k=0):
    """A 2-D array with the flattened `x` on its `k`-th diagonal."""
    x = to_value(x)
    if None in tuple(x.shape):
        raise ShapeError(f"diagflat: the size of `x` must be static (the output is square "
                         f"in it), received shape {tuple(x.shape)}")
    return diag(ravel(x), k=k)


def vander(x, N=None, increasing=False):
    """The Vandermonde matrix of the 1-D `x`: columns x**(N-1), ..., x**0 (reversed when
    `increasing`), as running products (exact for ints and negative bases, unlike pow)."""
    ops = _o()
    x = to_value(x)
    if x.ndim != 1:
        raise ShapeError(f"vander: `x` must be 1-D, received shape {tuple(x.shape)}")
    if x.dtype == "bool":
        raise TypeError("vander: `x` cannot be boolean")
    N = x.shape[0] if N is None else int(N)
    if N is None or N < 0:
        raise ShapeError(f"vander: `N` must be a non-negative int (or x's static length), "
                         f"received {N}")
    if N == 0:
        return ops.zeros((x.shape[0], 0), dtype=x.dtype)
    # [1, x, x, ..., x] multiplied along the row: [1, x, x**2, ...].
    factors = ops.concatenate([ops.ones_like(x)[:, None],
                               ops.broadcast_to(x[:, None], (x.shape[0], N - 1))], axis=1)
    powers = ops.cast(ops.cumprod(factors, axis=1), x.dtype)
    return powers if increasing else ops.flip(powers, axis=1)


def get_item(x, key):
    """`x[key]`: Keras's name for `getitem`."""
    return getitem(x, key)


def _block_size(block_size, op):
    b = int(block_size)
    if b < 2:
        raise ValueError(f"{op}: `block_size` must be an int >= 2, received {block_size!r}")
    return b


def _check_4d(x, data_format, op):
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"{op}: `data_format` must be 'channels_last' or 'channels_first', "
                         f"received {data_format!r}")
    if x.ndim != 4:
        raise ShapeError(f"{op}: `x` must be 4-D (batch, spatial 2-D, channels), received "
                         f"shape {tuple(x.shape)}")


def depth_to_space(x, block_size, data_format="channels_last"):
    """Channel blocks moved into block_size x block_size spatial tiles (pixel shuffle):
    (N, H, W, C) -> (N, H b, W b, C / b**2). The channel order is Keras's: (b, b, C') for
    channels_last (TensorFlow's DCR) and (C', b, b) for channels_first."""
    x, b, last, h, w, c = _block_operands(x, block_size, data_format, "depth_to_space")
    if c is None or c % (b * b):
        raise ShapeError(f"depth_to_space: the channels ({c}) must be a static multiple of "
                         f"block_size**2 ({b * b})")
    c_out = c // (b * b)
    # Unknown dims (a symbolic batch) are carried through by -1 and static sizes.
    if last:
        x = reshape(x, (-1, h, w, b, b, c_out))
        x = transpose(x, (0, 1, 3, 2, 4, 5))
        return reshape(x, (-1, _times(h, b), _times(w, b), c_out))
    x = reshape(x, (-1, c_out, b, b, h, w))
    x = transpose(x, (0, 1, 4, 2, 5, 3))
    return reshape(x, (-1, c_out, _times(h, b), _times(w, b)))


def space_to_depth(x, block_size, data_format="channels_last"):
    """The inverse of `depth_to_space`: block_size x block_size spatial tiles moved into
    channels, (N, H, W, C) -> (N, H / b, W / b, C b**2), in the same channel order."""
    x, b, last, h, w, c = _block_operands(x, block_size, data_format, "space_to_depth")
    if h is None or w is None or c is None or h % b or w % b:
        raise ShapeError(f"space_to_depth: the spatial dims ({h}, {w}) must be static "
                         f"multiples of block_size ({b}), and the channels static")
    if last:
        x = reshape(x, (-1, h // b, b, w // b, b, c))
        x = transpose(x, (0, 1, 3, 2, 4, 5))
        return reshape(x, (-1, h // b, w // b, c * b * b))
    x = reshape(x, (-1, c, h // b, b, w // b, b))
    x = transpose(x, (0, 1, 3, 5, 2, 4))
    return reshape(x, (-1, c * b * b, h // b, w // b))


def _block_operands(x, block_size, data_format, op):
    """What depth_to_space and space_to_depth both check and read: the value, the block
    size, whether channels are last, and the height, width and channels."""
    x = to_value(x)
    b = _block_size(block_size, op)
    _check_4d(x, data_format, op)
    last = data_format == "channels_last"
    h, w = (x.shape[1], x.shape[2]) if last else (x.shape[2], x.shape[3])
    c = x.shape[3] if last else x.shape[1]
    return x, b, last, h, w, c


def _times(d, b):
    if d is None:
        raise ShapeError("depth_to_space: the spatial dims must be static")
    return d * b


def segment_sum(data, segment_ids, num_segments=None, sorted=False):
    """Sums of the rows of `data` (along axis 0) sharing a segment id: out[s] = sum of
    data[i] with segment_ids[i] == s, for s < num_segments (0 for empty segments). Ids out
    of [0, num_segments) are dropped, as Keras's JAX backend. `num_segments` must be given
    except eagerly (then max id + 1); `sorted` is accepted for Keras's signature only."""
    ops = _o()
    data, ids = to_value(data), _as_indices(segment_ids)
    if ids.ndim != 1 or data.ndim < 1 or (
            None not in (ids.shape[0], data.shape[0]) and ids.shape[0] != data.shape[0]):
        raise ShapeError(f"segment_sum: `segment_ids` must be 1-D with one id per row of "
                         f"`data`, received {tuple(ids.shape)} for data {tuple(data.shape)}")
    if num_segments is None:
        from graphkit.core.tensor import Tensor
        if type(ids) is not Tensor:  # traced or symbolic: no data to take the max of
            raise ValueError("segment_sum: `num_segments` is required outside eager mode "
                             "(the output's size must be static)")
        num_segments = int(np.max(ids.numpy(), initial=-1)) + 1
    n = int(num_segments)
    # Out-of-range ids go to an extra row, sliced off: dropped, not wrapped or an error.
    valid = ops.logical_and(ids >= 0, ids < n)
    ids = ops.where(valid, ids, ops.full_like(ids, n))
    out = scatter_add(ops.zeros((n + 1,) + tuple(data.shape[1:]), dtype=data.dtype), ids,
                      data, axis=0)
    return out[:n]


# -- N-d index scatters (keras.ops.scatter / scatter_update) -------------------------------------

def scatter(indices, values, shape):
    """A zeros tensor of `shape` with `values` added at `indices` (tf.scatter_nd's form: the
    last axis of `indices` holds coordinates into the first `indices.shape[-1]` axes of
    `shape`; repeated coordinates accumulate, as in Keras)."""
    ops = _o()
    values = to_value(values)
    shape = tuple(int(d) for d in shape)
    return _scatter_nd(ops.zeros(shape, values.dtype), indices, values, "scatter")


def scatter_update(inputs, indices, updates):
    """`inputs` with the slices at `indices` (coordinates, as `scatter`) replaced by
    `updates`. Written as inputs + scatter(updates - inputs[indices]): each coordinate must
    appear once (Keras leaves repeats undefined; here their differences add up)."""
    ops = _o()
    x = to_value(inputs)
    updates = ops.cast(updates, x.dtype)
    flat, linear, _ = _linear_coordinates(x, indices, "scatter_update")
    current = take(flat, linear, axis=0)
    return ops.reshape(scatter_add(flat, linear, ops.subtract(updates, current), axis=0),
                       tuple(x.shape))


def _scatter_nd(target, indices, values, op):
    flat, linear, _ = _linear_coordinates(target, indices, op)
    return _o().reshape(scatter_add(flat, linear, values, axis=0), tuple(target.shape))


def _linear_coordinates(x, indices, op):
    """`(x with its first k axes flattened into one, the row of each coordinate, k)` for
    coordinates `indices` of shape (..., k): the N-d scatter becomes scatter_add along 0."""
    ops = _o()
    idx = _as_indices(indices)
    k = idx.shape[-1] if idx.ndim else None
    if k is None or not 1 <= k <= x.ndim or None in tuple(x.shape[:k]):
        raise ShapeError(f"{op}: `indices` must end in an axis of k coordinates with "
                         f"1 <= k <= {x.ndim} static leading dims of the target; received "
                         f"indices {tuple(idx.shape)} for shape {tuple(x.shape)}")
    lead = tuple(int(d) for d in x.shape[:k])
    strides = np.cumprod((lead[1:] + (1,))[::-1])[::-1].astype(np.int64)
    linear = ops.sum(ops.multiply(ops.cast(idx, "int64"), strides), axis=-1)
    flat = ops.reshape(x, (int(np.prod(lead)),) + tuple(x.shape[k:]))
    return flat, linear, k


def unravel_index(indices, shape):
    """The coordinates of flat `indices` in an array of `shape` (C order), one tensor per
    axis, as NumPy's unravel_index."""
    ops = _o()
    idx = _as_indices(indices)
    shape = tuple(int(d) for d in shape)
    out, rest = [], idx
    for dim in reversed(shape):
        out.append(ops.mod(rest, dim))
        rest = ops.floor_divide(rest, dim)
    return tuple(reversed(out))
