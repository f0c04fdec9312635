"""Pure shape functions shared by the ops' infer rules (None = unknown dimension)."""
from graphkit.ops.primitive import ShapeError


def broadcast_shapes(*shapes, op="broadcast"):
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(ndim):
        dims = [s[i - ndim + len(s)] for s in shapes if i - ndim + len(s) >= 0]
        known = {d for d in dims if d is not None and d != 1}
        if len(known) > 1:
            raise ShapeError(
                f"{op}: shapes {', '.join(str(tuple(s)) for s in shapes)} cannot be broadcast "
                f"together (axis {i - ndim} has sizes {sorted(known)})")
        if known:
            out.append(known.pop())
        elif any(d is None for d in dims):
            out.append(None)
        else:
            out.append(1)
    return tuple(out)


def canonical_axis(axis, ndim, op="op"):
    """One axis as a non-negative int, with an error naming the op when out of range."""
    a = int(axis)
    if not -ndim <= a < ndim:
        raise ShapeError(f"{op}: axis {a} is out of range for a tensor of rank {ndim}")
    return a % ndim


def normalize_axis(axis, ndim, op="op"):
    """An int or a sequence of ints -> a sorted tuple of non-negative axes (None -> all)."""
    if axis is None:
        return tuple(range(ndim))
    if type(axis) is int and 0 <= axis < ndim:
        return (axis,)  # the commonest cases (sums over the batch axis in gradients)
    if type(axis) is tuple and len(axis) == 1 and type(axis[0]) is int and 0 <= axis[0] < ndim:
        return axis
    axes = (axis,) if isinstance(axis, int) or hasattr(axis, "__index__") else tuple(axis)
    out = [canonical_axis(a, ndim, op) for a in axes]
    if len(set(out)) != len(out):
        raise ShapeError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(out))


def reduce_shape(shape, axes, keepdims):
    if keepdims:
        return tuple(1 if i in axes else d for i, d in enumerate(shape))
    return tuple(d for i, d in enumerate(shape) if i not in axes)


def num_elements(shape):
    n = 1
    for d in shape:
        if d is None:
            return None
        n *= d
    return n


# -- windows (conv and pooling) ----------------------------------------------------------

def same_padding(size, window, stride, dilation=1):
    """TF/Keras "same" padding for one spatial dim: (low, high), the extra pixel high."""
    effective = (window - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + effective - size, 0)
    return (total // 2, total - total // 2)


def window_output_size(size, window, stride, dilation, pad):
    """Output length of a strided, dilated window over `size` padded by `pad` = (lo, hi)."""
    if size is None:
        return None
    effective = (window - 1) * dilation + 1
    padded = size + pad[0] + pad[1]
    if padded < effective:
        return 0
    return (padded - effective) // stride + 1


def resolve_padding(padding, spatial, window, strides, dilation, op):
    """"valid"/"same" (or explicit pairs) -> a tuple of (low, high) pairs, or the string
    "same" when a spatial dim is unknown (symbolic mode only)."""
    if isinstance(padding, str):
        mode = padding.lower()
        if mode == "valid":
            return tuple((0, 0) for _ in spatial)
        if mode == "same":
            if any(s is None for s in spatial):
                return "same"
            return tuple(same_padding(s, k, st, d)
                         for s, k, st, d in zip(spatial, window, strides, dilation))
        raise ValueError(f"{op}: `padding` must be 'valid' or 'same', received {padding!r}")
    pads = tuple((int(lo), int(hi)) for lo, hi in padding)
    if len(pads) != len(spatial):
        raise ValueError(f"{op}: expected {len(spatial)} padding pairs, received {padding!r}")
    return pads


def window_output_shape(spatial, window, strides, dilation, padding):
    """Spatial output dims for explicit pad pairs or the symbolic "same"."""
    out = []
    for i, s in enumerate(spatial):
        if padding == "same":
            out.append(None if s is None else -(-s // strides[i]))
        else:
            out.append(window_output_size(s, window[i], strides[i], dilation[i], padding[i]))
    return tuple(out)


def conv_transpose_geometry(window, stride, dilation, padding, output_padding):
    """Keras's conv_transpose along one axis, as (tail, (low, high)): the output length is
    (size - 1) * stride + tail, and (low, high) pads the forward conv whose input gradient
    this is. Neither depends on the input length, so unknown lengths keep explicit pads."""
    eff = (window - 1) * dilation + 1
    if padding == "valid":
        tail = eff + (max(stride - eff, 0) if output_padding is None else output_padding)
        low = 0
    else:
        # Keras (JAX backend) pads the stride-dilated inputs by `left` before correlating
        # with the flipped kernel; the forward conv's low pad is then eff - 1 - left.
        if output_padding is None:
            tail, pad_len = stride, stride + eff - 2
        else:
            tail, pad_len = eff % 2 + output_padding, eff + eff % 2 - 2 + output_padding
        low = eff - 1 - min(pad_len - pad_len // 2, eff - 1)
    # The least high pad giving `size` windows; output_padding < stride keeps it > -stride,
    # where a pad of 0 gives the same number of windows.
    return tail, (low, max(eff - tail - low, 0))
