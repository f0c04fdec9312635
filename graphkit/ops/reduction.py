"""Reductions: sum, max, min, prod, argmax, argmin (primitives) and mean, var, std,
logsumexp, any, all, ... (composites), over `axis` with `keepdims`, NumPy's conventions."""
import builtins
import functools

import numpy as np

from graphkit import config, dtypes
from graphkit.ops.convert import to_value
from graphkit.ops.layout import BROADCAST_TO, RESHAPE, _axis_slice
from graphkit.ops.primitive import ops_namespace as _o, Aval, Primitive, ShapeError, bind
from graphkit.ops.shape_rules import canonical_axis, normalize_axis, reduce_shape



def _reduce_infer(name):
    def infer(x, axis, keepdims):
        for a in axis:
            if not 0 <= a < x.ndim:
                raise ShapeError(f"{name}: axis {a} is out of range for a tensor of rank "
                                 f"{x.ndim} (shape {x.shape})")
            if name in ("max", "min") and x.shape[a] == 0:
                raise ShapeError(f"{name}: cannot reduce over axis {a} of size 0 "
                                 f"(shape {x.shape}); the reduction has no identity")
        return Aval(reduce_shape(x.shape, axis, keepdims), x.dtype)
    return infer


def _expand_back(g, x_shape, axis, keepdims):
    """A reduced cotangent broadcast back to the operand's shape.

    The primitives are bound directly, with what ops.reshape and ops.broadcast_to would
    bind (the shapes are already resolved): every mean of a loss comes through here."""
    x_shape = tuple([d if d is None else int(d) for d in x_shape])
    # Broadcasting adds leading axes by itself: the reshape to keepdims form is needed only
    # when a reduced axis follows a kept one (a sum over the batch, a loss's mean, skip it).
    if not keepdims and axis != tuple(range(len(axis))):
        shape = reduce_shape(x_shape, axis, True)
        if shape != tuple(g.shape) or None in shape:
            g = bind(RESHAPE, g, shape=shape)
    if x_shape != tuple(g.shape) or None in x_shape:
        g = bind(BROADCAST_TO, g, shape=x_shape)
    return g


# The kernels call the ufuncs' reduce directly: np.sum and friends only add a Python
# dispatch layer (about 2 us, on every reduction of an eager step) for the same call.
def _sum_kernel(x, axis, keepdims):
    return np.add.reduce(x, axis=axis, keepdims=keepdims, dtype=x.dtype)


def _sum_grad(ct, out, x, axis, keepdims):
    return (_expand_back(ct, x.shape, axis, keepdims),)


def _extremum_grad(ct, out, x, axis, keepdims):
    """The cotangent is shared equally among the elements equal to the extremum."""
    ops = _o()
    out_b = _expand_back(out, x.shape, axis, keepdims)
    mask = ops.cast(ops.equal(x, out_b), x.dtype)
    count = ops.sum(mask, axis=axis, keepdims=True)
    return (mask * _expand_back(ct, x.shape, axis, keepdims) / count,)


def _prod_grad(ct, out, x, axis, keepdims):
    """d prod / d x_i = product of the others, exact with zeros present (no division by 0)."""
    ops = _o()
    is_zero = ops.equal(x, 0)
    nonzero = ops.where(is_zero, ops.ones_like(x), x)
    prod_nonzero = ops.prod(nonzero, axis=axis, keepdims=True)
    zeros = ops.sum(ops.cast(is_zero, x.dtype), axis=axis, keepdims=True)
    others = ops.where(
        zeros == 0, prod_nonzero / nonzero,
        ops.where(ops.logical_and(zeros == 1, is_zero), prod_nonzero * ops.ones_like(x),
                  ops.zeros_like(x)))
    return (others * _expand_back(ct, x.shape, axis, keepdims),)


def _reduction(name, kernel, grad, combine, grad_uses=None):
    return Primitive(name, eager=kernel, infer=_reduce_infer(name), grad=grad,
                     category="reduction", scalar_expr=combine, grad_uses=grad_uses,
                     attr_names=("axis", "keepdims"))


SUM = _reduction("sum", _sum_kernel, _sum_grad, "add", grad_uses=())
MAX = _reduction("max", lambda x, axis, keepdims: np.maximum.reduce(x, axis=axis,
                                                                     keepdims=keepdims),
                 _extremum_grad, "max")
