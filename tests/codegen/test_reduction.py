"""Reduction kernels against NumPy: row and column layouts, prologue and epilogue."""
import numpy as np
import pytest

from graphkit.codegen import expr as ex
from graphkit.codegen.elementwise import Operand
from graphkit.codegen.reduction import emit_reduction

from .helpers import call, compile_kernels

F = "float32"
x = ex.input(0, F)
CASES = {
    "rows_sum": ((256, 10), (1,), "sum"),
    "cols_max": ((37, 19), (0,), "max"),
    "mixed_sum": ((4, 5, 33), (0, 2), "sum"),
    "all_min": ((1000,), (0,), "min"),
    "mid_prod": ((6, 7, 8), (1,), "prod"),
    "big_rows": ((600, 700), (1,), "sum"),
    "big_cols": ((600, 700), (0,), "sum"),
}


def _emitters():
    em = {name: (lambda m, n, s=s, a=a, o=o: emit_reduction(
        m, n, [Operand(s, F)], x, s, a, o)) for name, (s, a, o) in CASES.items()}
    # log-sum-exp: prologue exp(x - max) with a broadcast max, epilogue log(s) + max
    em["lse"] = lambda m, n: emit_reduction(
        m, n, [Operand((64, 10), F), Operand((64, 1), F)],
        ex.apply("exp", ex.apply("subtract", x, ex.input(1, F))), (64, 10), (1,), "sum",
        epilogue=ex.apply("add", ex.apply("log", ex.input(0, F)), ex.input(1, F)),
        epilogue_operands=[Operand((64,), F)])
    em["mean"] = lambda m, n: emit_reduction(
        m, n, [Operand((8, 50), F)], x, (8, 50), (0,), "sum",
        epilogue=ex.apply("multiply", ex.input(0, F), ex.constant(1 / 8, F)))
    em["int_sum"] = lambda m, n: emit_reduction(
        m, n, [Operand((10, 9), "int32")], ex.input(0, "int32"), (10, 9), (1,), "sum")
    em["nan_max"] = lambda m, n: emit_reduction(
        m, n, [Operand((40,), F)], x, (40,), (0,), "max")
    return em


@pytest.fixture(scope="module")
def reducers():
    return compile_kernels(_emitters())[0]


rng = np.random.default_rng(3)


@pytest.mark.parametrize("name", list(CASES))
def test_matches_numpy(reducers, name):
    shape, axes, op = CASES[name]
    a = rng.standard_normal(shape).astype(np.float32)
    if op == "prod":
        a = (1 + 0.1 * a).astype(np.float32)
    ref = getattr(np, op)(a.astype(np.float64), axis=axes)
    out = np.full(ref.shape, np.nan, np.float32)
    call(reducers[name], [a, out])
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5 * np.sqrt(a.size / out.size))


def test_fused_logsumexp(reducers):
    a = rng.standard_normal((64, 10)).astype(np.float32) * 10
    m = a.max(1, keepdims=True)
    out = np.empty(64, np.float32)
    call(reducers["lse"], [a, m, np.ascontiguousarray(m[:, 0]), out])
    ref = np.log(np.exp(a.astype(np.float64) - m).sum(1)) + m[:, 0]
    np.testing.assert_allclose(out, ref, rtol=1e-6)


def test_mean_epilogue_and_ints(reducers):
    a = rng.standard_normal((8, 50)).astype(np.float32)
    out = np.empty(50, np.float32)
    call(reducers["mean"], [a, out])
    np.testing.assert_allclose(out, a.mean(0), rtol=1e-6, atol=1e-7)
    i = rng.integers(-1000, 1000, (10, 9)).astype(np.int32)
    s = np.empty(10, np.int32)
    call(reducers["int_sum"], [i, s])
    np.testing.assert_array_equal(s, i.sum(1))


def test_max_propagates_nan(reducers):
    a = rng.standard_normal(40).astype(np.float32)
    a[17] = np.nan
    out = np.empty((), np.float32)
    call(reducers["nan_max"], [a, out])
    assert np.isnan(out)
