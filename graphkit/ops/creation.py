"""Creation ops: constants made from shapes and fill values, ranges, identity matrices."""
import numbers

import numpy as np

from graphkit import config, dtypes
from graphkit.ops.convert import convert_to_tensor, to_value
from graphkit.ops.primitive import Aval, Primitive, ShapeError, bind


def _full_infer(shape, value, dtype):
    if any(d is None or d < 0 for d in shape):
        raise ShapeError(f"full: the shape must hold non-negative ints, received {shape}")
    return Aval(shape, dtype)


def _full_kernel(shape, value, dtype):
    if shape == () and dtype in dtypes.FLOATS and type(value) is float:
        # Every backward pass starts from full((), 1.0): np.full is Python-level (empty,
        # then copyto) at three times the cost. A Python float converts to a float dtype
        # as np.full's unsafe cast does (not so to ints: np.array(nan, "int32") raises).
        return np.array(value, dtype=dtype)
    return np.full(shape, value, dtype=dtype)


FULL = Primitive("full", eager=_full_kernel,
                 infer=_full_infer, category="creation", attr_names=("shape", "value", "dtype"))

# `full_like` reads only its operand's shape. It exists for symbolic mode, where the shape
# may hold unknown dims; with a known shape the ops use `full`.
FULL_LIKE = Primitive("full_like",
                      eager=lambda x, value, dtype: np.full(x.shape, value, dtype=dtype),
                      infer=lambda x, value, dtype: Aval(x.shape, dtype), category="creation",
                      attr_names=("value", "dtype"))


def _static_value(value, dtype):
    """A Python scalar of the right kind for an attr (attrs print and parse as text)."""
    v = np.asarray(value, dtype=dtype).item()
    return v


def _shape_tuple(shape, op):
    if isinstance(shape, (numbers.Integral, np.integer)):
        return (int(shape),)
    try:
        return tuple(int(d) for d in shape)
    except TypeError:
        raise ShapeError(f"{op}: the shape must be a tuple of ints, received {shape!r}") from None


def full(shape, fill_value, dtype=None):
    """A tensor of `shape` filled with `fill_value` (floatx unless `dtype` says otherwise,
    as in Keras)."""
    shape = _shape_tuple(shape, "full")
    dtype = dtypes.standardize_dtype(dtype)
    if hasattr(type(fill_value), "_bind_priority") or (
            hasattr(fill_value, "shape") and tuple(fill_value.shape) != ()):
        from graphkit.ops.elementwise import cast
        from graphkit.ops.layout import broadcast_to
        return broadcast_to(cast(fill_value, dtype), shape)
    return bind(FULL, shape=shape, value=_static_value(fill_value, dtype), dtype=dtype)


def zeros(shape, dtype=None):
    return full(shape, 0, dtype=dtype)


def ones(shape, dtype=None):
    return full(shape, 1, dtype=dtype)


def full_like(x, fill_value, dtype=None):
    x = to_value(x)
    dtype = x.dtype if dtype is None else dtypes.standardize_dtype(dtype)
    if hasattr(type(fill_value), "_bind_priority"):
        from graphkit.ops.elementwise import cast, multiply
        return multiply(cast(fill_value, dtype), full_like(x, 1, dtype))
    if None in tuple(x.shape):
        return bind(FULL_LIKE, x, value=_static_value(fill_value, dtype), dtype=dtype)
    return bind(FULL, shape=tuple(x.shape), value=_static_value(fill_value, dtype), dtype=dtype)


def zeros_like(x, dtype=None):
    return full_like(x, 0, dtype=dtype)


def ones_like(x, dtype=None):
    return full_like(x, 1, dtype=dtype)


def empty(shape, dtype=None):
    return zeros(shape, dtype=dtype)


def empty_like(x, dtype=None):
    """A tensor of x's shape (and dtype unless given); graphkit fills it with zeros, as
    `empty` does, so that its contents are deterministic."""
    return zeros_like(x, dtype=dtype)


# -- ranges and matrices -----------------------------------------------------------------

def _arange_infer(start, stop, step, dtype):
    if step == 0:
        raise ShapeError("arange: step cannot be zero")
    return Aval((len(np.arange(start, stop, step)),), dtype)


ARANGE = Primitive("arange",
                   eager=lambda start, stop, step, dtype: np.arange(start, stop, step, dtype=dtype),
                   infer=_arange_infer, category="creation",
                   attr_names=("start", "stop", "step", "dtype"))


def arange(start, stop=None, step=1, dtype=None):
    """NumPy's arange; the dtype is int32 for int bounds and floatx otherwise, as in Keras."""
    if stop is None:
        start, stop = 0, start
    bounds = [np.asarray(v).item() for v in (start, stop, step)]
    if dtype is None:
        is_float = any(isinstance(v, float) for v in bounds)
        dtype = config.floatx() if is_float else "int32"
    dtype = dtypes.standardize_dtype(dtype)
    kind = float if dtypes.is_float(dtype) else int
    if step == 0:
        raise ShapeError("arange: step cannot be zero")
    return bind(ARANGE, start=kind(bounds[0]), stop=kind(bounds[1]), step=kind(bounds[2]),
                dtype=dtype)


def eye(N, M=None, k=0, dtype=None):
    from graphkit.ops.elementwise import cast, equal
    from graphkit.ops.layout import reshape
    M = N if M is None else M
    rows = reshape(arange(N), (N, 1))
    cols = reshape(arange(M), (1, M))
    return cast(equal(rows + int(k), cols), dtypes.standardize_dtype(dtype))


def identity(n, dtype=None):
    return eye(n, dtype=dtype)


