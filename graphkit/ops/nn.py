"""Neural-network ops: activations, softmax, cross-entropies and normalization (composites
of primitives), and the conv and pooling primitives with their gradient primitives.

Conv and pooling work on channels_last tensors (N, *spatial, C) with 1, 2 or 3 spatial
dims; kernels are (*kernel_size, in_channels // groups, out_channels), as in Keras.
Padding is resolved to explicit (low, high) pairs ("same" follows TF: the extra pixel goes
high), except in symbolic mode when a spatial dim is unknown, where the attr stays "same".
"""
import itertools
import math

import numpy as np

from graphkit import config, dtypes
from graphkit.ops.convert import to_value
from graphkit.ops.primitive import ops_namespace as _o, Aval, Primitive, ShapeError, bind
from graphkit.ops.shape_rules import (canonical_axis, conv_transpose_geometry,
                                      normalize_axis, resolve_padding, same_padding,
                                      window_output_shape)



def _float(x):
    x = to_value(x)
    if not dtypes.is_float(x.dtype):
        x = _o().cast(x, config.floatx())
    return x


# -- activations -------------------------------------------------------------------------

def relu(x):
    return _o().maximum(x, 0)


def relu6(x):
    return _o().minimum(_o().maximum(x, 0), 6)


def leaky_relu(x, negative_slope=0.2):
    x = _float(x)
    # x >= 0, as Keras (JAX): the gradient at 0 is 1, not the slope.
    return _o().where(x >= 0, x, x * negative_slope)


def elu(x, alpha=1.0):
    ops = _o()
    x = _float(x)
    # expm1 of x where x <= 0, else of 0: the branch not taken must not overflow (its
    # gradient would be nan). Not minimum(x, 0), whose tie at 0 would pass x no gradient:
    # the gradient at 0 is alpha, as in Keras (1, the derivative, for the default alpha).
    negative = ops.where(x > 0, ops.zeros_like(x), x)
    return ops.where(x > 0, x, ops.expm1(negative) * alpha)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(x):
    return elu(x, _SELU_ALPHA) * _SELU_SCALE


def gelu(x, approximate=True):
    """GELU; `approximate=True` (Keras's default for ops.gelu) is the tanh form."""
    ops = _o()
    x = _float(x)
    if approximate:
        inner = (x + 0.044715 * (x * x * x)) * math.sqrt(2.0 / math.pi)
        return 0.5 * x * (1.0 + ops.tanh(inner))
    return 0.5 * x * (1.0 + ops.erf(x * (1.0 / math.sqrt(2.0))))


def sigmoid(x):
    return _o().sigmoid(x)


def silu(x):
    x = _float(x)
    return x * _o().sigmoid(x)


swish = silu


def hard_sigmoid(x):
    return relu6(_float(x) + 3.0) * (1.0 / 6.0)


def hard_silu(x):
    x = _float(x)
    return x * hard_sigmoid(x)


hard_swish = hard_silu

# Above this, log1p(exp(x)) equals x to the dtype's precision.
_SOFTPLUS_LINEAR_FROM = {"float16": 10.0, "float32": 20.0, "float64": 40.0}


def softplus(x):
    """log(1 + exp(x)), stable for large |x|, with the exact gradient sigmoid(x) everywhere."""
    ops = _o()
    x = _float(x)
    limit = _SOFTPLUS_LINEAR_FROM.get(x.dtype, 20.0)
    return ops.where(x > limit, x, ops.log1p(ops.exp(ops.minimum(x, limit))))


def softsign(x):
    x = _float(x)
    return x / (1 + _o().abs(x))


def log_sigmoid(x):
    return -softplus(-_float(x))


def celu(x, alpha=1.0):
    """x for x > 0, alpha * expm1(x / alpha) otherwise (the expm1 of the branch not taken
    gets 0, so that it cannot overflow and poison the gradient)."""
    ops = _o()
    x = _float(x)
    negative = ops.where(x > 0, ops.zeros_like(x), x)
    return ops.where(x > 0, x, ops.expm1(negative / alpha) * alpha)


def glu(x, axis=-1):
    """Gated linear unit: a * sigmoid(b), a and b the two halves of x along `axis`."""
    x = _float(x)
    axis = canonical_axis(axis, x.ndim, "glu")
    if x.shape[axis] is not None and x.shape[axis] % 2:
        raise ShapeError(f"glu: axis {axis} of shape {tuple(x.shape)} must have an even "
                         f"size, to split into two halves")
    a, b = _o().split(x, 2, axis=axis)
    return a * _o().sigmoid(b)


def hard_tanh(x):
    """1 above 1, -1 below -1, x between (ints keep their dtype, as in Keras). Two selects,
    not clip: at x = +-1 the gradient is 1, as JAX's, where clip's ties pass none."""
    ops = _o()
    x = to_value(x)
    return ops.where(x > 1, 1, ops.where(x < -1, -1, x))


def hard_shrink(x, threshold=0.5):
    """x where |x| > threshold, else 0."""
    ops = _o()
    x = _float(x)
    return ops.where(ops.abs(x) > threshold, x, ops.zeros_like(x))


def soft_shrink(x, threshold=0.5):
    """x - threshold above threshold, x + threshold below -threshold, 0 between."""
    ops = _o()
    x = _float(x)
    inner = ops.where(x < -threshold, x + threshold, ops.zeros_like(x))
    return ops.where(x > threshold, x - threshold, inner)


def tanh_shrink(x):
    """x - tanh(x)."""
    x = _float(x)
    return x - _o().tanh(x)


def squareplus(x, b=4):
    """(x + sqrt(x**2 + b)) / 2, a smooth relu."""
    x = _float(x)
    return (x + _o().sqrt(x * x + b)) * 0.5


