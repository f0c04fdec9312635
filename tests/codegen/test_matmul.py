"""GEMM kernels against NumPy float64: edges, transposes, batches, fused epilogues."""
import numpy as np
import pytest

from graphkit.codegen import expr as ex
from graphkit.codegen.elementwise import Operand
from graphkit.codegen.matmul import MatmulShape, emit_matmul, transpose_a, transpose_b

from .helpers import call, compile_kernels, workspace

F = "float32"
acc = ex.input(0, F)
BIAS_RELU_RES = ex.apply("add", ex.apply("maximum", ex.apply("add", acc, ex.input(1, F)),
                                         ex.constant(0.0, F)), ex.input(2, F))
CASES = {
    "edge": (MatmulShape(13, 7, 5), {}),
    "mid": (MatmulShape(70, 129, 97), {}),
    "wide": (MatmulShape(40, 64, 300), {}),
    "tall": (MatmulShape(300, 32, 20), {}),  # narrow N: the M rows are split instead
    "ta": (transpose_a(MatmulShape(33, 45, 50)), {}),
    "tb": (transpose_b(MatmulShape(33, 45, 50)), {}),
    "batched": (MatmulShape(9, 17, 40, batch=(2, 3), b_batch=(3,)), {}),
    "epilogue": (MatmulShape(20, 30, 70),
                 {"epilogue": BIAS_RELU_RES,
                  "epilogue_operands": [Operand((70,), F), Operand((20, 70), F)]}),
    "f64": (MatmulShape(11, 19, 23, dtype="float64"), {}),
    # tile paths: N within one vector (narrow tiles of 2*MR rows), tiny M (B read in place),
    # several row blocks (MC) with a tail block, transposed operands that must be packed
    "narrow": (MatmulShape(37, 23, 7), {}),  # N within one vector on AVX2 and AVX-512
    "narrow_blocks": (MatmulShape(40, 2100, 9), {}),
    "wide_blocks": (MatmulShape(70, 1500, 40), {}),
    "b_blocks": (MatmulShape(21, 2100, 200), {}),   # B packed one L2-sized block at a time
    # a row-major B packed a row at a time, PACK_UNROLL panels per step and a loop over
    # such groups, the last panel ending past N (masked loads)
    "b_rows": (MatmulShape(14, 40, 16 * 20 + 5), {}),
    "row": (MatmulShape(1, 45, 70), {}),
    "row_narrow": (MatmulShape(1, 33, 1), {}),
    "few_rows": (MatmulShape(3, 17, 40), {}),
    "ta_narrow": (transpose_a(MatmulShape(21, 19, 7)), {}),
    "tb_row": (transpose_b(MatmulShape(1, 30, 50)), {}),
    "batched_narrow": (MatmulShape(5, 12, 3, batch=(2, 2), b_batch=(2,)), {}),
    "f64_narrow": (MatmulShape(19, 11, 6, dtype="float64"), {}),
    # a weight gradient x^T @ dy: transposed A read in place, narrow N, several row tiles
    "ta_wgrad": (transpose_a(MatmulShape(75, 33, 7)), {}),
    "ta_batched": (transpose_a(MatmulShape(9, 13, 21, batch=(2,))), {}),
    # a transposed B (dy @ W^T) is packed by lanes x lanes register transposes: K and N tails
    "tb_tails": (transpose_b(MatmulShape(20, 37, 45)), {}),
    "tb_f64": (transpose_b(MatmulShape(17, 21, 19, dtype="float64")), {}),
    "tb_batched": (transpose_b(MatmulShape(6, 18, 35, batch=(2,))), {}),
    "epilogue_narrow": (MatmulShape(20, 30, 7),
                        {"epilogue": BIAS_RELU_RES,
                         "epilogue_operands": [Operand((7,), F), Operand((20, 7), F)]}),
    # an update-like epilogue (operands of C's shape) on whole rows of tiles: products are
    # parked in a row scratch, the epilogue runs along full rows (N tail masked)
    "epilogue_rows": (MatmulShape(75, 30, 37),
                      {"epilogue": BIAS_RELU_RES,
                       "epilogue_operands": [Operand((37,), F), Operand((75, 37), F)]}),
}
EPILOGUE_CASES = ("epilogue", "epilogue_narrow", "epilogue_rows")


