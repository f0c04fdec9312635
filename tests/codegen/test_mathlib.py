"""Error bounds of the vectorizable math functions, in ulps, over wide input ranges and
special values. References: float64 NumPy for float32 results; x87 long double for float64."""
import ctypes
import zlib

import numpy as np
import pytest
from llvmlite import ir

from graphkit.codegen.build import build
from graphkit.codegen.llvm_types import F32, F64, I64, PTR, VOID, vector_of
from graphkit.codegen.mathlib import FUNCTIONS, ULP_BOUNDS, MathLib, two_over_pi_words

LONG_DOUBLE_OK = np.finfo(np.longdouble).nmant >= 63


def _module(dtype, lanes):
    m = ir.Module(name=f"math_{dtype}_{lanes}")
    ml = MathLib(m)
    st = F32 if dtype == "float32" else F64
    vt = vector_of(st, lanes)
    for name in FUNCTIONS:
        fn = ir.Function(m, ir.FunctionType(VOID, [PTR, PTR, I64]), f"apply_{name}")
        b = ir.IRBuilder(fn.append_basic_block())
        i_ptr = b.alloca(I64)
        b.store(I64(0), i_ptr)
        head, body, done = (fn.append_basic_block() for _ in range(3))
        b.branch(head)
        b.position_at_end(head)
        i = b.load(i_ptr, typ=I64)
        b.cbranch(b.icmp_signed("<", i, fn.args[2]), body, done)
        b.position_at_end(body)
        x = b.load(b.gep(fn.args[0], [i], source_etype=st), typ=vt, align=1)
        b.store(ml.call(b, name, x), b.gep(fn.args[1], [i], source_etype=st), align=1)
        b.store(b.add(i, I64(lanes)), i_ptr)
        b.branch(head)
        b.position_at_end(done)
        b.ret_void()
    lib = build(m, [f"apply_{n}" for n in FUNCTIONS], label="mathtest")
    return {n: lib.function(f"apply_{n}", None, ctypes.c_void_p, ctypes.c_void_p,
                            ctypes.c_int64) for n in FUNCTIONS}


@pytest.fixture(scope="session")
def math_fns():
    return {("float32", 16): _module("float32", 16), ("float32", 1): _module("float32", 1),
            ("float64", 8): _module("float64", 8)}


def run(fn, x, lanes):
    pad = (-len(x)) % lanes
    xp = np.concatenate([x, np.zeros(pad, x.dtype)])
    y = np.empty_like(xp)
    fn(xp.ctypes.data, y.ctypes.data, len(xp))
    return y[:len(x)]


def erf_long_double(x):
    """erf by the everywhere-positive series 2x/sqrt(pi) e^{-x^2} sum (2x^2)^n/(2n+1)!!."""
    x = np.asarray(x, np.longdouble)
    a = np.abs(x)
    out = np.ones_like(a)
    small = a <= 6.5
    t = a[small]
    z = 2 * t * t
    term, total = np.ones_like(t), np.ones_like(t)
    for n in range(1, 220):
        term = term * z / (2 * n + 1)
        total = total + term
    out[small] = 2 * t / np.sqrt(np.pi * np.longdouble(1)) * np.exp(-t * t) * total
    out = np.where(np.isnan(x), np.nan, out)
    return np.copysign(out, x)


def reference(name, x):
    wide = np.longdouble if x.dtype == np.float64 else np.float64
    xw = x.astype(wide)
    with np.errstate(all="ignore"):
        table = {"exp": np.exp, "log": np.log, "log1p": np.log1p, "tanh": np.tanh,
                 "sigmoid": lambda v: 1 / (1 + np.exp(-v)), "sin": np.sin, "cos": np.cos,
                 "erf": erf_long_double}
        return table[name](xw)


def ulp_error(y, ref, dtype):
    """|y - ref| in ulps of `dtype` at ref; results equal after rounding ref count as 0."""
    fi = np.finfo(dtype)
    with np.errstate(all="ignore"):
        refd = ref.astype(dtype)
        exact = (y == refd) | (np.isnan(y) & np.isnan(refd))
        r = np.abs(ref.astype(np.longdouble))
        ulp = np.exp2(np.floor(np.log2(np.maximum(r, np.longdouble(fi.tiny)))) - fi.nmant)
        err = np.abs(y.astype(np.longdouble) - ref.astype(np.longdouble)) / ulp
    err = np.where(exact, 0, err)
    return np.where(np.isnan(err), np.inf, err).astype(np.float64)