def sparse_plus(x):
    """0 for x <= -1, x for x >= 1, (x + 1)**2 / 4 between: a smooth relu with a compact
    transition."""
    ops = _o()
    x = _float(x)
    quadratic = (x + 1.0) * (x + 1.0) * 0.25
    return ops.where(x <= -1.0, ops.zeros_like(x), ops.where(x >= 1.0, x, quadratic))


def sparse_sigmoid(x):
    """clip(x + 1, 0, 2) / 2: 0 for x <= -1, 1 for x >= 1, linear between."""
    return _o().clip(_float(x) + 1.0, 0.0, 2.0) * 0.5


def threshold(x, threshold, default_value):
    """x where x > threshold, else default_value."""
    return _o().where(_o().greater(x, threshold), x, default_value)


def sparsemax(x, axis=-1):
    """The Euclidean projection of x onto the simplex along `axis` (Martins & Astudillo):
    max(x - tau, 0), tau chosen so that the outputs sum to 1; found from the sorted x."""
    from graphkit.ops.creation import arange
    ops = _o()
    x = _float(x)
    axis = canonical_axis(axis, x.ndim, "sparsemax")
    descending = -ops.sort(-x, axis=axis)
    cumulative = ops.cumsum(descending, axis=axis)
    n = x.shape[axis]
    rank = ops.reshape(ops.cast(arange(1, n + 1), x.dtype),
                       tuple(-1 if i == axis else 1 for i in range(x.ndim)))
    # The support: the k largest entries with 1 + k x_(k) > sum of the k largest.
    support = descending - (cumulative - 1.0) / rank > 0
    k = ops.sum(ops.cast(support, x.dtype), axis=axis, keepdims=True)
    support_sum = ops.sum(ops.where(support, cumulative, ops.zeros_like(cumulative)) *
                          ops.cast(rank == k, x.dtype), axis=axis, keepdims=True)
    tau = (support_sum - 1.0) / k
    return ops.maximum(x - tau, 0.0)


def softmax(x, axis=-1):
    ops = _o()
    x = _float(x)
    axis = normalize_axis(axis, x.ndim, "softmax")  # errors name softmax, not its max
    m = ops.stop_gradient(ops.max(x, axis=axis, keepdims=True))
    e = ops.exp(x - m)
    return e / ops.sum(e, axis=axis, keepdims=True)


def log_softmax(x, axis=-1):
    x = _float(x)
    axis = normalize_axis(axis, x.ndim, "log_softmax")
    return x - _o().logsumexp(x, axis=axis, keepdims=True)


def normalize(x, axis=-1, order=2, epsilon=None):
    """x divided by its `order`-norm along `axis` (Keras's ops.normalize)."""
    ops = _o()
    x = _float(x)
    eps = config.epsilon() if epsilon is None else epsilon
    n = ops.norm(x, ord=order, axis=axis, keepdims=True)
    return x / ops.maximum(n, eps)


def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    """Class indices -> one-hot vectors along `axis`; out-of-range indices give zeros."""
    from graphkit.ops.creation import arange
    ops = _o()
    if sparse:
        raise ValueError("one_hot: sparse=True is not supported (graphkit has no sparse "
                         "tensors); use sparse=False")
    x = to_value(x)
    if x.dtype not in ("int32", "int64"):
        # Narrow ints too: the class range, arange(num_classes), must fit the dtype
        # (uint8 labels with 300 classes).
        x = ops.cast(x, "int32")
    out_ndim = x.ndim + 1
    axis = canonical_axis(axis, out_ndim, "one_hot")
    classes = ops.reshape(arange(int(num_classes), dtype=x.dtype),
                          tuple(-1 if i == axis else 1 for i in range(out_ndim)))
    hot = ops.equal(ops.expand_dims(x, axis), classes)
    return ops.cast(hot, dtypes.standardize_dtype(dtype))


def multi_hot(inputs, num_classes, axis=-1, dtype=None, sparse=False):
    """Multi-hot encoding: one_hot, then the max over the index axis (1 for batched 2-D
    inputs, 0 for a single 1-D input), as in Keras."""
    inputs = to_value(inputs)
    reduction_axis = 1 if inputs.ndim > 1 else 0
    hot = one_hot(inputs, num_classes, axis=axis, dtype=dtype, sparse=sparse)
    return _o().max(hot, axis=reduction_axis)


def dropout(x, rate, noise_shape=None, seed=None):
    from graphkit import random
    return random.dropout(x, rate, noise_shape=noise_shape, seed=seed)


# -- cross-entropies (Keras 3 semantics) -------------------------------------------------

def _check_same_rank(op, target, output):
    if len(target.shape) != len(output.shape):
        raise ValueError(f"{op}: arguments `target` and `output` must have the same rank "
                         f"(ndim); received target.shape={tuple(target.shape)}, "
                         f"output.shape={tuple(output.shape)}")
    for e1, e2 in zip(target.shape, output.shape):
        if e1 is not None and e2 is not None and e1 != e2:
            raise ValueError(f"{op}: arguments `target` and `output` must have the same "
                             f"shape; received target.shape={tuple(target.shape)}, "
                             f"output.shape={tuple(output.shape)}")


def _clipped_log_probs(output, axis):
    ops = _o()
    eps = config.epsilon()
    output = output / ops.sum(output, axis=axis, keepdims=True)
    return ops.log(ops.clip(output, eps, 1.0 - eps))


