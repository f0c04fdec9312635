"""A product of two quotient-valued math functions (tanh(u) * sigmoid(v), ...) is lowered as
one division (expr.Lowerer, mathlib.QUOTIENTS): accuracy against float64 (float32 results)
or x87 long double (float64 results) NumPy, over wide inputs and special values."""
import itertools
import zlib

import numpy as np
import pytest
from llvmlite import ir

from graphkit.codegen import expr as ex
from graphkit.codegen.elementwise import Operand, emit_elementwise
from graphkit.codegen.mathlib import PRODUCT_ULP_BOUND, has_quotient

from .helpers import call, compile_kernels
from .test_mathlib import LONG_DOUBLE_OK, ulp_error

N = 40_000
PAIRS = [("tanh", "sigmoid", "float32"), ("sigmoid", "tanh", "float32"),
         ("tanh", "tanh", "float32"), ("sigmoid", "sigmoid", "float32"),
         ("sigmoid", "sigmoid", "float64")]


def _product(f, g, dt):
    u, v = ex.input(0, dt), ex.input(1, dt)
    return ex.apply("multiply", ex.apply(f, u), ex.apply(g, v))


def _emitter(f, g, dt):
    return lambda m, n: emit_elementwise(m, n, [Operand((N,), dt)] * 2, [_product(f, g, dt)],
                                         (N,))


@pytest.fixture(scope="module")
def kernels():
    return compile_kernels({f"{f}_{g}_{dt}": _emitter(f, g, dt) for f, g, dt in PAIRS})[0]


def _reference(name, x):
    with np.errstate(all="ignore"):
        return np.tanh(x) if name == "tanh" else 1 / (1 + np.exp(-x))


def _special(dt):
    fi = np.finfo(dt)
    return np.array([0.0, -0.0, np.inf, -np.inf, np.nan, float(fi.tiny), -float(fi.tiny),
                     float(fi.smallest_subnormal), -float(fi.smallest_subnormal), 1e-30,
                     -1e-30, 0.5, -0.5, 1.0, -1.0, 9.0, -9.0, 9.5, -9.5, 20.0, -20.0, 88.0,
                     -88.0, -100.0, -104.0, -110.0, -745.0, -750.0, 1e30, -1e30,
                     float(fi.max), -float(fi.max)], dt)


def _inputs(dt, seed):
    """Random pairs over the functions' interesting ranges, then every pair of specials."""
    rng = np.random.default_rng(seed)
    fi = np.finfo(dt)
    lo = np.log(float(fi.smallest_subnormal))
    cols = []
    for _ in range(2):
        dense = rng.uniform(-12, 12, N // 2)
        wide = np.exp(rng.uniform(lo, np.log(800.0), N // 2)) * rng.choice([-1, 1], N // 2)
        col = np.concatenate([dense, wide])
        rng.shuffle(col)
        cols.append(col)
    special = _special(dt)
    grid = np.array(list(itertools.product(special, special)))
    k = len(grid)
    cols[0][:k], cols[1][:k] = grid[:, 0], grid[:, 1]
    return cols[0].astype(dt), cols[1].astype(dt)


@pytest.mark.parametrize("f,g,dt", PAIRS)
def test_product_ulp_bound(kernels, f, g, dt):
    if dt == "float64" and not LONG_DOUBLE_OK:
        pytest.skip("float64 references need an extended-precision long double")
    assert has_quotient(f, dt) and has_quotient(g, dt)
    u, v = _inputs(dt, zlib.crc32(f"{f}{g}{dt}".encode()))
    out = np.full(N, 7.0, dt)
    call(kernels[f"{f}_{g}_{dt}"], [u, v, out])
    wide = np.longdouble if dt == "float64" else np.float64
    ref = _reference(f, u.astype(wide)) * _reference(g, v.astype(wide))
    err = ulp_error(out, ref, dt)
    worst = int(np.argmax(err))
    bound = PRODUCT_ULP_BOUND[dt][f, g]
    assert err.max() <= bound, (
        f"{f}*{g}[{dt}] {err.max():.3g} ulp at u={u[worst]!r}, v={v[worst]!r}: "
        f"got {out[worst]!r}, want {ref[worst]!r}")
    zero = ref == 0  # zeros keep the sign of the separate product (tanh(-0) = -0)
    np.testing.assert_array_equal(np.signbit(out[zero]), np.signbit(ref[zero]))
    np.testing.assert_array_equal(np.isnan(out), np.isnan(ref))


def _fdivs(f, g, dt):
    module = ir.Module(name="count")
    emit_elementwise(module, "k", [Operand((64,), dt)] * 2, [_product(f, g, dt)], (64,))
    return str(module).count(" fdiv ")


def test_one_division_per_product():
    assert _fdivs("tanh", "sigmoid", "float32") == 1
    # float64 tanh is no quotient (a polynomial branch): two divisions, as written
    assert not has_quotient("tanh", "float64")
    assert _fdivs("tanh", "sigmoid", "float64") == 2
