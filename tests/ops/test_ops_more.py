"""The NumPy/Keras ops written as compositions of primitives (math, activations, array
helpers, order statistics, normalization, attention), against NumPy in float64 or formulas
written here: values, dtypes, edge values (0, -0, inf, NaN) and axis handling. Their
gradients are checked against finite differences in test_gradients.COMPOSITES."""
import math
import warnings

import numpy as np
import pytest

import graphkit as gk
from graphkit import ops
from graphkit.ops.primitive import ShapeError

RNG = np.random.default_rng(7)
SPECIAL = np.array([0.0, -0.0, 1.5, -2.5, 0.5, np.inf, -np.inf, np.nan, 3.7, -1e-3, 1e30,
                    -1e-30, 1.0, -1.0, 0.25, 8.0, -27.0], np.float32)
INTS = np.array([1, -2, 0, 3, 7], np.int32)


def f32(*shape, lo=-2.0, hi=2.0):
    return RNG.uniform(lo, hi, shape).astype(np.float32)


def close(got, want, rtol=2e-6, atol=1e-7, dtype=None):
    got = np.asarray(got)
    if dtype is not None:
        assert str(got.dtype) == dtype, f"dtype {got.dtype}, expected {dtype}"
    assert got.shape == np.shape(want), f"shape {got.shape}, expected {np.shape(want)}"
    np.testing.assert_allclose(got.astype(np.float64), np.asarray(want, np.float64),
                               rtol=rtol, atol=atol, equal_nan=True)


def same_zero_signs(got, want):
    got, want = np.asarray(got), np.asarray(want)
    zeros = want == 0
    assert np.array_equal(np.signbit(got[zeros]), np.signbit(want[zeros]))


# -- elementwise math ----------------------------------------------------------------------

def _sinc64(x):
    return np.sinc(x)


UNARY = [
    ("deg2rad", np.deg2rad), ("rad2deg", np.rad2deg), ("trunc", np.trunc),
    ("exp2", np.exp2), ("fabs", np.fabs), ("cbrt", np.cbrt), ("sinc", _sinc64),
]


@pytest.mark.parametrize("name,ref", UNARY, ids=[u[0] for u in UNARY])
def test_unary_math_matches_numpy_float64(name, ref):
    if name == "exp2":  # not 1e30: 2 ** 1e30 overflows
        x = np.append(SPECIAL[~(SPECIAL > 100)], [-149.0, 127.5]).astype(np.float32)
    else:
        x = SPECIAL
    with np.errstate(all="ignore"):  # NumPy's own warnings on inf and NaN, both sides
        want = ref(x.astype(np.float64)).astype(np.float32)
        got = getattr(ops, name)(x)
    close(got, want, dtype="float32")
    same_zero_signs(got, want)


@pytest.mark.parametrize("name,dtype", [("deg2rad", "float32"), ("rad2deg", "float32"),
                                        ("exp2", "float32"), ("fabs", "float32"),
                                        ("cbrt", "float32"), ("sinc", "float32"),
                                        ("trunc", "int32")])
def test_unary_math_of_ints(name, dtype):
    got = getattr(ops, name)(INTS)
    with np.errstate(all="ignore"):
        want = getattr(np, name)(INTS.astype(np.float64))
    close(got, want, dtype=dtype)


def test_cbrt_is_exact_on_cubes_and_sign_correct_for_large_inputs():
    cubes = np.array([-27.0, 8.0, 1e-30, 1e30, -3.4e38, 1e-45], np.float64)
    got = ops.cbrt(cubes)
    assert got.dtype == "float64"
    np.testing.assert_array_max_ulp(np.asarray(got), np.cbrt(cubes), maxulp=1)
    x32 = f32(200, lo=-1e4, hi=1e4) ** 3
    np.testing.assert_array_max_ulp(np.asarray(ops.cbrt(x32)),
                                    np.cbrt(x32.astype(np.float64)).astype(np.float32),
                                    maxulp=1)


def test_signbit_isposinf_isneginf():
    finite_and_inf = SPECIAL[~np.isnan(SPECIAL)]
    assert np.array_equal(ops.signbit(finite_and_inf), np.signbit(finite_and_inf))
    assert np.array_equal(ops.isposinf(SPECIAL), np.isposinf(SPECIAL))
    assert np.array_equal(ops.isneginf(SPECIAL), np.isneginf(SPECIAL))
    assert np.array_equal(ops.signbit(INTS), INTS < 0)
    assert ops.isposinf(INTS).dtype == "bool" and not np.any(ops.isposinf(INTS))