def tri(N, M=None, k=0, dtype=None):
    from graphkit.ops.elementwise import cast, less_equal
    from graphkit.ops.layout import reshape
    M = N if M is None else M
    rows = reshape(arange(N), (N, 1))
    cols = reshape(arange(M), (1, M))
    return cast(less_equal(cols, rows + int(k)), dtypes.standardize_dtype(dtype))


def linspace(start, stop, num=50, endpoint=True, dtype=None):
    from graphkit.ops.elementwise import cast
    dtype = dtypes.standardize_dtype(dtype)
    num = int(num)
    div = (num - 1) if endpoint else num
    step = (float(stop) - float(start)) / div if div > 0 else 0.0
    out = cast(arange(num), "float64") * step + float(start)
    if endpoint and num > 1:
        from graphkit.ops.layout import concatenate, slice as slice_
        out = concatenate([slice_(out, [0], [num - 1]),
                           convert_to_tensor([float(stop)], dtype="float64")])
    return cast(out, dtype)


# -- log-spaced ranges -------------------------------------------------------------------

def _scalar_bound(value, op, name):
    """A Python float from a scalar start/stop; array bounds are not supported."""
    try:
        return float(np.asarray(value).item())
    except (TypeError, ValueError):
        raise ValueError(f"{op}: `{name}` must be a scalar, received {value!r}") from None


def _check_axis_of_1d(axis, op):
    if axis not in (0, -1):
        raise ValueError(f"{op}: with scalar start and stop the result is 1-D, so `axis` "
                         f"must be 0 or -1, received {axis!r}")


def logspace(start, stop, num=50, endpoint=True, base=10, dtype=None, axis=0):
    """`base ** linspace(start, stop, num, endpoint)` (floatx unless `dtype` says
    otherwise), computed in float64 then cast."""
    from graphkit.ops.elementwise import cast, power
    start = _scalar_bound(start, "logspace", "start")
    stop = _scalar_bound(stop, "logspace", "stop")
    _check_axis_of_1d(axis, "logspace")
    exponents = linspace(start, stop, num, endpoint=endpoint, dtype="float64")
    return cast(power(float(base), exponents), dtypes.standardize_dtype(dtype))


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    """`num` numbers from `start` to `stop` in geometric progression: evenly spaced in
    log|.|, with the sign of the (same-signed, non-zero) bounds, the ends exact as NumPy."""
    from graphkit.ops.elementwise import cast, exp, multiply
    from graphkit.ops.layout import concatenate, slice as slice_
    start = _scalar_bound(start, "geomspace", "start")
    stop = _scalar_bound(stop, "geomspace", "stop")
    _check_axis_of_1d(axis, "geomspace")
    if start == 0 or stop == 0:
        raise ValueError("geomspace: `start` and `stop` cannot be zero")
    if (start < 0) != (stop < 0):
        raise ValueError(f"geomspace: `start` ({start}) and `stop` ({stop}) must have the "
                         f"same sign (a geometric sequence cannot cross zero)")
    sign = -1.0 if start < 0 else 1.0
    num = int(num)
    out = multiply(sign, exp(linspace(np.log(abs(start)), np.log(abs(stop)), num,
                                      endpoint=endpoint, dtype="float64")))
    # exp(log(v)) can be an ulp off v: the ends are set exactly, as NumPy does.
    if num > 0:
        ends = [convert_to_tensor([start], dtype="float64"), slice_(out, [1], [num - 1])]
        if endpoint and num > 1:
            ends[1] = slice_(out, [1], [num - 2])
            ends.append(convert_to_tensor([stop], dtype="float64"))
        out = concatenate(ends)
    return cast(out, dtypes.standardize_dtype(dtype))


# -- window functions (signal processing), as NumPy's ------------------------------------

def _window_length(M, op):
    try:
        return int(np.asarray(M).item())
    except (TypeError, ValueError):
        raise ValueError(f"{op}: the window length `x` must be an int, received {M!r}") from None


def _cosine_window(M, coefficients, op):
    """sum_k c_k cos(2 pi k n / (M - 1)) (signs in c_k), n = 0 .. M-1, in float64."""
    from graphkit.ops.elementwise import cast, cos
    M = _window_length(M, op)
    if M < 1:
        return zeros((0,), dtype=config.floatx())
    if M == 1:
        return ones((1,), dtype=config.floatx())
    n = cast(arange(M), "float64")
    out = 0.0
    for k, c in enumerate(coefficients):
        out = out + c * (cos(n * (2.0 * np.pi * k / (M - 1))) if k else 1.0)
    return cast(out, config.floatx())


def hamming(x):
    """The Hamming window of length `x`: 0.54 - 0.46 cos(2 pi n / (x - 1))."""
    return _cosine_window(x, (0.54, -0.46), "hamming")


def hanning(x):
    """The Hann window of length `x`: 0.5 - 0.5 cos(2 pi n / (x - 1))."""
    return _cosine_window(x, (0.5, -0.5), "hanning")


def blackman(x):
    """The Blackman window of length `x`: 0.42 - 0.5 cos(2 pi n/(x-1)) + 0.08 cos(4 pi n/(x-1))."""
    return _cosine_window(x, (0.42, -0.5, 0.08), "blackman")


def bartlett(x):
    """The Bartlett (triangular) window of length `x`: 1 - |2n - (x - 1)| / (x - 1)."""
    from graphkit.ops.elementwise import abs as abs_, cast
    M = _window_length(x, "bartlett")
    if M < 1:
        return zeros((0,), dtype=config.floatx())
    if M == 1:
        return ones((1,), dtype=config.floatx())
    n = cast(arange(M), "float64")
    return cast(1.0 - abs_(2.0 * n - (M - 1)) / (M - 1), config.floatx())
