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
}


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


@pytest.mark.parametrize("name", [n for n in CASES if n != "epilogue"])
def test_matches_numpy(gemms, name):
    fns, specs = gemms
    shape = CASES[name][0]
    a, b, a_mem, b_mem = operands(shape)
    c = np.full(shape.c_shape(), np.nan, dtype=shape.dtype)
    call(fns[name], [a_mem, b_mem, c, workspace(specs[name].workspace_bytes)])
    ref = np.matmul(a.astype(np.float64), b.astype(np.float64))
    tol = 1e-5 if shape.dtype == "float32" else 1e-13
    np.testing.assert_allclose(c, ref, rtol=tol, atol=tol * np.sqrt(shape.k))


def test_fused_bias_relu_residual(gemms):
    fns, specs = gemms
    shape = CASES["epilogue"][0]
    a, b, _, _ = operands(shape)
    bias, res = rng.standard_normal(70).astype(np.float32), \
        rng.standard_normal((20, 70)).astype(np.float32)
    c = np.empty((20, 70), np.float32)
    call(fns["epilogue"], [a, b, bias, res, c, workspace(specs["epilogue"].workspace_bytes)])
    ref = np.maximum(a.astype(np.float64) @ b + bias, 0) + res
    np.testing.assert_allclose(c, ref, rtol=1e-5, atol=1e-5)


def test_workspace_and_split_are_reported(gemms):
    _, specs = gemms
    assert specs["tall"].split == "m" or specs["tall"].threads == 1
    assert all(s.workspace_bytes > 0 for s in specs.values())


def test_unsupported_dtype_is_named():
    from llvmlite import ir
    with pytest.raises(ValueError, match="int32"):
        emit_matmul(ir.Module(), "mm_int", MatmulShape(2, 2, 2, dtype="int32"))