BINARY = [("logaddexp2", np.logaddexp2), ("heaviside", np.heaviside),
          ("hypot", np.hypot), ("fmax", np.fmax), ("fmin", np.fmin)]


@pytest.mark.parametrize("name,ref", BINARY, ids=[b[0] for b in BINARY])
def test_binary_math_matches_numpy_on_every_pair_of_special_values(name, ref):
    a, b = SPECIAL[:, None], SPECIAL[None, :]
    with np.errstate(all="ignore"):  # inf - inf in the formulas' unused branches
        want = ref(a.astype(np.float64), b.astype(np.float64)).astype(np.float32)
        got = getattr(ops, name)(a, b)
    close(got, want, dtype="float32")


def test_hypot_does_not_overflow_or_underflow():
    a = np.array([3e30, 1e-30, 2e38, 1e-44], np.float32)
    b = np.array([4e30, 1e-30, 2e38, 0.0], np.float32)
    close(ops.hypot(a, b), np.hypot(a.astype(np.float64), b.astype(np.float64)), rtol=3e-7)


def test_binary_math_dtypes():
    assert ops.fmax(INTS, INTS[::-1]).dtype == "int32"
    assert ops.heaviside(INTS, 1).dtype == "float32"
    assert ops.hypot(INTS, 2.0).dtype == "float32"
    assert ops.logaddexp2(INTS, INTS).dtype == "float32"
    x = f32(4).astype(np.float64)
    assert ops.fmin(x, 0.5).dtype == "float64"


# -- activations ---------------------------------------------------------------------------

def _x64():
    return np.concatenate([np.linspace(-4, 4, 33), [-1.0, 1.0, -0.5, 0.5]])


ACTIVATIONS = [
    ("celu", lambda x: np.where(x > 0, x, np.expm1(x))),
    ("hard_tanh", lambda x: np.clip(x, -1, 1)),
    ("hard_shrink", lambda x: np.where(np.abs(x) > 0.5, x, 0.0)),
    ("soft_shrink", lambda x: np.sign(x) * np.maximum(np.abs(x) - 0.5, 0.0)),
    ("tanh_shrink", lambda x: x - np.tanh(x)),
    ("squareplus", lambda x: (x + np.sqrt(x * x + 4)) / 2),
    ("sparse_plus", lambda x: np.where(x <= -1, 0.0, np.where(x >= 1, x, (x + 1) ** 2 / 4))),
    ("sparse_sigmoid", lambda x: np.clip((x + 1) / 2, 0.0, 1.0)),
]