def binary_crossentropy(target, output, from_logits=False):
    ops = _o()
    output = _float(output)
    target = ops.cast(target, output.dtype)
    _check_same_rank("binary_crossentropy", target, output)
    if from_logits:
        return -target * log_sigmoid(output) - (1.0 - target) * log_sigmoid(-output)
    eps = config.epsilon()
    output = ops.clip(output, eps, 1.0 - eps)
    return -(target * ops.log(output) + (1.0 - target) * ops.log(1.0 - output))


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    ops = _o()
    output = _float(output)
    target = ops.cast(target, output.dtype)
    _check_same_rank("categorical_crossentropy", target, output)
    if len(output.shape) < 1:
        raise ValueError("categorical_crossentropy: `output` must be at least rank 1, "
                         f"received output.shape={tuple(output.shape)}")
    log_prob = log_softmax(output, axis=axis) if from_logits else \
        _clipped_log_probs(output, axis)
    return -ops.sum(target * log_prob, axis=axis)


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    ops = _o()
    output = _float(output)
    target = to_value(target)
    if target.ndim == output.ndim and target.shape[-1] == 1:
        target = ops.squeeze(target, axis=-1)
    if output.ndim < 1:
        raise ValueError("sparse_categorical_crossentropy: `output` must be at least rank 1, "
                         f"received output.shape={tuple(output.shape)}")
    expected = tuple(output.shape[:-1])
    if len(target.shape) != len(expected) or any(
            a is not None and b is not None and a != b for a, b in zip(target.shape, expected)):
        raise ValueError("sparse_categorical_crossentropy: arguments `target` and `output` "
                         "must have the same shape up until the last dimension; received "
                         f"target.shape={tuple(target.shape)}, "
                         f"output.shape={tuple(output.shape)}")
    log_prob = log_softmax(output, axis=axis) if from_logits else \
        _clipped_log_probs(output, axis)
    target = one_hot(target, output.shape[axis], axis=axis, dtype=output.dtype)
    return -ops.sum(target * log_prob, axis=axis)


# -- normalization -----------------------------------------------------------------------

def moments(x, axes, keepdims=False, synchronized=False):
    """Mean and (biased) variance over `axes`; float16 computes in float32, as in Keras."""
    ops = _o()
    x = _float(x)
    axes = normalize_axis(axes, x.ndim, "moments")  # errors name moments, not its mean
    dtype = x.dtype
    if dtype == "float16":
        x = ops.cast(x, "float32")
    mean = ops.mean(x, axis=axes, keepdims=True)
    centered = x - mean
    variance = ops.mean(centered * centered, axis=axes, keepdims=keepdims)
    if not keepdims:
        mean = ops.squeeze(mean, axis=axes) if sum(d is None for d in variance.shape) <= 1 \
            else ops.mean(x, axis=axes)  # symbolic, several unknown dims: no reshape
    return ops.cast(mean, dtype), ops.cast(variance, dtype)


def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
    """(x - mean) / sqrt(variance + epsilon) * scale + offset, the statistics being 1-D
    over `axis` (Keras's signature)."""
    ops = _o()
    x = _float(x)
    axis = canonical_axis(axis, x.ndim, "batch_normalization")
    shape = tuple(-1 if i == axis else 1 for i in range(x.ndim))

    def along_axis(v):
        v = ops.cast(v, x.dtype)
        return ops.reshape(v, shape) if v.ndim == 1 else v

    inv = ops.rsqrt(along_axis(variance) + epsilon)
    if scale is not None:
        inv = inv * along_axis(scale)
    res = -along_axis(mean) * inv
    if offset is not None:
        res = res + along_axis(offset)
    return x * inv + res


def _at_least_float32(x):
    """(x in its compute dtype, the dtype to return): Keras normalizes in
    result_type(x, float32), so float16 in float32 and float64 in float64, and casts back
    to the input's dtype, ints included."""
    x = to_value(x)
    compute = "float64" if x.dtype == "float64" else "float32"
    return _o().cast(x, compute), x.dtype


def _normalized_axes(axis, ndim, op):
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(sorted(canonical_axis(a, ndim, op) for a in axes))


def _along_axes(v, x, axes):
    """A gamma/beta/scale given over `axes` only, reshaped to broadcast against x (Keras:
    when it is not of x's rank and the axes are not just the last one)."""
    v = _o().cast(v, x.dtype)
    if v.ndim != x.ndim and axes != (x.ndim - 1,):
        v = _o().reshape(v, tuple(x.shape[i] if i in axes else 1 for i in range(x.ndim)))
    return v


def rms_normalization(x, scale=None, axis=-1, epsilon=None):
    """x * rsqrt(mean(x**2, axis) + epsilon) * scale (Zhang & Sennrich), computed in at
    least float32 and cast back to x's dtype, as in Keras."""
    ops = _o()
    x, dtype = _at_least_float32(x)
    if x.ndim == 0:
        x = ops.expand_dims(x, 0)
    eps = config.epsilon() if epsilon is None else epsilon
    axes = _normalized_axes(axis, x.ndim, "rms_normalization")
    out = x * ops.rsqrt(ops.mean(x * x, axis=axes, keepdims=True) + eps)
    if scale is not None:
        out = out * _along_axes(scale, x, axes)
    return ops.cast(out, dtype)


def layer_normalization(x, gamma=None, beta=None, axis=-1, epsilon=None):
    """(x - mean) * rsqrt(var + epsilon) * gamma + beta over `axis`, computed in at least
    float32 and cast back to x's dtype, as in Keras."""
    ops = _o()
    x, dtype = _at_least_float32(x)
    eps = config.epsilon() if epsilon is None else epsilon
    axes = _normalized_axes(axis, x.ndim, "layer_normalization")
    mean, variance = moments(x, axes=axes, keepdims=True)
    inv = ops.rsqrt(variance + eps)
    if gamma is not None:
        inv = inv * _along_axes(gamma, x, axes)
    shift = -mean * inv
    if beta is not None:
        shift = shift + _along_axes(beta, x, axes)
    return ops.cast(x * inv + shift, dtype)