@pytest.fixture(scope="module")
def gemms():
    emitters = {name: (lambda m, n, s=s, kw=kw: emit_matmul(m, n, s, **kw))
                for name, (s, kw) in CASES.items()}
    return compile_kernels(emitters)


rng = np.random.default_rng(2)


def operands(shape):
    dt = np.dtype(shape.dtype)
    a = rng.standard_normal(shape.a_shape()).astype(dt)
    b = rng.standard_normal(shape.b_shape()).astype(dt)
    a_mem, b_mem = a, b
    if shape.a_strides is not None:  # stored transposed: pass the transposed buffer
        a_mem = np.ascontiguousarray(np.swapaxes(a, -1, -2))
    if shape.b_strides is not None:
        b_mem = np.ascontiguousarray(np.swapaxes(b, -1, -2))
    return a, b, a_mem, b_mem


@pytest.mark.parametrize("name", [n for n in CASES if n not in EPILOGUE_CASES])
def test_matches_numpy(gemms, name):
    fns, specs = gemms
    shape = CASES[name][0]
    a, b, a_mem, b_mem = operands(shape)
    c = np.full(shape.c_shape(), np.nan, dtype=shape.dtype)
    call(fns[name], [a_mem, b_mem, c, workspace(specs[name].workspace_bytes)])
    ref = np.matmul(a.astype(np.float64), b.astype(np.float64))
    tol = 1e-5 if shape.dtype == "float32" else 1e-13
    np.testing.assert_allclose(c, ref, rtol=tol, atol=tol * np.sqrt(shape.k))


@pytest.mark.parametrize("name", EPILOGUE_CASES)
def test_fused_bias_relu_residual(gemms, name):
    fns, specs = gemms
    shape = CASES[name][0]
    m, n = shape.m, shape.n
    a, b, _, _ = operands(shape)
    bias, res = rng.standard_normal(n).astype(np.float32), \
        rng.standard_normal((m, n)).astype(np.float32)
    c = np.empty((m, n), np.float32)
    call(fns[name], [a, b, bias, res, c, workspace(specs[name].workspace_bytes)])
    ref = np.maximum(a.astype(np.float64) @ b + bias, 0) + res
    np.testing.assert_allclose(c, ref, rtol=1e-5, atol=1e-5)


def test_tile_fits_the_vector_registers():
    """Accumulators + B vectors + the broadcast A element never exceed the registers."""
    from graphkit.codegen.matmul import tile_rows
    from graphkit.codegen.target import host_target
    for nv in (1, 2):
        assert tile_rows(nv) * nv + nv + 1 <= host_target().vector_registers


def test_tiles_and_packing_follow_the_shapes(gemms):
    """Narrow N gets a one-vector tile, tiny M a tile of M rows; A is read in place when its
    K or its M dimension is contiguous (a transposed A), a row-major B when it is a single
    tile tall or a single vector wide; a transposed B is always packed."""
    from graphkit.codegen.matmul import tile_rows
    from graphkit.codegen.target import host_target
    _, specs = gemms
    lanes = host_target().lanes(4)
    assert specs["mid"].tile == (tile_rows(2), 2 * lanes) and specs["mid"].packed == ("b",)
    assert specs["narrow"].tile == (tile_rows(1), lanes)
    assert specs["row"].tile == (1, 2 * lanes) and specs["row"].packed == ()
    assert specs["few_rows"].tile[0] == 3 and specs["few_rows"].packed == ()
    assert specs["ta"].packed == ("b",) and specs["ta_narrow"].packed == ()
    assert specs["narrow"].packed == () and specs["ta_wgrad"].packed == ()
    assert specs["tb_row"].packed == ("b",) and specs["tb_f64"].packed == ("b",)