@pytest.mark.parametrize("name,ref", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_matches_formula(name, ref):
    x = _x64()
    close(getattr(ops, name)(x), ref(x), rtol=1e-12, atol=1e-15, dtype="float64")
    close(getattr(ops, name)(x.astype(np.float32)), ref(x), rtol=2e-6, atol=2e-7,
          dtype="float32")


def test_activation_arguments_and_dtypes():
    x = _x64()
    close(ops.celu(x, alpha=2.0), np.where(x > 0, x, 2.0 * np.expm1(x / 2.0)), rtol=1e-12)
    close(ops.hard_shrink(x, 1.5), np.where(np.abs(x) > 1.5, x, 0.0))
    close(ops.soft_shrink(x, 1.0), np.sign(x) * np.maximum(np.abs(x) - 1.0, 0.0))
    close(ops.squareplus(x, b=1), (x + np.sqrt(x * x + 1)) / 2, rtol=1e-12)
    close(ops.threshold(x, 0.5, -3.0), np.where(x > 0.5, x, -3.0))
    assert ops.threshold(INTS, 0, 5).dtype == "int32"
    assert ops.hard_tanh(INTS).dtype == "int32"
    assert ops.celu(INTS).dtype == "float32" and ops.hard_shrink(INTS).dtype == "float32"
    assert not np.any(np.isnan(ops.celu(np.array([-1e4, 1e4], np.float32))))


def test_glu():
    x = f32(3, 6).astype(np.float64)
    a, b = x[:, :3], x[:, 3:]
    close(ops.glu(x), a / (1 + np.exp(-b)), rtol=1e-12)
    close(ops.glu(x.T, axis=0), (a / (1 + np.exp(-b))).T, rtol=1e-12)
    with pytest.raises(ShapeError, match="even"):
        ops.glu(f32(2, 3))


def _sparsemax_reference(z):
    """Martins & Astudillo's algorithm, row by row along the last axis."""
    out = np.empty_like(z)
    for i, row in enumerate(z.reshape(-1, z.shape[-1])):
        s = np.sort(row)[::-1]
        k = np.arange(1, len(s) + 1)
        support = 1 + k * s > np.cumsum(s)
        kz = k[support][-1]
        tau = (np.cumsum(s)[kz - 1] - 1) / kz
        out.reshape(-1, z.shape[-1])[i] = np.maximum(row - tau, 0)
    return out


def test_sparsemax_is_the_projection_onto_the_simplex():
    """Not Keras 3.15's formula, whose outputs do not sum to 1 (it sums the running sums
    over the support); the definition, as in the paper and TF Addons."""
    z = f32(4, 6, lo=-1.5, hi=1.5).astype(np.float64)
    got = np.asarray(ops.sparsemax(z))
    close(got, _sparsemax_reference(z), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got.sum(-1), 1.0, rtol=1e-12)
    close(ops.sparsemax(z.T, axis=0), _sparsemax_reference(z).T, rtol=1e-12, atol=1e-14)
    close(ops.sparsemax(np.array([0.5, 0.4])), [0.55, 0.45], rtol=1e-12)


# -- normalization and attention -----------------------------------------------------------

def test_rms_normalization():
    x = f32(3, 4).astype(np.float64)
    scale = np.array([1.0, 2.0, 0.5, -1.0])
    rms = np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + 1e-7)
    close(ops.rms_normalization(x, scale=scale), x / rms * scale, rtol=1e-12)
    whole = np.sqrt(np.mean(x * x) + 1e-3)
    close(ops.rms_normalization(x, axis=(0, 1), epsilon=1e-3), x / whole, rtol=1e-12)
    half = ops.rms_normalization(x.astype(np.float16))
    assert half.dtype == "float16"
    close(half, x / rms, rtol=2e-3, atol=1e-3)


def test_layer_normalization():
    x = f32(3, 4).astype(np.float64)
    gamma, beta = np.array([1.0, 2.0, 0.5, -1.0]), np.array([0.0, 1.0, -1.0, 0.5])
    norm = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-7)
    close(ops.layer_normalization(x, gamma, beta), norm * gamma + beta, rtol=1e-10)
    g0 = np.array([1.0, 2.0, 3.0])
    norm0 = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5)
    close(ops.layer_normalization(x, gamma=g0, axis=0, epsilon=1e-5), norm0 * g0[:, None],
          rtol=1e-10)
    assert ops.layer_normalization(x.astype(np.float32)).dtype == "float32"


def _attention_reference(q, k, v, bias=None, mask=None, scale=None, is_causal=False):
    groups = q.shape[2] // k.shape[2]
    k, v = np.repeat(k, groups, axis=2), np.repeat(v, groups, axis=2)
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    logits = np.einsum("btnh,bsnh->bnts", q, k) * scale
    if bias is not None:
        logits = logits + bias
    keep = np.ones(logits.shape, bool)
    if mask is not None:
        keep &= mask
    if is_causal:
        keep &= np.tri(logits.shape[-2], logits.shape[-1], dtype=bool)
    logits = np.where(keep, logits, -0.7 * np.finfo(np.float32).max)
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    return np.einsum("bnts,bsnh->btnh", p, v)


def test_dot_product_attention():
    q, k, v = f32(2, 5, 4, 3), f32(2, 6, 2, 3), f32(2, 6, 2, 3)
    mask = RNG.uniform(size=(2, 1, 5, 6)) < 0.5
    mask[0, 0, 1] = False  # a fully masked row: the values' average
    bias = f32(1, 4, 5, 6)
    for kwargs in ({}, {"is_causal": True}, {"mask": mask, "scale": 0.3},
                   {"bias": bias, "mask": mask, "is_causal": True}):
        got = ops.dot_product_attention(q, k, v, **kwargs)
        want = _attention_reference(*(t.astype(np.float64) for t in (q, k, v)), **kwargs)
        close(got, want, rtol=2e-5, atol=2e-6, dtype="float32")
    with pytest.raises(ValueError, match="4D"):
        ops.dot_product_attention(q[0], k[0], v[0])
    with pytest.raises(ValueError, match="flash_attention"):
        ops.dot_product_attention(q, k, v, flash_attention=True)


