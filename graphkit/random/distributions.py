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
