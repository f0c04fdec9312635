"""Philox bits match graphkit.ops.random bit for bit; entry functions and the thread pool."""
import ctypes

import numpy as np
import pytest
from llvmlite import ir

from graphkit.codegen import expr as ex
from graphkit.codegen import parallel
from graphkit.codegen.build import build
from graphkit.codegen.elementwise import Operand, emit_elementwise
from graphkit.codegen.philox import emit_random_bits
from graphkit.codegen.runtime import Arena, BoundCall, Step, emit_entry
from graphkit.ops.random import bits_to_unit_float, philox_stream

from .helpers import call, compile_kernels


@pytest.fixture(scope="module")
def philox():
    em = {f"bits_{n}": (lambda m, name, n=n: emit_random_bits(m, name, (n,)))
          for n in (1, 7, 64, 1000, 100003)}
    em["unit"] = lambda m, n: emit_elementwise(
        m, n, [Operand((1000,), "uint32")],
        [ex.apply("bits_to_unit_float", ex.input(0, "uint32"), dtype="float32"),
         ex.apply("bits_to_unit_float", ex.input(0, "uint32"), dtype="float64")], (1000,))
    return compile_kernels(em)[0]


@pytest.mark.parametrize("n", [1, 7, 64, 1000, 100003])
def test_random_bits_match_numpy(philox, n):
    key = np.array([0xDEADBEEF, 12345], np.uint32)
    out = np.zeros(n, np.uint32)
    call(philox[f"bits_{n}"], [key, out])
    np.testing.assert_array_equal(out, philox_stream(key, n))


def test_unit_float_matches_numpy(philox):
    bits = philox_stream(np.array([1, 2], np.uint32), 1000)
    f32, f64 = np.empty(1000, np.float32), np.empty(1000, np.float64)
    call(philox["unit"], [bits, f32, f64])
    np.testing.assert_array_equal(f32, np.asarray(bits_to_unit_float(bits, "float32")))
    np.testing.assert_array_equal(f64, np.asarray(bits_to_unit_float(bits, "float64")))


def test_entry_runs_kernels_in_order_with_bound_pointers():
    m = ir.Module(name="entry_test")
    x = ex.input(0, "float32")
    emit_elementwise(m, "k_exp", [Operand((32,), "float32")], [ex.apply("exp", x)], (32,))
    emit_elementwise(m, "k_add", [Operand((32,), "float32")] * 2,
                     [ex.apply("add", x, ex.input(1, "float32"))], (32,))
    emit_entry(m, "step", [Step("k_exp", (0, 2)), Step("k_add", (2, 0, 1))], n_slots=3)
    lib = build(m, ["step"], label="entry")
    arena = Arena(1024)
    inp, out = np.linspace(-1, 1, 32).astype(np.float32), np.empty(32, np.float32)
    tmp = arena.view(128, (32,), np.float32)
    bound = BoundCall(lib.function("step", None, ctypes.c_void_p),
                      [inp, out, arena.pointer(128)])
    bound()
    np.testing.assert_allclose(tmp, np.exp(inp), rtol=2e-7)
    np.testing.assert_allclose(out, np.exp(inp) + inp, rtol=2e-7, atol=2e-7)
    inp2 = np.ones(32, np.float32)
    bound.rebind(0, inp2)
    bound()
    np.testing.assert_allclose(out, np.e + 1, rtol=2e-7)


def test_entry_rejects_unknown_kernel():
    with pytest.raises(ValueError, match="no kernel 'nope'"):
        emit_entry(ir.Module(), "step", [Step("nope", (0,))], n_slots=1)


def test_parallel_kernel_same_result_with_and_without_pool():
    shape = (512, 700)  # big enough to take the parallel path
    m = ir.Module(name="pool_test")
    x = ex.input(0, "float32")
    spec = emit_elementwise(m, "k", [Operand(shape, "float32")],
                            [ex.apply("tanh", x)], shape)
    assert spec.parallel
    fn = build(m, ["k"]).function("k", None, ctypes.c_void_p)
    a = np.random.default_rng(4).standard_normal(shape).astype(np.float32)
    pooled, serial = np.empty_like(a), np.empty_like(a)
    call(fn, [a, pooled])
    parallel.stop()
    try:
        call(fn, [a, serial])
    finally:
        parallel.restart()
    np.testing.assert_array_equal(pooled, serial)
    np.testing.assert_allclose(pooled, np.tanh(a.astype(np.float64)), rtol=3e-7, atol=1e-7)
