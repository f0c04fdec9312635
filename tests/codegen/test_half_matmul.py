"""float16 GEMMs (matmul.py, conv.py): operands widened to float32 as read, float32
accumulation, one rounding to float16 per output, as NumPy's float16 matmul.

Error bounds against float64 NumPy on the same float16 inputs (u16 = 2^-11 the unit
roundoff of float16, eps32 = 2^-23 the machine epsilon of float32; products of float16
numbers are exact in float32):
- a product: the float32 sum of K terms errs by at most K * eps32 * sum|a||b|, its
  rounding to float16 by half an ulp of float16; bound 1 ulp16(|exact|) + K eps32 sum|a||b|.
- each further float16 op of a fused epilogue (the bias add) rounds once more: + 1 ulp16
  of its exact result (relu is exact and 1-Lipschitz).
- conv_input_grad: the patch matrix ct @ w^T is rounded to float16 and overlap-added in
  float16, as the eager kernel does: at most kprod roundings of sums bounded by
  S = input_grad(|ct|, |w|), so (kprod + 1) * 2 u16 * S + Cout eps32 S.
A float16 accumulation (each partial sum rounded to float16) misses the product bound
3-30 fold on these cases (simulated in NumPy); NumPy's own float16 matmul stays within
half of it.
"""
import numpy as np
import pytest

import graphkit as gk
from graphkit import layers
from graphkit.codegen import expr as ex
from graphkit.codegen.elementwise import Operand
from graphkit.codegen.matmul import (
    PREPACK_HEADER, MatmulShape, emit_matmul, transpose_a, transpose_b)
from graphkit.ops import nn
from graphkit.ops.primitive import bind

from .helpers import call, compile_kernels, workspace

H = "float16"
EPS32 = 2.0 ** -23
U16 = 2.0 ** -11
RNG = np.random.default_rng(11)

pytestmark = pytest.mark.usefixtures("no_fallback")


def ulp16(x):
    """The spacing of float16 at |x| (the float16 rounding of |x|; subnormals: 2^-24)."""
    return np.spacing(np.abs(np.asarray(x, np.float64)).astype(np.float16)).astype(np.float64)


def half(*shape):
    return RNG.standard_normal(shape).astype(np.float16)


def assert_within(got, exact, bound):
    assert got.dtype == np.float16
    err = np.abs(got.astype(np.float64) - exact)
    worst = np.max(err / bound)
    assert worst <= 1.0, f"error {worst:.2f} x the bound"


# -- the GEMM emitter --------------------------------------------------------------------------

CASES = {
    "edge": MatmulShape(13, 7, 5, dtype=H),
    "mid": MatmulShape(70, 129, 97, dtype=H),             # packed row-major B, remainders
    "narrow": MatmulShape(37, 23, 7, dtype=H),            # N within a vector: B in place
    "row": MatmulShape(1, 45, 70, dtype=H),               # one row: B read in place
    "b_rows": MatmulShape(14, 40, 16 * 20 + 5, dtype=H),  # unrolled packing, masked tail
    "long_k": MatmulShape(40, 2100, 9, dtype=H),          # several row blocks
    "b_blocks": MatmulShape(21, 2100, 200, dtype=H),      # B packed in L2-sized blocks
    "ta": transpose_a(MatmulShape(33, 45, 50, dtype=H)),  # x^T @ dy: A in place, M-contig.
    "tb": transpose_b(MatmulShape(20, 37, 45, dtype=H)),  # dy @ W^T: register transposes
    "batched": MatmulShape(9, 17, 40, batch=(2, 3), b_batch=(3,), dtype=H),
    "tb_batched": transpose_b(MatmulShape(6, 18, 35, batch=(2,), dtype=H)),
    # every other column of A and of B: A packed into panels, B packed by gathers
    "strided": MatmulShape(19, 21, 30, dtype=H, a_strides=(42, 2), b_strides=(60, 2)),
}


