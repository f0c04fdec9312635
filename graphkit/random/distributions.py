"""Sampling: uniform, normal and truncated normal, built from Philox bits with gk.ops.

Everything here is ordinary ops on top of the `random_bits` and `bits_to_unit_float`
primitives, so a trace records it and compiled code recomputes the same numbers. Uniforms
are exact (integer shifts and power-of-two scalings). Normals go through log/sqrt/cos, whose
NumPy and compiled implementations may differ in the last ulp; for float32 and float16
samples that math runs in float64 and is rounded once, so eager and compiled samples are
bit-identical unless a float64 result lands within a few float64 ulps of a float32
rounding boundary (odds about 1e-8 per sample). float64 samples agree to the math
library's ulp bounds.
"""
import math

import numpy as np

from graphkit import config, dtypes, ops
from graphkit.core import keras_tensor
from graphkit.ops.random import bits_to_unit_float, random_bits
from graphkit.random.seed_generator import draw_key

# erf(sqrt(2)): the normal CDF mass within 2 stddev maps to erf's range (-B, B).
_ERF_OF_SQRT2 = math.erf(math.sqrt(2.0))
# Giles, "Approximating the erfinv function" (GPU Computing Gems, 2011): the central branch,
# |x| <= 0.9545 keeps w = -log(1 - x*x) below 2.5, well inside its range (w < 5).
# Relative error about 1e-7 (checked against math.erf in the tests).
_ERFINV_COEFFS = (2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06,
                  0.00021858087, -0.00125372503, -0.00417768164, 0.246640727, 1.50140941)


def _float_dtype(dtype, op):
    dtype = dtypes.standardize_dtype(dtype or config.floatx())
    if not dtypes.is_float(dtype):
        raise ValueError(f"gk.random.{op}: `dtype` must be a float dtype, received {dtype!r}")
    return dtype


def _compute_dtype(dtype):
    """float16 samples are computed in float32: 11 random bits would cut the tails short."""
    return "float32" if dtype == "float16" else dtype


def _transcendental_dtype(dtype):
    """Where log/cos/erfinv run: float64, so that rounding hides last-ulp differences."""
    return "float64" if dtype in ("float16", "float32") else dtype


def _affine(x, scale, shift, dtype):
    """x * scale + shift in x's dtype, then `dtype` (scale and shift: numbers or tensors).
    A multiply by 1 or an add of 0 is left out: those are the defaults."""
    if not (isinstance(scale, (int, float)) and scale == 1):
        x = ops.multiply(x, scale)
    if not (isinstance(shift, (int, float)) and shift == 0):
        x = ops.add(x, shift)
    return ops.cast(x, dtype)


def _shape(shape, op):
    if isinstance(shape, int):
        shape = (shape,)
    shape = tuple(shape)
    if any(d is None for d in shape):
        # A layer called on KerasTensors (building a Functional model) may ask for a
        # sample shaped like its input, whose batch dim is unknown (`ops.shape(x)[0]`).
        if keras_tensor.is_recording_nodes():
            raise ValueError(f"gk.random.{op}: `shape` must be fully known, received {shape}")
        return tuple(None if d is None else int(d) for d in shape)
    return tuple(int(d) for d in shape)


def _symbolic_sample(shape, dtype, seed, op):
    """The spec of a sample whose shape has unknown dims: only its shape and dtype matter
    while a layer's output spec is found. The seed is still checked."""
    draw_key(seed, f"gk.random.{op}")
    return keras_tensor.KerasTensor(shape, dtype)


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Uniform floats in [minval, maxval)."""
    dtype = _float_dtype(dtype, "uniform")
    shape = _shape(shape, "uniform")
    if None in shape:
        return _symbolic_sample(shape, dtype, seed, "uniform")
    unit = bits_to_unit_float(random_bits(draw_key(seed, "gk.random.uniform"), shape),
                              _compute_dtype(dtype))
    if isinstance(minval, (int, float)) and isinstance(maxval, (int, float)):
        out = _affine(unit, maxval - minval, minval, dtype)
        # unit * span + minval, rounded (to float16 above all: 11 bits), can land on maxval
        # itself; the range is half-open, so those samples take the last value below it.
        below = _largest_below(maxval, dtype)
        return out if below is None else ops.minimum(out, below)
    span = ops.subtract(ops.cast(maxval, unit.dtype), ops.cast(minval, unit.dtype))
    return _affine(unit, span, minval, dtype)


def _largest_below(bound, dtype):
    """The largest `dtype` value under the number `bound` (None when there is none)."""
    kind = np.dtype(dtype).type
    value = kind(bound)
    if float(value) >= bound:
        value = np.nextafter(value, kind(-np.inf))
    return float(value) if np.isfinite(value) else None


def _standard_normal(key, shape, dtype):
    """Box-Muller on two uniforms per sample: sqrt(-2 log u1) * cos(2 pi u2)."""
    unit = bits_to_unit_float(random_bits(key, (2,) + shape), dtype)
    unit = ops.cast(unit, _transcendental_dtype(dtype))  # exact: same uniforms as before
    u1 = ops.subtract(1.0, unit[0])  # (0, 1]: log never sees 0
    radius = ops.sqrt(ops.multiply(ops.log(u1), -2.0))
    z = ops.multiply(radius, ops.cos(ops.multiply(unit[1], 2.0 * math.pi)))
    return ops.cast(z, dtype)


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Normally distributed floats."""
    dtype = _float_dtype(dtype, "normal")
    shape = _shape(shape, "normal")
    if None in shape:
        return _symbolic_sample(shape, dtype, seed, "normal")
    z = _standard_normal(draw_key(seed, "gk.random.normal"), shape, _compute_dtype(dtype))
    return _affine(z, stddev, mean, dtype)