MIN = _reduction("min", lambda x, axis, keepdims: np.minimum.reduce(x, axis=axis,
                                                                     keepdims=keepdims),
                 _extremum_grad, "min")
PROD = _reduction("prod", lambda x, axis, keepdims: np.prod(x, axis=axis, keepdims=keepdims,
                                                           dtype=x.dtype),
                  _prod_grad, "mul")


def _accumulating_dtype(dtype):
    """Keras's sum/prod dtype: small ints and bools accumulate in 32 bits."""
    if dtype in ("bool", "int8", "int16"):
        return "int32"
    if dtype in ("uint8", "uint16"):
        return "uint32"
    return dtype


def _reduce(prim, x, axis, keepdims, name):
    return bind(prim, x, axis=normalize_axis(axis, x.ndim, name), keepdims=bool(keepdims))


def sum(x, axis=None, keepdims=False):
    x = to_value(x)
    dtype = x.dtype
    accumulating = _accumulating_dtype(dtype)
    if accumulating != dtype:  # the cast of a value to its own dtype would return it
        x = _o().cast(x, accumulating)
    if x.ndim == 0 and (axis is None or axis == ()):
        return x  # the sum of a scalar is itself (losses and metrics sum scalars each step)
    return _reduce(SUM, x, axis, keepdims, "sum")


def _float_sum(x, axes, keepdims):
    """`sum` of a float value (its own accumulating dtype: no cast) over axes that
    `normalize_axis` already gave (normalizing them again gives them back)."""
    if x.ndim == 0:
        return x  # its normalized axes are (): the sum of a scalar is itself
    return bind(SUM, x, axis=axes, keepdims=bool(keepdims))


def prod(x, axis=None, keepdims=False):
    x = to_value(x)
    return _reduce(PROD, _o().cast(x, _accumulating_dtype(x.dtype)), axis, keepdims, "prod")


def max(x, axis=None, keepdims=False, initial=None):
    x = to_value(x)
    out = _reduce(MAX, x, axis, keepdims, "max")
    return out if initial is None else _o().maximum(out, initial)


def min(x, axis=None, keepdims=False, initial=None):
    x = to_value(x)
    out = _reduce(MIN, x, axis, keepdims, "min")
    return out if initial is None else _o().minimum(out, initial)


amax = max
amin = min


def any(x, axis=None, keepdims=False):
    x = _o().cast(x, "bool")
    if builtins.any(d == 0 for d in x.shape):
        return _o().not_equal(sum(x, axis=axis, keepdims=keepdims), 0)
    return _reduce(MAX, x, axis, keepdims, "any")


def all(x, axis=None, keepdims=False):
    x = _o().cast(x, "bool")
    if builtins.any(d == 0 for d in x.shape):
        n = sum(_o().logical_not(x), axis=axis, keepdims=keepdims)
        return _o().equal(n, 0)
    return _reduce(MIN, x, axis, keepdims, "all")


def count_nonzero(x, axis=None):
    return sum(_o().not_equal(x, 0), axis=axis)


# -- argmax / argmin ---------------------------------------------------------------------

def _arg_infer(name):
    def infer(x, axis, keepdims):
        if not 0 <= axis < x.ndim:
            raise ShapeError(f"{name}: axis {axis} is out of range for a tensor of rank "
                             f"{x.ndim}")
        if x.shape[axis] == 0:
            raise ShapeError(f"{name}: axis {axis} of shape {x.shape} is empty")
        return Aval(reduce_shape(x.shape, (axis,), keepdims), "int32")
    return infer


def _arg_kernel(fn):
    def kernel(x, axis, keepdims):
        return fn(x, axis=axis, keepdims=keepdims).astype(np.int32)
    return kernel


ARGMAX = Primitive("argmax", eager=_arg_kernel(np.argmax), infer=_arg_infer("argmax"),
                   category="reduction", scalar_expr="argmax", attr_names=("axis", "keepdims"))
ARGMIN = Primitive("argmin", eager=_arg_kernel(np.argmin), infer=_arg_infer("argmin"),
                   category="reduction", scalar_expr="argmin", attr_names=("axis", "keepdims"))