# -- array helpers -------------------------------------------------------------------------

def _same(got, want):
    if isinstance(want, list):
        assert len(got) == len(want)
        for g, w in zip(got, want):
            _same(g, w)
        return
    got = np.asarray(got)
    assert got.shape == want.shape and np.array_equal(got, want, equal_nan=True), \
        (got, want)


X = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
M = RNG.integers(-5, 5, (3, 4)).astype(np.int32)
LAYOUT = [
    ("diff", lambda o: o.diff(M), np.diff(M)),
    ("diff n=2 axis=0", lambda o: o.diff(X, n=2, axis=1), np.diff(X, n=2, axis=1)),
    ("diff bool", lambda o: o.diff(M > 0), np.diff(M > 0)),
    ("fliplr", lambda o: o.fliplr(X), np.fliplr(X)),
    ("flipud", lambda o: o.flipud(X), np.flipud(X)),
    ("dstack", lambda o: o.dstack([M, M]), np.dstack([M, M])),
    ("dstack 1-D", lambda o: o.dstack([M[0], M[1]]), np.dstack([M[0], M[1]])),
    ("hsplit", lambda o: o.hsplit(M, 2), np.hsplit(M, 2)),
    ("hsplit 1-D", lambda o: o.hsplit(M[0], [1, 3]), np.hsplit(M[0], [1, 3])),
    ("vsplit", lambda o: o.vsplit(X, 2), np.vsplit(X, 2)),
    ("dsplit", lambda o: o.dsplit(X, [1]), np.dsplit(X, [1])),
    ("array_split", lambda o: o.array_split(np.arange(10), 4),
     np.array_split(np.arange(10), 4)),
    ("array_split axis", lambda o: o.array_split(X, 3, axis=2), np.array_split(X, 3, axis=2)),
    ("kron", lambda o: o.kron(M, M[:2, :3]), np.kron(M, M[:2, :3])),
    ("kron ranks", lambda o: o.kron(M[0], X), np.kron(M[0], X)),
    ("meshgrid xy", lambda o: o.meshgrid(M[0], M[:, 0], M[1, :2]),
     list(np.meshgrid(M[0], M[:, 0], M[1, :2]))),
    ("meshgrid ij", lambda o: o.meshgrid(M[0], M[:, 0], indexing="ij"),
     list(np.meshgrid(M[0], M[:, 0], indexing="ij"))),
    ("ptp", lambda o: o.ptp(M, axis=0), np.ptp(M, axis=0)),
    ("ptp all keepdims", lambda o: o.ptp(X, keepdims=True), np.ptp(X, keepdims=True)),
    ("copy", lambda o: o.copy(M), M.copy()),
    ("empty_like", lambda o: o.zeros_like(M) + o.empty_like(M) * 0, np.zeros_like(M)),
    ("cumprod ints", lambda o: o.cumprod(M, axis=1), np.cumprod(M, axis=1)),
    ("cumprod flat", lambda o: o.cumprod(M), np.cumprod(M)),
]


@pytest.mark.parametrize("what,fn,want", LAYOUT, ids=[c[0] for c in LAYOUT])
def test_array_helpers_match_numpy(what, fn, want):
    _same(fn(ops), want)


@pytest.mark.parametrize("k", range(-1, 6))
@pytest.mark.parametrize("axes", [(0, 1), (2, 0), (-1, 1)])
def test_rot90(k, axes):
    _same(ops.rot90(X, k=k, axes=axes), np.rot90(X, k=k, axes=axes))


def test_array_helper_errors():
    with pytest.raises(ShapeError):
        ops.fliplr(X[0, 0])
    with pytest.raises(ValueError):
        ops.rot90(X, axes=(1, 1))
    with pytest.raises(ShapeError):
        ops.hsplit(M, 3)


def test_copy_does_not_alias_numpy_data():
    data = np.ones(3, np.float32)
    copied = ops.copy(data)
    data[0] = 5.0
    assert float(copied[0]) == 1.0