def sample(dtype, seed):
    rng = np.random.default_rng(seed)
    fi = np.finfo(dtype)
    dense = rng.uniform(-12, 12, 20000)
    lo, hi = np.log(float(fi.smallest_subnormal)), np.log(float(fi.max))
    wide = np.exp(rng.uniform(lo, hi, 20000)) * rng.choice([-1, 1], 20000)
    special = [0.0, -0.0, np.inf, -np.inf, np.nan, fi.tiny, -fi.tiny, fi.tiny / 3,
               float(fi.smallest_subnormal), fi.max, -fi.max, 1.0, -1.0, 0.625, -0.625,
               88.72, -87.3, -103.9, 709.7, -745.0, 1e-30, -1e-30, 2.0 ** 19 * 1.5707963,
               3.0e8, 1e22, 0.9999, -0.9999]
    with np.errstate(over="ignore"):
        return np.concatenate([dense, wide, special]).astype(dtype)


CASES = [("float32", 16), ("float32", 1), ("float64", 8)]


@pytest.mark.parametrize("dtype,lanes", CASES)
@pytest.mark.parametrize("name", FUNCTIONS)
def test_ulp_bound(math_fns, name, dtype, lanes):
    if dtype == "float64" and not LONG_DOUBLE_OK:
        pytest.skip("float64 references need an extended-precision long double")
    x = sample(dtype, seed=zlib.crc32(name.encode()))  # hash() is salted per process
    y = run(math_fns[(dtype, lanes)][name], x, lanes)
    err = ulp_error(y, reference(name, x), dtype)
    worst = int(np.argmax(err))
    assert err.max() <= ULP_BOUNDS[dtype][name], (
        f"{name}[{dtype}] {err.max():.3g} ulp at x={x[worst]!r}: got {y[worst]!r}")


@pytest.mark.parametrize("dtype,lanes", CASES)
def test_special_values_exact(math_fns, dtype, lanes):
    fns = math_fns[(dtype, lanes)]
    inf, nan = np.inf, np.nan
    expected = {
        "exp": {0.0: 1.0, -inf: 0.0, inf: inf, 1000.0: inf, -1000.0: 0.0},
        "log": {1.0: 0.0, 0.0: -inf, -0.0: -inf, inf: inf, -1.0: nan, -inf: nan},
        "log1p": {0.0: 0.0, -1.0: -inf, inf: inf, -2.0: nan},
        "tanh": {0.0: 0.0, inf: 1.0, -inf: -1.0, 50.0: 1.0},
        "sigmoid": {0.0: 0.5, inf: 1.0, -inf: 0.0},
        "erf": {0.0: 0.0, inf: 1.0, -inf: -1.0, 10.0: 1.0},
        "sin": {0.0: 0.0, inf: nan, -inf: nan},
        "cos": {0.0: 1.0, inf: nan, -inf: nan},
    }
    for name, table in expected.items():
        x = np.array(list(table) + [nan], dtype)
        y = run(fns[name], x, lanes)
        want = np.array(list(table.values()) + [nan], dtype)
        np.testing.assert_array_equal(y, want, err_msg=name)
    for name in ("tanh", "erf", "sin", "log1p"):  # odd functions keep the sign of zero
        y = run(fns[name], np.array([-0.0], dtype), lanes)
        assert y[0] == 0 and np.signbit(y[0]), name


NAN_BITS = {"float32": [0x7FC00000, 0xFFC00000, 0x7F800001, 0x7FBFFFFF, 0x7FC0FFFF,
                        0xFFFFFFFF],
            "float64": [0x7FF8000000000000, 0xFFF8000000000000, 0x7FF0000000000001,
                        0x7FF7FFFFFFFFFFFF, 0x7FF800000000FFFF, 0xFFFFFFFFFFFFFFFF]}


@pytest.mark.parametrize("dtype,lanes", CASES)
def test_nan_payloads_give_nan(math_fns, dtype, lanes):
    """exp, tanh and sigmoid build 2^n from the bits of x/ln2 even in NaN lanes (no select
    restores NaN): whatever the NaN's sign and payload, the result must be NaN."""
    itype = np.uint32 if dtype == "float32" else np.uint64
    x = np.array(NAN_BITS[dtype], itype).view(dtype)
    for name in FUNCTIONS:
        y = run(math_fns[(dtype, lanes)][name], x, lanes)
        assert np.isnan(y).all(), (name, y)


def test_two_over_pi_bits():
    words = two_over_pi_words(3)
    frac = (words[0] << 64) | (words[1] << 32) | words[2]
    assert abs(frac / 2.0 ** 96 - 2 / np.pi) < 1e-15
    assert words[0] == 0xA2F9836E  # the well-known leading bits of 2/pi