def _arg(prim, x, axis, keepdims):
    x = to_value(x)
    if axis is None:  # over the flattened tensor, as in NumPy
        flat = _o().reshape(x, (-1,))
        out = bind(prim, flat, axis=0, keepdims=False)
        return _o().reshape(out, (1,) * x.ndim) if keepdims else out
    return bind(prim, x, axis=canonical_axis(axis, x.ndim, prim.name), keepdims=bool(keepdims))


def argmax(x, axis=None, keepdims=False):
    return _arg(ARGMAX, x, axis, keepdims)


def argmin(x, axis=None, keepdims=False):
    return _arg(ARGMIN, x, axis, keepdims)


# -- composites --------------------------------------------------------------------------

def _count(x, axes, keepdims):
    """The number of elements reduced over: an int when the dims are known, else (symbolic
    mode) a tensor counted at run time, shaped like the reduction's output."""
    n = 1
    for a in axes:
        if x.shape[a] is None:
            return sum(_o().ones_like(x), axis=axes, keepdims=keepdims)
        n *= x.shape[a]
    return n


def _float(x):
    x = to_value(x)
    if not dtypes.is_float(x.dtype):
        x = _o().cast(x, config.floatx())
    return x


def _in_float32_if_half(fn):
    """float16 statistics are computed in float32 and cast back, as Keras does: float16
    sums overflow and lose precision quickly."""
    def wrapper(x, axis=None, keepdims=False):  # the signature of mean and var
        x = _float(x)
        if x.dtype == "float16":
            return _o().cast(fn(_o().cast(x, "float32"), axis, keepdims), "float16")
        return fn(x, axis, keepdims)
    # functools.wraps also gives the signature (x, axis=None, keepdims=False) to inspect,
    # which the symbolic-call wrapper of gk.ops copies.
    return functools.wraps(fn)(wrapper)


# The wrapper hands `mean` and `var` a float value (see _float): they convert nothing.

@_in_float32_if_half
def mean(x, axis=None, keepdims=False):
    axes = normalize_axis(axis, x.ndim, "mean")
    return _float_sum(x, axes, keepdims) / _count(x, axes, keepdims)


@_in_float32_if_half
def var(x, axis=None, keepdims=False):
    """The biased (population) variance, as NumPy and Keras compute it."""
    axes = normalize_axis(axis, x.ndim, "var")
    centered = x - mean(x, axis=axes, keepdims=True)
    return mean(centered * centered, axis=axes, keepdims=keepdims)


def std(x, axis=None, keepdims=False):
    x = _float(x)
    axes = normalize_axis(axis, x.ndim, "std")  # errors name std, not its var
    return _o().sqrt(var(x, axis=axes, keepdims=keepdims))


def average(x, axis=None, weights=None):
    if weights is None:
        return mean(x, axis=axis)
    x = _float(x)
    weights = _o().cast(weights, x.dtype)
    if axis is not None and weights.ndim == 1 and x.ndim > 1:
        ax = canonical_axis(axis, x.ndim, "average")
        weights = _o().reshape(weights, [-1 if i == ax else 1 for i in range(x.ndim)])
    return sum(x * weights, axis=axis) / sum(_o().broadcast_to(weights, x.shape)
                                            if weights.shape != x.shape else weights, axis=axis)


def logsumexp(x, axis=None, keepdims=False):
    """log(sum(exp(x))), computed stably: the max is subtracted first."""
    ops = _o()
    x = _float(x)
    axes = normalize_axis(axis, x.ndim, "logsumexp")
    m = ops.stop_gradient(max(x, axis=axes, keepdims=True))
    m = ops.where(ops.isfinite(m), m, 0.0)  # all -inf gives -inf, not nan
    return ops.log(sum(ops.exp(x - m), axis=axes, keepdims=keepdims)) + (
        m if keepdims else ops.squeeze(m, axis=axes))


def _cumulative_operand(x, axis, dtype, op):
    """(x, axis, n) for a cumulative op: x cast to `dtype` then to its accumulating dtype,
    flattened when axis is None; the axis size n must be static."""
    ops = _o()
    x = to_value(x)
    if dtype is not None:
        x = ops.cast(x, dtype)
    x = ops.cast(x, _accumulating_dtype(x.dtype))
    if axis is None:
        x, axis = ops.reshape(x, (-1,)), 0
    axis = canonical_axis(axis, x.ndim, op)
    n = x.shape[axis]
    if n is None:
        raise ShapeError(f"{op}: the accumulated axis must have a static size")
    return x, axis, n


