"""Sorting: the `argsort` primitive (stable, not differentiable, opaque to codegen) and
sort, top_k, in_top_k and the quantiles (quantile, percentile, median) written with it;
values are gathered with take_along_axis and take, so their gradients flow to the selected
elements. Searching sorted data (searchsorted, digitize) and membership (isin) are counts
of comparisons over a broadcast axis: static shapes, so they fuse and compile natively."""
import numpy as np

from graphkit import config, dtypes
from graphkit.ops.convert import promote, to_value
from graphkit.ops.primitive import ops_namespace as _o, Aval, Primitive, ShapeError, bind
from graphkit.ops.shape_rules import canonical_axis, normalize_axis



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


# -- order statistics: sort, then gather --------------------------------------------------

_QUANTILE_METHODS = ("linear", "lower", "higher", "midpoint", "nearest")


def quantile(x, q, axis=None, method="linear", keepdims=False):
    """The q-th quantiles of x over `axis` (NumPy's, q in [0, 1]): x sorted, and read at the
    position q (n - 1), between neighbours as `method` says. The shape is q's, then x's with
    the reduced axes removed (kept as 1 with `keepdims`). NaN where the data holds a NaN."""
    ops = _o()
    if method not in _QUANTILE_METHODS:
        raise ValueError(f"quantile: `method` must be one of {_QUANTILE_METHODS}, received "
                         f"{method!r}")
    x = to_value(x)
    if not dtypes.is_float(x.dtype):
        x = ops.cast(x, config.floatx())
    axes = normalize_axis(axis, x.ndim, "quantile")
    data = _reduced_axes_last(x, axes)
    q = _as_quantiles(q)
    values = _read_sorted(ops.sort(data, axis=-1), q, method)  # (*kept, *q.shape)
    has_nan = ops.any(ops.isnan(data), axis=-1)
    values = ops.where(ops.reshape(has_nan, tuple(has_nan.shape) + (1,) * q.ndim),
                       ops.full_like(values, np.nan), values)
    if keepdims:
        values = ops.reshape(values, tuple(1 if i in axes else d for i, d in
                                           enumerate(x.shape)) + tuple(q.shape))
    # q's dims go first, as NumPy puts them.
    return ops.moveaxis(values, list(range(values.ndim - q.ndim, values.ndim)),
                        list(range(q.ndim)))


def _as_quantiles(q, top=1.0, op="quantile"):
    """q as a float tensor: Python numbers and lists in float64, as NumPy computes with
    them; float arrays and tensors in their own dtype (a float32 q = 0.05 is not the
    float64 0.05, and its position q (n - 1) rounds differently). Data is checked to lie
    in [0, top]."""
    if not hasattr(type(q), "_bind_priority"):
        q = np.asarray(q)
        if q.dtype.kind != "f":
            q = q.astype(np.float64)
        if not np.all((q >= 0) & (q <= top)):
            raise ValueError(f"{op}: q must be in [0, {top:g}], received {q.tolist()}")
    q = to_value(q)
    return q if dtypes.is_float(q.dtype) else _o().cast(q, "float64")


def _reduced_axes_last(x, axes):
    """x with `axes` moved to the end and merged into one (their sizes must be static)."""
    ops = _o()
    kept = [i for i in range(x.ndim) if i not in axes]
    moved = ops.transpose(x, kept + list(axes))
    sizes = [x.shape[a] for a in axes]
    if None in sizes:
        raise ShapeError(f"quantile: the reduced axes {axes} of shape {tuple(x.shape)} must "
                         f"have static sizes")
    return ops.reshape(moved, tuple(moved.shape[:len(kept)]) + (int(np.prod(sizes)),))


def _read_sorted(ordered, q, method):
    """The values of `ordered` (sorted along its last axis) at positions q (n - 1), in q's
    dtype, as NumPy computes them."""
    ops = _o()
    n = ordered.shape[-1]
    position = q * (n - 1)
    lower = ops.floor(position)
    if method == "nearest":
        lower = ops.round(position)  # half to even, as NumPy's "nearest"
    fraction = ops.cast(position - lower, ordered.dtype)
    below = _gather_last(ordered, lower)
    if method in ("lower", "nearest"):
        return below
    above = _gather_last(ordered, ops.minimum(lower + 1, n - 1))
    if method == "higher":
        return ops.where(fraction > 0, above, below)
    if method == "midpoint":
        return ops.where(fraction > 0, (below + above) * 0.5, below)
    return _lerp(below, above, fraction)