def _operands(shape):
    """(A as passed, B as passed, A (batch.., M, K), B (batch.., K, N)) for `shape`."""
    a_log, b_log = half(*shape.a_shape()), half(*shape.b_shape())
    a_arg, b_arg = a_log, b_log
    if shape.a_strides == (42, 2):             # the strided case: views of wider arrays
        a_arg = np.zeros((shape.m, 2 * shape.k), np.float16)
        a_arg[:, ::2] = a_log
        b_arg = np.zeros((shape.k, 2 * shape.n), np.float16)
        b_arg[:, ::2] = b_log
        return a_arg, b_arg, a_log, b_log
    if shape.a_strides is not None:            # stored transposed
        a_arg = np.ascontiguousarray(np.swapaxes(a_log, -1, -2))
    if shape.b_strides is not None:
        b_arg = np.ascontiguousarray(np.swapaxes(b_log, -1, -2))
    return a_arg, b_arg, a_log, b_log


def _product_bound(a, b):
    """(exact float64 product, the bound of a float16 product) for float16 a, b."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    exact = a64 @ b64
    return exact, ulp16(exact) + a.shape[-1] * EPS32 * (np.abs(a64) @ np.abs(b64))


@pytest.fixture(scope="module")
def gemms():
    emitters = {name: (lambda s: lambda mod, n: emit_matmul(mod, n, s))(s)
                for name, s in CASES.items()}
    return compile_kernels(emitters)


@pytest.mark.parametrize("case", list(CASES))
def test_float16_gemm_accumulates_in_float32(gemms, case):
    fns, specs = gemms
    shape = CASES[case]
    a_arg, b_arg, a, b = _operands(shape)
    c = np.full(shape.c_shape(), np.nan, np.float16)
    call(fns[case], [a_arg, b_arg, c, workspace(specs[case].workspace_bytes)])
    exact, bound = _product_bound(a, b)
    assert_within(c, exact, bound)


BIAS_RELU = ex.apply("maximum", ex.apply("add", ex.input(0, H), ex.input(1, H)),
                     ex.constant(0.0, H))


@pytest.mark.parametrize("m, k, n", [(20, 30, 70), (75, 300, 37), (5, 64, 3)])
def test_float16_gemm_fused_bias_relu(m, k, n):
    shape = MatmulShape(m, k, n, dtype=H)
    fns, specs = compile_kernels({"mm": lambda mod, name: emit_matmul(
        mod, name, shape, epilogue=BIAS_RELU, epilogue_operands=[Operand((n,), H)])})
    a, b, bias = half(m, k), half(k, n), half(n)
    c = np.empty((m, n), np.float16)
    call(fns["mm"], [a, b, bias, c, workspace(specs["mm"].workspace_bytes)])
    exact, bound = _product_bound(a, b)
    pre = exact + bias.astype(np.float64)
    assert_within(c, np.maximum(pre, 0.0), bound + ulp16(pre))


@pytest.mark.parametrize("m, k, n", [(13, 40, 70), (96, 128, 320)])
def test_float16_b_kept_packed_in_float32(m, k, n):
    """A float16 B kept packed (as float32 panels) across calls: reused for the same array
    and version, packed again from the new values after a version change."""
    shape = MatmulShape(m, k, n, dtype=H)
    fns, specs = compile_kernels({"mm": lambda mod, name: emit_matmul(
        mod, name, shape, prepacked_b=True)})
    spec = specs["mm"]
    panels = -(-n // spec.tile[1])
    assert spec.prepacked_bytes == PREPACK_HEADER + panels * k * spec.tile[1] * 4
    a, b = half(m, k), half(k, n)
    c = np.empty((m, n), np.float16)
    packed, version = workspace(spec.prepacked_bytes), np.array([3], np.int64)
    ws = workspace(spec.workspace_bytes)

    def run():
        call(fns["mm"], [a, b, c, packed, version, ws])
        return c.copy()
    first = run()
    assert_within(first, *_product_bound(a, b))
    b *= np.float16(-2.0)          # same array, same version: the kept panels are used
    np.testing.assert_array_equal(run(), first)
    version[0] += 1
    assert_within(run(), *_product_bound(a, b))


# -- conv -----------------------------------------------------------------------------------

def compiled(fn, *args):
    from graphkit.codegen.backend import LLVMExecutable
    jitted = gk.jit(fn, backend="llvm")
    out = jitted(*args)
    exe = next(iter(jitted._cache.values())).executable
    assert isinstance(exe, LLVMExecutable)
    assert exe.stats()["interpreted_kernels"] == []
    return [np.asarray(o) for o in gk.tree.flatten(out)]


# (x shape, kernel shape, strides, padding)
CONVS = {
    "1d_same": ((4, 32, 1), (3, 1, 4), (1,), "same"),            # the repro's Conv1D
    "2d_valid_direct": ((2, 9, 10, 3), (3, 3, 3, 5), (1, 1), "valid"),   # x read in place
    "2d_same_stride2": ((2, 9, 10, 6), (3, 3, 6, 33), (2, 2), "same"),   # N remainders
    "chunks": ((3, 22, 21, 16), (3, 3, 16, 40), (1, 1), "valid"),        # row chunks
}


def _conv_case(case):
    xs, ws, strides, padding = CONVS[case]
    dilation = (1,) * len(strides)
    pad = nn.resolve_padding(padding, xs[1:-1], ws[:-2], strides, dilation, "test")
    return xs, ws, dict(strides=strides, padding=pad, dilation=dilation, groups=1)


@pytest.mark.parametrize("case", list(CONVS))
def test_float16_conv_bias_relu(case):
    xs, ws, attrs = _conv_case(case)
    x, w, bias = half(*xs), half(*ws), half(ws[-1])
    got, = compiled(lambda x, w, bias: gk.ops.relu(bind(nn.CONV, x, w, **attrs) + bias),
                    x, w, bias)
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    exact = nn._conv_kernel(x64, w64, **attrs)
    pre = exact + bias.astype(np.float64)
    k = int(np.prod(ws[:-1]))
    bound = (ulp16(exact) + k * EPS32 * nn._conv_kernel(np.abs(x64), np.abs(w64), **attrs)
             + ulp16(pre))
    assert_within(got, np.maximum(pre, 0.0), bound)


@pytest.mark.parametrize("case", list(CONVS) + ["whole_patch_matrix"])
def test_float16_conv_grads(case, monkeypatch):
    if case == "whole_patch_matrix":   # conv_input_grad's fallback: one float16 GEMM + col2im
        from graphkit.codegen import conv as cv
        monkeypatch.setattr(cv, "INPUT_GRAD_CHUNK_BYTES", 0)
        case = "2d_same_stride2"
    xs, ws, attrs = _conv_case(case)
    x, w = half(*xs), half(*ws)
    ct = half(*nn._conv_kernel(x, w, **attrs).shape)

    def fn(x, w, ct):
        return (bind(nn.CONV_INPUT_GRAD, ct, w, input_spatial=tuple(xs[1:-1]), **attrs),
                bind(nn.CONV_FILTER_GRAD, x, ct, kernel_spatial=tuple(ws[:-2]), **attrs))
    got_dx, got_dw = compiled(fn, x, w, ct)
    x64, w64, c64 = (v.astype(np.float64) for v in (x, w, ct))
    # dw: one float32 sum over the M output positions (chunks, threads), one rounding
    m = c64.size // ws[-1]
    exact = nn._conv_filter_grad_kernel(x64, c64, tuple(ws[:-2]), **attrs)
    mag = nn._conv_filter_grad_kernel(np.abs(x64), np.abs(c64), tuple(ws[:-2]), **attrs)
    assert_within(got_dw, exact, ulp16(exact) + 2 * m * EPS32 * mag)
    exact = nn._conv_input_grad_kernel(c64, w64, tuple(xs[1:-1]), **attrs)
    s = nn._conv_input_grad_kernel(np.abs(c64), np.abs(w64), tuple(xs[1:-1]), **attrs)
    kprod = int(np.prod(ws[:-2]))
    bound = ((kprod + 1) * 2 * U16 + ws[-1] * EPS32) * s + 2.0 ** -24
    assert_within(got_dx, exact, bound)


# -- a mixed_float16 model ------------------------------------------------------------------

def _mixed_model():
    gk.utils.set_random_seed(0)
    inp = gk.Input((16,))
    h = layers.Dense(32, activation="relu", dtype="mixed_float16")(inp)
    h = layers.Conv1D(4, 3, padding="same", dtype="mixed_float16")(layers.Reshape((32, 1))(h))
    h = layers.MaxPooling1D(2, dtype="mixed_float16")(h)     # float16 pools (pool.py)
    h = layers.AveragePooling1D(2, padding="same", dtype="mixed_float16")(h)
    h = layers.Flatten()(h)
    out = layers.Dense(3, dtype="float32")(h)
    return gk.Model(inp, out)


def test_mixed_float16_model_compiles_and_trains_like_eager():
    """jit_compile=True compiles every step of the mixed_float16 model natively (it raised
    CompileError before) and follows the eager run.

    Tolerances: both runs compute the same float16 ops; they may differ by a float16
    rounding where the order of a sum differs (the conv input gradient's overlap-add, fused
    float32 elementwise code), i.e. ~2^-11 relative in an activation or a gradient. With
    SGD each weight moves by lr x its gradient, so after the steps the runs' weights may
    differ by ~2^-11 of the distance the weights moved: the test allows 2^-7 of it (16x).
    The loss, predictions and evaluation are checked to 2^-10 relative (two float16 ulps).
    A wrong GEMM (a swapped transpose, float16 sums, a stale packed B) moves them by far
    more."""
    rng = np.random.default_rng(0)
    x = rng.random((64, 16)).astype(np.float32)
    y = rng.integers(0, 3, 64)
    runs = {}
    for jit in (False, True):
        model = _mixed_model()
        start = [w.copy() for w in model.get_weights()]
        model.compile(gk.optimizers.SGD(0.1),
                      gk.losses.SparseCategoricalCrossentropy(from_logits=True),
                      jit_compile=jit)
        loss = model.fit(x, y, epochs=3, batch_size=16, verbose=0, shuffle=False)
        runs[jit] = (loss.history["loss"], model.predict(x, verbose=0),
                     model.evaluate(x, y, verbose=0), start, model.get_weights())
    (l_e, p_e, e_e, w0, w_e), (l_c, p_c, e_c, _, w_c) = runs[False], runs[True]
    np.testing.assert_allclose(l_c, l_e, rtol=2.0 ** -10)
    np.testing.assert_allclose(e_c, e_e, rtol=2.0 ** -10)
    np.testing.assert_allclose(p_c, p_e, rtol=0, atol=2.0 ** -10 * np.max(np.abs(p_e)))
    for start, we, wc in zip(w0, w_e, w_c):
        moved = np.max(np.abs(we - start))
        assert moved > 0
        assert np.max(np.abs(wc - we)) <= 2.0 ** -7 * moved


def test_float16_weights_kept_packed_follow_every_change():
    """A float16 model's weights are variables the inference graph only reads, so its
    matmuls keep them packed (as float32 panels) across calls; after set_weights and a
    compiled fit, inference still matches the eager model (to two float16 ulps: the same
    float16 ops, one rounding each; a stale packing is off by the whole change)."""
    gk.utils.set_random_seed(1)
    model = gk.Sequential([gk.Input((24,)), layers.Dense(40, activation="relu", dtype=H),
                           layers.Dense(7, dtype=H)])
    model.compile(optimizer="sgd", loss="mse", jit_compile=True)
    x, y = half(32, 24), half(32, 7)
    f = gk.jit(lambda x: model(x))
    exe = f.lower(x).compile().executable
    assert exe.stats()["interpreted_kernels"] == [] and exe._version is not None

    def same():
        want = model(gk.ops.convert_to_tensor(x)).numpy().astype(np.float64)
        for got in (f(x).numpy(), model.predict(x, verbose=0)):
            assert got.dtype == np.float16
            np.testing.assert_allclose(got, want, rtol=0, atol=2.0 ** -10 * np.abs(want).max())
    same()
    model.set_weights([w * np.float16(-1.5) for w in model.get_weights()])
    same()
    model.fit(x, y, epochs=1, verbose=0)
    same()