# -- attention ---------------------------------------------------------------------------

def _check_attention_shapes(query, key, value):
    for name, t in (("query", query), ("key", key), ("value", value)):
        if t.ndim != 4:
            raise ValueError(f"dot_product_attention: only 4D inputs (batch, time, heads, "
                             f"depth) are supported; received {name}.shape={tuple(t.shape)}")
    n, k = query.shape[2], key.shape[2]
    if n is not None and k is not None and n % k:
        raise ValueError(f"dot_product_attention: the query's {n} heads must be a multiple "
                         f"of the key's {k} heads (grouped-query attention)")


def _repeat_heads(t, groups):
    """Grouped-query attention: key/value head h serves query heads h*G .. h*G + G - 1."""
    return t if groups == 1 else _o().repeat(t, groups, axis=2)


def dot_product_attention(query, key, value, bias=None, mask=None, scale=None,
                          is_causal=False, flash_attention=None):
    """softmax(q k^T * scale + bias, masked) v over (batch, time, heads, depth) tensors, as
    JAX's reference implementation: masked logits become -0.7 * float32 max (not -inf, so a
    fully masked row averages the values), and the logits and softmax are in at least
    float32. `scale` defaults to 1 / sqrt(depth); `is_causal` keeps the key positions <=
    the query's; `mask` (True = attend) and `bias` broadcast to (batch, heads, time_q,
    time_k). Fewer key/value heads than query heads is grouped-query attention.
    `flash_attention` exists for Keras compatibility; only None and False are supported."""
    from graphkit.ops.creation import tri
    ops = _o()
    if flash_attention:
        raise ValueError("dot_product_attention: flash_attention=True is not supported; "
                         "pass None or False")
    query, key, value = _common_float(query, key, value)
    _check_attention_shapes(query, key, value)
    groups = query.shape[2] // key.shape[2]
    key, value = _repeat_heads(key, groups), _repeat_heads(value, groups)
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    logits_dtype = "float64" if query.dtype == "float64" else "float32"
    logits = ops.cast(ops.einsum("btnh,bsnh->bnts", query, key), logits_dtype) * scale
    if bias is not None:
        logits = logits + ops.cast(bias, logits_dtype)
    keep = None if mask is None else ops.cast(mask, "bool")
    if is_causal:
        if None in logits.shape[-2:]:
            raise ShapeError(f"dot_product_attention: is_causal needs known query and key "
                             f"lengths to build the mask, received query "
                             f"{tuple(query.shape)} and key {tuple(key.shape)}")
        causal = tri(logits.shape[-2], logits.shape[-1], dtype="bool")
        keep = causal if keep is None else ops.logical_and(keep, causal)
    if keep is not None:
        logits = ops.where(keep, logits, -0.7 * float(np.finfo(np.float32).max))
    probs = ops.cast(softmax(logits, axis=-1), value.dtype)
    return ops.einsum("bnts,bsnh->btnh", probs, value)


def _common_float(*ts):
    """The operands in their common dtype, floatx if that is not a float."""
    ts = [to_value(t) for t in ts]
    dtype = dtypes.result_type(*(t.dtype for t in ts))
    if not dtypes.is_float(dtype):
        dtype = config.floatx()
    return [_o().cast(t, dtype) for t in ts]


# -- windows: shared helpers -------------------------------------------------------------

def _tuple(v, n, name, op):
    if isinstance(v, (int, np.integer)):
        return (int(v),) * n
    v = tuple(int(i) for i in v)
    if len(v) != n:
        raise ValueError(f"{op}: `{name}` must be an int or a tuple of {n} ints, received {v}")
    return v


def _windows(xp, window, strides, dilation):
    """A read-only view (N, *out, *window, C) of every window of the padded `xp`."""
    n = len(window)
    out = [max((xp.shape[1 + i] - ((window[i] - 1) * dilation[i] + 1)) // strides[i] + 1, 0)
           for i in range(n)]
    s = xp.strides
    shape = (xp.shape[0],) + tuple(out) + tuple(window) + (xp.shape[-1],)
    st = ((s[0],) + tuple(s[1 + i] * strides[i] for i in range(n))
          + tuple(s[1 + i] * dilation[i] for i in range(n)) + (s[-1],))
    return np.lib.stride_tricks.as_strided(xp, shape, st, writeable=False)


def _pads_for(spatial, window, strides, dilation, padding):
    if padding == "same":
        return tuple(same_padding(s, k, st, d)
                     for s, k, st, d in zip(spatial, window, strides, dilation))
    return padding


def _pad_spatial(x, pads, value=0):
    if all(p == (0, 0) for p in pads):
        return x
    return np.pad(x, ((0, 0),) + tuple(pads) + ((0, 0),), constant_values=value)


def _scatter_windows(cols, spatial, window, strides, dilation, pads, channels):
    """The adjoint of `_windows`: add cols (N, *out, *window, C) back into an image."""
    n = len(window)
    out = cols.shape[1:1 + n]
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(spatial, pads))
    acc = np.zeros((cols.shape[0],) + padded + (channels,), dtype=cols.dtype)
    for offset in itertools.product(*(range(k) for k in window)):
        region = tuple(slice(o * d, o * d + st * (m - 1) + 1, st)
                       for o, d, st, m in zip(offset, dilation, strides, out))
        acc[(slice(None),) + region] += cols[(slice(None),) * (1 + n) + offset]
    crop = tuple(slice(lo, lo + s) for s, (lo, _) in zip(spatial, pads))
    return acc[(slice(None),) + crop]


# -- conv --------------------------------------------------------------------------------

