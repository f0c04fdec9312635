"""Native layout and creation kernels (graphkit/codegen/layout.py) give NumPy's results
exactly: transpose, slice, pad, concatenate, broadcast_to, arange, full_like."""
import numpy as np
import pytest

import graphkit as gk
from graphkit import ir, ops
from graphkit.codegen.backend import LLVMExecutable, LoweringError
from graphkit.codegen.layout import View, emit_strided_copy
from graphkit.ir.passes.manager import run_pipeline

from .helpers import assert_same, call, compile_kernels, native_outputs, random_data

RNG = np.random.default_rng(7)


pytestmark = pytest.mark.usefixtures("no_fallback")


def data(shape, dtype="float32"):
    return random_data(RNG, shape, dtype)


def native(fn, *args, kind="layout"):
    return native_outputs(fn, *args, kind=kind)


@pytest.mark.parametrize("shape,perm,dtype", [
    ((3, 4, 5), (2, 0, 1), "float32"),
    ((2, 1, 5, 3), (3, 1, 0, 2), "float64"),   # a size-1 dim
    ((4, 6), (1, 0), "int32"),
    ((2, 3, 4, 5), (0, 2, 1, 3), "int64"),     # inner dim contiguous on both sides
    ((5, 7), (1, 0), "bool"),
    ((256, 384), (1, 0), "float32"),           # big enough to run on the thread pool
    ((7, 61, 3, 130), (0, 2, 1, 3), "float64"),  # threads split inside a block of rows
])
def test_transpose(shape, perm, dtype):
    x = data(shape, dtype)
    (got,) = native(lambda a: ops.transpose(a, perm), x)
    assert_same(got, np.transpose(x, perm))


@pytest.mark.parametrize("key", [
    (slice(1, None), slice(None, None, -2), slice(1, 4)),
    (slice(None, None, 3), slice(2, 3), slice(None, None, -1)),
    (slice(0, 1), slice(None), slice(1, 5, 2)),
    (slice(1, 2), slice(2, 3), slice(4, 5)),                     # a single element
])
def test_slice_with_steps_and_negative_steps(key):
    x = data((3, 4, 5), "float32")
    (got,) = native(lambda a: a[key], x)
    assert_same(got, x[key])


def test_keras_slice_of_an_int_tensor():
    x = data((6, 5, 4), "int64")
    (got,) = native(lambda a: ops.slice(a, (1, 0, 2), (3, 5, 2)), x)
    assert_same(got, x[1:4, 0:5, 2:4])


@pytest.mark.parametrize("dtype,value", [("float32", 1.5), ("int32", -3), ("float64", 0.0),
                                         ("bool", True)])
def test_pad_with_a_constant(dtype, value):
    x = data((3, 1, 4), dtype)
    pads = ((1, 2), (0, 3), (2, 0))
    (got,) = native(lambda a: ops.pad(a, pads, constant_values=value), x)
    assert_same(got, np.pad(x, pads, constant_values=value))


def test_pad_with_interior_padding_from_a_strided_slice_gradient():
    # the adjoint of a strided slice is a pad with interior (stride - 1) padding
    x = data((7, 9), "float32")
    ct = data((2, 3), "float32")

    def grad(a, c):
        with gk.GradientTape() as tape:
            tape.watch(a)
            y = a[1::3, ::-3]
        return tape.gradient(y, a, output_gradients=c)

    (got,) = native(grad, x, ct)
    want = np.zeros_like(x)
    want[1::3, ::-3] = ct
    assert_same(got, want)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_concatenate_repeats_an_operand_and_handles_each_axis(axis):
    x = data((2, 3, 4), "float32")
    shape = list(x.shape)
    shape[axis] = 1
    y = data(tuple(shape), "float32")
    (got,) = native(lambda a, b: ops.concatenate([a, b, a], axis=axis), x, y)
    assert_same(got, np.concatenate([x, y, x], axis=axis))


def test_concatenate_bool_and_int64():
    a, b = data((4, 2), "bool"), data((4, 5), "bool")
    (got,) = native(lambda p, q: ops.concatenate([p, q], axis=1), a, b)
    assert_same(got, np.concatenate([a, b], axis=1))
    a, b = data((1, 3), "int64"), data((2, 3), "int64")
    (got,) = native(lambda p, q: ops.concatenate([p, q], axis=0), a, b)
    assert_same(got, np.concatenate([a, b], axis=0))


# -- kernels written as IR text: ops that tracing folds or fuses elsewhere -------------------

def run_ir(text, *inputs, passes="fusion,memory_plan"):
    graph = ir.parse(text)
    result = run_pipeline(graph, passes)
    graph = getattr(result, "graph", None) or graph
    exe = LLVMExecutable(graph, fallback=False)
    assert exe.stats()["interpreted_kernels"] == []
    return exe.run(list(inputs))


def test_broadcast_to_alone_in_a_layout_kernel():
    x = data((3, 1, 5), "int32")
    (got,) = run_ir("""graph @t(%0:i32[3,1,5] "x") {
      %1:i32[2,3,4,5] = kernel %0 {name="k0", kind="layout"}
        body(%2:i32[3,1,5]) {
          %3:i32[2,3,4,5] = broadcast_to %2 {shape=(2, 3, 4, 5)}
          yield %3
        }
      return %1
    }""", x, passes="memory_plan")
    assert_same(got, np.broadcast_to(x, (2, 3, 4, 5)))


@pytest.mark.parametrize("start,stop,step,dtype", [
    (0.1, 7.3, 0.37, "float32"), (-5.3, 7.1, 0.013, "float32"), (0.5, 9.0, 0.1, "float64"),
    (3, 100, 7, "int32"), (10, -20, -3, "int64"),
])
def test_arange_matches_numpy_bit_for_bit(start, stop, step, dtype):
    want = np.arange(start, stop, step, dtype=dtype)
    code = {"float32": "f32", "float64": "f64", "int32": "i32", "int64": "i64"}[dtype]
    attrs = f'start={start!r}, stop={stop!r}, step={step!r}, dtype="{dtype}"'
    (got,) = run_ir(f"""graph @t() {{
      %0:{code}[{len(want)}] = arange {{{attrs}}}
      return %0
    }}""")
    assert_same(got, want)


def test_full_like_reads_only_the_shape():
    x = data((2, 3), "float32")
    (got,) = run_ir("""graph @t(%0:f32[2,3] "x") {
      %1:i64[2,3] = full_like %0 {value=-7, dtype="int64"}
      return %1
    }""", x)
    assert_same(got, np.full((2, 3), -7, np.int64))


def test_an_unsupported_dtype_names_the_op_and_dtype():
    with pytest.raises(LoweringError, match="arange.*float16"):
        run_ir("""graph @t() {
          %0:f16[4] = arange {start=0.0, stop=2.0, step=0.5, dtype="float16"}
          return %0
        }""")


def test_strided_copy_emitter_with_offsets_on_both_sides():
    """The emitter alone: a reversed 2-D block copied into the middle of a bigger buffer."""
    fns, _ = compile_kernels({"copy": lambda m, n: emit_strided_copy(
        m, n, (3, 4), "float64", View((-5, 1), 10), View((8, 2), 9))})
    src = data((3, 5), "float64")
    dst = np.zeros(40)
    call(fns["copy"], [src, dst])
    want = np.zeros(40)
    want[9:9 + 3 * 8].reshape(3, 8)[:, 0:8:2] = src[::-1, 0:4]
    assert_same(dst, want)