def test_cumprod_floats_and_specials():
    x = f32(3, 7, lo=0.5, hi=1.5).astype(np.float64)
    close(ops.cumprod(x, axis=-1), np.cumprod(x, axis=-1), rtol=1e-14)
    specials = np.array([2.0, 0.0, np.inf, np.nan, -1.0, 3.0], np.float32)
    with np.errstate(invalid="ignore"):
        close(ops.cumprod(specials), np.cumprod(specials))
    assert ops.cumprod(np.array([True, False])).dtype == "int32"


def test_trapezoid():
    y = f32(3, 5).astype(np.float64)
    xs = np.array([0.0, 0.5, 2.0, 2.5, 4.0])
    close(ops.trapezoid(y), np.trapezoid(y), rtol=1e-12)
    close(ops.trapezoid(y, dx=0.5, axis=0), np.trapezoid(y, dx=0.5, axis=0), rtol=1e-12)
    close(ops.trapezoid(y, x=xs), np.trapezoid(y, x=xs), rtol=1e-12)
    close(ops.trapezoid(y, x=y * 2), np.trapezoid(y, x=y * 2), rtol=1e-12, atol=1e-15)
    assert ops.trapezoid(M).dtype == "float32"


# -- order statistics and NaN-ignoring reductions --------------------------------------------

METHODS = ["linear", "lower", "higher", "midpoint", "nearest"]


@pytest.mark.parametrize("method", METHODS)
def test_quantile_matches_numpy(method):
    x = f32(4, 7).astype(np.float64)
    for q, kw in [(0.37, {"axis": 1}), ([0.0, 0.25, 0.5, 1.0], {"axis": 0}),
                  (np.array([[0.1], [0.9]]), {"axis": (0, 1), "keepdims": True}),
                  (0.5, {})]:
        got = ops.quantile(x, q, method=method, **kw)
        close(got, np.quantile(x, q, method=method, **kw), rtol=1e-12)
    close(ops.percentile(x, [10, 50], axis=1, method=method),
          np.percentile(x, [10, 50], axis=1, method=method), rtol=1e-12)


def test_quantile_positions_are_found_as_numpy_finds_them():
    x = np.arange(11, dtype=np.float32)
    close(ops.quantile(x, 0.05, method="nearest"), np.quantile(x, 0.05, method="nearest"))
    q32 = np.float32([0.7, 0.05])
    close(ops.quantile(x, q32, method="higher"), np.quantile(x, q32, method="higher"))


def test_quantile_errors():
    with pytest.raises(ValueError, match="q must be in"):
        ops.quantile(f32(3), 1.5)
    with pytest.raises(ValueError, match="percentile"):
        ops.percentile(f32(3), [50, 101])
    with pytest.raises(ValueError, match="method"):
        ops.quantile(f32(3), 0.5, method="cubic")


def test_median():
    x = f32(4, 6).astype(np.float64)
    close(ops.median(x), np.median(x), rtol=1e-12)
    close(ops.median(x, axis=0), np.median(x, axis=0), rtol=1e-12)
    close(ops.median(x, axis=1, keepdims=True), np.median(x, axis=1, keepdims=True))
    close(ops.median(x, keepdims=True), np.median(x, keepdims=True))
    assert ops.median(M).dtype == "float32"
    with_nan = x.copy()
    with_nan[1, 2] = np.nan
    close(ops.median(with_nan, axis=1), np.median(with_nan, axis=1), rtol=1e-12)


NAN_DATA = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan], [-2.0, 0.5, np.inf]])


@pytest.mark.parametrize("name", ["nansum", "nanmean", "nanmax", "nanmin"])
def test_nan_reductions_match_numpy(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for kw in ({"axis": 1}, {"axis": 0, "keepdims": True}, {}):
            close(getattr(ops, name)(NAN_DATA, **kw), getattr(np, name)(NAN_DATA, **kw),
                  rtol=1e-12)
    assert getattr(ops, name)(M).dtype == ("float32" if name == "nanmean" else "int32")


# -- symbolic mode ---------------------------------------------------------------------------

def test_ops_infer_shapes_on_keras_tensors():
    x = gk.Input(shape=(6, 4))
    assert tuple(ops.hypot(x, x).shape) == (None, 6, 4)
    assert tuple(ops.glu(x).shape) == (None, 6, 2)
    assert tuple(ops.layer_normalization(x).shape) == (None, 6, 4)
    assert tuple(ops.median(x, axis=1).shape) == (None, 4)
    assert tuple(ops.diff(x, axis=1).shape) == (None, 5, 4)
    assert ops.signbit(x).dtype == "bool"
