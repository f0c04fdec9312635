"""Elementwise kernels against NumPy: broadcasting, strided views, dtypes, tails, threads."""
import numpy as np
import pytest

from graphkit.codegen import expr as ex
from graphkit.codegen.elementwise import Operand, collapse, emit_elementwise

from .helpers import call, compile_kernels

F = "float32"
DIVMOD_SPECIALS = [1.0, 0.7, 0.1, 0.3, -7.5, 3.0, -3.0, 1e30, 1e-40, 0.0, -0.0, np.inf, -np.inf,
                   np.nan]
DIVMOD_N = len(DIVMOD_SPECIALS) ** 2 + 300
x, y = ex.input(0, F), ex.input(1, F)
c = lambda v, dt=F: ex.constant(v, dt)  # noqa: E731
W2 = ex.apply("add", ex.apply("multiply",
                              ex.apply("tanh", ex.apply("add", ex.apply("multiply", x, c(1.5)),
                                                        y)),
                              ex.apply("sigmoid", y)),
              ex.apply("multiply", ex.apply("maximum", ex.apply("subtract", x, y), c(0.0)),
                       c(0.5)))

KERNELS = {
    "w2_big": lambda m, n: emit_elementwise(m, n, [Operand((300, 1000), F)] * 2, [W2],
                                            (300, 1000)),
    "w2_odd": lambda m, n: emit_elementwise(m, n, [Operand((3, 37), F)] * 2, [W2], (3, 37)),
    "bcast": lambda m, n: emit_elementwise(
        m, n, [Operand((5, 1, 7), F), Operand((3, 7), F)],
        [ex.apply("subtract", x, y), ex.apply("less", x, y)], (5, 3, 7)),
    "transposed": lambda m, n: emit_elementwise(
        m, n, [Operand((19, 23), F, strides=(1, 19)), Operand((23,), F)],
        [ex.apply("multiply", x, y)], (19, 23)),
    "where_cast": lambda m, n: emit_elementwise(
        m, n, [Operand((50,), "bool"), Operand((50,), F), Operand((50,), "int32")],
        [ex.apply("where", ex.input(0, "bool"), ex.input(1, F),
                  ex.apply("cast", ex.input(2, "int32"), dtype=F)),
         ex.apply("cast", ex.input(1, F), dtype="int32")], (50,)),
    "ints": lambda m, n: emit_elementwise(
        m, n, [Operand((40,), "int32")] * 2,
        [ex.apply(op, ex.input(0, "int32"), ex.input(1, "int32"))
         for op in ("floor_divide", "mod", "maximum", "multiply")], (40,)),
    "unary": lambda m, n: emit_elementwise(
        m, n, [Operand((33,), F)],
        [ex.apply(op, x) for op in ("abs", "sign", "sqrt", "rsqrt", "floor", "round",
                                    "square", "negative", "log1p", "erf")], (33,)),
    "power": lambda m, n: emit_elementwise(
        m, n, [Operand((16,), F)] * 2,
        [ex.apply("power", x, y), ex.apply("power", x, c(2.0))], (16,)),
    "f64": lambda m, n: emit_elementwise(
        m, n, [Operand((21,), "float64")],
        [ex.apply("exp", ex.apply("negative", ex.input(0, "float64")))], (21,)),
    "clamp_const": lambda m, n: emit_elementwise(
        m, n, [Operand((24,), F)],
        [ex.apply("maximum", x, c(0.0)), ex.apply("minimum", c(1.5), x),
         ex.apply("maximum", c(-1.0), x), ex.apply("minimum", x, c(-0.5))], (24,)),
    **{f"divmod_{dt}": (lambda dt: lambda m, n: emit_elementwise(
        m, n, [Operand((DIVMOD_N,), dt)] * 2,
        [ex.apply(op, ex.input(0, dt), ex.input(1, dt)) for op in ("floor_divide", "mod")],
        (DIVMOD_N,)))(dt) for dt in ("float16", "float32", "float64")},
    **{f"min_div_{dt}": (lambda dt: lambda m, n: emit_elementwise(
        m, n, [Operand((6,), dt)] * 2,
        [ex.apply(op, ex.input(0, dt), ex.input(1, dt)) for op in ("floor_divide", "mod")],
        (6,)))(dt) for dt in ("int8", "int16", "int32", "int64")},
    "power_specials": lambda m, n: emit_elementwise(
        m, n, [Operand((12,), F)] * 2, [ex.apply("power", x, y)], (12,)),
    **{f"minmax_{dt}": (lambda dt: lambda m, n: emit_elementwise(
        m, n, [Operand((8,), dt)] * 2,
        [ex.apply(op, *args) for op in ("maximum", "minimum")
         for args in ((ex.input(0, dt), ex.input(1, dt)), (ex.input(0, dt), c(0.0, dt)),
                      (c(0.0, dt), ex.input(0, dt)))], (8,)))(dt)
       for dt in ("float16", "float32", "float64")},
    "f64_to_f16": lambda m, n: emit_elementwise(
        m, n, [Operand((64,), "float64")],
        [ex.apply("cast", ex.input(0, "float64"), dtype="float16")], (64,)),
    "power_f16": lambda m, n: emit_elementwise(
        m, n, [Operand((8,), "float16")] * 2,
        [ex.apply("power", ex.input(0, "float16"), ex.input(1, "float16"))], (8,)),
    "scalar_out": lambda m, n: emit_elementwise(
        m, n, [Operand((), F), Operand((), F)], [ex.apply("divide", x, y)], ()),
}