def _erfinv_central(x):
    """erfinv for |x| <= erf(sqrt 2), by Giles's polynomial in w = -log(1 - x^2) - 2.5."""
    w = ops.subtract(ops.negative(ops.log(ops.multiply(ops.subtract(1.0, x),
                                                       ops.add(1.0, x)))), 2.5)
    p = ops.add(ops.multiply(w, _ERFINV_COEFFS[0]), _ERFINV_COEFFS[1])
    for c in _ERFINV_COEFFS[2:]:
        p = ops.add(ops.multiply(p, w), c)
    return ops.multiply(p, x)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Normal floats restricted to [mean - 2 stddev, mean + 2 stddev] (Keras's truncation).

    Inverse-CDF sampling: a uniform in (-erf(sqrt 2), erf(sqrt 2)) mapped through
    sqrt(2) * erfinv. Unlike rejection it needs no data-dependent loop, so it traces.
    """
    dtype = _float_dtype(dtype, "truncated_normal")
    shape = _shape(shape, "truncated_normal")
    if None in shape:
        return _symbolic_sample(shape, dtype, seed, "truncated_normal")
    key = draw_key(seed, "gk.random.truncated_normal")
    compute = _compute_dtype(dtype)
    unit = bits_to_unit_float(random_bits(key, shape), compute)
    unit = ops.cast(unit, _transcendental_dtype(compute))
    x = ops.multiply(ops.subtract(ops.multiply(unit, 2.0), 1.0), _ERF_OF_SQRT2)
    z = ops.clip(ops.multiply(_erfinv_central(x), math.sqrt(2.0)), -2.0, 2.0)
    z = ops.cast(z, compute)
    return _affine(z, stddev, mean, dtype)


def randint(shape, minval, maxval, dtype="int32", seed=None):
    """Integers uniform in [minval, maxval): floor(u * (maxval - minval)) + minval, u the
    32-bit unit float64 of the Philox bits, i.e. (bits * span) >> 32 exactly while the span
    is below 2**21 (the product fits float64's 53 bits), and within 2**-21 of it above."""
    dtype = dtypes.standardize_dtype(dtype)
    if not dtypes.is_int(dtype):
        raise ValueError(f"gk.random.randint: `dtype` must be an integer dtype, received "
                         f"{dtype!r}")
    shape = _shape(shape, "randint")
    if None in shape:
        return _symbolic_sample(shape, dtype, seed, "randint")
    low, high = (ops.cast(v, "float64") for v in (minval, maxval))
    unit = bits_to_unit_float(random_bits(draw_key(seed, "gk.random.randint"), shape),
                              "float64")
    span = ops.subtract(high, low)
    # rounding of u * span can reach span itself for spans of 2**21 and more: the range is
    # half-open, so those draws take the last value
    offset = ops.minimum(ops.floor(ops.multiply(unit, span)), ops.subtract(span, 1.0))
    return ops.cast(ops.add(offset, low), dtype)


def categorical(logits, num_samples, dtype="int32", seed=None):
    """`num_samples` class indices per row of `logits` (batch, classes), drawn with
    probabilities softmax(logits), by the Gumbel-max trick: argmax over classes of
    logits - log(E), E standard exponential draws. The logs run in float64 (as the normals'
    math), so eager and compiled draws agree unless two classes tie within float64 rounding."""
    dtype = dtypes.standardize_dtype(dtype)
    logits = ops.convert_to_tensor(logits)
    if logits.ndim != 2:
        raise ValueError(f"gk.random.categorical: `logits` must be 2-D (batch, classes), "
                         f"received shape {tuple(logits.shape)}")
    batch, classes = logits.shape
    shape = (batch, int(num_samples), classes)
    if None in shape:
        return _symbolic_sample(shape[:2], dtype, seed, "categorical")
    unit = bits_to_unit_float(random_bits(draw_key(seed, "gk.random.categorical"), shape),
                              "float64")
    exponential = ops.negative(ops.log1p(ops.negative(unit)))  # -log(1 - u), u in [0, 1)
    scores = ops.subtract(ops.expand_dims(ops.cast(logits, "float64"), 1),
                          ops.log(exponential))
    return ops.cast(ops.argmax(scores, axis=-1), dtype)


# -- gamma, beta, binomial -------------------------------------------------------------------

# Marsaglia-Tsang candidate rounds per gamma sample. Each round is accepted with probability
# at least 0.95 (the worst case is shape 1, after the boost for alpha < 1), so all 16 fail
# with probability below 0.05**16, about 1.5e-21 per sample.
GAMMA_ROUNDS = 16
# Philox words per gamma sample: two for the round's normal (Box-Muller), one for its
# acceptance uniform, plus one for the alpha < 1 boost.
_GAMMA_WORDS = 3 * GAMMA_ROUNDS + 1


def _static_parameter(value):
    """A NumPy array for a parameter given as a number, a NumPy array or an eager Tensor;
    None for anything else (a traced or symbolic value)."""
    from graphkit.core.tensor import Tensor
    if isinstance(value, (int, float, np.integer, np.floating, np.ndarray, list, tuple, Tensor)):
        return np.asarray(ops.convert_to_numpy(value))
    return None


def _standard_gamma(bits, alpha, math_dtype):
    """Gamma(alpha, 1) samples in `math_dtype` from uint32 `bits` of shape
    (_GAMMA_WORDS,) + shape, by Marsaglia and Tsang (2000) with a fixed number of rounds.

    Round r draws a normal x (Box-Muller on bits[2r], bits[2r + 1]) and a uniform u
    (1 - unit of bits[2 R + r], in (0, 1]); with a = alpha (alpha + 1 when alpha < 1),
    d = a - 1/3, c = 1 / sqrt(9 d) and v = (1 + c x)^3 the candidate d v is accepted when
    v > 0 and log u < x^2 / 2 + d - d v + d log v. Each element takes its first accepted
    candidate (masks and argmax; the IR has no loops). If none of the rounds accepts (odds
    below 1e-21 per element, see GAMMA_ROUNDS) the element takes d itself, about the median
    of Gamma(a), instead: finite and positive, the only deviation from the exact law.
    For alpha < 1 the Gamma(alpha + 1) sample g is boosted to g * w^(1 / alpha), w the
    uniform of bits[-1] in (0, 1] (computed as exp(log g + log w / alpha)).
    """
    rounds = GAMMA_ROUNDS
    unit = ops.cast(bits_to_unit_float(bits, "float64"), math_dtype)  # exact
    alpha = ops.cast(alpha, math_dtype)
    small = ops.less(alpha, 1.0)
    a = ops.where(small, ops.add(alpha, 1.0), alpha)
    d = ops.subtract(a, 1.0 / 3.0)
    c = ops.divide(1.0, ops.sqrt(ops.multiply(d, 9.0)))
    u1 = ops.subtract(1.0, unit[0:rounds])             # (0, 1]: log never sees 0
    u2 = unit[rounds:2 * rounds]
    x = ops.multiply(ops.sqrt(ops.multiply(ops.log(u1), -2.0)),
                     ops.cos(ops.multiply(u2, 2.0 * math.pi)))
    u = ops.subtract(1.0, unit[2 * rounds:3 * rounds])  # (0, 1]
    t = ops.add(ops.multiply(c, x), 1.0)
    v = ops.multiply(ops.multiply(t, t), t)
    positive = ops.greater(v, 0.0)
    log_v = ops.log(ops.where(positive, v, 1.0))
    bound = ops.add(ops.multiply(ops.multiply(x, x), 0.5),
                    ops.add(ops.subtract(d, ops.multiply(d, v)), ops.multiply(d, log_v)))
    accept = ops.logical_and(positive, ops.less(ops.log(u), bound))
    first = ops.argmax(ops.cast(accept, "int32"), axis=0, keepdims=True)
    candidate = ops.multiply(d, v)
    chosen = ops.take_along_axis(candidate, first, axis=0)[0]
    g = ops.where(ops.any(accept, axis=0), chosen, ops.broadcast_to(d, chosen.shape))
    w = ops.subtract(1.0, unit[3 * rounds])             # (0, 1]
    boosted = ops.exp(ops.add(ops.log(g), ops.divide(ops.log(w), alpha)))
    return ops.where(small, boosted, g)


def _check_broadcast(value, shape, name, op):
    """`value`'s shape must broadcast to the sample `shape` (and not grow it)."""
    value_shape = tuple(np.shape(value)) if not ops.is_tensor(value) else tuple(value.shape)
    try:
        ok = np.broadcast_shapes(value_shape, shape) == shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"gk.random.{op}: `{name}` must broadcast to `shape` {shape}, "
                         f"received shape {value_shape}")


def gamma(shape, alpha, dtype=None, seed=None):
    """Gamma(alpha, 1) floats (`alpha`: a number or a tensor broadcastable to `shape`).

    Marsaglia-Tsang rejection with a fixed number of candidate rounds (GAMMA_ROUNDS), all
    from one Philox draw; see `_standard_gamma` for the method and for the value returned
    in the (below 1e-21 per sample) event that no round accepts. The math runs in float64
    for float16/float32 samples, as for `normal`, so eager and compiled samples agree bit
    for bit unless a float64 result lands within float64 rounding of a float32 boundary or
    of the acceptance bound. For tiny alpha, Gamma(alpha) puts mass below the smallest
    float32: such samples round to 0 in float32 (as the exact law's would).
    """
    dtype = _float_dtype(dtype, "gamma")
    shape = _shape(shape, "gamma")
    if None in shape:
        return _symbolic_sample(shape, dtype, seed, "gamma")
    _check_broadcast(alpha, shape, "alpha", "gamma")
    bits = random_bits(draw_key(seed, "gk.random.gamma"), (_GAMMA_WORDS,) + shape)
    return ops.cast(_standard_gamma(bits, alpha, _transcendental_dtype(dtype)), dtype)


def beta(shape, alpha, beta, dtype=None, seed=None):
    """Beta(alpha, beta) floats, as X / (X + Y) with independent X ~ Gamma(alpha) and
    Y ~ Gamma(beta) (see `gamma`; both from one Philox draw, in float64 for float32)."""
    dtype = _float_dtype(dtype, "beta")
    shape = _shape(shape, "beta")
    if None in shape:
        return _symbolic_sample(shape, dtype, seed, "beta")
    _check_broadcast(alpha, shape, "alpha", "beta")
    _check_broadcast(beta, shape, "beta", "beta")
    bits = random_bits(draw_key(seed, "gk.random.beta"), (2 * _GAMMA_WORDS,) + shape)
    math_dtype = _transcendental_dtype(dtype)
    x = _standard_gamma(bits[:_GAMMA_WORDS], alpha, math_dtype)
    y = _standard_gamma(bits[_GAMMA_WORDS:], beta, math_dtype)
    return ops.cast(ops.divide(x, ops.add(x, y)), dtype)


def binomial(shape, counts, probabilities, dtype=None, seed=None):
    """Binomial(counts, probabilities) samples (floats by default, as in Keras), exactly:
    the number of n < counts with u_n < probabilities, u_n independent 32-bit uniforms.

    The IR has no loops, so the number of Bernoulli trials must be static: `counts` must
    be a number, a NumPy array or an eager tensor of non-negative integers (not a traced
    value), and each sample costs max(counts) Philox words (meant for small counts).
    `probabilities` may be any tensor broadcastable to `shape`.
    """
    dtype = dtypes.standardize_dtype(dtype or config.floatx())
    shape = _shape(shape, "binomial")
    static = _static_parameter(counts)
    if static is None:
        raise ValueError("gk.random.binomial: `counts` must be static (a number, a NumPy "
                         "array or an eager tensor): its largest value sets the number of "
                         "Bernoulli trials, and graphkit's IR has no loops")
    if static.size and (np.any(static < 0) or np.any(static != np.floor(static))):
        raise ValueError(f"gk.random.binomial: `counts` must be non-negative integers, "
                         f"received {static}")
    if None in shape:
        return _symbolic_sample(shape, dtype, seed, "binomial")
    _check_broadcast(static, shape, "counts", "binomial")
    _check_broadcast(probabilities, shape, "probabilities", "binomial")
    trials = int(static.max()) if static.size else 0
    key = draw_key(seed, "gk.random.binomial")
    if trials == 0:
        return ops.zeros(shape, dtype)
    unit = bits_to_unit_float(random_bits(key, (trials,) + shape), "float64")
    p = ops.cast(probabilities, "float64")
    success = ops.less(unit, p)
    if static.ndim and np.any(static != trials):  # trial n counts where n < counts
        index = np.arange(trials, dtype=np.float64).reshape((trials,) + (1,) * len(shape))
        success = ops.logical_and(success, ops.convert_to_tensor(index < static))
    return ops.cast(ops.sum(ops.cast(success, "int32"), axis=0), dtype)