def cumsum(x, axis=None, dtype=None):
    """Cumulative sum, as a log-depth scan (`_scan`): exact for ints, and infinities
    propagate as in NumPy (a matmul with a triangular matrix would give inf * 0 = NaN)."""
    x, axis, n = _cumulative_operand(x, axis, dtype, "cumsum")
    return _scan(x, axis, n, lambda a, b: a + b, 0)


def cumprod(x, axis=None, dtype=None):
    """Cumulative product, as a log-depth scan (`_scan`): exact for ints, zeros and
    infinities propagate as in NumPy."""
    x, axis, n = _cumulative_operand(x, axis, dtype, "cumprod")
    return _scan(x, axis, n, lambda a, b: a * b, 1)


def _scan(x, axis, n, combine, identity):
    """Inclusive scan of `combine` along `axis` (n long): for shift s = 1, 2, 4, ... each
    element is combined with the one s before it (`identity` before the start). log2(n)
    elementwise steps of ops that lower and differentiate as they are."""
    ops = _o()
    shift = 1
    while shift < n:
        pads = [(0, 0)] * x.ndim
        pads[axis] = (shift, 0)
        x = combine(x, ops.pad(_axis_slice(x, axis, 0, n - shift), pads,
                               constant_values=identity))
        shift *= 2
    return x


def ptp(x, axis=None, keepdims=False):
    """max(x) - min(x) over `axis` (peak to peak)."""
    return max(x, axis=axis, keepdims=keepdims) - min(x, axis=axis, keepdims=keepdims)


def trapezoid(y, x=None, dx=1.0, axis=-1):
    """The trapezoidal rule along `axis`: sum((y[1:] + y[:-1]) / 2 * d), d the spacing,
    diff(x) (a 1-D x applies along `axis`) or dx."""
    ops = _o()
    y = _float(y)
    axis = canonical_axis(axis, y.ndim, "trapezoid")
    spacing = dx
    if x is not None:
        x = ops.cast(x, y.dtype)
        if x.ndim == 1:
            x = ops.reshape(x, tuple(-1 if i == axis else 1 for i in range(y.ndim)))
        spacing = ops.diff(x, axis=axis)
    later, earlier = _axis_slice(y, axis, 1, None), _axis_slice(y, axis, 0, -1)
    return sum(spacing * (later + earlier) / 2.0, axis=axis)


# -- NaN-ignoring reductions: NaN entries replaced by the reduction's identity -----------

def _without_nans(x, fill):
    ops = _o()
    return ops.where(ops.isnan(x), ops.full_like(x, fill), x)


def nansum(x, axis=None, keepdims=False):
    """sum over the non-NaN entries (0 when there are none)."""
    x = to_value(x)
    if dtypes.is_float(x.dtype):
        x = _without_nans(x, 0)
    return sum(x, axis=axis, keepdims=keepdims)


def nanmean(x, axis=None, keepdims=False):
    """mean over the non-NaN entries (NaN when there are none, as NumPy)."""
    ops = _o()
    x = _float(x)
    present = ops.cast(ops.logical_not(ops.isnan(x)), x.dtype)
    count = sum(present, axis=axis, keepdims=keepdims)
    total = nansum(x, axis=axis, keepdims=keepdims)
    # The empty slices are divided by 1, then replaced: no 0 / 0 (and NumPy warning).
    mean = total / ops.where(count > 0, count, ops.ones_like(count))
    return ops.where(count > 0, mean, ops.full_like(mean, np.nan))


def nanmax(x, axis=None, keepdims=False):
    """max over the non-NaN entries (NaN when there are none, as NumPy)."""
    return _nan_extremum(max, -np.inf, x, axis, keepdims)


def nanmin(x, axis=None, keepdims=False):
    """min over the non-NaN entries (NaN when there are none, as NumPy)."""
    return _nan_extremum(min, np.inf, x, axis, keepdims)