def test_update_epilogues_on_whole_rows_run_per_row_of_tiles():
    from graphkit.codegen.matmul import _plan
    shape = CASES["epilogue_rows"][0]
    rows = _plan(shape, 8, 2, [30, 1], [37, 1], updates=True)
    assert rows.rows_first and rows.split == "m" and rows.row_elems >= rows.mr * 37
    assert _plan(shape, 8, 2, [30, 1], [37, 1], updates=False).row_elems == 0


def test_row_major_b_packing_covers_a_loop_of_unrolled_groups():
    """`b_rows` packs more panels than one unrolled group (the loop over groups runs), and
    its last panel is partial: the numbers are checked by test_matches_numpy."""
    from graphkit.codegen.matmul import PACK_UNROLL, _plan
    from graphkit.codegen.target import host_target
    shape = CASES["b_rows"][0]
    t = _plan(shape, host_target().lanes(4), 1, [shape.k, 1], [shape.n, 1])
    assert not t.direct_b and t.nc_panels > PACK_UNROLL and shape.n % t.nr != 0


def test_b_is_packed_in_l2_sized_blocks_only_when_it_would_not_fit():
    from graphkit.codegen.matmul import _plan
    shape = CASES["b_blocks"][0]
    big = _plan(shape, 16, 1, [shape.k, 1], [shape.n, 1])
    assert big.direct_a and big.nc_panels < -(-shape.n // big.nr)
    small = _plan(CASES["mid"][0], 16, 1, [129, 1], [97, 1])
    assert small.nc_panels == -(-97 // small.nr)


def test_no_write_outside_the_output_or_the_workspace(gemms):
    """Masked edges: guard zones around C and the workspace stay untouched."""
    fns, specs = gemms
    for name in ("narrow", "row", "row_narrow", "few_rows", "narrow_blocks", "b_blocks",
                 "b_rows"):
        shape = CASES[name][0]
        a, b, _, _ = operands(shape)
        pad = 64
        c_raw = np.full(shape.m * shape.n + 2 * pad, 7.0, np.float32)
        ws_bytes = specs[name].workspace_bytes
        ws_raw = workspace(ws_bytes + 2 * 256)
        ws_raw[:] = 0xAB
        call(fns[name], [a, b, c_raw[pad:-pad], ws_raw[256:256 + ws_bytes]])
        assert (c_raw[:pad] == 7.0).all() and (c_raw[-pad:] == 7.0).all(), name
        assert (ws_raw[:256] == 0xAB).all() and (ws_raw[256 + ws_bytes:] == 0xAB).all(), name
        np.testing.assert_allclose(c_raw[pad:-pad].reshape(shape.m, shape.n),
                                   a.astype(np.float64) @ b, rtol=1e-5,
                                   atol=1e-5 * np.sqrt(shape.k))  # as test_matches_numpy


def test_workspace_and_split_are_reported(gemms):
    _, specs = gemms
    assert specs["tall"].split == "m" or specs["tall"].threads == 1
    assert all(s.workspace_bytes > 0 for s in specs.values())


def test_unsupported_dtype_is_named():
    from llvmlite import ir
    with pytest.raises(ValueError, match="int32"):
        emit_matmul(ir.Module(), "mm_int", MatmulShape(2, 2, 2, dtype="int32"))


def test_a_split_kernel_run_serially_stays_in_its_workspace():
    """With the pool stopped (or busy with another Python thread) a kernel planned for two
    threads runs as one task over the whole range: it must pack no more B than one thread's
    workspace slot holds, and still compute everything."""
    from graphkit.codegen import parallel
    shape = MatmulShape(20, 300, 200)
    fns, specs = compile_kernels({"split2": lambda m, n: emit_matmul(m, n, shape, threads=2,
                                                                     parallel_ok=True)})
    assert specs["split2"].split == "n" and specs["split2"].threads == 2
    a, b, _, _ = operands(shape)
    ws_bytes = specs["split2"].workspace_bytes
    ws = workspace(ws_bytes + 256)
    ws[:] = 0xCD
    c = np.full((20, 200), np.nan, np.float32)
    parallel.stop()
    try:
        call(fns["split2"], [a, b, c, ws[:ws_bytes]])
    finally:
        parallel.restart()
    assert (ws[ws_bytes:] == 0xCD).all()
    np.testing.assert_allclose(c, a.astype(np.float64) @ b, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("shape", [MatmulShape(37, 50, 300),
                                   MatmulShape(11, 20, 70, batch=(3,), b_batch=(1,)),
                                   transpose_b(MatmulShape(21, 40, 100, batch=(2,)))],
                         ids=["plain", "batched", "tb_batched"])
def test_a_split_kernel_claims_all_its_work_on_every_call(shape):
    """The threads claim units of N panels (of one batch item) from a counter in the
    workspace: the kernel resets it on entry, so a second call over a dirtied workspace
    computes everything again."""
    fns, specs = compile_kernels({"units": lambda m, n: emit_matmul(m, n, shape, threads=2,
                                                                    parallel_ok=True)})
    assert specs["units"].split == "n"
    ws = workspace(specs["units"].workspace_bytes)
    for call_no in range(3):
        a, b, a_mem, b_mem = operands(shape)
        ws[:] = 0x7F if call_no else 0xFF   # the counter reads garbage unless reset
        c = np.full(shape.c_shape(), np.nan, np.float32)
        call(fns["units"], [a_mem, b_mem, c, ws])
        np.testing.assert_allclose(c, np.matmul(a.astype(np.float64), b), rtol=1e-5,
                                   atol=1e-4)


# several outputs from one register tile: an Adam-like update (m, v, w) and a relu + mask pair
ADAM_M = ex.apply("add", ex.apply("multiply", ex.input(1, F), ex.constant(0.9, F)),
                  ex.apply("multiply", acc, ex.constant(0.1, F)))
ADAM_V = ex.apply("add", ex.apply("multiply", ex.input(2, F), ex.constant(0.99, F)),
                  ex.apply("multiply", ex.apply("multiply", acc, acc), ex.constant(0.01, F)))
ADAM_W = ex.apply("subtract", ex.input(3, F), ex.apply(
    "divide", ADAM_M, ex.apply("add", ex.apply("sqrt", ADAM_V), ex.constant(1e-3, F))))
RELU = ex.apply("maximum", ex.apply("add", acc, ex.input(1, F)), ex.constant(0.0, F))
POSITIVE = ex.apply("greater", ex.apply("add", acc, ex.input(1, F)), ex.constant(0.0, F))


def _adam_ref(g, m, v, w):
    m2 = 0.9 * m + 0.1 * g
    v2 = 0.99 * v + 0.01 * g * g
    return m2, v2, w - m2 / (np.sqrt(v2) + 1e-3)


@pytest.mark.parametrize("shape", [transpose_a(MatmulShape(37, 19, 10)),
                                   transpose_a(MatmulShape(45, 21, 70)),
                                   MatmulShape(5, 9, 3),
                                   transpose_a(MatmulShape(203, 33, 100))],
                         ids=["narrow", "wide", "tiny", "rows_first"])
@pytest.mark.parametrize("threads", [1, 2])
def test_several_outputs_in_place_from_the_register_tile(shape, threads):
    """Adam's m, v, w written from one tile, each into the buffer of the operand it updates:
    every element is read before it is overwritten (C walked a row of tiles at a time)."""
    m, n = shape.m, shape.n
    ops = [Operand((m, n), F)] * 3
    fns, specs = compile_kernels({"adam": lambda mod, nm: emit_matmul(
        mod, nm, shape, epilogue=[ADAM_M, ADAM_V, ADAM_W], epilogue_operands=ops,
        threads=threads, parallel_ok=threads > 1)})
    assert specs["adam"].n_outputs == 3
    a, b, a_mem, b_mem = operands(shape)
    mom = rng.standard_normal((m, n)).astype(np.float32)
    var = rng.uniform(0.1, 1.0, (m, n)).astype(np.float32)
    w = rng.standard_normal((m, n)).astype(np.float32)
    refs = _adam_ref(a.astype(np.float64) @ b, mom.astype(np.float64), var.astype(np.float64),
                     w.astype(np.float64))
    call(fns["adam"], [a_mem, b_mem, mom, var, w, mom, var, w, workspace(specs["adam"].workspace_bytes)])
    for got, ref in zip((mom, var, w), refs):
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def test_an_update_epilogue_walks_c_by_rows_split_on_m():
    """Full-size epilogue operands (an optimizer update) and a B that fits L2: each thread
    takes a range of rows, a row of tiles at a time; otherwise the split stays on N."""
    from graphkit.codegen.matmul import _plan
    shape = transpose_a(MatmulShape(784, 128, 512))
    a_str, b_str = [1, 784], [512, 1]
    update = _plan(shape, 16, 2, a_str, b_str, updates=True)
    assert update.rows_first and update.split == "m"
    plain = _plan(shape, 16, 2, a_str, b_str)
    assert not plain.rows_first and plain.split == "n"
    big_b = MatmulShape(64, 4096, 512)   # a thread's packed B would not fit L2
    assert not _plan(big_b, 16, 2, [4096, 1], [512, 1], updates=True).rows_first


def test_outputs_of_different_dtypes_relu_and_its_mask():
    shape = MatmulShape(19, 23, 41)
    fns, specs = compile_kernels({"relu2": lambda mod, nm: emit_matmul(
        mod, nm, shape, epilogue=[RELU, POSITIVE], epilogue_operands=[Operand((41,), F)])})
    a, b, _, _ = operands(shape)
    bias = rng.standard_normal(41).astype(np.float32)
    relu, mask = np.empty((19, 41), np.float32), np.empty((19, 41), np.bool_)
    call(fns["relu2"], [a, b, bias, relu, mask, workspace(specs["relu2"].workspace_bytes)])
    z = a.astype(np.float64) @ b + bias
    np.testing.assert_allclose(relu, np.maximum(z, 0), rtol=1e-5, atol=1e-5)
    clear = np.abs(z) > 1e-4   # the float32 sign of a near-zero sum may differ
    np.testing.assert_array_equal(mask[clear], (z > 0)[clear])


def test_an_empty_epilogue_list_is_an_error():
    from llvmlite import ir
    with pytest.raises(ValueError, match="epilogue"):
        emit_matmul(ir.Module(), "mm_none", MatmulShape(2, 2, 2), epilogue=[])


def _matmul_kernels(lowered):
    from llvmlite import ir
    from graphkit.codegen.lower_kernel import lower_kernel
    return [(node, lower_kernel(ir.Module(), node)) for node in lowered.graph.nodes
            if node.op == "kernel" and node.attrs.get("kind") == "matmul"]


def test_a_matmul_kernel_with_several_outputs_is_one_gemm(monkeypatch):
    """relu(x @ w + b) and its mask (the saved relu' of a train step), and an Adam-like
    update of a weight gradient x^T @ dy: every output is stored by the GEMM itself (one
    sub-kernel, no scratch product), and the results match the interpreter."""
    import graphkit as gk
    from graphkit import ops
    monkeypatch.setenv("GRAPHKIT_LLVM_FALLBACK", "0")

    def fn(x, w, bias, dy, m, v, p):
        z = ops.matmul(x, w) + bias
        g = ops.matmul(ops.transpose(x), dy)
        m2 = m * 0.9 + g * 0.1
        v2 = v * 0.99 + g * g * 0.01
        return ops.maximum(z, 0.0), z > 0, m2, v2, p - m2 / (ops.sqrt(v2) + 1e-3)

    r = np.random.default_rng(5)
    args = [r.standard_normal(s).astype(np.float32)
            for s in [(13, 21), (21, 10), (10,), (13, 10), (21, 10), (21, 10), (21, 10)]]
    args[5] = np.abs(args[5])
    kernels = _matmul_kernels(gk.jit(fn).lower(*args))
    assert len(kernels) == 2
    for node, lowering in kernels:
        assert len(node.outputs) >= 2
        assert len(lowering.subkernels) == 1 and lowering.scratch == []
    got = gk.jit(fn, backend="llvm")(*args)
    want = gk.jit(fn, backend="interpreter")(*args)
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-5, atol=1e-6)