@pytest.fixture(scope="module")
def kernels():
    return compile_kernels(KERNELS)[0]


rng = np.random.default_rng(1)


def randn(*shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


def w2_ref(a, b):
    a, b = a.astype(np.float64), b.astype(np.float64)
    return np.tanh(a * 1.5 + b) / (1 + np.exp(-b)) + np.maximum(a - b, 0) * 0.5


@pytest.mark.parametrize("name,shape", [("w2_big", (300, 1000)), ("w2_odd", (3, 37))])
def test_w2_chain(kernels, name, shape):
    a, b = randn(*shape), randn(*shape)
    out = np.full(shape, np.nan, np.float32)
    call(kernels[name], [a, b, out])
    np.testing.assert_allclose(out, w2_ref(a, b), rtol=2e-6, atol=2e-6)


def test_broadcast_and_bool_output(kernels):
    a, b = randn(5, 1, 7), randn(3, 7)
    d, lt = np.empty((5, 3, 7), np.float32), np.empty((5, 3, 7), bool)
    call(kernels["bcast"], [a, b, d, lt])
    np.testing.assert_array_equal(d, a - b)
    np.testing.assert_array_equal(lt, a < b)


def test_strided_operand(kernels):
    base, v = randn(23, 19), randn(23)
    out = np.empty((19, 23), np.float32)
    call(kernels["transposed"], [base, v, out])  # operand 0 is base.T, read through strides
    np.testing.assert_array_equal(out, base.T * v)


def test_where_and_casts(kernels):
    cond = rng.random(50) < 0.5
    f = (randn(50) * 1e9).astype(np.float32)
    f[:3] = [np.nan, 3e10, -3e10]
    i = rng.integers(-100, 100, 50).astype(np.int32)
    out, as_int = np.empty(50, np.float32), np.empty(50, np.int32)
    call(kernels["where_cast"], [cond, f, i, out, as_int])
    np.testing.assert_array_equal(out, np.where(cond, f, i.astype(np.float32)))
    # saturating conversion: NaN -> 0, out of range -> int32 limits
    expect = np.clip(np.nan_to_num(f.astype(np.float64), nan=0), -2**31, 2**31 - 1)
    np.testing.assert_array_equal(as_int, np.trunc(expect).astype(np.int64))


def test_int_ops_follow_numpy(kernels):
    a = rng.integers(-50, 50, 40).astype(np.int32)
    b = rng.integers(-7, 8, 40).astype(np.int32)
    b[b == 0] = 3
    outs = [np.empty(40, np.int32) for _ in range(4)]
    call(kernels["ints"], [a, b, *outs])
    for o, ref in zip(outs, (a // b, a % b, np.maximum(a, b), a * b)):
        np.testing.assert_array_equal(o, ref)


@pytest.mark.parametrize("dt", ["float16", "float32", "float64"])
def test_float_floor_divide_and_mod_are_numpys(kernels, dt):
    """Bit for bit NumPy's (C fmod based): 1 // 0.1 is 9 and 1 % 0.1 is 0.1, where
    floor(1 / 0.1) gives 10 and 0; signed zeros, infinities, NaN and division by zero."""
    specials = np.array(DIVMOD_SPECIALS, dt)
    a = np.concatenate([np.repeat(specials, len(specials)), randn(300, dtype=dt) * 10])
    b = np.concatenate([np.tile(specials, len(specials)), randn(300, dtype=dt)])
    outs = [np.empty(DIVMOD_N, dt) for _ in range(2)]
    call(kernels[f"divmod_{dt}"], [a, b, *outs])
    with np.errstate(all="ignore"):
        refs = (a // b, a % b)
    for o, r in zip(outs, refs):
        np.testing.assert_array_equal(o.view(f"u{o.itemsize}"), r.view(f"u{r.itemsize}"))


def test_unary_ops(kernels):
    a = randn(33) * 3
    a[:4] = [0.0, -0.0, 2.5, -1.5]
    pos = np.abs(a) + 0.1
    outs = [np.empty(33, np.float32) for _ in range(10)]
    call(kernels["unary"], [a, *outs])
    with np.errstate(invalid="ignore", divide="ignore"):
        refs = [np.abs(a), np.sign(a), np.sqrt(a), 1 / np.sqrt(a), np.floor(a), np.round(a),
                a * a, -a, np.log1p(a.astype(np.float64)), None]
    for k, (o, r) in enumerate(zip(outs[:9], refs)):
        np.testing.assert_allclose(o, r, rtol=3e-7, equal_nan=True, err_msg=str(k))
    del pos


def test_minimum_maximum_against_a_constant_keep_nan_and_inf(kernels):
    """min/max against a number take one compare-select: NaN and infinities as NumPy."""
    a = np.array([np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 1.5, -1.0, 2.0, -2.0, 1e-40,
                  -1e-40] * 2, np.float32)
    outs = [np.empty_like(a) for _ in range(4)]
    call(kernels["clamp_const"], [a, *outs])
    expect = [np.maximum(a, 0), np.minimum(1.5, a), np.maximum(-1.0, a), np.minimum(a, -0.5)]
    for o, r in zip(outs, expect):
        np.testing.assert_array_equal(o, r)


@pytest.mark.parametrize("dt", ["int8", "int16", "int32", "int64"])
def test_int_min_floor_divide_by_minus_one_wraps(kernels, dt):
    """MIN // -1 overflows: NumPy wraps to MIN (and MIN % -1 is 0); a bare sdiv traps."""
    lo = np.iinfo(dt).min
    a = np.array([lo, lo, lo + 1, 7, -7, lo], dt)
    b = np.array([-1, 1, -1, -1, -1, 0], dt)
    outs = [np.empty(6, dt) for _ in range(2)]
    call(kernels[f"min_div_{dt}"], [a, b, *outs])
    with np.errstate(all="ignore"):
        refs = (a // b, a % b)
    for o, r in zip(outs, refs):
        np.testing.assert_array_equal(o, r)


def test_power_of_minus_one_and_minus_inf(kernels):
    """C pow's special cases: (-1)^+-inf is 1, (-inf)^y for non-integer y is 0 or inf."""
    a = np.array([-1, -1, -np.inf, -np.inf, -np.inf, -np.inf, -np.inf, -2, -0.5, -1, 1, -2],
                 np.float32)
    b = np.array([np.inf, -np.inf, 2.5, -2.5, 3, -3, np.inf, np.inf, np.inf, 2.5, np.inf, 0.5],
                 np.float32)
    out = np.empty(12, np.float32)
    call(kernels["power_specials"], [a, b, out])
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(out, np.power(a, b))


@pytest.mark.parametrize("dt", ["float16", "float32", "float64"])
def test_minimum_maximum_signed_zero_ties_are_numpys(kernels, dt):
    """Bit for bit NumPy's: maximum(0.0, -0.0) is -0.0 in float32 (maxps gives the second
    operand on a tie) and 0.0 in float16 (its loop gives the first); NaN propagates."""
    a = np.array([0.0, -0.0, 0.0, -0.0, np.nan, 1.0, np.nan, -1.0], dt)
    b = np.array([-0.0, 0.0, 0.0, -0.0, 1.0, np.nan, np.nan, -1.0], dt)
    outs = [np.empty(8, dt) for _ in range(6)]
    call(kernels[f"minmax_{dt}"], [a, b, *outs])
    zero = np.zeros((), dt)
    refs = [f(*args) for f in (np.maximum, np.minimum) for args in ((a, b), (a, zero), (zero, a))]
    for k, (o, r) in enumerate(zip(outs, refs)):
        nan = np.isnan(r)
        np.testing.assert_array_equal(np.isnan(o), nan, err_msg=str(k))
        np.testing.assert_array_equal(o[~nan].view(f"u{o.itemsize}"),
                                      r[~nan].view(f"u{r.itemsize}"), err_msg=str(k))


def test_float64_to_float16_is_correctly_rounded(kernels):
    """No instruction (nor linked libcall) narrows double to half: NumPy's rounding, bit
    for bit, including values just off a half-way point, subnormals and overflow."""
    h = randn(18).astype(np.float16).astype(np.float64)
    half_ulp = np.spacing(h.astype(np.float16)).astype(np.float64) / 2
    a = np.concatenate([h + half_ulp, h + half_ulp * (1 + 2 ** -30),
                        h - half_ulp * (1 - 2 ** -30),
                        [65519.99, 65520.0, 1e300, 2 ** -25, 2 ** -25 * (1 + 1e-12), -0.0,
                         np.inf, np.nan, 1e-320, -1e-7]])
    out = np.empty(64, np.float16)
    call(kernels["f64_to_f16"], [a, out])
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(out.view(np.uint16), a.astype(np.float16).view(np.uint16))


def test_float16_power_is_numpys(kernels):
    a = np.array([1.5, 2.0, -3.0, 0.1, 7.0, 0.5, -0.5, 3.3], np.float16)
    b = np.array([1.5, -2.0, 3.0, 2.2, 3.7, 0.5, 2.0, -1.1], np.float16)
    out = np.empty(8, np.float16)
    call(kernels["power_f16"], [a, b, out])
    np.testing.assert_array_equal(out, np.power(a, b))


def test_power(kernels):
    a = np.array([2, -2, -2, 0, 0, 0, 1.5, -1.5, 4, 9, 1, np.nan, 3, -8, 0.5, 10], np.float32)
    b = np.array([3, 3, 2, 2, 0, -1, 2.5, 0.5, 0.5, -0.5, np.nan, 0, -2, 1 / 3, 10, 30],
                 np.float32)
    p, sq = np.empty(16, np.float32), np.empty(16, np.float32)
    call(kernels["power"], [a, b, p, sq])
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(p, np.power(a, b), rtol=2e-7, equal_nan=True)
    np.testing.assert_array_equal(sq, a * a)


def test_float64(kernels):
    a = rng.standard_normal(21) * 5
    out = np.empty(21)
    call(kernels["f64"], [a, out])
    np.testing.assert_allclose(out, np.exp(-a), rtol=3e-16)


def test_zero_dim(kernels):
    a, b = np.array(3.0, np.float32), np.array(4.0, np.float32)
    out = np.empty((), np.float32)
    call(kernels["scalar_out"], [a, b, out])
    assert out == np.float32(0.75)


def test_collapse_merges_contiguous_dims():
    shape, strides = collapse((4, 5, 6), [[30, 6, 1], [0, 6, 1]])
    assert shape == [4, 30] and strides == [[30, 1], [0, 1]]
    shape, strides = collapse((4, 5, 6), [[30, 6, 1], [30, 6, 1]])
    assert shape == [120] and strides == [[1], [1]]


def test_bad_broadcast_names_shapes():
    from llvmlite import ir
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(5, 4\)"):
        emit_elementwise(ir.Module(), "bad", [Operand((3, 4), F)], [x], (5, 4))
    with pytest.raises(ValueError, match="unsupported op 'frobnicate'"):
        ex.apply("frobnicate", x)


# -- streaming (non-temporal) stores for outputs bigger than the cache ---------------------

# 8.5 MB of float32 output (above STREAM_MIN_BYTES) in rows (a broadcast operand keeps the
# dims apart) of an odd length: each row peels to an aligned address (or falls back to
# normal stores) on its own and ends in a masked step.
BIG = (1031, 2053)
LONG = (1 << 21) + 5   # one row (8 MB + 20 bytes), split along the row across threads
STREAM_KERNELS = {
    "big": lambda m, n: emit_elementwise(
        m, n, [Operand(BIG, F), Operand(BIG[1:], F)],
        [ex.apply("subtract", x, y), ex.apply("maximum", x, y), ex.apply("less", x, y)],
        BIG),
    "long": lambda m, n: emit_elementwise(m, n, [Operand((LONG,), F)] * 2, [W2], (LONG,)),
    "bcast_big": lambda m, n: emit_elementwise(
        m, n, [Operand(BIG, F), Operand((BIG[1],), F)], [ex.apply("multiply", x, y)], BIG),
}


def _is_x86():
    from graphkit.codegen.target import host_target
    return host_target().triple.startswith("x86_64")


@pytest.fixture(scope="module")
def stream_kernels():
    return compile_kernels(STREAM_KERNELS)[0]


def _at(offset, shape, dtype):
    """An uninitialized array whose data starts `offset` bytes past a 64-byte boundary
    (an offset that is not a multiple of the itemsize gives a misaligned array)."""
    dtype = np.dtype(dtype)
    n = int(np.prod(shape)) * dtype.itemsize
    raw = np.empty(n + 128, np.uint8)
    start = (-raw.ctypes.data) % 64 + offset
    view = raw[start:start + n].view(dtype).reshape(shape)
    view[...] = 0 if dtype == bool else np.nan
    return view


def test_big_outputs_use_streaming_stores():
    from llvmlite import ir

    from graphkit.codegen import pipeline
    from graphkit.codegen.elementwise import STREAM_MIN_BYTES
    big, small = ir.Module(name="big"), ir.Module(name="small")
    STREAM_KERNELS["big"](big, "k")
    # at the threshold, not above it; and many short rows: normal stores
    emit_elementwise(small, "k", [Operand((STREAM_MIN_BYTES // 4,), F)], [x],
                     (STREAM_MIN_BYTES // 4,))
    emit_elementwise(small, "k2", [Operand((1 << 20, 7), F), Operand((7,), F)],
                     [ex.apply("add", x, y)] * 2, (1 << 20, 7))
    # big but compute-bound (a transcendental): normal stores
    emit_elementwise(small, "k3", [Operand((1 << 22,), F)], [ex.apply("tanh", x)],
                     (1 << 22,))
    text, small_text = str(big), str(small)
    assert ("!nontemporal" in text and "llvm.x86.sse.sfence" in text) == _is_x86()
    assert "!nontemporal" not in small_text and "sfence" not in small_text
    if _is_x86():  # LLVM kept the streaming store (it drops one it cannot prove aligned)
        asm = pipeline.emit_assembly(pipeline.optimize(pipeline.parse(text, "big")))
        assert "vmovntps" in asm and "sfence" in asm


@pytest.mark.parametrize("out_offsets", [(0, 0, 0), (16, 16, 16), (4, 36, 9), (60, 8, 1),
                                         (2, 0, 0), (0, 6, 3)])
@pytest.mark.parametrize("in_offset", [0, 16, 52])
def test_streamed_outputs_are_exact(stream_kernels, out_offsets, in_offset):
    """Every alignment of the outputs (relative to each other and to the inputs, element-
    misaligned ones included) gives NumPy's results: streamed, peeled, or the fallback."""
    a, b = _at(in_offset, BIG, F), _at(in_offset + 4, BIG[1:], F)
    a[...], b[...] = randn(*BIG), randn(*BIG[1:])
    d, mx, lt = (_at(o, BIG, dt) for o, dt in zip(out_offsets, (F, F, bool)))
    call(stream_kernels["big"], [a, b, d, mx, lt])
    np.testing.assert_array_equal(d, a - b)
    np.testing.assert_array_equal(mx, np.maximum(a, b))
    np.testing.assert_array_equal(lt, a < b)


@pytest.mark.parametrize("out_offset", [0, 12, 16, 40])
def test_streamed_long_row(stream_kernels, out_offset):
    a, b = randn(LONG), randn(LONG)
    out = _at(out_offset, (LONG,), F)
    call(stream_kernels["long"], [a, b, out])
    np.testing.assert_allclose(out, w2_ref(a, b), rtol=2e-6, atol=2e-6)


def test_streamed_in_place_and_broadcast(stream_kernels):
    a, v = _at(16, BIG, F), randn(BIG[1])
    a[...] = randn(*BIG)
    want = a * v
    call(stream_kernels["bcast_big"], [a, v, a])   # the output is operand 0's buffer
    np.testing.assert_array_equal(a, want)
    out = _at(20, BIG, F)
    call(stream_kernels["bcast_big"], [a, v, out])
    np.testing.assert_array_equal(out, want * v)