def _conv_out_channels(op, x_shape, w_shape, groups):
    n = len(x_shape) - 2
    if len(w_shape) != n + 2:
        raise ShapeError(f"{op}: the kernel of shape {tuple(w_shape)} must have rank {n + 2} "
                         f"for inputs of shape {tuple(x_shape)}")
    cin, cg, cout = x_shape[-1], w_shape[-2], w_shape[-1]
    if cin is not None and cin != cg * groups:
        raise ShapeError(f"{op}: inputs of shape {tuple(x_shape)} have {cin} channels, but the "
                         f"kernel of shape {tuple(w_shape)} expects {cg} x {groups} groups")
    if cout % groups:
        raise ShapeError(f"{op}: {cout} output channels do not divide into {groups} groups")
    return cout


def _conv_infer(x, w, strides, padding, dilation, groups):
    if x.ndim < 3:
        raise ShapeError(f"conv: inputs must be (N, *spatial, C), received {tuple(x.shape)}")
    if x.dtype != w.dtype:
        raise ShapeError(f"conv: dtypes differ (inputs {x.dtype}, kernel {w.dtype})")
    cout = _conv_out_channels("conv", x.shape, w.shape, groups)
    out = window_output_shape(x.shape[1:-1], w.shape[:-2], strides, dilation, padding)
    return Aval((x.shape[0],) + out + (cout,), x.dtype)


def _grouped_matmul(a, b, groups):
    """(M, G*Ka) x per-group (Ka, Nb) -> (M, G*Nb): a batched matmul over the groups."""
    m = a.shape[0]
    a = a.reshape(m, groups, -1).transpose(1, 0, 2)
    out = np.matmul(a, b)  # (G, M, Nb)
    return out.transpose(1, 0, 2).reshape(m, -1)