def _nan_extremum(reduce, identity, x, axis, keepdims):
    ops = _o()
    x = to_value(x)
    if not dtypes.is_float(x.dtype):
        return reduce(x, axis=axis, keepdims=keepdims)
    out = reduce(_without_nans(x, identity), axis=axis, keepdims=keepdims)
    empty = all(ops.isnan(x), axis=axis, keepdims=keepdims)
    return ops.where(empty, ops.full_like(out, np.nan), out)


def nanvar(x, axis=None, keepdims=False):
    """The biased variance over the non-NaN entries (NaN when there are none, as NumPy)."""
    ops = _o()
    x = _float(x)
    axes = normalize_axis(axis, x.ndim, "nanvar")
    present = ops.logical_not(ops.isnan(x))
    count = sum(ops.cast(present, x.dtype), axis=axes, keepdims=keepdims)
    # NaN entries deviate by 0; the centre is the NaN-free mean, NaN only for empty slices,
    # whose result is replaced below anyway.
    centred = ops.where(present, x - nanmean(x, axis=axes, keepdims=True), 0.0)
    total = sum(centred * centred, axis=axes, keepdims=keepdims)
    out = total / ops.where(count > 0, count, ops.ones_like(count))
    return ops.where(count > 0, out, ops.full_like(out, np.nan))


def nanstd(x, axis=None, keepdims=False):
    """The biased standard deviation over the non-NaN entries (NaN when there are none)."""
    x = _float(x)
    axes = normalize_axis(axis, x.ndim, "nanstd")  # errors name nanstd, not its nanvar
    return _o().sqrt(nanvar(x, axis=axes, keepdims=keepdims))


def nanprod(x, axis=None, keepdims=False):
    """prod over the non-NaN entries (1 when there are none); ints as `prod`."""
    x = to_value(x)
    axis = normalize_axis(axis, x.ndim, "nanprod")  # errors name nanprod, not prod
    if dtypes.is_float(x.dtype):
        x = _without_nans(x, 1)
    return prod(x, axis=axis, keepdims=keepdims)


def nancumsum(x, axis=None, dtype=None):
    """cumsum with NaN entries counted as 0 (a leading NaN run gives 0s, as NumPy)."""
    return _nan_cumulative(cumsum, 0, x, axis, dtype, "nancumsum")


def nancumprod(x, axis=None, dtype=None):
    """cumprod with NaN entries counted as 1."""
    return _nan_cumulative(cumprod, 1, x, axis, dtype, "nancumprod")


def _nan_cumulative(op, fill, x, axis, dtype, name):
    x = to_value(x)
    if axis is not None:
        axis = canonical_axis(axis, x.ndim, name)  # errors name the nan op
    if dtypes.is_float(x.dtype):
        x = _without_nans(x, fill)
    return op(x, axis=axis, dtype=dtype)


def nanargmax(x, axis=None, keepdims=False):
    """argmax over the non-NaN entries; -1 for an all-NaN slice (as Keras's JAX backend;
    NumPy raises there)."""
    return _nan_arg(nanmax, x, axis, keepdims, "nanargmax")


def nanargmin(x, axis=None, keepdims=False):
    """argmin over the non-NaN entries; -1 for an all-NaN slice."""
    return _nan_arg(nanmin, x, axis, keepdims, "nanargmin")


def _nan_arg(extremum, x, axis, keepdims, op):
    ops = _o()
    x = to_value(x)
    if not dtypes.is_float(x.dtype):
        return (argmax if op == "nanargmax" else argmin)(x, axis=axis, keepdims=keepdims)
    if axis is None:  # over the flattened tensor, as in NumPy
        out = _nan_arg(extremum, ops.reshape(x, (-1,)), 0, False, op)
        return ops.reshape(out, (1,) * x.ndim) if keepdims else out
    axis = canonical_axis(axis, x.ndim, op)
    # The first entry equal to the NaN-free extremum (NaN equals nothing): unlike an
    # argmax over NaN -> -inf, this finds a real -inf after a NaN.
    hit = ops.equal(x, extremum(x, axis=axis, keepdims=True))
    idx = argmax(ops.cast(hit, "int32"), axis=axis, keepdims=keepdims)
    empty = all(ops.isnan(x), axis=axis, keepdims=keepdims)
    return ops.where(empty, ops.full_like(idx, -1), idx)