def _gather_last(ordered, index):
    """ordered[..., index] for a float index tensor of any shape: (*batch, *index.shape)."""
    return _o().take(ordered, _o().cast(index, "int32"), axis=ordered.ndim - 1)


def _lerp(a, b, t):
    """a + (b - a) t, computed from the nearer end (NumPy's): exact at t = 0 and t = 1, and
    monotonic in t."""
    ops = _o()
    step = b - a
    return ops.where(t >= 0.5, b - step * (1 - t), a + step * t)


def percentile(x, q, axis=None, method="linear", keepdims=False):
    """quantile with q in percent (0 to 100)."""
    q = _as_quantiles(q, 100.0, "percentile") / 100.0
    return quantile(x, q, axis=axis, method=method, keepdims=keepdims)


def median(x, axis=None, keepdims=False):
    """The 0.5 quantile (the mean of the two middle values for an even count)."""
    return quantile(x, 0.5, axis=axis, keepdims=keepdims)


# -- searching: counts of comparisons ----------------------------------------------------
# Binary search has a data-dependent control flow; on sorted data, the insertion index is
# instead the number of elements that sort before the value. That costs O(len(a)) per value
# (a (..., len(a)) comparison array), and is only the right answer for sorted `a`, which, as
# in NumPy, is not checked.

def _sorts_before(x, y):
    """x < y in NumPy's sort order, where NaN sorts after every number (npy's LT):
    x < y, or y is NaN and x is not."""
    ops = _o()
    less = ops.less(x, y)
    if not dtypes.is_float(x.dtype):
        return less
    return ops.logical_or(less, ops.logical_and(ops.isnan(y), ops.logical_not(ops.isnan(x))))


def _against_each(a, v):
    """`a` along a new last axis of `v`: (1, ..., 1, n) and (..., 1), broadcasting to
    (..., n)."""
    ops = _o()
    return ops.reshape(a, (1,) * v.ndim + (a.shape[0],)), ops.expand_dims(v, -1)


def searchsorted(sorted_sequence, values, side="left"):
    """Indices at which `values` would be inserted into the 1-D ascending
    `sorted_sequence` to keep it sorted (NumPy's, NaN sorting last), as int32 (Keras).
    side="left": the first such index (the count of elements < v); "right": the last
    (the count of elements <= v)."""
    if side not in ("left", "right"):
        raise ValueError(f"searchsorted: side must be 'left' or 'right', received {side!r}")
    a, v = promote(sorted_sequence, values)
    if a.ndim != 1:
        raise ValueError(f"searchsorted: sorted_sequence must be 1-D, received shape "
                         f"{tuple(a.shape)}")
    a, v = _against_each(a, v)
    ops = _o()
    before = _sorts_before(a, v) if side == "left" \
        else ops.logical_not(_sorts_before(v, a))
    return ops.sum(ops.cast(before, "int32"), axis=-1)


def digitize(x, bins, right=False):
    """The index of the bin of each element of `x` (NumPy's digitize), as int32 (Keras).
    Increasing bins: i with bins[i-1] <= x < bins[i] (bins[i-1] < x <= bins[i] when
    `right`); decreasing bins: i with bins[i-1] > x >= bins[i] (>, >= swapped when
    `right`). `bins` must be monotonic (not checked); which way is read from its ends,
    in the graph, so `bins` may be a traced value."""
    x, bins = promote(x, bins)
    if bins.ndim != 1:
        raise ValueError(f"digitize: bins must be 1-D, received shape {tuple(bins.shape)}")
    side = "left" if right else "right"
    increasing = searchsorted(bins, x, side=side)
    n = bins.shape[0]
    if n < 2:  # one bin (or none) is increasing for NumPy
        return increasing
    ops = _o()
    decreasing = n - searchsorted(ops.flip(bins, axis=0), x, side=side)
    return ops.where(ops.greater(bins[0], bins[-1]), decreasing, increasing)


def isin(x1, x2, assume_unique=False, invert=False):
    """Whether each element of `x1` equals some element of `x2` (any shape), as bool;
    `invert` negates it. NaN is in nothing (NaN != NaN), as in NumPy. `assume_unique` is
    accepted for NumPy/Keras compatibility: counting does not need it."""
    a, b = promote(x1, x2)
    ops = _o()
    b, a = _against_each(ops.reshape(b, (-1,)), a)
    found = ops.any(ops.equal(a, b), axis=-1)
    return ops.logical_not(found) if invert else found