def _conv_kernel(x, w, strides, padding, dilation, groups):
    window = w.shape[:-2]
    pads = _pads_for(x.shape[1:-1], window, strides, dilation, padding)
    win = _windows(_pad_spatial(x, pads), window, strides, dilation)
    n = len(window)
    out_spatial = win.shape[1:1 + n]
    if groups == 1:
        k = int(np.prod(window)) * x.shape[-1]
        cols = win.reshape(-1, k)
        out = cols @ w.reshape(k, -1)
    else:
        cg, cout = w.shape[-2], w.shape[-1]
        kprod = int(np.prod(window))
        # cols (M, K, G, Cg) -> (M, G, K*Cg); w (K, Cg, G, Cog) -> (G, K*Cg, Cog)
        cols = win.reshape(-1, kprod, groups, cg).transpose(0, 2, 1, 3).reshape(
            -1, groups * kprod * cg)
        wg = w.reshape(kprod, cg, groups, cout // groups).transpose(2, 0, 1, 3).reshape(
            groups, kprod * cg, cout // groups)
        out = _grouped_matmul(cols, wg, groups)
    return out.reshape((x.shape[0],) + tuple(out_spatial) + (w.shape[-1],)).astype(
        x.dtype, copy=False)


def _conv_input_grad_infer(ct, w, input_spatial, strides, padding, dilation, groups):
    cout = _conv_out_channels("conv_input_grad", (ct.shape[0],) + tuple(input_spatial)
                              + (w.shape[-2] * groups,), w.shape, groups)
    if ct.shape[-1] is not None and ct.shape[-1] != cout:
        raise ShapeError(f"conv_input_grad: cotangent of shape {tuple(ct.shape)} does not "
                         f"match the kernel's {cout} output channels")
    _check_window_output("conv_input_grad", ct, input_spatial, w.shape[:-2], strides,
                         dilation, padding)
    return Aval((ct.shape[0],) + tuple(input_spatial) + (w.shape[-2] * groups,), ct.dtype)


def _conv_input_grad_kernel(ct, w, input_spatial, strides, padding, dilation, groups):
    window = w.shape[:-2]
    pads = _pads_for(input_spatial, window, strides, dilation, padding)
    kprod = int(np.prod(window))
    cg, cout = w.shape[-2], w.shape[-1]
    m = int(np.prod(ct.shape[:-1]))
    if groups == 1:
        cols = ct.reshape(m, cout) @ w.reshape(kprod * cg, cout).T  # (M, K*Cin)
        cols = cols.reshape(m, kprod, cg)
    else:
        # ct (M, G, Cog); w (K, Cg, G, Cog) -> per group (Cog, K*Cg)
        wg = w.reshape(kprod, cg, groups, cout // groups).transpose(2, 3, 0, 1).reshape(
            groups, cout // groups, kprod * cg)
        cols = _grouped_matmul(ct.reshape(m, cout), wg, groups)  # (M, G*K*Cg)
        cols = cols.reshape(m, groups, kprod, cg).transpose(0, 2, 1, 3)
    cols = cols.reshape(ct.shape[:-1] + tuple(window) + (cg * groups,))
    out = _scatter_windows(cols, tuple(input_spatial), window, strides, dilation, pads,
                           cg * groups)
    return out.astype(ct.dtype, copy=False)


def _conv_filter_grad_infer(x, ct, kernel_spatial, strides, padding, dilation, groups):
    cin, cout = x.shape[-1], ct.shape[-1]
    _check_window_output("conv_filter_grad", ct, x.shape[1:-1], kernel_spatial, strides,
                         dilation, padding)
    if cin is not None and cin % groups:
        raise ShapeError(f"conv_filter_grad: {cin} input channels do not divide into "
                         f"{groups} groups")
    return Aval(tuple(kernel_spatial) + (None if cin is None else cin // groups, cout), x.dtype)


def _check_window_output(op, ct, spatial, window, strides, dilation, padding):
    """The cotangent's spatial dims must be those the forward window op produces."""
    expected = window_output_shape(spatial, window, strides, dilation, padding)
    got = tuple(ct.shape[1:-1])
    if len(got) != len(expected) or any(
            e is not None and g is not None and e != g for e, g in zip(expected, got)):
        raise ShapeError(f"{op}: cotangent of shape {tuple(ct.shape)} does not match the "
                         f"forward output's spatial dims {expected}")


def _conv_filter_grad_kernel(x, ct, kernel_spatial, strides, padding, dilation, groups):
    window = tuple(kernel_spatial)
    n = len(window)
    pads = _pads_for(x.shape[1:-1], window, strides, dilation, padding)
    win = _windows(_pad_spatial(x, pads), window, strides, dilation)
    win = win[(slice(None),) + tuple(slice(0, m) for m in ct.shape[1:1 + n])]
    kprod = int(np.prod(window))
    cin, cout = x.shape[-1], ct.shape[-1]
    cg = cin // groups
    m = int(np.prod(ct.shape[:-1]))
    cols = win.reshape(m, kprod * cin)
    if groups == 1:
        dw = cols.T @ ct.reshape(m, cout)  # (K*Cin, Cout)
        return dw.reshape(window + (cin, cout)).astype(x.dtype, copy=False)
    cols = cols.reshape(m, kprod, groups, cg).transpose(2, 1, 3, 0).reshape(groups, kprod * cg, m)
    ctg = ct.reshape(m, groups, cout // groups).transpose(1, 0, 2)
    dw = np.matmul(cols, ctg)  # (G, K*Cg, Cog)
    dw = dw.reshape(groups, kprod, cg, cout // groups).transpose(1, 2, 0, 3)
    return dw.reshape(window + (cg, cout)).astype(x.dtype, copy=False)


def _conv_grad(ct, out, x, w, **attrs):
    return (bind(CONV_INPUT_GRAD, ct, w, input_spatial=tuple(x.shape[1:-1]), **attrs),
            bind(CONV_FILTER_GRAD, x, ct, kernel_spatial=tuple(w.shape[:-2]), **attrs))


def _conv_input_grad_grad(g_out, out, ct, w, input_spatial, **attrs):
    # conv_input_grad(ct, w) is bilinear: <conv_input_grad(ct, w), g> = <conv(g, w), ct>.
    return (bind(CONV, g_out, w, **attrs),
            bind(CONV_FILTER_GRAD, g_out, ct, kernel_spatial=tuple(w.shape[:-2]), **attrs))


def _conv_filter_grad_grad(g_out, out, x, ct, kernel_spatial, **attrs):
    # <conv_filter_grad(x, ct), g> = <conv(x, g), ct>.
    return (bind(CONV_INPUT_GRAD, ct, g_out, input_spatial=tuple(x.shape[1:-1]), **attrs),
            bind(CONV, x, g_out, **attrs))


_CONV_ATTRS = ("strides", "padding", "dilation", "groups")
CONV = Primitive("conv", eager=_conv_kernel, infer=_conv_infer, grad=_conv_grad,
                 category="conv", attr_names=_CONV_ATTRS)
CONV_INPUT_GRAD = Primitive("conv_input_grad", eager=_conv_input_grad_kernel,
                            infer=_conv_input_grad_infer, grad=_conv_input_grad_grad,
                            category="conv", attr_names=("input_spatial",) + _CONV_ATTRS)
CONV_FILTER_GRAD = Primitive("conv_filter_grad", eager=_conv_filter_grad_kernel,
                             infer=_conv_filter_grad_infer, grad=_conv_filter_grad_grad,
                             category="conv", attr_names=("kernel_spatial",) + _CONV_ATTRS)


def _data_format(data_format):
    fmt = data_format or "channels_last"
    if fmt not in ("channels_last", "channels_first"):
        raise ValueError(f"`data_format` must be 'channels_last' or 'channels_first', "
                         f"received {data_format!r}")
    return fmt


def _to_channels_last(x, fmt):
    if fmt == "channels_first":
        return _o().moveaxis(x, 1, -1)
    return x


def _from_channels_last(x, fmt):
    if fmt == "channels_first":
        return _o().moveaxis(x, -1, 1)
    return x


def _check_spatial_rank(op, x):
    if not 3 <= x.ndim <= 5:
        raise ShapeError(f"{op}: expected inputs of rank 3, 4 or 5 (batch, *spatial, "
                         f"channels), received shape {tuple(x.shape)}")


def _conv_operands(op, inputs, kernel, data_format):
    """(data format, channels-last float inputs, kernel in their dtype, spatial rank)."""
    ops = _o()
    fmt = _data_format(data_format)
    x, w = ops.convert_to_tensor(inputs), ops.convert_to_tensor(kernel)
    if not dtypes.is_float(x.dtype):
        # Keras's result type: integer inputs (uint8 images) take a float kernel's dtype,
        # so a float16 layer's conv stays float16.
        x = ops.cast(x, w.dtype if dtypes.is_float(w.dtype) else config.floatx())
    w = ops.cast(w, x.dtype)
    _check_spatial_rank(op, x)
    x = _to_channels_last(x, fmt)
    return fmt, x, w, x.ndim - 2


def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """N-D convolution (1D/2D/3D). The kernel is (*kernel_size, in_channels // groups,
    filters); groups = in_channels // kernel.shape[-2], as in Keras."""
    fmt, x, w, n = _conv_operands("conv", inputs, kernel, data_format)
    if w.ndim != n + 2:
        raise ShapeError(f"conv: the kernel of shape {tuple(w.shape)} must have rank {n + 2} "
                         f"for inputs of shape {tuple(x.shape)}")
    strides = _tuple(strides, n, "strides", "conv")
    dilation = _tuple(dilation_rate, n, "dilation_rate", "conv")
    if any(s > 1 for s in strides) and any(d > 1 for d in dilation):
        raise ValueError("conv: `strides` > 1 together with `dilation_rate` > 1 is not "
                         f"supported (received strides={strides}, dilation_rate={dilation})")
    cin, cg = x.shape[-1], w.shape[-2]
    if cin is None:
        raise ShapeError(f"conv: the channel dimension of the inputs must be known, "
                         f"received shape {tuple(x.shape)}")
    if cin % cg:
        raise ShapeError(f"conv: inputs with {cin} channels (shape {tuple(x.shape)}) do not "
                         f"match a kernel of shape {tuple(w.shape)} ({cg} input channels "
                         "per group)")
    groups = cin // cg
    pads = resolve_padding(padding, x.shape[1:-1], w.shape[:-2], strides, dilation, "conv")
    out = bind(CONV, x, w, strides=strides, padding=pads, dilation=dilation, groups=groups)
    return _from_channels_last(out, fmt)


def separable_conv(inputs, depthwise_kernel, pointwise_kernel, strides=1, padding="valid",
                   data_format=None, dilation_rate=1):
    """Depthwise conv then a 1x1 conv with `pointwise_kernel` ((1,)*n + (channels *
    multiplier, filters)), as keras.ops.separable_conv."""
    depthwise = depthwise_conv(inputs, depthwise_kernel, strides, padding, data_format,
                               dilation_rate)
    return conv(depthwise, pointwise_kernel, 1, "valid", data_format, 1)


def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None,
                   dilation_rate=1):
    """Depthwise conv: kernel (*kernel_size, in_channels, multiplier), as in Keras."""
    ops = _o()
    w = ops.convert_to_tensor(kernel)
    shape = tuple(w.shape)
    w = ops.reshape(w, shape[:-2] + (1, shape[-2] * shape[-1]))
    return conv(inputs, w, strides, padding, data_format, dilation_rate)


def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None,
                   data_format=None, dilation_rate=1):
    """Transposed conv (the gradient of conv with respect to its input). The kernel is
    (*kernel_size, filters, in_channels), and the output length and alignment are Keras's
    (JAX backend), output_padding included."""
    fmt, x, w, n = _conv_operands("conv_transpose", inputs, kernel, data_format)
    strides = _tuple(strides, n, "strides", "conv_transpose")
    dilation = _tuple(dilation_rate, n, "dilation_rate", "conv_transpose")
    out_pad = (None,) * n if output_padding is None else _tuple(output_padding, n,
                                                                 "output_padding",
                                                                 "conv_transpose")
    if padding not in ("valid", "same"):
        raise ValueError(f"conv_transpose: `padding` must be 'valid' or 'same', "
                         f"received {padding!r}")
    if any(p is not None and not 0 <= p < s for p, s in zip(out_pad, strides)):
        raise ValueError(f"conv_transpose: each `output_padding` must be in [0, strides), "
                         f"received output_padding={output_padding}, strides={strides}")
    spatial, pads = [], []
    for i in range(n):
        tail, pad = conv_transpose_geometry(w.shape[i], strides[i], dilation[i], padding,
                                            out_pad[i])
        size = x.shape[1 + i]
        spatial.append(None if size is None else (size - 1) * strides[i] + tail)
        pads.append(pad)
    out = bind(CONV_INPUT_GRAD, x, w, input_spatial=tuple(spatial), strides=strides,
               padding=tuple(pads), dilation=dilation, groups=1)
    return _from_channels_last(out, fmt)


# -- pooling -----------------------------------------------------------------------------

def _pool_infer(op):
    def infer(x, window, strides, padding):
        if not 3 <= x.ndim <= 5 or len(window) != x.ndim - 2:
            raise ShapeError(f"{op}: a {len(window)}-D window does not fit inputs of shape "
                             f"{tuple(x.shape)}")
        out = window_output_shape(x.shape[1:-1], window, strides, (1,) * len(window), padding)
        return Aval((x.shape[0],) + out + (x.shape[-1],), x.dtype)
    return infer


def _lowest(dtype):
    return -np.inf if np.dtype(dtype).kind == "f" else np.iinfo(dtype).min


def _max_windows(x, window, strides, padding):
    pads = _pads_for(x.shape[1:-1], window, strides, (1,) * len(window), padding)
    win = _windows(_pad_spatial(x, pads, _lowest(x.dtype)), window, strides,
                   (1,) * len(window))
    return win, pads


def _max_pool_kernel(x, window, strides, padding):
    win, _ = _max_windows(x, window, strides, padding)
    n = len(window)
    return win.max(axis=tuple(range(1 + n, 1 + 2 * n)))


def _argmax_in_window(x, window, strides, padding):
    """For every window, the flat offset (within the window) of its first maximum."""
    win, pads = _max_windows(x, window, strides, padding)
    n = len(window)
    flat = win.reshape(win.shape[:1 + n] + (-1, x.shape[-1]))
    return flat.argmax(axis=-2), pads


def _max_pool_grad_kernel(x, ct, window, strides, padding):
    arg, pads = _argmax_in_window(x, window, strides, padding)
    n = len(window)
    cols = np.zeros(arg.shape[:1 + n] + (int(np.prod(window)), x.shape[-1]), dtype=ct.dtype)
    np.put_along_axis(cols, arg[..., None, :], ct[..., None, :], axis=-2)
    cols = cols.reshape(arg.shape[:1 + n] + tuple(window) + (x.shape[-1],))
    return _scatter_windows(cols, x.shape[1:-1], window, strides, (1,) * n, pads, x.shape[-1])


def _max_pool_select_kernel(x, g, window, strides, padding):
    arg, pads = _argmax_in_window(x, window, strides, padding)
    n = len(window)
    gwin = _windows(_pad_spatial(g, pads), window, strides, (1,) * n)
    flat = gwin.reshape(gwin.shape[:1 + n] + (-1, g.shape[-1]))
    return np.take_along_axis(flat, arg[..., None, :], axis=-2)[..., 0, :]


def _two_operand_pool_infer(op, out_is_input):
    base = _pool_infer(op)

    def infer(x, other, window, strides, padding):
        if x.dtype != other.dtype:
            raise ShapeError(f"{op}: dtypes differ ({x.dtype} vs {other.dtype})")
        return Aval(x.shape, x.dtype) if out_is_input else base(x, window, strides, padding)
    return infer


_POOL_ATTRS = ("window", "strides", "padding")
MAX_POOL = Primitive(
    "max_pool", eager=_max_pool_kernel, infer=_pool_infer("max_pool"), category="pool",
    grad=lambda ct, out, x, **a: (bind(MAX_POOL_GRAD, x, ct, **a),), attr_names=_POOL_ATTRS)
MAX_POOL_GRAD = Primitive(
    "max_pool_grad", eager=_max_pool_grad_kernel,
    infer=_two_operand_pool_infer("max_pool_grad", True), category="pool",
    # Linear in the cotangent; piecewise constant (zero gradient) in x.
    grad=lambda g, out, x, ct, **a: (None, bind(MAX_POOL_SELECT, x, g, **a)),
    attr_names=_POOL_ATTRS)
MAX_POOL_SELECT = Primitive(
    "max_pool_select", eager=_max_pool_select_kernel,
    infer=_two_operand_pool_infer("max_pool_select", False), category="pool",
    grad=lambda ct, out, x, g, **a: (None, bind(MAX_POOL_GRAD, x, ct, **a)),
    attr_names=_POOL_ATTRS)


def _window_counts(spatial, window, strides, pads):
    """How many real (unpadded) elements each window covers: TF's "same" average."""
    ones = np.ones((1,) + tuple(spatial) + (1,), dtype=np.float64)
    win = _windows(_pad_spatial(ones, pads), window, strides, (1,) * len(window))
    n = len(window)
    return win.sum(axis=tuple(range(1 + n, 1 + 2 * n)))


def _avg_pool_kernel(x, window, strides, padding):
    n = len(window)
    pads = _pads_for(x.shape[1:-1], window, strides, (1,) * n, padding)
    win = _windows(_pad_spatial(x, pads), window, strides, (1,) * n)
    total = win.sum(axis=tuple(range(1 + n, 1 + 2 * n)))
    counts = _window_counts(x.shape[1:-1], window, strides, pads)
    return (total / counts).astype(x.dtype, copy=False)


def _avg_pool_grad_infer(ct, input_spatial, window, strides, padding):
    return Aval((ct.shape[0],) + tuple(input_spatial) + (ct.shape[-1],), ct.dtype)


def _avg_pool_grad_kernel(ct, input_spatial, window, strides, padding):
    n = len(window)
    pads = _pads_for(input_spatial, window, strides, (1,) * n, padding)
    counts = _window_counts(input_spatial, window, strides, pads)
    share = (ct / counts).astype(ct.dtype, copy=False)
    cols = np.broadcast_to(share.reshape(share.shape[:1 + n] + (1,) * n + share.shape[-1:]),
                           share.shape[:1 + n] + tuple(window) + share.shape[-1:])
    return _scatter_windows(cols, tuple(input_spatial), window, strides, (1,) * n, pads,
                            ct.shape[-1])


AVG_POOL = Primitive(
    "avg_pool", eager=_avg_pool_kernel, infer=_pool_infer("avg_pool"), category="pool",
    grad=lambda ct, out, x, **a: (bind(AVG_POOL_GRAD, ct, input_spatial=tuple(x.shape[1:-1]),
                                       **a),),
    attr_names=_POOL_ATTRS)
AVG_POOL_GRAD = Primitive(
    "avg_pool_grad", eager=_avg_pool_grad_kernel, infer=_avg_pool_grad_infer, category="pool",
    grad=lambda g, out, ct, input_spatial, **a: (bind(AVG_POOL, g, **a),),
    attr_names=("input_spatial",) + _POOL_ATTRS)


def _pool(prim, op, inputs, pool_size, strides, padding, data_format):
    fmt = _data_format(data_format)
    x = to_value(inputs)
    _check_spatial_rank(op, x)
    x = _to_channels_last(x, fmt)
    n = x.ndim - 2
    window = _tuple(pool_size, n, "pool_size", op)
    strides = window if strides is None else _tuple(strides, n, "strides", op)
    pads = resolve_padding(padding, x.shape[1:-1], window, strides, (1,) * n, op)
    out = bind(prim, x, window=window, strides=strides, padding=pads)
    return _from_channels_last(out, fmt)


def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    return _pool(MAX_POOL, "max_pool", inputs, pool_size, strides, padding, data_format)


def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    x = _float(inputs)
    return _pool(AVG_POOL, "average_pool", x, pool_size, strides, padding, data_format)


def psnr(x1, x2, max_val):
    """Peak signal-to-noise ratio, in dB: 20 log10(max_val) - 10 log10(mean((x1 - x2)**2)),
    over all elements (one scalar, as Keras)."""
    ops = _o()
    x1, x2 = to_value(x1), to_value(x2)
    if tuple(x1.shape) != tuple(x2.shape):
        raise ShapeError(f"psnr: x1 {tuple(x1.shape)} and x2 {tuple(x2.shape)} must have the "
                         f"same shape")
    x1, x2 = _float(x1), _float(x2)
    mse = ops.mean(ops.square(x1 - x2))
    max_val = ops.cast(max_val, x2.dtype)
    return 20.0 * ops.log10(max_val) - 10.0 * ops.log10(mse)
